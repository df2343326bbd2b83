"""gen-model: one LLM call proposes a dbt model; a deterministic harness disposes.

The small public API (the CLI and the tests use it; everything else is internal):

    from generator import Options, apply, load_project
    report = apply(load_project("path/to/project"), "proposal.yml", Options())

`apply`, `generate` and `verify` raise a `GenModelError` subclass for every expected
failure; each carries its exit code and located problems. Names load on first use, so
importing the package stays cheap (the CLI starts without dbt or DuckDB).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "apply": "generator.run.apply",
    "generate": "generator.run.generate",
    "Options": "generator.run.options",
    "Request": "generator.run.options",
    "verify": "generator.ci.verify",
    "load_project": "generator.project",
    "GenModelError": "generator.errors",
    "ConfigError": "generator.errors",
    "ProposalError": "generator.errors",
    "GateError": "generator.errors",
    "BuildError": "generator.errors",
    "WriteError": "generator.errors",
    "LockError": "generator.errors",
    "ProviderError": "generator.errors",
    "Problem": "generator.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    """Load a public name from its module on first use (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value

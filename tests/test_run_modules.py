"""Each module of the run and of the spec gates imports on its own, in a fresh interpreter.

The architecture test sees import cycles between modules; this one sees the order-dependent
kind too (a package `__init__` that reaches back into a module still being imported).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# The modules between `generator.gates` and `generator.enrich`: a spec gate imports its
# context, whose imports run `generator/gates/__init__.py`, which imports every spec gate.
MODULES = (
    "generator.enrich.flow",
    "generator.gates.enrich_context",
    "generator.gates.enrich_executes",
    "generator.run.spec",
    "generator.run.accept",
)


@pytest.mark.parametrize("module", MODULES)
def test_the_module_imports_first(module):
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_public_api_loads():
    done = subprocess.run(
        [sys.executable, "-c", "from generator import Options, Request, apply, generate, load_project, verify"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr

"""Enrichment: non-SQL raw files (NDJSON, JSON, CSV, Parquet) into dbt Python models.

A person or an LLM writes a declarative spec (`<model>.enrich.yml`, data, never code);
a deterministic compiler turns it into a readable Polars model that dbt-duckdb runs.
Stages, one module each: `discovery` (what raw files exist and their schemas), `spec`
(load and validate a spec), `expressions` (the closed expression vocabulary), `compiler`
(spec -> Python model + model YAML: `emit` writes the Python, `casts` its casts,
`formatting` its layout, `model_yaml` the YAML; the fixed code is the versioned runtime,
`python/gen_model_runtime_v<N>.py` in the dbt package, which compiled models import).
`types` maps DuckDB type names to Polars dtypes. `flow` takes a `kind: enrich` proposal
through gates, writer and dbt (import it directly: it pulls in the gate framework);
`runner` executes a compiled model in a child process.
"""

from generator.enrich.compiler import (
    CompiledModel,
    compile_spec,
    find_specs,
    render_spec,
    stale_files,
)
from generator.enrich.discovery import (
    discover_raw_files,
    draft_spec,
    resolve_raw_dir,
    sniff_file,
)
from generator.enrich.spec import SPEC_SCHEMA, EnrichSpec, load_spec, validate_spec

__all__ = [
    "SPEC_SCHEMA",
    "CompiledModel",
    "EnrichSpec",
    "compile_spec",
    "discover_raw_files",
    "draft_spec",
    "find_specs",
    "load_spec",
    "render_spec",
    "resolve_raw_dir",
    "sniff_file",
    "stale_files",
    "validate_spec",
]

"""The one SQL-analysis library: every stage that asks a question about a proposal's SQL asks it here.

- `templating`, `locate`: placeholders for ref()/source(), and where things are in the SQL.
- `context`: what the analysis of one proposal reads (`GateContext`), and its cached scopes.
- `scope` (with `shapes`, `names`, `keys`): name resolution, determinism keys, functional
  dependencies.
- `columns`: which columns of each input a query reads.
- `facts`, `lineage`: what the SQL guarantees, and where each output column comes from.
- `runnable`: the proposal as SQL DuckDB can run.
- `formatting`: the canonical layout.

It imports nothing from `gates/`, `testgen/`, `run/`, `write/`, `llm/` or `ci/`
(tests/test_architecture.py checks).
"""

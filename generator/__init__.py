"""gen-model: one LLM call proposes a dbt model; a deterministic harness disposes."""

__version__ = "0.1.0"

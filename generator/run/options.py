"""What a run is asked to do: the user's options, the LLM request, the lockfile's context."""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.limits import QUERY_TIMEOUT_S
from generator.progress import QUIET, Progress


@dataclass
class Options:
    """What the user asked for on the command line, beyond the project."""

    dry_run: bool = False
    allow_nondeterministic: bool = False
    allow_observed_grain: bool = False  # accept a grain only the data shows (warn-severity test)
    timeout_s: float = QUERY_TIMEOUT_S
    progress: Progress = field(default_factory=lambda: QUIET)
    # Ask the LLM even when gen_model.lock holds an answer for the same request and catalog.
    refresh: bool = False
    # Days until a version superseded by a breaking change is deprecated (None: the
    # GEN_MODEL_DEPRECATION_DAYS variable, else versions.DEFAULT_DEPRECATION_DAYS).
    deprecation_days: int | None = None
    # Search fixture rows for a unit test that pins the logic (the slowest part of apply).
    unit_test: bool = True
    # Port the new model to this engine too, in the same transaction (generator.port.also_on).
    also_on: str | None = None


@dataclass
class Request:
    """What the user asked the LLM for, and how."""

    text: str
    name: str | None = None
    layer: str | None = None
    provider: str | None = None
    models: tuple[str, ...] = ()
    max_attempts: int | None = None
    llm_timeout: float | None = None  # seconds per LLM call (None: environment, config, default)
    llm_run_timeout: float | None = None  # seconds for all LLM calls of the run


@dataclass
class LockContext:
    """What the lockfile records about a run beyond its files: how the prompt was made."""

    requested: dict = field(default_factory=dict)  # --name/--layer the user fixed
    catalog_fingerprint: str | None = None
    catalog_slice: dict = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)
    # A replay writes the locked provenance as it is: no new change class, no new dates.
    replay: bool = False


__all__ = ["LockContext", "Options", "Request"]

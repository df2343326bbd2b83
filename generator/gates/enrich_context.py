"""What the spec gates (`SPEC_RULES`) read and fill: the proposal, the catalog, and the run.

The enrich counterpart of the SQL gates' context: `spec` validates, `input` finds the raw
files, `lookup` the looked-up relation, `compile` the model, and `execute` leaves a `SpecRun`
that `grain` and `contract` read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from generator.enrich.compiler import CompiledModel
from generator.enrich.spec import EnrichSpec
from generator.errors import Problem
from generator.limits import QUERY_TIMEOUT_S
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.sql.context import ResultColumn


@dataclass(frozen=True)
class SpecRun:
    """What executing the compiled model on the real input produced."""

    columns: tuple[ResultColumn, ...]
    row_count: int
    null_keys: int
    duplicate_keys: int
    duplicate_rows: int
    duplicate_examples: tuple[tuple[str, ...], ...]
    quarantined: int | None
    quarantine_examples: tuple[tuple, ...]
    warnings: tuple[str, ...]
    elapsed_s: float
    peak_rss_mib: float


@dataclass
class SpecContext:
    """What the spec gates read, and what earlier gates leave for later ones."""

    proposal: Proposal
    catalog: Catalog
    timeout_s: float = QUERY_TIMEOUT_S
    spec: EnrichSpec | None = None  # set by `spec`
    raw_dir: Path | None = None  # set by `input`
    input_files: list[Path] = field(default_factory=list)
    lookup: Relation | None = None  # set by `lookup`
    compiled: CompiledModel | None = None  # set by `compile`
    result: SpecRun | None = None  # set by `execute`

    @property
    def file(self) -> str:
        """Where the proposal came from, for messages."""
        return self.proposal.source_file or "<proposal>"

    def problem(self, rule: str, message: str, **kwargs) -> Problem:
        """A problem of gate `rule`, located in the proposal's file."""
        return Problem(rule=rule, message=message, file=self.proposal.source_file, **kwargs)


__all__ = ["SpecContext", "SpecRun"]

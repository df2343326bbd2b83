"""The gate framework: linter-style rules run in a fixed order over one shared context.

Each rule's docstring is its one-line summary (shown in `gen-model --help`-style listings
and reports). A rule reports *every* problem it finds; a rule whose prerequisites failed
is skipped, so one bad reference does not drown the report in follow-on errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlglot import exp

from generator.errors import Problem
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.sql.templating import TemplatedSQL, problem_at

# A `Problem.details` key: the cause lies outside the proposal (a relation the warehouse
# lacks), so no repair of the proposal can fix it and the run stops instead of asking again.
UNREPAIRABLE = "unrepairable"


@dataclass(frozen=True)
class ResultColumn:
    """A column of the dry run's result, typed by DuckDB itself."""

    name: str
    data_type: str  # DuckDB's type, lowercase: 'varchar', 'decimal(18,2)', 'timestamp with time zone'


@dataclass(frozen=True)
class DryRunResult:
    """What executing the proposal in the sandbox produced."""

    columns: tuple[ResultColumn, ...]
    row_count: int
    elapsed_s: float


@dataclass
class GateContext:
    """Everything gates read, and what earlier gates leave for later ones."""

    proposal: Proposal
    catalog: Catalog
    allow_nondeterministic: bool = False
    # A grain the data shows unique but the SQL does not guarantee: refused unless allowed,
    # and then `observed_grain` says why, for a warn-severity test and the report.
    allow_observed_grain: bool = False
    observed_grain: str | None = None
    timeout_s: float = 60.0
    sandbox: Any = None  # generator.project.sandbox.Sandbox, opened by the caller for the dry run
    # Set by `parse`: the SQL with ref()/source() swapped for same-length placeholders.
    templated: TemplatedSQL | None = None
    tree: exp.Expression | None = None
    # Set by `parse`: every statement (generator.gates.parse.Statement), so `safety` judges
    # them all without parsing the SQL a second time.
    statements: list[Any] | None = None
    # Set by the first gate that needs name resolution (generator.sql.scope.analyze), with
    # what it was computed from: binding and determinism share one analysis per proposal.
    analysis: Any = None
    analysis_of: tuple[Any, ...] = ()
    # Set by `references`: placeholder identifier -> the relation it stands for.
    relations: dict[str, Relation] = field(default_factory=dict)
    # Set by `binding`: the tree with every column qualified and every * expanded.
    qualified: exp.Expression | None = None
    # Set by `dry_run`.
    result: DryRunResult | None = None

    @property
    def sql(self) -> str:
        """The proposal's SQL as written (positions in problems refer to this text)."""
        return self.proposal.sql

    def problem(
        self,
        rule: str,
        message: str,
        node: exp.Expression | None = None,
        *,
        identifier: str | None = None,
        suggestion: str | None = None,
        span: tuple[int, int] | None = None,
    ) -> Problem:
        """A problem located at `node` (or `span`) in the proposal's SQL, when known."""
        span = span or (node_span(node) if node is not None else None)
        if span is None:
            return Problem(
                rule=rule,
                message=message,
                file=self.proposal.sql_file,
                identifier=identifier,
                suggestion=suggestion,
            )
        return problem_at(
            rule,
            message,
            self.sql,
            span[0],
            span[1],
            identifier=identifier,
            suggestion=suggestion,
            file=self.proposal.sql_file,
        )


def node_span(node: exp.Expression) -> tuple[int, int] | None:
    """The character range of a node in the SQL, from the first positioned token inside it."""
    best: tuple[int, int] | None = None
    for child in node.walk():
        meta = child.meta if hasattr(child, "meta") else None
        if meta and "start" in meta:
            span = (meta["start"], meta["end"])
            if best is None or span[0] < best[0]:
                best = span
    return best


class Rule:
    """Base class: subclasses set `name`, maybe `requires`, and implement `check`."""

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]

    def check(self, ctx: GateContext) -> list[Problem]:
        raise NotImplementedError


@dataclass(frozen=True)
class GateOutcome:
    name: str
    summary: str
    status: str  # passed | failed | skipped
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class GateReport:
    outcomes: tuple[GateOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(outcome.status == "passed" for outcome in self.outcomes)

    @property
    def problems(self) -> list[Problem]:
        return [problem for outcome in self.outcomes for problem in outcome.problems]

    def format(self) -> str:
        """Every problem, one block each, in gate order."""
        return "\n".join(problem.format() for problem in self.problems)


def run_gates(ctx: GateContext, rules: tuple[Rule, ...]) -> GateReport:
    """Run `rules` in order; a rule whose prerequisites did not pass is skipped."""
    status: dict[str, str] = {}
    outcomes = []
    for rule in rules:
        if any(status.get(name) != "passed" for name in rule.requires):
            status[rule.name] = "skipped"
            outcomes.append(GateOutcome(rule.name, rule.summary(), "skipped"))
            continue
        problems = tuple(rule.check(ctx))
        status[rule.name] = "failed" if problems else "passed"
        outcomes.append(GateOutcome(rule.name, rule.summary(), status[rule.name], problems))
    return GateReport(tuple(outcomes))

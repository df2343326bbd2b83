"""What the analysis of one proposal reads, and what its stages leave for later ones.

The context is a plain record: the proposal, the catalog, what parsing and name resolution
produced, and the dry run's result. SQL analysis (`generator.sql`) reads it; the gates
(`generator.gates`) fill it in, rule by rule. It lives here, below the gates, so the SQL
library does not depend on the rule framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from generator.dialects import Dialect, get_dialect
from generator.errors import Problem
from generator.limits import QUERY_TIMEOUT_S
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.sql.templating import RefCall, TemplatedSQL, problem_at

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
    timeout_s: float = QUERY_TIMEOUT_S
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
    # Set by the first reader of sqlglot's scopes over `qualified` (qualified_scope), with
    # the tree they were built from: facts, test derivation and the lockfile share them.
    scopes: Any = None
    scopes_of: exp.Expression | None = None
    # Set by `dry_run`.
    result: DryRunResult | None = None

    @property
    def dialect(self) -> Dialect:
        """The engine the target runs on (the catalog's adapter type): its SQL, rules and dry run."""
        return get_dialect(self.catalog.adapter_type)

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


def resolve_call(catalog: Catalog, call: RefCall) -> Relation | None:
    """The relation a ref()/source() call names, or None."""
    if call.kind == "source":
        return catalog.source(call.args[0], call.args[1])
    return catalog.ref(call.name, version=call.version, package=call.package)


def qualified_scope(ctx: GateContext) -> Scope | None:
    """sqlglot's root scope over `ctx.qualified`, built once per qualified tree.

    None when there is no qualified tree, it is not a query, or sqlglot cannot scope it
    (some DuckDB constructs): then nothing is known about what the SQL reads. Readers
    only read the scopes; a new qualified tree (a new object) gets scopes of its own.
    """
    tree = ctx.qualified
    if tree is None or not isinstance(tree, exp.Query):
        return None
    if ctx.scopes_of is tree:
        return ctx.scopes
    try:
        root = build_scope(tree)
    except Exception:  # sqlglot cannot scope some DuckDB constructs: no scopes then
        root = None
    ctx.scopes, ctx.scopes_of = root, tree
    return root

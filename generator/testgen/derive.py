"""Data tests derived from evidence: the model's SQL, the upstream tests, the dry run's data.

Never from the proposal's description or the LLM's words. Each rule below names its
evidence in the test's `meta.reason`:

  grain            declared grain, verified unique and not null on the dry run's rows
  not_null         the SQL guarantees a value: a count, a coalesce with a constant, an
                   aggregate per group of non-null values
  accepted_values  text passed through from a column with accepted_values upstream when
                   the where clauses on its way exclude some of them (the narrower set);
                   the values a where clause admits; the literal outputs of a CASE. Never
                   a profile of today's data: a new store or product is legitimate tomorrow
  (inherited)      a test that would restate an upstream test on a column passed through
                   unchanged, where that test guarantees it (not_null with no outer join
                   on the way, the same accepted_values, a relationships test, or a key
                   read from its own relation), adds no check here: a note says
                   "inherited from ...", and no test is written
  accepted_range   a lower bound the SQL gives: counts >= 0 (>= 1 per group), sums of
                   non-negative inputs >= 0; [0, 1] for a filtered count over its total.
                   An input that is merely non-negative today gives no bound
  equal_rowcount / fewer_rows_than
                   one row (at most one) per row of the driving input, read from the
                   joins (to unique keys only), filters and grouping on the way to it
  expression_is_true
                   a filtered count (or a sum of non-negative values) is at most the
                   unfiltered one over the same rows; disjoint filters add up to at most it

Each test says where its evidence comes from (`DataTest.evidence`): *proven* by the SQL,
*inherited* from an upstream test, or *observed* in today's data. Observed facts can break
on legitimate new data, so none is emitted as a test; they are listed in the notes.

The per-column rules and the invariants live with their kind (generator.testgen.kinds:
`derive`, expression_is_true's `derive_invariants`); the grain and the row-count rule (one
analysis that gives equal_rowcount or fewer_rows_than) are here.

Candidates then face the hollow-test gate (generator.testgen.hollow): kept only if they pass on
the real result and fail on a corrupted copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.project.sandbox import RESULT_TABLE
from generator.sql.context import GateContext
from generator.sql.facts import AggregateShape, Facts
from generator.testgen.datatests import PACKAGE, DataTest, grain_tests
from generator.testgen.kinds import accepted_range, accepted_values, expression_is_true, not_null, relationships
from generator.testgen.kinds.evidence import call_display, is_numeric_type, is_text_type

# A text column is categorical when it has at most this many distinct values ...
CATEGORICAL_MAX_DISTINCT = 12
# ... none longer than this (longer values are free text) ...
CATEGORICAL_MAX_LENGTH = 40
# ... and each value is seen this many times on average (else it is more like an id).
CATEGORICAL_MIN_REPEATS = 2
# The kinds derived per column (each kind's `derive`, in generator.testgen.kinds), in this
# order: a test two rules find is kept as the first one found it.
COLUMN_KINDS = (not_null, accepted_values, relationships, accepted_range)
KIND_ORDER = {
    "grain": 0,
    "not_null": 1,
    "accepted_values": 2,
    "relationships": 3,
    "range": 4,
    "rowcount": 5,
    "invariant": 6,
}


@dataclass(frozen=True)
class ColumnProfile:
    """What the dry run's result holds in one column."""

    name: str
    data_type: str
    nulls: int
    distinct: int
    longest: int | None
    values: tuple[str, ...] | None  # the distinct values, for a bounded text column


@dataclass
class Derivation:
    """Candidate tests and what was learnt on the way (for the run report)."""

    tests: list[DataTest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, ColumnProfile] = field(default_factory=dict)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def profile_result(sandbox, columns, row_count: int, table: str = RESULT_TABLE) -> dict[str, ColumnProfile]:
    """Nulls, distinct values and (for short, repeated text) the values of every column."""
    if sandbox is None or not columns:
        return {}
    selects = []
    for column in columns:
        quoted = _quote(column.name)
        selects.append(f"count(*) filter (where {quoted} is null)")
        simple = not any(mark in column.data_type for mark in ("[]", "struct", "map", "union"))
        selects.append(f"count(distinct {quoted})" if simple else "null")
        selects.append(f"max(length({quoted}))" if is_text_type(column.data_type) else "null")
    row = sandbox.execute(f"select {', '.join(selects)} from {table}")[0]
    profiles = {}
    for index, column in enumerate(columns):
        nulls, distinct, longest = row[3 * index : 3 * index + 3]
        values = None
        if (
            is_text_type(column.data_type)
            and distinct is not None
            and 0 < distinct <= CATEGORICAL_MAX_DISTINCT
            and (longest or 0) <= CATEGORICAL_MAX_LENGTH
            and row_count - nulls >= CATEGORICAL_MIN_REPEATS * distinct
        ):
            found = sandbox.execute(
                f"select distinct {_quote(column.name)} from {table} where {_quote(column.name)} is not null order by 1"
            )
            values = tuple(str(value[0]) for value in found)
        profiles[column.name.lower()] = ColumnProfile(
            column.name, column.data_type, int(nulls or 0), int(distinct or 0), longest, values
        )
    return profiles


class Deriver:
    """One derivation under way; each kind's `derive` reads its facts and adds to its result."""

    def __init__(self, ctx: GateContext, grain, catalog):
        self.ctx = ctx
        self.catalog = catalog or ctx.catalog
        self.grain = [g for g in grain or ()]
        self.grain_lower = {g.lower() for g in self.grain}
        self.facts = Facts(ctx)
        self.result = Derivation()
        rows = ctx.result.row_count if ctx.result else 0
        self.rows = rows
        self.columns = list(ctx.result.columns) if ctx.result else []
        self.result.profiles = profile_result(ctx.sandbox, self.columns, rows)

    def add(self, test: DataTest) -> None:
        """Add `test` unless one with its key is there already."""
        if all(existing.key != test.key for existing in self.result.tests):
            self.result.tests.append(test)

    # -- model level -----------------------------------------------------------------------

    def row_count(self) -> None:
        found = self.facts.driving_input()
        if found is None:
            return
        relation_kind, base, why = found
        display = call_display(self.ctx, base.placeholder, base.relation)
        if relation_kind == "equal":
            self.add(
                DataTest(
                    f"{PACKAGE}.equal_rowcount",
                    None,
                    {"compare_model": display},
                    f"one row per row of {display}: {why}",
                    "rowcount",
                )
            )
        else:
            self.add(
                DataTest(
                    f"{PACKAGE}.fewer_rows_than",
                    None,
                    {"compare_model": display},
                    f"at most one row per row of {display}: {why} on the way, joins only to unique keys",
                    "rowcount",
                )
            )

    # -- all -------------------------------------------------------------------------------

    def run(self) -> Derivation:
        if self.grain:
            for test in grain_tests(self.grain, self.rows if self.ctx.result else None, self.ctx.observed_grain):
                self.add(test)
        if self.facts.root is None:
            self.result.notes.append("the SQL could not be analysed (no qualified tree): only the grain is tested")
        shapes: dict[str, AggregateShape] = {}
        for column in self.columns:
            definition = self.facts.output(column.name)
            for kind in COLUMN_KINDS:
                kind.derive(self, column.name, column.data_type, definition)
            if definition is not None and is_numeric_type(column.data_type):
                shape = self.facts.aggregate_shape(definition.scope, definition.expression)
                if shape is not None:
                    shapes[column.name] = shape
        self.row_count()
        expression_is_true.derive_invariants(self, shapes)
        order = {column.name.lower(): index for index, column in enumerate(self.columns)}
        self.result.tests.sort(
            key=lambda t: (
                t.column is None and t.kind != "grain",
                order.get((t.column or "").lower(), -1),
                KIND_ORDER.get(t.kind, 9),
            )
        )
        return self.result


def derive_tests(ctx: GateContext, grain=None, catalog=None) -> Derivation:
    """Candidate data tests for the proposal in `ctx` (gates passed; result in the sandbox)."""
    return Deriver(ctx, ctx.proposal.grain if grain is None else grain, catalog).run()

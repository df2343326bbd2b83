"""Data tests derived from evidence: the model's SQL, the upstream tests, the dry run's data.

Never from the proposal's description or the LLM's words. Each rule below names its
evidence in the test's `meta.reason`:

  grain            declared grain, verified unique and not null on the dry run's rows
  not_null         the SQL guarantees a value: a count, a coalesce with a constant, an
                   aggregate per group of non-null values, a pass-through of a column that
                   is not_null upstream (and not on the nullable side of an outer join)
  accepted_values  text passed through from a column with accepted_values upstream, less
                   what the where clauses on its way exclude; the values a where clause
                   admits; the literal outputs of a CASE. Never a profile of today's data:
                   a new store or product is legitimate tomorrow
  relationships    a pass-through of a column with a relationships test upstream (same
                   target), or of the primary key of the upstream relation it is read from
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

Candidates then face the hollow-test gate (generator.testgen.hollow): kept only if they pass on
the real result and fail on a corrupted copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlglot import exp

from generator.project.sandbox import RESULT_TABLE
from generator.sql.context import GateContext
from generator.sql.facts import AggregateShape, Facts, unwrap
from generator.testgen.datatests import PACKAGE, DataTest, grain_tests

# A text column is categorical when it has at most this many distinct values ...
CATEGORICAL_MAX_DISTINCT = 12
# ... none longer than this (longer values are free text) ...
CATEGORICAL_MAX_LENGTH = 40
# ... and each value is seen this many times on average (else it is more like an id).
CATEGORICAL_MIN_REPEATS = 2
NUMERIC = ("int", "decimal", "numeric", "double", "float", "real", "hugeint")
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


def _is_text(data_type: str) -> bool:
    return data_type.startswith("varchar") or data_type in ("text", "string")


def _is_numeric(data_type: str) -> bool:
    return any(word in data_type for word in NUMERIC) and not data_type.endswith("[]")


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
        selects.append(f"max(length({quoted}))" if _is_text(column.data_type) else "null")
    row = sandbox.execute(f"select {', '.join(selects)} from {table}")[0]
    profiles = {}
    for index, column in enumerate(columns):
        nulls, distinct, longest = row[3 * index : 3 * index + 3]
        values = None
        if (
            _is_text(column.data_type)
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


def _bound_value(value: Decimal):
    return int(value) if value == value.to_integral_value() else float(value)


def _id_like(name: str) -> bool:
    lowered = name.lower()
    return lowered == "id" or lowered.endswith("_id") or lowered.endswith("_key") or lowered.endswith("_uuid")


def _call_display(ctx: GateContext, placeholder: str, relation) -> str:
    call = ctx.templated.call_for(placeholder) if ctx.templated else None
    return call.display() if call else relation.display


class _Deriver:
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
        if all(existing.key != test.key for existing in self.result.tests):
            self.result.tests.append(test)

    # -- per column --------------------------------------------------------------------

    def not_null(self, name: str, definition) -> None:
        if name.lower() in self.grain_lower or definition is None:
            return
        reason = self.facts.never_null(definition.scope, definition.expression)
        if reason:
            evidence = "inherited" if "upstream" in reason else "proven"
            self.add(DataTest("not_null", name, reason=f"never null: {reason}", kind="not_null", evidence=evidence))

    def accepted_values(self, name: str, data_type: str, definition) -> None:
        if not _is_text(data_type):
            return
        profile = self.result.profiles.get(name.lower())
        base, steps = self.facts.pass_through(definition) if definition is not None else (None, [])
        if base is not None:
            upstream = base.relation.column(base.column)
            allowed, excluded, notes = self.facts.value_filters(steps)
            if upstream is not None and upstream.accepted_values:
                values = [v for v in upstream.accepted_values if v not in excluded]
                if allowed is not None:
                    values = [v for v in values if v in allowed]
                reason = f"passes through {base.display()}, accepted_values upstream"
                if len(values) < len(upstream.accepted_values):
                    reason += f"; where {' and '.join(notes)} leaves {len(values)} of them"
                if values:
                    test = DataTest("accepted_values", name, {"values": values}, reason, "accepted_values")
                    self.add(replace(test, evidence="inherited"))
                return
            if allowed is not None:
                values = sorted(allowed - excluded)
                if values:
                    self.add(
                        DataTest(
                            "accepted_values",
                            name,
                            {"values": values},
                            f"where {' and '.join(notes)} admits only these values",
                            "accepted_values",
                        )
                    )
                return
            if upstream is not None and upstream.unique:
                return  # an id, unique upstream: never a fixed set
        literals = self._case_literals(definition)
        if literals:
            self.add(
                DataTest(
                    "accepted_values",
                    name,
                    {"values": literals},
                    "the CASE that computes it returns only these literals",
                    "accepted_values",
                )
            )
            return
        if profile is None or profile.values is None or _id_like(name):
            return
        # Today's few values are no domain: a new store or product would fail the build.
        self.result.notes.append(
            f"{name}: {len(profile.values)} distinct values today, but no upstream test or SQL bounds them; "
            "no accepted_values test (it would fail on legitimate new data)"
        )

    def _case_literals(self, definition) -> list[str] | None:
        """The string literals a CASE (its every branch and else) can return, sorted."""
        core = self.facts.core(definition) if definition is not None else None
        if core is None:
            return None
        expression = unwrap(core.expression)
        if not isinstance(expression, exp.Case):
            return None
        outputs = [unwrap(branch.args.get("true")) for branch in expression.args.get("ifs") or []]
        default = expression.args.get("default")
        outputs.append(unwrap(default) if default is not None else exp.null())
        values = set()
        for output in outputs:
            if isinstance(output, exp.Null):
                continue
            if not (isinstance(output, exp.Literal) and output.is_string):
                return None
            values.add(output.this)
        return sorted(values) or None

    def relationships(self, name: str, definition) -> None:
        if definition is None:
            return
        base, _ = self.facts.pass_through(definition)
        if base is None:
            return
        for key in base.relation.foreign_keys:
            if key.column.lower() != base.column.lower():
                continue
            target = self.catalog.by_unique_id(key.to)
            if target is None:
                continue
            self.add(
                DataTest(
                    "relationships",
                    name,
                    {"to": target.display, "field": key.to_column},
                    f"passes through {base.display()}, which has a relationships test to "
                    f"{target.display}.{key.to_column} upstream",
                    "relationships",
                    evidence="inherited",
                )
            )
            return
        # The relation's own key (a unique column that is not its key, such as a domain,
        # would make a true but pointless test).
        if tuple(k.lower() for k in base.relation.primary_key) == (base.column.lower(),):
            display = _call_display(self.ctx, base.placeholder, base.relation)
            self.add(
                DataTest(
                    "relationships",
                    name,
                    {"to": display, "field": base.column},
                    f"passes through {base.display()}, the unique key of {display}",
                    "relationships",
                    evidence="inherited",
                )
            )

    def accepted_range(self, name: str, data_type: str, definition) -> None:
        if definition is None or not _is_numeric(data_type):
            return
        definition = self.facts.core(definition)
        if definition is None:
            return  # a pass-through: its range is the upstream model's business
        expression = unwrap(definition.expression)
        ratio = self._ratio(definition)
        if ratio:
            self.add(
                DataTest(
                    f"{PACKAGE}.accepted_range",
                    name,
                    {"min_value": 0, "max_value": 1},
                    f"a filtered count over the count of the same rows: {ratio}",
                    "range",
                )
            )
            return
        bound = self.facts.lower_bound(definition.scope, expression)
        if bound is None:
            return
        if bound.observed:
            self.result.notes.append(
                f"{name}: >= {_bound_value(bound.value)} today ({bound.reason}), but no test upstream says so; "
                "no accepted_range test"
            )
            return
        self.add(
            DataTest(
                f"{PACKAGE}.accepted_range",
                name,
                {"min_value": _bound_value(bound.value)},
                f"lower bound from the SQL: {bound.reason}",
                "range",
            )
        )

    def _ratio(self, definition) -> str | None:
        expression = unwrap(definition.expression)
        while True:
            if isinstance(expression, exp.Case):
                ifs = expression.args.get("ifs") or []
                if len(ifs) != 1 or expression.args.get("default") is not None:
                    return None
                expression = unwrap(ifs[0].args["true"])
            elif isinstance(expression, (exp.Round, exp.Cast)) and not isinstance(expression, exp.TryCast):
                expression = unwrap(expression.this)
            else:
                break
        if not isinstance(expression, exp.Div):
            return None
        part = self.facts.aggregate_shape(definition.scope, expression.this)
        whole = self.facts.aggregate_shape(definition.scope, expression.expression)
        if (
            part
            and whole
            and part.scope is whole.scope
            and part.function == whole.function == "count"
            and part.argument == whole.argument
            and part.condition is not None
            and whole.condition is None
        ):
            return expression.sql(dialect="duckdb")
        return None

    # -- model level -----------------------------------------------------------------------

    def row_count(self) -> None:
        found = self.facts.driving_input()
        if found is None:
            return
        relation_kind, base, why = found
        display = _call_display(self.ctx, base.placeholder, base.relation)
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

    def invariants(self, shapes: dict[str, AggregateShape]) -> None:
        names = list(shapes)
        for total_name in names:
            total = shapes[total_name]
            if total.condition is not None:
                continue
            if total.function == "sum" and not self._non_negative(total):
                continue
            parts = [
                name
                for name in names
                if name != total_name
                and shapes[name].scope is total.scope
                and shapes[name].function == total.function
                and shapes[name].argument == total.argument
                and shapes[name].condition is not None
            ]
            if not parts:
                continue
            disjoint = _disjoint_equalities([shapes[name].condition for name in parts])
            if disjoint and len(parts) > 1:
                conditions = " / ".join(shapes[name].condition.sql(dialect="duckdb") for name in parts)
                self.add(
                    DataTest(
                        f"{PACKAGE}.expression_is_true",
                        None,
                        {"expression": f"{' + '.join(parts)} <= {total_name}"},
                        f"{', '.join(parts)} {total.function} disjoint subsets ({conditions}) of the rows "
                        f"{total_name} {total.function}s",
                        "invariant",
                    )
                )
                continue
            for name in parts:
                condition = shapes[name].condition.sql(dialect="duckdb")
                self.add(
                    DataTest(
                        f"{PACKAGE}.expression_is_true",
                        None,
                        {"expression": f"{name} <= {total_name}"},
                        f"{name} {total.function}s the rows where {condition} among those {total_name} "
                        f"{total.function}s",
                        "invariant",
                    )
                )

    def _non_negative(self, shape: AggregateShape) -> bool:
        try:
            from sqlglot import parse_one

            argument = parse_one(shape.argument, read="duckdb")
        except Exception:
            return False
        bound = self.facts.lower_bound(shape.scope, argument)
        return bound is not None and bound.value >= 0 and not bound.observed

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
            self.not_null(column.name, definition)
            self.accepted_values(column.name, column.data_type, definition)
            self.relationships(column.name, definition)
            self.accepted_range(column.name, column.data_type, definition)
            if definition is not None and _is_numeric(column.data_type):
                shape = self.facts.aggregate_shape(definition.scope, definition.expression)
                if shape is not None:
                    shapes[column.name] = shape
        self.row_count()
        self.invariants(shapes)
        order = {column.name.lower(): index for index, column in enumerate(self.columns)}
        self.result.tests.sort(
            key=lambda t: (
                t.column is None and t.kind != "grain",
                order.get((t.column or "").lower(), -1),
                KIND_ORDER.get(t.kind, 9),
            )
        )
        return self.result


def _disjoint_equalities(conditions: list[exp.Expression]) -> bool:
    """Conditions `c = 'a'`, `c = 'b'`, ... on one column with distinct literals."""
    column, seen = None, set()
    for condition in conditions:
        condition = unwrap(condition)
        if not isinstance(condition, exp.EQ):
            return False
        left, right = unwrap(condition.this), unwrap(condition.expression)
        if isinstance(right, exp.Column):
            left, right = right, left
        if not isinstance(left, exp.Column) or not isinstance(right, exp.Literal):
            return False
        key = (left.table.lower(), left.name.lower())
        if column is not None and key != column:
            return False
        column = key
        if right.this in seen:
            return False
        seen.add(right.this)
    return True


def derive_tests(ctx: GateContext, grain=None, catalog=None) -> Derivation:
    """Candidate data tests for the proposal in `ctx` (gates passed; result in the sandbox)."""
    return _Deriver(ctx, ctx.proposal.grain if grain is None else grain, catalog).run()

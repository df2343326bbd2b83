"""What a model's SQL guarantees, read from the binding gate's qualified tree.

Test derivation asks the SQL questions that lineage alone does not answer: can this output
column be null, what is the least value it can take, which rows pass the filters, which
joins keep one row per row of the driving input. Each answer comes with its evidence, a
short phrase the test's `meta.reason` quotes. An answer of None means "not guaranteed":
the analysis is conservative, and whatever it cannot prove it leaves alone.

Everything here walks sqlglot scopes: an output column is followed from the final select
into the CTE or subquery it reads, select expression by select expression, until it
reaches a relation of the project (a ref()/source() placeholder), whose tests in the
catalog (not_null, unique, accepted_values, relationships) are upstream evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from generator.project.catalog import Relation
from generator.sql.context import GateContext, qualified_scope

# Functions that return null exactly when an argument is null (and never otherwise).
NULL_PROPAGATING = (
    exp.DateTrunc,
    exp.TimestampTrunc,
    exp.Round,
    exp.Abs,
    exp.Upper,
    exp.Lower,
    exp.Trim,
    exp.Floor,
    exp.Ceil,
    exp.Length,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.DPipe,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Not,
    exp.Neg,
)
VALUE_AGGREGATES = (exp.Sum, exp.Min, exp.Max, exp.Avg, exp.AnyValue)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _nested(claim: str, because: str) -> str:
    """`claim (because)` as one flat phrase: a sum of a sum says its claim once, not nested."""
    while because.startswith(claim + " (") and because.endswith(")") and _balanced(because[len(claim) + 2 : -1]):
        because = because[len(claim) + 2 : -1]
    return f"{claim} ({because})"


@dataclass(frozen=True)
class BaseColumn:
    """A column of a project relation that the SQL reads (through its placeholder)."""

    placeholder: str
    relation: Relation
    column: str

    def display(self) -> str:
        return f"{self.relation.display}.{self.column}"


@dataclass(frozen=True)
class Definition:
    """The select expression (alias removed) that defines a column in a scope."""

    scope: Scope
    expression: exp.Expression


@dataclass(frozen=True)
class Bound:
    value: Decimal
    reason: str
    # True when the bound rests on today's data (an upstream column's minimum), not on the
    # SQL or a test: new rows may break it, so no test may be derived from it.
    observed: bool = False


@dataclass(frozen=True)
class AggregateShape:
    """An output column that is (a pass-through of) a count or sum computed in `scope`."""

    scope: Scope
    function: str  # count | sum
    argument: str  # the counted/summed expression's SQL ('*' for count(*))
    condition: exp.Expression | None  # the FILTER (or CASE WHEN) condition; None: all rows


def _bound_text(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral_value() else str(value)


def unwrap(expression: exp.Expression) -> exp.Expression:
    while isinstance(expression, (exp.Alias, exp.Paren)):
        expression = expression.this
    return expression


def conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    if condition is None:
        return []
    condition = unwrap(condition)
    if isinstance(condition, exp.And):
        return conjuncts(condition.this) + conjuncts(condition.expression)
    return [condition]


def same_column(a: exp.Expression, b: exp.Expression) -> bool:
    a, b = unwrap(a), unwrap(b)
    return (
        isinstance(a, exp.Column)
        and isinstance(b, exp.Column)
        and a.name.lower() == b.name.lower()
        and a.table.lower() == b.table.lower()
    )


class Facts:
    """Questions about one proposal's SQL, answered from `ctx.qualified` and the catalog."""

    def __init__(self, ctx: GateContext, sandbox=None):
        self.ctx = ctx
        self.sandbox = sandbox if sandbox is not None else ctx.sandbox
        # Shared with every other reader of the qualified tree's scopes (built once).
        self.root: Scope | None = qualified_scope(ctx)
        self._profiles: dict[tuple[str, str], tuple] = {}

    # -- following columns -----------------------------------------------------------------

    def output(self, name: str) -> Definition | None:
        """The final select's expression for output column `name`."""
        if self.root is None or not isinstance(self.root.expression, exp.Select):
            return None
        for expression in self.root.expression.selects:
            if expression.alias_or_name.lower() == name.lower():
                return Definition(self.root, unwrap(expression))
        return None

    def source(self, scope: Scope, alias: str):
        """The exp.Table (a project relation) or child Scope an alias names in `scope`."""
        selected = scope.selected_sources.get(alias)
        if selected is None:
            for key, value in scope.selected_sources.items():
                if key.lower() == alias.lower():
                    selected = value
                    break
        return selected[1] if selected else None

    def resolve(self, scope: Scope, column: exp.Column) -> Definition | BaseColumn | None:
        """One step: what a column reference in `scope` reads."""
        source = self.source(scope, column.table)
        if isinstance(source, exp.Table):
            relation = self.ctx.relations.get(source.name)
            if relation is None:
                return None
            known = relation.column(column.name)
            return BaseColumn(source.name, relation, known.name if known else column.name)
        if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
            for expression in source.expression.selects:
                if expression.alias_or_name.lower() == column.name.lower():
                    return Definition(source, unwrap(expression))
        return None

    def pass_through(self, definition: Definition) -> tuple[BaseColumn | None, list[tuple[Scope, exp.Column]]]:
        """Follow a pure column chain to the project relation it copies; also the (scope,
        column) steps on the way, for filters that constrain the values."""
        steps: list[tuple[Scope, exp.Column]] = []
        current: Definition | BaseColumn | None = definition
        while isinstance(current, Definition):
            expression = unwrap(current.expression)
            if not isinstance(expression, exp.Column):
                return None, steps
            steps.append((current.scope, expression))
            current = self.resolve(current.scope, expression)
        return (current if isinstance(current, BaseColumn) else None), steps

    def core(self, definition: Definition) -> Definition | None:
        """Follow a column through CTEs and subqueries to the expression that computes it;
        None if it is a plain copy of a project relation's column."""
        current: Definition | BaseColumn | None = definition
        while isinstance(current, Definition):
            expression = unwrap(current.expression)
            if not isinstance(expression, exp.Column):
                return current
            current = self.resolve(current.scope, expression)
        return None

    def nullable_aliases(self, select: exp.Select) -> set[str]:
        """Sources of a select whose columns an outer join can fill with nulls."""
        nullable: set[str] = set()
        from_ = select.args.get("from_")
        seen = [from_.this.alias_or_name.lower()] if from_ is not None else []
        for join in select.args.get("joins") or []:
            alias = join.this.alias_or_name.lower()
            side = (join.side or "").upper()
            if side in ("LEFT", "FULL"):
                nullable.add(alias)
            if side in ("RIGHT", "FULL"):
                nullable.update(seen)
            seen.append(alias)
        return nullable

    def _outer(self, scope: Scope, column: exp.Column) -> bool:
        select = scope.expression
        return isinstance(select, exp.Select) and column.table.lower() in self.nullable_aliases(select)

    @staticmethod
    def grouped(scope: Scope) -> bool:
        select = scope.expression
        return isinstance(select, exp.Select) and bool(select.args.get("group"))

    # -- nullability ---------------------------------------------------------------------------

    def never_null(self, scope: Scope, expression: exp.Expression) -> str | None:  # noqa: C901 - one branch per expression kind whose nullability is known
        """Why `expression` can never be null in `scope`'s rows, or None if it can."""
        expression = unwrap(expression)
        if isinstance(expression, exp.Column):
            if self._outer(scope, expression):
                return None
            target = self.resolve(scope, expression)
            if isinstance(target, BaseColumn):
                known = target.relation.column(target.column)
                if known is not None and known.not_null:
                    return f"passes through {target.display()}, not_null upstream"
                return None
            if isinstance(target, Definition):
                return self.never_null(target.scope, target.expression)
            return None
        if isinstance(expression, exp.Count) or (
            isinstance(expression, exp.Filter) and isinstance(expression.this, exp.Count)
        ):
            return "a count is never null"
        if isinstance(expression, exp.Coalesce):
            arguments = [expression.this, *expression.expressions]
            last = unwrap(arguments[-1])
            if isinstance(last, exp.Literal):
                return f"coalesce(..., {last.sql(dialect='duckdb')}) always has a value"
            for argument in arguments:
                reason = self.never_null(scope, argument)
                if reason:
                    return reason
            return None
        if isinstance(expression, exp.Literal) or isinstance(expression, exp.Boolean):
            return "a constant"
        if isinstance(expression, exp.Cast) and not isinstance(expression, exp.TryCast):
            return self.never_null(scope, expression.this)
        if isinstance(expression, VALUE_AGGREGATES) and not isinstance(expression.parent, exp.Filter):
            if not self.grouped(scope):
                return None  # a global aggregate over no rows is null
            inner = self.never_null(scope, expression.this)
            return _nested(f"{expression.key}() over each group of non-null values", inner) if inner else None
        if isinstance(expression, exp.Case):
            branches = [branch.args.get("true") for branch in expression.args.get("ifs") or []]
            default = expression.args.get("default")
            if default is None:
                return None
            reasons = [self.never_null(scope, branch) for branch in [*branches, default]]
            return "every case branch has a value" if all(reasons) else None
        if isinstance(expression, (exp.Explode, exp.Unnest)):
            inner = unwrap(expression.this) if isinstance(expression, exp.Explode) else None
            if isinstance(inner, exp.GenerateSeries):
                return "the elements of generate_series() are never null"
            return None
        if isinstance(expression, NULL_PROPAGATING):
            operands = [
                value
                for key, value in expression.args.items()
                if isinstance(value, exp.Expression) and key in ("this", "expression")
            ]
            if not operands:
                return None
            reasons = [self.never_null(scope, operand) for operand in operands]
            if all(reasons):
                return (
                    reasons[0]
                    if len(reasons) == 1
                    else "computed from non-null values: " + "; ".join(dict.fromkeys(reasons))
                )
        return None

    # -- lower bounds ------------------------------------------------------------------------

    def _upstream_minimum(self, base: BaseColumn) -> Bound | None:
        """Profile a numeric upstream column: is it non-negative in every row?"""
        if self.sandbox is None:
            return None
        known = base.relation.column(base.column)
        kind = (known.data_type if known else "") or ""
        if not any(word in kind for word in ("int", "decimal", "numeric", "double", "float", "real")):
            return None
        key = (base.relation.unique_id, base.column)
        if key not in self._profiles:
            # Helper SQL in DuckDB's spelling, the relation named as the target's dry run reads
            # it (on Spark without the catalog part DuckDB's name has).
            quoted = '"' + base.column.replace('"', '""') + '"'
            name = self.ctx.dialect.helper_relation_name(base.relation)
            try:
                self._profiles[key] = tuple(self.sandbox.execute(f"select min({quoted}), count(*) from {name}")[0])
            except Exception:
                self._profiles[key] = (None, 0)
        minimum, rows = self._profiles[key]
        if minimum is None or minimum < 0:
            return None
        return Bound(Decimal(0), f"{base.display()} is >= 0 in all {rows:,} upstream rows", observed=True)

    def lower_bound(self, scope: Scope, expression: exp.Expression) -> Bound | None:  # noqa: C901 - one branch per expression kind whose lower bound is known
        """The least value `expression` can take, with why; None if nothing is known."""
        expression = unwrap(expression)
        if isinstance(expression, exp.Column):
            target = self.resolve(scope, expression)
            if isinstance(target, Definition):
                return self.lower_bound(target.scope, target.expression)
            if isinstance(target, BaseColumn):
                return self._upstream_minimum(target)
            return None
        if isinstance(expression, exp.Filter) and isinstance(expression.this, exp.Count):
            return Bound(Decimal(0), "a count is never negative")
        if isinstance(expression, exp.Count):
            if self.grouped(scope) and isinstance(expression.this, exp.Star):
                return Bound(Decimal(1), "count(*) of a group is at least 1")
            return Bound(Decimal(0), "a count is never negative")
        if isinstance(expression, exp.Filter) and isinstance(expression.this, exp.Sum):
            inner = self.lower_bound(scope, expression.this.this)
            if inner and inner.value >= 0:
                return Bound(Decimal(0), _nested("a sum of non-negative values", inner.reason), inner.observed)
            return None
        if isinstance(expression, exp.Sum):
            inner = self.lower_bound(scope, expression.this)
            if inner and inner.value >= 0:
                return Bound(Decimal(0), _nested("a sum of non-negative values", inner.reason), inner.observed)
            return None
        if isinstance(expression, (exp.Min, exp.Max, exp.Avg, exp.AnyValue)):
            return self.lower_bound(scope, expression.this)
        if isinstance(expression, exp.Literal) and not expression.is_string:
            try:
                return Bound(Decimal(expression.this), "a constant")
            except ArithmeticError:
                return None
        if isinstance(expression, exp.Neg):
            return None
        if isinstance(expression, exp.Coalesce):
            bounds = [self.lower_bound(scope, argument) for argument in [expression.this, *expression.expressions]]
            if not all(bounds):
                return None
            lowest = min(bounds, key=lambda bound: bound.value)
            reasons = [b.reason for b in bounds if b.reason != "a constant"]
            constants = [b for b in bounds if b.reason == "a constant"]
            text = "; ".join(dict.fromkeys(reasons)) or "constants"
            if constants:
                text += f", or the coalesce default {_bound_text(constants[-1].value)}"
            return Bound(lowest.value, text, any(b.observed for b in bounds))
        if isinstance(expression, exp.Case):
            values = [branch.args.get("true") for branch in expression.args.get("ifs") or []]
            if expression.args.get("default") is not None:
                values.append(expression.args["default"])
            bounds = [self.lower_bound(scope, value) for value in values]
            if not bounds or not all(bounds):
                return None
            lowest = min(bounds, key=lambda bound: bound.value)
            reasons = [b.reason for b in bounds if b.reason != "a constant"]
            return Bound(
                lowest.value, "; ".join(dict.fromkeys(reasons)) or "constants", any(b.observed for b in bounds)
            )
        if isinstance(expression, (exp.Cast, exp.Round, exp.Floor, exp.Ceil)) and not isinstance(
            expression, exp.TryCast
        ):
            inner = self.lower_bound(scope, expression.this)
            # Rounding a non-negative value keeps it non-negative (not any other bound).
            if inner and inner.value >= 0:
                return Bound(
                    Decimal(0) if inner.value < 1 else inner.value.to_integral_value("ROUND_FLOOR"),
                    inner.reason,
                    inner.observed,
                )
            return None
        if isinstance(expression, (exp.Add, exp.Mul, exp.Div)):
            left = self.lower_bound(scope, expression.this)
            right = self.lower_bound(scope, expression.expression)
            if left and right and left.value >= 0 and right.value >= 0:
                reason = "; ".join(dict.fromkeys(b.reason for b in (left, right)))
                return Bound(Decimal(0), reason, left.observed or right.observed)
        return None

    # -- counts and sums ---------------------------------------------------------------------

    def aggregate_shape(self, scope: Scope, expression: exp.Expression) -> AggregateShape | None:
        """A count/sum (maybe filtered, maybe coalesced with 0, maybe passed through)."""
        expression = unwrap(expression)
        if isinstance(expression, exp.Column):
            target = self.resolve(scope, expression)
            if isinstance(target, Definition):
                return self.aggregate_shape(target.scope, target.expression)
            return None
        if isinstance(expression, exp.Coalesce) and not expression.expressions[1:]:
            fallback = unwrap(expression.expressions[0]) if expression.expressions else None
            if isinstance(fallback, exp.Literal) and fallback.this in ("0", "0.0"):
                return self.aggregate_shape(scope, expression.this)
            return None
        condition = None
        if isinstance(expression, exp.Filter):
            condition = expression.expression.this if isinstance(expression.expression, exp.Where) else None
            expression = expression.this
        if isinstance(expression, exp.Count) and not isinstance(expression.this, exp.Distinct):
            argument = expression.this.sql(dialect="duckdb") if expression.this is not None else "*"
            return AggregateShape(scope, "count", argument, condition)
        if isinstance(expression, exp.Sum):
            argument = unwrap(expression.this)
            if isinstance(argument, exp.Case) and condition is None:
                ifs = argument.args.get("ifs") or []
                default = unwrap(argument.args.get("default")) if argument.args.get("default") else None
                if len(ifs) == 1 and isinstance(default, exp.Literal) and default.this in ("0", "0.0"):
                    return AggregateShape(scope, "sum", ifs[0].args["true"].sql(dialect="duckdb"), ifs[0].this)
            return AggregateShape(scope, "sum", argument.sql(dialect="duckdb"), condition)
        return None

    # -- the driving input -----------------------------------------------------------------------

    def unique_key_sets(self, source) -> list[set[str]]:
        """Sets of column names that identify a row of a join source (lowercase)."""
        if isinstance(source, exp.Table):
            relation = self.ctx.relations.get(source.name)
            if relation is None:
                return []
            keys = [{column.name.lower()} for column in relation.columns if column.unique]
            if relation.primary_key:
                keys.append({name.lower() for name in relation.primary_key})
            return keys
        if not isinstance(source, Scope) or not isinstance(source.expression, exp.Select):
            return []
        select = source.expression
        group = select.args.get("group")
        if group is not None and group.expressions:
            grouped_names = set()
            for key in group.expressions:
                match = next((s for s in select.selects if unwrap(s) == unwrap(key) or same_column(s, key)), None)
                if match is None:
                    return []
                grouped_names.add(match.alias_or_name.lower())
            return [grouped_names]
        if select.args.get("joins") or self._has_set_returning(select):
            return []
        from_ = select.args.get("from_")
        inner = self.source(source, from_.this.alias_or_name) if from_ is not None else None
        keys = []
        for inner_key in self.unique_key_sets(inner):
            outputs = set()
            for name in inner_key:
                match = next(
                    (s for s in select.selects if isinstance(unwrap(s), exp.Column) and unwrap(s).name.lower() == name),
                    None,
                )
                if match is None:
                    break
                outputs.add(match.alias_or_name.lower())
            else:
                keys.append(outputs)
        return keys

    @staticmethod
    def _has_set_returning(select: exp.Select) -> bool:
        return any(
            isinstance(node, (exp.Explode, exp.Unnest, exp.GenerateSeries)) and not isinstance(node.parent, exp.In)
            for expression in select.selects
            for node in expression.walk()
        ) or any(isinstance(join.this, (exp.Unnest, exp.Lateral)) for join in select.args.get("joins") or [])

    @staticmethod
    def _single_row(source) -> bool:
        """A global aggregate: one row whatever its input."""
        if not isinstance(source, Scope) or not isinstance(source.expression, exp.Select):
            return False
        select = source.expression
        return (
            not select.args.get("group")
            and not select.args.get("joins")
            and all(any(isinstance(n, exp.AggFunc) for n in s.walk()) for s in select.selects)
        )

    def _join_to_one(self, scope: Scope, join: exp.Join) -> bool:
        source = self.source(scope, join.this.alias_or_name)
        if (join.kind or "").upper() == "CROSS" or (join.args.get("on") is None and not join.args.get("using")):
            return self._single_row(source)
        alias = join.this.alias_or_name.lower()
        joined_columns = set()
        for condition in conjuncts(join.args.get("on")):
            if not isinstance(condition, exp.EQ):
                continue
            for side in (condition.this, condition.expression):
                side = unwrap(side)
                if isinstance(side, exp.Column) and side.table.lower() == alias:
                    joined_columns.add(side.name.lower())
        for column in join.args.get("using") or []:
            joined_columns.add(column.name.lower())
        return any(key and key <= joined_columns for key in self.unique_key_sets(source))

    def driving_input(self) -> tuple[str, BaseColumn | None, str] | None:
        """('equal' | 'fewer', the relation every row comes from, why), or None if unknown.

        'equal': one output row per row of the driving relation (only left joins to unique
        keys and single-row cross joins, no filters or grouping on the way); 'fewer': at
        most one (filters, grouping and inner joins to unique keys also allowed).
        """
        if self.root is None:
            return None
        scope = self.root
        fewer: list[str] = []
        while True:
            select = scope.expression
            if not isinstance(select, exp.Select) or self._has_set_returning(select):
                return None
            if select.args.get("limit") or select.args.get("offset"):
                fewer.append("a limit")
            if select.args.get("where") is not None:
                fewer.append("a where clause")
            if select.args.get("having") is not None or select.args.get("qualify") is not None:
                fewer.append("a filter")
            if select.args.get("distinct") is not None:
                fewer.append("distinct")
            if select.args.get("group") is not None:
                fewer.append("a group by")
            elif any(
                isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Window)
                for s in select.selects
                for node in s.walk()
            ):
                return None  # a global aggregate: one row, even from an empty input
            for join in select.args.get("joins") or []:
                if not self._join_to_one(scope, join):
                    return None
                side = (join.side or "").upper()
                if side in ("RIGHT", "FULL") or (join.kind or "").upper() in ("ANTI", "SEMI"):
                    return None
                if side != "LEFT" and (join.kind or "").upper() != "CROSS":
                    fewer.append("an inner join")
            from_ = select.args.get("from_")
            if from_ is None:
                return None
            source = self.source(scope, from_.this.alias_or_name)
            if isinstance(source, exp.Table):
                relation = self.ctx.relations.get(source.name)
                if relation is None:
                    return None
                base = BaseColumn(source.name, relation, "")
                if fewer:
                    return "fewer", base, ", ".join(dict.fromkeys(fewer))
                return "equal", base, "only left joins to unique keys"
            if not isinstance(source, Scope):
                return None
            scope = source

    # -- filters on a column ---------------------------------------------------------------------

    def value_filters(self, steps: list[tuple[Scope, exp.Column]]) -> tuple[set[str] | None, set[str], list[str]]:
        """String values the where clauses on a pass-through column's way allow/exclude."""
        allowed: set[str] | None = None
        excluded: set[str] = set()
        notes: list[str] = []
        for scope, column in steps:
            select = scope.expression
            if not isinstance(select, exp.Select):
                continue
            where = select.args.get("where")
            for condition in conjuncts(where.this if where is not None else None):
                negated = isinstance(condition, exp.Not)
                core = unwrap(condition.this) if negated else condition
                values: list[str] | None = None
                if isinstance(core, (exp.EQ, exp.NEQ)):
                    left, right = unwrap(core.this), unwrap(core.expression)
                    if same_column(left, column) and isinstance(right, exp.Literal) and right.is_string:
                        values = [right.this]
                    elif same_column(right, column) and isinstance(left, exp.Literal) and left.is_string:
                        values = [left.this]
                    if values is not None and isinstance(core, exp.NEQ):
                        negated = not negated
                elif isinstance(core, exp.In) and same_column(core.this, column):
                    literals = [unwrap(v) for v in core.expressions]
                    if literals and all(isinstance(v, exp.Literal) and v.is_string for v in literals):
                        values = [v.this for v in literals]
                if values is None:
                    continue
                notes.append(condition.sql(dialect="duckdb"))
                if negated:
                    excluded.update(values)
                else:
                    allowed = set(values) if allowed is None else allowed & set(values)
        return allowed, excluded, notes

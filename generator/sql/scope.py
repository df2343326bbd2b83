"""Name resolution shared by the binding and determinism gates.

`analyze(ctx)` walks the proposal's tree once, the way DuckDB's binder does: FROM items
become sources with known columns and keys, every column reference is resolved (or
reported as unknown or ambiguous), stars are expanded, and every select remembers what
determinism needs (its sources, join equalities, group keys, windows, aggregates).

Keys here are *determinism keys*: column sets such that two rows agreeing on them are the
same row or identical in every column. A relation's primary key and unique columns are
keys; so is the set of all its columns (identical rows cannot be told apart, so their
order cannot matter).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import ParseError

from generator.errors import Problem
from generator.gates.base import GateContext
from generator.gates.parse import PIVOT_ADVICE
from generator.gates.references import resolve_call
from generator.project.catalog import Relation
from generator.sql.locate import DIALECT, display_name, function_name, is_placeholder, span
from generator.suggest import closest

RULE = "binding"

Atom = tuple  # ("c", source uid, column) or ("e", canonical expression)

# Aggregates sqlglot leaves as exp.Anonymous (its AggFunc covers the rest).
ANONYMOUS_AGGREGATES = frozenset(
    {
        "arbitrary",
        "json_group_array",
        "json_group_object",
        "json_group_structure",
        "histogram",
        "list",
        "listagg",
        "string_agg",
        "group_concat",
        "first",
        "last",
        "any_value",
        "arg_min",
        "arg_max",
        "min_by",
        "max_by",
        "arg_min_null",
        "arg_max_null",
        "bool_and",
        "bool_or",
        "bit_and",
        "bit_or",
        "bit_xor",
        "bitstring_agg",
        "count_if",
        "countif",
        "favg",
        "fsum",
        "kahan_sum",
        "sumkahan",
        "sum_no_overflow",
        "product",
        "entropy",
        "kurtosis",
        "kurtosis_pop",
        "skewness",
        "mad",
        "median",
        "mode",
        "quantile",
        "quantile_cont",
        "quantile_disc",
        "reservoir_quantile",
        "approx_quantile",
        "approx_count_distinct",
        "approx_top_k",
        "geomean",
        "geometric_mean",
        "weighted_avg",
        "wavg",
        "sem",
        "regr_avgx",
        "regr_avgy",
        "regr_count",
        "regr_intercept",
        "regr_r2",
        "regr_slope",
        "regr_sxx",
        "regr_sxy",
        "regr_syy",
        "covar_pop",
        "covar_samp",
        "corr",
        "stddev",
        "stddev_pop",
        "stddev_samp",
        "var_pop",
        "var_samp",
        "variance",
    }
)

# Table functions whose output columns we know (the safety gate refuses every other one).
TABLE_FUNCTION_COLUMNS = {
    "range": ("range",),
    "generate_series": ("generate_series",),
    "json_each": ("key", "value", "type", "atom", "id", "parent", "fullkey", "path"),
    "json_tree": ("key", "value", "type", "atom", "id", "parent", "fullkey", "path"),
}


@dataclass(frozen=True)
class Col:
    """A column of a source or of a query's output."""

    name: str
    data_type: str | None = None


@dataclass
class Shape:
    """What a relation-like thing provides: its columns (None: unknown) and keys."""

    columns: list[Col] | None
    keys: list[frozenset[str]] = field(default_factory=list)  # lowercase column names
    label: str = ""

    @property
    def known(self) -> bool:
        return self.columns is not None

    def column(self, name: str) -> Col | None:
        if self.columns is None:
            return None
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    def names(self) -> list[str]:
        return [c.name for c in self.columns or ()]


@dataclass(eq=False)
class Source:
    """One FROM/JOIN item of a select, under the name columns may use to qualify it."""

    name: str
    shape: Shape
    node: exp.Expression
    label: str
    uid: int
    relation: Relation | None = None
    alt_names: tuple[str, ...] = ()
    join: str = ""  # "", left, right, full, semi, anti

    def answers_to(self, name: str) -> bool:
        lowered = name.lower()
        return self.name.lower() == lowered or any(alt.lower() == lowered for alt in self.alt_names)

    def atom(self, column: str) -> Atom:
        return ("c", self.uid, column.lower())

    def atoms(self) -> set[Atom]:
        return {self.atom(c.name) for c in self.shape.columns or ()}


@dataclass(eq=False)
class Ref:
    """What one column reference resolved to."""

    kind: str  # column | alias | outer | row | lambda | unknown
    source: Source | None = None
    column: str | None = None  # lowercase
    path: tuple[str, ...] = ()  # struct fields after the column
    target: exp.Expression | None = None  # for aliases: the aliased expression
    data_type: str | None = None


class _Refs(dict):
    """id(column node) -> Ref, counting the unknown ones.

    Determinism asks "did any column here fail to resolve?" hundreds of times per
    proposal; while nothing is unknown (the usual case) that is answered without a walk.
    """

    def __init__(self) -> None:
        super().__init__()
        self.unknown = 0

    def __setitem__(self, key: int, ref: Ref) -> None:
        old = self.get(key)
        self.unknown += (ref.kind == "unknown") - (old is not None and old.kind == "unknown")
        super().__setitem__(key, ref)


@dataclass(eq=False)
class Output:
    """One output column of a select."""

    name: str
    expression: exp.Expression
    item: exp.Expression
    data_type: str | None = None
    from_star: bool = False


@dataclass(eq=False)
class SelectInfo:
    """What determinism needs to know about one select."""

    node: exp.Select
    sources: list[Source] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    fds: list[tuple[frozenset, frozenset]] = field(default_factory=list)
    group: list[exp.Expression] | None = None  # None: no GROUP BY
    aggregated: bool = False
    windows: list[exp.Window] = field(default_factory=list)
    aggregates: list[exp.Expression] = field(default_factory=list)
    named_windows: dict[str, exp.Window] = field(default_factory=dict)
    order: list[exp.Expression] = field(default_factory=list)  # order keys, aliases resolved

    @property
    def visible_sources(self) -> list[Source]:
        return [s for s in self.sources if s.join not in ("semi", "anti")]


@dataclass(eq=False)
class SetOpInfo:
    node: exp.Expression
    names: list[str]


class Env:
    """The sources a select's expressions can see, and the scope around it."""

    def __init__(self, parent: Env | None, ctes: dict[str, Shape]):
        self.parent = parent
        self.ctes = ctes
        self.sources: list[Source] = []
        self.merged: dict[str, list[Source]] = {}  # USING / NATURAL join columns
        self.extra: Source | None = None  # a semi/anti join's right side, inside its ON

    def visible(self) -> list[Source]:
        return [s for s in self.sources if s.join not in ("semi", "anti") or s is self.extra]

    def named(self, name: str) -> Source | None:
        return next((s for s in reversed(self.visible()) if s.answers_to(name)), None)


@lru_cache(maxsize=256)
def _data_type(text: str) -> exp.DataType | None:
    try:
        return exp.DataType.build(text, dialect=DIALECT)
    except (ParseError, ValueError, TypeError):
        return None


_OPAQUE_TYPES = {
    exp.DataType.Type.JSON,
    exp.DataType.Type.MAP,
    exp.DataType.Type.UNKNOWN,
    exp.DataType.Type.USERDEFINED,
    exp.DataType.Type.UNION,
    exp.DataType.Type.VARIANT,
}


def struct_field(data_type: str | None, path: tuple[str, ...]) -> tuple[str | None, str | None, list[str]]:
    """Follow struct fields through a DuckDB type.

    Returns (the resulting type or None when unknown, the field that does not exist or
    None, the fields that do exist there).
    """
    current = data_type
    for name in path:
        if current is None:
            return None, None, []
        parsed = _data_type(current)
        if parsed is None or parsed.this in _OPAQUE_TYPES:
            return None, None, []
        if parsed.this != exp.DataType.Type.STRUCT:
            return current, name, []
        fields = {
            column.name: column.args.get("kind") for column in parsed.expressions if isinstance(column, exp.ColumnDef)
        }
        match = next((f for f in fields if f.lower() == name.lower()), None)
        if match is None:
            return current, name, list(fields)
        kind = fields[match]
        current = kind.sql(dialect=DIALECT).lower() if isinstance(kind, exp.DataType) else None
    return current, None, []


def relation_shape(relation: Relation) -> Shape:
    keys = []
    if relation.primary_key:
        keys.append(frozenset(k.lower() for k in relation.primary_key))
    keys.extend(frozenset({c.name.lower()}) for c in relation.columns if c.unique)
    return Shape(
        columns=[Col(c.name, c.data_type) for c in relation.columns] if relation.columns else None,
        keys=list(dict.fromkeys(keys)),
        label=relation.display,
    )


def _rename(shape: Shape, names: list[str], label: str | None = None) -> Shape:
    """Apply an alias column list `t(a, b)`: it renames the first columns."""
    label = label or shape.label
    if not names or shape.columns is None:
        return Shape(shape.columns, list(shape.keys), label)
    renamed = list(shape.columns)
    mapping = {}
    for index, name in enumerate(names[: len(renamed)]):
        mapping[renamed[index].name.lower()] = name.lower()
        renamed[index] = Col(name, renamed[index].data_type)
    keys = [frozenset(mapping.get(k, k) for k in key) for key in shape.keys]
    return Shape(renamed, keys, label)


def _dedupe_names(columns: list[Col]) -> list[Col]:
    """DuckDB renames repeated names in a subquery's output: a, a_1, a_2."""
    seen: dict[str, int] = {}
    result = []
    for column in columns:
        lowered = column.name.lower()
        if lowered in seen:
            seen[lowered] += 1
            result.append(Col(f"{column.name}_{seen[lowered]}", column.data_type))
        else:
            seen[lowered] = 0
            result.append(column)
    return result


def is_aggregate(node: exp.Expression, sql: str) -> bool:
    """An aggregate call (not a window): sum(), list(), arbitrary(), ..."""
    if isinstance(node, exp.AggFunc):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in ANONYMOUS_AGGREGATES


def _in_window(node: exp.Expression) -> bool:
    parent = node.parent
    while isinstance(parent, (exp.IgnoreNulls, exp.RespectNulls, exp.Filter)):
        parent = parent.parent
    return isinstance(parent, exp.Window)


def _lambda_params(node: exp.Expression) -> set[str]:
    """Names bound by enclosing lambdas and list comprehensions (`[x * 2 for x in xs]`)."""
    params: set[str] = set()
    child, parent = node, node.parent
    while parent is not None and not isinstance(parent, exp.Query):
        if isinstance(parent, exp.Lambda):
            params.update(p.name.lower() for p in parent.expressions)
        elif isinstance(parent, exp.Comprehension) and child.arg_key != "iterator":
            variables = parent.expression
            bound = variables.expressions if isinstance(variables, exp.Tuple) else [variables]
            for variable in bound:
                if isinstance(variable, (exp.Identifier, exp.Column)):
                    params.add(variable.name.lower())
        child, parent = parent, parent.parent
    return params


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


class Analysis:
    """The result: binding problems, every reference's resolution, every select's facts."""

    def __init__(self, ctx: GateContext):
        self.ctx = ctx
        self.sql = ctx.templated.sql if ctx.templated else ctx.sql
        self.problems: list[Problem] = []
        self.refs: dict[int, Ref] = _Refs()
        self.selects: list[SelectInfo] = []
        self.setops: list[SetOpInfo] = []
        self.top: Shape | None = None  # the result's columns; keys are not searched for it
        self.top_outputs: list[Output] = []
        self._uids = itertools.count(1)
        self._alias_targets: dict[tuple[int, str], exp.Expression] = {}
        self._relations: dict[str, Relation] = dict(ctx.relations)
        # While a select's keys are searched (refs fixed, no nodes made), canonical texts
        # and column atoms are asked for the same nodes many times: remembered by node id.
        self._canon_memo: dict[int, str] | None = None
        # (id(node), id(info)): column_atoms; (id(node), -id(info)): start_atoms of one key;
        # (id(source), 0): a source's atoms.
        self._atoms_memo: dict[tuple[int, int], set[Atom]] | None = None
        if ctx.templated is not None:
            for call in ctx.templated.calls:
                if call.placeholder not in self._relations:
                    relation = resolve_call(ctx.catalog, call)
                    if relation is not None:
                        self._relations[call.placeholder] = relation

    # -- reporting --------------------------------------------------------------------

    def _problem(self, message, node=None, *, identifier=None, suggestion=None, at=None):
        problem = self.ctx.problem(
            RULE,
            message,
            None,
            identifier=identifier,
            suggestion=suggestion,
            span=at or span(node, self.sql),
        )
        if problem not in self.problems:
            self.problems.append(problem)

    def _show(self, name: str) -> str:
        return display_name(name, self.ctx.templated)

    # -- queries ----------------------------------------------------------------------

    def query(
        self,
        node: exp.Expression,
        ctes: dict[str, Shape],
        outer: Env | None,
        *,
        check_outputs: bool = True,
        top: bool = False,
    ) -> Shape:
        ctes = self._with(node, ctes)
        if isinstance(node, exp.Subquery):
            shape = self.query(node.this, ctes, outer, check_outputs=check_outputs, top=top)
            if node.args.get("order") or node.args.get("limit") or node.args.get("offset"):
                self._setop_modifiers(node, shape)
            return shape
        if isinstance(node, exp.Select):
            return self.select(node, ctes, outer, check_outputs=check_outputs, top=top)
        if isinstance(node, exp.SetOperation):
            return self.setop(node, ctes, outer, check_outputs=check_outputs, top=top)
        if isinstance(node, exp.Values):
            return self.values(node, Env(outer, ctes))
        return Shape(None, label="query")

    def _with(self, node: exp.Expression, ctes: dict[str, Shape]) -> dict[str, Shape]:
        with_ = node.args.get("with_") if isinstance(node, exp.Expression) else None
        if not isinstance(with_, exp.With):
            return ctes
        ctes = dict(ctes)
        for cte in with_.expressions:
            name = cte.alias
            alias = cte.args.get("alias")
            columns = [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
            body = cte.this
            label = f"CTE '{name}'"
            if with_.args.get("recursive") and isinstance(body, exp.Union):
                base = self.query(body.this, ctes, None)
                ctes[name.lower()] = _rename(Shape(base.columns, [], label), columns, label)
                self.query(body.expression, ctes, None, check_outputs=False)
                shape = Shape(base.columns, [], label)
            else:
                shape = self.query(body, ctes, None)
            ctes[name.lower()] = _rename(Shape(shape.columns, shape.keys, label), columns, label)
        return ctes

    def values(self, node: exp.Values, env: Env) -> Shape:
        width = 0
        for row in node.expressions:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            width = max(width, len(items))
            for item in items:
                self.resolve(item, env, None, None)
        alias = node.args.get("alias")
        names = [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) else []
        columns = [Col(f"col{i}") for i in range(width)]
        return _rename(Shape(columns, [], "values"), names, "values")

    def setop(self, node, ctes, outer, *, check_outputs, top) -> Shape:
        left = self.query(node.this, ctes, outer, check_outputs=check_outputs, top=top)
        right = self.query(node.expression, ctes, outer, check_outputs=False)
        if node.args.get("by_name"):
            names = list(dict.fromkeys(left.names() + right.names()))
            columns = [Col(n) for n in names] if left.known and right.known else None
        else:
            columns = left.columns
            if left.known and right.known and len(left.columns) != len(right.columns):
                kind = node.key.upper()
                self._problem(
                    f"the two sides of {kind} have {len(left.columns)} and {len(right.columns)} columns",
                    node.expression,
                    identifier=kind,
                    suggestion=f"Select the same number of columns on both sides, or use {kind} BY NAME.",
                )
        keys: list[frozenset[str]] = []
        if columns is not None and node.args.get("distinct"):
            keys.append(frozenset(c.name.lower() for c in columns))
            if not isinstance(node, exp.Union):
                keys.extend(left.keys)
        shape = Shape(columns, keys, "set operation")
        self._setop_modifiers(node, shape)
        return shape

    def _setop_modifiers(self, node: exp.Expression, shape: Shape) -> None:
        """ORDER BY on a union or a parenthesized query names its output columns."""
        names = shape.names()
        order = node.args.get("order")
        if order is not None and shape.known:
            for ordered in order.expressions:
                key = ordered.this
                if isinstance(key, exp.Literal) and not key.is_string:
                    self._ordinal(key, len(names), "ORDER BY")
                elif isinstance(key, exp.Column) and not key.table:
                    if key.name.lower() in (n.lower() for n in names):
                        self.refs[id(key)] = Ref("alias")
                    else:
                        self._problem(
                            f"ORDER BY {key.name}: not an output column of the {node.key}",
                            key,
                            identifier=key.name,
                            suggestion=self._did_you_mean(key.name, names),
                        )
        self.setops.append(SetOpInfo(node, names))

    # -- select -------------------------------------------------------------------------

    def select(self, node: exp.Select, ctes, outer, *, check_outputs, top) -> Shape:  # noqa: C901 - name resolution of one SELECT, clause by clause, in SQL's evaluation order
        env = Env(outer, ctes)
        info = SelectInfo(node)
        self.selects.append(info)
        from_ = node.args.get("from_")
        if from_ is not None:
            self._add_source(from_.this, env, info, "")
        for join in node.args.get("joins") or []:
            self._join(join, env, info)
        for lateral in node.args.get("laterals") or []:
            self._add_source(lateral, env, info, "")

        for window in node.args.get("windows") or []:
            info.named_windows[window.name.lower()] = window

        outputs = self._select_list(node, env, info)
        info.outputs = outputs
        aliases = {}
        for index, output in enumerate(outputs):
            if isinstance(output.item, exp.Alias):
                aliases.setdefault(output.name.lower(), index)

        where = node.args.get("where")
        if where is not None:
            self.resolve(where.this, env, aliases, info)
            self._equalities(where.this, info, direction=None)
        group = node.args.get("group")
        if group is not None:
            info.group = self._group(group, env, aliases, info)
        for key in ("having", "qualify"):
            clause = node.args.get(key)
            if clause is not None:
                self.resolve(clause.this, env, aliases, info)
        for window in node.args.get("windows") or []:
            for part in (window.args.get("partition_by") or []) + [window.args.get("order")]:
                if part is not None:
                    self.resolve(part, env, aliases, info)
        distinct = node.args.get("distinct")
        if isinstance(distinct, exp.Distinct) and distinct.args.get("on") is not None:
            self.resolve(distinct.args["on"], env, aliases, info, prefer_alias=True)
        order = node.args.get("order")
        if order is not None:
            info.order = self._order(order, env, aliases, info)
        for key in ("limit", "offset"):
            clause = node.args.get(key)
            if clause is not None:
                self.resolve(clause, env, None, info)

        info.aggregated = info.group is not None or bool(info.aggregates)
        if check_outputs:
            self._check_output_names(outputs)
        columns = _dedupe_names([Col(o.name, o.data_type) for o in outputs])
        if any(o.expression is None for o in outputs):
            return Shape(None, [], "select")
        shape = Shape(columns, [], "select")
        if not top:
            # Keys matter where a select is read from (subquery, CTE). The top query's
            # shape has no reader, so its key search (the dearest part of the analysis)
            # is skipped; the top shape's keys stay empty.
            shape.keys = self._output_keys(info, columns)
        if top:
            self.top_outputs = outputs
        return shape

    def _join(self, join: exp.Join, env: Env, info: SelectInfo) -> None:
        kind = (join.args.get("kind") or "").lower()
        side = (join.args.get("side") or "").lower()
        method = (join.args.get("method") or "").lower()
        join_type = kind if kind in ("semi", "anti") else side
        left = list(env.visible())
        source = self._add_source(join.this, env, info, join_type)
        if source is None:
            return
        for identifier in join.args.get("using") or []:
            name = identifier.name
            holders = [s for s in left if s.shape.column(name) or not s.shape.known]
            if not holders:
                self._problem(
                    f"USING ({name}): no table before the join has a column '{name}'",
                    identifier,
                    identifier=name,
                    suggestion=self._did_you_mean(name, [c for s in left for c in s.shape.names()]),
                )
            if source.shape.known and not source.shape.column(name):
                self._problem(
                    f"USING ({name}): {source.label} has no column '{name}'",
                    identifier,
                    identifier=name,
                    suggestion=self._did_you_mean(name, source.shape.names()),
                )
            env.merged.setdefault(name.lower(), []).extend(holders + [source])
            for holder in holders:
                self._fd_equal(holder.atom(name), source.atom(name), info, join_type)
        if method == "natural" and source.shape.known:
            for column in source.shape.names():
                holders = [s for s in left if s.shape.column(column)]
                if holders:
                    env.merged.setdefault(column.lower(), []).extend(holders + [source])
                    for holder in holders:
                        self._fd_equal(holder.atom(column), source.atom(column), info, join_type)
        on = join.args.get("on")
        if on is not None:
            env.extra = source if join_type in ("semi", "anti") else None
            self.resolve(on, env, None, info)
            env.extra = None
            if join_type not in ("semi", "anti", "full"):
                self._equalities(on, info, direction=join_type or None, right=source)

    def _add_source(self, item, env: Env, info: SelectInfo, join_type: str) -> Source | None:  # noqa: C901 - one branch per kind of FROM item sqlglot produces
        alias_node = item.args.get("alias")
        alias = alias_node.name if isinstance(alias_node, exp.TableAlias) and alias_node.name else ""
        alias_columns = [c.name for c in alias_node.columns] if isinstance(alias_node, exp.TableAlias) else []
        relation = None
        alt_names: tuple[str, ...] = ()
        if isinstance(item, exp.Table) and isinstance(item.this, (exp.Func, exp.Anonymous)):
            fname = function_name(item.this, self.sql)
            known = TABLE_FUNCTION_COLUMNS.get(fname)
            if known is not None:
                # Only functions we know: others take named parameters (`columns={...}`)
                # that are not columns, and the safety gate refuses them anyway.
                self.resolve(item.this, env, None, info)
            if known is not None:
                columns = [Col(c) for c in known]
                if len(known) == 1 and alias and not alias_columns:
                    columns = [Col(alias)]
                keys = [frozenset({columns[0].name.lower()})] if fname in ("range", "generate_series") else []
                shape = _rename(Shape(columns, keys, f"{fname}()"), alias_columns)
            else:
                shape = Shape(None, [], f"{fname}()")
            name = alias or fname
        elif isinstance(item, exp.Table):
            table_name = item.name
            if is_placeholder(table_name) and table_name in self._relations and not item.args.get("db"):
                relation = self._relations[table_name]
                shape = relation_shape(relation)
                name = alias or relation.identifier
                alt_names = () if alias else (table_name,)
                if alias:
                    shape.label = f"{relation.display} (as {alias})"
            elif not item.args.get("db") and table_name.lower() in env.ctes:
                shape = env.ctes[table_name.lower()]
                name = alias or table_name
            else:
                shape = Shape(None, [], f"table '{self._show(table_name)}'")
                name = alias or table_name
            if item.args.get("pivots"):
                shape = Shape(None, [], "pivot")
            shape = _rename(shape, alias_columns)
        elif isinstance(item, exp.Unnest):
            for expression in item.expressions:
                self.resolve(expression, env, None, info)
            if alias_columns:
                names = alias_columns
            else:
                names = [alias or "unnest"] * max(1, len(item.expressions))
            element_types = [self._element_type(e) for e in item.expressions]
            columns = [Col(n, element_types[i] if i < len(element_types) else None) for i, n in enumerate(names)]
            shape = Shape(columns, [], "unnest()")
            name = alias or "unnest"
        elif isinstance(item, exp.Subquery) and not isinstance(item.unnest(), exp.Query):
            return self._add_source(item.unnest(), env, info, join_type)  # from (a join b)
        elif isinstance(item, exp.Subquery):
            inner = self.query(item.this, env.ctes, env)
            label = f"subquery '{alias}'" if alias else "subquery"
            shape = _rename(Shape(inner.columns, inner.keys, label), alias_columns, label)
            name = alias or "unnamed_subquery"
        elif isinstance(item, exp.Lateral):
            inner = self.query(item.this, env.ctes, env) if isinstance(item.this, exp.Query) else Shape(None)
            label = f"lateral '{alias}'" if alias else "lateral"
            shape = _rename(Shape(inner.columns, inner.keys, label), alias_columns, label)
            name = alias or "lateral"
        elif isinstance(item, exp.Values):
            shape = self.values(item, env)
            name = alias or "values"
        else:
            shape = Shape(None, [], item.key)
            name = alias or item.key
        source = Source(
            name=name,
            shape=shape,
            node=item,
            label=shape.label or name,
            uid=next(self._uids),
            relation=relation,
            alt_names=alt_names,
            join=join_type,
        )
        env.sources.append(source)
        info.sources.append(source)
        for key in shape.keys:
            if shape.known:
                info.fds.append((frozenset(source.atom(k) for k in key), frozenset(source.atoms())))
        if isinstance(item, (exp.Table, exp.Subquery)):
            # `from a join b` in FROM-first syntax, and `from (a join b)`, nest the joins.
            for join in item.args.get("joins") or []:
                self._join(join, env, info)
        return source

    def _element_type(self, expression: exp.Expression) -> str | None:
        ref = self.refs.get(id(expression)) if isinstance(expression, exp.Column) else None
        if ref is None or ref.data_type is None:
            return None
        parsed = _data_type(ref.data_type)
        if parsed is not None and parsed.this == exp.DataType.Type.ARRAY and parsed.expressions:
            return parsed.expressions[0].sql(dialect=DIALECT).lower()
        return None

    # -- select list ----------------------------------------------------------------------

    def _select_list(self, node: exp.Select, env: Env, info: SelectInfo) -> list[Output]:
        outputs: list[Output] = []
        earlier: dict[str, int] = {}
        for item in node.expressions:
            if isinstance(item, exp.Star):
                outputs.extend(self._star(item, item, env, info, None))
                continue
            if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                outputs.extend(self._star(item.this, item, env, info, item))
                continue
            expression = item.this if isinstance(item, exp.Alias) else item
            self.resolve(expression, env, dict(earlier), info)
            if any(isinstance(n, exp.Columns) for n in item.walk()):
                outputs.append(Output(name=item.sql(dialect=DIALECT), expression=None, item=item))
                continue
            name = item.alias_or_name if isinstance(item, (exp.Alias, exp.Column)) else ""
            if isinstance(item, exp.Dot):
                name = item.name
            if not name:
                name = item.sql(dialect=DIALECT)
            data_type = None
            if isinstance(expression, exp.Column):
                ref = self.refs.get(id(expression))
                data_type = ref.data_type if ref else None
            elif isinstance(expression, exp.Cast) and expression.args.get("to") is not None:
                data_type = expression.args["to"].sql(dialect=DIALECT).lower()
            outputs.append(Output(name=name, expression=expression, item=item, data_type=data_type))
            if isinstance(item, exp.Alias):
                earlier.setdefault(name.lower(), len(outputs) - 1)
                self._alias_targets[(id(node), name.lower())] = expression
        return outputs

    def _star(self, star: exp.Star, item, env: Env, info: SelectInfo, qualified: exp.Column | None) -> list[Output]:
        if qualified is not None and qualified.args.get("db"):
            shown = ".".join(part.name for part in qualified.parts[:-1])
            self._problem(
                f"DuckDB cannot expand {shown}.*: only one name may come before a star",
                qualified,
                identifier=f"{shown}.*",
                suggestion=f"Write {qualified.table}.* (the struct column alone) or list its fields.",
            )
            return [Output(f"{shown}.*", None, item)]
        if qualified is not None:
            qualifier = self._binding_name(qualified.table)
            source = env.named(qualifier)
            if source is None:
                struct = self._lookup(env, qualifier, qualified, report=False)
                if struct is not None and struct.kind == "column":
                    data_type = struct.data_type
                    parsed = _data_type(data_type) if data_type else None
                    if parsed is not None and parsed.this == exp.DataType.Type.STRUCT:
                        return [
                            Output(
                                c.name,
                                exp.column(c.name),
                                item,
                                c.args["kind"].sql(dialect=DIALECT).lower(),
                                True,
                            )
                            for c in parsed.expressions
                        ]
                    self._problem(
                        f"cannot expand {qualifier}.*: the fields of column '{qualifier}' are not known",
                        qualified,
                        identifier=f"{qualifier}.*",
                        suggestion="Select its fields by name.",
                    )
                    return [Output(f"{qualifier}.*", None, item)]
                self._problem(
                    f"{qualifier}.*: no table named '{self._show(qualifier)}' in FROM",
                    qualified,
                    identifier=qualifier,
                    suggestion=self._did_you_mean(qualifier, [s.name for s in env.visible()]),
                )
                return [Output(f"{qualifier}.*", None, item)]
            sources = [source]
        else:
            sources = env.visible()
        unknown = [s for s in sources if not s.shape.known]
        if any(self._refused_by_safety(s) for s in unknown):
            return [Output("*", None, item)]  # the safety gate explains why
        if unknown:
            self._problem(
                f"cannot expand * over {unknown[0].label}: its columns are not known",
                star,
                identifier="*",
                suggestion=PIVOT_ADVICE if unknown[0].label == "pivot" else "List the columns you need.",
            )
            return [Output("*", None, item)]
        columns: list[tuple[Source, Col]] = []
        merged_seen: set[str] = set()
        for source in sources:
            for column in source.shape.columns:
                lowered = column.name.lower()
                if qualified is None and source in env.merged.get(lowered, ()):
                    if lowered in merged_seen:
                        continue
                    merged_seen.add(lowered)
                columns.append((source, column))
        for excluded in star.args.get("except_") or []:
            name = excluded.name
            qualifier = excluded.table if isinstance(excluded, exp.Column) else ""
            matches = [
                (s, c)
                for s, c in columns
                if c.name.lower() == name.lower() and (not qualifier or s.answers_to(qualifier))
            ]
            self.refs[id(excluded)] = Ref("column", matches[0][0] if matches else None, name.lower())
            if not matches:
                self._problem(
                    f"EXCLUDE ({name}): * has no column '{name}'",
                    excluded,
                    identifier=name,
                    suggestion=self._did_you_mean(name, [c.name for _, c in columns]),
                )
            columns = [pair for pair in columns if pair not in matches]
        replaced: dict[str, exp.Expression] = {}
        for replacement in star.args.get("replace") or []:
            expression = replacement.this if isinstance(replacement, exp.Alias) else replacement
            self.resolve(expression, env, None, info)
            name = replacement.alias_or_name
            if not any(c.name.lower() == name.lower() for _, c in columns):
                self._problem(
                    f"REPLACE (... as {name}): * has no column '{name}'",
                    replacement.args.get("alias") or replacement,
                    identifier=name,
                    suggestion=self._did_you_mean(name, [c.name for _, c in columns]),
                )
            replaced[name.lower()] = expression
        for rename in star.args.get("rename") or []:
            self.resolve(rename, env, None, info)
        outputs = []
        seen: dict[str, Source] = {}
        for source, column in columns:
            lowered = column.name.lower()
            if lowered in seen:
                self._problem(
                    f"* expands to two columns named '{column.name}' (from {seen[lowered].label} and {source.label})",
                    star,
                    identifier=column.name,
                    suggestion="List the columns, aliasing one of them, or exclude one with * exclude (...).",
                )
            seen.setdefault(lowered, source)
            expression = replaced.get(lowered)
            if expression is None:
                expression = exp.column(column.name, table=source.name)
                self.refs[id(expression)] = Ref("column", source, lowered, data_type=column.data_type)
            outputs.append(
                Output(
                    column.name,
                    expression,
                    item,
                    column.data_type if lowered not in replaced else None,
                    True,
                )
            )
        return outputs

    @staticmethod
    def _refused_by_safety(source: Source) -> bool:
        node = source.node
        if isinstance(node, exp.Table) and isinstance(node.this, (exp.Func, exp.Anonymous)):
            return True
        return isinstance(node, exp.Table) and source.relation is None and not source.shape.label.startswith("CTE")

    def _check_output_names(self, outputs: list[Output]) -> None:
        seen: dict[str, Output] = {}
        for output in outputs:
            lowered = output.name.lower()
            first = seen.get(lowered)
            if first is None:
                seen[lowered] = output
                continue
            if first.item is output.item:
                continue  # one star's duplicates are reported by the star
            self._problem(
                f"output column '{output.name}' appears more than once",
                output.item,
                identifier=output.name,
                suggestion="Give each output column its own name with `as`.",
            )

    # -- clauses -----------------------------------------------------------------------------

    def _ordinal(self, literal: exp.Literal, count: int, clause: str) -> int | None:
        try:
            value = int(literal.this)
        except ValueError:
            return None
        if not 1 <= value <= count:
            self._problem(
                f"{clause} {value} is out of range: the select has {count} column{'s' * (count != 1)}",
                literal,
                identifier=str(value),
                suggestion=f"Use a number from 1 to {count}, or name the column.",
            )
            return None
        return value - 1

    def _group(self, group: exp.Group, env, aliases, info) -> list[exp.Expression]:
        keys: list[exp.Expression] = []
        if group.args.get("all"):
            for output in info.outputs:
                if output.expression is not None and not self._has_aggregate(output.expression):
                    keys.append(output.expression)
            return keys
        items = list(group.expressions)
        for key in ("grouping_sets", "cube", "rollup"):
            for part in group.args.get(key) or []:
                items.extend(part.expressions if hasattr(part, "expressions") and part.expressions else [part])
        for item in items:
            if isinstance(item, exp.Literal) and not item.is_string:
                index = self._ordinal(item, len(info.outputs), "GROUP BY")
                if index is not None and info.outputs[index].expression is not None:
                    keys.append(info.outputs[index].expression)
                continue
            if isinstance(item, exp.Tuple):
                for part in item.expressions:
                    self.resolve(part, env, aliases, info)
                    keys.append(self.unalias(part))
                continue
            self.resolve(item, env, aliases, info)
            keys.append(self.unalias(item))
        return keys

    def _order(self, order: exp.Order, env, aliases, info) -> list[exp.Expression]:
        keys = []
        for ordered in order.expressions:
            key = ordered.this
            if isinstance(key, exp.Literal) and not key.is_string:
                index = self._ordinal(key, len(info.outputs), "ORDER BY")
                if index is not None and info.outputs[index].expression is not None:
                    keys.append(info.outputs[index].expression)
                continue
            if isinstance(key, exp.Var) and key.name.upper() == "ALL":
                keys.extend(o.expression for o in info.outputs if o.expression is not None)
                continue
            self.resolve(key, env, aliases, info, prefer_alias=True)
            keys.append(self.unalias(key))
        return keys

    def unalias(self, node: exp.Expression) -> exp.Expression:
        """A bare reference to a select alias stands for the aliased expression."""
        if isinstance(node, exp.Column):
            ref = self.refs.get(id(node))
            if ref is not None and ref.kind == "alias" and ref.target is not None:
                return ref.target
        return node

    def _has_aggregate(self, node: exp.Expression) -> bool:
        for child in node.walk():
            if isinstance(child, (exp.Select, exp.SetOperation)) and child is not node:
                continue
            if is_aggregate(child, self.sql) and not _in_window(child):
                return True
        return False

    # -- expressions -------------------------------------------------------------------------

    def resolve(
        self,
        node: exp.Expression,
        env: Env,
        aliases: dict[str, int] | None,
        info: SelectInfo | None,
        *,
        prefer_alias: bool = False,
    ) -> None:
        """Resolve every column under `node`; subqueries are analyzed in a scope of their own."""
        stack = [node]
        while stack:
            current = stack.pop()
            if current is None:
                continue
            if isinstance(current, (exp.Select, exp.SetOperation)) or (
                isinstance(current, exp.Subquery) and isinstance(current.unnest(), exp.Query)
            ):
                self.query(current, env.ctes, env, check_outputs=False)
                continue
            if (
                isinstance(current, exp.Bracket)
                and isinstance(current.this, exp.Column)
                and len(current.expressions) == 1
                and isinstance(current.expressions[0], exp.Literal)
                and current.expressions[0].is_string
            ):
                self._column(current.this, env, aliases, info, prefer_alias)
                ref = self.refs.get(id(current.this))
                if ref is not None and ref.kind == "column" and ref.data_type:
                    parsed = _data_type(ref.data_type)
                    if parsed is not None and parsed.this == exp.DataType.Type.STRUCT:
                        field_name = current.expressions[0].this
                        self._check_path(current, current.this.name, ref.data_type, (field_name,))
                continue
            if isinstance(current, exp.Column):
                if isinstance(current.this, exp.Star):
                    if current.table and env.named(current.table) is None:
                        self._unknown_qualifier(current, current.table, env)
                    continue
                self._column(current, env, aliases, info, prefer_alias)
                continue
            if isinstance(current, exp.Columns):
                self._problem(
                    "COLUMNS(...) picks columns by matching the schema when the query runs",
                    current,
                    identifier=function_name(current, self.sql),
                    suggestion="List the columns by name, so the model's contract is fixed.",
                )
                continue
            if info is not None:
                if isinstance(current, exp.Window):
                    info.windows.append(current)
                elif is_aggregate(current, self.sql) and not _in_window(current):
                    info.aggregates.append(current)
            for value in current.args.values():
                if isinstance(value, list):
                    stack.extend(v for v in reversed(value) if isinstance(v, exp.Expression))
                elif isinstance(value, exp.Expression):
                    stack.append(value)

    def _binding_name(self, name: str) -> str:
        """`{{ ref('x') }}.col` renders as "db"."schema"."x".col: DuckDB binds it by table name."""
        relation = self._relations.get(name) if is_placeholder(name) else None
        return relation.identifier if relation is not None else name

    def _column(self, node: exp.Column, env: Env, aliases, info, prefer_alias: bool) -> None:  # noqa: C901 - column resolution order: lambda, alias, CTE, join, outer scope
        parts = [part.name for part in node.parts]
        parts[0] = self._binding_name(parts[0]) if len(parts) > 1 else parts[0]
        params = _lambda_params(node)
        if parts[0].lower() in params:
            self.refs[id(node)] = Ref("lambda")
            return
        if len(parts) == 1:
            name = parts[0]
            if prefer_alias and aliases and name.lower() in aliases:
                self._alias(node, name, info)
                return
            ref = self._lookup(env, name, node)
            if ref is None and aliases and name.lower() in aliases:
                self._alias(node, name, info)
                return
            if ref is None and env.named(name) is not None:
                ref = Ref("row", env.named(name))
            if ref is None:
                ref = self._lookup_outer(env, name, node)
            if ref is None:
                self._unknown(node, name, env, aliases, info)
                ref = Ref("unknown")
            self.refs[id(node)] = ref
            return
        first = parts[0]
        source = env.named(first)
        if source is not None and len([s for s in env.visible() if s.answers_to(first)]) > 1:
            self._problem(
                f"table name '{self._show(first)}' is ambiguous: two tables in FROM have it",
                node,
                identifier=self._show(first),
                suggestion="Give each one its own alias.",
            )
            self.refs[id(node)] = Ref("unknown")
            return
        if source is not None:
            ref = self._qualified(node, source, parts[1], tuple(parts[2:]), env)
            if ref is not None:
                self.refs[id(node)] = ref
                return
        if len(parts) >= 3:
            for candidate in env.visible():
                relation = candidate.relation
                if (
                    relation is not None
                    and candidate.alt_names
                    and relation.schema.lower() == parts[0].lower()
                    and relation.identifier.lower() == parts[1].lower()
                ):
                    ref = self._qualified(node, candidate, parts[2], tuple(parts[3:]), env)
                    if ref is not None:
                        self.refs[id(node)] = ref
                        return
        ref = self._lookup(env, first, node)
        if ref is None and aliases and first.lower() in aliases:
            self._alias(node, first, info)
            return
        if ref is None:
            outer = env.parent
            while outer is not None and ref is None:
                owner = outer.named(first)
                if owner is not None:
                    ref = self._qualified(node, owner, parts[1], tuple(parts[2:]), outer)
                    if ref is not None:
                        ref.kind = "outer"
                outer = outer.parent
            if ref is not None:
                self.refs[id(node)] = ref
                return
            ref = self._lookup_outer(env, first, node)
        if ref is None:
            self._unknown_qualifier(node, first, env)
            self.refs[id(node)] = Ref("unknown")
            return
        path = tuple(parts[1:])
        data_type = self._check_path(node, first, ref.data_type, path)
        self.refs[id(node)] = Ref(ref.kind, ref.source, ref.column, path, data_type=data_type)

    def _alias(self, node: exp.Column, name: str, info: SelectInfo | None) -> None:
        target = None
        if info is not None:
            target = self._alias_targets.get((id(info.node), name.lower()))
        self.refs[id(node)] = Ref("alias", target=target)

    def _qualified(self, node, source: Source, column: str, path: tuple[str, ...], env: Env) -> Ref | None:
        """`source.column[.field...]`; None when the source lacks the column (caller decides)."""
        if not source.shape.known:
            return Ref("column", source, column.lower(), path)
        col = source.shape.column(column)
        if col is None:
            # DuckDB then tries `source` as a column holding a struct: u.a over unnest(...) as u.
            struct = source.shape.column(source.name)
            if struct is not None:
                data_type = self._check_path(node, source.name, struct.data_type, (column, *path))
                return Ref("column", source, struct.name.lower(), (column, *path), data_type=data_type)
            if self._lookup(env, source.name, node, report=False) is not None:
                return None
            self._problem(
                f"{self._source_label(source)} has no column '{column}'",
                node,
                identifier=f"{self._show(source.name)}.{column}",
                suggestion=self._did_you_mean(column, source.shape.names()),
            )
            return Ref("unknown")
        data_type = self._check_path(node, col.name, col.data_type, path)
        return Ref("column", source, col.name.lower(), path, data_type=data_type)

    def _source_label(self, source: Source) -> str:
        if source.label and source.name.lower() not in source.label.lower():
            return f"{source.label} (as {source.name})" if "(as " not in source.label else source.label
        return source.label or f"'{source.name}'"

    def _check_path(self, node, column: str, data_type: str | None, path: tuple[str, ...]) -> str | None:
        if not path:
            return data_type
        result, missing, fields = struct_field(data_type, path)
        if missing is None:
            return result
        if fields:
            self._problem(
                f"column '{column}' has no field '{missing}'",
                node,
                identifier=missing,
                suggestion=self._did_you_mean(missing, fields) or f"Its fields: {', '.join(fields)}.",
            )
        else:
            self._problem(
                f"column '{column}' is {result}, not a struct: it has no field '{missing}'",
                node,
                identifier=missing,
                suggestion=None,
            )
        return None

    def _lookup(self, env: Env, name: str, node, report: bool = True) -> Ref | None:
        lowered = name.lower()
        visible = env.visible()
        matches = [(s, s.shape.column(lowered)) for s in visible if s.shape.known and s.shape.column(lowered)]
        if len(matches) > 1:
            merged = env.merged.get(lowered, [])
            if all(s in merged for s, _ in matches):
                matches = matches[:1]
        if len(matches) > 1 and report:
            holders = " and ".join(self._source_label(s) for s, _ in matches)
            self._problem(
                f"column '{name}' is ambiguous: it is in {holders}",
                node,
                identifier=name,
                suggestion="Qualify it: " + " or ".join(f"{self._show(s.name)}.{c.name}" for s, c in matches) + ".",
            )
        if matches:
            source, column = matches[0]
            return Ref("column", source, column.name.lower(), data_type=column.data_type)
        opaque = [s for s in visible if not s.shape.known]
        if opaque:
            return Ref("column", opaque[-1], lowered)
        return None

    def _lookup_outer(self, env: Env, name: str, node) -> Ref | None:
        outer = env.parent
        while outer is not None:
            ref = self._lookup(outer, name, node)
            if ref is not None:
                ref.kind = "outer"
                return ref
            outer = outer.parent
        return None

    def _candidates(self, env: Env, aliases) -> list[str]:
        names: list[str] = []
        scope = env
        while scope is not None:
            for source in scope.visible():
                names.extend(source.shape.names())
            scope = scope.parent
        names.extend(aliases or ())
        return names

    def _unknown(self, node, name: str, env: Env, aliases, info: SelectInfo | None = None) -> None:
        later = [
            item
            for item in (info.node.expressions if info is not None else [])
            if isinstance(item, exp.Alias) and item.alias.lower() == name.lower()
        ]
        if later:
            self._problem(
                f"column '{name}' is used before the select item that defines it",
                node,
                identifier=name,
                suggestion=f"Move this after `... as {later[0].alias}`, or repeat its expression.",
            )
            return
        self._problem(
            f"unknown column '{name}'",
            node,
            identifier=name,
            suggestion=self._did_you_mean(name, self._candidates(env, aliases)),
        )

    def _unknown_qualifier(self, node, qualifier: str, env: Env) -> None:
        hidden = next((s for s in env.sources if s.join in ("semi", "anti") and s.answers_to(qualifier)), None)
        if hidden is not None:
            self._problem(
                f"'{self._show(qualifier)}' is the right side of a {hidden.join.upper()} JOIN: "
                "its columns exist only in that join's ON clause",
                node,
                identifier=self._show(qualifier),
                suggestion="Use an inner join to read its columns, or move the condition into ON.",
            )
            return
        tables = []
        scope = env
        while scope is not None:
            tables.extend(s.name for s in scope.visible())
            scope = scope.parent
        pool = tables + self._candidates(env, None)
        self._problem(
            f"unknown table or column '{self._show(qualifier)}'",
            node,
            identifier=self._show(qualifier),
            suggestion=self._did_you_mean(qualifier, pool),
        )

    @staticmethod
    def _did_you_mean(word: str, candidates) -> str | None:
        match = closest(word, candidates)
        return f"Did you mean '{match}'?" if match else None

    # -- keys and functional dependencies ------------------------------------------------------

    def _fd_equal(self, left: Atom, right: Atom, info: SelectInfo, join_type: str | None) -> None:
        if join_type in (None, "", "inner", "cross"):
            info.fds.append((frozenset({left}), frozenset({right})))
            info.fds.append((frozenset({right}), frozenset({left})))
        elif join_type == "left":
            info.fds.append((frozenset({left}), frozenset({right})))
        elif join_type == "right":
            info.fds.append((frozenset({right}), frozenset({left})))

    def _equalities(self, condition, info: SelectInfo, direction: str | None, right: Source | None = None) -> None:
        """`a = b` and `a = constant` conjuncts of WHERE or ON: what they pin down."""
        for conjunct in _conjuncts(condition):
            if not isinstance(conjunct, exp.EQ):
                continue
            sides = [self.atom_of(conjunct.this, info), self.atom_of(conjunct.expression, info)]
            constant = [self._is_constant(conjunct.this), self._is_constant(conjunct.expression)]
            for atom, other_constant in ((sides[0], constant[1]), (sides[1], constant[0])):
                if atom is not None and other_constant:
                    info.fds.append((frozenset(), frozenset({atom})))
            if sides[0] is not None and sides[1] is not None:
                if direction in (None, "", "inner", "cross"):
                    self._fd_equal(sides[0], sides[1], info, None)
                else:
                    # In an outer join, the preserved side pins the other side, not back.
                    a, b = sides
                    right_atoms = right.atoms() if right is not None else set()
                    if direction == "left":
                        pairs = [(a, b)] if b in right_atoms else [(b, a)]
                    else:
                        pairs = [(b, a)] if b in right_atoms else [(a, b)]
                    for lhs, rhs in pairs:
                        info.fds.append((frozenset({lhs}), frozenset({rhs})))

    @staticmethod
    def _is_constant(node: exp.Expression) -> bool:
        return not any(isinstance(n, (exp.Column, exp.Query, exp.Subquery)) for n in node.walk())

    def atom_of(self, node: exp.Expression, info: SelectInfo) -> Atom | None:
        """The column atom a plain column reference stands for in `info`, if it is one."""
        node = self.unalias(node)
        while isinstance(node, exp.Paren):
            node = node.this
        if not isinstance(node, exp.Column):
            return None
        ref = self.refs.get(id(node))
        if ref is None or ref.kind != "column" or ref.source not in info.sources or ref.path:
            return None
        return ref.source.atom(ref.column)

    def canon(self, node: exp.Expression | None) -> str:
        """A canonical text for an expression: columns by what they resolve to."""
        memo = self._canon_memo
        if memo is None or node is None:
            return self._canon(node)
        text = memo.get(id(node))
        if text is None:
            text = memo[id(node)] = self._canon(node)
        return text

    def _canon(self, node: exp.Expression | None) -> str:
        if node is None:
            return "null"
        if isinstance(node, (exp.Alias, exp.Paren)) and isinstance(node.this, exp.Expression):
            return self.canon(node.this)
        if isinstance(node, exp.Column):
            ref = self.refs.get(id(node))
            if ref is not None and ref.kind == "alias" and ref.target is not None:
                return self.canon(ref.target)
            if ref is not None and ref.kind in ("column", "outer") and ref.source is not None:
                return f"#{ref.source.uid}.{ref.column}" + "".join(f".{p.lower()}" for p in ref.path)
            return node.sql(dialect=DIALECT).lower()
        if isinstance(node, exp.Identifier):
            return node.name if node.quoted else node.name.lower()
        if isinstance(node, exp.Literal):
            return repr((node.is_string, node.this))
        parts = [node.key]
        for key, value in node.args.items():
            if value is None or value is False or value == []:
                continue
            if isinstance(value, list):
                inner = ",".join(self.canon(v) if isinstance(v, exp.Expression) else repr(v) for v in value)
                parts.append(f"{key}=[{inner}]")
            elif isinstance(value, exp.Expression):
                parts.append(f"{key}={self.canon(value)}")
            else:
                parts.append(f"{key}={value!r}")
        return "(" + " ".join(parts) + ")"

    def column_atoms(self, node: exp.Expression, info: SelectInfo) -> set[Atom]:
        """Atoms of `info`'s sources an expression reads (through aliases and subqueries)."""
        memo = self._atoms_memo
        if memo is None:
            return self._column_atoms(node, info)
        atoms = memo.get((id(node), id(info)))
        if atoms is None:
            atoms = memo[(id(node), id(info))] = self._column_atoms(node, info)
        return atoms

    def _column_atoms(self, node: exp.Expression, info: SelectInfo) -> set[Atom]:
        atoms: set[Atom] = set()
        for child in node.walk():
            if isinstance(child, exp.Column):
                ref = self.refs.get(id(child))
                if ref is None:
                    continue
                if ref.kind == "alias" and ref.target is not None and ref.target is not node:
                    atoms |= self.column_atoms(ref.target, info)
                elif ref.kind in ("column", "outer") and ref.source in info.sources:
                    atoms.add(ref.source.atom(ref.column))
                elif ref.kind == "row" and ref.source in info.sources:
                    atoms |= ref.source.atoms()
        return atoms

    def closure(self, info: SelectInfo, start: set[Atom]) -> set[Atom]:
        result = set(start)
        changed = True
        while changed:
            changed = False
            for lhs, rhs in info.fds:
                if lhs <= result and not rhs <= result:
                    result |= rhs
                    changed = True
        return result

    def start_atoms(self, info: SelectInfo, keys: list[exp.Expression]) -> set[Atom]:
        atoms: set[Atom] = set()
        memo = self._atoms_memo
        for key in keys:
            if memo is None:
                atoms |= self._key_atoms(key, info)
                continue
            found = memo.get((id(key), -id(info)))
            if found is None:
                found = memo[(id(key), -id(info))] = self._key_atoms(key, info)
            atoms |= found
        return atoms

    def _key_atoms(self, key: exp.Expression, info: SelectInfo) -> set[Atom]:
        key = self.unalias(key)
        atom = self.atom_of(key, info)
        return {("e", self.canon(key))} if atom is None else {("e", self.canon(key)), atom}

    def keyed(self, source: Source, closure: set[Atom]) -> bool:
        for key in source.shape.keys:
            if all(source.atom(k) in closure for k in key):
                return True
        if not source.shape.known:
            return False
        memo = self._atoms_memo
        if memo is None:
            return source.atoms() <= closure
        atoms = memo.get((id(source), 0))
        if atoms is None:
            atoms = memo[(id(source), 0)] = source.atoms()
        return atoms <= closure

    def row_determined(self, expression, info: SelectInfo, closure: set[Atom]) -> bool:
        if ("e", self.canon(expression)) in closure:
            return True
        for atom in self.column_atoms(expression, info):
            if atom in closure:
                continue
            owner = next((s for s in info.sources if s.uid == atom[1]), None)
            if owner is None or not self.keyed(owner, closure):
                return False
        return True

    def _unresolved(self, expressions: list[exp.Expression]) -> bool:
        if not self.refs.unknown:
            return False
        for expression in expressions:
            for column in expression.find_all(exp.Column):
                ref = self.refs.get(id(column))
                if ref is not None and ref.kind == "unknown":
                    return True
        return False

    def whole_rows(self, info: SelectInfo) -> list[exp.Expression]:
        """Every column of every source, as expressions (for outputs we could not expand)."""
        columns = []
        for source in info.visible_sources:
            for column in source.shape.columns or ():
                node = exp.column(column.name, table=source.name)
                self.refs[id(node)] = Ref("column", source, column.name.lower())
                columns.append(node)
        return columns

    def relevant_outputs(self, info: SelectInfo) -> list[exp.Expression]:
        """What a select emits, for deciding whether tied rows can be told apart."""
        outputs = [o.expression for o in info.outputs if o.expression is not None]
        if len(outputs) < len(info.outputs):
            outputs.extend(self.whole_rows(info))
        return outputs

    def undetermined(
        self,
        info: SelectInfo,
        keys: list[exp.Expression],
        relevant: list[exp.Expression],
        grouped: bool,
    ) -> list[exp.Expression]:
        """The relevant expressions that rows tied on `keys` may still disagree on.

        Nothing is reported when a column in them did not resolve: binding reports that.
        """
        return list(self._gaps(info, keys, relevant, grouped))

    def _gaps(
        self,
        info: SelectInfo,
        keys: list[exp.Expression],
        relevant: list[exp.Expression],
        grouped: bool,
    ) -> Iterator[exp.Expression]:
        """`undetermined`, lazily: the key search needs only whether there is a first one."""
        if self._unresolved(keys) or self._unresolved(relevant):
            return
        closure = self.closure(info, self.start_atoms(info, keys))
        if grouped:
            if not info.group:
                return  # an aggregate without GROUP BY is one row
            if all(self.row_determined(g, info, closure) for g in info.group):
                return
            yield from (
                e
                for e in relevant
                if ("e", self.canon(e)) not in closure
                and (self._has_aggregate(e) or not self.row_determined(e, info, closure))
            )
            return
        yield from (e for e in relevant if not self.row_determined(e, info, closure))

    def output_keys(self, info: SelectInfo) -> list[frozenset[str]]:
        """The sets of output columns (lowercase) that identify a row of `info`'s result.

        The top select's keys are not searched while analysing (nothing reads them there);
        the grain gate asks for them here, once, after the dry run.
        """
        if any(o.expression is None for o in info.outputs):
            return []
        return self._output_keys(info, _dedupe_names([Col(o.name, o.data_type) for o in info.outputs]))

    def _output_keys(self, info: SelectInfo, columns: list[Col]) -> list[frozenset[str]]:
        saved = self._canon_memo, self._atoms_memo
        self._canon_memo, self._atoms_memo = {}, {}
        try:
            return self._search_output_keys(info, columns)
        finally:
            self._canon_memo, self._atoms_memo = saved

    def _search_output_keys(self, info: SelectInfo, columns: list[Col]) -> list[frozenset[str]]:
        names = [c.name.lower() for c in columns]
        outputs = [o for o in info.outputs if o.expression is not None]
        limit = info.node.args.get("limit")
        if info.aggregated and not info.group:
            return [frozenset()]  # one row
        if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) and limit.expression.this == "1":
            return [frozenset()]
        grouped = info.aggregated
        keys: list[frozenset[str]] = []

        def pins(subset: list[Output]) -> bool:
            expressions = [o.expression for o in subset]
            everything = [o.expression for o in outputs]
            return next(self._gaps(info, expressions, everything, grouped), None) is None

        if outputs and len(outputs) == len(names) and pins(outputs):
            for order in (outputs, list(reversed(outputs))):
                current = list(outputs)
                for output in order:
                    trial = [o for o in current if o is not output]
                    if trial and pins(trial):
                        current = trial
                keys.append(frozenset(names[info.outputs.index(o)] for o in current))
        distinct = info.node.args.get("distinct")
        if isinstance(distinct, exp.Distinct) and distinct.args.get("on") is None:
            keys.append(frozenset(names))
        keys.extend(self._row_number_keys(info, names))
        return list(dict.fromkeys(keys))

    def _row_number_keys(self, info: SelectInfo, names: list[str]) -> list[frozenset[str]]:
        """row_number() is unique within its partition; `qualify row_number() ... = 1`
        leaves one row per partition."""
        by_canon = {self.canon(o.expression): names[i] for i, o in enumerate(info.outputs) if o.expression is not None}

        def partition_names(window: exp.Window) -> list[str] | None:
            partition = window.args.get("partition_by") or []
            found = [by_canon.get(self.canon(self.unalias(p))) for p in partition]
            return None if None in found else found

        keys = []
        for index, output in enumerate(info.outputs):
            window = output.expression
            if isinstance(window, exp.Window) and isinstance(window.this, exp.RowNumber):
                partition = partition_names(window)
                if partition is not None:
                    keys.append(frozenset([*partition, names[index]]))
        qualify = info.node.args.get("qualify")
        condition = qualify.this if qualify is not None else None
        if isinstance(condition, (exp.EQ, exp.LTE)):
            sides = [self.unalias(condition.this), self.unalias(condition.expression)]
            one = [s for s in sides if isinstance(s, exp.Literal) and s.this == "1"]
            window = next((s for s in sides if isinstance(s, exp.Window)), None)
            if one and window is not None and isinstance(window.this, exp.RowNumber):
                partition = partition_names(window)
                if partition is not None:
                    keys.append(frozenset(partition))
        return keys


def analyze(ctx: GateContext) -> Analysis:
    """Resolve every name in `ctx.tree`; problems are binding problems.

    Computed once per proposal: the analysis is kept on the context with the tree, the
    templated SQL and the resolved relations it was built from, and reused while they are
    the same objects (binding and determinism both read it; neither changes it).
    """
    basis = (ctx.tree, ctx.templated, ctx.catalog, *ctx.relations, *ctx.relations.values())
    cached = ctx.analysis_of
    if ctx.analysis is not None and len(cached) == len(basis) and all(map(_same, cached, basis)):
        return ctx.analysis
    analysis = _analyze(ctx)
    ctx.analysis, ctx.analysis_of = analysis, basis
    return analysis


def _same(kept: object, now: object) -> bool:
    """Identity for objects, equality for the placeholder names (strings)."""
    return kept == now if isinstance(now, str) else kept is now


def _analyze(ctx: GateContext) -> Analysis:
    analysis = Analysis(ctx)
    if ctx.tree is not None:
        analysis.top = analysis.query(ctx.tree, {}, None, top=True)
        if not analysis.top_outputs and analysis.top.known:  # VALUES: no select list
            analysis.top_outputs = [
                Output(c.name, exp.column(c.name), exp.column(c.name), c.data_type) for c in analysis.top.columns
            ]
    return analysis

"""The types name resolution and key search share: shapes, sources, references, selects.

A *shape* is what a relation-like thing provides (its columns, when known, and its
determinism keys); a *source* is one FROM item under the name columns use for it; a *ref*
is what one column reference resolved to; a *select info* is what one SELECT binds and
what determinism needs to know about it. `generator.sql.scope` builds them,
`generator.sql.keys` reasons over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import ParseError

from generator.project.catalog import Relation
from generator.sql.locate import DIALECT

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
class Finding:
    """One name-resolution problem, located in the templated SQL (the gate names the rule)."""

    message: str
    span: tuple[int, int] | None
    identifier: str | None = None
    suggestion: str | None = None


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
    # The select whose rows these are (a CTE's or a subquery's; its outputs in column order),
    # so `generator.sql.dependencies` can ask it what its columns depend on.
    origin: SelectInfo | None = field(default=None, compare=False, repr=False)

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


class RefTable(dict):
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
    """A set operation (or parenthesized query with ORDER BY) and its output names."""

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
def parse_type(text: str) -> exp.DataType | None:
    """A DuckDB type name parsed by sqlglot (cached: the same few recur), or None."""
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
        parsed = parse_type(current)
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
    """A catalog relation as a shape: its typed columns; its primary key and unique columns as keys."""
    keys = []
    if relation.primary_key:
        keys.append(frozenset(k.lower() for k in relation.primary_key))
    keys.extend(frozenset({c.name.lower()}) for c in relation.columns if c.unique)
    return Shape(
        columns=[Col(c.name, c.data_type) for c in relation.columns] if relation.columns else None,
        keys=list(dict.fromkeys(keys)),
        label=relation.display,
    )


def rename_shape(shape: Shape, names: list[str], label: str | None = None) -> Shape:
    """Apply an alias column list `t(a, b)`: it renames the first columns."""
    label = label or shape.label
    if not names or shape.columns is None:
        return Shape(shape.columns, list(shape.keys), label, shape.origin)
    renamed = list(shape.columns)
    mapping = {}
    for index, name in enumerate(names[: len(renamed)]):
        mapping[renamed[index].name.lower()] = name.lower()
        renamed[index] = Col(name, renamed[index].data_type)
    keys = [frozenset(mapping.get(k, k) for k in key) for key in shape.keys]
    return Shape(renamed, keys, label, shape.origin)


def dedupe_names(columns: list[Col]) -> list[Col]:
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


def in_window(node: exp.Expression) -> bool:
    """Whether a function call is the body of a window (`sum(x) over (...)`)."""
    parent = node.parent
    while isinstance(parent, (exp.IgnoreNulls, exp.RespectNulls, exp.Filter)):
        parent = parent.parent
    return isinstance(parent, exp.Window)


def lambda_params(node: exp.Expression) -> set[str]:
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


def conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    """The AND-ed parts of a condition, parentheses removed."""
    if node is None:
        return []
    if isinstance(node, exp.Paren):
        return conjuncts(node.this)
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    return [node]

"""What a set of columns determines, followed into CTEs, subqueries and upstream models.

`KeySearch.closure` (`sql/keys.py`) follows one select's own functional dependencies: join
and filter equalities, and the unique keys its sources declare. A source whose rows come
from a select (a CTE, a subquery) or from an upstream *model* says more: given some of its
columns, its own SQL may pin others down (`plan_id` pins `plan_tier` when the model joins
plans on their unique `plan_id`). `Dependencies` asks those selects, recursively, and adds
what they answer to the closure.

An upstream model is analysed from its file, as the gates analyse a proposal: ref() and
source() swapped for placeholders, parsed in the catalog's dialect, names resolved against
the same catalog. Its `{{ config(...) }}` calls and `{# comments #}` render to nothing and
are blanked first. A model with any other Jinja, that does not parse, does not resolve, or
reads itself through others adds nothing: no dependency is ever assumed, and nothing here
raises. All of it is lazy (only the grain check asks) and remembered per analysis.

A lossless cast is an equality too: `cast(month_start as date)` pins `month_start` when the
cast cannot merge two values (`lossless_inner`).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable

import sqlglot
from sqlglot import exp

from generator.project.catalog import Relation
from generator.proposal import Proposal
from generator.sql.context import GateContext
from generator.sql.scope import Analysis, analyze
from generator.sql.shapes import Atom, SelectInfo, Source, parse_type
from generator.sql.templating import jinja_spans, untemplate

T = exp.DataType.Type

# Date parts at least a day long: truncating to them leaves midnight, which a cast to date keeps.
DAY_UNITS = frozenset(
    {"day", "days", "week", "weeks", "month", "months", "quarter", "quarters", "year", "years"}
    | {"decade", "century", "millennium", "isoyear"}
)

_INTEGERS = (T.TINYINT, T.SMALLINT, T.INT, T.BIGINT)
_UNSIGNED = (T.UTINYINT, T.USMALLINT, T.UINT)

# A cast to the key type cannot merge values of these source types (the type itself always
# qualifies): integers widen, floats widen, a date becomes midnight. A cast to DATE keeps
# any value that is already a whole day (`Dependencies.day_granular`, `DAY_GRANULAR`).
WIDENS_FROM: dict[exp.DataType.Type, frozenset[exp.DataType.Type]] = {
    T.SMALLINT: frozenset({T.TINYINT, T.UTINYINT}),
    T.INT: frozenset({*_INTEGERS[:2], *_UNSIGNED[:2]}),
    T.BIGINT: frozenset({*_INTEGERS[:3], *_UNSIGNED}),
    T.INT128: frozenset({*_INTEGERS, *_UNSIGNED, T.UBIGINT}),
    T.DOUBLE: frozenset({T.FLOAT, *_INTEGERS[:3], *_UNSIGNED}),
    T.TIMESTAMP: frozenset({T.DATE}),
    T.TIMESTAMPNTZ: frozenset({T.DATE}),
}

# Functions that give a new value on every call: never determined by anything.
VOLATILE = frozenset({"random", "uuid", "gen_random_uuid", "uuidv4", "uuidv7", "nextval"})

_MEMO: weakref.WeakKeyDictionary[Analysis, Dependencies] = weakref.WeakKeyDictionary()


def dependencies(analysis: Analysis) -> Dependencies:
    """The dependency search over `analysis`, made once and kept while the analysis lives."""
    found = _MEMO.get(analysis)
    if found is None:
        found = _MEMO[analysis] = Dependencies(analysis)
    return found


# `{{ config(...) }}` renders to nothing, and so does a `{# comment #}`: a model that has only
# these beside ref()/source() compiles to its text with them blanked out.
_CONFIG_CALL = re.compile(r"^\{\{-?\s*config\s*\(.*\)\s*-?\}\}$", re.DOTALL)


def without_config(sql: str) -> str:
    """`sql` with every `{{ config(...) }}` call and `{# comment #}` blanked (same length, same
    lines), so the positions of everything else stay put."""
    pieces, last = [], 0
    for start, end in jinja_spans(sql):
        text = sql[start:end]
        if text.startswith("{#") or _CONFIG_CALL.match(text):
            pieces.append(sql[last:start])
            pieces.append("".join("\n" if char == "\n" else " " for char in text))
            last = end
    pieces.append(sql[last:])
    return "".join(pieces)


class Dependencies:
    """The extended closure: a select's own FDs plus what its sources' selects determine."""

    def __init__(self, analysis: Analysis):
        # The catalog, not the analysis: the memo above holds this object weakly by the
        # analysis, and a reference back would keep both alive forever.
        self.catalog = analysis.ctx.catalog
        # relation unique_id -> its model's (analysis, top select), or None: nothing known
        # (also while it is being analysed, so a model that reads itself adds nothing).
        self._models: dict[str, tuple[Analysis, SelectInfo] | None] = {}
        self._closures: dict[tuple[int, frozenset], set[Atom]] = {}
        self._columns: dict[tuple[int, frozenset], frozenset[str]] = {}

    # -- the closure ------------------------------------------------------------------------

    def key_atoms(self, analysis: Analysis, info: SelectInfo, keys: list[exp.Expression]) -> set[Atom]:
        """The atoms rows tied on `keys` agree on, with the inside of every lossless cast."""
        atoms: set[Atom] = set()
        for key in keys:
            while key is not None:
                atoms |= analysis.start_atoms(info, [key])
                key = self.lossless_inner(analysis, key)
        return atoms

    def closure(self, analysis: Analysis, info: SelectInfo, start: set[Atom]) -> set[Atom]:
        """The atoms `start` determines in `info`: its FDs, and its sources' selects asked in turn."""
        memo_key = (id(info), frozenset(start))
        found = self._closures.get(memo_key)
        if found is not None:
            return found
        result = analysis.closure(info, set(start))
        while True:
            added: set[Atom] = set()
            for source in info.sources:
                have = frozenset(atom[2] for atom in result if atom[0] == "c" and atom[1] == source.uid)
                if not have or analysis.keyed(source, result):
                    continue  # nothing to start from, or the whole row is pinned already
                added |= {source.atom(c) for c in self.source_columns(analysis, source, have)} - result
            if not added:
                break
            result = analysis.closure(info, result | added)
        self._closures[memo_key] = result
        return result

    def determined(self, analysis: Analysis, info: SelectInfo, expression: exp.Expression, closure: set[Atom]) -> bool:
        """Whether rows of `info` agreeing on `closure` agree on `expression`.

        A window, a volatile function, or a column of an enclosing query (a correlated
        subquery's) is never determined here: the select's own rows do not fix them.
        """
        if ("e", analysis.canon(expression)) in closure:
            return True
        for node in expression.walk():
            if isinstance(node, exp.Window) or _volatile(node):
                return False
            if isinstance(node, exp.Column):
                ref = analysis.refs.get(id(node))
                if ref is not None and ref.kind == "outer" and ref.source not in info.sources:
                    return False
        return analysis.row_determined(expression, info, closure)

    # -- what a source's own select says ------------------------------------------------------

    def source_columns(self, analysis: Analysis, source: Source, have: frozenset[str]) -> frozenset[str]:
        """The columns of `source` that its columns `have` determine, by the select behind it."""
        memo_key = (id(source), have)
        found = self._columns.get(memo_key)
        if found is None:
            # Nothing while it is being answered: a model that reads itself (through others)
            # asks the same question again, and must get an answer, not a loop.
            self._columns[memo_key] = frozenset()
            found = self._columns[memo_key] = self._source_columns(analysis, source, have)
        return found

    def _source_columns(self, analysis: Analysis, source: Source, have: frozenset[str]) -> frozenset[str]:
        shape = source.shape
        if shape.origin is not None and shape.columns is not None:
            if len(shape.columns) != len(shape.origin.outputs):
                return frozenset()
            names = [c.name.lower() for c in shape.columns]
            return self._outputs_determined(analysis, shape.origin, names, have)
        model = self.model(source.relation) if source.relation is not None else None
        if model is None:
            return frozenset()
        inner_analysis, top = model
        names = [o.name.lower() for o in top.outputs]
        if len(set(names)) != len(names):
            return frozenset()  # DuckDB renames repeated names; which is which is a guess
        return self._outputs_determined(inner_analysis, top, names, have) & {n.lower() for n in shape.names()}

    def _outputs_determined(
        self, analysis: Analysis, info: SelectInfo, names: list[str], have: frozenset[str]
    ) -> frozenset[str]:
        """The output names of `info` fixed by its outputs named in `have`."""
        group = info.node.args.get("group")
        subtotals = group is not None and any(group.args.get(k) for k in ("grouping_sets", "cube", "rollup"))
        if subtotals or any(o.expression is None for o in info.outputs):
            # ROLLUP and friends add subtotal rows: their nulls break every dependency.
            return frozenset()
        keys = [o.expression for name, o in zip(names, info.outputs, strict=True) if name in have]
        closure = self.closure(analysis, info, self.key_atoms(analysis, info, keys))
        if info.aggregated:
            # One output row per group: the group keys pinned, every output is.
            if all(self.determined(analysis, info, g, closure) for g in info.group or ()):
                return frozenset(names)
            return frozenset(
                name
                for name, o in zip(names, info.outputs, strict=True)
                if not analysis.has_aggregate(o.expression) and self.determined(analysis, info, o.expression, closure)
            )
        return frozenset(
            name
            for name, o in zip(names, info.outputs, strict=True)
            if self.determined(analysis, info, o.expression, closure)
        )

    def model(self, relation: Relation) -> tuple[Analysis, SelectInfo] | None:
        """An upstream model's analysis and top select, from its SQL file; None when not known."""
        key = relation.unique_id
        if key in self._models:
            return self._models[key]
        self._models[key] = None  # while analysing: a cycle finds nothing
        self._models[key] = self._analyse_model(relation)
        return self._models[key]

    def _analyse_model(self, relation: Relation) -> tuple[Analysis, SelectInfo] | None:
        catalog = self.catalog
        path = relation.original_file_path
        if relation.resource_type != "model" or not path or not path.endswith(".sql"):
            return None
        try:
            sql = without_config((catalog.project_dir / path).read_text(encoding="utf-8"))
            templated, problems = untemplate(sql)
            if problems:
                return None  # other Jinja: what the SQL is depends on dbt
            proposal = Proposal(name=relation.name, layer="", description="", grain=(), sql=sql, columns=())
            ctx = GateContext(proposal=proposal, catalog=catalog, templated=templated)
            tree = ctx.tree = sqlglot.parse_one(templated.sql, read=ctx.dialect.sqlglot)
            analysis = analyze(ctx)
        except Exception:  # unreadable, unparsable or unanalysable: nothing is known, never an error
            return None
        if analysis.findings:
            return None
        while isinstance(tree, exp.Subquery):
            tree = tree.unnest()
        top = next((i for i in analysis.selects if i.node is tree), None)
        if top is None:
            return None
        return analysis, top

    # -- lossless casts ----------------------------------------------------------------------------

    def lossless_inner(self, analysis: Analysis, node: exp.Expression) -> exp.Expression | None:
        """`x` when `node` is `cast(x as T)` and the cast cannot give two values of x one value."""
        node = analysis.unalias(node)
        while isinstance(node, exp.Paren):
            node = node.this
        if not isinstance(node, exp.Cast) or not isinstance(node.args.get("to"), exp.DataType):
            return None
        target, inner = node.args["to"], node.this
        source_type = self.type_of(analysis, inner)
        if source_type is not None and source_type == target:
            return inner
        if target.this == T.DATE:
            return inner if self.day_granular(analysis, inner) else None
        widening = WIDENS_FROM.get(target.this, frozenset())
        return inner if source_type is not None and source_type.this in widening else None

    def type_of(self, analysis: Analysis, node: exp.Expression) -> exp.DataType | None:
        """The type of a column or cast, when the analysis knows it."""
        node = analysis.unalias(node)
        if isinstance(node, exp.Cast) and isinstance(node.args.get("to"), exp.DataType):
            return node.args["to"]
        ref = analysis.refs.get(id(node)) if isinstance(node, exp.Column) else None
        if ref is None or ref.kind != "column" or ref.path or ref.data_type is None:
            return None
        return parse_type(ref.data_type)

    def day_granular(self, analysis: Analysis, node: exp.Expression) -> bool:
        """Whether every value of `node` is a whole day (a date, or midnight)."""
        node = analysis.unalias(node)
        while isinstance(node, exp.Paren):
            node = node.this
        check = DAY_GRANULAR.get(type(node))
        return check is not None and check(self, analysis, node)

    def _column_day_granular(self, analysis: Analysis, node: exp.Column) -> bool:
        data_type = self.type_of(analysis, node)
        if data_type is not None and data_type.this == T.DATE:
            return True
        ref = analysis.refs.get(id(node))
        if ref is None or ref.kind != "column" or ref.path or ref.source is None:
            return False
        shape = ref.source.shape
        if shape.origin is None or shape.columns is None or len(shape.columns) != len(shape.origin.outputs):
            return False
        index = next((i for i, c in enumerate(shape.columns) if c.name.lower() == ref.column), None)
        expression = shape.origin.outputs[index].expression if index is not None else None
        return expression is not None and self.day_granular(analysis, expression)

    def _series_day_granular(self, analysis: Analysis, node: exp.Expression) -> bool:
        series = node.this if isinstance(node, exp.Explode) else (node.expressions or [None])[0]
        if not isinstance(series, exp.GenerateSeries):
            return False
        step = series.args.get("step")
        return (
            isinstance(step, exp.Interval)
            and _unit(step) in DAY_UNITS
            and all(self.day_granular(analysis, series.args.get(k)) for k in ("start", "end") if series.args.get(k))
        )


def _unit(node: exp.Expression) -> str:
    """The unit of a truncation or an interval, lowercase; for `interval '1 month'`, the unit
    of a text that is one count and one unit (nothing else: '1 day 2 hours' is not days)."""
    unit = node.args.get("unit")
    if unit is not None:
        return unit.name.lower()
    words = node.this.name.split() if isinstance(node.this, exp.Literal) else []
    return words[1].lower() if len(words) == 2 else ""


def _volatile(node: exp.Expression) -> bool:
    if isinstance(node, exp.Rand):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in VOLATILE


# How to tell that an expression's values are whole days, by the kind of node it is.
DAY_GRANULAR: dict[type, Callable[[Dependencies, Analysis, exp.Expression], bool]] = {
    exp.Cast: lambda deps, analysis, node: node.args["to"].this == T.DATE,
    exp.TryCast: lambda deps, analysis, node: node.args["to"].this == T.DATE,
    exp.DateTrunc: lambda deps, analysis, node: _unit(node) in DAY_UNITS,
    exp.TimestampTrunc: lambda deps, analysis, node: _unit(node) in DAY_UNITS,
    exp.CurrentDate: lambda deps, analysis, node: True,
    exp.Coalesce: lambda deps, analysis, node: all(
        deps.day_granular(analysis, part) for part in [node.this, *node.expressions]
    ),
    exp.Column: Dependencies._column_day_granular,
    exp.Explode: Dependencies._series_day_granular,
    exp.Unnest: Dependencies._series_day_granular,
}

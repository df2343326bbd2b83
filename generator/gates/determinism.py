"""determinism: same data, same rows: no clocks, randomness, samples or arbitrarily broken ties."""

from __future__ import annotations

import re

from sqlglot import exp

from generator.dialects import CLOCK, ENGINE, RANDOM, SEQUENCE, SESSION, UUID, VOLATILE
from generator.dialects.duckdb import (
    ORDER_SENSITIVE_AGGREGATES,
    STABILITY_EXCEPTIONS,
    depends_on_time_zone,
    duckdb_function_stability,
    run_dependence,
)
from generator.errors import Problem
from generator.gates.base import Rule
from generator.sql.context import GateContext
from generator.sql.locate import display_sql, function_name, span
from generator.sql.scope import Analysis, SelectInfo, analyze

RULE = "determinism"

_TIMESTAMPTZ_TYPES = frozenset({exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ})
# Window functions that tell tied rows apart (the row gets a value others tied with it do not).
_ROW_POSITIONAL = (exp.RowNumber, exp.Lag, exp.Lead, exp.Ntile)
# Window functions that read one row of the frame: only that row's value matters.
_FRAME_VALUE = (exp.FirstValue, exp.LastValue, exp.NthValue)


def _date_hint(ctx: GateContext) -> str:
    for relation in ctx.relations.values():
        for column in relation.columns:
            if (column.data_type or "").lower().startswith(("date", "timestamp")):
                return f"Use a date from the data instead, e.g. (select max({column.name}) from {relation.jinja()})."
    return "Use a date from the data instead (e.g. the max of a date column)."


_ADVICE: dict[str, tuple[str, str | None]] = {
    # kind: (why, what to do); None: the clock's advice, which names a date column
    CLOCK: ("reads the clock, so every run gives different rows", None),
    UUID: (
        "returns a new value on every run",
        "Build the key from the row's key columns, e.g. md5(concat_ws('|', ...)).",
    ),
    SEQUENCE: (
        "returns a new value on every run",
        "Number rows with row_number() over (order by <unique key>).",
    ),
    RANDOM: (
        "returns different values on every run",
        "Sample or shuffle with a hash of a key instead, e.g. hash(id) % 100 < 10.",
    ),
    SESSION: (
        "reads the session, connection or transaction running the query, not the data, so it differs between runs",
        "Remove it, or take the value from a column of the inputs (or write it as a literal).",
    ),
    ENGINE: (
        "returns the {engine} version, which changes when {engine} is upgraded",
        "Remove it: a model's rows should come from its inputs alone.",
    ),
    VOLATILE: (
        "is VOLATILE in {engine}: it may return a different value on every call",
        "Remove it: a model's rows should come from its inputs alone.",
    ),
}


def _function_advice(kind: str, ctx: GateContext) -> tuple[str, str]:
    reason, advice = _ADVICE[kind]
    return reason.format(engine=ctx.dialect.engine), advice if advice is not None else _date_hint(ctx)


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, (exp.IgnoreNulls, exp.RespectNulls)):
        node = node.this
    return node


def _outer(node: exp.Expression) -> exp.Expression:
    """The node with IGNORE NULLS / FILTER / WITHIN GROUP wrappers around it."""
    while isinstance(node.parent, (exp.IgnoreNulls, exp.RespectNulls, exp.Filter, exp.WithinGroup)):
        node = node.parent
    return node


class _Checker:
    def __init__(self, ctx: GateContext, analysis: Analysis):
        self.ctx = ctx
        self.analysis = analysis
        self.sql = ctx.templated.sql
        self.dialect = ctx.dialect.sqlglot
        self.rules = ctx.dialect.determinism
        self.problems: list[Problem] = []

    def report(self, message: str, node, identifier: str | None, suggestion: str | None) -> None:
        problem = self.ctx.problem(
            RULE,
            message,
            None,
            identifier=identifier,
            suggestion=suggestion,
            span=span(node, self.sql, self.dialect),
        )
        if problem not in self.problems:
            self.problems.append(problem)

    def show(self, node: exp.Expression) -> str:
        return display_sql(node, self.ctx.templated, self.dialect)

    def keys_text(self, keys: list[exp.Expression]) -> str:
        return ", ".join(self.show(k) for k in keys)

    # -- functions and samples ----------------------------------------------------------------

    def functions(self, tree: exp.Expression) -> None:
        for node in tree.walk(bfs=False):
            if isinstance(node, exp.TableSample):
                self.report(
                    "USING SAMPLE / TABLESAMPLE picks different rows on each run",
                    node,
                    "using sample",
                    "Filter with a hash of a key instead, e.g. where hash(id) % 100 < 10.",
                )
                continue
            if not isinstance(node, (exp.Func, exp.Anonymous)):
                continue
            duck = self.called(node)
            if duck is None:
                continue
            name = function_name(node, self.sql, self.dialect)
            arguments = self._call_arguments(node)
            kind = self.rules.run_dependence(duck)
            if kind is None and duck in self.rules.one_argument_clocks and len(arguments) == 1:
                kind = CLOCK
            # timezone(zone, ts) converts with the zone it is given; with one argument it is
            # the session zone's offset.
            converts = duck == "timezone" and len(arguments) == 2
            if kind is None and self.rules.depends_on_time_zone(duck) and not converts:
                if self.pinned_time_zone():
                    continue  # every session dbt opens for this target uses the same zone
                zoned = next((a for a in arguments if self._is_timestamptz(a)), None)
                if zoned is not None:
                    self.time_zone(node, name, zoned)
                continue
            if kind is None:
                continue
            reason, advice = _function_advice(kind, self.ctx)
            self.report(f"{self.written(node, name)} {reason}", node, name, advice)

    def called(self, node: exp.Expression) -> str | None:
        """The engine's function a call names; None for syntax that is no call by name.

        sqlglot models casts, CASE and AT TIME ZONE as functions too; their position is
        borrowed from a token around them (the enclosing call's name, a column), which
        must not be taken for a function they call.
        """
        if isinstance(node, exp.Anonymous):
            return node.name.lower()
        keyword = self.rules.name_of_class.get(type(node))
        where = span(node, self.sql, self.dialect)
        if where is None:
            return keyword
        ancestor = node.find_ancestor(exp.Func)
        if ancestor is not None and span(ancestor, self.sql, self.dialect) == where:
            return None
        written = self.sql[where[0] : where[1] + 1].lower()
        if re.fullmatch(r"[a-z_][a-z0-9_]*", written) and self.sql[where[1] + 1 :].lstrip()[:1] == "(":
            if self.rules.known(written):
                return written
        return keyword

    def written(self, node: exp.Expression, name: str) -> str:
        """The call as the proposal spells it: `now()`, `current_date`."""
        where = span(node, self.sql, self.dialect)
        if where is None:
            return name
        shown = self.ctx.sql[where[0] : where[1] + 1]
        if self.sql[where[1] + 1 :].lstrip()[:1] == "(":
            shown += "()"
        return shown

    @staticmethod
    def _call_arguments(node: exp.Expression) -> list[exp.Expression]:
        """The call's arguments (sqlglot keeps some as named args, e.g. date_trunc's unit)."""
        values: list[exp.Expression] = []
        for value in node.args.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, exp.Expression):
                    values.append(item)
        return values

    def _is_timestamptz(self, node: exp.Expression) -> bool:
        """True when `node` is known to be a timestamptz: such a column, cast or sum."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, (exp.Cast, exp.TryCast)):
            return node.to.this in _TIMESTAMPTZ_TYPES
        if isinstance(node, (exp.Add, exp.Sub)):
            return self._is_timestamptz(node.this) or self._is_timestamptz(node.expression)
        if isinstance(node, exp.Column):
            ref = self.analysis.refs.get(id(node))
            text = (ref.data_type or "").lower() if ref is not None else ""
            return text.startswith(self.rules.zoned_type_prefixes) and not text.startswith("timestamp_ntz")
        return False

    def pinned_time_zone(self) -> str | None:
        """The TimeZone the dbt profile sets for every session (`settings: TimeZone: UTC`), if any.

        With it pinned, a timestamptz's calendar fields are the same on every machine and
        every run of this target, which is all determinism asks.
        """
        settings = getattr(self.ctx.catalog, "session_settings", ()) or ()
        setting = self.rules.time_zone_setting
        return next((value for name, value in settings if name.lower() == setting and value), None)

    def time_zone(self, node: exp.Expression, name: str, zoned: exp.Expression) -> None:
        shown = self.show(zoned)
        fixed = (
            f"{shown} at time zone 'UTC'"
            if isinstance(zoned, (exp.Column, exp.Cast))
            else f"({shown}) at time zone 'UTC'"
        )
        self.report(
            f"{self.written(node, name)} of the timestamptz {shown} depends on the session's TimeZone setting "
            f"({self.rules.time_zone_reason}), so machines in other time zones get other rows",
            node,
            name,
            f"Fix the zone first: use {fixed} (a plain timestamp) in its place, or pin the zone for every "
            f"session in the dbt profile ({self.rules.time_zone_advice}).",
        )

    # -- ties -----------------------------------------------------------------------------------

    def suggestion(self, info: SelectInfo, keys, gaps, grouped: bool, where: str) -> str:
        analysis = self.analysis
        closure = analysis.closure(info, analysis.start_atoms(info, keys))
        if grouped and info.group:
            missing = [g for g in info.group if not analysis.row_determined(g, info, closure)]
            if missing:
                noun = "key" if len(missing) == 1 else "keys"
                return f"Add {self.keys_text(missing)} (the GROUP BY {noun}) to {where}."
        names, notes = self.missing_key(info, closure, gaps)
        if not names:
            return f"Order by every output column in {where} (order by all) to make it total."
        text = f"Add {', '.join(names)} to {where}"
        if notes:
            text += f" ({'; '.join(notes)})"
        return text + "."

    def missing_key(self, info: SelectInfo, closure, gaps) -> tuple[list[str], list[str]]:
        """Columns that would make the order total, and which unique keys they complete."""
        analysis = self.analysis
        qualify = len(info.visible_sources) > 1
        names: list[str] = []
        notes: list[str] = []
        for gap in gaps:
            for atom in sorted(analysis.column_atoms(gap, info)):
                if atom in closure:
                    continue
                owner = next((s for s in info.sources if s.uid == atom[1]), None)
                if owner is None or analysis.keyed(owner, closure):
                    continue
                prefix = f"{owner.name}." if qualify else ""
                declared = [self._ordered_key(owner, k) for k in owner.shape.keys if k]
                if declared:
                    key = min(declared, key=len)
                    for column in key:
                        if owner.atom(column) not in closure:
                            names.append(prefix + self._column_name(owner, column))
                    note = f"{', '.join(self._column_name(owner, c) for c in key)} is the unique key of {owner.label}"
                    if note not in notes:
                        notes.append(note)
                else:
                    names.append(prefix + self._column_name(owner, atom[2]))
        return list(dict.fromkeys(names)), notes

    @staticmethod
    def _ordered_key(source, key: frozenset[str]) -> list[str]:
        """A key's columns in the order the catalog declares them (its primary key order)."""
        relation = source.relation
        if relation is not None and {c.lower() for c in relation.primary_key} == set(key):
            return [c.lower() for c in relation.primary_key]
        return sorted(key)

    @staticmethod
    def _column_name(source, lowered: str) -> str:
        column = source.shape.column(lowered)
        return column.name if column else lowered

    def selects(self) -> None:
        for info in self.analysis.selects:
            self.limit(info)
            self.distinct_on(info)
            self.windows(info)
            self.aggregates(info)
        for setop in self.analysis.setops:
            self.setop_limit(setop)

    def limit(self, info: SelectInfo) -> None:
        node = info.node
        clause = node.args.get("limit") or node.args.get("offset")
        if clause is None or (info.aggregated and not info.group):
            return
        relevant = self.analysis.relevant_outputs(info)
        keys = info.order
        gaps = self.analysis.undetermined(info, keys, relevant, grouped=info.aggregated)
        if not gaps:
            return
        keyword = {"fetch": "FETCH", "offset": "OFFSET"}.get(clause.key, "LIMIT")
        if not keys:
            message = f"{keyword} without ORDER BY returns an arbitrary subset of the rows"
            where = "an ORDER BY"
        else:
            shown = self.keys_text([o.this for o in node.args["order"].expressions])
            message = (
                f"{keyword} after ORDER BY {shown} can return different rows on each run: "
                f"rows tied on {shown} come in any order"
            )
            where = "the ORDER BY"
        self.report(
            message,
            clause,
            keyword.lower(),
            self.suggestion(info, keys, gaps, info.aggregated, where),
        )

    def distinct_on(self, info: SelectInfo) -> None:
        distinct = info.node.args.get("distinct")
        if not isinstance(distinct, exp.Distinct) or distinct.args.get("on") is None:
            return
        on = distinct.args["on"]
        on_keys = list(on.expressions) if isinstance(on, exp.Tuple) else [on]
        keys = [self.analysis.unalias(k) for k in on_keys] + info.order
        relevant = self.analysis.relevant_outputs(info)
        gaps = self.analysis.undetermined(info, keys, relevant, grouped=info.aggregated)
        if gaps:
            shown = self.keys_text(on_keys)
            self.report(
                f"DISTINCT ON ({shown}) keeps an arbitrary row per {shown}: the ORDER BY does not make the order total",
                on_keys[0],
                "distinct on",
                self.suggestion(info, keys, gaps, info.aggregated, "the ORDER BY"),
            )

    def _window_parts(self, info: SelectInfo, window: exp.Window):
        named = None
        if window.args.get("alias") is not None:
            named = info.named_windows.get(window.args["alias"].name.lower())
        partition = window.args.get("partition_by") or (named.args.get("partition_by") if named else None) or []
        order = window.args.get("order") or (named.args.get("order") if named else None)
        spec = window.args.get("spec") or (named.args.get("spec") if named else None)
        return list(partition), order, spec

    @staticmethod
    def _arguments(function: exp.Expression) -> list[exp.Expression]:
        values = []
        for key, value in function.args.items():
            if key in ("separator", "order"):
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, exp.Order):
                    item = item.this
                if isinstance(item, exp.Distinct):
                    values.extend(item.expressions)
                elif isinstance(item, exp.Expression) and not isinstance(item, exp.Literal):
                    values.append(item)
        return values

    def windows(self, info: SelectInfo) -> None:
        analysis = self.analysis
        for window in info.windows:
            function = _unwrap(window.this)
            name = function_name(function, self.sql, self.dialect)
            partition, order, spec = self._window_parts(info, window)
            rows_frame = spec is not None and str(spec.args.get("kind") or "").lower() == "rows"
            outputs = self.analysis.relevant_outputs(info)
            if isinstance(function, _ROW_POSITIONAL):
                relevant = outputs + self._arguments(function)
            elif isinstance(function, _FRAME_VALUE) or name in self.rules.order_sensitive_aggregates:
                relevant = self._arguments(function) + (outputs if rows_frame else [])
            elif rows_frame and order is not None:
                relevant = outputs + self._arguments(function)
            else:
                continue
            order_keys = [o.this for o in order.expressions] if order is not None else []
            inner = [v for v in [function.this, *function.expressions] if isinstance(v, exp.Order)]
            inner_keys = [o.this for o in inner[0].expressions] if inner else []
            keys = [analysis.unalias(k) for k in partition + order_keys + inner_keys]
            gaps = analysis.undetermined(info, keys, relevant, grouped=info.aggregated)
            if not gaps:
                continue
            if not order_keys:
                message = f"{name}() without ORDER BY in its window depends on the order rows arrive in"
            else:
                tied = self.keys_text(partition + order_keys)
                message = f"{name}() over rows tied on ({tied}) is not deterministic: ties come in any order"
            self.report(
                message,
                function,
                name,
                self.suggestion(info, keys, gaps, info.aggregated, "the window's ORDER BY"),
            )

    def arg_extreme(self, info: SelectInfo, aggregate: exp.Expression, name: str) -> None:
        """arg_max(x, y): among rows tied on the largest y, which x comes back is arbitrary."""
        value, by = aggregate.this, aggregate.args.get("expression")
        if by is None:
            return
        keys = list(info.group or []) + [by]
        gaps = self.analysis.undetermined(info, keys, [value], grouped=False)
        if not gaps:
            return
        closure = self.analysis.closure(info, self.analysis.start_atoms(info, keys))
        names, _ = self.missing_key(info, closure, gaps)
        direction = " desc" if isinstance(aggregate, exp.ArgMax) else ""
        tie_break = ", ".join(f"{n}{direction}" for n in names) or "<unique key>"
        x, y = self.show(value), self.show(by)
        self.report(
            f"{name}({x}, {y}) picks arbitrarily among rows tied on {y}",
            aggregate,
            name,
            f"Break ties with a unique key: first({x} order by {y}{direction}, {tie_break}).",
        )

    def aggregates(self, info: SelectInfo) -> None:
        analysis = self.analysis
        for aggregate in info.aggregates:
            name = function_name(aggregate, self.sql, self.dialect)
            if isinstance(aggregate, (exp.ArgMax, exp.ArgMin)):
                self.arg_extreme(info, aggregate, name)
                continue
            if name not in self.rules.order_sensitive_aggregates:
                continue
            wrapper = _outer(aggregate)
            parent = wrapper.parent
            if isinstance(parent, exp.ArraySort) or (
                isinstance(parent, (exp.Func, exp.Anonymous))
                and function_name(parent, self.sql, self.dialect) in self.rules.sorts
            ):
                continue
            order = None
            for value in [aggregate.this, *aggregate.expressions]:
                if isinstance(value, exp.Order):
                    order = value
            if isinstance(wrapper, exp.WithinGroup) and isinstance(wrapper.expression, exp.Order):
                order = wrapper.expression
            order_keys = [o.this for o in order.expressions] if order is not None else []
            relevant = self._arguments(aggregate)
            keys = list(info.group or []) + order_keys
            gaps = analysis.undetermined(info, keys, relevant, grouped=False)
            if not gaps:
                continue
            shown = self.keys_text(relevant)
            if name in ("first", "last", "any_value", "arbitrary") and not order_keys:
                group = f" by the GROUP BY ({self.keys_text(info.group)})" if info.group else ""
                message = f"{name}({shown}) picks an arbitrary row's value: {shown} is not determined{group}"
                advice = self.rules.pick_advice.format(name=name, shown=shown)
            elif not order_keys:
                message = f"{name}() without ORDER BY collects values in an arbitrary order"
                separator = aggregate.args.get("separator")
                extra = f", {self.show(separator)}" if separator is not None else ""
                advice = self.rules.collect_advice.format(name=name, shown=shown, extra=extra)
            else:
                tied = self.keys_text(order_keys)
                message = f"{name}() over rows tied on ({tied}) collects them in an arbitrary order"
                advice = self.suggestion(info, keys, gaps, False, "the ORDER BY inside the call")
            self.report(message, aggregate, name, advice)

    def setop_limit(self, setop) -> None:
        node = setop.node
        clause = node.args.get("limit") or node.args.get("offset")
        if clause is None or not setop.names:
            return
        order = node.args.get("order")
        covered: set[str] = set()
        for ordered in order.expressions if order is not None else []:
            key = ordered.this
            if isinstance(key, exp.Var) and key.name.upper() == "ALL":
                covered.update(n.lower() for n in setop.names)
            elif isinstance(key, exp.Literal) and not key.is_string and key.this.isdigit():
                index = int(key.this) - 1
                if 0 <= index < len(setop.names):
                    covered.add(setop.names[index].lower())
            elif isinstance(key, exp.Column):
                covered.add(key.name.lower())
        missing = [n for n in setop.names if n.lower() not in covered]
        if missing:
            keyword = clause.key.upper() if clause.key != "fetch" else "FETCH"
            self.report(
                f"{keyword} on a {node.key} needs an ORDER BY over all its columns to pick the same rows",
                clause,
                keyword.lower(),
                f"Add {', '.join(missing)} to the ORDER BY (or order by all).",
            )


def nondeterminism_problems(ctx: GateContext) -> list[Problem]:
    """Everything that makes the proposal's result vary between runs (for warnings too)."""
    if ctx.tree is None or ctx.templated is None:
        return []
    analysis = analyze(ctx)
    checker = _Checker(ctx, analysis)
    checker.functions(ctx.tree)
    checker.selects()
    return sorted(checker.problems, key=lambda p: (p.line or 0, p.col or 0))


class DeterminismRule(Rule):
    """The same data gives the same rows: no clocks, randomness, samples, or arbitrary ties."""

    name = RULE
    requires = ("parse",)

    def check(self, ctx: GateContext) -> list[Problem]:
        if ctx.allow_nondeterministic:
            return []
        return nondeterminism_problems(ctx)


# DuckDB's classification, read by tests and benchmarks through this module.
__all__ = [
    "ORDER_SENSITIVE_AGGREGATES",
    "STABILITY_EXCEPTIONS",
    "DeterminismRule",
    "depends_on_time_zone",
    "duckdb_function_stability",
    "nondeterminism_problems",
    "run_dependence",
]

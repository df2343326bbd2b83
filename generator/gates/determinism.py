"""determinism: same data, same rows: no clocks, randomness, samples or arbitrarily broken ties."""

from __future__ import annotations

from sqlglot import exp

from generator.errors import Problem
from generator.gates.base import GateContext, Rule
from generator.gates.locate import display_sql, function_name, span
from generator.gates.scope import Analysis, SelectInfo, analyze

RULE = "determinism"

_CLOCK = "clock"
_RANDOM = "random"
_UUID = "uuid"
_SEQUENCE = "sequence"

NONDETERMINISTIC_FUNCTIONS: dict[str, str] = {
    "random": _RANDOM,
    "rand": _RANDOM,
    "setseed": _RANDOM,
    "reservoir_quantile": _RANDOM,  # quantile of a random sample of the rows
    "uuid": _UUID,
    "gen_random_uuid": _UUID,
    "uuidv4": _UUID,
    "uuidv7": _UUID,
    "nextval": _SEQUENCE,
    "currval": _SEQUENCE,
    "now": _CLOCK,
    "today": _CLOCK,
    "current_date": _CLOCK,
    "current_time": _CLOCK,
    "current_timestamp": _CLOCK,
    "current_localtime": _CLOCK,
    "current_localtimestamp": _CLOCK,
    "localtime": _CLOCK,
    "localtimestamp": _CLOCK,
    "get_current_time": _CLOCK,
    "get_current_timestamp": _CLOCK,
    "transaction_timestamp": _CLOCK,
    "statement_timestamp": _CLOCK,
}
_CLASSES: dict[type, str] = {
    exp.Rand: _RANDOM,
    exp.Randn: _RANDOM,
    exp.Uuid: _UUID,
    exp.CurrentDate: _CLOCK,
    exp.CurrentTime: _CLOCK,
    exp.CurrentTimestamp: _CLOCK,
    exp.CurrentDatetime: _CLOCK,
    exp.CurrentTimestampLTZ: _CLOCK,
    exp.Localtime: _CLOCK,
    exp.Localtimestamp: _CLOCK,
}

# Aggregates whose result depends on the order rows arrive in.
ORDER_SENSITIVE_AGGREGATES = frozenset(
    {
        "first",
        "last",
        "any_value",
        "arbitrary",
        "list",
        "array_agg",
        "string_agg",
        "group_concat",
        "listagg",
        "json_group_array",
        "json_group_object",
    }
)
# Sorting an aggregate's result makes the order it was built in irrelevant.
_SORTS = frozenset({"list_sort", "array_sort", "list_reverse_sort", "array_reverse_sort"})
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


def _function_advice(kind: str, ctx: GateContext) -> tuple[str, str]:
    if kind == _CLOCK:
        return "reads the clock, so every run gives different rows", _date_hint(ctx)
    if kind == _UUID:
        return (
            "returns a new value on every run",
            "Build the key from the row's key columns, e.g. md5(concat_ws('|', ...)).",
        )
    if kind == _SEQUENCE:
        return (
            "returns a new value on every run",
            "Number rows with row_number() over (order by <unique key>).",
        )
    return (
        "returns different values on every run",
        "Sample or shuffle with a hash of a key instead, e.g. hash(id) % 100 < 10.",
    )


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
        self.problems: list[Problem] = []

    def report(self, message: str, node, identifier: str | None, suggestion: str | None) -> None:
        problem = self.ctx.problem(
            RULE,
            message,
            None,
            identifier=identifier,
            suggestion=suggestion,
            span=span(node, self.sql),
        )
        if problem not in self.problems:
            self.problems.append(problem)

    def show(self, node: exp.Expression) -> str:
        return display_sql(node, self.ctx.templated)

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
            name = function_name(node, self.sql)
            kind = NONDETERMINISTIC_FUNCTIONS.get(name) or _CLASSES.get(type(node))
            if kind is None:
                continue
            reason, advice = _function_advice(kind, self.ctx)
            where = span(node, self.sql)
            shown = name
            if where is not None:
                shown = self.ctx.sql[where[0] : where[1] + 1]
                if self.sql[where[1] + 1 :].lstrip()[:1] == "(":
                    shown += "()"
            self.report(f"{shown} {reason}", node, name, advice)

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
            name = function_name(function, self.sql)
            partition, order, spec = self._window_parts(info, window)
            rows_frame = spec is not None and str(spec.args.get("kind") or "").lower() == "rows"
            outputs = self.analysis.relevant_outputs(info)
            if isinstance(function, _ROW_POSITIONAL):
                relevant = outputs + self._arguments(function)
            elif isinstance(function, _FRAME_VALUE) or name in ORDER_SENSITIVE_AGGREGATES:
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
            name = function_name(aggregate, self.sql)
            if isinstance(aggregate, (exp.ArgMax, exp.ArgMin)):
                self.arg_extreme(info, aggregate, name)
                continue
            if name not in ORDER_SENSITIVE_AGGREGATES:
                continue
            wrapper = _outer(aggregate)
            parent = wrapper.parent
            if isinstance(parent, exp.ArraySort) or (
                isinstance(parent, (exp.Func, exp.Anonymous)) and function_name(parent, self.sql) in _SORTS
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
                advice = (
                    f"Add {shown} to the GROUP BY, use min()/max(), or order the rows: "
                    f"{name}({shown} order by <unique key>)."
                )
            elif not order_keys:
                message = f"{name}() without ORDER BY collects values in an arbitrary order"
                separator = aggregate.args.get("separator")
                extra = f", {self.show(separator)}" if separator is not None else ""
                advice = f"Order inside the call, e.g. {name}({shown}{extra} order by {shown})."
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

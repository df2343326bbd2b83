"""Name resolution shared by the binding and determinism gates.

`analyze(ctx)` walks the proposal's tree once, the way DuckDB's binder does: FROM items
become sources with known columns and keys, every column reference is resolved (or
reported as unknown or ambiguous), stars are expanded, and every select remembers what
determinism needs (its sources, join equalities, group keys, windows, aggregates).

The work is split by job: the types live in `generator.sql.shapes`, resolving one
expression's names in `generator.sql.names`, keys and functional dependencies in
`generator.sql.keys`; this module walks queries, FROM items and clauses. What it finds
wrong is a list of `Finding`s: the binding gate turns them into its problems.
"""

from __future__ import annotations

import itertools

from sqlglot import exp

from generator.project.catalog import Relation
from generator.sql.context import GateContext, resolve_call
from generator.sql.keys import KeySearch
from generator.sql.locate import DIALECT, display_name, function_name, is_placeholder, span
from generator.sql.names import NameLookup
from generator.sql.shapes import (
    TABLE_FUNCTION_COLUMNS,
    Col,
    Env,
    Finding,
    Output,
    Ref,
    RefTable,
    SelectInfo,
    SetOpInfo,
    Shape,
    Source,
    dedupe_names,
    parse_type,
    relation_shape,
    rename_shape,
)

# PIVOT's columns come from the data; a model's columns must be fixed in the SQL.
PIVOT_ADVICE = (
    "Pivot with conditional aggregates so the columns are fixed, e.g. "
    "sum(amount) filter (where status = 'placed') as placed_amount."
)


class Analysis(NameLookup, KeySearch):
    """The result: what did not resolve (findings), every reference's resolution, every select's facts."""

    def __init__(self, ctx: GateContext):
        self.ctx = ctx
        self.sql = ctx.templated.sql if ctx.templated else ctx.sql
        super().__init__()
        self.findings: list[Finding] = []
        self.refs: RefTable = RefTable()
        self.selects: list[SelectInfo] = []
        self.setops: list[SetOpInfo] = []
        self.top: Shape | None = None  # the result's columns; keys are not searched for it
        self.top_outputs: list[Output] = []
        self._uids = itertools.count(1)
        self._alias_targets: dict[tuple[int, str], exp.Expression] = {}
        self._relations: dict[str, Relation] = dict(ctx.relations)
        if ctx.templated is not None:
            for call in ctx.templated.calls:
                if call.placeholder not in self._relations:
                    relation = resolve_call(ctx.catalog, call)
                    if relation is not None:
                        self._relations[call.placeholder] = relation

    # -- reporting --------------------------------------------------------------------

    def _problem(self, message, node=None, *, identifier=None, suggestion=None, at=None):
        finding = Finding(message, at or span(node, self.sql), identifier, suggestion)
        if finding not in self.findings:
            self.findings.append(finding)

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
                ctes[name.lower()] = rename_shape(Shape(base.columns, [], label), columns, label)
                self.query(body.expression, ctes, None, check_outputs=False)
                shape = Shape(base.columns, [], label)
            else:
                shape = self.query(body, ctes, None)
            ctes[name.lower()] = rename_shape(Shape(shape.columns, shape.keys, label, shape.origin), columns, label)
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
        return rename_shape(Shape(columns, [], "values"), names, "values")

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
        columns = dedupe_names([Col(o.name, o.data_type) for o in outputs])
        if any(o.expression is None for o in outputs):
            return Shape(None, [], "select")
        shape = Shape(columns, [], "select", origin=info)
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
                shape = rename_shape(Shape(columns, keys, f"{fname}()"), alias_columns)
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
            shape = rename_shape(shape, alias_columns)
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
            shape = rename_shape(Shape(inner.columns, inner.keys, label, inner.origin), alias_columns, label)
            name = alias or "unnamed_subquery"
        elif isinstance(item, exp.Lateral):
            inner = self.query(item.this, env.ctes, env) if isinstance(item.this, exp.Query) else Shape(None)
            label = f"lateral '{alias}'" if alias else "lateral"
            shape = rename_shape(Shape(inner.columns, inner.keys, label), alias_columns, label)
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
        parsed = parse_type(ref.data_type)
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
                    parsed = parse_type(data_type) if data_type else None
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
                if output.expression is not None and not self.has_aggregate(output.expression):
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

    # -- expressions -------------------------------------------------------------------------


def analyze(ctx: GateContext) -> Analysis:
    """Resolve every name in `ctx.tree`; its findings are what the binding gate reports.

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

"""Resolving column references: what each name in an expression stands for.

DuckDB's order: a lambda parameter, a select alias where one may be used, a column of a
visible FROM item (ambiguity reported), a whole row by table name, an outer query's
column. `NameLookup` is the half of `generator.sql.scope.Analysis` that does this for
one expression at a time; subqueries met on the way are handed back to the analysis.
"""

from __future__ import annotations

from sqlglot import exp

from generator.sql.locate import function_name, is_placeholder
from generator.sql.shapes import (
    Env,
    Ref,
    SelectInfo,
    Source,
    in_window,
    is_aggregate,
    lambda_params,
    parse_type,
    struct_field,
)
from generator.suggest import closest


class NameLookup:
    """Column resolution; mixed into `Analysis`, which provides reporting and queries."""

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
                    parsed = parse_type(ref.data_type)
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
                elif is_aggregate(current, self.sql) and not in_window(current):
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
        params = lambda_params(node)
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

"""references: every ref()/source() resolves to a built relation; no bare table names."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlglot import exp

from generator.errors import Problem
from generator.gates.base import Rule
from generator.project.catalog import Catalog, Relation
from generator.sql.context import UNREPAIRABLE, GateContext, resolve_call
from generator.sql.locate import display_name, is_placeholder, span
from generator.sql.templating import RefCall
from generator.suggest import closest

RULE = "references"

# A table "name" that is really a file or URL (DuckDB's replacement scans read it); the
# safety gate refuses these with the right message, so references does not repeat it.
FILE_LIKE = re.compile(
    r"(://|[/\\*?]|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|gz|zst|xlsx|arrow|avro|db|duckdb|sqlite)$)",
    re.I,
)


def _source_display(source_name: str, table: str) -> str:
    return "{{ " + f"source('{source_name}', '{table}')" + " }}"


def _unresolved(catalog: Catalog, call: RefCall) -> tuple[str, str | None]:
    """Message and suggestion for a ref()/source() call that names nothing."""
    sources = catalog.source_names()
    if call.kind == "ref":
        name = call.name
        same_name = [r for r in catalog.relations if not r.is_source and r.name == name]
        if same_name and call.version is not None:
            versions = sorted(r.version for r in same_name if r.version is not None)
            listed = ", ".join(str(v) for v in versions) or "none"
            latest = catalog.ref(name)
            return (
                f"{call.display()}: model '{name}' has no version {call.version} (versions: {listed})",
                f"Use {latest.jinja()}." if latest else None,
            )
        if same_name and call.package:
            packages = sorted({r.package_name for r in same_name})
            return (
                f"{call.display()}: model '{name}' is not in package '{call.package}' "
                f"(it is in {', '.join(repr(p) for p in packages)})",
                f"Use {catalog.ref(name).jinja()}." if catalog.ref(name) else None,
            )
        as_source = [(src, table) for src, table in sources if table.lower() == name.lower()]
        if as_source:
            return (
                f"{call.display()}: '{name}' is a source table, not a model",
                "Use " + " or ".join(_source_display(*pair) for pair in as_source) + ".",
            )
        match = closest(name, catalog.ref_names())
        if match:
            return (
                f"{call.display()}: no model named '{name}'",
                f"Did you mean {catalog.ref(match).jinja()}?",
            )
        table_match = closest(name, [table for _, table in sources])
        if table_match:
            pair = next(pair for pair in sources if pair[1] == table_match)
            return (
                f"{call.display()}: no model named '{name}'",
                f"Did you mean {_source_display(*pair)}?",
            )
        return f"{call.display()}: no model named '{name}'", None
    source_name, table = call.args
    tables_of_source = [t for s, t in sources if s == source_name]
    model = catalog.ref(table)
    if model is not None and table not in tables_of_source:
        return (
            f"{call.display()}: '{table}' is a model, not a source table",
            f"Use {model.jinja()}.",
        )
    if tables_of_source:
        match = closest(table, tables_of_source)
        message = f"{call.display()}: source '{source_name}' has no table '{table}'"
        if match:
            return message, f"Did you mean {_source_display(source_name, match)}?"
        return message, f"Its tables: {', '.join(tables_of_source)}."
    message = f"{call.display()}: no source named '{source_name}'"
    same_table = [pair for pair in sources if pair[1].lower() == table.lower()]
    if same_table:
        return message, f"Did you mean {_source_display(*same_table[0])}?"
    match = closest(f"{source_name}.{table}", [f"{s}.{t}" for s, t in sources])
    if match:
        return message, f"Did you mean {_source_display(*match.split('.', 1))}?"
    return message, None


def _not_built(relation: Relation) -> tuple[str, str]:
    if relation.is_source:
        return (
            f"{relation.display} does not exist in the warehouse ({relation.relation_name})",
            "Load it, or fix the source's database/schema/identifier in its YAML.",
        )
    return (
        f"{relation.display} is not built in the warehouse",
        f"Run `dbt build --select +{relation.name}` first.",
    )


def visible_ctes(table: exp.Table) -> set[str]:
    """CTE names (lowercase) a table reference can see: those of every enclosing WITH."""
    names: set[str] = set()
    node = table.parent
    while node is not None:
        with_ = node.args.get("with_") if isinstance(node, exp.Expression) else None
        if isinstance(with_, exp.With):
            names.update(cte.alias.lower() for cte in with_.expressions if cte.alias)
        node = node.parent
    return names


def table_function(table: exp.Expression) -> bool:
    return isinstance(table, exp.Table) and isinstance(table.this, (exp.Func, exp.Anonymous))


def _bare_table(catalog: Catalog, table: exp.Table, ctes: set[str]) -> tuple[str, str | None]:
    written = ".".join(part.name for part in table.parts)
    qualifier = [part.name.lower() for part in table.parts[:-1]]
    candidates = catalog.by_identifier(table.name)
    if qualifier:
        narrowed = [
            r
            for r in candidates
            if qualifier[-1] in (r.schema.lower(), (r.source_name or "").lower())
            and (len(qualifier) < 2 or qualifier[0] == r.database.lower())
        ]
        candidates = narrowed or candidates
    exact = [r for r in candidates if r.identifier.lower() == table.name.lower()]
    candidates = exact or candidates
    # Versions of one model: suggest the version whose table it is, else the latest.
    by_display = {}
    for relation in candidates:
        by_display.setdefault(relation.display, relation)
    if len({r.name for r in by_display.values() if not r.is_source}) == 1 and len(by_display) > 1:
        latest = [r for r in by_display.values() if r.version is None or r.version == r.latest_version]
        by_display = {r.display: r for r in latest} or by_display
    if by_display:
        options = " or ".join(relation.jinja() for relation in by_display.values())
        return (
            f"table '{written}' is not referenced through dbt",
            f"Use {options} so dbt knows the lineage and the target's schema.",
        )
    pool = {name: None for name in ctes}
    for relation in catalog.relations:
        pool.setdefault(relation.identifier, relation)
        pool.setdefault(relation.name, relation)
    match = closest(table.name, list(pool))
    if match is None:
        return (
            f"unknown table '{written}'",
            "Refer to models with {{ ref('...') }} and to sources with {{ source('...', '...') }}.",
        )
    if pool[match] is None:
        return f"unknown table '{written}'", f"Did you mean the CTE '{match}'?"
    return f"unknown table '{written}'", f"Did you mean {pool[match].jinja()}?"


class ReferencesRule(Rule):
    """Every ref()/source() names a built relation; tables are never named directly."""

    name = RULE
    requires = ("parse",)

    def check(self, ctx: GateContext) -> list[Problem]:
        problems: list[Problem] = []
        ctx.relations = {}
        templated = ctx.templated
        tree = ctx.tree
        if tree is None or templated is None:
            return problems
        sql = templated.sql
        for table in tree.find_all(exp.Table):
            if table_function(table) or not isinstance(table.this, exp.Identifier):
                continue
            where = span(table, sql, ctx.dialect.sqlglot)
            name = table.name
            if is_placeholder(name):
                call = templated.call_for(name)
                if call is None:
                    continue
                if table.args.get("db") or table.args.get("catalog"):
                    problems.append(
                        ctx.problem(
                            RULE,
                            f"{call.display()} cannot be qualified with a schema or database",
                            span=where,
                            identifier=call.display(),
                            suggestion=f"Write {call.jinja()} alone; dbt fills in the schema.",
                        )
                    )
                    continue
                relation = resolve_call(ctx.catalog, call)
                if relation is None:
                    message, suggestion = _unresolved(ctx.catalog, call)
                    problems.append(
                        ctx.problem(
                            RULE,
                            message,
                            span=(call.start, call.end - 1),
                            identifier=call.display(),
                            suggestion=suggestion,
                        )
                    )
                    continue
                if not relation.exists:
                    message, suggestion = _not_built(relation)
                    problem = ctx.problem(
                        RULE,
                        message,
                        span=(call.start, call.end - 1),
                        identifier=call.display(),
                        suggestion=suggestion,
                    )
                    problems.append(replace(problem, details={UNREPAIRABLE: "not built"}))
                    continue
                ctx.relations[name] = relation
                continue
            ctes = visible_ctes(table)
            if not table.args.get("db") and name.lower() in ctes:
                continue
            if FILE_LIKE.search(name):
                continue  # a file read: the safety gate explains it
            message, suggestion = _bare_table(ctx.catalog, table, ctes)
            problems.append(
                ctx.problem(
                    RULE,
                    message,
                    span=where,
                    identifier=".".join(part.name for part in table.parts),
                    suggestion=suggestion,
                )
            )
        problems.extend(self._misplaced_calls(ctx))
        return sorted(problems, key=lambda p: (p.line or 0, p.col or 0))

    def _misplaced_calls(self, ctx: GateContext) -> list[Problem]:
        """ref()/source() stand for tables: anywhere else they render to nonsense."""
        problems = []
        for identifier in ctx.tree.find_all(exp.Identifier):
            if not is_placeholder(identifier.name):
                continue
            parent = identifier.parent
            if isinstance(parent, exp.Table) and identifier.arg_key == "this":
                continue
            if isinstance(parent, exp.Column) and identifier.arg_key in ("table", "db", "catalog"):
                continue  # {{ ref('x') }}.column qualifies a column by the relation's name
            shown = display_name(identifier.name, ctx.templated)
            problems.append(
                ctx.problem(
                    RULE,
                    f"{shown} is used where a value is expected; it stands for a table",
                    identifier,
                    identifier=shown,
                    suggestion="Use ref()/source() only in FROM and JOIN.",
                )
            )
        return problems

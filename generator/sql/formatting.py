"""Deterministic dbt-style formatting of a proposal's SQL, with ref()/source() as Jinja.

dbt Labs' style (jaffle-shop): import CTEs first, one `name as (select * from {{ ref() }})`
per relation the model reads, named after the entity; then the logical CTEs; then the
final select. Lowercase keywords and functions, trailing commas, 4-space indents, one
column per line, explicit `as`, a blank line between CTEs, one trailing newline. A project
that writes its keywords in upper case, or its date parts (`'month'`) in one case, gets
them so (`generator.sql.style` reads which); otherwise date parts are as sqlglot writes them.

The text comes from sqlglot's DuckDB generator (never another dialect's), pretty-printed
with 4-space indents. Its keywords are uppercase f-strings all over the generator, so
they are lowercased afterwards; identifiers are the one thing that must keep its case
(DuckDB keeps an alias's case as the column name, and dbt's contract compares names
case-sensitively), so the generator marks each identifier it prints and the lowercasing
skips marked text, string literals and comments.

Known limits:
  * comments survive where sqlglot attaches them to a node, always as `/* ... */`, and may
    move to the end of their node's line; comments on a CTE go above it. sqlglot drops a
    comment right after an opening parenthesis (`with x as ( -- gone`).
  * sqlglot writes DuckDB's sugar in its long form and some functions under their
    canonical DuckDB names: `x::int` -> `cast(x as int)`, `varchar` -> `text`,
    `t -> f(t)` -> `lambda t: f(t)`, `2 ** 3` -> `power(2, 3)`, `string_agg` -> `listagg`,
    `list` -> `array_agg`, `len` -> `length`. The tests run every such rewrite in DuckDB
    before and after and compare names, types and rows.
  * identifiers keep their case as written (`AMOUNT` stays `AMOUNT`); lowercasing them could
    rename output columns.
  * only the top-level WITH gets the blank-line CTE layout; a WITH nested in a subquery
    keeps sqlglot's layout.

dbt renders the file with Jinja, so no text of the proposal may open Jinja (`{{`, `{%`,
`{#`): sqlglot decodes `E'\x7b'` to `{`, so an escape string holding a Jinja delimiter is
written with its braces as `\x7b`/`\x7d` again, and so is any string literal holding one
(as an `E''` string, DuckDB's own escape); in code the braces are kept apart (`{ {`), in comments too. What is left (a
quoted identifier) is refused by `generator.write.inert`'s check of the written bytes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from generator.sql.style import DATE_PART_FUNCTIONS, DATE_PARTS, DEFAULT_STYLE, UPPER, SqlStyle
from generator.sql.templating import RefCall, TemplatedSQL

INDENT = 4
_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters marking identifiers
_LOWERCASE_SKIPS = re.compile(rf"{_OPEN}.*?{_CLOSE}|'(?:[^']|'')*'|/\*.*?\*/|\$\$.*?\$\$", re.S)
_SIMPLE_SELECT = re.compile(r"^select \*\nfrom (\S+)$", re.I)
# A `{` that opens Jinja: `{{`, `{%` or `{#`; and any Jinja delimiter (dbt's own test).
_JINJA_OPENER = re.compile(r"\{(?=[{%#])")
_JINJA_DELIMITER = re.compile(r"{[{%#]|[#}%]}")
_LITERAL_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|/\*.*?\*/", re.S)
# The end of the text before a function's first argument: `date_trunc(`.
_CALL_OPENED = re.compile(r"\b(\w+)\(\s*$")
_DATE_PART_CALLS = DATE_PART_FUNCTIONS | {"extract"}


# Comparisons whose two sides may each fill a line (`a <= b` with long function calls).
_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)


def _unmarked(text: str) -> str:
    return text.replace(_OPEN, "").replace(_CLOSE, "")


class _Formatting:
    """Mixed into a dialect's generator (DuckDB's, Spark's): marks identifiers, closer to dbt's layout.

    The overrides change layout only (where lines break), never what is generated; and,
    when the project has a case for date parts, the units after `interval` and in
    `extract(... from x)` are marked like identifiers so that the keywords' case leaves them.
    """

    date_part_case: str | None = None  # set per instance from the project's style
    lambda_keyword = True  # DuckDB's `lambda x: f(x)`; set per dialect by _generator_class

    def var_sql(self, expression: exp.Var) -> str:
        text = super().var_sql(expression)
        if self.date_part_case is None or not _is_date_part_var(expression):
            return text
        return f"{_OPEN}{text.upper() if self.date_part_case == UPPER else text.lower()}{_CLOSE}"

    def literal_sql(self, expression: exp.Literal) -> str:
        # A string holding a Jinja delimiter is written as an escape string, braces as \x7b/\x7d.
        if expression.is_string and _JINJA_DELIMITER.search(expression.this):
            return self.bytestring_sql(exp.ByteString(this=expression.this))
        return super().literal_sql(expression)

    def rawstring_sql(self, expression: exp.RawString) -> str:
        if _JINJA_DELIMITER.search(expression.this):
            return self.bytestring_sql(exp.ByteString(this=expression.this))
        return super().rawstring_sql(expression)

    def bytestring_sql(self, expression: exp.ByteString) -> str:
        # sqlglot decodes E'\x7b' and writes `{`: where the text holds a Jinja delimiter, every
        # brace is written as its escape again (so neither dbt nor the parse gate sees one).
        text = super().bytestring_sql(expression)
        if expression.args.get("is_bytes") or not _JINJA_DELIMITER.search(expression.this):
            return text
        return text.replace("{", "\\x7b").replace("}", "\\x7d")

    def identifier_sql(self, expression: exp.Identifier) -> str:
        return f"{_OPEN}{super().identifier_sql(expression)}{_CLOSE}"

    def too_wide(self, args) -> bool:
        # The identifier marks are not text; they must not change where lines break.
        return sum(len(_unmarked(arg)) for arg in args) > self.max_text_width

    def _short(self, text: str) -> bool:
        return "\n" not in text and not self.too_wide([text])

    def _clause(self, keyword: str, expression: exp.Expression, default) -> str:
        """`where <condition>` on one line when it is short, else sqlglot's layout."""
        condition = self.sql(expression, "this")
        if self._short(condition):
            return f"{self.seg(keyword)} {condition}"
        return default(expression)

    def where_sql(self, expression: exp.Where) -> str:
        return self._clause("WHERE", expression, super().where_sql)

    def having_sql(self, expression: exp.Having) -> str:
        return self._clause("HAVING", expression, super().having_sql)

    def qualify_sql(self, expression: exp.Qualify) -> str:
        return self._clause("QUALIFY", expression, super().qualify_sql)

    def op_expressions(self, op: str, expression: exp.Expression, flat: bool = False) -> str:
        """`group by a, b` / `order by a desc` on one line when short."""
        if not flat and self.pretty and op.startswith(("GROUP BY", "ORDER BY")):
            items = self.expressions(expression, flat=True)
            if items and self._short(items):
                return f"{self.seg(op)} {items}"
        return super().op_expressions(op, expression, flat=flat)

    def order_sql(self, expression: exp.Order, flat: bool = False) -> str:
        # Inside an aggregate (`string_agg(x, ',' order by y)`) the order stays inline.
        if flat or not isinstance(expression.parent, exp.Func):
            return super().order_sql(expression, flat=flat)
        text = super().order_sql(expression, flat=True)
        return text if expression.this else f" {text}"

    def paren_sql(self, expression: exp.Paren) -> str:
        inner = self.sql(expression, "this")
        return f"({inner})" if self._short(inner) else super().paren_sql(expression)

    def filter_sql(self, expression: exp.Filter) -> str:
        where = expression.expression
        if isinstance(expression.this, exp.Corr) or not isinstance(where, exp.Where):
            return super().filter_sql(expression)
        condition = self.sql(expression.expression, "this")
        return f"{self.sql(expression, 'this')} FILTER (WHERE {condition})"

    def lambda_sql(self, expression: exp.Lambda, arrow_sep: str = "->", wrap: bool = True) -> str:
        # DuckDB 1.3+ deprecates `x -> f(x)`; other engines (Spark) write lambdas with arrows.
        if not self.lambda_keyword or self.dialect.version < (1, 3):
            return super().lambda_sql(expression, arrow_sep=arrow_sep, wrap=wrap)
        return f"LAMBDA {self.expressions(expression, flat=True)}: {self.sql(expression, 'this')}"

    def select_sql(self, expression: exp.Select) -> str:
        text = super().select_sql(expression)
        columns = expression.expressions
        if self.pretty and len(columns) == 1 and isinstance(columns[0], exp.Star):
            # `select *` (or `select * exclude (...)`) on one line, as dbt style has it.
            text = re.sub(r"^SELECT\n\s+\*", "SELECT *", text, count=1)
        return text

    def star_sql(self, expression: exp.Star) -> str:
        # `* exclude (a)` on the select's line, not one modifier per line.
        text = super().star_sql(expression)
        return re.sub(r"\s*\n\s*", " ", text) if self.pretty else text

    def binary(self, expression: exp.Binary, op: str) -> str:
        """A comparison too wide for one line breaks before its operator (at the left side's
        indent, where sqlfluff's LT02 puts it)."""
        text = super().binary(expression, op)
        if not (self.pretty and isinstance(expression, _COMPARISONS)) or "\n" in text or not self.too_wide([text]):
            return text
        left, right = self.sql(expression, "this"), self.sql(expression, "expression")
        if "\n" in left or "\n" in right:
            return text
        return f"{left}\n{op} {right}"

    def case_sql(self, expression: exp.Case) -> str:
        """One `when ... then ...` per line when the case does not fit on one."""
        this = self.sql(expression, "this")
        lines = [f"CASE {this}" if this else "CASE"]
        for branch in expression.args["ifs"]:
            lines.append(f"WHEN {self.sql(branch, 'this')} THEN {self.sql(branch, 'true')}")
        default = self.sql(expression, "default")
        if default:
            lines.append(f"ELSE {default}")
        lines.append("END")
        if self.pretty and self.too_wide(lines):
            return self.indent("\n".join(lines), skip_first=True, skip_last=True)
        return " ".join(lines)


def _is_date_part_var(var: exp.Var) -> bool:
    """A unit written as a bare word: `interval 1 month`, `extract(month from x)`."""
    parent = var.parent
    in_place = (isinstance(parent, exp.Interval) and var.arg_key == "unit") or (
        isinstance(parent, exp.Extract) and var.arg_key == "this"
    )
    return in_place and var.name.lower() in DATE_PARTS


@functools.cache
def _generator_class(dialect: str) -> type:
    """The formatter for one sqlglot dialect: its own generator with `_Formatting` first."""
    base = Dialect.get_or_raise(dialect).generator_class
    return type(f"_{base.__name__}Formatter", (_Formatting, base), {"lambda_keyword": dialect == "duckdb"})


def generate_sql(node: exp.Expression, style: SqlStyle = DEFAULT_STYLE, dialect: str = "duckdb") -> str:
    """One node as the formatter writes it (pretty, the project's indent and case, in
    sqlglot's `dialect`), without placeholders restored."""
    generator = _generator_class(dialect)(
        pretty=True,
        pad=INDENT,
        indent=INDENT,
        normalize_functions="lower",
        dialect=dialect,
    )
    generator.date_part_case = style.date_parts
    return _cased(generator.generate(node, copy=True), style)


def _keyword(text: str, style: SqlStyle) -> str:
    """Fixed SQL text the formatter writes itself (`with`, `as`), in the project's case."""
    return text.upper() if style.keywords == UPPER else text


def _code(text: str, upper: bool = False) -> str:
    """Lowercase (or, in an upper-case project, uppercase) SQL outside identifiers,
    literals and comments, Jinja-safe.

    dbt renders the model file with Jinja, so `}}` closing two nested struct literals
    would end a Jinja expression that never began, and `{{` (a map of structs) would begin
    one: keep the braces apart.
    """
    text = text.upper() if upper else text.lower()
    while "}}" in text:
        text = text.replace("}}", "} }")
    while "{{" in text:
        text = text.replace("{{", "{ {")
    return text


def _date_part_literal(code_before: str, literal: str, case: str | None) -> str:
    """A string literal in the project's case for date parts when it is one: the first
    argument of `date_trunc(`, `date_diff(`, `extract(`... sqlglot writes the units it
    knows in upper case (`'MONTH'`) and keeps the others as written (`'year'`)."""
    if case is None or literal[1:-1].lower() not in DATE_PARTS:
        return literal
    call = _CALL_OPENED.search(code_before)
    if call is None or call.group(1).lower() not in _DATE_PART_CALLS:
        return literal
    return literal.upper() if case == UPPER else literal.lower()


def _cased(sql: str, style: SqlStyle = DEFAULT_STYLE) -> str:
    """Everything but identifiers, string literals and comments in the keywords' case
    (lower unless the project writes upper), date-part literals in theirs; drop the marks."""
    upper = style.keywords == UPPER
    pieces, last = [], 0
    for match in _LOWERCASE_SKIPS.finditer(sql):
        code = sql[last : match.start()]
        pieces.append(_code(code, upper))
        text = match.group(0)
        # Only the marks around identifiers go; a string literal is kept byte for byte
        # (even if it happens to hold these private-use characters itself), a date part's
        # case aside.
        if text.startswith(_OPEN):
            text = text[1:-1]
        elif text.startswith("'"):
            text = _date_part_literal(code, text, style.date_parts)
        pieces.append(text)
        last = match.end()
    pieces.append(_code(sql[last:], upper))
    return "".join(pieces)


def _indent(text: str, width: int = INDENT) -> str:
    return "\n".join((" " * width + line) if line.strip() else "" for line in text.split("\n"))


def _compact(sql: str, style: SqlStyle = DEFAULT_STYLE) -> str:
    """`select * from x` on one line, as dbt style writes it."""
    match = _SIMPLE_SELECT.match(sql)
    return f"{_keyword('select * from', style)} {match.group(1)}" if match else sql


# -- import CTEs ---------------------------------------------------------------------------


_LAYER_PREFIXES = ("stg_", "int_", "base_")


def _snake(name: str) -> str:
    """A plain lowercase identifier: source tables can be called `Order Items` or `RAW-1`."""
    name = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "relation"
    return name if not name[0].isdigit() else f"t_{name}"


def entity_name(call: RefCall) -> str:
    """The entity a relation holds: `invoices` for stg_billing__invoices, for source tables."""
    name = call.name
    if call.kind == "ref":
        if "__" in name:
            name = name.rsplit("__", 1)[1]
        for prefix in _LAYER_PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix) :]
                break
    return _snake(name)


def _candidates(call: RefCall) -> list[str]:
    """Import CTE names to try, best first: entity, versioned, system-prefixed, full name."""
    entity = entity_name(call)
    names = [entity]
    if call.version is not None:
        names.append(f"{entity}_v{call.version}")
    if call.kind == "source":
        names.append(f"{call.source_name}_{call.name}")
    elif "__" in call.name:
        middle = call.name.rsplit("__", 1)[0]
        for prefix in _LAYER_PREFIXES:
            middle = middle.removeprefix(prefix)
        names.append(f"{middle}_{entity}")
    names.append(call.name + (f"_v{call.version}" if call.version is not None else ""))
    return [_snake(name) for name in names]


def _key(call: RefCall) -> tuple:
    return (call.kind, call.args, call.version)


def _is_import_cte(cte: exp.CTE, calls: Mapping[str, RefCall]) -> RefCall | None:
    """The call a CTE imports, if its body is exactly `select * from <ref or source>`."""
    body = cte.this
    if not isinstance(body, exp.Select) or cte.args.get("materialized") is not None:
        return None
    if cte.args["alias"].columns:
        return None
    table = body.args.get("from_")
    table = table.this if table is not None else None
    if not isinstance(table, exp.Table) or table.name not in calls:
        return None
    if body.sql(dialect="duckdb", comments=False) != f"SELECT * FROM {table.name}":
        return None
    return calls[table.name]


def _placeholder_tables(tree: exp.Expression, calls: Mapping[str, RefCall]) -> list[exp.Table]:
    """Tables that are ref()/source() calls, in the order they appear in the SQL."""
    tables = [
        table
        for table in tree.find_all(exp.Table)
        if table.name in calls and not table.args.get("db") and not table.args.get("catalog")
    ]
    return sorted(tables, key=lambda table: calls[table.name].start)


def _taken_names(tree: exp.Expression, calls: Mapping[str, RefCall]) -> set[str]:
    """Every name an import CTE must not take: CTEs, aliases, tables, columns, qualifiers."""
    taken: set[str] = set()
    for node in tree.walk():
        if isinstance(node, exp.CTE | exp.TableAlias | exp.Subquery) and node.alias:
            taken.add(node.alias.lower())
        if isinstance(node, exp.Table) and node.name not in calls:
            taken.add(node.name.lower())
            if node.alias:
                taken.add(node.alias.lower())
        if isinstance(node, exp.Column):
            taken.update(part.name.lower() for part in node.parts)
        if isinstance(node, exp.TableAlias):
            taken.update(column.name.lower() for column in node.columns)
    return taken


def _with_imports(
    tree: exp.Query,
    calls: Mapping[str, RefCall],
    identifiers: Mapping[str, str],
    reserved: frozenset[str],
) -> tuple[exp.Query, list[tuple[str, RefCall | None, exp.CTE]]]:
    """The tree with refs read through import CTEs, and the CTE list in output order.

    Each item is (name, the call it imports or None for a logical CTE, the CTE node).
    """
    tree = tree.copy()
    with_ = tree.args.get("with_")
    ctes = list(with_.expressions) if with_ is not None else []
    taken = _taken_names(tree, calls)

    imports: dict[tuple, str] = {}
    ordered: list[tuple[int, str, RefCall, exp.CTE]] = []
    logical: list[exp.CTE] = []
    for cte in ctes:
        call = _is_import_cte(cte, calls)
        if call is None:
            logical.append(cte)
            continue
        imports.setdefault(_key(call), cte.alias)
        ordered.append((call.start, cte.alias, call, cte))

    imported_tables = {id(cte.this.args["from_"].this) for _, _, _, cte in ordered}
    for table in _placeholder_tables(tree, calls):
        if id(table) in imported_tables:
            continue
        call = calls[table.name]
        key = _key(call)
        if key not in imports:
            name = next(
                (candidate for candidate in _candidates(call) if candidate not in taken and candidate not in reserved),
                None,
            )
            number = 2
            while name is None:
                if f"{entity_name(call)}_{number}" not in taken:
                    name = f"{entity_name(call)}_{number}"
                number += 1
            taken.add(name)
            imports[key] = name
            body = exp.select("*").from_(exp.to_table(table.name))
            cte = exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(name)))
            ordered.append((call.start, name, call, cte))
        _read_through(tree, table, imports[key], call, identifiers)

    ordered.sort(key=lambda item: item[0])
    output = [(name, call, cte) for _, name, call, cte in ordered]
    output += [(cte.alias, None, cte) for cte in logical]
    if with_ is not None:
        with_.pop()
    return tree, output


def _read_through(
    tree: exp.Expression,
    table: exp.Table,
    name: str,
    call: RefCall,
    identifiers: Mapping[str, str],
) -> None:
    """Point `table` (a ref/source) at its import CTE, keeping what its columns refer to.

    An unaliased table is known to its columns by its own name (what dbt renders: the
    warehouse identifier) or, in the proposal, by the placeholder; keep those working.
    """
    placeholder = table.name
    if not table.alias:
        own_names = {call.name.lower(), identifiers.get(placeholder, call.name).lower()}
        own_names.discard(name.lower())
        used = {
            column.table.lower()
            for column in tree.find_all(exp.Column)
            if column.table and column.table.lower() in own_names
        }
        if used:
            qualifier = sorted(used)[0]
            table.set("alias", exp.TableAlias(this=exp.to_identifier(qualifier)))
    table.set("this", exp.to_identifier(name))
    for column in tree.find_all(exp.Column):
        if column.table == placeholder:
            column.set("table", exp.to_identifier(table.alias or name))


# -- the whole statement -------------------------------------------------------------------


def _cte_text(name_sql: str, cte: exp.CTE, body: str, style: SqlStyle) -> str:
    materialized = cte.args.get("materialized")
    keyword = {True: " materialized", False: " not materialized"}.get(materialized, "")
    return f"{name_sql} {_keyword('as' + keyword, style)} (\n\n{_indent(body)}\n\n)"


def format_sql(
    templated: TemplatedSQL,
    tree: exp.Expression,
    relations: Mapping[str, object] | None = None,
    style: SqlStyle = DEFAULT_STYLE,
    dialect: str = "duckdb",
) -> str:
    """The model's SQL in dbt style (in sqlglot's `dialect`: the target's), with
    placeholders restored as `{{ ref() }}` Jinja.

    `templated` is what `untemplate` made of the proposal and `tree` is sqlglot's parse of
    `templated.sql` (DuckDB dialect). `relations` (placeholder -> Relation, as the
    references gate leaves it) is optional: it tells which warehouse identifier an
    unaliased ref() is known by to its columns, when that differs from the model name.
    `style` is the project's case for keywords and date parts (`generator.sql.style`);
    the default writes lowercase keywords and date parts as sqlglot does.
    Deterministic; formatting the result again gives the same text.
    """
    from generator.project.sandbox import reserved_words

    calls = {call.placeholder: call for call in templated.calls}
    identifiers = {
        placeholder: getattr(relation, "identifier", calls[placeholder].name)
        for placeholder, relation in (relations or {}).items()
        if placeholder in calls
    }
    root = tree
    while isinstance(root, exp.Subquery) and not root.alias and isinstance(root.this, exp.Query):
        root = root.this
    if not isinstance(root, exp.Query):
        # A bare statement such as DuckDB's PIVOT: read it as a subquery, so refs inside it
        # can come from import CTEs like everywhere else.
        root = exp.select("*").from_(exp.Subquery(this=root.copy()))

    # Comments before the statement describe the model: keep them at the top.
    leading_comments = list(root.comments or [])
    root = root.copy()
    root.comments = None
    body, ctes = _with_imports(root, calls, identifiers, reserved_words())
    pieces = []
    for _name, call, cte in ctes:
        # Comments on a CTE or its name go above it (sqlglot attaches a comment between
        # CTEs to either, which would make the layout flip between runs); an import
        # CTE's body is rewritten, so its comments go there too.
        alias = cte.args["alias"].copy()
        comments = list(cte.comments or [])
        for node in alias.walk():
            comments += node.pop_comments()
        if call is not None:
            text = f"{_keyword('select * from', style)} {call.placeholder}"
            for node in cte.this.walk():
                comments += node.comments or []
        else:
            text = _compact(generate_sql(cte.this, style, dialect), style)
        name_sql = generate_sql(alias, style, dialect)
        prefix = "".join(f"/* {comment.strip()} */\n" for comment in comments)
        pieces.append(prefix + _cte_text(name_sql, cte, text, style))
    final = _compact(generate_sql(body, style, dialect), style)
    with_ = root.args.get("with_")
    leading_comments += (with_.comments if with_ is not None else None) or []
    leading = "".join(f"/* {comment.strip()} */\n" for comment in leading_comments)
    if pieces:
        head = _keyword("with recursive" if with_ is not None and with_.args.get("recursive") else "with", style)
        sql = f"{leading}{head}\n\n" + ",\n\n".join(pieces) + f"\n\n{final}"
    else:
        sql = leading + final
    return templated.restore(_inert_comments(sql)).rstrip() + "\n"


def _inert_comments(sql: str) -> str:
    """Comments with their Jinja delimiters broken (`{ {`, `} }`): dbt would render them,
    and a comment means nothing to the SQL. String literals are matched to be skipped."""

    def fix(match: re.Match) -> str:
        text = match.group(0)
        if not text.startswith("/*"):
            return text
        return re.sub(r"[}%#](?=})", r"\g<0> ", _JINJA_OPENER.sub("{ ", text))

    return _LITERAL_OR_COMMENT.sub(fix, sql)

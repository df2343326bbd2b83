"""parse: the SQL is exactly one DuckDB select statement (CTEs and set operations allowed)."""

from __future__ import annotations

import logging
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from generator import limits
from generator.errors import Problem
from generator.gates.base import Rule
from generator.sql.context import GateContext
from generator.sql.locate import DIALECT, span
from generator.sql.scope import PIVOT_ADVICE
from generator.sql.templating import JINJA_CLOSERS, problem_at, untemplate

RULE = "parse"

# First words of a query; a statement starting otherwise is not one, even if it fails to parse.
QUERY_STARTS = frozenset({"SELECT", "WITH", "FROM", "VALUES", "(", "TABLE"})

# What a model may be: a query. VALUES is a query too (a constant table).
QUERY_TYPES = (exp.Select, exp.SetOperation, exp.Subquery, exp.Values)


@dataclass(frozen=True)
class Statement:
    """One statement of the SQL: its tree (None if it did not parse) and where it starts."""

    tree: exp.Expression | None
    start: int
    end: int
    keyword: str  # its first word, uppercase: SELECT, WITH, CREATE, PRAGMA, ...


class _ErrorsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


@contextmanager
def quiet_sqlglot():
    """sqlglot logs a warning when it falls back to exp.Command; we report that ourselves.

    A filter rather than `setLevel`: setting a level clears the cache of every logger in
    the process (hundreds once dbt is loaded), and this runs around every statement parse.
    sqlglot logs through the one "sqlglot" logger, so its filters see every record.
    """
    logger = logging.getLogger("sqlglot")
    quiet = _ErrorsOnly()  # one per use, so nested uses each remove only their own
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _line_start(sql: str, line: int) -> int:
    offset = 0
    for _ in range(line - 1):
        newline = sql.find("\n", offset)
        if newline == -1:
            return len(sql)
        offset = newline + 1
    return offset


def _describe(description: str, near: str, at_end: bool) -> tuple[str, str | None]:
    """sqlglot's parser message, reworded for people, plus a hint."""
    shown = repr(near) if near.strip() else "the end of the statement"
    description = re.sub(
        r"<Token token_type: [^,]+, text: (.*?), line: \d+.*?>",
        lambda m: repr(m.group(1)),
        description,
    )
    if description.startswith("Invalid expression / Unexpected token"):
        return f"syntax error: unexpected {shown}", None
    if description.startswith("Expecting )"):
        where = f"after {shown}" if at_end else f"before {shown}"
        return f"syntax error: missing ')' {where}", "Close the parenthesis opened earlier."
    match = re.match(r"Required keyword: '(\w+)' missing for <class '[\w.]*?(\w+)'>", description)
    if match:
        node_type = getattr(exp, match.group(2), None)
        if isinstance(node_type, type) and issubclass(node_type, exp.Binary):
            kind = "expression: an operand is missing"
        else:
            kind = re.sub(r"(?<!^)(?=[A-Z])", " ", match.group(2)).lower()
            kind = {"order": "order by", "group": "group by"}.get(kind, kind)
        return f"syntax error: incomplete {kind} at {shown}", "Complete it or remove it."
    return f"syntax error at {shown}: {description}", None


# Clauses of one select in the order DuckDB accepts them (sqlglot accepts any order).
# LIMIT and OFFSET may come in either order.
_CLAUSE_ORDER = ("where", "group", "having", "windows", "qualify", "order", "limit")
_CLAUSE_WORDS = {
    "where": "WHERE",
    "group": "GROUP BY",
    "having": "HAVING",
    "windows": "WINDOW",
    "qualify": "QUALIFY",
    "order": "ORDER BY",
    "limit": "LIMIT",
    "offset": "OFFSET",
}


def _own_start(node: exp.Expression, original: str) -> int | None:
    """Where a clause's own text starts: its first positioned token outside subqueries.

    sqlglot gives the `*` it invents for `(from t)` the position 0, so stars count only
    where the text has one.
    """
    best = None
    stack = [node]
    while stack:
        current = stack.pop()
        if current is not node and isinstance(current, (exp.Query, exp.Subquery)):
            continue
        meta = current._meta
        if meta and "start" in meta:
            start = meta["start"]
            if not isinstance(current, exp.Star) or original[start : start + 1] == "*":
                best = start if best is None else min(best, start)
        for value in current.args.values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, exp.Expression):
                    stack.append(item)
    return best


def _clause_sequence(select: exp.Select, original: str) -> tuple[list[tuple[str, exp.Expression]], bool]:
    """A select's clauses in the order DuckDB requires them, and whether it is FROM-first."""
    from_ = select.args.get("from_")
    items = select.expressions
    list_start = _own_start(items[0], original) if items else None
    select_list = ("SELECT", items[0]) if list_start is not None else None
    from_start = _own_start(from_, original) if from_ is not None else None
    from_span = (from_start,) if from_start is not None else None
    list_span = (list_start,) if list_start is not None else None
    from_first = bool(from_span and list_span and from_span[0] < list_span[0])
    sequence: list[tuple[str, exp.Expression]] = []
    if select_list and not from_first:
        sequence.append(select_list)
    if from_ is not None:
        sequence.append(("FROM", from_))
    sequence.extend(("JOIN", join) for join in select.args.get("joins") or [])
    if select_list and from_first:
        sequence.append(select_list)
    for key in _CLAUSE_ORDER:
        value = select.args.get(key)
        if value:
            sequence.append((_CLAUSE_WORDS[key], value[0] if isinstance(value, list) else value))
    return sequence, from_first


def _clause_order_problems(tree: exp.Expression, original: str, file: str | None) -> list[Problem]:
    """sqlglot parses `limit 1 where x`; DuckDB does not. Report clauses out of order."""
    problems = []
    for select in tree.find_all(exp.Select):
        sequence, from_first = _clause_sequence(select, original)
        order = "select, from, joins, where, group by, having, window, qualify, order by, limit"
        if from_first:
            order = "from, joins, select, where, group by, having, window, qualify, order by, limit"
        placed = [(word, node, _own_start(node, original)) for word, node in sequence]
        placed = [(word, node, start) for word, node, start in placed if start is not None]
        for index, (word, node, start) in enumerate(placed):
            # The first clause that must follow this one but is written before it.
            earlier = next((other for other in placed[index + 1 :] if other[2] < start), None)
            if earlier is None:
                continue
            keyword = span(node, original) or (start, start)
            problems.append(
                _problem_at(
                    f"syntax error: {word} must come before {earlier[0]}",
                    original,
                    keyword[0],
                    keyword[1],
                    identifier=word,
                    suggestion=f"Order the clauses: {order}.",
                    file=file,
                )
            )
    return problems


def _arrow_lambda_problems(tree: exp.Expression, original: str, file: str | None) -> list[Problem]:
    """DuckDB 2 refuses `x -> x + 1` (deprecated) unless a setting brings it back."""
    problems = []
    for function in tree.find_all(exp.Lambda):
        params = [p for p in function.expressions if p._meta and "start" in p._meta]
        body = _own_start(function.this, original) if function.this is not None else None
        if not params or body is None:
            continue
        between = original[params[-1].meta["end"] + 1 : body]
        arrow = between.find("->")
        if arrow == -1:
            continue
        position = params[-1].meta["end"] + 1 + arrow
        names = ", ".join(p.name for p in function.expressions)
        problems.append(
            _problem_at(
                "the arrow lambda syntax (x -> ...) is deprecated; DuckDB refuses it",
                original,
                position,
                position + 1,
                identifier="->",
                suggestion=f"Write lambda {names}: <expression>.",
                file=file,
            )
        )
    return problems


def _parse_error_problems(error: ParseError, sql: str, original: str, file: str | None) -> list[Problem]:
    """One problem per place sqlglot complained about (later complaints there are echoes)."""
    problems = []
    seen = set()
    for item in error.errors or [{"description": str(error)}]:
        description = item.get("description") or "syntax error"
        line, col = item.get("line"), item.get("col")
        if line is None or col is None:
            problems.append(Problem(rule=RULE, message=f"syntax error: {description}", file=file))
            continue
        # sqlglot reports the column where the offending token *ends*.
        token_text = item.get("highlight") or ""
        end = min(_line_start(sql, line) + col - 1, max(len(sql) - 1, 0))
        start = max(0, end - max(len(token_text), 1) + 1)
        if start in seen:
            continue
        seen.add(start)
        near = original[start : end + 1]
        at_end = not original[end + 1 :].strip().lstrip(";").strip()
        message, hint = _describe(description, near, at_end)
        problems.append(
            _problem_at(
                message,
                original,
                start,
                end,
                identifier=near.strip() or None,
                suggestion=hint,
                file=file,
            )
        )
    return problems


def _problem_at(message, text, start, end, *, identifier=None, suggestion=None, file=None):
    return problem_at(RULE, message, text, start, end, identifier=identifier, suggestion=suggestion, file=file)


def _token_error_offset(tokenizer, error: TokenError) -> int | None:
    """Where the tokenizer stopped: the start of the token it could not finish."""
    core = getattr(tokenizer, "_core", tokenizer)
    start = getattr(core, "_start", None)
    if isinstance(start, int):
        return start
    match = re.search(r"from (\d+):(\d+)", str(error.__cause__ or error))
    return int(match.group(2)) if match else None


# Tokens that open and close a level of nesting; sqlglot's parser recurses once per level.
_OPENERS = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE})
_CLOSERS = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END})
# Prefix operators nest without brackets: `not not not x`, `- - - 1`, `lambda x: lambda y: ...`.
_PREFIX_NAMES = ("NOT", "DASH", "PLUS", "TILDA", "LAMBDA", "EXISTS", "INTERVAL")
_PREFIXES = frozenset(getattr(TokenType, name) for name in _PREFIX_NAMES if hasattr(TokenType, name))


def _nesting_problem(tokens: list[Token], original: str, file: str | None) -> Problem | None:
    """The first place the SQL nests deeper than the limit, before the recursive parser sees it.

    Levels are open brackets and CASEs, a run of prefix operators, and a chain of subscripts
    (`a[1][2]...`: each one wraps the last, and sqlglot parses long chains slowly).
    """
    levels: list[int] = []  # per open level: the length of the subscript chain it extends
    closed_chain = 0
    prefixes = 0
    previous = None
    for token in tokens:
        kind = token.token_type
        if kind in _CLOSERS:
            closed_chain = levels.pop() if levels else 0
            prefixes = 0
            previous = kind
            continue
        chain = 0
        if kind in _OPENERS:
            chained = kind == TokenType.L_BRACKET and previous in (TokenType.R_BRACKET, TokenType.R_PAREN)
            chain = closed_chain + 1 if chained else 0
            levels.append(chain)
        prefixes = prefixes + 1 if kind in _PREFIXES else 0
        previous = kind
        if len(levels) + chain + prefixes > limits.MAX_SQL_NESTING:
            return _problem_at(
                f"the SQL nests more than {limits.MAX_SQL_NESTING} levels deep here "
                "(parentheses, brackets, CASE, prefix operators, subscripts)",
                original,
                token.start,
                token.end,
                identifier=original[token.start : token.end + 1],
                suggestion="Move inner expressions into CTEs; no model needs to nest this deep.",
                file=file,
            )
    return None


def _tree_depth(tree: exp.Expression) -> int:
    """How deep a parsed tree is, found without recursion (long and/or chains nest deep)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > limits.MAX_SQL_TREE_DEPTH:
            break
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


MAX_LONE_COMMENT_OPENERS = 16


def _jinja_problem(sql: str, opener: int, pair: str, file: str | None, message: str) -> Problem:
    return problem_at(
        RULE,
        message,
        sql,
        opener,
        opener + 1,
        identifier=pair,
        suggestion="The only Jinja allowed is {{ ref('model') }} and {{ source('source', 'table') }}.",
        file=file,
    )


def _jinja_problems(sql: str, file: str | None) -> list[Problem]:
    """Jinja that is unterminated or too long to be a ref()/source() call, found in one pass.

    `untemplate` passes over an opener without a closer (it is no Jinja to it); in a
    proposal that is a mistake to name at the opener, before anything else reads the SQL.
    """
    position = 0
    open_comments = 0
    first_lone: int | None = None
    while True:
        opener = sql.find("{", position)
        if opener == -1 or opener + 1 >= len(sql):
            return []
        pair = sql[opener : opener + 2]
        if pair not in JINJA_CLOSERS:
            position = opener + 1
            continue
        closer = sql.find(JINJA_CLOSERS[pair], opener + 2)
        # A lone `{#` is no Jinja to gen-model (it may sit in a string literal, and the writer
        # escapes it); a few cost the regex one pass each, many would make it quadratic.
        if closer == -1 and pair == "{#":
            first_lone = opener if first_lone is None else first_lone
            open_comments += 1
            if open_comments <= MAX_LONE_COMMENT_OPENERS:
                position = opener + 2
                continue
            opener = first_lone  # refused where the first lone one stands
        if closer == -1:
            return [_jinja_problem(sql, opener, pair, file, f"unterminated Jinja: {pair} has no {JINJA_CLOSERS[pair]}")]
        if pair == "{{" and closer - opener > limits.MAX_JINJA_CHARS:
            message = f"a Jinja expression of {closer - opener + 2:,} characters is not a ref() or source() call"
            return [_jinja_problem(sql, opener, pair, file, message)]
        position = closer + 2


def _chunks(tokens: list[Token]) -> list[list[Token]]:
    """Split a token stream into statements at semicolons, as sqlglot's parser does."""
    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    return [chunk for chunk in chunks if chunk]


def parse_statements(
    sql: str, original: str | None = None, file: str | None = None, dialect_name: str = DIALECT
) -> tuple[list[Statement], list[Problem]]:
    """Tokenize and parse `sql` (in sqlglot's `dialect_name`, DuckDB's by default) into
    statements; report every syntax error.

    `sql` is the templated SQL; `original` (same offsets) is what messages quote.
    """
    original = sql if original is None else original
    dialect = Dialect.get_or_raise(dialect_name)
    tokenizer = dialect.tokenizer()
    try:
        tokens = tokenizer.tokenize(sql)
    except TokenError as error:
        offset = _token_error_offset(tokenizer, error)
        if offset is None or offset >= len(original):
            return [], [Problem(rule=RULE, message=f"cannot read the SQL: {error}", file=file)]
        opener = original[offset : offset + 2]
        what = (
            "comment"
            if opener == "/*"
            else "string"
            if opener[:1] in ("'", "$")
            else "quoted identifier"
            if opener[:1] == '"'
            else None
        )
        message = f"unterminated {what}" if what else f"cannot read the SQL at {opener[:1]!r}"
        return [], [
            _problem_at(
                message,
                original,
                offset,
                offset + len(opener) - 1 if what == "comment" else offset,
                identifier=opener if what == "comment" else opener[:1],
                suggestion=f"Close the {what} that starts here." if what else None,
                file=file,
            )
        ]
    nesting = _nesting_problem(tokens, original, file)
    if nesting is not None:
        return [], [nesting]
    statements: list[Statement] = []
    problems: list[Problem] = []
    for chunk in _chunks(tokens):
        start, end = chunk[0].start, chunk[-1].end
        keyword = " ".join(original[start : chunk[0].end + 1].upper().split())
        parser = dialect.parser(error_level=ErrorLevel.RAISE, max_errors=20)
        tree = None
        try:
            # Within the nesting limit the recursive parser needs about 27 frames per level.
            with quiet_sqlglot(), limits.recursion_headroom():
                trees = parser.parse(chunk, sql)
            tree = trees[0] if trees else None
        except RecursionError:
            problems.append(
                _problem_at(
                    "the SQL nests too deeply to be read",
                    original,
                    start,
                    chunk[0].end,
                    identifier=keyword.split()[0] if keyword else None,
                    suggestion="Move inner expressions into CTEs; no model needs to nest this deep.",
                    file=file,
                )
            )
        except ParseError as error:
            first_word = keyword.split()[0] if keyword else ""
            if first_word and first_word not in QUERY_STARTS:
                # Not a query at all (EXPORT DATABASE ...): say that, not how it fails to parse.
                tree = exp.Command(this=first_word, expression=exp.Literal.string(original[start : end + 1]))
            else:
                problems.extend(_parse_error_problems(error, sql, original, file))
        if tree is not None and _tree_depth(tree) > limits.MAX_SQL_TREE_DEPTH:
            problems.append(
                _problem_at(
                    f"the SQL's expression tree is more than {limits.MAX_SQL_TREE_DEPTH:,} levels deep",
                    original,
                    start,
                    chunk[0].end,
                    identifier=keyword.split()[0] if keyword else None,
                    suggestion="Split long chains of and/or/+/|| into CTEs, or use in (...) lists.",
                    file=file,
                )
            )
            tree = None
        if tree is not None and dialect_name == "duckdb":
            # DuckDB's own refusals that sqlglot parses anyway (Spark writes lambdas x -> f(x)).
            problems.extend(_clause_order_problems(tree, original, file))
            problems.extend(_arrow_lambda_problems(tree, original, file))
        statements.append(Statement(tree=tree, start=start, end=end, keyword=keyword))
    return statements, problems


def statement_kind(statement: Statement) -> str:
    """How to name a statement in messages: `CREATE`, `PRAGMA`, `COPY`, ..."""
    tree = statement.tree
    if isinstance(tree, exp.Command) and tree.this:
        return str(tree.this).upper()
    return statement.keyword or "nothing"


def is_query(tree: exp.Expression | None) -> bool:
    if isinstance(tree, exp.Subquery):
        return is_query(tree.unnest())
    return isinstance(tree, QUERY_TYPES)


class ParseRule(Rule):
    """The SQL is one DuckDB select (CTEs, set operations) with only ref()/source() Jinja."""

    name = RULE

    def check(self, ctx: GateContext) -> list[Problem]:
        file = ctx.proposal.sql_file
        if len(ctx.sql) > limits.MAX_SQL_CHARS:
            return [
                Problem(
                    rule=RULE,
                    message=f"the SQL has {len(ctx.sql):,} characters; the limit is {limits.MAX_SQL_CHARS:,}",
                    file=file,
                    suggestion="Split the model into smaller models that ref() each other.",
                )
            ]
        jinja = _jinja_problems(ctx.sql, file)
        if jinja:
            return jinja
        with warnings.catch_warnings():
            # untemplate reads `{{ ... }}` with Python's own parser, which warns on stderr
            # about things like `1abc`; the gate reports what is wrong itself.
            warnings.simplefilter("ignore", SyntaxWarning)
            templated, problems = untemplate(ctx.sql, file=file)
        ctx.templated = templated
        statements, syntax = parse_statements(templated.sql, ctx.sql, file, ctx.dialect.sqlglot)
        ctx.statements = statements
        problems.extend(syntax)
        if not statements and not syntax:
            problems.append(
                Problem(
                    rule=RULE,
                    message="expected one select statement, got no SQL",
                    file=file,
                    suggestion="Write a select statement.",
                )
            )
            return problems
        if statements:
            first = statements[0]
            ctx.tree = first.tree
            if first.tree is not None and not is_query(first.tree):
                problems.append(
                    _problem_at(
                        f"expected one select statement, got {statement_kind(first)}",
                        ctx.sql,
                        first.start,
                        first.start + len(first.keyword.split()[0]) - 1 if first.keyword else first.start,
                        identifier=statement_kind(first),
                        suggestion=PIVOT_ADVICE
                        if statement_kind(first) in ("PIVOT", "UNPIVOT")
                        else "A model is a single select (with CTEs if needed); dbt creates the table or view.",
                        file=file,
                    )
                )
        for extra in statements[1:]:
            problems.append(
                _problem_at(
                    f"expected one select statement, got a second statement ({statement_kind(extra)})",
                    ctx.sql,
                    extra.start,
                    extra.start + max(len(extra.keyword.split()[0]) if extra.keyword else 1, 1) - 1,
                    identifier=statement_kind(extra),
                    suggestion="Remove everything after the first statement; combine queries with CTEs or union all.",
                    file=file,
                )
            )
        return problems

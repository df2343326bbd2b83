"""Where a node is in the proposal's SQL, and how to name things in messages.

sqlglot records token offsets on identifiers, literals and most function calls, but not
on keyword-only nodes (`LIMIT`, `USING SAMPLE`, `CURRENT_DATE`, `UNNEST`, ...). For those
we look for the keyword's token in the (placeholder-substituted, same-length) SQL.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError

from generator.sql.templating import TemplatedSQL

# The default dialect: DuckDB's. Callers with a gate context pass `ctx.dialect.sqlglot`.
DIALECT = "duckdb"
PLACEHOLDER = re.compile(r"^__gm\d+_+$")

# Keyword tokens that stand for nodes without positions of their own.
_KEYWORDS: dict[type, tuple[str, ...]] = {
    exp.Limit: ("LIMIT",),
    exp.Fetch: ("FETCH",),
    exp.Offset: ("OFFSET",),
    exp.TableSample: ("USING SAMPLE", "TABLESAMPLE", "SAMPLE"),
    exp.Unnest: ("UNNEST",),
    exp.Order: ("ORDER BY",),
    exp.Where: ("WHERE",),
    exp.From: ("FROM",),
    exp.Join: ("JOIN",),
    exp.Having: ("HAVING",),
    exp.Group: ("GROUP BY",),
    exp.Distinct: ("DISTINCT",),
    exp.Qualify: ("QUALIFY",),
    exp.CurrentDate: ("CURRENT_DATE", "TODAY"),
    exp.CurrentTimestamp: ("CURRENT_TIMESTAMP", "NOW", "GET_CURRENT_TIMESTAMP"),
    exp.CurrentTime: ("CURRENT_TIME", "GET_CURRENT_TIME"),
    exp.Localtimestamp: ("LOCALTIMESTAMP",),
    exp.Localtime: ("LOCALTIME",),
    exp.CurrentUser: ("CURRENT_USER",),
    exp.SessionUser: ("SESSION_USER",),
    exp.CurrentCatalog: ("CURRENT_CATALOG",),
}


def _inner_span(node: exp.Expression, sql: str) -> tuple[int, int] | None:
    """The first positioned token inside a node (sqlglot's invented `*` of `(from t)` has
    position 0; it counts only where the text has a star)."""
    best: tuple[int, int] | None = None
    for child in node.walk():
        meta = child._meta
        if not meta or "start" not in meta:
            continue
        if isinstance(child, exp.Star) and sql[meta["start"] : meta["start"] + 1] != "*":
            continue
        if best is None or meta["start"] < best[0]:
            best = (meta["start"], meta["end"])
    return best


@lru_cache(maxsize=64)
def _tokens(sql: str, dialect: str = DIALECT) -> tuple:
    try:
        return tuple(Dialect.get_or_raise(dialect).tokenize(sql))
    except TokenError:
        return ()


def _keyword_tokens(sql: str, keywords: tuple[str, ...], dialect: str = DIALECT) -> list:
    wanted = {keyword.upper() for keyword in keywords}
    result = []
    for token in _tokens(sql, dialect):
        text = " ".join(sql[token.start : token.end + 1].upper().split())
        if text in wanted:
            result.append(token)
    return result


def span(node: exp.Expression | None, sql: str, dialect: str = DIALECT) -> tuple[int, int] | None:
    """Character range of `node` in `sql` (the templated SQL, same offsets as the original),
    tokenized in `dialect` (sqlglot's name) where a keyword must be found."""
    if node is None:
        return None
    meta = node._meta
    if meta and "start" in meta:
        return meta["start"], meta["end"]
    keywords = next((words for kind, words in _KEYWORDS.items() if isinstance(node, kind)), None)
    inner = _inner_span(node, sql)
    if keywords:
        candidates = _keyword_tokens(sql, keywords, dialect)
        if inner is not None:
            # The keyword that opens this clause is the last one before its contents.
            before = [token for token in candidates if token.end < inner[0]]
            if before:
                return _with_using(sql, before[-1], dialect)
        elif candidates:
            # A node without positioned children (CURRENT_DATE): match by occurrence order.
            root = node.root()
            same = [other for other in root.walk(bfs=False) if type(other) is type(node)]
            index = next((i for i, other in enumerate(same) if other is node), 0)
            token = candidates[min(index, len(candidates) - 1)]
            return token.start, token.end
    if isinstance(node, exp.Func) and inner is not None:
        name = _function_token(sql, inner[0], dialect)
        if name is not None:
            return name
    if isinstance(node, (exp.Column, exp.Table)):
        parts = [part for part in node.parts if part._meta and "start" in part._meta]
        if parts:
            return parts[0].meta["start"], parts[-1].meta["end"]
    return inner


def _with_using(sql: str, token, dialect: str = DIALECT) -> tuple[int, int]:
    """`USING SAMPLE` is two tokens: point at both."""
    if sql[token.start : token.end + 1].upper() == "SAMPLE":
        previous = [t for t in _tokens(sql, dialect) if t.end < token.start]
        if previous and sql[previous[-1].start : previous[-1].end + 1].upper() == "USING":
            return previous[-1].start, token.end
    return token.start, token.end


def _function_token(sql: str, contents_start: int, dialect: str = DIALECT) -> tuple[int, int] | None:
    """The name of the call whose arguments start at `contents_start`: `name (` before it."""
    tokens = [t for t in _tokens(sql, dialect) if t.end < contents_start]
    for back in range(1, min(4, len(tokens)) + 1):
        token = tokens[-back]
        if sql[token.start : token.end + 1] == "(" and back < len(tokens):
            name = tokens[-back - 1]
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", sql[name.start : name.end + 1]):
                return name.start, name.end
            return None
    return None


def source_text(node: exp.Expression, sql: str) -> str | None:
    """The text a positioned node covers in `sql` (a function's name as the author wrote it)."""
    meta = node._meta
    if meta and "start" in meta:
        return sql[meta["start"] : meta["end"] + 1]
    return None


def function_name(node: exp.Expression, sql: str, dialect: str = DIALECT) -> str:
    """A function call's name, lowercase, as written (sqlglot renames many functions)."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    where = span(node, sql, dialect)
    written = sql[where[0] : where[1] + 1] if where else None
    if written and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", written):
        return written.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return node.key.lower()


def is_placeholder(name: str | None) -> bool:
    return bool(name) and bool(PLACEHOLDER.match(name))


def display_sql(node: exp.Expression, templated: TemplatedSQL | None, dialect: str = DIALECT) -> str:
    """SQL of a node for messages (in `dialect`), with placeholders shown as the ref()/source() they are."""
    text = node.sql(dialect=dialect)
    if templated is not None:
        for call in templated.calls:
            text = text.replace(call.placeholder, call.display())
    return text


def display_name(name: str, templated: TemplatedSQL | None) -> str:
    """A table name for messages: a placeholder is shown as its ref()/source() call."""
    if templated is not None:
        call = templated.call_for(name)
        if call is not None:
            return call.display()
    return name

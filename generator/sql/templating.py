"""Jinja in proposals: only `{{ ref() }}` and `{{ source() }}`, swapped for placeholders.

sqlglot cannot parse Jinja, so each call is replaced by a plain identifier of the *same
length* (newlines kept), and positions sqlglot reports are positions in the original SQL.
After formatting, placeholders are restored as canonical Jinja.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from generator.errors import Problem

# Each Jinja opener and the closer that ends it.
JINJA_CLOSERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
_PLACEHOLDER = re.compile(r"__gm\d+_+")


@dataclass(frozen=True)
class RefCall:
    """One `ref()` or `source()` call found in a proposal's SQL."""

    kind: str  # "ref" | "source"
    args: tuple[str, ...]  # ref: (name,) or (package, name); source: (source_name, table_name)
    version: int | None
    text: str
    start: int
    end: int
    placeholder: str

    @property
    def name(self) -> str:
        """The model name (ref) or table name (source)."""
        return self.args[-1]

    @property
    def package(self) -> str | None:
        return self.args[0] if self.kind == "ref" and len(self.args) == 2 else None

    @property
    def source_name(self) -> str | None:
        return self.args[0] if self.kind == "source" else None

    def jinja(self) -> str:
        """Canonical Jinja for this call: `{{ ref('x') }}`, `{{ ref('x', v=2) }}`, ..."""
        quoted = ", ".join(f"'{arg}'" for arg in self.args)
        if self.version is not None:
            quoted += f", v={self.version}"
        return "{{ " + f"{self.kind}({quoted})" + " }}"

    def display(self) -> str:
        """Short form for messages: `ref('x')`."""
        return self.jinja()[3:-3]


@dataclass(frozen=True)
class TemplatedSQL:
    """A proposal's SQL with every Jinja call replaced by a same-length placeholder."""

    original: str
    sql: str
    calls: tuple[RefCall, ...]

    def call_for(self, identifier: str) -> RefCall | None:
        """The ref/source call a placeholder identifier stands for, if it is one."""
        for call in self.calls:
            if call.placeholder == identifier:
                return call
        return None

    def restore(self, sql: str) -> str:
        """Replace placeholders in (reformatted) SQL with canonical Jinja calls."""
        by_placeholder = {call.placeholder: call for call in self.calls}

        def swap(match: re.Match) -> str:
            call = by_placeholder.get(match.group(0))
            return call.jinja() if call else match.group(0)

        return _PLACEHOLDER.sub(swap, sql)


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def highlight(text: str, start: int, end: int | None = None) -> str:
    """The source line holding `start`, with a caret underline under start..end."""
    start = max(0, min(start, len(text)))
    end = start if end is None else max(start, min(end, len(text) - 1))
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    line_end = len(text) if line_end == -1 else line_end
    source_line = text[line_start:line_end]
    width = max(1, min(end, line_end - 1) - start + 1)
    return f"    {source_line}\n    {' ' * (start - line_start)}{'^' * width}"


def problem_at(
    rule: str,
    message: str,
    text: str,
    start: int,
    end: int | None = None,
    *,
    identifier: str | None = None,
    suggestion: str | None = None,
    file: str | None = None,
) -> Problem:
    """A Problem located at a character range of the proposal's SQL."""
    line, col = line_col(text, start)
    return Problem(
        rule=rule,
        message=message,
        file=file,
        line=line,
        col=col,
        identifier=identifier,
        suggestion=suggestion,
        highlight=highlight(text, start, end),
    )


def _placeholder_for(index: int, text: str) -> str:
    """A same-length, newline-preserving identifier standing for `text`."""
    first_line = text.split("\n", 1)[0]
    name = f"__gm{index}_"
    name += "_" * max(0, len(first_line) - len(name))
    rest = text[len(first_line) :]
    return name + "".join("\n" if char == "\n" else " " for char in rest)


def _parse_call(inner: str) -> tuple[str, tuple[str, ...], int | None] | str:
    """Parse the inside of `{{ ... }}` as a ref/source call; a string is an error message."""
    try:
        node = ast.parse(inner.strip(), mode="eval").body
    except SyntaxError:
        return "is not a valid ref() or source() call"
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return "is not a ref() or source() call"
    kind = node.func.id
    if kind not in ("ref", "source"):
        return f"calls {kind}(); only ref() and source() are allowed"
    args = []
    for arg in node.args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value):
            return f"{kind}() takes string literals only"
        args.append(arg.value)
    version = None
    for keyword in node.keywords:
        if kind != "ref" or keyword.arg not in ("v", "version"):
            return f"{kind}() does not take the argument {keyword.arg!r}"
        value = keyword.value
        if not isinstance(value, ast.Constant) or isinstance(value.value, bool):
            return "ref(..., v=N) takes a literal version number"
        try:
            version = int(value.value)
        except (TypeError, ValueError):
            return "ref(..., v=N) takes a literal version number"
    if kind == "ref" and len(args) not in (1, 2):
        return "ref() takes a model name, optionally preceded by a package name"
    if kind == "source" and len(args) != 2:
        return "source() takes exactly two arguments: source name and table name"
    return kind, tuple(args), version


def jinja_spans(sql: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each `{{ }}`, `{% %}` and `{# #}` in `sql`, left to right, in linear time.

    What the lazy regex `{{.*?}}|{%.*?%}|{#.*?#}` finds, without its quadratic rescans: an
    opener with no closer after it makes the regex scan to the end once per such opener
    (minutes on 100 KB of `{{` in a hand-written model). Once a closer is missing after one
    position it is missing after every later one, so each kind is searched for in vain once.
    """
    unclosed: set[str] = set()
    position = 0
    while True:
        opener = sql.find("{", position)
        if opener == -1:
            return
        pair = sql[opener : opener + 2]
        closer = JINJA_CLOSERS.get(pair)
        if closer is None or pair in unclosed:
            position = opener + 1
            continue
        end = sql.find(closer, opener + 2)
        if end == -1:
            unclosed.add(pair)
            position = opener + 1
            continue
        yield opener, end + 2
        position = end + 2


def untemplate(sql: str, file: str | None = None) -> tuple[TemplatedSQL, list[Problem]]:
    """Swap ref()/source() calls for placeholders; report every other piece of Jinja."""
    problems: list[Problem] = []
    calls: list[RefCall] = []
    pieces: list[str] = []
    last = 0
    for start, end in jinja_spans(sql):
        text = sql[start:end]
        pieces.append(sql[last:start])
        last = end
        if not text.startswith("{{"):
            kind = "statements ({% ... %})" if text.startswith("{%") else "comments ({# ... #})"
            problems.append(
                problem_at(
                    "parse",
                    f"Jinja {kind} are not allowed in a proposal",
                    sql,
                    start,
                    end - 1,
                    identifier=text,
                    suggestion="Write plain SQL; the only Jinja allowed is {{ ref() }} and {{ source() }}.",
                    file=file,
                )
            )
            pieces.append("".join("\n" if char == "\n" else " " for char in text))
            continue
        parsed = _parse_call(text[2:-2])
        if isinstance(parsed, str):
            problems.append(
                problem_at(
                    "parse",
                    f"Jinja expression {text.strip()!r} {parsed}",
                    sql,
                    start,
                    end - 1,
                    identifier=text,
                    suggestion="Use {{ ref('model') }} or {{ source('source', 'table') }}.",
                    file=file,
                )
            )
            pieces.append(_placeholder_for(len(calls) + 9000, text))
            continue
        kind, args, version = parsed
        placeholder = _placeholder_for(len(calls), text)
        calls.append(
            RefCall(
                kind=kind,
                args=args,
                version=version,
                text=text,
                start=start,
                end=end,
                placeholder=placeholder.split()[0] if placeholder.strip() else placeholder,
            )
        )
        pieces.append(placeholder)
    pieces.append(sql[last:])
    leftover = "".join(pieces)
    for marker in ("{{", "}}", "{%", "%}"):
        position = leftover.find(marker)
        if position != -1:
            problems.append(
                problem_at(
                    "parse",
                    f"unbalanced Jinja delimiter {marker!r}",
                    sql,
                    position,
                    position + 1,
                    identifier=marker,
                    suggestion="Close every {{ with }}.",
                    file=file,
                )
            )
    return TemplatedSQL(original=sql, sql=leftover, calls=tuple(calls)), problems

"""Layout of generated Python: the line wrapper, docstrings, comments, literals.

Compiled models must pass `ruff check` and `ruff format --check` at LINE_LENGTH, and be
byte-identical across runs, so the compiler formats its own output instead of running a
formatter: `wrap` splits a logical line the way ruff (black) would.
"""

from __future__ import annotations

import re
import textwrap

from generator.enrich.expressions import py_literal

LINE_LENGTH = 100


def _code(text: str) -> list[tuple[int, str, int]]:
    """(index, char, depth) of each character of one line of Python source outside its
    string literals (the quotes themselves left out). `depth` counts the brackets around the
    character, so an opening bracket and its closing one share the depth outside them."""
    out, depth, quote, index = [], 0, None, 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 2  # an escaped character, a quote say, never ends the string
                continue
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        else:
            depth -= char in ")]}"
            out.append((index, char, depth))
            depth += char in "([{"
        index += 1
    return out


def _brackets(text: str) -> list[tuple[int, int]]:
    """(open, close) index pairs of the top-level brackets of one line of Python source."""
    opens = [index for index, char, depth in _code(text) if depth == 0 and char in "([{"]
    closes = [index for index, char, depth in _code(text) if depth == 0 and char in ")]}"]
    return list(zip(opens, closes, strict=False))


def _split_commas(text: str) -> list[str]:
    """Split source on its top-level commas (an empty last part is dropped)."""
    commas = [index for index, char, depth in _code(text) if depth == 0 and char == ","]
    bounds = zip([-1, *commas], [*commas, len(text)], strict=True)
    parts = [text[start + 1 : end].strip() for start, end in bounds]
    return parts if parts[-1] else parts[:-1]


def _top_level(text: str) -> list[tuple[int, str]]:
    """(index, char) of the characters outside strings and brackets."""
    return [(index, char) for index, char, depth in _code(text) if depth == 0 and char not in "([{)]}"]


def _fluent(line: str, indent: str) -> list[str] | None:
    """A method chain with two or more calls after its head, one call per line (ruff's style).

    Only for a value inside brackets (a keyword argument, a dict or list item), which is
    where the compiler puts expressions.
    """
    match = re.match(r'([A-Za-z_][A-Za-z0-9_]*=(?!=)|"[^"]*": )?(.*?)(,?)$', line)
    if not match:
        return None
    prefix, value, comma = match.groups()
    prefix = prefix or ""
    top = _top_level(value)
    if any(char in " ~-" for _, char in top):
        return None  # an operator at the top: not a pure chain
    dots = [index for index, char in top if char == "."]
    parts, start = [], 0
    for dot in dots:
        parts.append(value[start:dot])
        start = dot
    parts.append(value[start:])
    links: list[str] = []
    for part in parts:
        if links and not links[-1].endswith(")"):
            links[-1] += part  # `.str` joins the call that follows it
        else:
            links.append(part)
    head_end = next((i for i, link in enumerate(links) if link.endswith(")")), None)
    if head_end is None:
        return None
    head, rest = "".join(links[: head_end + 1]), links[head_end + 1 :]
    if sum(link.endswith(")") for link in rest) < 2:
        return None
    lines = wrap(prefix + head, indent)
    for position, link in enumerate(rest):
        last = position == len(rest) - 1
        lines.extend(wrap(link + (comma if last else ""), indent))
    return lines


def wrap(line: str, indent: str) -> list[str]:
    """Fit one logical line into LINE_LENGTH by splitting its last bracket, black-style."""
    if len(indent) + len(line) <= LINE_LENGTH:
        return [indent + line]
    fluent = _fluent(line, indent)
    if fluent is not None:
        return fluent
    for start, end in reversed(_brackets(line)):
        head, body, tail = line[: start + 1], line[start + 1 : end], line[end:]
        if not body.strip() or len(indent) + len(head) > LINE_LENGTH:
            continue
        inner = indent + "    "
        items = _split_commas(body)
        lines = [indent + head]
        if len(items) > 1 or body.rstrip().endswith(","):
            single = ", ".join(items)
            if len(inner) + len(single) <= LINE_LENGTH and not body.rstrip().endswith(","):
                lines.append(inner + single)
            else:
                for item in items:
                    lines.extend(wrap(item + ",", inner))
        else:
            lines.extend(wrap(items[0], inner))
        lines.extend(wrap(tail, indent) if len(indent) + len(tail) > LINE_LENGTH else [indent + tail])
        return lines
    return [indent + line]  # nothing to split: leave it, ruff will say so


def wrapped(text: str, indent: str) -> str:
    """`text` wrapped at `indent`, as lines ending in a newline."""
    return "\n".join(wrap(text, indent)) + "\n"


def parenthesised(source: str) -> str:
    """Source safe to call a method on."""
    depth = 0
    for char in source:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and char in " ~-":
            return f"({source})"
    return source


def docstring(text: str, indent: str = "") -> str:
    """Wrap prose into a docstring body (Jinja markers defused: dbt renders model code)."""
    safe = text.replace("{{", "{ {").replace("{%", "{ %").replace("{#", "{ #")
    safe = safe.replace("\\", "\\\\")
    safe = '"""' + safe[3:].replace('"""', "'''") if safe.startswith('"""') else safe.replace('"""', "'''")
    return "\n".join(
        textwrap.wrap(
            safe,
            width=LINE_LENGTH - len(indent),
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )
    )


def one_docstring(text: str, indent: str) -> str:
    """A complete docstring: on one line when it fits, else wrapped with the quotes alone."""
    single = f'{indent}"""{text}"""'
    if len(single) <= LINE_LENGTH:
        return single + "\n"
    return docstring('"""' + text, indent) + f'\n{indent}"""\n'


def comment(text: str, indent: str = "") -> str:
    """Prose as `#` comment lines at `indent` (Jinja markers defused)."""
    safe = text.replace("{{", "{ {").replace("{%", "{ %").replace("{#", "{ #")
    return "\n".join(
        textwrap.wrap(
            safe,
            width=LINE_LENGTH - len(indent),
            initial_indent=indent + "# ",
            subsequent_indent=indent + "# ",
            break_on_hyphens=False,
        )
    )


def py_list(values) -> str:
    """A Python list literal of `values`."""
    return "[" + ", ".join(py_literal(value) for value in values) + "]"


def split_words(text: str, width: int = 80) -> list[str]:
    """Text cut at spaces into pieces of `width` that join back into it."""
    parts = textwrap.wrap(text, width=width, break_on_hyphens=False)
    return [part + (" " if index < len(parts) - 1 else "") for index, part in enumerate(parts)]

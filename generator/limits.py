"""Input limits: what gen-model reads is bounded before any parsing work is done on it.

Proposal files, LLM answers, lockfiles and SQL are untrusted. Parsers recurse (PyYAML's
composer, sqlglot's parser, jsonschema), YAML aliases expand (446 bytes of nested anchors
become gigabytes) and some scans are quadratic in the worst case, so every input is first
checked against the limits below with cheap, linear, non-recursive scans, and refused with
a located error that says what to do. The README documents the same numbers.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import yaml

from generator.errors import GenModelError, Problem

RULE = "input"

# Time: the default bound on one query of the dry run, the row search or a port proof, either engine.
QUERY_TIMEOUT_S = 60.0

MAX_PROPOSAL_BYTES = 1_000_000  # a proposal file; a real one is a few kilobytes
MAX_LOCKFILE_BYTES = 64_000_000  # gen_model.lock; about 4 KB per model version
MAX_DATA_DEPTH = 32  # nested mappings/lists in a proposal or lockfile (a spec needs about 6)
MAX_DATA_NODES = 200_000  # values in one proposal (a 1,000-column proposal has about 3,000)
MAX_SQL_CHARS = 100_000  # a proposal's SQL
MAX_SQL_NESTING = 32  # open ( [ { and CASE ... END, plus chained unary operators, in SQL
MAX_SQL_TREE_DEPTH = 2_000  # depth of the parsed SQL tree (long `a or b or ...` chains)
MAX_JINJA_CHARS = 500  # one {{ ref(...) }} / {{ source(...) }} call
MAX_COLUMNS = 1_000  # output columns of one proposal
MAX_NAME_CHARS = 255  # a column name (a model name has its own limit of 63)
MAX_DESCRIPTION_CHARS = 4_000  # the model's description, a column's, the request

# Parsing at the nesting limit needs about 27 Python frames per level (sqlglot's
# recursive descent); this leaves room for the caller's own stack above it.
RECURSION_HEADROOM = 5_000


def file_size_problem(path: Path, limit: int, what: str) -> Problem | None:
    """A problem if the file at `path` is larger than `limit` bytes (checked before reading)."""
    size = Path(path).stat().st_size
    if size <= limit:
        return None
    return Problem(
        rule=RULE,
        message=f"{what} is {size:,} bytes; the limit is {limit:,}",
        file=str(path),
        suggestion="Check that this is the right file; a real one is far smaller.",
    )


def read_limited(path: Path, limit: int, what: str, error: type[GenModelError]) -> bytes:
    """The bytes of `path`, refused with `error` when larger than `limit`."""
    problem = file_size_problem(path, limit, what)
    if problem is None:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)  # the file may have grown since stat()
        if len(data) <= limit:
            return data
        problem = Problem(rule=RULE, message=f"{what} is over the limit of {limit:,} bytes", file=str(path))
    raise error(f"{path} is too large", [problem])


def _line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset) + 1
    col = offset - (data.rfind(newline, 0, offset) + 1) + 1
    return line, col


def decode_text(data: bytes, file: str, what: str, error: type[GenModelError], fix: str) -> str:
    """UTF-8 text from `data`, or `error` located at the first byte that is not text.

    A leading byte-order mark is dropped (editors on Windows write one).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as failure:
        line, col = _line_col(data, failure.start)
        raise error(
            f"{file} is not UTF-8 text ({what})",
            [
                Problem(
                    rule=RULE,
                    message=f"byte 0x{data[failure.start]:02x} is not valid UTF-8: "
                    "a binary file, or text in another encoding",
                    file=file,
                    line=line,
                    col=col,
                    suggestion=fix,
                )
            ],
        ) from None
    nul = text.find("\x00")
    if nul != -1:
        line, col = _line_col(text, nul)
        raise error(
            f"{file} is not a text file ({what})",
            [
                Problem(
                    rule=RULE,
                    message="a NUL character: this is a binary file",
                    file=file,
                    line=line,
                    col=col,
                    suggestion=fix,
                )
            ],
        )
    return text


def yaml_shape_problem(
    text: str,
    file: str,
    *,
    max_depth: int = MAX_DATA_DEPTH,
    max_expanded: int | None = None,
    unique_keys: bool = False,
) -> Problem | None:
    """A problem if the YAML nests deeper than `max_depth`, or uses aliases.

    With `max_expanded` None, anchors and aliases are refused outright; otherwise they are
    allowed as long as the document, every alias expanded, stays under `max_expanded`
    values and `max_depth` levels (the billion-laughs attack expands 446 bytes into
    gigabytes). With `unique_keys`, a plain key repeated in one mapping is a problem
    (YAML loaders silently keep the last one).

    Scans the event stream (PyYAML's parser is a state machine, not recursive), so this is
    linear and safe on any input; syntax errors are left to the loader, which locates them.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _scan_yaml(text, file, fast, max_depth, max_expanded, unique_keys)
        except yaml.YAMLError as error:
            # libyaml looks far ahead in `[[[[...` and gives up at 1,000 levels before it
            # yields an event; PyYAML's own parser yields them as it goes, so the depth
            # limit is found. Any other syntax error is left to the loader, which locates it.
            if "nesting depth" not in str(error):
                return None
    try:
        return _scan_yaml(text, file, yaml.SafeLoader, max_depth, max_expanded, unique_keys)
    except yaml.YAMLError:
        return None


def _scan_yaml(text, file, loader, max_depth, max_expanded, unique_keys) -> Problem | None:
    """yaml_shape_problem's scan with one parser; YAML syntax errors propagate."""
    # Per open collection: [expanded size so far, deepest level below it, anchor, keys seen
    # (mappings, with unique_keys), whether the next scalar is a key].
    stack: list[list] = []
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (expanded size, depth) of its node
    total = 0

    def where(mark) -> dict:
        return {"file": file, "line": mark.line + 1 if mark else None, "col": mark.column + 1 if mark else None}

    def add(size: int, depth: int) -> None:
        nonlocal total
        if stack:
            stack[-1][0] += size
            stack[-1][1] = max(stack[-1][1], depth)
        else:
            total += size

    def too_deep(mark) -> Problem:
        return Problem(
            rule=RULE,
            message=f"mappings and lists nested more than {max_depth} deep",
            suggestion="Flatten the structure; no valid input nests this deep.",
            **where(mark),
        )

    for event in yaml.parse(text, Loader=loader):
        anchor = getattr(event, "anchor", None)
        if max_expanded is None and (isinstance(event, yaml.AliasEvent) or anchor):
            return Problem(
                rule=RULE,
                message="YAML anchors and aliases (&name, *name, <<: *name) are not accepted here",
                identifier=anchor,
                suggestion="Write each value out in full.",
                **where(event.start_mark),
            )
        if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)) and stack and stack[-1][3] is not None:
            top = stack[-1]
            if top[4] and isinstance(event, yaml.ScalarEvent):
                if event.value in top[3]:
                    return Problem(
                        rule=RULE,
                        message=f"duplicate key {event.value[:80]!r} (a YAML loader keeps only the last one)",
                        identifier=event.value[:80],
                        suggestion="Keep one of them: a merge may have left both.",
                        **where(event.start_mark),
                    )
                top[3].add(event.value)
            top[4] = not top[4]
        if isinstance(event, yaml.AliasEvent):
            size, depth = sizes.get(event.anchor, (1, 0))
            add(size, depth)
        elif isinstance(event, yaml.ScalarEvent):
            add(1, 0)
            if anchor:
                sizes[anchor] = (1, 0)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if stack and stack[-1][3] is not None:
                stack[-1][4] = not stack[-1][4]
            keys = set() if unique_keys and isinstance(event, yaml.MappingStartEvent) else None
            stack.append([1, 0, anchor, keys, True])
            if len(stack) > max_depth:
                return too_deep(event.start_mark)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            size, depth, anchor, _, _ = stack.pop()
            depth += 1
            if anchor:
                sizes[anchor] = (size, depth)
            add(size, depth)
            if len(stack) + depth > max_depth:
                return too_deep(event.start_mark)
        if max_expanded is not None and total + sum(item[0] for item in stack) > max_expanded:
            return Problem(
                rule=RULE,
                message=f"its aliases expand to more than {max_expanded:,} values",
                suggestion="Write the values out in full instead of through aliases.",
                **where(event.start_mark),
            )
    return None


def data_shape_problem(
    data: object, file: str | None, *, max_depth: int = MAX_DATA_DEPTH, max_chars: int | None = None
) -> Problem | None:
    """A problem if plain data (parsed JSON/YAML, an LLM's tool input) nests too deep or is huge.

    Iterative, so it is safe on data that would make a recursive walker (jsonschema) fail.
    """
    stack: list[tuple[object, int, str]] = [(data, 0, "")]
    seen = 0
    while stack:
        value, depth, path = stack.pop()
        seen += 1
        if seen > MAX_DATA_NODES:
            return Problem(rule=RULE, message=f"more than {MAX_DATA_NODES:,} values", file=file)
        if depth > max_depth:
            return Problem(
                rule=RULE,
                message=f"mappings and lists nested more than {max_depth} deep at {path or '<top>'}",
                file=file,
                suggestion="Flatten the structure; no valid input nests this deep.",
            )
        if max_chars is not None and isinstance(value, str) and len(value) > max_chars:
            return Problem(
                rule=RULE,
                message=f"{path or '<top>'} has {len(value):,} characters; no value may exceed {max_chars:,}",
                file=file,
                suggestion="Shorten it; no name, description or SQL needs this much.",
            )
        if isinstance(value, dict):
            keys = ((str(key)[:40], item) for key, item in value.items())
            stack.extend((item, depth + 1, f"{path}.{key}" if path else key) for key, item in keys)
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1, f"{path}[{index}]") for index, item in enumerate(value))
    return None


@contextlib.contextmanager
def recursion_headroom(limit: int = RECURSION_HEADROOM):
    """Raise Python's recursion limit for a bounded recursive parse, then restore it."""
    previous = sys.getrecursionlimit()
    if previous >= limit:
        yield
        return
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)

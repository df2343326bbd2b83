"""Tests added to a model's properties YAML without disturbing it.

Every line a person wrote stays byte-identical: ruamel only *reads* the file, for the line
and column of each place a test goes (the column's mapping, its `data_tests` list, the
model's or its version's entry, the top-level `unit_tests:`), and the new tests are
inserted there as text, indented like the lines around them, their lines ending as the file's
mostly do (CRLF in a file written on Windows). A new test is appended under its column (or
the model, or the model's version), a unit test under `unit_tests:`.

The one exception: what the tests go into written in flow style, `data_tests: [a, b]`,
`- {name: id, description: x}`, `columns: [{name: id}]`, `unit_tests: []`. A mapping does
not read well inside [...] or {...}, so that one flow collection (the outermost around the
new tests) is rewritten in block style, its own lines only; a comment after it stays on its
first line, and the collections inside it the tests do not go into keep their flow style.

The file is never dumped whole (that would re-lay-out everything a person wrote): where even
that one rewrite would lose something (an anchor or alias where the tests go, a merge key, a
comment inside `{...}`, a second YAML document), the file is left as it is and a WriteError
says where and what to change by hand. A new (empty) file is laid out by a ruamel dump.
Values from the warehouse are written inert (generator.write.inert).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from generator.errors import ConfigError, Problem, WriteError
from generator.testgen.datatests import DataTest
from generator.testgen.unit_runner import UnitTest
from generator.write.inert import make_inert
from generator.write.writer import compact_test, compact_unit_test


def _yaml(text: str) -> tuple[YAML, object]:
    from ruamel.yaml.util import load_yaml_guess_indent

    _, indent, offset = load_yaml_guess_indent(text) if text.strip() else (None, 4, 2)
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.preserve_quotes = True
    sequence = indent or 4
    yaml.indent(mapping=2, sequence=sequence, offset=offset if offset is not None else max(0, sequence - 2))
    return yaml, (yaml.load(text) if text.strip() else None)


def unit_test_yaml(unit_test: UnitTest) -> CommentedMap:
    """The unit test for YAML: rows one per line (flow mappings), as people write them."""
    # Rows come from the warehouse: what dbt would render is written inert (generator.write.inert).
    return compact_unit_test(make_inert(unit_test.to_yaml()))


def _tests_key(entry: dict) -> str:
    return "tests" if "tests" in entry and "data_tests" not in entry else "data_tests"


def _append_test(entry: CommentedMap, test: DataTest, path: tuple) -> None:
    """Add `test` under `entry`, which sits at `path` in the file (its render count depends on it)."""
    key = _tests_key(entry)
    tests = entry.get(key)
    if tests is None:
        tests = CommentedSeq()
        entry[key] = tests
    if getattr(tests, "fa", None) is not None and tests.fa.flow_style():
        tests.fa.set_block_style()  # a mapping does not read well inside [a, b]
    tests.append(compact_test(make_inert(test.to_yaml(), (*path, key, len(tests)))))


def _new_file(
    text: str,
    model: str,
    version: int | None,
    column_tests: list[DataTest],
    model_tests: list[DataTest],
    unit_tests: list[UnitTest],
    file: str,
) -> str:
    """`text` (empty) loaded, the tests added, dumped: a new file's layout."""
    yaml, document = _yaml(text)
    if document is None:
        document = CommentedMap()
        document["version"] = 2
    models = document.get("models")
    if models is None:
        models = document["models"] = CommentedSeq()
    block = next((m for m in models if isinstance(m, dict) and m.get("name") == model), None)
    if block is None:
        block = CommentedMap()
        block["name"] = model
        models.append(block)
    target, path = block, ()
    if version is not None and block.get("versions"):
        entry = next((v for v in block["versions"] if str(v.get("v")) == str(version)), None)
        if entry is None:
            raise ConfigError(f"{file} has no version {version} of {model}")
        if entry.get("columns") is not None or not block.get("columns"):
            target, path = entry, ("versions", 0)
    for test in column_tests:
        columns = target.get("columns")
        if columns is None:
            columns = target["columns"] = CommentedSeq()
        column = next(
            (c for c in columns if isinstance(c, dict) and str(c.get("name", "")).lower() == test.column.lower()), None
        )
        if column is None:
            column = CommentedMap()
            column["name"] = test.column
            columns.append(column)
        _append_test(column, test, (*path, "columns", 0))
    for test in model_tests:
        _append_test(target, test, path)
    if unit_tests:
        existing = document.get("unit_tests")
        if existing is None:
            existing = document["unit_tests"] = CommentedSeq()
        names = {item.get("name") for item in existing if isinstance(item, dict)}
        for unit_test in unit_tests:
            if unit_test.name not in names:
                existing.append(unit_test_yaml(unit_test))
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


# -- insertion as text --------------------------------------------------------------------------


class _Refused(Exception):
    """A shape the editor cannot change without rewriting what a person wrote (0-based place)."""

    def __init__(self, line: int, col: int, why: str, fix: str):
        super().__init__(why)
        self.line, self.col, self.why, self.fix = line, col, why, fix


@dataclass(frozen=True)
class _Style:
    """The file's indentation, as ruamel's dumper takes it (read from the file itself)."""

    mapping: int = 2
    sequence: int = 4
    offset: int = 2


def _flow(node) -> bool:
    return getattr(node, "fa", None) is not None and node.fa.flow_style()


def _anchored(node) -> bool:
    anchor = getattr(node, "anchor", None)
    return anchor is not None and anchor.value is not None


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _dash_col(line: str, col: int, index: int) -> int:
    """The column of the `-` that opens the sequence item whose value starts at `col`."""
    position = col - 1
    while position >= 0 and line[position] == " ":
        position -= 1
    if position < 0 or line[position] != "-":
        raise _Refused(index, col, "a list item without its dash on its line", "put the item on its dash's line")
    return position


def _mappings(node):
    """Every mapping in the document, depth first."""
    if isinstance(node, CommentedMap):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, CommentedSeq):
        for value in node:
            yield from _mappings(value)


def _style(document: CommentedMap, lines: list[str]) -> _Style:
    """The indentation of the first block list and block mapping nested under a key."""
    sequence = offset = mapping = None
    for parent in _mappings(document):
        if _flow(parent):
            continue
        for key, value in parent.items():
            key_line, key_col = parent.lc.key(key)
            if sequence is None and isinstance(value, CommentedSeq) and len(value) and not _flow(value):
                line, col = value.lc.item(0)
                if line > key_line and lines[line][:col].strip().startswith("-"):
                    sequence, offset = col - key_col, _dash_col(lines[line], col, line) - key_col
            if mapping is None and isinstance(value, CommentedMap) and not _flow(value) and value.lc.line > key_line:
                mapping = value.lc.col - key_col
        if sequence is not None and mapping is not None:
            break
    default = _Style()
    return _Style(
        mapping or default.mapping,
        sequence if sequence is not None else default.sequence,
        offset if offset is not None else default.offset,
    )


def _plain(node):
    """`node` without the comments ruamel attached to it (the rewritten lines keep the one after
    it themselves; one inside is refused), each collection in the style it has now."""
    if isinstance(node, CommentedMap):
        copy = CommentedMap((key, _plain(value)) for key, value in node.items())
    elif isinstance(node, CommentedSeq):
        copy = CommentedSeq(_plain(value) for value in node)
    else:
        return node
    if _flow(node):
        copy.fa.set_flow_style()
    return copy


# A (line, column) place in the file, 0-based as ruamel's marks.
_Place = tuple[int, int]


def _scan(text: str) -> tuple[dict[_Place, _Place], list[_Place], list[tuple[_Place, _Place]]]:
    """(where each flow `[...]`/`{...}` ends, keyed by where it starts; where each anchor and
    alias is; where each quoted scalar starts and ends). A second document is refused here
    (which one the tests go into is a person's call), and so is a merge key."""
    ends: dict[_Place, _Place] = {}
    shared: list[_Place] = []
    quoted: list[tuple[_Place, _Place]] = []
    starts: list[tuple[int, int] | None] = []
    documents = 0
    for event in YAML(typ="rt").parse(text):
        kind = type(event).__name__
        mark = event.start_mark
        if kind == "DocumentStartEvent":
            documents += 1
            if documents > 1:
                raise _Refused(
                    mark.line, mark.column, "a second YAML document", "move the model's entry into its own file"
                )
        if kind == "ScalarEvent" and event.value == "<<" and event.style is None:
            # A merge key: the keys it brings are not where the text says they are.
            raise _Refused(mark.line, mark.column, "a merge key (<<)", "write out the keys it merges in")
        if kind == "ScalarEvent" and event.style in ("'", '"'):
            # A `#` in a quoted string is no comment (`"issue #12"`).
            quoted.append(((mark.line, mark.column), (event.end_mark.line, event.end_mark.column)))
        if kind == "AliasEvent" or getattr(event, "anchor", None) is not None:
            shared.append((mark.line, mark.column))
        if kind in ("MappingStartEvent", "SequenceStartEvent"):
            starts.append((mark.line, mark.column) if event.flow_style else None)
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            start = starts.pop()
            if start is not None:
                ends[start] = (event.start_mark.line, event.start_mark.column + 1)  # after its `]` or `}`
    return ends, shared, quoted


# What may follow a flow collection on its last line when it is rewritten: a comment, kept.
_TAIL = re.compile(r"^[ \t]*(#.*)?$")
# A comment inside a flow collection: a rewrite would lose it.
_COMMENT = re.compile(r"(^|\s)#")


class _TextEdit:
    """Insertions, and the flow collections that must grow rewritten in block style, at line
    positions of the original text; every other line is kept as it is."""

    def __init__(self, text: str):
        # What is added ends its lines as the file mostly does (CRLF in a file written on Windows).
        self.newline = "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"
        self.lines = (text if text.endswith("\n") else text + self.newline).splitlines(keepends=True)
        self.ends, self.shared, self.quoted = _scan("".join(self.lines))
        _, self.document = _yaml("".join(self.lines))
        if self.document is None:  # comments only: what is added goes below them
            self.document = CommentedMap()
        if not isinstance(self.document, CommentedMap) or _flow(self.document):
            raise _Refused(0, 0, "the file is not a block mapping", "write it as `version: 2` and `models:` lines")
        self.parents: dict[int, tuple] = {}
        self._link(self.document)
        self.style = _style(self.document, self.lines)
        self.inserted: dict[int, list[str]] = {}
        self.replaced: dict[int, str] = {}
        self.rewrites: dict[int, object] = {}

    def _link(self, node) -> None:
        """Each collection's parent and its key (or index) there."""
        children = node.items() if isinstance(node, CommentedMap) else enumerate(node)
        for key, value in children:
            if isinstance(value, (CommentedMap, CommentedSeq)) and id(value) not in self.parents:
                self.parents[id(value)] = (node, key)
                self._link(value)

    def result(self) -> str:
        for node in self.rewrites.values():
            self.rewrite(node)
        out: list[str] = []
        for index, line in enumerate(self.lines):
            out += map(self.ending, self.inserted.get(index, []))
            out.append(self.ending(self.replaced[index]) if index in self.replaced else line)
        out += map(self.ending, self.inserted.get(len(self.lines), []))
        return "".join(out)

    def ending(self, text: str) -> str:
        """Rendered text (its lines ending in LF) with its lines ending as the file's do."""
        return text.replace("\n", self.newline) if self.newline != "\n" else text

    def unquoted(self, first: int, last: int) -> str:
        """Lines `first` to `last` with every quoted scalar blanked out (same length): the text
        in which a `#` after a space starts a comment."""
        lines = [list(line) for line in self.lines[first : last + 1]]
        for (start_line, start_col), (end_line, end_col) in self.quoted:
            for index in range(max(start_line, first), min(end_line, last) + 1):
                row = lines[index - first]
                start = start_col if index == start_line else 0
                stop = end_col if index == end_line else len(self.lines[index].rstrip("\r\n"))
                row[start:stop] = " " * (stop - start)
        return "".join("".join(row) for row in lines)

    def insert(self, index: int, text: str) -> None:
        # Several insertions at one place keep the order they were made in (deepest first).
        self.inserted.setdefault(index, []).append(text)

    def render(self, value, col: int) -> str:
        """`value` dumped in the file's indentation, its first line starting at `col`."""
        dumper = YAML(typ="rt")
        dumper.width = 4096
        dumper.preserve_quotes = True
        dumper.indent(mapping=self.style.mapping, sequence=self.style.sequence, offset=self.style.offset)
        stream = io.StringIO()
        dumper.dump(value, stream)
        lines = stream.getvalue().splitlines(keepends=True)
        lead = _indentation(lines[0])
        return "".join(" " * col + line[lead:] if line.strip() else line for line in lines)

    def end_after(self, index: int, threshold: int) -> int:
        """The line after the last content line below `index` indented at least `threshold`
        (blank and comment lines in between belong to whatever follows)."""
        last = index
        for position in range(index + 1, len(self.lines)):
            stripped = self.lines[position].strip()
            if not stripped or stripped.startswith("#"):
                continue
            if _indentation(self.lines[position]) < threshold or stripped in ("---", "..."):
                break
            last = position
        return last + 1

    def mapping_end(self, mapping: CommentedMap) -> int:
        if mapping is self.document:
            return self.end_after(-1, 0) if mapping else len(self.lines)
        return self.end_after(mapping.lc.line, mapping.lc.col)

    def chain(self, node) -> list:
        """`node` and its ancestors, the document first."""
        nodes = [node]
        while id(nodes[0]) in self.parents:
            nodes.insert(0, self.parents[id(nodes[0])][0])
        return nodes

    def flowing(self, node) -> bool:
        """`node` was written as `[...]`/`{...}` (an empty one too), or is one being rewritten."""
        if id(node) in self.rewrites:
            return True
        return node is not self.document and (node.lc.line, node.lc.col) in self.ends

    def refuse_shared(self, owner: CommentedMap, key: str, chain: list, outer) -> None:
        """An anchored node on the way, or an anchor or alias where the items go, is shared with
        another place in the file: adding to it would add there too (or lose the alias)."""
        for node in chain:
            if _anchored(node):
                raise _Refused(
                    node.lc.line,
                    node.lc.col,
                    "an anchor (&) on what the tests go into",
                    "replace the anchor and its aliases (*) with what they stand for",
                )
        if outer is not None:
            span = (outer.lc.line, self.ends[(outer.lc.line, outer.lc.col)][0] + 1)
        elif owner is not self.document:
            span = (owner.lc.line, self.mapping_end(owner))
        elif key in owner:
            first = owner.lc.key(key)[0]
            span = (first, self.end_after(first, 1))
        else:
            return
        for line, col in self.shared:
            if span[0] <= line < span[1]:
                raise _Refused(
                    line, col, "an anchor (&) or alias (*) where the tests go", "write out what it stands for"
                )

    def append(self, owner: CommentedMap, key: str, items: list) -> None:
        """Append `items` to the list at `owner[key]`, creating the key if it is absent."""
        value = owner.get(key)
        chain = self.chain(owner) + ([value] if isinstance(value, (CommentedMap, CommentedSeq)) else [])
        outer = next((node for node in chain if self.flowing(node)), None)
        self.refuse_shared(owner, key, chain, outer)
        if outer is not None:
            self.grow(outer, chain, owner, key, items)
            return
        key_col = 0 if owner is self.document else owner.lc.col
        if key not in owner:
            block = CommentedMap()
            block[key] = CommentedSeq(items)
            self.insert(self.mapping_end(owner), self.render(block, key_col))
            return
        key_line, key_col = owner.lc.key(key)
        if value is None:  # `key:` with nothing under it: the items go right below it
            self.insert(key_line + 1, self.render(CommentedSeq(items), key_col + self.style.offset))
            return
        if not isinstance(value, CommentedSeq) or not value:
            raise _Refused(key_line, key_col, f"{key} is not a list", f"make {key} a list")
        line, col = value.lc.item(len(value) - 1)
        dash = _dash_col(self.lines[line], col, line)
        self.insert(self.end_after(line, dash + 1), self.render(CommentedSeq(items), dash))

    def grow(self, outer, chain: list, owner: CommentedMap, key: str, items: list) -> None:
        """Add `items` to `owner[key]` inside the flow collection `outer`, which is rewritten
        in block style when the result is put together (its own lines only)."""
        value = owner.get(key)
        if value is not None and not isinstance(value, CommentedSeq):
            line, col = owner.lc.key(key)
            raise _Refused(line, col, f"{key} is not a list", f"make {key} a list")
        # Only the collections on the way to the new items turn to block style: a mapping does
        # not read well inside {...} or [a, b]; their siblings keep the flow style they were written in.
        for node in chain[chain.index(outer) :]:
            node.fa.set_block_style()
        if value is None:
            owner[key] = CommentedSeq(items)
        else:
            value.fa.set_block_style()
            value.extend(items)
        self.rewrites[id(outer)] = outer

    def rewrite(self, outer) -> None:
        """Replace the lines of the flow collection `outer` with it dumped in block style."""
        line, col = outer.lc.line, outer.lc.col
        end_line, end_col = self.ends[(line, col)]
        tail = self.lines[end_line][end_col:].rstrip()
        body = self.unquoted(line, end_line)
        inside = body[col : len(body) - len(self.lines[end_line]) + end_col]
        shared = next(((a, b) for a, b in self.shared if line <= a <= end_line), None)
        if shared is not None:
            raise _Refused(
                *shared, "an anchor (&) or alias (*) in what must be rewritten", "write out what it stands for"
            )
        if not _TAIL.match(tail) or _COMMENT.search(inside):
            raise _Refused(
                line, col, "a flow `[...]`/`{...}` with a comment in it or text after it", "write it in block style"
            )
        parent, key = self.parents[id(outer)]
        prefix = self.lines[line][:col]
        if isinstance(parent, CommentedSeq):
            if prefix.strip() != "-":
                raise _Refused(
                    line, col, "a flow `[...]`/`{...}` not alone on its `- ` line", "write it in block style"
                )
            text = self.render(CommentedSeq([_plain(outer)]), _dash_col(self.lines[line], col, line))
            first, _, rest = text.partition("\n")
            text = first + tail + "\n" + rest
        else:
            if parent.lc.key(key)[0] != line or not prefix.rstrip().endswith(":"):
                raise _Refused(line, col, "a flow `[...]`/`{...}` not on its key's line", "write it in block style")
            step = self.style.offset if isinstance(outer, CommentedSeq) else self.style.mapping
            text = prefix.rstrip() + tail + "\n" + self.render(_plain(outer), parent.lc.key(key)[1] + step)
        self.replaced[line] = text
        for index in range(line + 1, end_line + 1):
            self.replaced[index] = ""

    def add_tests(self, owner: CommentedMap, tests: list[DataTest], path: tuple) -> None:
        """Append data tests under `owner` (a column, model or version), at `path` in the file."""
        key = _tests_key(owner)
        existing = owner.get(key)
        count = len(existing) if isinstance(existing, list) else 0
        self.append(
            owner,
            key,
            [compact_test(make_inert(t.to_yaml(), (*path, key, count + i))) for i, t in enumerate(tests)],
        )


def _target(block: CommentedMap, model: str, version: int | None, file: str) -> tuple[CommentedMap, tuple]:
    """Where a model's tests go: its entry, or its version's if the version lists columns."""
    if version is not None and block.get("versions"):
        entry = next((v for v in block["versions"] if str(v.get("v")) == str(version)), None)
        if entry is None:
            raise ConfigError(f"{file} has no version {version} of {model}")
        if entry.get("columns") is not None or not block.get("columns"):
            return entry, ("versions", 0)
    return block, ()


def _new_entry(name: str, column_tests: list[DataTest], model_tests: list[DataTest], path: tuple) -> CommentedMap:
    """A new model (or column) entry holding the tests; `path` is where it will sit in the file."""
    block = CommentedMap()
    block["name"] = name
    for test in column_tests:
        columns = block.setdefault("columns", CommentedSeq())
        column = next((c for c in columns if c["name"].lower() == test.column.lower()), None)
        if column is None:
            column = CommentedMap()
            column["name"] = test.column
            columns.append(column)
        _append_test(column, test, (*path, "columns", 0))
    for test in model_tests:
        _append_test(block, test, path)
    return block


def _insert(
    text: str,
    model: str,
    version: int | None,
    column_tests: list[DataTest],
    model_tests: list[DataTest],
    unit_tests: list[UnitTest],
    file: str,
) -> str:
    edit = _TextEdit(text)
    document = edit.document
    models = document.get("models")
    if models is not None and not isinstance(models, CommentedSeq):
        line, col = document.lc.key("models")
        raise _Refused(line, col, "models is not a list", "make models a list")
    block = next((m for m in models or () if isinstance(m, dict) and m.get("name") == model), None)
    if block is None:
        if column_tests or model_tests:
            edit.append(document, "models", [_new_entry(model, column_tests, model_tests, ())])
    else:
        target, path = _target(block, model, version, file)
        columns = target.get("columns")
        if columns is not None and not isinstance(columns, CommentedSeq):
            line, col = target.lc.key("columns")
            raise _Refused(line, col, "columns is not a list", "make columns a list")
        by_column: dict[str, list[DataTest]] = {}
        for test in column_tests:
            by_column.setdefault(test.column.lower(), []).append(test)
        new_columns = []
        for tests in by_column.values():
            column = next(
                (
                    c
                    for c in columns or ()
                    if isinstance(c, dict) and str(c.get("name", "")).lower() == tests[0].column.lower()
                ),
                None,
            )
            if column is None:
                new_columns.append(_new_entry(tests[0].column, [], tests, (*path, "columns", 0)))
            else:
                edit.add_tests(column, tests, (*path, "columns", 0))
        if new_columns:
            edit.append(target, "columns", new_columns)
        if model_tests:
            edit.add_tests(target, model_tests, path)
    if unit_tests:
        existing = document.get("unit_tests")
        names = {item.get("name") for item in existing or () if isinstance(item, dict)}
        new_units = [unit_test_yaml(u) for u in unit_tests if u.name not in names]
        if new_units:
            edit.append(document, "unit_tests", new_units)
    return edit.result()


def add_to_yaml(
    text: str,
    model: str,
    version: int | None,
    column_tests: list[DataTest],
    model_tests: list[DataTest],
    unit_tests: list[UnitTest],
    file: str,
) -> str:
    """`text` (a properties YAML, maybe empty) with the tests added to model `model`; every
    line of `text` is kept as it is (see the module docstring for the one exception).

    Raises WriteError, located at the place in `text`, where the tests cannot go in that way."""
    arguments = (model, version, column_tests, model_tests, unit_tests, file)
    if not text.strip():
        return _new_file(text, *arguments)
    try:
        return _insert(text, *arguments)
    except _Refused as refused:
        # Never a whole-file rewrite instead: that would re-lay-out everything a person wrote.
        problem = Problem(
            "yaml-edit",
            f"cannot add the tests of {model} without rewriting what a person wrote: {refused.why}",
            file,
            refused.line + 1,
            refused.col + 1,
            suggestion=f"To add them, {refused.fix} by hand and run again.",
        )
        raise WriteError(f"{file} was left as it is", [problem]) from None

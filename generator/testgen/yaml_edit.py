"""Tests added to a model's properties YAML without disturbing it.

Every line a person wrote stays byte-identical: ruamel only *reads* the file, for the line
and column of each place a test goes (the column's mapping, its `data_tests` list, the
model's or its version's entry, the top-level `unit_tests:`), and the new tests are
inserted there as text, indented like the lines around them. A new test is appended
under its column (or the model, or the model's version), a unit test under `unit_tests:`.
The one line that may change: a `data_tests: [a, b]` written in flow style becomes
`data_tests:` with its items below it (a mapping does not read well inside [a, b]).

A new file, and the shapes text insertion does not edit (a column or model written as a
flow mapping `{...}`, a flow list that spans lines), are written by a ruamel round-trip
dump instead. Values from the warehouse are written inert (generator.write.inert).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from generator.errors import ConfigError
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


def _round_trip(
    text: str,
    model: str,
    version: int | None,
    column_tests: list[DataTest],
    model_tests: list[DataTest],
    unit_tests: list[UnitTest],
    file: str,
) -> str:
    """`text` loaded, the tests added, dumped: a new file's layout (and the fallback)."""
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


class _Unsupported(Exception):
    """A shape the text editor does not edit in place (the round-trip dump does)."""


@dataclass(frozen=True)
class _Style:
    """The file's indentation, as ruamel's dumper takes it (read from the file itself)."""

    mapping: int = 2
    sequence: int = 4
    offset: int = 2


def _flow(node) -> bool:
    return getattr(node, "fa", None) is not None and node.fa.flow_style()


def _indentation(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _dash_col(line: str, col: int) -> int:
    """The column of the `-` that opens the sequence item whose value starts at `col`."""
    position = col - 1
    while position >= 0 and line[position] == " ":
        position -= 1
    if position < 0 or line[position] != "-":
        raise _Unsupported("a sequence item without its dash on the same line")
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
                if line > key_line:
                    sequence, offset = col - key_col, _dash_col(lines[line], col) - key_col
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


# A flow list that opens and closes on its key's line, and what follows it there.
_FLOW_TAIL = re.compile(r"^\[.*\](?P<tail>[ \t]*(#.*)?)$")


class _TextEdit:
    """Insertions (and flow-list key lines rewritten) at line positions of the original text."""

    def __init__(self, text: str):
        self.lines = (text if text.endswith("\n") else text + "\n").splitlines(keepends=True)
        _, self.document = _yaml("".join(self.lines))
        if not isinstance(self.document, CommentedMap) or _flow(self.document):
            raise _Unsupported("the file is not a block mapping")
        self.style = _style(self.document, self.lines)
        self.inserted: dict[int, list[str]] = {}
        self.replaced: dict[int, str] = {}

    def result(self) -> str:
        out: list[str] = []
        for index, line in enumerate(self.lines):
            out += self.inserted.get(index, [])
            out.append(self.replaced.get(index, line))
        out += self.inserted.get(len(self.lines), [])
        return "".join(out)

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
            return self.end_after(-1, 0)
        return self.end_after(mapping.lc.line, mapping.lc.col)

    def append(self, owner: CommentedMap, key: str, items: list) -> None:
        """Append `items` to the list at `owner[key]`, creating the key if it is absent."""
        if _flow(owner):
            raise _Unsupported("a flow mapping")
        key_col = 0 if owner is self.document else owner.lc.col
        if key not in owner:
            block = CommentedMap()
            block[key] = CommentedSeq(items)
            self.insert(self.mapping_end(owner), self.render(block, key_col))
            return
        key_line, key_col = owner.lc.key(key)
        value = owner[key]
        if value is None:  # `key:` with nothing under it: the items go right below it
            self.insert(key_line + 1, self.render(CommentedSeq(items), key_col + self.style.offset))
            return
        if not isinstance(value, CommentedSeq):
            raise _Unsupported(f"{key} is not a list")
        if _flow(value):
            self.unfold(value, key_line, key_col, items)
            return
        if not value:
            raise _Unsupported(f"an empty {key}")
        line, col = value.lc.item(len(value) - 1)
        dash = _dash_col(self.lines[line], col)
        self.insert(self.end_after(line, dash + 1), self.render(CommentedSeq(items), dash))

    def unfold(self, value: CommentedSeq, key_line: int, key_col: int, items: list) -> None:
        """`key: [a, b]` -> `key:` with a, b and the new items as a block list below it."""
        text = self.lines[key_line]
        match = _FLOW_TAIL.match(text[value.lc.col :].rstrip("\n")) if value.lc.line == key_line else None
        if match is None or key_line in self.replaced:
            raise _Unsupported("a flow list that spans lines")
        self.replaced[key_line] = text[: value.lc.col].rstrip() + match.group("tail") + "\n"
        block = CommentedSeq([*value, *items])
        self.insert(key_line + 1, self.render(block, key_col + self.style.offset))

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
        raise _Unsupported("models is not a list")
    block = next((m for m in models or () if isinstance(m, dict) and m.get("name") == model), None)
    if block is None:
        if column_tests or model_tests:
            edit.append(document, "models", [_new_entry(model, column_tests, model_tests, ())])
    else:
        target, path = _target(block, model, version, file)
        columns = target.get("columns")
        if columns is not None and not isinstance(columns, CommentedSeq):
            raise _Unsupported("columns is not a list")
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
    line of `text` is kept as it is (see the module docstring for the one exception)."""
    arguments = (model, version, column_tests, model_tests, unit_tests, file)
    if text.strip():
        try:
            return _insert(text, *arguments)
        except _Unsupported:
            pass  # a shape only a dump can edit: the round trip, as before
    return _round_trip(text, *arguments)

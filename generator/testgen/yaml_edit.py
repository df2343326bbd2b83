"""Tests added to a model's properties YAML without disturbing it.

A ruamel round-trip: comments, order, indentation and every test a person wrote stay as they
are; a new test is appended under its column (or the model, or the model's version), a unit
test under `unit_tests:`. Values from the warehouse are written inert (generator.write.inert).
"""

from __future__ import annotations

import io

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


def add_to_yaml(
    text: str,
    model: str,
    version: int | None,
    column_tests: list[DataTest],
    model_tests: list[DataTest],
    unit_tests: list[UnitTest],
    file: str,
) -> str:
    """`text` (a properties YAML, maybe empty) with the tests added to model `model`."""
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

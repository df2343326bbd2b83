"""A model's tests as dbt knows them (its manifest), and whether a derived test is among them.

`gen-model tests` adds only tests a model does not state already; `gen-model mutate` runs
the ones it states against mutants of its SQL.
"""

from __future__ import annotations

from generator.testgen.datatests import DataTest
from generator.testgen.kinds import KINDS
from generator.testgen.testsql import canonical_name
from generator.testgen.unit_runner import GivenInput, UnitTest


def _attached(node) -> str | None:
    attached = getattr(node, "attached_node", None)
    if attached:
        return attached
    nodes = list(getattr(node.depends_on, "nodes", []) or [])
    return nodes[0] if nodes else None


def manifest_tests(manifest, unique_id: str) -> tuple[list[DataTest], list[str]]:
    """The generic data tests dbt attaches to a model; notes on the ones left out."""
    tests: list[DataTest] = []
    notes: list[str] = []
    for node in sorted(manifest.nodes.values(), key=lambda n: n.unique_id):
        if node.resource_type != "test" or not node.config.enabled:
            continue
        metadata = getattr(node, "test_metadata", None)
        if _attached(node) != unique_id:
            continue
        if metadata is None:
            notes.append(f"singular test {node.name} is not run against mutants")
            continue
        namespace = metadata.namespace
        name = f"{namespace}.{metadata.name}" if namespace and namespace != "dbt" else metadata.name
        arguments = dict(metadata.kwargs or {})
        column = arguments.pop("column_name", None) or getattr(node, "column_name", None)
        arguments.pop("model", None)
        if str(node.config.severity).lower() == "warn":
            notes.append(f"{node.name} only warns; dbt would not fail a build on it")
            continue
        meta = dict(node.config.meta or {})
        tests.append(
            DataTest(
                canonical_name(name),
                column,
                arguments,
                str(meta.get("reason", "")),
                "existing",
                node.config.where or None,
            )
        )
    return tests, notes


def manifest_unit_tests(manifest, model: str, version: int | None) -> tuple[list[UnitTest], list[str]]:
    """The model's dbt unit tests (for `version`), as UnitTest values; notes on others."""
    found: list[UnitTest] = []
    notes: list[str] = []
    for unit in sorted(getattr(manifest, "unit_tests", {}).values(), key=lambda u: u.unique_id):
        if unit.model != model:
            continue
        if version is not None and unit.version is not None and str(unit.version) != str(version):
            continue
        formats = [str(getattr(g, "format", "dict")).lower() for g in unit.given] + [
            str(getattr(unit.expect, "format", "dict")).lower()
        ]
        if any(not f.endswith("dict") for f in formats) or any(g.fixture for g in unit.given):
            notes.append(f"unit test {unit.name} uses csv/sql fixtures; not run against mutants")
            continue
        given = tuple(GivenInput(g.input, tuple(dict(r) for r in (g.rows or []))) for g in unit.given)
        expect = tuple(dict(r) for r in (unit.expect.rows or []))
        found.append(UnitTest(unit.name, unit.model, given, expect, unit.version, unit.description or ""))
    return found, notes


def _normal_argument(value):
    if isinstance(value, str):
        return "".join(value.split()).replace('"', "'").lower()
    if isinstance(value, (list, tuple)):
        return tuple(sorted(str(_normal_argument(v)) for v in value))
    return value


def _same_test(a: DataTest, b: DataTest) -> bool:
    if canonical_name(a.name) != canonical_name(b.name):
        return False
    if (a.column or "").lower() != (b.column or "").lower():
        return False
    keys = set(a.arguments) | set(b.arguments)
    keys -= getattr(KINDS.get(canonical_name(a.name)), "IGNORED_ARGUMENTS", frozenset())
    return all(_normal_argument(a.arguments.get(k)) == _normal_argument(b.arguments.get(k)) for k in keys)


def already_covered(test: DataTest, existing: list[DataTest]) -> DataTest | None:
    """An existing test that states what `test` states (or more), if any."""
    for other in existing:
        if _same_test(test, other):
            return other
    # A kind may also be stated by other tests (a one-column combination by `unique`).
    covered_by = getattr(KINDS.get(canonical_name(test.name)), "covered_by", None)
    if covered_by is not None:
        for other in existing:
            if covered_by(test, other, canonical_name(other.name)):
                return other
    return None

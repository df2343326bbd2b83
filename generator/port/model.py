"""`gen-model port MODEL --to spark [--prove]`: a project's model, checked, transpiled, proven.

MODEL is the latest version of a versioned model, or the one named as dbt selects it
(`account_mrr.v1`).

The input columns' types come from the catalog (the built warehouse), so rules whose
safety hangs on a type (round, casts to integers, date differences) judge real types.
With `--prove`, the model's unit-test rows and a sample of its real inputs run through
DuckDB and a local Spark, and the rows must be identical.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from generator.port.check import ported
from generator.port.prove import SAMPLE_ROWS, InputRows, Proof, compare, local_spark
from generator.project import Project, dbt
from generator.project.catalog import Catalog, Relation
from generator.project.catalog_builder import build_catalog
from generator.sql.templating import RefCall, untemplate
from generator.testgen.modeltests import find_model, manifest_unit_tests


@dataclass(frozen=True)
class ModelVersion:
    """One version of a versioned model, as dbt_project.yml configures it."""

    version: int
    path: str  # its SQL file
    fqn: tuple[str, ...]  # its dbt fqn (package, folders, model, `vN`): its keys under `models:`
    unit_tests: tuple[tuple[str, ...], ...]  # fqns of the unit tests of this version alone (`unit_tests:`)


@dataclass(frozen=True)
class PortedModel:
    """A model's SQL in the target's dialect, and the proof when one was asked for."""

    name: str
    path: str
    target: str
    sql: str
    proof: Proof | None = None
    version: int | None = None  # the model's version, when it is versioned
    source_sha256: str = ""  # the model's file as checked and proven
    properties: str | None = None  # the properties YAML that describes the model, if any
    contract: bool = False  # its contract is enforced: the YAML's data_types must hold on the target too
    versions: tuple[ModelVersion, ...] = ()  # every version of a versioned model, for the engines' switches


def _unit_test_fqns(manifest, model: str) -> dict[tuple[str, ...], set]:
    """fqn -> the versions tested, for the model's unit tests (dbt expands one per version)."""
    tested: dict[tuple[str, ...], set] = {}
    for unit in getattr(manifest, "unit_tests", {}).values():
        if unit.model == model:
            tested.setdefault(tuple(unit.fqn), set()).add(None if unit.version is None else int(unit.version))
    return tested


def _versions(catalog: Catalog, manifest, relation: Relation) -> tuple[ModelVersion, ...]:
    """Every version of `relation`'s model in the manifest (none for an unversioned model)."""
    if relation.version is None:
        return ()
    tested = _unit_test_fqns(manifest, relation.name)
    others = []
    for other in catalog.models:
        if other.name != relation.name or other.version is None:
            continue
        node = manifest.nodes.get(other.unique_id)
        if node is None or other.package_name != relation.package_name:
            continue
        units = tuple(sorted(fqn for fqn, versions in tested.items() if versions == {other.version}))
        others.append(ModelVersion(other.version, other.original_file_path, tuple(node.fqn), units))
    return tuple(sorted(others, key=lambda other: other.version))


def _properties(node) -> str | None:
    """The model's properties YAML, relative to the project (dbt's patch_path is `package://path`)."""
    patch_path = getattr(node, "patch_path", None)
    return patch_path.split("://", 1)[-1] if patch_path else None


def _contract_enforced(node) -> bool:
    contract = getattr(node, "contract", None)
    return bool(getattr(contract, "enforced", False))


def _input_relation(catalog: Catalog, call: RefCall) -> Relation | None:
    return catalog.ref(call.name) if call.kind == "ref" else catalog.source(*call.args)


def _same_input(given: str, call: RefCall) -> bool:
    return "".join(given.split()).replace('"', "'") == "".join(call.display().split())


def _columns(relation: Relation | None) -> tuple[tuple[str, str], ...]:
    if relation is None:
        return ()
    return tuple((column.name, column.data_type or "varchar") for column in relation.columns)


def _unit_test_inputs(manifest, relation: Relation, calls, relations) -> list[tuple[str, dict[str, InputRows]]]:
    tests, _notes = manifest_unit_tests(manifest, relation.name, relation.version)
    sets = []
    for test in tests:
        inputs = {}
        for call in calls:
            rows = next((given.rows for given in test.given if _same_input(given.input, call)), ())
            inputs[call.placeholder] = InputRows(_columns(relations[call.placeholder]), tuple(rows))
        sets.append((f"unit test {test.name}", inputs))
    return sets


def _sample_inputs(catalog: Catalog, calls, relations, limit: int) -> dict[str, InputRows]:
    inputs = {}
    with duckdb.connect(str(catalog.database_path), read_only=True) as connection:
        for call in calls:
            relation = relations[call.placeholder]
            columns = _columns(relation)
            cursor = connection.execute(f"select * from {relation.relation_name} order by all limit {int(limit)}")
            names = [item[0] for item in cursor.description]
            rows = tuple(dict(zip(names, row, strict=True)) for row in cursor.fetchall())
            inputs[call.placeholder] = InputRows(columns, rows)
    return inputs


def port_model(
    project: Project,
    name: str,
    target: str,
    same_time_zone: bool = False,
    prove: bool = False,
    sample_rows: int = SAMPLE_ROWS,
    spark=None,
) -> PortedModel:
    """Check MODEL's SQL for constructs that differ on `target` and transpile it; with
    `prove`, compare its rows on both engines. Raises PortError listing each refused
    construct, located in the model's file; ProofError when the engines disagree."""
    manifest = dbt.parse(project)
    catalog = build_catalog(project, manifest)
    relation, node = find_model(project, catalog, manifest, name)  # or a version: account_mrr.v1
    path = relation.original_file_path
    source_bytes = (project.project_dir / path).read_bytes()  # what the lock's sha256 is of
    sql = (project.project_dir / path).read_text(encoding="utf-8")
    templated, _ = untemplate(sql, path)
    relations = {call.placeholder: _input_relation(catalog, call) for call in templated.calls}
    schema = {
        call.name: {column: kind for column, kind in _columns(relations[call.placeholder])} for call in templated.calls
    }
    templated, target_sql = ported(sql, target, schema=schema, file=path, same_time_zone=same_time_zone)
    proof = None
    if prove:
        spark = spark if spark is not None else local_spark()
        sets = _unit_test_inputs(manifest, relation, templated.calls, relations)
        if catalog.database_path is not None:
            sample = _sample_inputs(catalog, templated.calls, relations, sample_rows)
            sets.append((f"a sample of the real inputs (up to {sample_rows} rows each)", sample))
        results = tuple(compare(label, templated.sql, target_sql, inputs, spark) for label, inputs in sets)
        proof = Proof(target, {"duckdb": duckdb.__version__, target: spark.version}, results)
    return PortedModel(
        relation.name,
        path,
        target,
        templated.restore(target_sql) + "\n",
        proof,
        relation.version,
        hashlib.sha256(source_bytes).hexdigest(),
        _properties(node),
        _contract_enforced(node),
        _versions(catalog, manifest, relation),
    )

"""Versioned dbt models on disk: `<name>_v<N>.sql` plus one `<name>.yml` per model.

The writer plans; `generator.write.transaction` writes. Rules it enforces:
  * an existing version file is never overwritten: a regeneration writes v(N+1) and moves
    `latest_version`;
  * a name taken by a hand-written model is an error;
  * the YAML of an existing generated model is edited, not rewritten: comments, extra tests
    and descriptions a person added stay (ruamel round-trip);
  * output is deterministic: same inputs, same bytes (no timestamps, stable key order);
  * what it adds is inert: every string dbt would render as Jinja (a description, the
    request, a test argument, a unit-test row from the warehouse) is written as a Jinja
    string constant that renders to itself (`generator.write.inert`).
"""

from __future__ import annotations

import datetime
import io
import re
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from generator.errors import Problem, WriteError
from generator.project import Project
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.testgen.datatests import DataTest
from generator.write.inert import jinja_string, make_inert, renders


@dataclass(frozen=True)
class ContractColumn:
    """An output column as the contract states it: DuckDB's type, the proposal's description."""

    name: str
    data_type: str
    description: str = ""


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    content: str
    existed: bool


@dataclass(frozen=True)
class WritePlan:
    """The files one accepted proposal becomes."""

    model_name: str
    version: int
    previous_version: int | None
    files: tuple[PlannedFile, ...]
    select: str  # dbt selector for exactly the new version

    def relative_paths(self, project_dir: Path) -> list[str]:
        return [file.path.relative_to(project_dir).as_posix() for file in self.files]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    return yaml


def _to_commented(value):
    """Plain dicts/lists to ruamel's ordered types, lists of scalars in flow style."""
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _to_commented(item)
        return mapping
    if isinstance(value, (list, tuple)):
        sequence = CommentedSeq(_to_commented(item) for item in value)
        if value and all(isinstance(item, (str, int, float, bool)) for item in value):
            sequence.fa.set_flow_style()
        return sequence
    return value


def _flow(value):
    """Plain data to ruamel's types, every mapping and list in flow style (`{a: 1, b: [x]}`)."""
    if isinstance(value, dict):
        mapping = CommentedMap((key, _flow(item)) for key, item in value.items())
        mapping.fa.set_flow_style()
        return mapping
    if isinstance(value, (list, tuple)):
        sequence = CommentedSeq(_flow(item) for item in value)
        sequence.fa.set_flow_style()
        return sequence
    return value


def compact_test(test):
    """A data test's YAML item (inert already) laid out for review.

    A test without arguments is one line (`- not_null: {config: {meta: {reason: ...}}}`);
    one with arguments is three: the test, `arguments: {...}`, `config: {...}`. The reason
    stays on the test itself, so whoever reads a failing test's YAML sees what it guards.
    """
    if not isinstance(test, dict) or len(test) != 1:
        return _to_commented(test)
    ((name, body),) = test.items()
    styled = CommentedMap()
    if not isinstance(body, dict) or not body:
        styled[name] = _to_commented(body)
    elif "arguments" not in body:
        styled[name] = _flow(body)
    else:
        styled[name] = CommentedMap((key, _flow(item)) for key, item in body.items())
    return styled


def compact_unit_test(data) -> CommentedMap:
    """A unit test's YAML item (inert already): `versions: {include: [1]}` and each row on
    one line (`- {id: 1, ...}`), as compact as dbt reads it."""
    entry = _to_commented(data)
    if isinstance(entry.get("versions"), dict):
        entry["versions"] = _flow(entry["versions"])
    blocks = [given for given in entry.get("given") or [] if isinstance(given, dict)]
    if isinstance(entry.get("expect"), dict):
        blocks.append(entry["expect"])
    for block in blocks:
        if block.get("rows"):
            block["rows"] = CommentedSeq(_flow(row) for row in block["rows"])
    return entry


def _compact_version(entry) -> None:
    """Lay out a `versions:` item (ruamel types, in place): tests and lineage one line each."""
    for column in entry.get("columns") or []:
        if isinstance(column, dict) and column.get("data_tests"):
            column["data_tests"] = CommentedSeq(compact_test(test) for test in column["data_tests"])
    if entry.get("data_tests"):
        entry["data_tests"] = CommentedSeq(compact_test(test) for test in entry["data_tests"])
    provenance = ((entry.get("config") or {}).get("meta") or {}).get("gen_model")
    lineage = provenance.get("lineage") if isinstance(provenance, dict) else None
    if isinstance(lineage, dict):
        for column in list(lineage):
            lineage[column] = _flow(lineage[column])


def dump_yaml(data) -> str:
    stream = io.StringIO()
    _yaml().dump(_to_commented(data), stream)
    return stream.getvalue()


def version_entry(
    version: int,
    description: str,
    columns: list[ContractColumn],
    column_tests: list[DataTest],
    model_tests: list[DataTest],
    provenance: dict,
) -> dict:
    """The `versions:` item for one generated version: contract columns, tests, provenance.

    `description` is not repeated here: it is the model block's (dbt renders a version's
    description twice, and the reviewer would read it twice). `add_version_to_yaml` pins
    the older versions' own text when a new version brings another one.
    """
    by_column: dict[str, list[DataTest]] = {}
    for test in column_tests:
        by_column.setdefault(test.column.lower(), []).append(test)
    column_entries = []
    for column in columns:
        entry: dict = {"name": column.name, "data_type": column.data_type}
        if column.description:
            entry["description"] = column.description
        tests = by_column.get(column.name.lower())
        if tests:
            entry["data_tests"] = [test.to_yaml() for test in tests]
        column_entries.append(entry)
    entry = {
        "v": version,
        "config": {"meta": {"gen_model": provenance}},
        "columns": column_entries,
    }
    if model_tests:
        entry["data_tests"] = [test.to_yaml() for test in model_tests]
    return entry


def _model_block(proposal: Proposal, entry: dict) -> dict:
    config: dict = {}
    if proposal.materialized:
        config["materialized"] = proposal.materialized
    config["contract"] = {"enforced": True}
    return {
        "name": proposal.name,
        "description": proposal.description,
        "latest_version": entry["v"],
        "config": config,
        "versions": [entry],
    }


def new_model_yaml(proposal: Proposal, entry: dict, unit_tests: list[dict] = ()) -> str:
    """The YAML file for a model gen-model has not written before."""
    document: dict = {"version": 2, "models": [_model_block(proposal, entry)]}
    if unit_tests:
        document["unit_tests"] = list(unit_tests)
    commented = _to_commented(make_inert(document))
    for version in commented["models"][0]["versions"]:
        _compact_version(version)
    if unit_tests:
        commented["unit_tests"] = CommentedSeq(compact_unit_test(test) for test in commented["unit_tests"])
    stream = io.StringIO()
    _yaml().dump(commented, stream)
    text = stream.getvalue()
    # A blank line between top-level blocks, as people write them.
    return re.sub(r"\n(models|unit_tests):", r"\n\n\1:", text)


def add_version_to_yaml(
    text: str,
    proposal: Proposal,
    entry: dict,
    *,
    deprecations: dict[int, str] | None = None,
    unit_tests: list[dict] = (),
    file: str = "",
) -> str:
    """Append a version to an existing generated model's YAML, keeping everything else."""
    yaml = _yaml()
    document = yaml.load(text)
    models = document.get("models") if isinstance(document, dict) else None
    block = next((m for m in models or [] if isinstance(m, dict) and m.get("name") == proposal.name), None)
    if block is None:
        raise WriteError(f"{file} has no model named {proposal.name!r}; cannot add a version to it")
    versions = block.setdefault("versions", CommentedSeq())
    if any(int(item.get("v")) == entry["v"] for item in versions):
        raise WriteError(f"{file} already declares version {entry['v']} of {proposal.name}")
    for item in versions:
        deprecation = (deprecations or {}).get(int(item.get("v")))
        if deprecation and "deprecation_date" not in item:
            # A date object is written unquoted (2027-02-19), right after `v:`.
            item.insert(1, "deprecation_date", datetime.date.fromisoformat(str(deprecation)))
    added = _to_commented(make_inert(entry, ("versions", len(versions))))
    _compact_version(added)
    new_description = make_inert(proposal.description)
    if block.get("description") is not None and str(block["description"]) != new_description:
        # Versions without their own description inherit the model's: the old text stays
        # theirs. dbt renders it once more there than on the model, hence one more escape.
        old = str(block["description"])
        pinned = jinja_string(old) if renders(old) else old
        for item in versions:
            if "description" not in item:
                item.insert(1 + ("deprecation_date" in item), "description", pinned)
    versions.append(added)
    block["latest_version"] = entry["v"]
    block["description"] = new_description
    if unit_tests:
        existing = document.setdefault("unit_tests", CommentedSeq())
        names = {item.get("name") for item in existing}
        for test in unit_tests:
            if test["name"] not in names:
                existing.append(compact_unit_test(make_inert(test)))
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _existing_versions(directory: Path, name: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(name)}_v(\d+)\.(sql|py)$")
    versions = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = pattern.match(path.name)
            if match:
                versions.append(int(match.group(1)))
    return sorted(versions)


def _generated_relations(catalog: Catalog, name: str) -> list[Relation]:
    return [r for r in catalog.relations if r.resource_type == "model" and r.name == name]


def plan_model_write(
    project: Project,
    catalog: Catalog,
    proposal: Proposal,
    *,
    sql: str,
    entry_for_version,
    unit_tests_for_version=lambda version: [],
    deprecation_date: str | None = None,
) -> WritePlan:
    """Decide the files for `proposal`: which version, which directory, which contents.

    `entry_for_version(version) -> dict` builds the YAML version item (tests and provenance
    depend on the version number only through names, so the caller supplies a function).
    """
    existing = _generated_relations(catalog, proposal.name)
    hand_written = [r for r in existing if not r.generated]
    if hand_written:
        where = hand_written[0].original_file_path or "the project"
        raise WriteError(
            f"a hand-written model named {proposal.name!r} already exists ({where})",
            [
                Problem(
                    rule="write",
                    message=f"model name {proposal.name!r} is taken by a model gen-model did not write",
                    file=where,
                    identifier=proposal.name,
                    suggestion="Choose another name with --name (gen-model never overwrites hand-written models).",
                )
            ],
        )
    if existing:
        sql_path = project.project_dir / (existing[0].original_file_path or "")
        directory = sql_path.parent
    else:
        directory = project.layer_dir(proposal.layer)
    yml_path = directory / f"{proposal.name}.yml"
    on_disk = _existing_versions(directory, proposal.name)
    known = sorted({r.version for r in existing if r.version is not None} | set(on_disk))
    if on_disk and not existing:
        raise WriteError(
            f"{directory / f'{proposal.name}_v{on_disk[-1]}.sql'} exists but dbt does not know it as a "
            "generated model (disabled, or its YAML is missing). Fix or remove it first: gen-model "
            "never overwrites a version file."
        )
    version = (known[-1] + 1) if known else 1
    sql_file = directory / f"{proposal.name}_v{version}.sql"
    if sql_file.exists():
        raise WriteError(f"{sql_file} already exists; gen-model never overwrites a version file")

    entry = entry_for_version(version)
    unit_tests = unit_tests_for_version(version)
    if yml_path.exists():
        if not existing:
            raise WriteError(
                f"{yml_path} exists but does not describe a generated model {proposal.name!r}; choose another --name"
            )
        # Only the version being superseded gets a date; older ones keep theirs.
        deprecations = {known[-1]: deprecation_date} if deprecation_date and known else None
        yml_text = add_version_to_yaml(
            yml_path.read_text(encoding="utf-8"),
            proposal,
            entry,
            deprecations=deprecations,
            unit_tests=unit_tests,
            file=project.relative(yml_path),
        )
    else:
        yml_text = new_model_yaml(proposal, entry, unit_tests)
    files = (
        PlannedFile(sql_file, sql, existed=False),
        PlannedFile(yml_path, yml_text, existed=yml_path.exists()),
    )
    return WritePlan(
        model_name=proposal.name,
        version=version,
        previous_version=known[-1] if known else None,
        files=files,
        select=f"{proposal.name}.v{version}",
    )

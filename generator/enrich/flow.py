"""The files an accepted `kind: enrich` proposal becomes.

An enrich proposal goes through the same run as a SQL one (`generator.run`): its gates are
`generator.gates.SPEC_RULES` (spec, input, lookup, compile, execute, grain, contract), and
`generator.run.finish` writes, builds and locks the result. This module holds what an
accepted spec becomes, `plan_spec_write`: `<name>_v<N>.enrich.yml`, the compiled
`<name>_v<N>.py`, the versioned `<name>.yml` (and the quarantine model).

Versions: dbt versions Python models like SQL ones, so a generated enrichment model is
versioned like a generated SQL model (`_v<N>`, `latest_version`, older versions kept). A
model compiled from a committed unversioned spec (`<name>.enrich.yml`) is a person's: a
proposal never adds versions to it (edit the spec and run `gen-model enrich compile`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.enrich.compiler import render_spec, versioned_specs
from generator.enrich.spec import SPEC_SUFFIX, EnrichSpec, load_spec, validate_spec
from generator.enrich.yaml_positions import load_with_positions
from generator.errors import Problem, WriteError
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.write.writer import PlannedFile, WritePlan


@dataclass(frozen=True)
class SpecWritePlan(WritePlan):
    """A WritePlan plus what else the build selects (the quarantine model's version)."""

    selects: tuple[str, ...] = ()
    relations: tuple[str, ...] = ()  # warehouse relations the new version creates


_SPEC_KEY_ORDER = ("enrich", "name", "version", "description", "input", "on_error", "key", "columns")


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str_presenter(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def render_spec_file(proposal: Proposal, version: int, provenance: dict) -> str:
    """The `<name>_v<N>.enrich.yml` a proposal becomes: its spec, the version, provenance."""
    spec = dict(proposal.spec)
    spec["version"] = version
    spec["provenance"] = {key: value for key, value in provenance.items() if key != "grain"}
    ordered = {key: spec[key] for key in _SPEC_KEY_ORDER if key in spec}
    ordered |= {key: value for key, value in spec.items() if key not in ordered and key != "provenance"}
    ordered["provenance"] = spec["provenance"]
    header = (
        f"# Enrichment spec written by gen-model from a proposal: version {version} of "
        f"{proposal.name}.\n"
        f"# The model is compiled from it ({proposal.name}_v{version}.py); edit this file, then run\n"
        "# `gen-model enrich compile`. A new proposal adds a new version beside it.\n"
    )
    body = yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def versioned_enrich(relation: Relation) -> bool:
    """Whether `relation` is a version gen-model wrote from an enrich proposal."""
    provenance = relation.meta.get("gen_model") if isinstance(relation.meta, dict) else None
    return isinstance(provenance, dict) and provenance.get("kind") == "enrich" and relation.version is not None


def plan_spec_write(project, catalog: Catalog, proposal: Proposal, spec: EnrichSpec, provenance: dict) -> SpecWritePlan:
    """Which version, which directory, which files (spec, compiled model, YAML).

    `spec` is the proposal's validated spec (the spec gate's); the written one adds the
    version and the provenance.
    """
    name = proposal.name
    existing = [r for r in catalog.relations if r.resource_type == "model" and r.name == name]
    foreign = [r for r in existing if not versioned_enrich(r)]
    if foreign:
        relation = foreign[0]
        where = relation.original_file_path or "the project"
        meta = relation.meta.get("gen_model") if isinstance(relation.meta, dict) else None
        if isinstance(meta, dict) and meta.get("kind") == "enrich":
            message = (
                f"{name!r} is compiled from {meta.get('spec', 'a spec')}, a spec without versions: "
                "a proposal does not add versions to it"
            )
            suggestion = "Edit that spec and run `gen-model enrich compile`, or choose another --name."
        else:
            message = f"model name {name!r} is taken by a model that is not a versioned enrichment model"
            suggestion = "Choose another name with --name (gen-model never overwrites other models)."
        raise WriteError(
            f"cannot write {name}: {message}",
            [Problem(rule="write", message=message, file=where, identifier=name, suggestion=suggestion)],
        )
    if existing:
        directory = project.project_dir / Path(existing[0].original_file_path or "").parent
    else:
        parts = Path(spec.input.path).parts
        directory = project.model_dir / "staging"
        if len(parts) > 1 and "*" not in parts[0]:
            directory = directory / parts[0]
    on_disk = versioned_specs(directory, name)
    known = sorted({r.version for r in existing if r.version is not None} | {load_spec(p).version for p in on_disk})
    if on_disk and not existing:
        raise WriteError(
            f"{on_disk[-1]} exists but dbt does not know {name} (disabled, or its YAML is missing). Fix or "
            "remove it first: gen-model never overwrites a version."
        )
    yml_path = directory / f"{name}.yml"
    if yml_path.exists() and not existing:
        raise WriteError(f"{yml_path} exists but does not describe a generated model {name!r}; choose another --name")
    version = known[-1] + 1 if known else 1
    spec_text = render_spec_file(proposal, version, provenance)
    spec_name = f"{name}_v{version}{SPEC_SUFFIX}"
    spec_path = directory / spec_name
    if spec_path.exists() or any((directory / f"{name}_v{version}{suffix}").exists() for suffix in (".py", ".sql")):
        raise WriteError(f"{spec_path} already exists; gen-model never overwrites a version")
    data, positions = load_with_positions(spec_text)
    written = validate_spec(data, file=spec_name, positions=positions, text=spec_text)
    siblings = [load_spec(path) for path in on_disk]
    compiled = render_spec(written, spec_name, [*siblings, written])
    files = [PlannedFile(spec_path, spec_text, existed=False)]
    for file_name, content in compiled.files.items():
        target = directory / file_name
        if target.is_file() and target.read_text(encoding="utf-8") == content:
            continue
        files.append(PlannedFile(target, content, existed=target.exists()))
    selects = [f"{name}.v{version}"]
    relations = [written.model_file]
    if written.on_error == "quarantine":
        # The model and its quarantine select from `__checked`, which must be built first.
        selects += [written.checked_name, f"{name}__quarantine.v{version}"]
        relations += [written.checked_name, written.quarantine_name]
    return SpecWritePlan(
        model_name=name,
        version=version,
        previous_version=known[-1] if known else None,
        files=tuple(files),
        select=selects[0],
        selects=tuple(selects),
        relations=tuple(relations),
    )


__all__ = [
    "SpecWritePlan",
    "plan_spec_write",
    "render_spec_file",
    "versioned_enrich",
]

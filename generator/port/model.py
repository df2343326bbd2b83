"""`gen-model port MODEL --to spark`: a project's model, checked and transpiled.

The input columns' types come from the catalog (the built warehouse), so rules whose
safety hangs on a type (round, casts to integers, date differences) judge real types.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator import dbt
from generator.catalog_builder import build_catalog
from generator.modeltests import find_model
from generator.port.check import transpile
from generator.project import Project
from generator.templating import untemplate


@dataclass(frozen=True)
class PortedModel:
    """A model's SQL in the target's dialect."""

    name: str
    path: str
    target: str
    sql: str


def port_model(project: Project, name: str, target: str, same_time_zone: bool = False) -> PortedModel:
    """Check MODEL's SQL for constructs that differ on `target` and transpile it; raises
    PortError listing each refused construct, located in the model's file."""
    manifest = dbt.parse(project)
    catalog = build_catalog(project, manifest)
    relation, _node = find_model(project, catalog, manifest, name)
    path = relation.original_file_path
    sql = (project.project_dir / path).read_text(encoding="utf-8")
    schema: dict[str, dict[str, str]] = {}
    templated, _ = untemplate(sql, path)
    for call in templated.calls:
        source = catalog.ref(call.name) if call.kind == "ref" else catalog.source(*call.args)
        if source is not None:
            schema[call.name] = {column.name: column.data_type for column in source.columns if column.data_type}
    ported = transpile(sql, target, schema=schema, file=path, same_time_zone=same_time_zone)
    return PortedModel(name=relation.name, path=path, target=target, sql=ported)

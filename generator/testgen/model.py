"""An existing model (hand-written or generated) as a gated context, as a proposal would be.

`gen-model tests` and `gen-model mutate` work on models that exist: their SQL is put through
the static gates and run in the sandbox, so that derivation and mutation see what they see
for a proposal. A model whose SQL cannot be analysed is read from the warehouse instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import ConfigError, GenModelError
from generator.project import Project
from generator.project.catalog import Catalog, Relation
from generator.proposal import ColumnSpec, Proposal
from generator.sql.context import GateContext


@dataclass
class ModelContext:
    """An existing model opened for derivation or mutation: its gated context, and whether
    its SQL could be analysed (`parsed`) or the built relation stands in for it."""

    relation: Relation
    node: object
    sql_path: Path
    ctx: GateContext
    parsed: bool
    notes: list[str] = field(default_factory=list)


def _layer(path: str) -> str:
    for layer in ("staging", "intermediate", "marts"):
        if f"/{layer}/" in f"/{path}":
            return layer
    return "marts"


def find_model(project: Project, catalog: Catalog, manifest, name: str) -> tuple[Relation, object]:
    """The latest version of model `name` and its manifest node; a clear error if absent."""
    from generator.suggest import did_you_mean

    relation = catalog.ref(name)
    if relation is None or relation.resource_type != "model":
        models = sorted({r.name for r in catalog.models if r.package_name == project.name})
        hint = did_you_mean(name, models)
        raise ConfigError(
            f"no model named {name!r} in the project at {project.project_dir}"
            + (f". {hint}" if hint else f"; its models are: {', '.join(models)}")
        )
    node = manifest.nodes.get(relation.unique_id)
    if node is None or getattr(node, "language", "sql") != "sql":
        raise ConfigError(f"{name} is not a SQL model; gen-model derives tests for SQL models only")
    if not relation.exists:
        raise ConfigError(f"{name} is not built in the warehouse yet; run `dbt build --select {name}` first")
    return relation, node


def open_model(project: Project, catalog: Catalog, relation: Relation, node, sandbox) -> ModelContext:
    """Gate the model's SQL as a proposal (parse, references, binding, safety) and run it
    in the sandbox; if the SQL has Jinja beyond ref()/source(), read the built relation."""
    from generator.gates import GATES, run_gates
    from generator.gates.dry_run import DryRun
    from generator.project.sandbox import lowercase_type
    from generator.sql.context import DryRunResult, ResultColumn

    path = project.project_dir / relation.original_file_path
    sql = path.read_text(encoding="utf-8")
    proposal = Proposal(
        name=relation.name,
        layer=_layer(relation.original_file_path or ""),
        description=relation.description or relation.name,
        grain=tuple(relation.primary_key),
        sql=sql.rstrip() + "\n",
        columns=tuple(ColumnSpec(column.name, column.description) for column in relation.columns),
        materialized=relation.materialized,
        source_file=relation.original_file_path,
    )
    ctx = GateContext(proposal=proposal, catalog=catalog, allow_nondeterministic=True, sandbox=sandbox)
    static = tuple(rule for rule in GATES if rule.name in ("parse", "references", "binding", "safety"))
    report = run_gates(ctx, static)
    notes: list[str] = []
    if report.passed:
        problems = DryRun().check(ctx)
        if problems:
            raise GenModelError(
                f"{relation.name}'s SQL does not run in the sandbox", [proposal.locate(p) for p in problems]
            )
        return ModelContext(relation, node, path, ctx, True, notes)
    first = report.problems[0].message if report.problems else "it does not parse"
    notes.append(
        f"{relation.original_file_path} could not be analysed ({first}); only its grain can be tested (today's "
        f"values are no evidence), and there is no unit test"
    )
    outcome = sandbox.materialise(f"select * from {relation.relation_name}")
    ctx.result = DryRunResult(
        columns=tuple(ResultColumn(name, lowercase_type(kind)) for name, kind in outcome.columns),
        row_count=outcome.row_count,
        elapsed_s=outcome.elapsed_s,
    )
    ctx.tree = ctx.qualified = None
    ctx.relations = {}
    return ModelContext(relation, node, path, ctx, False, notes)

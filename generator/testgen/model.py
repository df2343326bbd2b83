"""An existing model (hand-written or generated) as a gated context, as a proposal would be.

`gen-model tests` and `gen-model mutate` work on models that exist: their SQL is put through
the static gates and run in the sandbox, so that derivation and mutation see what they see
for a proposal. A model whose SQL has Jinja beyond ref()/source() (macros, loops, var())
is analysed as dbt compiles it, its relations turned back into ref()/source(): the same
plain SQL a person could have written. A model whose SQL cannot be analysed even so is
read from the warehouse instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import ConfigError, GenModelError
from generator.project import Project
from generator.project.catalog import Catalog, Relation
from generator.proposal import ColumnSpec, Proposal
from generator.sql.context import GateContext


@dataclass(frozen=True)
class ModelSQL:
    """The SQL analysed for a model: its file's, or (`compiled`) dbt's compiled SQL of it
    with relations as ref()/source(); `note` says why it was compiled or why that failed."""

    sql: str
    compiled: bool = False
    note: str | None = None


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
    compiled: bool = False  # the SQL analysed is dbt's compiled SQL (model_sql)


def _layer(path: str) -> str:
    for layer in ("staging", "intermediate", "marts"):
        if f"/{layer}/" in f"/{path}":
            return layer
    return "marts"


def find_model(project: Project, catalog: Catalog, manifest, name: str) -> tuple[Relation, object]:
    """The latest version of model `name` (or the version dbt's selector names: `account_mrr.v1`)
    and its manifest node; a clear error if absent."""
    from generator.suggest import did_you_mean
    from generator.write.lockfile import split_port_key

    relation = catalog.ref(name)
    if relation is None:
        model, version = split_port_key(name)
        if version is not None and catalog.ref(model) is not None:
            relation = catalog.ref(model, version)
            if relation is None:
                raise ConfigError(f"{model} has no version {version}")
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


def selector(relation: Relation) -> str:
    """How dbt's --select names this model (and its version)."""
    return f"{relation.name}.v{relation.version}" if relation.version is not None else relation.name


def plain_sql(compiled: str, catalog: Catalog, relation: Relation) -> str:
    """dbt's compiled SQL of `relation` with the relations it reads written as ref()/source()."""
    for unique_id in relation.depends_on:
        upstream = catalog.by_unique_id(unique_id)
        if upstream is None:
            continue
        # "db"."schema"."table" as dbt renders it; unquoted or differently cased parts too.
        parts = (upstream.database, upstream.schema, upstream.identifier)
        name = r"\.".join(f'(?:"{re.escape(part)}"|{re.escape(part)}\\b)' for part in parts)
        compiled = re.sub(rf"(?<![\w.\"]){name}", lambda _, up=upstream: up.jinja(), compiled, flags=re.IGNORECASE)
    return compiled


def model_sql(project: Project, catalog: Catalog, relation: Relation, manifest) -> ModelSQL:
    """The SQL to analyse for an existing model: its file's when it is plain SQL with
    ref()/source(); else dbt's compiled SQL of it, relations turned back into ref()/source()
    (so that everything after sees plain SQL, exactly as if a person had written it).

    Call it before a sandbox is open: dbt compiles with the warehouse open for writing.
    """
    from generator.project import dbt
    from generator.sql.templating import untemplate

    file = relation.original_file_path
    sql = (project.project_dir / file).read_text(encoding="utf-8")
    _, problems = untemplate(sql, file)
    if not problems:
        return ModelSQL(sql)
    try:
        compiled = dbt.compile_node(project, selector(relation), relation.unique_id, manifest)
    except ConfigError as error:
        reason = str(error).splitlines()[-1].strip()
        return ModelSQL(sql, note=f"dbt could not compile it: {reason}")
    return ModelSQL(
        plain_sql(compiled, catalog, relation),
        compiled=True,
        note=(
            f"{file} uses Jinja beyond ref() and source(); it was analysed as dbt compiles it (line numbers are "
            f"those of target/compiled/), its relations turned back into ref()/source()"
        ),
    )


def open_model(
    project: Project, catalog: Catalog, relation: Relation, node, sandbox, source: ModelSQL | None = None
) -> ModelContext:
    """Gate the model's SQL (`source`, by default its file's) as a proposal (parse,
    references, binding, safety) and run it in the sandbox; if it cannot be analysed,
    read the built relation."""
    from generator.gates import GATES, run_gates
    from generator.gates.dry_run import DryRun
    from generator.project.sandbox import lowercase_type
    from generator.sql.context import DryRunResult, ResultColumn

    path = project.project_dir / relation.original_file_path
    source = source if source is not None else ModelSQL(path.read_text(encoding="utf-8"))
    sql = source.sql
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
    problems = DryRun().check(ctx) if report.passed else []
    if report.passed and not problems:
        notes += [source.note] if source.compiled else []
        return ModelContext(relation, node, path, ctx, True, notes, compiled=source.compiled)
    if problems and not source.compiled:
        raise GenModelError(
            f"{relation.name}'s SQL does not run in the sandbox", [proposal.locate(p) for p in problems]
        )
    # dbt builds the model, so compiled SQL the sandbox cannot run is the analysis's limit, not an error.
    found = report.problems or problems
    first = found[0].message if found else "it does not parse"
    if source.compiled:
        first = f"not even as dbt compiles it: {first}"
    elif source.note:
        first = f"{first}; {source.note}"
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

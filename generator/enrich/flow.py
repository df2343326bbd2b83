"""The spec flow: a `kind: enrich` proposal through gates, the writer and dbt.

It mirrors the SQL flow in `generator.run.pipeline` step for step, with gates that fit a spec:

  spec      the spec validates (schema and semantics, every problem located)
  input     its input file exists under the raw dir, in the format the spec says
  lookup    a lookup's model is in the catalog and built, with the columns it takes
  compile   the spec compiles to a dbt Python model
  execute   the compiled model runs on the real file, in a child process with a time
            limit (the DuckDB sandbox runs SQL, not Python), materialised as dbt-duckdb
            does it; DuckDB's types and the row count come back
  grain     the spec's key is unique and never null in the result
  contract  the result's DuckDB types are the spec's declared types

`check_spec_proposal` runs them; `finish_spec_proposal` (or `write_spec_proposal` for the
files alone) writes `<name>_v<N>.enrich.yml`, the compiled `<name>_v<N>.py`, the versioned
`<name>.yml` (and the quarantine model) atomically through `generator.write.transaction`, builds
the new version with dbt, and rolls everything back if the build fails.

Versions: dbt versions Python models like SQL ones, so a generated enrichment model is
versioned like a generated SQL model (`_v<N>`, `latest_version`, older versions kept). A
model compiled from a committed unversioned spec (`<name>.enrich.yml`) is a person's: a
proposal never adds versions to it (edit the spec and run `gen-model enrich compile`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml

from generator.enrich.compiler import CompiledModel, render_spec, versioned_specs
from generator.enrich.discovery import EXTENSIONS, resolve_raw_dir
from generator.enrich.spec import SPEC_SUFFIX, EnrichSpec, load_spec, validate_spec
from generator.enrich.yaml_positions import load_with_positions
from generator.errors import BuildError, GenModelError, Problem, ProposalError, WriteError
from generator.gates.base import GateReport, Rule, run_gates
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.sql.context import ResultColumn
from generator.testgen.datatests import DataTest
from generator.write import inert
from generator.write.writer import ContractColumn, PlannedFile, WritePlan

# -- context and result ------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecRun:
    """What executing the compiled model on the real input produced."""

    columns: tuple[ResultColumn, ...]
    row_count: int
    null_keys: int
    duplicate_keys: int
    duplicate_rows: int
    duplicate_examples: tuple[tuple[str, ...], ...]
    quarantined: int | None
    quarantine_examples: tuple[tuple, ...]
    warnings: tuple[str, ...]
    elapsed_s: float
    peak_rss_mib: float


@dataclass
class SpecContext:
    """What the spec gates read, and what earlier gates leave for later ones."""

    proposal: Proposal
    catalog: Catalog
    timeout_s: float = 60.0
    spec: EnrichSpec | None = None  # set by `spec`
    raw_dir: Path | None = None  # set by `input`
    input_files: list[Path] = field(default_factory=list)
    lookup: Relation | None = None  # set by `lookup`
    compiled: CompiledModel | None = None  # set by `compile`
    result: SpecRun | None = None  # set by `execute`

    @property
    def file(self) -> str:
        return self.proposal.source_file or "<proposal>"

    def problem(self, rule: str, message: str, **kwargs) -> Problem:
        return Problem(rule=rule, message=message, file=self.proposal.source_file, **kwargs)


@dataclass
class AcceptedSpec:
    """An enrich proposal that passed every gate, and what the gates learned about it."""

    proposal: Proposal
    spec: EnrichSpec
    result: SpecRun
    columns: list[ContractColumn]
    tests: list[DataTest]
    report: GateReport


# -- gates ----------------------------------------------------------------------------------------


class SpecSchema(Rule):
    """The spec validates against its schema and semantics."""

    name = "spec"

    def check(self, ctx: SpecContext) -> list[Problem]:
        if ctx.proposal.kind != "enrich" or ctx.proposal.spec is None:
            return [ctx.problem(self.name, "not an enrich proposal: it has no spec")]
        spec = ctx.proposal.enrich_spec
        if not isinstance(spec, EnrichSpec):
            try:
                spec = validate_spec(ctx.proposal.spec, file=ctx.proposal.source_file, prefix=("spec",))
            except ProposalError as error:
                return list(error.problems)
        ctx.spec = spec
        return []


class InputExists(Rule):
    """The spec's input file exists under the raw dir, in the format it says."""

    name = "input"
    requires = ("spec",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        spec = ctx.spec
        ctx.raw_dir = resolve_raw_dir(ctx.catalog.project_dir)
        pattern = spec.input.path
        if not ctx.raw_dir.is_dir():
            return [
                ctx.problem(
                    self.name,
                    f"the raw dir {ctx.raw_dir} does not exist, so {pattern!r} cannot be read",
                    identifier=pattern,
                    suggestion="Set the dbt var gen_model_raw_path (or GEN_MODEL_RAW_PATH) to "
                    "the folder holding the raw files.",
                )
            ]
        ctx.input_files = sorted(p for p in ctx.raw_dir.glob(pattern) if p.is_file())
        known = sorted({raw.input_path for raw in ctx.catalog.raw_files if raw.input_path})
        if not ctx.input_files:
            close = get_close_matches(pattern, known, n=1, cutoff=0.5)
            return [
                ctx.problem(
                    self.name,
                    f"spec.input.path {pattern!r} matches no file under the raw dir {ctx.raw_dir}",
                    identifier=pattern,
                    suggestion=(f"Did you mean {close[0]!r}? " if close else "")
                    + (f"Raw files: {', '.join(known)}." if known else "The raw dir has no data files."),
                )
            ]
        problems = []
        for path in ctx.input_files:
            relative = path.relative_to(ctx.raw_dir).as_posix()
            # The catalog sniffed the format (NDJSON saved as .json, say); else the extension.
            sniffed = [raw.format for raw in ctx.catalog.raw_files if raw.input_path == relative]
            listed = sniffed[0] if sniffed else EXTENSIONS.get(path.suffix.lower())
            # A .json file may hold NDJSON: by its extension alone, either reading is plausible.
            plausible = not sniffed and {listed, spec.input.format} == {"json", "ndjson"}
            if listed and listed != spec.input.format and not plausible:
                problems.append(
                    ctx.problem(
                        self.name,
                        f"{relative} is {listed}, but the spec reads it as {spec.input.format}",
                        identifier=spec.input.format,
                        suggestion=f"Set spec.input.format to {listed}.",
                    )
                )
        return problems


class LookupExists(Rule):
    """A lookup's model is in the catalog and built, with the columns the spec takes."""

    name = "lookup"
    requires = ("spec",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        lookup = ctx.spec.lookup
        if lookup is None:
            return []
        relation = ctx.catalog.ref(lookup.model, lookup.version)
        if relation is None:
            close = get_close_matches(lookup.model, ctx.catalog.ref_names(), n=1)
            return [
                ctx.problem(
                    self.name,
                    f"spec.lookup.model {lookup.model!r}"
                    + (f" version {lookup.version}" if lookup.version else "")
                    + " is not a model of this project",
                    identifier=lookup.model,
                    suggestion=f"Did you mean {close[0]!r}?" if close else None,
                )
            ]
        if relation.name == ctx.proposal.name:
            return [ctx.problem(self.name, "a model cannot look itself up", identifier=lookup.model)]
        if not relation.exists:
            return [
                ctx.problem(
                    self.name,
                    f"{relation.display} is not built in the warehouse, so the lookup cannot be tried",
                    identifier=lookup.model,
                    suggestion=f"Run dbt build --select {lookup.model} first.",
                )
            ]
        ctx.lookup = relation
        names = list(relation.column_names)
        problems = []
        used = [("spec.lookup.lookup_key", c) for c in lookup.lookup_key.columns]
        used += [(f"spec.lookup.columns[{i}].from", c.source) for i, c in enumerate(lookup.columns)]
        for where, column in used:
            if relation.column(column) is None:
                close = get_close_matches(column, names, n=1)
                problems.append(
                    ctx.problem(
                        self.name,
                        f"{where}: {relation.display} has no column {column!r}",
                        identifier=column,
                        suggestion=f"Did you mean {close[0]!r}?" if close else f"Columns: {', '.join(names)}.",
                    )
                )
        return problems


class Compiles(Rule):
    """The spec compiles to a dbt Python model."""

    name = "compile"
    requires = ("spec",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        try:
            ctx.compiled = render_spec(ctx.spec, ctx.spec.spec_file_name)
        except GenModelError as error:
            return list(error.problems) or [ctx.problem(self.name, error.message)]
        for name, source in ctx.compiled.files.items():
            if name.endswith(".py"):
                try:
                    compile(source, name, "exec")
                except SyntaxError as error:  # a compiler defect, never the proposal's
                    return [ctx.problem(self.name, f"{name} does not parse: {error}")]
        return []


class Executes(Rule):
    """The compiled model runs on the real input in a child process, within the time limit."""

    name = "execute"
    requires = ("input", "lookup", "compile")

    def check(self, ctx: SpecContext) -> list[Problem]:
        outcome = execute_compiled(ctx)
        if isinstance(outcome, Problem):
            return [outcome]
        ctx.result = outcome
        return []


class KeyIsGrain(Rule):
    """The spec's key is unique and never null in the result."""

    name = "grain"
    requires = ("execute",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        result, key = ctx.result, ", ".join(ctx.spec.key)
        problems = []
        if result.null_keys:
            problems.append(
                ctx.problem(
                    self.name,
                    f"key ({key}) is null in {result.null_keys:,} of {result.row_count:,} rows",
                    identifier=ctx.spec.key[0],
                    suggestion="Mark the key columns not_null, or choose a key that is always set.",
                )
            )
        if result.duplicate_keys:
            shown = "; ".join(", ".join(example) for example in result.duplicate_examples)
            problems.append(
                ctx.problem(
                    self.name,
                    f"key ({key}) repeats: {result.duplicate_keys:,} value(s) on "
                    f"{result.duplicate_rows:,} rows (e.g. {shown})",
                    identifier=ctx.spec.key[0],
                    suggestion="Add dedupe (keep: latest, by: <a timestamp>) or a finer key.",
                )
            )
        return problems


class ContractHolds(Rule):
    """The result's DuckDB column types are the spec's declared types."""

    name = "contract"
    requires = ("execute",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        declared = [(name, dtype.name) for name, dtype, _ in ctx.spec.output_columns]
        found = [(column.name, column.data_type) for column in ctx.result.columns]
        if declared == found:
            return []
        return [
            ctx.problem(
                self.name,
                f"the result's columns {found} are not the spec's {declared}",
                suggestion="This is a compiler defect: report it with the spec.",
            )
        ]


SPEC_GATES: tuple[Rule, ...] = (
    SpecSchema(),
    InputExists(),
    LookupExists(),
    Compiles(),
    Executes(),
    KeyIsGrain(),
    ContractHolds(),
)


# -- execution ------------------------------------------------------------------------------------


def execute_compiled(ctx: SpecContext) -> SpecRun | Problem:
    """Run the compiled model (and its quarantine model) on the raw dir in a child process."""
    catalog, spec = ctx.catalog, ctx.spec
    with tempfile.TemporaryDirectory(prefix="gen_model_enrich_") as directory:
        files = {}
        for name, content in ctx.compiled.files.items():
            if name.endswith(".py"):
                (Path(directory) / name).write_text(content, encoding="utf-8")
                files[name] = str(Path(directory) / name)
        relations = {}
        if ctx.lookup is not None:
            lookup = spec.lookup
            key = lookup.model if lookup.version is None else f"{lookup.model}@{lookup.version}"
            relations[key] = ctx.lookup.relation_name
        request = {
            "model": files[f"{spec.model_file}.py"],
            "quarantine": files.get(f"{spec.quarantine_name}.py"),
            "raw_dir": str(ctx.raw_dir),
            "warehouse": str(catalog.database_path) if relations and catalog.database_path else None,
            "database": catalog.database_name or (catalog.database_path.stem if catalog.database_path else None),
            "relations": relations,
            "key": list(spec.key),
        }
        request_file = Path(directory) / "request.json"
        request_file.write_text(json.dumps(request), encoding="utf-8")
        if relations:
            from generator.project import dbt

            dbt.release_duckdb()  # the child attaches the warehouse read-only
        try:
            done = subprocess.run(
                [sys.executable, "-m", "generator.enrich.runner", str(request_file)],
                capture_output=True,
                text=True,
                timeout=ctx.timeout_s,
                cwd=catalog.project_dir,
            )
        except subprocess.TimeoutExpired:
            return ctx.problem(
                "execute",
                f"the compiled model did not finish on {spec.input.path} within {ctx.timeout_s:g} s",
                suggestion="Raise the limit (--timeout) for a big input, or check the spec's lookup and dedupe.",
            )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    outcome = json.loads(lines[-1]) if lines else None
    if done.returncode == 3 and outcome:
        # The model rejected its input: that message says which file, row and reason.
        return ctx.problem(
            "execute",
            f"the compiled model rejected {spec.input.path}: {outcome['error']}",
            identifier=spec.input.path,
        )
    if done.returncode != 0 or outcome is None:
        detail = (done.stderr or done.stdout).strip().splitlines()
        return ctx.problem(
            "execute",
            f"the compiled model failed on {spec.input.path}: {detail[-1] if detail else done.returncode}",
            suggestion="This is probably a compiler defect: report it with the spec.",
            details={"stderr": done.stderr[-4000:]},
        )
    return SpecRun(
        columns=tuple(ResultColumn(name, data_type) for name, data_type in outcome["columns"]),
        row_count=outcome["rows"],
        null_keys=outcome["null_keys"],
        duplicate_keys=outcome["duplicate_keys"],
        duplicate_rows=outcome["duplicate_rows"],
        duplicate_examples=tuple(tuple(example) for example in outcome["duplicate_examples"]),
        quarantined=outcome.get("quarantined"),
        quarantine_examples=tuple(tuple(row) for row in outcome.get("quarantine_examples", ())),
        warnings=tuple(outcome.get("warnings", ())),
        elapsed_s=outcome["seconds"],
        peak_rss_mib=outcome["peak_rss_mib"],
    )


# -- checking -------------------------------------------------------------------------------------


def _tests_of(spec: EnrichSpec, row_count: int) -> list[DataTest]:
    """The tests the compiled YAML declares, as plain data for the report."""
    verified = f" (verified on {row_count:,} rows when the spec was run)"
    tests = []
    for name, _, _ in spec.output_columns:
        column = spec.column(name)
        if name in spec.key:
            tests.append(DataTest("not_null", name, reason=f"key column{verified}", kind="grain"))
        elif column is not None and column.not_null:
            tests.append(DataTest("not_null", name, reason="not_null in the spec", kind="not_null"))
        if spec.key == (name,):
            tests.append(DataTest("unique", name, reason=f"the spec's key{verified}", kind="grain"))
        if column is not None and column.accepted_values is not None:
            tests.append(
                DataTest(
                    "accepted_values",
                    name,
                    {"values": list(column.accepted_values)},
                    reason="accepted_values in the spec",
                    kind="accepted_values",
                )
            )
    if len(spec.key) > 1:
        tests.append(DataTest("unique", None, reason=f"the spec's key {', '.join(spec.key)}{verified}", kind="grain"))
    return tests


def check_spec_proposal(catalog: Catalog, proposal: Proposal, options: Any) -> tuple[GateReport, AcceptedSpec | None]:
    """Run every spec gate; return the report and, when all passed, the accepted proposal.

    `options` needs `timeout_s` (the execute gate's limit).
    """
    ctx = SpecContext(proposal=proposal, catalog=catalog, timeout_s=float(getattr(options, "timeout_s", 60.0)))
    report = run_gates(ctx, SPEC_GATES)
    if not report.passed:
        return report, None
    spec, result = ctx.spec, ctx.result
    descriptions = {name: description for name, _, description in spec.output_columns}
    columns = [ContractColumn(c.name, c.data_type, descriptions.get(c.name, "")) for c in result.columns]
    accepted = AcceptedSpec(
        proposal=proposal,
        spec=spec,
        result=result,
        columns=columns,
        tests=_tests_of(spec, result.row_count),
        report=report,
    )
    return report, accepted


# -- writing --------------------------------------------------------------------------------------


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


def _versioned_enrich(relation: Relation) -> bool:
    provenance = relation.meta.get("gen_model") if isinstance(relation.meta, dict) else None
    return isinstance(provenance, dict) and provenance.get("kind") == "enrich" and relation.version is not None


def plan_spec_write(project, catalog: Catalog, accepted: AcceptedSpec, provenance: dict) -> SpecWritePlan:
    """Which version, which directory, which files (spec, compiled model, YAML)."""
    proposal = accepted.proposal
    name = proposal.name
    existing = [r for r in catalog.relations if r.resource_type == "model" and r.name == name]
    foreign = [r for r in existing if not _versioned_enrich(r)]
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
        parts = Path(accepted.spec.input.path).parts
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
    if spec_path.exists() or (directory / f"{name}_v{version}.py").exists():
        raise WriteError(f"{spec_path} already exists; gen-model never overwrites a version")
    data, positions = load_with_positions(spec_text)
    spec = validate_spec(data, file=spec_name, positions=positions, text=spec_text)
    siblings = [load_spec(path) for path in on_disk]
    compiled = render_spec(spec, spec_name, [*siblings, spec])
    files = [PlannedFile(spec_path, spec_text, existed=False)]
    for file_name, content in compiled.files.items():
        target = directory / file_name
        if target.is_file() and target.read_text(encoding="utf-8") == content:
            continue
        files.append(PlannedFile(target, content, existed=target.exists()))
    selects = [f"{name}.v{version}"]
    relations = [spec.model_file]
    if spec.on_error == "quarantine":
        selects.append(f"{name}__quarantine.v{version}")
        relations.append(spec.quarantine_name)
    return SpecWritePlan(
        model_name=name,
        version=version,
        previous_version=known[-1] if known else None,
        files=tuple(files),
        select=selects[0],
        selects=tuple(selects),
        relations=tuple(relations),
    )


def _drop_relations(catalog: Catalog, relations: tuple[str, ...]) -> None:
    """Remove what a failed build left in the warehouse for the new version."""
    import duckdb

    from generator.project import dbt

    if catalog.database_path is None or not catalog.database_path.exists():
        return
    dbt.release_duckdb()
    try:
        connection = duckdb.connect(str(catalog.database_path))
    except duckdb.Error:
        return
    try:
        for relation in relations:
            rows = connection.execute(
                "select schema_name, 'table' from duckdb_tables() where table_name = ? "
                "union all select schema_name, 'view' from duckdb_views() where view_name = ? and not internal",
                [relation, relation],
            ).fetchall()
            for schema, kind in rows:
                try:
                    connection.execute(f'drop {kind} if exists "{schema}"."{relation}"')
                except duckdb.Error:
                    pass
    finally:
        connection.close()


def write_spec_proposal(
    project, catalog: Catalog, accepted: AcceptedSpec, provenance: dict, options: Any, extra_files=None
) -> dict:
    """Write the new version's files atomically, build it with dbt, roll back on failure.

    Returns the plan and the build summary: `{"plan": SpecWritePlan, "build": {...}}`
    (the build part has RunReport.build's shape). With `options.dry_run`, only plans.
    `extra_files(plan) -> [PlannedFile]` adds files written in the same transaction (the
    pipeline's lockfile entry). The caller holds the project lock.
    """
    from generator.project import dbt
    from generator.write.transaction import (
        FileTransaction,
        interrupts_as_exceptions,
        raise_if_interrupted,
    )

    plan = plan_spec_write(project, catalog, accepted, provenance)
    if extra_files is not None:
        plan = replace(plan, files=(*plan.files, *extra_files(plan)))
    # The same write-time guarantee as SQL proposals: the final bytes dbt will render carry
    # no Jinja from the spec, the request or the raw file (raises before anything is written).
    inert.check_files((project.relative(planned.path), planned.content) for planned in plan.files)
    if getattr(options, "dry_run", False):
        return {"plan": plan, "build": None}
    progress = getattr(options, "progress", None)
    transaction = FileTransaction(project.project_dir)
    with interrupts_as_exceptions():
        try:
            for planned in plan.files:
                transaction.write(planned.path, planned.content)
            label = f"dbt build --select {' '.join(plan.selects)}"
            if progress is not None:
                with progress.waiting(label):
                    outcome = dbt.build(project, list(plan.selects))
            else:
                outcome = dbt.build(project, list(plan.selects))
            if not outcome.success or not outcome.nodes:
                failures = outcome.failure_messages() or ["dbt selected nothing to build"]
                raise BuildError(
                    f"{label} failed; everything written was rolled back",
                    [Problem(rule="build", message=failure) for failure in failures],
                )
            raise_if_interrupted()  # dbt may swallow Ctrl-C and finish the build
        except BaseException:
            transaction.rollback()
            _drop_relations(catalog, plan.relations)
            raise
        transaction.commit()
    build = {
        "selector": " ".join(plan.selects),
        "passed": sum(1 for node in outcome.nodes if node.status in ("success", "pass")),
        "failed": len(outcome.failed),
        "nodes": [{"name": node.name, "status": node.status} for node in outcome.nodes],
    }
    return {"plan": plan, "build": build}


def _unchanged(catalog: Catalog, accepted: AcceptedSpec) -> int | None:
    """The latest version if it was made from this very proposal and its columns still hold."""
    latest = catalog.ref(accepted.proposal.name)
    if latest is None or not _versioned_enrich(latest):
        return None
    if (latest.meta.get("gen_model") or {}).get("proposal_sha256") != accepted.proposal.sha256():
        return None
    built = [(c.name, c.data_type) for c in latest.columns]
    wanted = [(c.name, c.data_type) for c in accepted.columns]
    return latest.version if built == wanted else None


def finish_spec_proposal(
    project, catalog: Catalog, accepted: AcceptedSpec, provenance: dict, report, options, extra_files=None
):
    """`pipeline.finish` for an enrich proposal: plan, write and build (unless a dry run),
    and fill the RunReport."""
    proposal, result = accepted.proposal, accepted.result
    report.model, report.layer = proposal.name, proposal.layer
    report.gates = accepted.report
    report.rows = result.row_count
    report.columns = accepted.columns
    report.tests = accepted.tests
    report.notes.append(
        f"the compiled model ran on {accepted.spec.input.path} in {result.elapsed_s:.1f} s "
        f"(peak {result.peak_rss_mib:,.0f} MiB)"
    )
    if result.quarantined:
        report.notes.append(
            f"{result.quarantined:,} bad row(s) of {accepted.spec.input.path} go to the quarantine model"
        )
    for warning in result.warnings:
        report.notes.append(warning)
    same = _unchanged(catalog, accepted)
    if same is not None:
        report.status, report.version = "unchanged", same
        report.notes.append(f"{proposal.name} v{same} was made from this proposal already; nothing to write")
        return report
    written = write_spec_proposal(project, catalog, accepted, provenance, options, extra_files)
    plan = written["plan"]
    report.version, report.previous_version = plan.version, plan.previous_version
    report.files = plan.relative_paths(project.project_dir)
    report.file_contents = {path: planned.content for path, planned in zip(report.files, plan.files, strict=True)}
    if written["build"] is None:
        report.status = "dry-run"
        return report
    report.build = written["build"]
    report.status = "written"
    return report


def gate_error(proposal: Proposal, report: GateReport):
    """The error `apply`/`generate` raise for a rejected enrich proposal."""
    from generator.errors import GateError

    return GateError(f"{proposal.name} was rejected by the gates", report.problems)


__all__ = [
    "SPEC_GATES",
    "AcceptedSpec",
    "SpecContext",
    "SpecRun",
    "check_spec_proposal",
    "finish_spec_proposal",
    "plan_spec_write",
    "render_spec_file",
    "write_spec_proposal",
]

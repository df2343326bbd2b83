"""`gen-model verify` (for CI) and `gen-model adopt`: do the generated models still hold?

verify reads the lockfile, the manifest (in-process `dbt parse`, partial parse) and the
warehouse's column list (read-only, one query). It builds nothing and calls no LLM. It
fails, naming each problem, when

  files       a generated file differs from its lock entry and was not adopted, or the
              lockfile names a file that no longer exists;
  lock        a generated model version (meta.gen_model) has no lock entry;
  contract    a generated version's contract is not enforced or a column has no data_type;
  provenance  its meta.gen_model lacks what says where it came from;
  tests       its grain is not tested (unique together, each column not null);
  drift       an input it reads no longer exists, or no longer has a column it uses;
  jinja       a generated file holds Jinja dbt would render beyond what gen-model writes on
              purpose (generator.write.inert): a hand edit or a file from an older gen-model. These
              files are read before dbt parses the project, and if one fails dbt is not run.

Adopted hand edits are listed as `edited`, not failures. What cannot be checked (no
warehouse yet, an input not built) is a warning that says so.

adopt records a model's files as they are now: edits become accepted hand edits (the
columns the edited SQL reads are derived again for the drift check), versions whose files
are gone leave the lockfile, and a generated model the lockfile does not know is added.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import ConfigError
from generator.project import Project
from generator.project.catalog import Catalog, Relation
from generator.write import inert, lockfile

ERROR, EDITED, WARNING = "error", "edited", "warning"
PROVENANCE_KEYS = ("generator_version", "origin", "proposal_sha256", "grain")
_SEVERITY_ORDER = {ERROR: 0, EDITED: 1, WARNING: 2}


@dataclass(frozen=True)
class Finding:
    """One thing verify found, located as precisely as it can be."""

    check: str  # files | lock | contract | provenance | tests | drift | spec | warehouse
    severity: str  # error | edited | warning
    message: str
    model: str | None = None
    version: int | None = None
    file: str | None = None
    relation: str | None = None  # drift: the input, as ref()/source()
    column: str | None = None  # drift: the column it lost
    suggestion: str | None = None
    line: int | None = None  # jinja: where in `file`
    col: int | None = None

    def sort_key(self) -> tuple:
        return (
            self.model or "~",
            self.version or 0,
            _SEVERITY_ORDER[self.severity],
            self.check,
            self.file or "",
            self.message,
        )

    def format(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line, self.col) if part is not None)
        where = f"{where}: " if where else ""
        text = f"{where}[{self.check}] {self.message}"
        if self.suggestion:
            text += f". {self.suggestion}"
        return text

    def to_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass
class VerifyReport:
    """What `gen-model verify` found, for people (format_text) and CI (to_json)."""

    lockfile: str
    warehouse: str | None
    warehouse_found: bool
    versions: list[tuple[str, int]] = field(default_factory=list)  # checked, sorted
    findings: list[Finding] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def edited(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == EDITED]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def status_of(self, model: str, version: int) -> str:
        mine = [f for f in self.findings if f.model == model and f.version == version]
        if any(f.severity == ERROR for f in mine):
            return "failed"
        if any(f.severity == EDITED for f in mine):
            return "edited"
        return "ok"

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "lockfile": self.lockfile,
            "warehouse": {"path": self.warehouse, "found": self.warehouse_found},
            "models": [
                {"model": model, "version": version, "status": self.status_of(model, version)}
                for model, version in self.versions
            ],
            "problems": [f.to_dict() for f in self.problems],
            "edited": [f.to_dict() for f in self.edited],
            "warnings": [f.to_dict() for f in self.warnings],
            "elapsed_s": round(self.elapsed_s, 2),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format_text(self) -> str:
        marks = {"ok": "✓", "edited": "✎", "failed": "✗"}
        lines = [
            f"gen-model verify: {len(self.versions)} generated model version(s), {self.lockfile}"
            + (f", warehouse {self.warehouse}" if self.warehouse else "")
        ]
        for model, version in self.versions:
            status = self.status_of(model, version)
            lines.append(f"  {marks[status]} {model} v{version}")
            for finding in (f for f in self.findings if f.model == model and f.version == version):
                prefix = {ERROR: "✗", EDITED: "✎", WARNING: "!"}[finding.severity]
                lines.append(f"      {prefix} {finding.format()}")
        loose = [f for f in self.findings if (f.model, f.version) not in set(self.versions)]
        for finding in loose:
            prefix = {ERROR: "✗", EDITED: "✎", WARNING: "!"}[finding.severity]
            lines.append(f"  {prefix} {finding.format()}")
        counts = f"{len(self.problems)} problem(s), {len(self.edited)} edited, {len(self.warnings)} warning(s)"
        lines.append(("✓ verify passed: " if self.ok else "✗ verify failed: ") + counts)
        return "\n".join(lines)


# -- reading the project ---------------------------------------------------------------------


def read_project(project: Project) -> tuple[Any, Catalog]:
    """dbt's manifest and the catalog, without sniffing raw files (verify does not use them)."""
    from generator.project import dbt
    from generator.project.catalog_builder import build_catalog

    manifest = dbt.read_manifest(project)
    return manifest, build_catalog(project, manifest, raw_files=())  # raw files: not checked here


def compiled_from_spec(relation: Relation) -> bool:
    """A Python model compiled from a hand-written enrichment spec, not from a proposal.

    Its source of truth is the spec beside it, so verify checks that the compiled files are
    up to date with the spec (`_check_specs`) instead of looking for a lock entry.
    """
    meta = relation.meta.get("gen_model") or {}
    return meta.get("kind") == "enrich" and "origin" not in meta


def generated_versions(project: Project, catalog: Catalog) -> list[Relation]:
    """The project's own model versions that gen-model wrote (meta.gen_model), sorted."""
    return sorted(
        (
            r
            for r in catalog.models
            if r.generated
            and r.package_name == project.name
            and not compiled_from_spec(r)
            # A quarantine companion is part of its model: its files are in that lock entry.
            and not (r.meta.get("gen_model") or {}).get("quarantine_of")
        ),
        key=lambda r: (r.name, r.version or 0),
    )


def _check_specs(project: Project) -> list[Finding]:
    """Compiled enrichment models that no longer match their spec (edited, or not recompiled)."""
    from generator.enrich.compiler import find_specs, stale_files

    findings = []
    for spec in find_specs([project.project_dir / path for path in project.model_paths]):
        for stale in stale_files(spec):
            findings.append(
                Finding(
                    "spec",
                    ERROR,
                    f"{project.relative(stale)} is not what {spec.name} compiles to "
                    "(edited by hand, or the spec changed without a recompile)",
                    file=project.relative(stale),
                    suggestion=f"Run `gen-model enrich compile {project.relative(spec)}` and commit the result",
                )
            )
    return findings


def _tests_on(manifest: Any) -> dict[str, list[Any]]:
    tests: dict[str, list[Any]] = {}
    for node in manifest.nodes.values():
        if node.resource_type == "test" and getattr(node, "test_metadata", None) and node.config.enabled:
            attached = getattr(node, "attached_node", None)
            if attached:
                tests.setdefault(attached, []).append(node)
    return tests


def _display_version(relation: Relation) -> str:
    return f"{relation.name} v{relation.version}" if relation.version is not None else relation.name


# -- the checks ------------------------------------------------------------------------------


def _check_files(project: Project, lock: lockfile.Lockfile, model: str) -> list[Finding]:
    findings = []
    for path, (entry, generated, adopted) in sorted(lock.expected_files(model).items()):
        digest = lockfile.file_sha256(project.project_dir / path)
        where = f"{lockfile.LOCK_NAME} ({model} v{entry.version})"
        if digest is None:
            findings.append(
                Finding(
                    "files",
                    ERROR,
                    f"named in {where} but missing",
                    model,
                    entry.version,
                    path,
                    suggestion=f"Restore it from git, or run `gen-model adopt {model}` to record that it is gone",
                )
            )
        elif digest == generated:
            continue
        elif digest == adopted:
            message = "edited by hand after generation (adopted)"
            findings.append(Finding("files", EDITED, message, model, entry.version, path))
        else:
            findings.append(
                Finding(
                    "files",
                    ERROR,
                    f"changed since {where} and not adopted",
                    model,
                    entry.version,
                    path,
                    suggestion=(
                        f"Review the change: `gen-model adopt {model}` accepts it as a hand edit, "
                        f"`git checkout -- {path}` undoes it"
                    ),
                )
            )
    return findings


def _check_ports(project: Project, lock: lockfile.Lockfile) -> list[Finding]:
    """Each written port against its proof: the ported file as written, its model as proven.

    A model changed after its port was proven is a stale port: the other engine would build
    the old logic, so it is an error that says what to rerun.
    """
    findings = []
    for key in sorted(lock.ports):
        model, version = lockfile.split_port_key(key)
        for target, port in sorted(lock.ports[key].items()):
            rerun = f"Run `gen-model port {key} --to {target} --write` to prove and write it again"
            where = f"{lockfile.LOCK_NAME} (ports.{key}.{target})"
            source_digest = lockfile.file_sha256(project.project_dir / port["source"])
            if source_digest is None:
                message = f"the model its {target} port was proven from is gone ({where})"
                findings.append(Finding("port", ERROR, message, model, version, port["source"], suggestion=rerun))
            elif source_digest != port["source_sha256"]:
                message = f"changed after its {target} port ({port['file']}) was proven: the port is stale"
                findings.append(Finding("port", ERROR, message, model, version, port["source"], suggestion=rerun))
            digest = lockfile.file_sha256(project.project_dir / port["file"])
            if digest != port["sha256"]:
                message = f"{'missing' if digest is None else 'changed by hand'} since {where} recorded its proof"
                findings.append(Finding("port", ERROR, message, model, version, port["file"], suggestion=rerun))
    return findings


def _check_jinja(project: Project, files: dict[str, tuple[str, int | None]]) -> list[Finding]:
    """Generated files (path -> model, version) holding Jinja dbt would render (generator.write.inert)."""
    findings = []
    for path, (model, version) in sorted(files.items()):
        try:
            text = (project.project_dir / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # missing files are the files check's to report
        for problem in inert.file_problems(path, text):
            findings.append(
                Finding(
                    "jinja",
                    ERROR,
                    problem.message,
                    model,
                    version,
                    path,
                    suggestion=problem.suggestion,
                    line=problem.line,
                    col=problem.col,
                )
            )
    return findings


def _check_structure(relation: Relation, node: Any, tests: list[Any]) -> list[Finding]:
    """Contract enforced and typed, provenance complete, grain tested."""
    findings = []
    file = relation.original_file_path
    name, version = relation.name, relation.version
    contract = getattr(node, "contract", None)
    # dbt refuses `contract: enforced` on Python models; a compiled spec checks its own
    # output types instead, so only the declared data types are required of it.
    python_model = getattr(node, "language", "sql") == "python"
    if not python_model and not getattr(contract, "enforced", False):
        findings.append(
            Finding(
                "contract",
                ERROR,
                f"{_display_version(relation)} does not enforce its contract",
                name,
                version,
                file,
                suggestion="Set `config: {contract: {enforced: true}}` on the model in its YAML (gen-model writes it)",
            )
        )
    untyped = [column for column, info in (node.columns or {}).items() if not info.data_type]
    if not node.columns:
        message = f"{_display_version(relation)} declares no columns"
        findings.append(Finding("contract", ERROR, message, name, version, file))
    elif untyped:
        findings.append(
            Finding(
                "contract",
                ERROR,
                f"{_display_version(relation)} declares column(s) without data_type: {', '.join(untyped)}",
                name,
                version,
                file,
            )
        )
    provenance = (relation.meta or {}).get("gen_model") or {}
    missing = [key for key in PROVENANCE_KEYS if not provenance.get(key)]
    if missing:
        findings.append(
            Finding(
                "provenance",
                ERROR,
                f"meta.gen_model of {_display_version(relation)} lacks {', '.join(missing)}",
                name,
                version,
                file,
                suggestion="Restore the version's `config.meta.gen_model` block from git",
            )
        )
    grain = [str(column) for column in provenance.get("grain") or ()]
    if grain:
        findings += _check_grain_tests(relation, grain, tests)
    return findings


def _check_grain_tests(relation: Relation, grain: list[str], tests: list[Any]) -> list[Finding]:
    wanted = sorted(column.lower() for column in grain)
    unique = False
    not_null: set[str] = set()
    for test in tests:
        name = test.test_metadata.name
        kwargs = test.test_metadata.kwargs or {}
        column = (getattr(test, "column_name", None) or kwargs.get("column_name") or "").lower()
        if name == "unique_combination_of_columns":
            combination = sorted(str(c).lower() for c in kwargs.get("combination_of_columns") or ())
            unique = unique or combination == wanted
        elif name == "unique" and wanted == [column]:
            unique = True
        elif name == "not_null" and column:
            not_null.add(column)
    findings = []
    name, version, file = relation.name, relation.version, relation.original_file_path
    if not unique:
        findings.append(
            Finding(
                "tests",
                ERROR,
                f"{_display_version(relation)} has no test that its grain ({', '.join(grain)}) is unique",
                name,
                version,
                file,
                suggestion="Restore the gen_model.unique_combination_of_columns test in the version's data_tests",
            )
        )
    lacking = [column for column in grain if column.lower() not in not_null]
    if lacking:
        findings.append(
            Finding(
                "tests",
                ERROR,
                f"{_display_version(relation)} has no not_null test on grain column(s) {', '.join(lacking)}",
                name,
                version,
                file,
                suggestion="Restore the not_null test under the column in the version's YAML",
            )
        )
    return findings


def model_inputs(relation: Relation, entry: lockfile.LockEntry | None) -> dict[str, dict]:
    """The relations a version reads and the columns it uses: the lockfile's record, else the
    lineage in its meta (output columns only: filters and joins are not in lineage)."""
    if entry is not None and entry.inputs:
        return entry.inputs
    inputs: dict[str, dict] = {}
    lineage = ((relation.meta or {}).get("gen_model") or {}).get("lineage") or {}
    for item in lineage.values():
        for source in (item or {}).get("from") or ():
            display, _, column = str(source).rpartition(").")
            if display and column:
                uses = inputs.setdefault(display + ")", {"uses": []})["uses"]
                if column not in uses:
                    uses.append(column)
    return inputs


def _outputs_using(relation: Relation, display: str, column: str) -> list[str]:
    lineage = ((relation.meta or {}).get("gen_model") or {}).get("lineage") or {}
    needle = f"{display}.{column}".lower()
    return [
        output
        for output, item in lineage.items()
        if needle in [str(source).lower() for source in (item or {}).get("from") or ()]
    ]


def _check_drift(
    relation: Relation, entry: lockfile.LockEntry | None, catalog: Catalog, unbuilt: set[str]
) -> list[Finding]:
    findings = []
    name, version, file = relation.name, relation.version, relation.original_file_path
    provenance = (relation.meta or {}).get("gen_model") or {}
    if provenance.get("origin") == "llm" and provenance.get("request"):
        regenerate = f'regenerate: gen-model "{provenance["request"]}" --refresh'
    elif provenance.get("proposal_file"):
        regenerate = f"fix the proposal and `gen-model apply` it again ({provenance['proposal_file']})"
    else:
        regenerate = "regenerate the model"
    for display, item in sorted(model_inputs(relation, entry).items()):
        upstream = lockfile.resolve_display(catalog, display)
        if upstream is None:
            findings.append(
                Finding(
                    "drift",
                    ERROR,
                    f"{_display_version(relation)} reads {display}, which no longer exists in the project",
                    name,
                    version,
                    file,
                    relation=display,
                    suggestion=f"Restore it, or {regenerate}",
                )
            )
            continue
        if not upstream.exists:
            unbuilt.add(display)
            continue
        locked_types = lockfile.parse_columns_line(item.get("columns") or "")
        for column in item.get("uses") or ():
            current = upstream.column(column)
            if current is None:
                outputs = _outputs_using(relation, display, column)
                used_in = f"output column(s) {', '.join(outputs)}" if outputs else "a filter, join or grouping"
                findings.append(
                    Finding(
                        "drift",
                        ERROR,
                        f"{display} no longer has column {column}, which {_display_version(relation)} uses "
                        f"(in {used_in})",
                        name,
                        version,
                        file,
                        relation=display,
                        column=column,
                        suggestion=f"Restore {column} in {display}, or {regenerate}",
                    )
                )
                continue
            before = locked_types.get(column)
            if before and current.data_type and before != current.data_type:
                findings.append(
                    Finding(
                        "drift",
                        WARNING,
                        f"{display}.{column} was {before} when {_display_version(relation)} was generated, "
                        f"now {current.data_type}",
                        name,
                        version,
                        file,
                        relation=display,
                        column=column,
                        suggestion="dbt build checks the contract; look at the column's use if it fails",
                    )
                )
    return findings


def verify(project: Project) -> VerifyReport:
    """Check every generated model and lock entry of `project`; build nothing, call no LLM."""
    started = time.monotonic()
    lock = lockfile.load(project.project_dir)
    locked_files = {
        path: (model, entry.version)
        for model in sorted(lock.entries)
        for path, (entry, _, _) in lock.expected_files(model).items()
    }
    for key, targets in lock.ports.items():
        locked_files.update({port["file"]: lockfile.split_port_key(key) for port in targets.values()})
    jinja = _check_jinja(project, locked_files)
    if jinja:
        # dbt would render these files while parsing: say so and do not run it.
        report = VerifyReport(lockfile=lockfile.LOCK_NAME, warehouse=None, warehouse_found=False)
        skipped = Finding(
            "jinja",
            WARNING,
            "dbt parse was not run, so the other checks were skipped: it would render the Jinja above",
            suggestion="Fix the files named, then run `gen-model verify` again",
        )
        report.findings = sorted(set(jinja), key=Finding.sort_key) + [skipped]
        report.versions = sorted({(f.model, f.version) for f in jinja if f.model and f.version is not None})
        report.elapsed_s = time.monotonic() - started
        return report
    manifest, catalog = read_project(project)
    warehouse = catalog.database_path
    report = VerifyReport(
        lockfile=lockfile.LOCK_NAME + ("" if lock.path.is_file() else " (missing)"),
        warehouse=project.relative(warehouse) if warehouse else None,
        warehouse_found=bool(warehouse and warehouse.is_file()),
    )
    if warehouse is None:
        # Spark: no file; the catalog read the metastore, found if anything is built there.
        report.warehouse = f"target {catalog.target_name} ({catalog.adapter_type})"
        report.warehouse_found = any(relation.exists for relation in catalog.relations)
    tests = _tests_on(manifest)
    relations = generated_versions(project, catalog)
    unbuilt: set[str] = set()
    findings: list[Finding] = []
    for relation in relations:
        entry = lock.get(relation.name, relation.version) if relation.version is not None else None
        if entry is None:
            findings.append(
                Finding(
                    "lock",
                    ERROR,
                    f"{_display_version(relation)} is generated (meta.gen_model) but not in {lockfile.LOCK_NAME}",
                    relation.name,
                    relation.version,
                    relation.original_file_path,
                    suggestion=f"Run `gen-model adopt {relation.name}` to record it as it is",
                )
            )
        node = manifest.nodes.get(relation.unique_id)
        if node is not None:
            findings += _check_structure(relation, node, tests.get(relation.unique_id, []))
        if report.warehouse_found:
            findings += _check_drift(relation, entry, catalog, unbuilt)
    for model in sorted(lock.entries):
        findings += _check_files(project, lock, model)
    findings += _check_specs(project)
    findings += _check_ports(project, lock)
    if not report.warehouse_found and relations:
        findings.append(
            Finding(
                "warehouse",
                WARNING,
                f"the warehouse {report.warehouse} does not exist: schema drift was not checked",
                suggestion="Run `dbt build` (or load the warehouse), then `gen-model verify` again",
            )
        )
    for display in sorted(unbuilt):
        findings.append(
            Finding(
                "warehouse",
                WARNING,
                f"{display} is not built in the warehouse: drift of the models reading it was not checked",
                relation=display,
                suggestion="Run `dbt build`, then `gen-model verify` again",
            )
        )
    report.findings = sorted(set(findings), key=Finding.sort_key)
    seen = {(r.name, r.version) for r in relations if r.version is not None}
    seen |= {(f.model, f.version) for f in findings if f.model and f.version is not None}
    report.versions = sorted(seen)
    report.elapsed_s = time.monotonic() - started
    return report


# -- adopt -----------------------------------------------------------------------------------


@dataclass
class AdoptResult:
    """What `gen-model adopt` recorded, one line per file or version."""

    model: str
    lines: list[str] = field(default_factory=list)

    def format_text(self) -> str:
        return "\n".join([f"adopted {self.model} into {lockfile.LOCK_NAME}:", *(f"  {line}" for line in self.lines)])


def _yml_path(project: Project, node: Any) -> str | None:
    patch = getattr(node, "patch_path", None) or ""
    return patch.split("://", 1)[1] if "://" in patch else None


def _derive_inputs(catalog: Catalog, entry: lockfile.LockEntry, sql: str) -> tuple[dict | None, str | None]:
    """The columns an edited SQL reads, from the static gates (parse, references, binding)."""
    from dataclasses import replace

    from generator.gates import GATES, GateContext, run_gates
    from generator.proposal import validate_proposal

    if entry.proposal is None:
        return None, "no locked proposal to check the edit against"
    proposal = replace(validate_proposal(entry.proposal), sql=sql, source_file=None, sql_position=None)
    ctx = GateContext(proposal=proposal, catalog=catalog)
    static = tuple(rule for rule in GATES if rule.name in ("parse", "references", "binding"))
    report = run_gates(ctx, static)
    if not report.passed:
        first = report.problems[0] if report.problems else None
        return None, first.message if first else "the edited SQL does not pass the static gates"
    return lockfile.inputs_of(ctx), None


def _refuse_unparsable_edits(project: Project, lock: lockfile.Lockfile, model: str) -> None:
    """Adopting SQL that does not parse would let verify pass while `dbt build` fails."""
    from generator.errors import GateError
    from generator.gates.parse import parse_statements
    from generator.sql.templating import untemplate

    problems = []
    for path, (entry, generated, adopted) in sorted(lock.expected_files(model).items()):
        if not path.endswith(f"_v{entry.version}.sql"):
            continue
        digest = lockfile.file_sha256(project.project_dir / path)
        if digest in (None, generated, adopted):
            continue
        sql = (project.project_dir / path).read_text(encoding="utf-8")
        templated, _ = untemplate(sql, file=path)  # other Jinja is the editor's business
        problems += parse_statements(templated.sql, sql, path)[1]
    if problems:
        raise GateError(
            f"the hand edit of {model} does not parse as SQL; nothing was adopted. Fix it, then rerun "
            f"`gen-model adopt {model}`",
            problems,
        )


def adopt(project: Project, model: str) -> AdoptResult:
    """Record `model`'s files as they are now in the lockfile (under the project lock)."""
    from generator.write.transaction import ProjectLock

    with ProjectLock(project.project_dir):
        lock = lockfile.load(project.project_dir)
        manifest, catalog = read_project(project)
        versions = [r for r in generated_versions(project, catalog) if r.name == model]
        if not versions and model not in lock.entries:
            from generator.suggest import did_you_mean

            names = sorted({r.name for r in generated_versions(project, catalog)} | set(lock.entries))
            hint = did_you_mean(model, names)
            raise ConfigError(
                f"no generated model named {model!r} in this project or {lockfile.LOCK_NAME}"
                + (f". {hint}" if hint else "")
            )
        _refuse_unparsable_edits(project, lock, model)
        result = AdoptResult(model)
        present = {r.version: r for r in versions}
        for entry in lock.versions(model):
            sql = next((p for p in entry.files if p.endswith(f"_v{entry.version}.sql")), None)
            if entry.version not in present and (sql is None or not (project.project_dir / sql).exists()):
                lock.remove(model, entry.version)
                result.lines.append(f"v{entry.version}: its files are gone; removed from the lockfile")
        for version, relation in sorted(present.items()):
            if lock.get(model, version) is not None:
                continue
            node = manifest.nodes.get(relation.unique_id)
            paths = [p for p in (relation.original_file_path, _yml_path(project, node)) if p]
            provenance = dict((relation.meta or {}).get("gen_model") or {})
            provenance.pop("lineage", None)
            lock.record(
                lockfile.LockEntry(
                    model=model,
                    version=version,
                    layer=Path(paths[0]).parent.name if paths else "",  # the writer's <layer>/ folder
                    files={p: lockfile.file_sha256(project.project_dir / p) for p in paths},
                    provenance=provenance,
                )
            )
            result.lines.append(f"v{version}: was not in the lockfile; recorded as it is ({', '.join(paths)})")
        for path, (entry, generated, adopted) in sorted(lock.expected_files(model).items()):
            digest = lockfile.file_sha256(project.project_dir / path)
            if digest is None:
                result.lines.append(f"{path}: missing; nothing recorded")
            elif digest == generated:
                if entry.adopted.pop(path, None):
                    result.lines.append(f"{path}: back to the generated file; hand edit forgotten")
                else:
                    result.lines.append(f"{path}: unchanged")
            elif digest == adopted:
                result.lines.append(f"{path}: edited by hand, already adopted")
            else:
                entry.adopted[path] = digest
                result.lines.append(f"{path}: edited by hand; recorded (sha256 {digest[:12]})")
                if path.endswith(f"_v{entry.version}.sql"):
                    sql = (project.project_dir / path).read_text(encoding="utf-8")
                    inputs, why = _derive_inputs(catalog, entry, sql)
                    if inputs is not None:
                        entry.inputs = inputs
                        result.lines.append(f"{path}: columns it reads derived again for the drift check")
                    else:
                        result.lines.append(f"{path}: kept the columns it read before ({why})")
        lock.save()
    return result

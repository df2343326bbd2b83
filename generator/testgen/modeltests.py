"""Tests for models: derived, checked, written; and `gen-model tests` / `gen-model mutate`.

Three callers share this:
  * the pipeline (`checked_tests`): derivation, the hollow-test gate and the unit test for
    an accepted proposal, while its sandbox is open;
  * `gen-model tests MODEL` (`add_tests`): the same for a model that exists, hand-written
    or generated; new tests are inserted into its YAML as text (every line a person wrote
    stays byte-identical; tests that exist already are skipped). A model with Jinja beyond
    ref()/source() is analysed as dbt compiles it (generator.testgen.model.model_sql);
  * `gen-model mutate MODEL` (`mutate_model`): the model's own tests, read from dbt's
    manifest, against mutants of its SQL.

Their parts: the model as a gated context (generator.testgen.model), its tests in dbt's
manifest (generator.testgen.existing), the YAML edit (generator.testgen.yaml_edit). The
commands' options, error translation and printing are generator.cli's.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import BuildError, GenModelError, Problem
from generator.limits import QUERY_TIMEOUT_S
from generator.project import Project, dbt, dbt_utils
from generator.project.catalog import Catalog, Relation
from generator.sql.context import GateContext
from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.existing import already_covered, manifest_tests, manifest_unit_tests
from generator.testgen.hollow import Verdict, hollow_gate
from generator.testgen.model import find_model, model_sql, open_model, selector
from generator.testgen.testsql import canonical_name, catalog_resolver
from generator.testgen.unit_fixtures import build_unit_test
from generator.testgen.unit_runner import UnitTest
from generator.testgen.yaml_edit import add_to_yaml


@dataclass
class CheckedTests:
    """Derived tests after the hollow-test gate, and the unit test."""

    kept: list[DataTest] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    unit_test: UnitTest | None = None
    unit_test_notes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mutants_told_apart: int = 0

    @property
    def dropped(self) -> list[Verdict]:
        return [verdict for verdict in self.verdicts if not verdict.kept]


def checked_tests(
    ctx: GateContext,
    *,
    model: str,
    version: int | None,
    grain=None,
    unit_test: bool = True,
    timeout_s: float | None = None,
) -> CheckedTests:
    """Derive tests for the SQL in `ctx` (gates passed, result in the sandbox), keep those
    that can fail, and choose the unit test's rows.

    The tests are derived and checked on the target's engine (their SQL runs in its dry
    run). The unit test's row search runs on DuckDB: on another engine, on a DuckDB twin
    of the model whose expected rows are then confirmed on the engine (generator.testgen.twin)."""
    from generator.testgen.derive import derive_tests
    from generator.testgen.mutate import enumerate_mutants

    derivation = derive_tests(ctx, grain)
    resolve = catalog_resolver(ctx.catalog)
    kept, verdicts = hollow_gate(ctx.sandbox, derivation.tests, resolve, timeout_s=timeout_s)
    result = CheckedTests(kept=kept, verdicts=verdicts, notes=list(derivation.notes))
    if unit_test and ctx.tree is not None and ctx.relations and ctx.dialect.name != "duckdb":
        from generator.testgen.twin import twin_unit_test

        result.unit_test, note = twin_unit_test(ctx, model=model, version=version, timeout_s=timeout_s)
        result.unit_test_notes += [note] if note else []
    elif unit_test and ctx.tree is not None and ctx.relations:
        mutants = enumerate_mutants(ctx)
        built, choice, problem = build_unit_test(ctx, mutants, model=model, version=version, timeout_s=timeout_s)
        result.unit_test = built
        if problem:
            result.unit_test_notes.append(problem)
        if choice is not None:
            result.mutants_told_apart = len(choice.killed)
    return result


# -- gen-model tests ------------------------------------------------------------------------------


@dataclass
class TestsReport:
    """What `gen-model tests MODEL` did (or, with --dry-run, would do)."""

    model: str
    status: str = "pending"  # written | dry-run | unchanged
    file: str | None = None
    added: list[DataTest] = field(default_factory=list)
    skipped: list[tuple[DataTest, str]] = field(default_factory=list)
    dropped: list[Verdict] = field(default_factory=list)
    unit_test: UnitTest | None = None
    diff: str = ""
    build: dict | None = None
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "status": self.status,
            "file": self.file,
            "added": [
                {"name": t.name, "column": t.column, "arguments": t.arguments, "reason": t.reason} for t in self.added
            ],
            "skipped": [{"test": t.describe(), "because": why} for t, why in self.skipped],
            "dropped": [verdict.to_dict() for verdict in self.dropped],
            "unit_test": self.unit_test.name if self.unit_test else None,
            "build": self.build,
            "diff": self.diff,
            "notes": self.notes,
            "elapsed_s": round(self.elapsed_s, 2),
        }

    def _why_none(self) -> str:
        """Why nothing was added: the YAML has the tests, the hollow check dropped them, or
        there was nothing to derive (each says where to look, below the headline)."""
        if self.skipped:
            return "its YAML has them already"
        if self.dropped:
            return f"the {len(self.dropped)} it derived were dropped, see why below"
        return "nothing the SQL and its inputs guarantee is left to test, see the notes"

    def format_text(self) -> str:
        headline = {
            "written": f"✓ {self.model}: added {len(self.added)} data test(s)"
            + (" and a unit test" if self.unit_test else "")
            + f" to {self.file}",
            "dry-run": f"✓ {self.model}: would add {len(self.added)} data test(s)"
            + (" and a unit test" if self.unit_test else "")
            + f" to {self.file} (dry run: nothing written)",
            "unchanged": f"✓ {self.model}: no new tests ({self._why_none()})",
        }.get(self.status, self.status)
        lines = [headline]
        for test in self.added:
            lines.append(f"  + {test.describe():<45} {test.reason}")
        for test, why in self.skipped:
            lines.append(f"  = {test.describe():<45} already there ({why})")
        for verdict in self.dropped:
            lines.append(f"  - {verdict.test.describe():<45} dropped: {verdict.why}")
        if self.unit_test:
            rows = ", ".join(f"{len(g.rows)} {g.input}" for g in self.unit_test.given)
            lines.append(f"  + unit test {self.unit_test.name}: {rows} -> {len(self.unit_test.expect)} expected rows")
        if self.build:
            build = self.build
            lines.append(f"  dbt test:  {build['passed']} passed, {build['failed']} failed ({build['selector']})")
        lines.extend(f"  note: {note}" for note in self.notes)
        if self.status == "dry-run" and self.diff:
            lines += ["", self.diff.rstrip("\n")]
        return "\n".join(lines)


def _properties_file(project: Project, relation: Relation, node) -> Path:
    patch = getattr(node, "patch_path", None)
    if patch:
        return project.project_dir / patch.split("://", 1)[-1]
    return (project.project_dir / relation.original_file_path).with_suffix(".yml")


def add_tests(
    project: Project, name: str, *, dry_run: bool = False, unit_test: bool = True, timeout_s: float = QUERY_TIMEOUT_S
) -> TestsReport:
    """`gen-model tests MODEL`: derive, check and add tests to an existing model's YAML."""
    from generator.dialects import get_dialect
    from generator.project.catalog_builder import build_catalog
    from generator.write.package import missing_package_error
    from generator.write.transaction import FileTransaction, ProjectLock, interrupts_as_exceptions

    started = time.monotonic()
    report = TestsReport(model=name)
    with ProjectLock(project.project_dir):
        manifest = dbt.parse(project)
        catalog = build_catalog(project, manifest, raw_files=())  # raw files: unused here
        relation, node = find_model(project, catalog, manifest, name)
        # dbt_utils stands in for gen_model (generator.project.dbt_utils): a project with
        # neither is refused before any work; one with dbt_utils once its tests are known.
        if not catalog.has_package and not catalog.dbt_utils_tests:
            raise missing_package_error(project)
        existing, _ = manifest_tests(manifest, relation.unique_id)
        existing_units, _ = manifest_unit_tests(manifest, relation.name, relation.version)
        source = model_sql(project, catalog, relation, manifest)  # before the sandbox: dbt may compile
        with get_dialect(catalog.adapter_type).open_dry_run(catalog, timeout_s) as sandbox:
            model = open_model(project, catalog, relation, node, sandbox, source)
            report.notes += model.notes
            checked = checked_tests(
                model.ctx,
                model=relation.name,
                version=relation.version,
                grain=tuple(relation.primary_key),
                unit_test=unit_test and model.parsed,
                timeout_s=timeout_s,
            )
        # An unparsed model's note already says the profile is all there is.
        report.notes += (checked.notes if model.parsed else []) + checked.unit_test_notes
        report.dropped = checked.dropped
        # Derived tests are gen_model's, so the YAML's dbt_utils tests are compared as gen_model's
        # (and shown as written).
        comparable = [dbt_utils.as_gen_model(test) for test in existing]
        as_written = dict(zip(map(id, comparable), existing, strict=True))
        for test in checked.kept:
            covered = already_covered(test, comparable)
            if covered is not None:
                report.skipped.append((test, f"as {as_written[id(covered)].describe()}"))
            else:
                report.added.append(test)
        # What is added is named as the project's packages name it; a test only gen_model has
        # is refused here, before anything is written (dry run included, as `apply` does).
        report.added = dbt_utils.named_for_project(report.added, catalog)
        skipped = dbt_utils.named_for_project([test for test, _ in report.skipped], catalog)
        report.skipped = [(test, why) for test, (_, why) in zip(skipped, report.skipped, strict=True)]
        dbt_utils.require_tests_package(report.added, catalog, project)
        units = []
        if checked.unit_test is not None:
            if any(u.name == checked.unit_test.name for u in existing_units) or any(
                u.name == checked.unit_test.name for u in getattr(manifest, "unit_tests", {}).values()
            ):
                report.notes.append(f"unit test {checked.unit_test.name} exists already; kept as it is")
            else:
                units = [checked.unit_test]
                report.unit_test = checked.unit_test
        path = _properties_file(project, relation, node)
        report.file = project.relative(path)
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        if not report.added and not units:
            report.status = "unchanged"
            report.elapsed_s = time.monotonic() - started
            return report
        after = add_to_yaml(
            before,
            relation.name,
            relation.version,
            [t for t in report.added if t.column],
            [t for t in report.added if not t.column],
            units,
            report.file,
        )
        report.diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=f"a/{report.file}",
                tofile=f"b/{report.file}",
            )
        )
        if dry_run:
            report.status = "dry-run"
            report.elapsed_s = time.monotonic() - started
            return report
        transaction = FileTransaction(project.project_dir)
        select = selector(relation)
        with interrupts_as_exceptions():
            try:
                transaction.write(path, after)
                outcome = dbt.invoke(project, ["test", "--select", select])
                if not outcome.success:
                    failures = [
                        f"{n.name}: {n.status}" + (f" ({n.failures} failing rows)" if n.failures else "")
                        for n in outcome.failed
                    ] or list(outcome.errors)
                    raise BuildError(
                        f"dbt test --select {select} failed with the new tests; {report.file} was restored",
                        [Problem(rule="build", message=failure) for failure in failures],
                    )
            except BaseException:
                transaction.rollback()
                raise
            transaction.commit()
        report.build = {
            "selector": select,
            "passed": sum(1 for n in outcome.nodes if n.status in ("success", "pass")),
            "failed": len(outcome.failed),
        }
        report.status = "written"
    report.elapsed_s = time.monotonic() - started
    return report


# -- gen-model mutate -------------------------------------------------------------------------------


def mutate_model(
    project: Project,
    name: str,
    *,
    timeout_s: float = QUERY_TIMEOUT_S,
    data_tests=None,
    unit_tests=None,
    manifest=None,
    catalog: Catalog | None = None,
):
    """`gen-model mutate MODEL`: the model's tests (from dbt's manifest) against mutants of
    its SQL, in the sandbox (on another engine than DuckDB, in the sandbox of the model's
    DuckDB twin, see mutate_on_twin). `data_tests`/`unit_tests` replace the model's own (benchmarks)."""
    from generator.dialects import get_dialect
    from generator.project.catalog_builder import build_catalog
    from generator.testgen.mutate import enumerate_mutants, run_mutants

    manifest = manifest if manifest is not None else dbt.parse(project)
    catalog = catalog if catalog is not None else build_catalog(project, manifest, raw_files=())
    relation, node = find_model(project, catalog, manifest, name)
    own_tests, test_notes = manifest_tests(manifest, relation.unique_id)
    own_units, unit_notes = manifest_unit_tests(manifest, relation.name, relation.version)
    contract = bool(getattr(getattr(node.config, "contract", None), "enforced", False))
    source = model_sql(project, catalog, relation, manifest)  # before the sandbox: dbt may compile
    label = relation.name if relation.version is None else f"{relation.name}.v{relation.version}"
    with get_dialect(catalog.adapter_type).open_dry_run(catalog, timeout_s) as sandbox:
        model = open_model(project, catalog, relation, node, sandbox, source)
        if not model.parsed:
            raise GenModelError(
                f"{name}'s SQL cannot be mutated: " + "; ".join(model.notes),
            )

        def run(ctx: GateContext):
            return run_mutants(
                ctx,
                enumerate_mutants(ctx),
                own_tests if data_tests is None else data_tests,
                own_units if unit_tests is None else unit_tests,
                catalog_resolver(ctx.catalog),
                contract=contract,
                timeout_s=min(timeout_s, 30.0),
                model=label,
            )

        report = run(model.ctx) if catalog.adapter_type == "duckdb" else mutate_on_twin(model.ctx, label, run)
    if model.compiled:
        # Mutants are of the compiled SQL, run as plain SQL in the sandbox: the person's file is never edited.
        report.notes.insert(
            0,
            f"the SQL mutated is dbt's compiled SQL of {relation.original_file_path} (it uses Jinja beyond "
            f"ref() and source()), relations as ref()/source(); each mutant runs from that plain SQL in the "
            f"sandbox, line numbers are those of target/compiled/",
        )
    if data_tests is None:
        report.notes = test_notes + unit_notes + report.notes
    return report


# The gates an existing model's SQL passes (generator.testgen.model), and its twin too: a
# model that exists is not held to a proposal's grain or contract rules.
# (Determinism is a dry run's prerequisite; a model that exists is allowed to be nondeterministic.)
MODEL_GATES = ("parse", "references", "binding", "safety", "determinism", "dry_run")


def mutate_on_twin(ctx: GateContext, label: str, run):
    """`run` (the mutation run) on the DuckDB twin of the model in `ctx` (its dry run on the
    engine open), when the twin is proven equal to the engine on the real inputs; else a
    ConfigError (exit 2) saying which step refused.

    Each mutant is hundreds of queries: DuckDB's read-only sandbox runs them in milliseconds,
    the engine would run each as a job, and a mutant's SQL is not what was gated. The twin is
    generator.testgen.twin's: the SQL transpiled and checked by generator.port.check, every
    input (or a deterministic sample of a large one) copied into a scratch DuckDB file, its
    result equal to the engine's on those rows."""
    from generator.errors import ConfigError
    from generator.gates import GATES
    from generator.project.sandbox import SandboxQueryError
    from generator.testgen.mutate import show_survivors_in
    from generator.testgen.twin import Refused, in_model_lines, mutation_note, open_twin, proven_equal

    engine = ctx.dialect.engine
    rules = tuple(rule for rule in GATES if rule.name in MODEL_GATES)
    try:
        with open_twin(ctx, rules=rules) as twin:
            rows = proven_equal(ctx, twin)
            report = show_survivors_in(in_model_lines(ctx, twin, run(twin.ctx)), twin.ctx, ctx.dialect.sqlglot)
    except (Refused, SandboxQueryError) as why:
        reason = why.summary if isinstance(why, SandboxQueryError) else str(why)
        raise ConfigError(
            f"gen-model mutate on {engine} runs the mutants of {label} on a DuckDB twin of it, and there is "
            f"none proven equal: {reason}. Run `gen-model mutate {label} --target <a duckdb target>` on a "
            "DuckDB copy of the project instead."
        ) from None
    report.notes.insert(0, mutation_note(ctx, twin, rows))
    return report


def baseline_tests(relation: Relation, tests: list[DataTest]) -> list[DataTest]:
    """The bare baseline most projects have: unique + not_null on the grain (primary key)."""
    from generator.testgen.datatests import grain_tests

    key = list(relation.primary_key)
    if not key:
        for test in tests:
            if canonical_name(test.name) == f"{PACKAGE}.unique_combination_of_columns":
                key = list(test.arguments.get("combination_of_columns") or [])
                break
    if len(key) == 1:
        return [
            DataTest("unique", key[0], kind="grain", reason="baseline"),
            DataTest("not_null", key[0], kind="grain", reason="baseline"),
        ]
    return grain_tests(key, None) if key else []

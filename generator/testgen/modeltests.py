"""Tests for models: derived, checked, written; and `gen-model tests` / `gen-model mutate`.

Three callers share this:
  * the pipeline (`checked_tests`): derivation, the hollow-test gate and the unit test for
    an accepted proposal, while its sandbox is open;
  * `gen-model tests MODEL` (`add_tests`): the same for a model that exists, hand-written
    or generated; new tests are added to its YAML (ruamel round-trip: comments, order and
    every test a person wrote stay as they are; tests that exist already are skipped);
  * `gen-model mutate MODEL` (`mutate_model`): the model's own tests, read from dbt's
    manifest, against mutants of its SQL.
"""

from __future__ import annotations

import difflib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from generator.errors import BuildError, ConfigError, GenModelError, Problem
from generator.project import Project, dbt
from generator.project.catalog import Catalog, Relation
from generator.proposal import ColumnSpec, Proposal
from generator.sql.context import GateContext
from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.hollow import Verdict, hollow_gate
from generator.testgen.testsql import canonical_name, catalog_resolver
from generator.testgen.unit_fixtures import GivenInput, UnitTest, build_unit_test
from generator.write.inert import make_inert
from generator.write.writer import compact_test, compact_unit_test


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
    that can fail, and choose the unit test's rows."""
    from generator.testgen.derive import derive_tests
    from generator.testgen.mutate import enumerate_mutants

    derivation = derive_tests(ctx, grain)
    resolve = catalog_resolver(ctx.catalog)
    kept, verdicts = hollow_gate(ctx.sandbox, derivation.tests, resolve, timeout_s=timeout_s)
    result = CheckedTests(kept=kept, verdicts=verdicts, notes=list(derivation.notes))
    if unit_test and ctx.tree is not None and ctx.relations:
        mutants = enumerate_mutants(ctx)
        built, choice, problem = build_unit_test(ctx, mutants, model=model, version=version, timeout_s=timeout_s)
        result.unit_test = built
        if problem:
            result.unit_test_notes.append(problem)
        if choice is not None:
            result.mutants_told_apart = len(choice.killed)
    return result


# -- tests as dbt knows them -------------------------------------------------------------------


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


# -- an existing model, as a gated context ------------------------------------------------------


@dataclass
class ModelContext:
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


# -- which derived tests are new ---------------------------------------------------------------


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
    keys -= {"quote"} if canonical_name(a.name) == "accepted_values" else set()
    return all(_normal_argument(a.arguments.get(k)) == _normal_argument(b.arguments.get(k)) for k in keys)


def already_covered(test: DataTest, existing: list[DataTest]) -> DataTest | None:
    """An existing test that states what `test` states (or more), if any."""
    for other in existing:
        if _same_test(test, other):
            return other
    macro = canonical_name(test.name)
    if macro == f"{PACKAGE}.unique_combination_of_columns":
        columns = [str(c).lower() for c in test.arguments.get("combination_of_columns") or []]
        for other in existing:
            other_macro = canonical_name(other.name)
            if other_macro == "unique" and len(columns) == 1 and (other.column or "").lower() == columns[0]:
                return other
            if (
                other_macro == macro
                and not other.where
                and sorted(str(c).lower() for c in other.arguments.get("combination_of_columns") or [])
                == sorted(columns)
            ):
                return other
    return None


# -- YAML editing -------------------------------------------------------------------------------


def _yaml(text: str) -> tuple[YAML, object]:
    from ruamel.yaml.util import load_yaml_guess_indent

    _, indent, offset = load_yaml_guess_indent(text) if text.strip() else (None, 4, 2)
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.preserve_quotes = True
    sequence = indent or 4
    yaml.indent(mapping=2, sequence=sequence, offset=offset if offset is not None else max(0, sequence - 2))
    return yaml, (yaml.load(text) if text.strip() else None)


def unit_test_yaml(unit_test: UnitTest) -> CommentedMap:
    """The unit test for YAML: rows one per line (flow mappings), as people write them."""
    # Rows come from the warehouse: what dbt would render is written inert (generator.write.inert).
    return compact_unit_test(make_inert(unit_test.to_yaml()))


def _tests_key(entry: dict) -> str:
    return "tests" if "tests" in entry and "data_tests" not in entry else "data_tests"


def _append_test(entry: CommentedMap, test: DataTest, path: tuple) -> None:
    """Add `test` under `entry`, which sits at `path` in the file (its render count depends on it)."""
    key = _tests_key(entry)
    tests = entry.get(key)
    if tests is None:
        tests = CommentedSeq()
        entry[key] = tests
    if getattr(tests, "fa", None) is not None and tests.fa.flow_style():
        tests.fa.set_block_style()  # a mapping does not read well inside [a, b]
    tests.append(compact_test(make_inert(test.to_yaml(), (*path, key, len(tests)))))


def add_to_yaml(
    text: str,
    model: str,
    version: int | None,
    column_tests: list[DataTest],
    model_tests: list[DataTest],
    unit_tests: list[UnitTest],
    file: str,
) -> str:
    """`text` (a properties YAML, maybe empty) with the tests added to model `model`."""
    yaml, document = _yaml(text)
    if document is None:
        document = CommentedMap()
        document["version"] = 2
    models = document.get("models")
    if models is None:
        models = document["models"] = CommentedSeq()
    block = next((m for m in models if isinstance(m, dict) and m.get("name") == model), None)
    if block is None:
        block = CommentedMap()
        block["name"] = model
        models.append(block)
    target, path = block, ()
    if version is not None and block.get("versions"):
        entry = next((v for v in block["versions"] if str(v.get("v")) == str(version)), None)
        if entry is None:
            raise ConfigError(f"{file} has no version {version} of {model}")
        if entry.get("columns") is not None or not block.get("columns"):
            target, path = entry, ("versions", 0)
    for test in column_tests:
        columns = target.get("columns")
        if columns is None:
            columns = target["columns"] = CommentedSeq()
        column = next(
            (c for c in columns if isinstance(c, dict) and str(c.get("name", "")).lower() == test.column.lower()), None
        )
        if column is None:
            column = CommentedMap()
            column["name"] = test.column
            columns.append(column)
        _append_test(column, test, (*path, "columns", 0))
    for test in model_tests:
        _append_test(target, test, path)
    if unit_tests:
        existing = document.get("unit_tests")
        if existing is None:
            existing = document["unit_tests"] = CommentedSeq()
        names = {item.get("name") for item in existing if isinstance(item, dict)}
        for unit_test in unit_tests:
            if unit_test.name not in names:
                existing.append(unit_test_yaml(unit_test))
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


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

    def format_text(self) -> str:
        headline = {
            "written": f"✓ {self.model}: added {len(self.added)} data test(s)"
            + (" and a unit test" if self.unit_test else "")
            + f" to {self.file}",
            "dry-run": f"✓ {self.model}: would add {len(self.added)} data test(s)"
            + (" and a unit test" if self.unit_test else "")
            + f" to {self.file} (dry run: nothing written)",
            "unchanged": f"✓ {self.model}: no new tests (its YAML has them already)",
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


def _selector(relation: Relation) -> str:
    return f"{relation.name}.v{relation.version}" if relation.version is not None else relation.name


def add_tests(
    project: Project, name: str, *, dry_run: bool = False, unit_test: bool = True, timeout_s: float = 60.0
) -> TestsReport:
    """`gen-model tests MODEL`: derive, check and add tests to an existing model's YAML."""
    from generator.project.catalog_builder import build_catalog
    from generator.project.sandbox import open_sandbox
    from generator.write.package import missing_package_error
    from generator.write.transaction import FileTransaction, ProjectLock, interrupts_as_exceptions

    started = time.monotonic()
    report = TestsReport(model=name)
    with ProjectLock(project.project_dir):
        manifest = dbt.parse(project)
        catalog = build_catalog(project, manifest, raw_files=())  # raw files: unused here
        relation, node = find_model(project, catalog, manifest, name)
        if not catalog.has_package:
            raise missing_package_error(project)
        existing, _ = manifest_tests(manifest, relation.unique_id)
        existing_units, _ = manifest_unit_tests(manifest, relation.name, relation.version)
        with open_sandbox(catalog, timeout_s) as sandbox:
            model = open_model(project, catalog, relation, node, sandbox)
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
        for test in checked.kept:
            covered = already_covered(test, existing)
            if covered is not None:
                report.skipped.append((test, f"as {covered.describe()}"))
            else:
                report.added.append(test)
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
        selector = _selector(relation)
        with interrupts_as_exceptions():
            try:
                transaction.write(path, after)
                outcome = dbt.invoke(project, ["test", "--select", selector])
                if not outcome.success:
                    failures = [
                        f"{n.name}: {n.status}" + (f" ({n.failures} failing rows)" if n.failures else "")
                        for n in outcome.failed
                    ] or list(outcome.errors)
                    raise BuildError(
                        f"dbt test --select {selector} failed with the new tests; {report.file} was restored",
                        [Problem(rule="build", message=failure) for failure in failures],
                    )
            except BaseException:
                transaction.rollback()
                raise
            transaction.commit()
        report.build = {
            "selector": selector,
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
    timeout_s: float = 60.0,
    data_tests=None,
    unit_tests=None,
    manifest=None,
    catalog: Catalog | None = None,
):
    """`gen-model mutate MODEL`: the model's tests (from dbt's manifest) against mutants of
    its SQL, in the sandbox. `data_tests`/`unit_tests` replace the model's own (benchmarks)."""
    from generator.project.catalog_builder import build_catalog
    from generator.project.sandbox import open_sandbox
    from generator.testgen.mutate import enumerate_mutants, run_mutants

    manifest = manifest if manifest is not None else dbt.parse(project)
    catalog = catalog if catalog is not None else build_catalog(project, manifest, raw_files=())
    relation, node = find_model(project, catalog, manifest, name)
    own_tests, test_notes = manifest_tests(manifest, relation.unique_id)
    own_units, unit_notes = manifest_unit_tests(manifest, relation.name, relation.version)
    contract = bool(getattr(getattr(node.config, "contract", None), "enforced", False))
    with open_sandbox(catalog, timeout_s) as sandbox:
        model = open_model(project, catalog, relation, node, sandbox)
        if not model.parsed:
            raise GenModelError(
                f"{name}'s SQL cannot be mutated: " + "; ".join(model.notes),
            )
        mutants = enumerate_mutants(model.ctx)
        report = run_mutants(
            model.ctx,
            mutants,
            own_tests if data_tests is None else data_tests,
            own_units if unit_tests is None else unit_tests,
            catalog_resolver(catalog),
            contract=contract,
            timeout_s=min(timeout_s, 30.0),
            model=relation.name if relation.version is None else f"{relation.name}.v{relation.version}",
        )
    if data_tests is None:
        report.notes = test_notes + unit_notes + report.notes
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

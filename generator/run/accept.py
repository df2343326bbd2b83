"""A proposal through its gates, and what an accepted one becomes before it is written.

`accept_proposal` is the one entry for every kind: the `CHECKS` table picks the gates (the
SQL `GATES` in the DuckDB sandbox, or the spec gates of `run.spec`). What a SQL proposal
becomes, `Accepted`, is what `run.finish.finish` plans, writes, builds and locks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from generator.dialects import get_dialect
from generator.errors import ConfigError
from generator.project import Project, dbt_utils
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.run.options import LockContext, Options
from generator.run.report import RunReport
from generator.run.spec import check_spec
from generator.testgen.datatests import DataTest, grain_tests
from generator.write import inert
from generator.write.versions import Contract
from generator.write.writer import ContractColumn, WritePlan, plan_model_write, version_entry

if TYPE_CHECKING:  # the gates (and sqlglot) load when a proposal is checked, not for `context`
    from generator.gates import GateContext


@dataclass
class Accepted:
    """A SQL proposal that passed every gate, and what the gates learned about it."""

    proposal: Proposal
    ctx: GateContext
    sql: str
    columns: list[ContractColumn]
    column_tests: list[DataTest]
    model_tests: list[DataTest]
    lineage: list = field(default_factory=list)  # generator.sql.lineage.ColumnLineage
    # The unit test (named per version when planned), and the derived tests the hollow-test
    # gate dropped (generator.testgen.hollow.Verdict), for the report.
    unit_test: object = None  # generator.testgen.unit_fixtures.UnitTest | None
    dropped_tests: list = field(default_factory=list)
    test_notes: list[str] = field(default_factory=list)

    deprecates = True
    same_contract = "no difference in SQL, columns, types or grain"

    def fill_report(self, report: RunReport) -> None:
        """Rows, the derived tests and the unit test."""
        report.rows = self.ctx.result.row_count if self.ctx.result else None
        report.tests = self.model_tests + self.column_tests
        record_tests(report, self)

    def owns(self, relation: Relation) -> bool:
        """Any version with gen-model's provenance."""
        return relation.generated

    def contract(self) -> Contract:
        """Columns, grain, lineage, the formatted SQL and the proposal's hash."""
        from generator.sql.lineage import lineage_meta

        return Contract(
            columns=tuple((c.name, c.data_type) for c in self.columns),
            grain=tuple(self.proposal.grain),
            lineage=lineage_meta(self.lineage),
            sql=self.sql,
            description_sha=self.proposal.sha256(),
        )

    def previous_contract(self, project: Project, relation: Relation) -> Contract:
        """The latest version's contract, with its SQL file if it is still there."""
        from generator.write.versions import contract_of_relation

        sql_path = project.project_dir / (relation.original_file_path or "")
        old_sql = sql_path.read_text(encoding="utf-8") if sql_path.is_file() else None
        return contract_of_relation(relation, old_sql)

    def allowances(self) -> list[str]:
        """`nondeterministic` when the determinism gate had problems it was told to allow,
        `observed_grain` when the grain holds in the data only."""
        from generator.gates import nondeterminism_problems

        allowed = []
        if self.ctx.allow_nondeterministic and nondeterminism_problems(self.ctx):
            allowed.append("nondeterministic")
        if self.ctx.observed_grain:
            allowed.append("observed_grain")
        return allowed

    def plan(self, project: Project, catalog: Catalog, provenance: dict, deprecation_date: str | None) -> WritePlan:
        """The versioned SQL file and `<name>.yml` (generator.run.accept.plan)."""
        return plan(project, catalog, self, provenance, deprecation_date)

    def build_target(self, plan_: WritePlan) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The new version: built by its selector, dropped by its relation name."""
        return (plan_.select,), (f"{plan_.model_name}_v{plan_.version}",)

    def lock_inputs(self) -> dict:
        """The relations and columns the SQL reads."""
        from generator.write import lockfile

        return lockfile.inputs_of(self.ctx)

    def record_unchanged(
        self, project: Project, catalog: Catalog, provenance: dict, version: int, context: LockContext
    ) -> str | None:
        """Record a version made before the lockfile existed, if its SQL is still as generated.

        A hand-edited SQL file is not recorded silently: that is what `gen-model adopt` is for.
        """
        from generator.write import lockfile

        lock = lockfile.load(project.project_dir)
        name = self.proposal.name
        if lock.get(name, version) is not None:
            return None
        relation = catalog.ref(name, version)
        sql_path = project.project_dir / (relation.original_file_path or "")
        yml_path = sql_path.parent / f"{name}.yml"
        if not sql_path.is_file() or sql_path.read_text(encoding="utf-8") != self.sql or not yml_path.is_file():
            return (
                f"{project.relative(sql_path)} is not in {lockfile.LOCK_NAME} and differs from what this proposal "
                f"generates; run `gen-model adopt {name}` to record it as it is"
            )
        written = dict((relation.meta or {}).get("gen_model") or provenance)
        written.pop("lineage", None)
        entry = lockfile.LockEntry(
            model=name,
            version=version,
            layer=self.proposal.layer,
            requested=dict(context.requested),
            catalog_fingerprint=context.catalog_fingerprint,
            files={project.relative(path): lockfile.file_sha256(path) for path in (sql_path, yml_path)},
            inputs=lockfile.inputs_of(self.ctx),
            catalog_slice=dict(context.catalog_slice),
            attempts=list(context.attempts),
            provenance=written,
            proposal=self.proposal.to_dict(),
        )
        lock.record(entry)
        lock.save()
        return f"recorded {name} v{version} in {lockfile.LOCK_NAME}"


def check(catalog: Catalog, proposal: Proposal, sandbox, options: Options) -> GateContext:
    """Run every gate; return the context (with its report in `ctx.report`)."""
    from generator.gates import GATES, GateContext, GateReport, run_gates

    ctx = GateContext(
        proposal=proposal,
        catalog=catalog,
        allow_nondeterministic=options.allow_nondeterministic,
        allow_observed_grain=options.allow_observed_grain,
        timeout_s=options.timeout_s,
        sandbox=sandbox,
    )
    report = run_gates(ctx, GATES)
    ctx.report = GateReport(
        tuple(
            replace(outcome, problems=tuple(proposal.locate(p) for p in outcome.problems))
            for outcome in report.outcomes
        )
    )
    return ctx


def accept(ctx: GateContext, unit_test: bool = True) -> Accepted:
    """What a proposal that passed every gate becomes: formatted SQL, contract, lineage, tests."""
    from generator.gates.contract import contract_columns
    from generator.sql.formatting import format_sql
    from generator.sql.lineage import column_lineage
    from generator.sql.style import project_style

    proposal = ctx.proposal
    columns = [ContractColumn(*column) for column in contract_columns(ctx)]
    checked = _checked_tests(ctx, unit_test)
    # The grain tests are derived first; the hollow-test gate keeps only what can fail.
    tests = (
        checked.kept
        if checked is not None
        else grain_tests(proposal.grain, ctx.result.row_count if ctx.result else None, ctx.observed_grain)
    )
    return Accepted(
        proposal=proposal,
        ctx=ctx,
        sql=format_sql(ctx.templated, ctx.tree, ctx.relations, project_style(ctx.catalog), ctx.dialect.sqlglot),
        columns=columns,
        column_tests=[t for t in tests if t.column],
        model_tests=[t for t in tests if not t.column],
        lineage=column_lineage(ctx),
        unit_test=checked.unit_test if checked is not None else None,
        dropped_tests=checked.dropped if checked is not None else [],
        test_notes=_observed_grain_note(ctx) + ((checked.notes + checked.unit_test_notes) if checked else []),
    )


def _observed_grain_note(ctx: GateContext) -> list[str]:
    if not ctx.observed_grain:
        return []
    return [f"grain accepted from the data (--allow-observed-grain), its test warns: {ctx.observed_grain}"]


DRY_RUN_UNIT_TEST_NOTE = "dry run: the unit test's row search was skipped (a real run does it)"


def search_unit_test_rows(options: Options, report: RunReport) -> bool:
    """Whether to search fixture rows for the unit test: the slowest step, skipped in a dry run.

    A dry run shows the files and the gates; the rows only matter once they are written.
    """
    if options.unit_test and options.dry_run:
        if DRY_RUN_UNIT_TEST_NOTE not in report.notes:
            report.notes.append(DRY_RUN_UNIT_TEST_NOTE)
        return False
    return options.unit_test


def _checked_tests(ctx: GateContext, unit_test: bool = True):
    """Derived tests, the hollow-test gate and the unit test, while the dry run is open
    (on the target's engine: generator.testgen.modeltests.checked_tests)."""
    if ctx.sandbox is None or ctx.result is None:
        return None
    from generator.testgen.modeltests import checked_tests

    return checked_tests(ctx, model=ctx.proposal.name, version=None, unit_test=unit_test, timeout_s=ctx.timeout_s)


def record_tests(report: RunReport, accepted: Accepted) -> None:
    """Put the unit test and the dropped tests of an accepted proposal in the run report."""
    report.unit_tests = 1 if accepted.unit_test is not None else 0
    report.dropped_tests = [verdict.to_dict() for verdict in accepted.dropped_tests]
    report.notes.extend(accepted.test_notes)


def plan(
    project: Project, catalog: Catalog, accepted: Accepted, provenance: dict, deprecation_date: str | None = None
) -> WritePlan:
    """The files the accepted proposal becomes; `deprecation_date` goes on the version it supersedes."""
    from generator.sql.lineage import lineage_meta
    from generator.testgen.unit_runner import unit_test_name

    proposal = accepted.proposal
    provenance = {**provenance, "lineage": lineage_meta(accepted.lineage)}
    # dbt_utils' tests where the project has dbt_utils and not gen_model (no `init` needed).
    column_tests = dbt_utils.named_for_project(accepted.column_tests, catalog)
    model_tests = dbt_utils.named_for_project(accepted.model_tests, catalog)
    dbt_utils.require_tests_package(column_tests + model_tests, catalog, project)

    def unit_tests_for_version(version: int) -> list[dict]:
        if accepted.unit_test is None:
            return []
        return [accepted.unit_test.renamed(unit_test_name(proposal.name, version), version).to_yaml()]

    planned = plan_model_write(
        project,
        catalog,
        proposal,
        sql=accepted.sql,
        entry_for_version=lambda version: version_entry(
            version,
            proposal.description,
            accepted.columns,
            column_tests,
            model_tests,
            provenance,
        ),
        unit_tests_for_version=unit_tests_for_version,
        deprecation_date=deprecation_date,
    )
    # The final bytes: dbt renders them later, outside any sandbox (generator.write.inert).
    inert.check_files((project.relative(file.path), file.content) for file in planned.files)
    return planned


def check_sql(catalog: Catalog, proposal: Proposal, report: RunReport, options: Options) -> Accepted | None:
    """A SQL proposal's gates in the DuckDB sandbox; the accepted proposal, or None.

    The warehouse is opened for the gates only, never across an LLM wait: a `dbt build` of
    the same DuckDB file can run while the model thinks.
    """
    with get_dialect(catalog.adapter_type).open_dry_run(catalog, options.timeout_s) as sandbox:
        ctx = check(catalog, proposal, sandbox, options)
        report.gates = ctx.report
        if not ctx.report.passed:
            return None
        return accept(ctx, search_unit_test_rows(options, report))


# Proposal kind -> its gates; each fills `report.gates` and returns what `finish` takes.
CHECKS = {"sql": check_sql, "enrich": check_spec}


def accept_proposal(catalog: Catalog, proposal: Proposal, report: RunReport, options: Options):
    """Run the gates of the proposal's kind; the accepted proposal (a `Finishable`), or None.

    Either way `report.gates` holds the gates' report. An enrichment spec on a target other
    than DuckDB is a ConfigError: its compiled Polars model runs on dbt-duckdb only.
    """
    if proposal.kind == "enrich" and catalog.adapter_type != "duckdb":
        raise ConfigError(
            f"{proposal.name}: enrichment specs (kind: enrich) compile to Polars Python models that "
            f"run on DuckDB targets only; target {catalog.target_name!r} uses {catalog.adapter_type}. "
            "Normalise the file on a DuckDB target, or load it as a dbt seed or source."
        )
    return CHECKS[proposal.kind](catalog, proposal, report, options)


__all__ = [
    "CHECKS",
    "DRY_RUN_UNIT_TEST_NOTE",
    "Accepted",
    "accept",
    "accept_proposal",
    "check",
    "check_sql",
    "plan",
    "record_tests",
    "search_unit_test_rows",
]

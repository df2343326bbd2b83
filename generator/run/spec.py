"""A `kind: enrich` proposal through the spec gates, and what an accepted one becomes.

The gates are `generator.gates.SPEC_RULES`; `AcceptedSpec` is what `run.finish.finish`
plans (`generator.enrich.flow.plan_spec_write`), writes, builds and locks, as it does a SQL
proposal's `Accepted`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from generator.enrich.flow import plan_spec_write, versioned_enrich
from generator.enrich.spec import EnrichSpec
from generator.gates import SPEC_RULES, run_gates
from generator.gates.enrich_context import SpecContext, SpecRun
from generator.project import Project
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.run.options import LockContext
from generator.run.report import RunReport
from generator.testgen.datatests import DataTest
from generator.write import inert
from generator.write.versions import Contract
from generator.write.writer import ContractColumn, WritePlan


@dataclass
class AcceptedSpec:
    """An enrich proposal that passed every gate, and what the gates learned about it."""

    proposal: Proposal
    spec: EnrichSpec
    result: SpecRun
    columns: list[ContractColumn]
    tests: list[DataTest]

    # A deprecation date would belong on the superseded version's spec: the versioned YAML
    # is compiled from the specs (`gen-model enrich compile` rewrites it), and the compiler
    # reads no such field. gen-model never rewrites a version's spec, so a breaking change
    # to an enrichment model is classified and recorded, but dates nothing.
    deprecates = False
    # A spec compiles to Python, not SQL: equal columns, types and key are all there is to compare.
    same_contract = "no difference in columns, types or key; the spec changed"

    def fill_report(self, report: RunReport) -> None:
        """Rows, the spec's tests, and how the compiled model's run went."""
        result, path = self.result, self.spec.input.path
        report.rows = result.row_count
        report.tests = self.tests
        report.notes.append(
            f"the compiled model ran on {path} in {result.elapsed_s:.1f} s (peak {result.peak_rss_mib:,.0f} MiB)"
        )
        if result.quarantined:
            report.notes.append(f"{result.quarantined:,} bad row(s) of {path} go to the quarantine model")
        report.notes.extend(result.warnings)

    def allowances(self) -> list[str]:
        """None: the spec gates have no --allow-* flag."""
        return []

    def owns(self, relation: Relation) -> bool:
        """A versioned enrichment model (a person's unversioned spec is never ours)."""
        return versioned_enrich(relation)

    def contract(self) -> Contract:
        """Columns and key; no SQL, and the proposal's hash is left out (see `same_contract`)."""
        return Contract(columns=tuple((c.name, c.data_type) for c in self.columns), grain=tuple(self.spec.key))

    def previous_contract(self, project: Project, relation: Relation) -> Contract:
        """The latest version's columns and key, compared as `contract` is."""
        from generator.write.versions import contract_of_relation

        return replace(contract_of_relation(relation), description_sha=None)

    def plan(self, project: Project, catalog: Catalog, provenance: dict, deprecation_date: str | None) -> WritePlan:
        """The new version's spec, compiled model and YAML; `deprecation_date` is never set (`deprecates`)."""
        if not catalog.has_package:
            # Every compiled enrichment model loads gen_model's runtime, which dbt_utils (a stand-in
            # for the tests) lacks: say that, as `enrich compile` does, before anything is written.
            from generator.write.package import missing_package_error, require_runtime

            require_runtime(project.project_dir)
            raise missing_package_error(project)
        planned = plan_spec_write(project, catalog, self.proposal, self.spec, provenance)
        # The same write-time guarantee as SQL proposals: the final bytes dbt will render carry
        # no Jinja from the spec, the request or the raw file (raises before anything is written).
        inert.check_files((project.relative(file.path), file.content) for file in planned.files)
        return planned

    def build_target(self, plan_: WritePlan) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The model's version and its quarantine model's (a SpecWritePlan says which)."""
        return plan_.selects, plan_.relations

    def lock_inputs(self) -> dict:
        """None recorded: the input is a raw file, not a relation of the catalog."""
        return {}

    def record_unchanged(
        self, project: Project, catalog: Catalog, provenance: dict, version: int, context: LockContext
    ) -> str | None:
        """Nothing: whether an unrecorded version's spec, compiled model and YAML are still as
        generated is not checked here (`gen-model adopt` records a version as it is)."""
        return None


def tests_of(spec: EnrichSpec, row_count: int) -> list[DataTest]:
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


def check_spec(catalog: Catalog, proposal: Proposal, report: RunReport, options) -> AcceptedSpec | None:
    """Run every spec gate into `report.gates`; the accepted proposal when all passed, else None.

    `options` needs `timeout_s` (the execute gate's limit).
    """
    ctx = SpecContext(proposal=proposal, catalog=catalog, timeout_s=float(options.timeout_s))
    report.gates = run_gates(ctx, SPEC_RULES)
    if not report.gates.passed:
        return None
    spec, result = ctx.spec, ctx.result
    descriptions = {name: description for name, _, description in spec.output_columns}
    columns = [ContractColumn(c.name, c.data_type, descriptions.get(c.name, "")) for c in result.columns]
    return AcceptedSpec(
        proposal=proposal,
        spec=spec,
        result=result,
        columns=columns,
        tests=tests_of(spec, result.row_count),
    )


__all__ = ["AcceptedSpec", "check_spec", "tests_of"]

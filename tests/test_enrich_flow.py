"""The spec flow: an enrich proposal through its gates, the writer and a real dbt build.

Gates run against the sample project's real catalog and raw files; the compiled model runs
in a child process. `apply_enrich` below is `generator.apply`, what `gen-model apply` runs:
the same finish (write, build, lock) as a SQL proposal's.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from generator import Options, __version__, apply
from generator.errors import BuildError, WriteError
from generator.gates.enrich_context import SpecContext, SpecRun
from generator.gates.enrich_grain import KeyIsGrain
from generator.project import load_project
from generator.project.catalog_builder import build_catalog
from generator.proposal import load_proposal, validate_proposal
from generator.run.finish import finish, provenance_for
from generator.run.report import RunReport
from generator.run.spec import AcceptedSpec, check_spec
from generator.sql.context import ResultColumn
from generator.write.transaction import JOURNAL_NAME

pytestmark = pytest.mark.dbt

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "proposals" / "stg_crm__active_contacts.yml"


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def apply_enrich(project_dir: Path, proposal_file: Path, dry_run: bool = False) -> RunReport:
    """`gen-model apply PROPOSAL_FILE` for a kind: enrich proposal."""
    return apply(load_project(project_dir), proposal_file, Options(dry_run=dry_run))


@pytest.fixture(scope="module")
def catalog_project(sample_project_built, tmp_path_factory):
    """A module-wide copy of the built sample project and its catalog (read-only use)."""
    root = tmp_path_factory.mktemp("flow") / "project"
    shutil.copytree(sample_project_built, root)
    return root, build_catalog(load_project(root))


def gates_of(catalog, data: dict, timeout_s: float = 60.0):
    report = RunReport(command="apply")
    accepted = check_spec(catalog, validate_proposal(data, file="proposal.yml"), report, Options(timeout_s=timeout_s))
    return {o.name: o for o in report.gates.outcomes}, accepted


def test_the_example_passes_every_gate_on_the_real_file(catalog_project):
    _, catalog = catalog_project
    outcomes, accepted = gates_of(catalog, example())
    assert [(name, o.status) for name, o in outcomes.items()] == [
        ("spec", "passed"),
        ("input", "passed"),
        ("lookup", "passed"),
        ("compile", "passed"),
        ("execute", "passed"),
        ("grain", "passed"),
        ("contract", "passed"),
    ]
    assert isinstance(accepted, AcceptedSpec)
    assert [(c.name, c.data_type) for c in accepted.columns][-3:] == [
        ("updated_at", "timestamp with time zone"),
        ("is_archived", "boolean"),
        ("account_id", "varchar"),
    ]
    # 1,500 distinct contacts at scale 1; the filter drops the archived ones.
    assert 1_000 < accepted.result.row_count < 1_500
    assert accepted.result.quarantined == 0
    assert {t.name for t in accepted.tests} == {"not_null", "unique", "accepted_values"}


@pytest.mark.parametrize(
    ("edit", "gate", "message", "suggestion"),
    [
        (
            lambda d: d["spec"]["input"].update(path="crm/contact.ndjson"),
            "input",
            "spec.input.path 'crm/contact.ndjson' matches no file under the raw dir",
            "Did you mean 'crm/contacts.ndjson'?",
        ),
        (
            lambda d: d["spec"]["input"].update(format="json"),
            "input",
            "crm/contacts.ndjson is ndjson, but the spec reads it as json",
            "Set spec.input.format to ndjson.",
        ),
        (
            lambda d: d["spec"]["lookup"].update(model="stg_app__acounts"),
            "lookup",
            "spec.lookup.model 'stg_app__acounts' is not a model of this project",
            "Did you mean 'stg_app__accounts'?",
        ),
        (
            lambda d: d["spec"]["lookup"].update(lookup_key="domian"),
            "lookup",
            "spec.lookup.lookup_key: ref('stg_app__accounts') has no column 'domian'",
            "Did you mean 'domain'?",
        ),
    ],
)
def test_gate_problems_say_what_and_what_to_do(catalog_project, edit, gate, message, suggestion):
    _, catalog = catalog_project
    data = example()
    edit(data)
    outcomes, accepted = gates_of(catalog, data)
    assert accepted is None
    (problem,) = outcomes[gate].problems
    assert problem.message.startswith(message), problem.message
    assert problem.suggestion.startswith(suggestion)
    assert problem.file == "proposal.yml"
    assert outcomes["execute"].status == "skipped", "no run on an input that cannot be right"


def test_the_model_rejecting_its_input_is_reported_with_file_row_and_reason(catalog_project):
    _, catalog = catalog_project
    data = example()
    data["spec"]["on_error"] = "fail"
    created = next(c for c in data["spec"]["columns"] if c["name"] == "created_at")
    created.update(type="date", format="%d/%m/%Y")
    outcomes, accepted = gates_of(catalog, data)
    assert accepted is None
    (problem,) = outcomes["execute"].problems
    assert problem.message.startswith("the compiled model rejected crm/contacts.ndjson: ")
    assert "crm/contacts.ndjson:1: created_at: cannot parse" in problem.message
    assert "nothing was loaded (on_error: fail)" in problem.message
    assert outcomes["grain"].status == "skipped"


def test_a_repeating_key_without_dedupe_is_caught(catalog_project):
    _, catalog = catalog_project
    data = example()
    del data["spec"]["dedupe"]
    data["spec"]["on_error"] = "fail"
    outcomes, _ = gates_of(catalog, data)
    (problem,) = outcomes["execute"].problems
    assert "duplicate key contact_id (the spec has no dedupe)" in problem.message


def test_the_run_is_time_limited(catalog_project):
    _, catalog = catalog_project
    outcomes, accepted = gates_of(catalog, example(), timeout_s=0.05)
    assert accepted is None
    (problem,) = outcomes["execute"].problems
    assert problem.message == ("the compiled model did not finish on crm/contacts.ndjson within 0.05 s")


def test_the_grain_gate_counts_nulls_and_repeats(catalog_project):
    _, catalog = catalog_project
    proposal = validate_proposal(example())
    ctx = SpecContext(proposal=proposal, catalog=catalog, spec=proposal.enrich_spec)
    ctx.result = SpecRun(
        columns=(ResultColumn("contact_id", "varchar"),),
        row_count=10,
        null_keys=1,
        duplicate_keys=2,
        duplicate_rows=5,
        duplicate_examples=(("1001",), ("1002",)),
        quarantined=None,
        quarantine_examples=(),
        warnings=(),
        elapsed_s=0.1,
        peak_rss_mib=1.0,
    )
    messages = [p.message for p in KeyIsGrain().check(ctx)]
    assert messages == [
        "key (contact_id) is null in 1 of 10 rows",
        "key (contact_id) repeats: 2 value(s) on 5 rows (e.g. 1001; 1002)",
    ]


def read_tables(project: Path) -> set[str]:
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as connection:
        return {row[0] for row in connection.sql("select table_name from duckdb_tables()").fetchall()}


def test_apply_writes_a_versioned_model_builds_it_and_is_idempotent(sample_project, tmp_path):
    report = apply_enrich(sample_project, EXAMPLE)
    assert report.status == "written" and report.version == 1
    folder = "models/staging/crm/"
    # on_error: quarantine: __checked_v1 reads the input once; the model and its quarantine
    # are SQL selects from it.
    assert report.files == [
        folder + "stg_crm__active_contacts_v1.enrich.yml",
        folder + "stg_crm__active_contacts__checked_v1.py",
        folder + "stg_crm__active_contacts__checked_v1.yml",
        folder + "stg_crm__active_contacts_v1.sql",
        folder + "stg_crm__active_contacts__quarantine_v1.sql",
        folder + "stg_crm__active_contacts.yml",
        folder + "stg_crm__active_contacts__quarantine.yml",
        "gen_model.lock",
    ]
    model_yaml = folder + "stg_crm__active_contacts.yml"
    assert report.build["failed"] == 0 and report.build["passed"] >= 8
    tables = read_tables(sample_project)
    assert {"stg_crm__active_contacts_v1", "stg_crm__active_contacts__quarantine_v1"} <= tables
    assert "stg_crm__active_contacts__checked_v1" in tables
    spec = yaml.safe_load((sample_project / report.files[0]).read_text())
    assert spec["version"] == 1
    assert spec["provenance"]["origin"] == "proposal-file"
    assert spec["provenance"]["generator_version"] == __version__
    (model,) = yaml.safe_load((sample_project / model_yaml).read_text())["models"]
    meta = model["versions"][0]["config"]["meta"]["gen_model"]
    assert meta["proposal_sha256"] == load_proposal(EXAMPLE).sha256()
    assert meta["spec"] == "stg_crm__active_contacts_v1.enrich.yml"
    assert not (sample_project / JOURNAL_NAME).exists()

    again = apply_enrich(sample_project, EXAMPLE)
    assert again.status == "unchanged" and again.version == 1 and again.files == []

    # A changed proposal becomes version 2 beside version 1, which stays.
    changed = example()
    changed["spec"]["filter"] = ["not is_archived", "is_not_null(email)"]
    changed_file = tmp_path / "changed.yml"
    changed_file.write_text(yaml.safe_dump(changed, sort_keys=False))
    second = apply_enrich(sample_project, changed_file)
    assert second.status == "written" and (second.version, second.previous_version) == (2, 1)
    assert folder + "stg_crm__active_contacts_v1.sql" not in second.files, "v1 is left alone"
    assert folder + "stg_crm__active_contacts__checked_v1.py" not in second.files
    (model,) = yaml.safe_load((sample_project / model_yaml).read_text())["models"]
    assert model["latest_version"] == 2 and [v["v"] for v in model["versions"]] == [1, 2]
    assert {"stg_crm__active_contacts_v1", "stg_crm__active_contacts_v2"} <= read_tables(sample_project)
    # Classified against v1 as a SQL version is, and recorded where the spec keeps provenance;
    # no deprecation date: the compiled YAML has no place for one (run.spec.AcceptedSpec).
    change = {
        "class": "non-breaking",
        "from_version": 1,
        "reasons": ["no difference in columns, types or key; the spec changed"],
    }
    assert second.change == change and second.deprecations == {}
    assert yaml.safe_load((sample_project / second.files[0]).read_text())["provenance"]["change"] == change


def test_the_same_proposal_writes_the_same_bytes(sample_project_built, tmp_path):
    contents = []
    for run in ("one", "two"):
        project = shutil.copytree(sample_project_built, tmp_path / run)
        report = apply_enrich(project, EXAMPLE, dry_run=True)
        assert report.status == "dry-run" and not (project / report.files[0]).exists()
        contents.append(report.file_contents)
    assert contents[0] == contents[1]


def test_a_failing_build_rolls_everything_back(sample_project, tmp_path):
    data = example()
    stage = next(c for c in data["spec"]["columns"] if c["name"] == "lifecycle_stage")
    stage["accepted_values"] = ["lead"]  # the data has other stages: the dbt test fails
    proposal_file = tmp_path / "strict.yml"
    proposal_file.write_text(yaml.safe_dump(data, sort_keys=False))
    before = sorted(p.relative_to(sample_project) for p in (sample_project / "models").rglob("*"))
    with pytest.raises(BuildError) as error:
        apply_enrich(sample_project, proposal_file)
    assert "everything written was rolled back" in error.value.message
    assert any("accepted_values" in p.message and "fail" in p.message for p in error.value.problems)
    after = sorted(p.relative_to(sample_project) for p in (sample_project / "models").rglob("*"))
    assert after == before
    assert not {"stg_crm__active_contacts_v1"} & read_tables(sample_project)
    assert not (sample_project / JOURNAL_NAME).exists()


def test_an_unversioned_enrichment_model_is_not_taken_over(sample_project, tmp_path):
    data = copy.deepcopy(example())
    data["name"] = "stg_crm__contacts"
    proposal_file = tmp_path / "contacts.yml"
    proposal_file.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(WriteError) as error:
        apply_enrich(sample_project, proposal_file)
    (problem,) = error.value.problems
    assert problem.message == (
        "'stg_crm__contacts' is compiled from stg_crm__contacts.enrich.yml, a spec without "
        "versions: a proposal does not add versions to it"
    )
    assert problem.suggestion.startswith("Edit that spec and run `gen-model enrich compile`")


def test_generate_loop_repairs_a_spec_with_the_gates_problems(sample_project):
    """The `generate` loop, step by step: an LLM answer of kind enrich, rejected once by the
    spec gates, repaired from the problems, accepted and written."""
    from generator.llm.prompt import repair_prompt
    from generator.llm.providers.scripted import ScriptedProvider
    from generator.llm.settings import resolve_settings
    from generator.run.generate import as_proposal, prepare_prompt
    from generator.run.options import Request

    wrong = example()
    wrong["spec"]["input"]["path"] = "crm/contact.ndjson"
    provider = ScriptedProvider([wrong, example()])
    project = load_project(sample_project)
    request = Request(text="normalise the CRM contacts export: active contacts, with their account")
    catalog, _, prompt = prepare_prompt(project, request, resolve_settings(project.project_dir))
    assert "file 'data/raw/crm/contacts.ndjson' (ndjson, spec input.path" in prompt.messages[0]["content"]
    report, current, accepted = RunReport(command="generate"), prompt, None
    for _attempt in (1, 2):
        completion = provider.complete(current, "scripted")
        proposal = as_proposal(completion.proposal, request, None)
        accepted = check_spec(catalog, proposal, report, Options())
        if accepted:
            break
        current = repair_prompt(prompt, completion.raw, report.gates.problems)
    assert accepted is not None and provider.calls == 2
    repair = provider.conversations[1].messages[-1]["content"]
    assert "[input] spec.input.path 'crm/contact.ndjson' matches no file" in repair
    assert "Did you mean 'crm/contacts.ndjson'?" in repair
    origin = {"origin": "llm", "provider": "scripted", "model": "scripted", "attempts": 2}
    finish(project, catalog, accepted, provenance_for(accepted.proposal, origin), report, Options())
    assert report.status == "written"
    spec = yaml.safe_load((sample_project / report.files[0]).read_text())
    assert spec["provenance"]["request"] == request.text
    assert spec["provenance"]["origin"] == "llm"


def test_an_enrich_proposal_carrying_live_jinja_is_escaped_or_refused_never_written_live(sample_project, tmp_path):
    # Issue #12: the write-time Jinja check covers the enrichment path too.
    from generator.write import inert

    hostile = example()
    hostile["description"] = "Active contacts {{ env_var('HOME') }}"
    hostile_file = tmp_path / "hostile.yml"
    hostile_file.write_text(yaml.safe_dump(hostile, sort_keys=False))
    before = sorted(path.relative_to(sample_project) for path in sample_project.rglob("*") if path.is_file())
    try:
        report = apply_enrich(sample_project, hostile_file)
    except WriteError as error:
        assert all(problem.rule == "jinja" for problem in error.problems)
        after = sorted(path.relative_to(sample_project) for path in sample_project.rglob("*") if path.is_file())
        assert [path for path in after if path.parts[0] == "models"] == [
            path for path in before if path.parts[0] == "models"
        ]
        return
    for path in report.files:
        text = (sample_project / path).read_text()
        assert inert.file_problems(path, text) == [], path

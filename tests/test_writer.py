from pathlib import Path

import pytest

from generator.errors import WriteError
from generator.project import Project
from generator.project.catalog import Catalog
from generator.proposal import validate_proposal
from generator.testgen.datatests import grain_tests
from generator.write.writer import (
    ContractColumn,
    add_version_to_yaml,
    new_model_yaml,
    plan_model_write,
    version_entry,
)

PROPOSAL = {
    "name": "account_mrr",
    "layer": "marts",
    "description": "Monthly recurring revenue per account.",
    "grain": ["account_id", "month"],
    "sql": "select 1",
    "columns": [
        {"name": "account_id", "description": "The account."},
        {"name": "month", "description": "First day of the month."},
        {"name": "mrr", "description": "Recurring revenue in USD."},
    ],
}
COLUMNS = [
    ContractColumn("account_id", "varchar", "The account."),
    ContractColumn("month", "date", "First day of the month."),
    ContractColumn("mrr", "decimal(18,2)", "Recurring revenue in USD."),
]


def entry(version, provenance=None):
    tests = grain_tests(("account_id", "month"), 42)
    return version_entry(
        version,
        PROPOSAL["description"],
        COLUMNS,
        [t for t in tests if t.column],
        [t for t in tests if not t.column],
        provenance or {"origin": "proposal-file", "proposal_sha256": "abc"},
    )


def project(tmp_path: Path) -> Project:
    return Project(project_dir=tmp_path, profiles_dir=tmp_path, name="p", profile_name="p")


EXPECTED_V1 = """\
version: 2

models:
  - name: account_mrr
    description: Monthly recurring revenue per account.
    latest_version: 1
    config:
      contract:
        enforced: true
    versions:
      - v: 1
        config:
          meta:
            gen_model:
              origin: proposal-file
              proposal_sha256: abc
        columns:
          - name: account_id
            data_type: varchar
            description: The account.
            data_tests:
              - not_null: {config: {meta: {reason: grain column (verified on 42 rows in the dry run)}}}
          - name: month
            data_type: date
            description: First day of the month.
            data_tests:
              - not_null: {config: {meta: {reason: grain column (verified on 42 rows in the dry run)}}}
          - name: mrr
            data_type: decimal(18,2)
            description: Recurring revenue in USD.
        data_tests:
          - gen_model.unique_combination_of_columns:
              arguments: {combination_of_columns: [account_id, month]}
              config: {meta: {reason: 'declared grain account_id, month (verified on 42 rows in the dry run)'}}
"""


def test_new_model_yaml_is_exactly_the_documented_shape():
    proposal = validate_proposal(PROPOSAL)
    assert new_model_yaml(proposal, entry(1)) == EXPECTED_V1


def test_adding_a_version_keeps_human_edits_and_deprecates_only_the_previous_one():
    proposal = validate_proposal(PROPOSAL)
    edited = EXPECTED_V1.replace(
        "    latest_version: 1\n", "    # owned by the finance team\n    latest_version: 1\n"
    ).replace(
        "          - name: mrr\n",
        "          - name: mrr\n            meta: {owner: finance}  # added by hand\n",
    )
    updated = add_version_to_yaml(edited, proposal, entry(2), deprecations={1: "2027-02-19"})
    assert "# owned by the finance team" in updated
    assert "meta: {owner: finance}  # added by hand" in updated
    assert "    latest_version: 2\n" in updated
    assert updated.count("deprecation_date: 2027-02-19") == 1
    assert "      - v: 2\n" in updated
    # The old version's block is byte-for-byte what it was (apart from the deprecation date).
    old_block = edited.split("      - v: 1\n")[1]
    assert old_block.replace("        config:", "        deprecation_date: 2027-02-19\n        config:", 1) in updated


def test_adding_an_existing_version_is_refused():
    proposal = validate_proposal(PROPOSAL)
    with pytest.raises(WriteError, match="already declares version 1"):
        add_version_to_yaml(EXPECTED_V1, proposal, entry(1))


def catalog_with(tmp_path, relations):
    return Catalog.from_dict({"project_name": "p", "project_dir": str(tmp_path), "relations": relations})


def test_first_version_goes_to_the_layer_directory(tmp_path):
    proposal = validate_proposal(PROPOSAL)
    plan = plan_model_write(
        project(tmp_path), catalog_with(tmp_path, []), proposal, sql="select 1\n", entry_for_version=entry
    )
    assert plan.version == 1 and plan.previous_version is None
    assert plan.relative_paths(tmp_path) == ["models/marts/account_mrr_v1.sql", "models/marts/account_mrr.yml"]
    assert plan.select == "account_mrr.v1"


def test_a_hand_written_model_with_the_same_name_is_never_touched(tmp_path):
    proposal = validate_proposal(PROPOSAL)
    catalog = catalog_with(
        tmp_path, [{"name": "account_mrr", "original_file_path": "models/finance/account_mrr.sql", "generated": False}]
    )
    with pytest.raises(WriteError) as raised:
        plan_model_write(project(tmp_path), catalog, proposal, sql="select 1\n", entry_for_version=entry)
    assert (
        raised.value.message
        == "a hand-written model named 'account_mrr' already exists (models/finance/account_mrr.sql)"
    )
    assert "--name" in raised.value.problems[0].suggestion


def test_regeneration_writes_the_next_version_beside_the_existing_one(tmp_path):
    directory = tmp_path / "models" / "finance"
    directory.mkdir(parents=True)
    (directory / "account_mrr_v1.sql").write_text("select 1\n")
    (directory / "account_mrr.yml").write_text(new_model_yaml(validate_proposal(PROPOSAL), entry(1)))
    catalog = catalog_with(
        tmp_path,
        [
            {
                "name": "account_mrr",
                "version": 1,
                "latest_version": 1,
                "original_file_path": "models/finance/account_mrr_v1.sql",
                "generated": True,
            }
        ],
    )
    plan = plan_model_write(
        project(tmp_path),
        catalog,
        validate_proposal(PROPOSAL),
        sql="select 2\n",
        entry_for_version=entry,
        deprecation_date="2027-02-19",
    )
    assert plan.version == 2 and plan.previous_version == 1
    assert plan.relative_paths(tmp_path) == ["models/finance/account_mrr_v2.sql", "models/finance/account_mrr.yml"]
    assert "deprecation_date: 2027-02-19" in plan.files[1].content


def test_an_orphan_version_file_blocks_the_write(tmp_path):
    directory = tmp_path / "models" / "marts"
    directory.mkdir(parents=True)
    (directory / "account_mrr_v1.sql").write_text("select 1\n")
    with pytest.raises(WriteError, match="never overwrites a version file"):
        plan_model_write(
            project(tmp_path), catalog_with(tmp_path, []), validate_proposal(PROPOSAL), sql="x", entry_for_version=entry
        )


def test_a_version_keeps_the_deprecation_date_it_was_promised():
    proposal = validate_proposal(PROPOSAL)
    once = add_version_to_yaml(EXPECTED_V1, proposal, entry(2), deprecations={1: "2027-02-19"})
    twice = add_version_to_yaml(once, proposal, entry(3), deprecations={1: "2030-01-01", 2: "2030-01-01"})
    assert twice.count("deprecation_date: 2027-02-19") == 1
    assert "deprecation_date: 2030-01-01" in twice.split("      - v: 2\n")[1].split("      - v: 3\n")[0]
    assert "2030-01-01" not in twice.split("      - v: 2\n")[0]


def test_the_description_is_written_once_on_the_model_not_again_on_its_version():
    text = new_model_yaml(validate_proposal(PROPOSAL), entry(1))
    assert text.count(PROPOSAL["description"]) == 1
    assert "versions:\n      - v: 1\n        config:\n" in text


def test_a_new_description_leaves_the_old_one_on_the_versions_that_had_it():
    changed = validate_proposal({**PROPOSAL, "description": "Recurring revenue per account, net of credits."})
    updated = add_version_to_yaml(EXPECTED_V1, changed, entry(2), deprecations={1: "2027-02-19"})
    old, new = updated.split("      - v: 2\n")
    assert "    description: Recurring revenue per account, net of credits.\n" in old.split("    versions:")[0]
    assert (
        "      - v: 1\n        deprecation_date: 2027-02-19\n"
        "        description: Monthly recurring revenue per account.\n" in old
    )
    assert "description: Monthly" not in new and "description: Recurring revenue per account" not in new
    # The same description again: nothing is pinned.
    same = add_version_to_yaml(EXPECTED_V1, validate_proposal(PROPOSAL), entry(2))
    assert same.count(PROPOSAL["description"]) == 1


def test_a_pinned_description_is_escaped_once_more_where_dbt_renders_it_twice():
    from generator.write.inert import check_files

    jinja = {**PROPOSAL, "description": "Revenue {{ env_var('SECRET') }} per account."}
    first = new_model_yaml(validate_proposal(jinja), entry(1))
    updated = add_version_to_yaml(first, validate_proposal(PROPOSAL), entry(2))
    check_files([("models/marts/account_mrr.yml", updated)])  # raises on live Jinja
    import jinja2
    import yaml

    pinned = yaml.safe_load(updated)["models"][0]["versions"][0]["description"]
    render = jinja2.Environment().from_string
    assert render(render(pinned).render()).render() == jinja["description"]


def test_tests_and_lineage_take_one_line_each_with_flow_style_arguments():
    from generator.testgen.datatests import DataTest

    tests = [
        DataTest("not_null", "mrr", reason="never null: a count is never null"),
        DataTest("gen_model.accepted_range", "mrr", {"min_value": 0}, "a sum of non-negative values (x)"),
        DataTest("not_null", "month", where="month > '2020-01-01'", reason="a where"),
    ]
    lineage = {"mrr": {"from": ["ref('a').amount"], "transform": "aggregate:sum"}}
    version = version_entry(1, "", COLUMNS, tests, [], {"origin": "x", "lineage": lineage})
    text = new_model_yaml(validate_proposal(PROPOSAL), version)
    assert "              - not_null: {config: {meta: {reason: 'never null: a count is never null'}}}\n" in text
    assert (
        "              - gen_model.accepted_range:\n"
        "                  arguments: {min_value: 0}\n"
        "                  config: {meta: {reason: a sum of non-negative values (x)}}\n"
    ) in text
    assert "- not_null: {config: {where: month > '2020-01-01', meta: {reason: a where}}}\n" in text
    assert "                mrr: {from: [ref('a').amount], transform: aggregate:sum}\n" in text


def test_a_unit_test_is_written_with_its_version_and_each_row_on_one_line():
    unit = {
        "name": "account_mrr_v1_logic",
        "model": "account_mrr",
        "versions": {"include": [1]},
        "given": [{"input": "ref('a')", "rows": [{"id": 1, "note": "{{ x }}"}, {"id": 2, "note": "b, c"}]}],
        "expect": {"rows": [{"id": 1, "mrr": "1.00"}]},
    }
    text = new_model_yaml(validate_proposal(PROPOSAL), entry(1), [unit])
    assert (
        "  - name: account_mrr_v1_logic\n"
        "    model: account_mrr\n"
        "    versions: {include: [1]}\n"
        "    given:\n"
        "      - input: ref('a')\n"
        "        rows:\n"
        "          - {id: 1, note: \"{{ '\\\\x7b\\\\x7b x \\\\x7d\\\\x7d' }}\"}\n"
    ) in text
    assert "          - {id: 2, note: 'b, c'}\n" in text
    assert "    expect:\n      rows:\n        - {id: 1, mrr: '1.00'}\n" in text
    again = add_version_to_yaml(text, validate_proposal(PROPOSAL), entry(2), unit_tests=[{**unit, "name": "v2"}])
    assert again.count("versions: {include: [1]}") == 2

"""A project that already installs dbt_utils needs no `gen-model init`: generated YAML uses
dbt_utils' tests (same names, same arguments) and `dbt build` passes.

dbt's hub is unreachable here, so dbt_utils is tests/fixtures/dbt_utils: a stand-in with
dbt_utils 1.x's macro names, arguments and SQL for the tests gen-model names, installed
into a copy of ../shared/corpora/shop_project as a `local:` package.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import ConfigError
from generator.project import dbt, load_project
from generator.project.catalog import Catalog
from generator.project.dbt_utils import as_gen_model, named_for_project, require_tests_package
from generator.testgen.datatests import DataTest
from tests.shop_support import ORDER_COUNTS

REPO = Path(__file__).resolve().parents[1]
DBT_UTILS = REPO / "tests" / "fixtures" / "dbt_utils"


@pytest.fixture
def shop_with_dbt_utils(shop_project: Path) -> Path:
    """The built shop project with dbt_utils installed (`dbt deps` of a `local:` package)."""
    (shop_project / "packages.yml").write_text(f"packages:\n  - local: {DBT_UTILS}\n")
    outcome = dbt.invoke(load_project(shop_project), ["deps"])
    assert outcome.success, outcome.errors
    return shop_project


def test_apply_without_init_writes_dbt_utils_tests_and_dbt_build_passes(shop_with_dbt_utils, tmp_path):
    project = shop_with_dbt_utils
    packages_before = (project / "packages.yml").read_text()
    proposal = tmp_path / "customer_order_counts.yml"
    proposal.write_text(yaml.safe_dump(ORDER_COUNTS, sort_keys=False))
    result = CliRunner().invoke(cli, ["apply", str(proposal), "--project-dir", str(project), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "written", report
    assert report["build"]["failed"] == 0 and report["build"]["passed"] > 0, report["build"]

    [yml] = list((project / "models").rglob("customer_order_counts.yml"))
    text = yml.read_text()
    assert "- dbt_utils." in text, text
    assert "- gen_model." not in text, "a gen_model test in a project without gen_model:\n" + text
    assert not (project / "vendor").exists(), "apply vendored the gen_model package: init was not asked for"
    assert (project / "packages.yml").read_text() == packages_before

    built = dbt.invoke(load_project(project), ["build", "--select", "customer_order_counts"])
    assert built.success, built.failure_messages()
    names = {node.name for node in built.nodes}
    assert any(name.startswith("dbt_utils_") for name in names), names


def _catalog(has_package: bool, dbt_utils_tests: tuple[str, ...]) -> Catalog:
    return Catalog(project_name="p", project_dir=Path("."), has_package=has_package, dbt_utils_tests=dbt_utils_tests)


GRAIN = DataTest(name="gen_model.unique_combination_of_columns", arguments={"combination_of_columns": ["a"]})
STRICT = DataTest(name="gen_model.fewer_rows_than", arguments={"compare_model": "ref('x')", "strict": True})
AT_MOST = DataTest(name="gen_model.fewer_rows_than", arguments={"compare_model": "ref('x')"})
ALL = ("accepted_range", "equal_rowcount", "expression_is_true", "fewer_rows_than", "not_null_proportion")


def test_gen_model_installed_keeps_its_names_even_beside_dbt_utils():
    catalog = _catalog(True, ("unique_combination_of_columns", *ALL))
    assert named_for_project([GRAIN, STRICT], catalog) == [GRAIN, STRICT]
    require_tests_package([GRAIN, STRICT], catalog, None)  # gen_model is there: nothing to refuse


def test_a_test_that_means_something_else_in_dbt_utils_keeps_gen_model_and_needs_init():
    # dbt_utils.fewer_rows_than fails on equal counts: only a strict gen_model one is the same test.
    catalog = _catalog(False, ("unique_combination_of_columns", *ALL))
    tests = named_for_project([GRAIN, STRICT, AT_MOST, DataTest(name="not_null", column="a")], catalog)
    assert [test.name for test in tests] == [
        "dbt_utils.unique_combination_of_columns",
        "dbt_utils.fewer_rows_than",
        AT_MOST.name,
        "not_null",
    ]
    assert tests[0].arguments == GRAIN.arguments
    assert tests[1].arguments == {"compare_model": "ref('x')"}, "dbt_utils' macro takes no `strict`"
    project = load_project(REPO)
    with pytest.raises(ConfigError, match="gen_model.fewer_rows_than have no dbt_utils equivalent"):
        require_tests_package(tests, catalog, project)


def test_a_dbt_utils_test_in_the_yaml_counts_as_the_gen_model_one():
    written = DataTest(name="dbt_utils.fewer_rows_than", arguments={"compare_model": "ref('x')"})
    assert as_gen_model(written) == STRICT and as_gen_model(written).arguments == STRICT.arguments
    assert as_gen_model(DataTest(name="dbt_utils.unique_combination_of_columns", arguments=GRAIN.arguments)) == GRAIN
    other = DataTest(name="dbt_utils.at_least_one", column="a")  # not one gen_model has: as it is
    assert as_gen_model(other) is other


# -- gen-model tests MODEL --------------------------------------------------------------------


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_tests_without_init_writes_dbt_utils_tests_and_dbt_build_passes(shop_with_dbt_utils):
    project = shop_with_dbt_utils
    marts = project / "models" / "marts" / "marts.yml"
    packages_before = (project / "packages.yml").read_text()
    result = run("tests", "customers", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("✓ customers: added 4 data test(s) and a unit test to models/marts/marts.yml\n")
    assert "  + dbt_utils.equal_rowcount " in result.output
    assert "  = dbt_utils.unique_combination_of_columns       already there (as unique(customer_id))" in result.output
    text = marts.read_text()
    assert "- dbt_utils.accepted_range:" in text and "- dbt_utils.equal_rowcount:" in text, text
    assert "gen_model." not in text, "a gen_model test in a project without gen_model:\n" + text
    assert not (project / "vendor").exists()
    assert (project / "packages.yml").read_text() == packages_before

    built = dbt.invoke(load_project(project), ["build", "--select", "customers"])
    assert built.success, built.failure_messages()
    names = {node.name for node in built.nodes}
    assert any(name.startswith("dbt_utils_equal_rowcount_customers") for name in names), names
    assert any(name.startswith("dbt_utils_accepted_range_customers") for name in names), names


def test_tests_finds_a_hand_written_dbt_utils_test_already_there(shop_with_dbt_utils):
    project = shop_with_dbt_utils
    marts = project / "models" / "marts" / "marts.yml"
    marts.write_text(
        marts.read_text().replace(
            "    description: One row per order with its payment totals.\n",
            "    description: One row per order with its payment totals.\n"
            "    data_tests:\n"
            "      - dbt_utils.equal_rowcount:\n"
            "          arguments: {compare_model: \"ref('stg_orders')\"}\n",
        )
    )
    result = run("tests", "orders", "--project-dir", str(project), "--dry-run", "--no-unit-test")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("✓ orders: would add 2 data test(s) to models/marts/marts.yml (dry run")
    assert "  = dbt_utils.equal_rowcount " in result.output
    assert "already there (as dbt_utils.equal_rowcount)" in result.output


def test_tests_refuses_a_test_only_gen_model_has_before_writing(shop_with_dbt_utils):
    # A filter keeps at most the input's rows: gen_model's fewer_rows_than, which dbt_utils'
    # (failing on equal counts) is not.
    project = shop_with_dbt_utils
    (project / "models" / "marts" / "completed_orders.sql").write_text(
        "select order_id, customer_id, status\nfrom {{ ref('stg_orders') }}\nwhere status = 'completed'\n"
    )
    assert dbt.invoke(load_project(project), ["build", "--select", "completed_orders"]).success
    result = run("tests", "completed_orders", "--project-dir", str(project))
    assert result.exit_code == 2, result.output
    assert "does not install the gen_model dbt package" in result.output
    assert f"Run `gen-model init --project-dir {project}` once" in result.output
    assert "The generated tests gen_model.fewer_rows_than have no dbt_utils equivalent." in result.output
    assert not (project / "models" / "marts" / "completed_orders.yml").exists()


# -- gen-model enrich compile -----------------------------------------------------------------


def test_enrich_compile_needs_gen_models_runtime_which_dbt_utils_does_not_have(shop_with_dbt_utils):
    # Every compiled enrichment model loads gen_model's runtime (python/gen_model_runtime_v1.py):
    # dbt_utils cannot stand in, so compile refuses before writing, and works after `init`.
    project = shop_with_dbt_utils
    folder = project / "models" / "staging" / "fx"
    folder.mkdir()
    shutil.copy2(REPO / "models" / "staging" / "fx" / "stg_fx__rates.enrich.yml", folder)
    shutil.copytree(REPO / "tests" / "fixtures" / "raw" / "fx", project / "data" / "raw" / "fx")

    refused = run("enrich", "compile", "--project-dir", str(project))
    assert refused.exit_code == 2, refused.output
    assert "does not install the gen_model dbt package, whose runtime (python/gen_model_runtime_v1.py)" in (
        refused.output
    )
    assert f"Run `gen-model init --project-dir {project}` once" in refused.output
    assert [path.name for path in folder.iterdir()] == ["stg_fx__rates.enrich.yml"], "compile wrote"
    assert run("enrich", "compile", "--check", "--project-dir", str(project)).exit_code == 1, "--check writes nothing"

    initialised = run("init", "--project-dir", str(project))
    assert initialised.exit_code == 0, initialised.output
    # Every file it writes, the lock file dbt deps rewrote included (dbt_utils was in it already).
    assert initialised.output.startswith(
        "installed the gen_model dbt package: vendor/gen_model/, packages.yml, package-lock.yml (dbt deps done)\n"
    ), initialised.output
    compiled = run("enrich", "compile", "--project-dir", str(project))
    assert compiled.exit_code == 0, compiled.output
    assert compiled.output.endswith("1 spec compiled, 6 file(s) written\n"), compiled.output
    built = dbt.invoke(load_project(project), ["build", "--select", "+stg_fx__rates+"])
    assert built.success, built.failure_messages()


def test_apply_of_an_enrich_proposal_says_it_needs_gen_models_runtime(shop_with_dbt_utils, tmp_path):
    # The apply path refuses for the same reason as `enrich compile`, the runtime, not the tests.
    project = shop_with_dbt_utils
    shutil.copytree(REPO / "tests" / "fixtures" / "raw" / "fx", project / "data" / "raw" / "fx")
    spec = yaml.safe_load((REPO / "models" / "staging" / "fx" / "stg_fx__rates.enrich.yml").read_text())
    for field in ("enrich", "name", "description"):
        spec.pop(field)
    proposal = tmp_path / "stg_fx__usd_rates.yml"
    proposal.write_text(
        yaml.safe_dump(
            {
                "name": "stg_fx__usd_rates",
                "layer": "staging",
                "kind": "enrich",
                "description": "One row per business day and currency: units per US dollar.",
                "request": "fx rates per day",
                "spec": spec,
            },
            sort_keys=False,
        )
    )
    result = run("apply", str(proposal), "--project-dir", str(project))
    assert result.exit_code == 2, result.output
    assert "does not install the gen_model dbt package, whose runtime (python/gen_model_runtime_v1.py)" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert not list((project / "models").rglob("stg_fx__usd_rates*")), "apply wrote"

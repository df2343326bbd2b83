"""The package's generic tests (macros/generic_tests/) on real dbt and real DuckDB.

tests/integration_project applies every generic test to good data and to bad data. Each
test there is named and tagged:
  expect_pass   must pass;
  expect_fail   must fail with exactly meta.expected_failures failing rows (a test that
                passes on bad data, or counts the wrong rows, is a defect);
  expect_error  misused arguments; must stop with meta.expected_message.
Here it runs once (deps, one build for everything expected to pass, one test run for the
rest) and every test is held to its tag, by name. Then the package is installed into a
project we did not write (shop_project) to prove it brings its macros and nothing else.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator.project import Project, load_project
from generator.project.dbt import invoke

REPO_ROOT = Path(__file__).resolve().parents[1]
INTEGRATION_PROJECT = REPO_ROOT / "tests" / "integration_project"
GENERIC_TESTS_DIR = REPO_ROOT / "macros" / "generic_tests"
PACKAGE = "gen_model"
EXPECTATIONS = ("expect_pass", "expect_fail", "expect_error")
# What a dbt run leaves in a project directory: never copied into a fresh one.
RUN_LEFTOVERS = shutil.ignore_patterns(
    "target", "logs", "dbt_packages", "package-lock.yml", ".user.yml", "*.duckdb", "*.duckdb.wal"
)
# Manifest collections that hold resources (as opposed to macros and docs).
RESOURCE_COLLECTIONS = (
    "nodes",
    "sources",
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "unit_tests",
)


@dataclass(frozen=True)
class DeclaredTest:
    """One generic test as written in the integration project's YAML."""

    name: str
    macro: str  # e.g. "gen_model.accepted_range"
    tags: tuple[str, ...]
    meta: dict
    description: str
    file: str


def generic_test_macros() -> list[str]:
    """The package's generic tests: one file per test, named after it."""
    return sorted(path.stem for path in GENERIC_TESTS_DIR.glob("*.sql"))


def declared_tests() -> dict[str, DeclaredTest]:
    """Every generic test the integration project's YAML declares, by name."""
    declared: dict[str, DeclaredTest] = {}
    # Only the project's own paths: dbt_packages/ (after an in-place run) links the repo.
    folders = (INTEGRATION_PROJECT / "models", INTEGRATION_PROJECT / "seeds")
    for path in sorted(path for folder in folders for path in folder.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for resource in (document.get("models") or []) + (document.get("seeds") or []):
            entries = list(resource.get("data_tests") or [])
            for column in resource.get("columns") or []:
                entries += column.get("data_tests") or []
            for entry in entries:
                macro, body = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
                body = body or {}
                config = body.get("config") or {}
                name = body.get("name")
                where = f"{path.relative_to(INTEGRATION_PROJECT)}, on {resource['name']}"
                assert name, f"{where}: test {macro} has no name; name every test"
                assert name not in declared, f"{where}: test name {name} is used twice"
                declared[name] = DeclaredTest(
                    name=name,
                    macro=macro,
                    tags=tuple(config.get("tags") or ()),
                    meta=dict(config.get("meta") or {}),
                    description=body.get("description") or "",
                    file=str(path.relative_to(INTEGRATION_PROJECT)),
                )
    return declared


def copy_project(source: Path, destination: Path) -> Path:
    """Copy a dbt project without what earlier runs left in it."""
    shutil.copytree(source, destination, ignore=RUN_LEFTOVERS)
    return destination


def install_package(project_dir: Path, package_dir: Path) -> None:
    """Point the project's packages.yml at `package_dir`, by absolute path."""
    packages = {"packages": [{"local": str(package_dir)}]}
    (project_dir / "packages.yml").write_text(yaml.safe_dump(packages), encoding="utf-8")


def deps(project: Project) -> None:
    """`dbt deps`, and check it linked (not copied) the package."""
    outcome = invoke(project, ["deps"])
    assert outcome.success, "dbt deps failed:\n" + "\n".join(outcome.errors)
    installed = project.project_dir / "dbt_packages" / PACKAGE
    # dbt links a local package and copies it only where links fail; a copy of the repo
    # root would drag .venv along and take minutes, so say so rather than crawl.
    assert installed.is_symlink(), f"dbt deps copied {PACKAGE} into {installed} instead of linking"


def read_manifest(project: Project) -> dict:
    return json.loads((project.project_dir / "target" / "manifest.json").read_text("utf-8"))


def enabled_package_resources(manifest: dict, package: str) -> list[str]:
    """Resources (not macros) of `package` that are enabled in a manifest."""
    return sorted(
        unique_id
        for collection in RESOURCE_COLLECTIONS
        for unique_id, resource in (manifest.get(collection) or {}).items()
        if resource.get("package_name") == package
    )


# ---- the package's shape: no dbt needed -------------------------------------------------


def test_each_generic_test_is_one_dispatched_macro_per_file():
    macros = generic_test_macros()
    assert macros, f"no generic tests in {GENERIC_TESTS_DIR}"
    problems = []
    for name in macros:
        source = (GENERIC_TESTS_DIR / f"{name}.sql").read_text(encoding="utf-8")
        tests = re.findall(r"{%-?\s*test\s+(\w+)\s*\(", source)
        if tests != [name]:
            problems.append(f"{name}.sql defines tests {tests}, expected exactly [{name!r}]")
        if f"adapter.dispatch('test_{name}', '{PACKAGE}')" not in source:
            problems.append(f"{name}.sql does not dispatch 'test_{name}' in namespace {PACKAGE}")
        if not re.search(rf"{{%-?\s*macro\s+default__test_{name}\s*\(", source):
            problems.append(f"{name}.sql has no default__test_{name} implementation")
        if not source.lstrip().startswith("{#"):
            problems.append(f"{name}.sql does not start with its header comment")
    assert not problems, "\n".join(problems)


def test_every_generic_test_is_proven_on_good_and_bad_data():
    declared = declared_tests()
    problems = []
    for macro in generic_test_macros():
        cases = [test for test in declared.values() if test.macro == f"{PACKAGE}.{macro}"]
        for tag in ("expect_pass", "expect_fail"):
            if not any(tag in test.tags for test in cases):
                problems.append(f"{macro}: no {tag} case in tests/integration_project")
    for test in declared.values():
        expectations = [tag for tag in test.tags if tag in EXPECTATIONS]
        if len(expectations) != 1:
            problems.append(f"{test.name} ({test.file}): tags {list(test.tags)}, need one of {EXPECTATIONS}")
            continue
        if expectations[0] == "expect_fail":
            expected = test.meta.get("expected_failures")
            if not isinstance(expected, int) or isinstance(expected, bool) or expected < 1:
                problems.append(f"{test.name}: expect_fail needs meta.expected_failures >= 1, got {expected!r}")
            if not test.description:
                problems.append(f"{test.name}: expect_fail needs a description naming the defect")
        if expectations[0] == "expect_error" and not test.meta.get("expected_message"):
            problems.append(f"{test.name}: expect_error needs meta.expected_message")
    assert not problems, "\n".join(problems)


# ---- the integration project: every test held to its tag --------------------------------


@pytest.mark.dbt
def test_integration_project_holds_every_test_to_its_tag(tmp_path):
    project_dir = copy_project(INTEGRATION_PROJECT, tmp_path / "integration_project")
    install_package(project_dir, REPO_ROOT)
    project = load_project(project_dir, profiles_dir=project_dir)
    deps(project)

    # Seeds and models first, tests apart: in one `build`, a test that wrongly fails on a
    # seed would skip the models downstream and bury the one real failure in noise.
    built = invoke(project, ["build", "--exclude", "resource_type:test"])
    assert built.nodes, "dbt build ran nothing:\n" + "\n".join(built.errors)
    problems = [
        f"{node.resource_type} {node.name}: {node.status} ({node.message})"
        for node in built.nodes
        if node.status != "success"
    ]
    problems += [f"dbt warned: {warning}" for warning in built.warnings]
    passing = invoke(project, ["test", "--select", "tag:expect_pass"])
    failing = invoke(project, ["test", "--select", "tag:expect_fail", "tag:expect_error"])

    declared = declared_tests()
    manifest_tests = {
        node["name"]
        for node in read_manifest(project)["nodes"].values()
        if node["resource_type"] == "test" and node["package_name"] == "gen_model_integration_tests"
    }
    if manifest_tests != set(declared):  # the YAML walk above must see what dbt sees
        problems.append(
            f"dbt found tests the YAML walk missed: {sorted(manifest_tests - set(declared))}; "
            f"declared but not found by dbt: {sorted(set(declared) - manifest_tests)}"
        )

    results = {}
    for node in [*passing.nodes, *failing.nodes]:
        if node.resource_type == "test":
            if node.name in results:
                problems.append(f"{node.name}: ran twice")
            results[node.name] = node
    for test in declared.values():
        result = results.get(test.name)
        if result is None:
            problems.append(f"{test.name}: did not run")
            continue
        outcome = f"{result.status}, failures={result.failures}, message={result.message!r}"
        if "expect_pass" in test.tags and result.status != "pass":
            problems.append(f"{test.name}: must pass on {test.file}; got {outcome}")
        elif "expect_fail" in test.tags:
            expected = test.meta["expected_failures"]
            if result.status != "fail" or result.failures != expected:
                problems.append(
                    f"{test.name}: must fail with {expected} failing rows ({test.description}); got {outcome}"
                )
        elif "expect_error" in test.tags:
            wanted = test.meta["expected_message"]
            if result.status != "error" or wanted not in (result.message or ""):
                problems.append(f"{test.name}: must stop with {wanted!r}; got {outcome}")
    assert not problems, "\n".join(problems)


# ---- installed into a project we did not write -------------------------------------------


def shop_project() -> Path | None:
    """The shared corpus project: `shared/corpora/shop_project` beside or above the repo."""
    for base in (REPO_ROOT, *REPO_ROOT.parents):
        candidate = base / "shared" / "corpora" / "shop_project"
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    return None


@pytest.mark.dbt
def test_package_installed_in_a_foreign_project_brings_only_macros(tmp_path):
    source = shop_project()
    if source is None:
        pytest.skip(f"shared/corpora/shop_project not found beside or above {REPO_ROOT}")
    import duckdb

    project_dir = copy_project(source, tmp_path / "shop")
    install_package(project_dir, REPO_ROOT)
    # Two package tests on shop's `orders`: its real grain (must pass) and a grain it does
    # not have (must fail, with as many failures as customers with several orders).
    marts_yml = project_dir / "models" / "marts" / "marts.yml"
    marts = yaml.safe_load(marts_yml.read_text(encoding="utf-8"))
    orders = next(model for model in marts["models"] if model["name"] == "orders")
    orders.setdefault("data_tests", []).extend(
        [
            {
                f"{PACKAGE}.unique_combination_of_columns": {
                    "name": "orders_grain_is_order_and_customer",
                    "arguments": {"combination_of_columns": ["order_id", "customer_id"]},
                }
            },
            {
                f"{PACKAGE}.unique_combination_of_columns": {
                    "name": "orders_one_per_customer",
                    "arguments": {"combination_of_columns": ["customer_id"]},
                }
            },
        ]
    )
    marts_yml.write_text(yaml.safe_dump(marts, sort_keys=False), encoding="utf-8")
    project = load_project(project_dir, profiles_dir=project_dir)
    deps(project)

    outcome = invoke(project, ["build"])
    assert outcome.nodes, "dbt build ran nothing:\n" + "\n".join(outcome.errors)

    manifest = read_manifest(project)
    leaked = enabled_package_resources(manifest, PACKAGE)
    assert not leaked, f"installing {PACKAGE} enabled its sample resources in shop: {leaked}"
    missing = [name for name in generic_test_macros() if f"macro.{PACKAGE}.test_{name}" not in manifest["macros"]]
    assert not missing, f"generic tests missing from the installed package: {missing}"

    by_name = {node.name: node for node in outcome.nodes}
    with duckdb.connect(str(project_dir / "shop.duckdb"), read_only=True) as connection:
        (customers_with_several_orders,) = connection.execute(
            "select count(*) from (select customer_id from main.orders group by customer_id having count(*) > 1)"
        ).fetchone()
    assert customers_with_several_orders > 0  # else the failing case proves nothing
    grain = by_name["orders_grain_is_order_and_customer"]
    assert (grain.status, grain.failures) == ("pass", 0), grain.message
    one_per_customer = by_name["orders_one_per_customer"]
    assert (one_per_customer.status, one_per_customer.failures) == ("fail", customers_with_several_orders), (
        one_per_customer.message
    )
    others = [
        f"{node.name}: {node.status} ({node.message})"
        for node in outcome.nodes
        if node.name != "orders_one_per_customer" and node.status not in ("success", "pass")
    ]
    assert not others, "shop's own build broke with the package installed:\n" + "\n".join(others)


# ---- the root dbt_project.yml's gate on the sample resources -----------------------------
#
# The repo root is the package and the sample project at once; dbt_project.yml must enable
# the sample's resources when gen_model is the root project and disable them when it is
# installed. The repo's sample may be empty on a branch, so these tests build a stand-in:
# the real dbt_project.yml and macros plus one resource of each kind.

STAND_IN_FILES = {
    "models/staging/stg_sample__accounts.sql": ("select id from {{ source('sample_raw', 'accounts') }}\n"),
    "models/staging/_stg_sample.yml": """\
version: 2
sources:
  - name: sample_raw
    schema: main
    tables:
      - name: accounts
        columns:
          - name: id
            data_tests: [not_null]
models:
  - name: stg_sample__accounts
    columns:
      - name: id
        data_tests: [unique]
unit_tests:
  - name: stg_sample__accounts_keeps_rows
    model: stg_sample__accounts
    given:
      - input: source('sample_raw', 'accounts')
        rows: [{id: 1}]
    expect:
      rows: [{id: 1}]
exposures:
  - name: sample_dashboard
    type: dashboard
    owner: {name: analytics}
    depends_on: ["ref('stg_sample__accounts')"]
""",
    "seeds/sample_plans.csv": "plan_id\n1\n",
    "data_tests/sample_singular.sql": "select 1 as id where 1 = 0\n",
    "snapshots/sample_snapshots.yml": """\
snapshots:
  - name: sample_accounts_snapshot
    relation: source('sample_raw', 'accounts')
    config: {unique_key: id, strategy: check, check_cols: all}
""",
}
STAND_IN_RESOURCES = {
    "model.gen_model.stg_sample__accounts",
    "seed.gen_model.sample_plans",
    "source.gen_model.sample_raw.accounts",
    "test.gen_model.sample_singular",
    "unit_test.gen_model.stg_sample__accounts.stg_sample__accounts_keeps_rows",
    "exposure.gen_model.sample_dashboard",
    "snapshot.gen_model.sample_accounts_snapshot",
}


def duckdb_profile(project_dir: Path, profile: str) -> None:
    profiles = {
        profile: {
            "target": "dev",
            "outputs": {
                "dev": {
                    "type": "duckdb",
                    "path": "warehouse.duckdb",
                    "threads": 1,
                }
            },
        }
    }
    (project_dir / "profiles.yml").write_text(yaml.safe_dump(profiles), encoding="utf-8")


@pytest.fixture
def stand_in_package(tmp_path) -> Path:
    package = tmp_path / "gen_model"
    package.mkdir()
    shutil.copy2(REPO_ROOT / "dbt_project.yml", package / "dbt_project.yml")
    shutil.copytree(REPO_ROOT / "macros", package / "macros")
    for relative, text in STAND_IN_FILES.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def parse_manifest(project: Project) -> dict:
    outcome = invoke(project, ["parse"])
    assert outcome.success, "dbt parse failed:\n" + "\n".join(outcome.errors)
    return read_manifest(project)


def package_generic_tests(manifest: dict, package: str) -> list[str]:
    return sorted(
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "test" and node["package_name"] == package and node.get("test_metadata")
    )


@pytest.mark.dbt
def test_sample_resources_are_enabled_in_the_root_project(stand_in_package):
    duckdb_profile(stand_in_package, "gen_model")
    manifest = parse_manifest(load_project(stand_in_package, profiles_dir=stand_in_package))
    enabled = set(enabled_package_resources(manifest, PACKAGE))
    disabled = sorted(STAND_IN_RESOURCES - enabled)
    assert not disabled, f"disabled in the root project: {disabled}"
    assert len(package_generic_tests(manifest, PACKAGE)) == 2  # unique + source not_null


@pytest.mark.dbt
def test_sample_resources_are_disabled_where_the_package_is_installed(stand_in_package, tmp_path):
    project_dir = tmp_path / "foreign"
    project_dir.mkdir()
    (project_dir / "dbt_project.yml").write_text(
        "name: foreign\nversion: '1.0'\nconfig-version: 2\nprofile: foreign\n", encoding="utf-8"
    )
    duckdb_profile(project_dir, "foreign")
    install_package(project_dir, stand_in_package)
    project = load_project(project_dir, profiles_dir=project_dir)
    deps(project)
    manifest = parse_manifest(project)
    leaked = enabled_package_resources(manifest, PACKAGE)
    assert not leaked, f"enabled in a project that installs {PACKAGE}: {leaked}"
    assert f"macro.{PACKAGE}.test_unique_combination_of_columns" in manifest["macros"]

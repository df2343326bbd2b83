"""The first hour on a project we did not write: fail fast, fail free, output where it belongs.

Every test goes through the CLI on a copy of ../shared/corpora/shop_project. What needs no
dbt parse is checked before the project is read: those tests run on an unbuilt copy and
check that dbt never ran (no `target/`). Problems no LLM call can repair stop the repair
loop: the scripted provider's answers are counted through the JSON report.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from tests.conftest import LEFT_BEHIND, SHOP_PROJECT
from tests.shop_support import ORDER_COUNTS


@pytest.fixture
def unbuilt_shop(tmp_path: Path) -> Path:
    """A writable copy of the shop project as cloned: no target/, no warehouse."""
    if not (SHOP_PROJECT / "dbt_project.yml").is_file():
        pytest.skip(f"the shared shop project is not at {SHOP_PROJECT}")
    root = tmp_path / "shop"
    shutil.copytree(SHOP_PROJECT, root, ignore=LEFT_BEHIND)
    for path in (root, *root.rglob("*")):
        path.chmod(path.stat().st_mode | 0o200)
    return root


@pytest.fixture
def initialised_shop(shop_project: Path) -> Path:
    """The built shop project with the gen_model package vendored (`gen-model init`)."""
    result = CliRunner().invoke(cli, ["init", "--project-dir", str(shop_project)])
    assert result.exit_code == 0, result.output
    return shop_project


def scripted(project: Path, answers: list) -> None:
    """Make the project's LLM the scripted provider replaying `answers`."""
    (project / "answers.yml").write_text(yaml.safe_dump(answers, sort_keys=False))
    (project / ".gen-model.yml").write_text("provider: scripted\nscript: answers.yml\nmodels: [scripted]\n")


def drop_view(project: Path, name: str) -> None:
    """Remove a built model from the warehouse, as if nobody had built it yet."""
    connection = duckdb.connect(str(project / "shop.duckdb"))
    try:
        schema = connection.execute(
            "select schema_name from duckdb_views() where view_name = ? and not internal", [name]
        ).fetchone()[0]
        connection.execute(f'drop view "{schema}"."{name}"')
    finally:
        connection.close()


# -- configuration and names: before the project is read --------------------------------


def test_a_missing_api_key_is_reported_before_dbt_parses_anything(unbuilt_shop, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["orders per customer", "--project-dir", str(unbuilt_shop)])
    assert result.exit_code == 2, result.output
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert "Traceback" not in result.output
    assert not (unbuilt_shop / "target").exists(), "dbt parsed the project before the key was checked"


def test_openai_without_a_model_is_reported_before_dbt_parses_anything(unbuilt_shop, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    result = CliRunner().invoke(
        cli, ["orders per customer", "--provider", "openai", "--project-dir", str(unbuilt_shop)]
    )
    assert result.exit_code == 2, result.output
    assert "--model" in result.stderr
    assert not (unbuilt_shop / "target").exists()


def test_a_name_a_person_holds_is_refused_before_any_call_with_the_flag_generate_has(unbuilt_shop, monkeypatch):
    scripted(unbuilt_shop, [ORDER_COUNTS])
    result = CliRunner().invoke(
        cli, ["orders per customer", "--name", "customers", "--project-dir", str(unbuilt_shop), "--json"]
    )
    assert result.exit_code == 1, result.output
    assert "models/marts/customers.sql" in result.stderr
    assert "--name" in result.stderr
    assert json.loads(result.stdout)["attempts"] == []
    assert not (unbuilt_shop / "target").exists()


def test_apply_refuses_a_taken_name_before_the_gates_and_names_what_apply_can_change(unbuilt_shop, tmp_path):
    proposal = tmp_path / "customers.yml"
    proposal.write_text(yaml.safe_dump(dict(ORDER_COUNTS, name="customers"), sort_keys=False))
    result = CliRunner().invoke(cli, ["apply", str(proposal), "--project-dir", str(unbuilt_shop)])
    assert result.exit_code == 1, result.output
    assert "a hand-written model named 'customers' already exists (models/marts/customers.sql)" in result.stderr
    assert "Change `name:` in the proposal file" in result.stderr
    assert "--name" not in result.stderr, "apply has no --name option"
    assert not (unbuilt_shop / "target").exists()


# -- the warehouse: unrepairable problems cost no further calls ---------------------------


def test_an_unbuilt_relation_stops_the_repair_loop_after_one_call(initialised_shop):
    drop_view(initialised_shop, "stg_orders")
    scripted(initialised_shop, [ORDER_COUNTS, ORDER_COUNTS, ORDER_COUNTS])
    result = CliRunner().invoke(cli, ["orders per customer", "--project-dir", str(initialised_shop), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert len(report["attempts"]) == 1, "an unbuilt relation is not the LLM's to repair"
    assert "no LLM repair can fix" in result.stderr
    assert "ref('stg_orders') is not built in the warehouse" in result.stderr
    assert "dbt build --select +stg_orders" in result.stderr
    assert not (initialised_shop / "models/marts/customer_order_counts_v1.sql").exists()


def test_a_missing_warehouse_is_refused_before_the_first_call(initialised_shop):
    (initialised_shop / "shop.duckdb").unlink()
    scripted(initialised_shop, [ORDER_COUNTS])
    result = CliRunner().invoke(cli, ["orders per customer", "--project-dir", str(initialised_shop), "--json"])
    assert result.exit_code == 2, result.output
    assert "does not exist; run `dbt build` first (no LLM call was made)" in result.stderr
    assert json.loads(result.stdout)["attempts"] == []


def test_context_warns_about_relations_that_are_not_built(initialised_shop):
    drop_view(initialised_shop, "stg_orders")
    result = CliRunner().invoke(cli, ["context", "orders per customer", "--project-dir", str(initialised_shop)])
    assert result.exit_code == 0, result.output
    assert "warning: 1 of" in result.stderr
    assert "ref('stg_orders')" in result.stderr and "not built" in result.stderr

    (initialised_shop / "shop.duckdb").unlink()
    result = CliRunner().invoke(cli, ["context", "orders per customer", "--project-dir", str(initialised_shop)])
    assert result.exit_code == 0, result.output
    assert "shop.duckdb does not exist; run `dbt build`" in result.stderr


# -- paying for dbt once ------------------------------------------------------------------


def test_read_only_commands_write_no_manifest_json(initialised_shop):
    target = initialised_shop / "target"
    (target / "manifest.json").unlink()
    result = CliRunner().invoke(cli, ["context", "orders per customer", "--project-dir", str(initialised_shop)])
    assert result.exit_code == 0, result.output
    assert not (target / "manifest.json").exists(), "context wrote a manifest nobody reads"
    assert (target / "partial_parse.msgpack").is_file(), "the next parse must stay partial"


def test_a_dry_run_skips_the_unit_test_row_search_and_says_so(initialised_shop, tmp_path):
    proposal = tmp_path / "order_counts.yml"
    proposal.write_text(yaml.safe_dump(ORDER_COUNTS, sort_keys=False))
    result = CliRunner().invoke(
        cli, ["apply", str(proposal), "--dry-run", "--json", "--project-dir", str(initialised_shop)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "dry-run" and report["unit_tests"] == 0
    assert "dry run: the unit test's row search was skipped (a real run does it)" in report["notes"]
    assert report["tests"], "the derived data tests are still shown"
    assert not (initialised_shop / "models/marts/customer_order_counts_v1.sql").exists()


def test_an_unchanged_project_reads_the_catalog_from_cache_and_any_change_misses(initialised_shop):
    from generator.project import load_project
    from generator.project.catalog_builder import build_catalog

    def context():
        result = CliRunner().invoke(cli, ["context", "orders per customer", "--project-dir", str(initialised_shop)])
        assert result.exit_code == 0, result.output
        return result

    first = context()
    second = context()
    assert "catalog from cache" not in first.stderr
    assert "catalog from cache" in second.stderr
    assert first.stdout == second.stdout, "the cache changes nothing the LLM would see"

    project = load_project(initialised_shop)
    cached = build_catalog(project)
    (initialised_shop / "target" / "gen_model_catalog.json").unlink()
    fresh = build_catalog(project)
    assert cached == fresh
    # meta in its own key order: review shows lineage in that order
    assert [json.dumps(r.meta) for r in cached.relations] == [json.dumps(r.meta) for r in fresh.relations]
    assert cached.session_settings == fresh.session_settings and cached.has_package == fresh.has_package

    # A model file edited, then the warehouse rebuilt: each is a miss.
    model = initialised_shop / "models/staging/stg_orders.sql"
    model.write_text(model.read_text() + "\n")
    assert "catalog from cache" not in context().stderr
    assert "catalog from cache" in context().stderr
    drop_view(initialised_shop, "stg_payments")
    assert "catalog from cache" not in context().stderr


def test_asking_whether_the_cache_is_fresh_then_reading_it_parses_the_entry_once(initialised_shop, monkeypatch):
    """apply reads the cache before it imports the gates (to start the dbt worker), then
    builds the catalog from what it read: a large project's entry is megabytes of JSON,
    parsed once; a changed warehouse is a miss."""
    from generator.project import catalog_cache, load_project
    from generator.project.catalog import Catalog
    from generator.project.catalog_builder import build_catalog

    project = load_project(initialised_shop)
    build_catalog(project)  # fills the cache
    parsed = []
    from_dict = Catalog.from_dict
    monkeypatch.setattr(Catalog, "from_dict", classmethod(lambda cls, data: parsed.append(1) or from_dict(data)))
    cached = catalog_cache.read(project)
    assert cached is not None
    assert build_catalog(project, raw_files=(), cached=cached) is not None
    assert parsed == [1]
    drop_view(initialised_shop, "stg_payments")
    assert catalog_cache.read(project) is None, "a changed warehouse is a miss, entry read or not"


def test_profiles_answer_while_the_warehouse_is_unchanged_and_are_asked_again_once_it_changes(initialised_shop):
    def context():
        result = CliRunner().invoke(cli, ["context", "orders per customer", "--project-dir", str(initialised_shop)])
        assert result.exit_code == 0, result.output
        return result.stdout

    first = context()
    profiles = initialised_shop / "target" / "gen_model_profiles.json"
    assert profiles.is_file()

    # A model edited: the catalog is read again, the unchanged warehouse's profiles are not
    # (the profiles are written only when one had to be asked of the warehouse).
    stamp = profiles.stat().st_mtime_ns
    model = initialised_shop / "models/staging/stg_orders.sql"
    model.write_text(model.read_text() + "\n")
    assert context() == first, "profiles from the cache are the warehouse's answers"
    assert profiles.stat().st_mtime_ns == stamp

    # The warehouse changed (a customer more): every profile is asked again.
    before = next(line for line in first.splitlines() if line.startswith("ref('stg_customers')"))
    connection = duckdb.connect(str(initialised_shop / "shop.duckdb"))
    try:
        table = connection.execute(
            "select schema_name from duckdb_tables() where table_name = 'raw_customers'"
        ).fetchone()[0]
        connection.execute(f"insert into \"{table}\".raw_customers values (1000, 'Ada', 'L.')")
    finally:
        connection.close()
    after = next(line for line in context().splitlines() if line.startswith("ref('stg_customers')"))
    assert before.endswith("rows: 100") and after.endswith("rows: 101"), (before, after)

    # A file that is not one the cache wrote is ignored, never trusted.
    profiles.write_text('{"format": 1, "relations": "nonsense"}')
    assert after in context().splitlines()


def test_verify_and_review_on_an_unchanged_project_reuse_the_stored_manifest(initialised_shop, tmp_path):
    proposal = tmp_path / "order_counts.yml"
    proposal.write_text(yaml.safe_dump(ORDER_COUNTS, sort_keys=False))
    runner = CliRunner()
    project = str(initialised_shop)
    assert runner.invoke(cli, ["apply", str(proposal), "--no-unit-test", "--project-dir", project]).exit_code == 0
    stored = initialised_shop / "target" / "gen_model_manifest_facts.json"
    outputs = []
    for _ in range(2):
        verified = runner.invoke(cli, ["verify", "--project-dir", project])
        reviewed = runner.invoke(cli, ["review", "customer_order_counts", "--project-dir", project])
        assert verified.exit_code == 0 and reviewed.exit_code == 0, verified.output + reviewed.output
        outputs.append((verified.stdout.splitlines()[1:], reviewed.stdout))
        if len(outputs) == 1:
            first_stamp = stored.stat().st_mtime_ns
    assert stored.stat().st_mtime_ns == first_stamp, "the second round parsed again"
    assert outputs[0] == outputs[1], "the stored manifest says what a parse says"


# -- versions: what changed, in words a reviewer can trust -------------------------------


def test_a_v2_with_a_filter_is_reported_as_one_review_wording_and_adopt_refuses_broken_sql(initialised_shop, tmp_path):
    project = str(initialised_shop)
    runner = CliRunner()
    first = tmp_path / "v1.yml"
    first.write_text(yaml.safe_dump(ORDER_COUNTS, sort_keys=False))
    result = runner.invoke(cli, ["apply", str(first), "--no-unit-test", "--project-dir", project])
    assert result.exit_code == 0, result.output

    second = dict(
        ORDER_COUNTS,
        sql=(
            "select customers.customer_id, count(orders.order_id) as order_count,\n"
            "    max(orders.order_date) as last_order_date\n"
            "from {{ ref('stg_customers') }} as customers\n"
            "left join {{ ref('stg_orders') }} as orders on orders.customer_id = customers.customer_id\n"
            "where orders.status <> 'returned'\n"
            "group by customers.customer_id\n"
        ),
        columns=[*ORDER_COUNTS["columns"], {"name": "last_order_date", "description": "Their latest order."}],
    )
    path = tmp_path / "v2.yml"
    path.write_text(yaml.safe_dump(second, sort_keys=False))
    result = runner.invoke(cli, ["apply", str(path), "--no-unit-test", "--project-dir", project, "--json"])
    assert result.exit_code == 0, result.output
    change = json.loads(result.stdout)["change"]
    assert change["class"] == "non-breaking"
    assert change["reasons"] == [
        "column last_order_date added",
        "filter added: where orders.status <> 'returned'",
        "aggregate added: max(orders.order_date)",
    ]

    review = runner.invoke(cli, ["review", "customer_order_counts", "--project-dir", project])
    assert review.exit_code == 0, review.output
    assert "stays current" not in review.output
    assert (
        "v1 stays available with no deprecation date (non-breaking change); `latest_version` is v2, "
        "so `ref('customer_order_counts')` reads v2"
    ) in review.output

    lock_before = (initialised_shop / "gen_model.lock").read_bytes()
    sql = initialised_shop / "models/marts/customer_order_counts_v2.sql"
    sql.write_text(sql.read_text().replace("group by", "group by by", 1))
    adopted = runner.invoke(cli, ["adopt", "customer_order_counts", "--project-dir", project])
    assert adopted.exit_code == 1, adopted.output
    assert "does not parse as SQL; nothing was adopted" in adopted.stderr
    assert "models/marts/customer_order_counts_v2.sql:" in adopted.stderr
    assert "Traceback" not in adopted.output
    assert (initialised_shop / "gen_model.lock").read_bytes() == lock_before


# -- the project's own layout and packages ------------------------------------------------


def test_init_lists_every_file_it_writes(unbuilt_shop):
    result = CliRunner().invoke(cli, ["init", "--project-dir", str(unbuilt_shop)])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first == (
        "installed the gen_model dbt package: vendor/gen_model/, packages.yml, package-lock.yml (dbt deps done)"
    )
    assert (unbuilt_shop / "package-lock.yml").is_file()
    assert "commit vendor/gen_model/, packages.yml, package-lock.yml" in result.stdout


def flatten(project: Path) -> None:
    """Reshape the shop project as many public ones are: every model file in models/ itself."""
    for folder in ("staging", "marts"):
        for path in sorted((project / "models" / folder).iterdir()):
            path.rename(project / "models" / path.name)
        (project / "models" / folder).rmdir()


def test_generated_models_follow_a_flat_layout_or_the_configured_one(initialised_shop, tmp_path):
    flatten(initialised_shop)
    proposal = tmp_path / "order_counts.yml"
    proposal.write_text(yaml.safe_dump(ORDER_COUNTS, sort_keys=False))
    runner = CliRunner()
    args = ["apply", str(proposal), "--no-unit-test", "--project-dir", str(initialised_shop), "--json"]
    result = runner.invoke(cli, [*args, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][:2] == [
        "models/customer_order_counts_v1.sql",
        "models/customer_order_counts.yml",
    ]

    (initialised_shop / ".gen-model.yml").write_text("layers:\n  marts: models/reporting\n")
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][:2] == [
        "models/reporting/customer_order_counts_v1.sql",
        "models/reporting/customer_order_counts.yml",
    ]
    assert (initialised_shop / "models/reporting/customer_order_counts_v1.sql").is_file()


def test_a_bad_layers_setting_names_the_file_and_key(unbuilt_shop):
    (unbuilt_shop / ".gen-model.yml").write_text("layers:\n  mart: models\n")
    result = CliRunner().invoke(cli, ["context", "orders", "--project-dir", str(unbuilt_shop)])
    assert result.exit_code == 2, result.output
    assert ".gen-model.yml: layers: unknown layer 'mart'" in result.stderr
    assert "Did you mean 'marts'?" in result.stderr


# -- raw files: a raw dir only this shell knows ------------------------------------------


def test_discover_draft_offers_then_saves_the_raw_dir_a_plain_dbt_build_would_miss(unbuilt_shop, monkeypatch):
    drops = unbuilt_shop / "drops" / "crm"
    drops.mkdir(parents=True)
    (drops / "leads.csv").write_text("lead_id,email\n1,a@example.com\n2,b@example.com\n")
    monkeypatch.setenv("GEN_MODEL_RAW_PATH", "drops")
    runner = CliRunner()
    args = ["enrich", "discover", "--draft", "--project-dir", str(unbuilt_shop)]
    offered = runner.invoke(cli, args)
    assert offered.exit_code == 0, offered.output
    assert "drafted models/staging/crm/stg_crm__leads.enrich.yml" in offered.stdout
    assert "note: the raw dir drops comes from $GEN_MODEL_RAW_PATH" in offered.stderr
    assert "--save-raw-path" in offered.stderr
    assert "gen_model_raw_path" not in (unbuilt_shop / "dbt_project.yml").read_text()

    saved = runner.invoke(cli, [*args, "--save-raw-path"])
    assert saved.exit_code == 0, saved.output
    assert "set vars.gen_model_raw_path: drops in dbt_project.yml" in saved.stdout
    text = (unbuilt_shop / "dbt_project.yml").read_text()
    assert text.startswith("# A small shop project written for testing gen-model"), "comments are kept"
    assert yaml.safe_load(text)["vars"] == {"gen_model_raw_path": "drops"}

    monkeypatch.delenv("GEN_MODEL_RAW_PATH")
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "note:" not in again.stderr
    assert "leads.csv" in again.stdout, "the saved var is what discovery (and dbt) now read"


# -- retrieval that knows the project ------------------------------------------------------


def as_jaffle_shop(project: Path) -> None:
    """Reshape the shop as jaffle-shop is: staging models read sources whose tables are raw_*."""
    (project / "models/staging/sources.yml").write_text(
        "version: 2\nsources:\n  - name: ecom\n    schema: main\n"
        "    tables: [{name: raw_customers}, {name: raw_orders}, {name: raw_payments}]\n"
    )
    for path in (project / "models/staging").glob("stg_*.sql"):
        text = path.read_text()
        for table in ("raw_customers", "raw_orders", "raw_payments"):
            text = text.replace(f"ref('{table}')", f"source('ecom', '{table}')")
        path.write_text(text)


def test_retrieval_links_sources_to_staging_through_depends_on_and_splits_run_together_names(initialised_shop):
    as_jaffle_shop(initialised_shop)
    (initialised_shop / "models/sbdailyprice.sql").write_text("select 1 as ticker_id, 2.0 as close\n")

    def retrieval(request: str) -> dict:
        result = CliRunner().invoke(cli, ["context", request, "--json", "--project-dir", str(initialised_shop)])
        assert result.exit_code == 0, result.output
        return {item["key"]: item for item in json.loads(result.stdout)["retrieval"]}

    items = retrieval("raw orders")
    raw_orders = items["source('ecom', 'raw_orders')"]
    assert "staged by ref('stg_orders'): use that instead" in raw_orders["reasons"]
    assert raw_orders["rendering"] == "dropped", "the staging model is offered, not its source"
    assert items["ref('stg_orders')"]["rendering"] == "full"

    items = retrieval("daily price")
    assert next(iter(items)) == "ref('sbdailyprice')"
    assert items["ref('sbdailyprice')"]["reasons"][:2] == ["name matches 'daily'", "name matches 'price'"]


def test_on_a_warehouse_of_unrelated_sources_the_best_matchs_source_comes_first():
    from generator.llm.retrieve import retrieve
    from generator.project.catalog import Catalog

    def table(source: str, name: str, *columns: str) -> dict:
        return {"resource_type": "source", "source_name": source, "name": name, "columns": ["id", *columns]}

    catalog = Catalog.from_dict(
        {
            "project_name": "warehouse",
            "relations": [
                table("shop", "customers", "name", "city"),
                table("shop", "orders", "customer_id", "amount"),
                table("hr", "employees", "name", "city", "salary"),
                table("hr", "offices", "city", "country"),
                table("fleet", "vehicles", "plate", "city"),
            ],
        }
    )
    items = {i.key: i for i in retrieve(catalog, "customers and their order amounts by city").items}
    assert items["source('shop', 'customers')"].rendering == "full"
    assert items["source('shop', 'orders')"].rendering == "full"
    offices = items.get("source('hr', 'offices')")
    assert offices is None or "another source than the best match's (shop)" in offices.reasons
    shop = [key for key in items if "'shop'" in key]
    assert list(items)[: len(shop)] == shop, "the best match's own source first"


def test_raw_files_are_sniffed_again_only_when_a_file_under_the_raw_dir_changed(unbuilt_shop):
    from generator.enrich.discovery import discover_raw_files
    from generator.project import catalog_cache, load_project

    raw = unbuilt_shop / "data" / "raw" / "crm"
    raw.mkdir(parents=True)
    (raw / "leads.csv").write_text("lead_id,email\n1,a@example.com\n")
    (raw / "events.ndjson").write_text('{"id": 1, "kind": "open", "at": {"day": "2024-01-01"}}\n')
    project = load_project(unbuilt_shop)
    calls = []

    def counted(project_dir):
        calls.append(project_dir)
        return discover_raw_files(project_dir)

    first = catalog_cache.raw_files(project, counted)
    second = catalog_cache.raw_files(project, counted)
    assert len(calls) == 1 and second == first and len(first) == 2
    assert [f.columns for f in second] == [f.columns for f in first]
    (raw / "leads.csv").write_text("lead_id,email\n1,a@example.com\n2,b@example.com\n")
    third = catalog_cache.raw_files(project, counted)
    assert len(calls) == 2 and next(f for f in third if f.format == "csv").row_count == 2


def test_a_warehouse_with_nothing_built_is_refused_before_the_first_call(initialised_shop):
    connection = duckdb.connect(str(initialised_shop / "shop.duckdb"))
    try:
        for schema, name, kind in connection.execute(
            "select schema_name, view_name, 'view' from duckdb_views() where not internal "
            "union all select schema_name, table_name, 'table' from duckdb_tables()"
        ).fetchall():
            connection.execute(f'drop {kind} "{schema}"."{name}"')
    finally:
        connection.close()
    scripted(initialised_shop, [ORDER_COUNTS])
    result = CliRunner().invoke(cli, ["orders per customer", "--project-dir", str(initialised_shop), "--json"])
    assert result.exit_code == 2, result.output
    assert "is built in the warehouse" in result.stderr
    assert "run `dbt build` first (no LLM call was made)" in result.stderr
    assert json.loads(result.stdout)["attempts"] == []


def test_the_catalog_cache_key_follows_env_vars_dbt_reads_and_local_packages_outside(
    unbuilt_shop, tmp_path, monkeypatch
):
    from generator.project import load_project
    from generator.project.catalog_cache import cache_key

    package = tmp_path / "shared_macros"
    (package / "macros").mkdir(parents=True)
    (package / "macros" / "cents.sql").write_text("{% macro cents(x) %}{{ x }} * 100{% endmacro %}\n")
    (unbuilt_shop / "packages.yml").write_text(f"packages:\n  - local: {package}\n")
    model = unbuilt_shop / "models/staging/stg_orders.sql"
    model.write_text(
        model.read_text().replace("status\n", 'status,\n    \'{{ env_var("SHOP_REGION", "eu") }}\' as r\n')
    )
    project = load_project(unbuilt_shop)
    monkeypatch.delenv("SHOP_REGION", raising=False)
    first = cache_key(project)
    assert cache_key(project) == first, "the key is deterministic"
    monkeypatch.setenv("SHOP_REGION", "us")
    second = cache_key(project)
    assert second != first, "a variable dbt renders changes the catalog"
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    assert cache_key(project) == second
    (package / "macros" / "cents.sql").write_text("{% macro cents(x) %}{{ x }} * 1000{% endmacro %}\n")
    assert cache_key(project) != second, "a local package outside the project is part of it"

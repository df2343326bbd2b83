"""The enrichment compiler: deterministic, lint-clean, readable code that does what the spec says.

The compiled models are run here directly (no dbt: `build(raw_dir)` is plain Polars) on the
contract-shaped fixtures, and their output is checked against expectations computed from
the raw files with the standard library only. `test_enrich_dbt.py` runs them under dbt.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from generator.enrich.compiler import LINE_LENGTH, compile_spec, find_specs, render_spec, stale_files
from generator.enrich.expressions import HELPERS, compile_expression
from generator.enrich.spec import load_spec
from generator.enrich.types import parse_type

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "tests" / "fixtures" / "raw"
SNAPSHOT = RAW / "snapshot" / "stg_crm__contacts_linked.enrich.yml"
SAMPLE_SPECS = find_specs([REPO / "models" / "staging"])
MODELS = {path.name.removesuffix(".enrich.yml"): path.parent for path in SAMPLE_SPECS}


def load_module(path: Path):
    """Import a compiled model file as a module (what dbt-duckdb does with its code)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# stg_crm__contacts looks accounts up by domain: a stand-in for stg_app__accounts.
ACCOUNTS = pl.DataFrame({"account_id": ["acc_00001", "acc_00002"], "domain": ["acme.com", "globex.com"]})


class Compiled:
    """A compiled enrichment model run without dbt, through the runtime it loads.

    Under `on_error: quarantine` the Python model is `<name>__checked`; `build` and
    `quarantined` return what the model's and the quarantine's SQL select from it.
    """

    def __init__(self, path: Path):
        checked = path.with_name(f"{path.stem}__checked.py")
        self.module = load_module(checked if checked.is_file() else path)
        self.rt, self.spec = self.module.rt, self.module.SPEC

    def rows(self, raw_dir: Path, lookup: pl.DataFrame | None = ACCOUNTS) -> pl.DataFrame:
        return self.rt.build(self.spec, raw_dir, lookup)

    def build(self, raw_dir: Path, lookup: pl.DataFrame | None = ACCOUNTS) -> pl.DataFrame:
        frame = self.rows(raw_dir, lookup)
        if self.spec.checked:
            frame = frame.filter(pl.col("_error").is_null()).select(list(self.spec.output_schema))
        return frame

    def quarantined(self, raw_dir: Path, lookup: pl.DataFrame | None = ACCOUNTS) -> pl.DataFrame:
        frame = self.rows(raw_dir, lookup).filter(pl.col("_error").is_not_null())
        return frame.select(
            source_file="_source_file", source_row="_source_row", source_record="_source_record", error="_error"
        )


def model(name: str) -> Compiled:
    return Compiled(MODELS[name] / f"{name}.py")


def quarantine(name: str) -> Compiled:
    return Compiled(MODELS[name] / f"{name}.py")


# -- determinism and layout --------------------------------------------------------------------


def test_the_sample_project_has_the_four_raw_sources():
    assert sorted(MODELS) == [
        "stg_crm__contacts",
        "stg_events__events",
        "stg_firmographics__companies",
        "stg_fx__rates",
    ]


@pytest.mark.parametrize("spec_path", [*SAMPLE_SPECS, SNAPSHOT], ids=lambda p: p.name)
def test_committed_compiled_files_match_their_spec(spec_path):
    stale = stale_files(spec_path)
    assert stale == [], f"recompile: compile_spec({spec_path.relative_to(REPO)})"


@pytest.mark.parametrize("spec_path", [*SAMPLE_SPECS, SNAPSHOT], ids=lambda p: p.name)
def test_recompiling_an_unchanged_spec_is_byte_identical(tmp_path, spec_path):
    copy = tmp_path / spec_path.name
    shutil.copy(spec_path, copy)
    written = compile_spec(copy)
    first = {path.name: path.read_bytes() for path in sorted(tmp_path.iterdir())}
    assert compile_spec(copy) == [], "nothing changes, nothing is rewritten"
    for path in written:
        path.unlink()
    compile_spec(copy)
    second = {path.name: path.read_bytes() for path in sorted(tmp_path.iterdir())}
    assert first == second
    assert render_spec(load_spec(copy), copy.name).files == render_spec(load_spec(copy), copy.name).files


def test_quarantine_files_follow_on_error(tmp_path):
    copy = tmp_path / "stg_fx__rates.enrich.yml"
    shutil.copy(MODELS["stg_fx__rates"] / copy.name, copy)
    compile_spec(copy)
    checked = ["stg_fx__rates__checked.py", "stg_fx__rates__checked.yml", "stg_fx__rates.sql"]
    quarantine = ["stg_fx__rates__quarantine.sql", "stg_fx__rates__quarantine.yml"]
    assert all((tmp_path / name).is_file() for name in checked + quarantine)
    assert not (tmp_path / "stg_fx__rates.py").exists(), "one read: the model selects from __checked"
    copy.write_text(copy.read_text().replace("on_error: quarantine", "on_error: fail"))
    compile_spec(copy)
    assert (tmp_path / "stg_fx__rates.py").is_file()
    for name in checked + quarantine:
        assert not (tmp_path / name).exists(), f"stale {name} removed"


def test_a_model_and_its_quarantine_are_short_and_read_the_input_once():
    """Issue #15: the CRM model plus its quarantine were 1,304 lines, the quarantine a second
    reader repeating the model's code; the fixed code is the runtime now, read once."""
    directory = MODELS["stg_crm__contacts"]
    code = [
        directory / name
        for name in (
            "stg_crm__contacts__checked.py",
            "stg_crm__contacts.sql",
            "stg_crm__contacts__quarantine.sql",
        )
    ]
    lines = sum(len(path.read_text().splitlines()) for path in code)
    assert lines < 1304 / 2, lines
    quarantine_sql = (directory / "stg_crm__contacts__quarantine.sql").read_text()
    assert 'ref("stg_crm__contacts__checked")' in quarantine_sql
    assert "contacts.ndjson" not in quarantine_sql.split("select", 1)[1], "the quarantine does not read the input"
    assert not (directory / "stg_crm__contacts__quarantine.py").exists()
    assert 'ref("stg_crm__contacts__checked")' in (directory / "stg_crm__contacts.sql").read_text()


VARIANTS = {
    # nested record path, booleans and decimals from text, a glob, on_ambiguous: first
    "stg_vendor__accounts": """\
        enrich: 1
        name: stg_vendor__accounts
        description: >
          Accounts from a vendor API with a very long description that must be wrapped onto
          several lines in the docstring of the generated model.
        input:
          path: vendor/*.json
          format: json
          record_path: payload.items
          fields:
            Account ID: varchar
            active: varchar
            balance: varchar
            opened: varchar
            owner.email: varchar
        on_error: quarantine
        key: [account_id]
        columns:
          - name: account_id
            from: Account ID
          - name: is_active
            from: active
            type: boolean
            true_values: ['Y', 'yes']
            false_values: ['N', 'no']
          - name: balance
            from: balance
            type: decimal(12,2)
          - name: opened_at
            from: opened
            type: timestamp
            format: ['%d.%m.%Y %H:%M', iso8601]
            time_zone: Europe/Berlin
          - name: owner_domain
            from: owner.email
            expr: email_domain(owner_domain)
          - name: balance_band
            expr: if_else(balance > 1000, 'high', concat('low-', split_part(account_id, '-', 2)))
        dedupe:
          keep: last
        filter:
          - is_active and length(account_id) >= 3
          - year(opened_at) >= 2000 or is_null(opened_at)
        lookup:
          model: stg_app__accounts
          version: 2
          key: owner_domain
          lookup_key: domain(domain)
          on_ambiguous: first
          columns:
            - name: app_account_id
              from: id
              type: varchar
        """,
    # headerless CSV in latin-1, no dedupe (duplicates are errors), fail on error
    "stg_legacy__rows": """\
        enrich: 1
        name: stg_legacy__rows
        description: Rows of a legacy export.
        input:
          path: legacy/rows.txt.csv
          format: csv
          delimiter: "|"
          header: false
          encoding: latin-1
          fields:
            column_1: varchar
            column_2: varchar
        key: [code, day]
        columns:
          - name: code
            from: column_1
            expr: upper(code)
          - name: day
            from: column_2
            type: date
            format: '%Y%m%d'
          - name: month
            expr: date_trunc('month', day)
        """,
}


def compile_variant(tmp_path: Path, name: str) -> dict[str, Path]:
    spec_path = tmp_path / f"{name}.enrich.yml"
    spec_path.write_text(textwrap.dedent(VARIANTS[name]), encoding="utf-8")
    compile_spec(spec_path)
    return {path.name: path for path in tmp_path.iterdir() if path.suffix == ".py"}


def ruff(*args: str) -> subprocess.CompletedProcess:
    # The repo's rules, at the line length the compiler writes for (its own contract).
    line_length = f"line-length = {LINE_LENGTH}"
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--config", str(REPO / "pyproject.toml"), "--config", line_length],
        capture_output=True,
        text=True,
    )


def test_generated_code_passes_ruff_check_and_format(tmp_path):
    for name in VARIANTS:
        (tmp_path / name).mkdir()
        compile_variant(tmp_path / name, name)
    targets = [str(tmp_path), str(REPO / "models" / "staging"), str(SNAPSHOT.parent)]
    checked = ruff("check", "--no-cache", *targets)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    formatted = ruff("format", "--check", "--no-cache", *targets)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_generated_code_is_a_valid_dbt_python_model(tmp_path):
    from dbt.parser.models import PythonParseVisitor, PythonValidationVisitor

    files = [path for spec in SAMPLE_SPECS for path in spec.parent.glob("*.py")]
    for name in VARIANTS:
        (tmp_path / name).mkdir()
        files += compile_variant(tmp_path / name, name).values()
    for path in files:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
        validator = PythonValidationVisitor()
        validator.visit(tree)
        assert validator.num_model_def == 1 and not validator.dbt_errors, path
        for marker in ("{{", "{%", "{#"):
            assert marker not in source, f"{path}: dbt would render {marker!r} as Jinja"

        class Node:
            name = path.stem

        calls = PythonParseVisitor(Node())
        calls.visit(tree)
        names = [(function, args) for function, args, _ in calls.dbt_function_calls]
        assert ("meta_get", ["gen_model_raw_path"]) in names, path
        if "stg_vendor__accounts__checked.py" == path.name:
            assert ("ref", ["stg_app__accounts"]) in names


def test_the_model_yaml_declares_types_tests_and_provenance():
    import yaml

    document = yaml.safe_load((MODELS["stg_fx__rates"] / "stg_fx__rates.yml").read_text())
    (entry,) = document["models"]
    assert entry["config"]["materialized"] == "table"
    meta = entry["config"]["meta"]
    assert 'var("gen_model_raw_path"' in meta["gen_model_raw_path"]
    assert meta["gen_model"]["kind"] == "enrich"
    assert meta["gen_model"]["spec"] == "stg_fx__rates.enrich.yml"
    assert meta["gen_model"]["grain"] == ["rate_date", "currency_code"]
    types = {column["name"]: column["data_type"] for column in entry["columns"]}
    assert types == {
        "rate_date": "date",
        "currency_code": "varchar",
        "units_per_usd": "decimal(18,6)",
    }
    tests = {column["name"]: column.get("data_tests", []) for column in entry["columns"]}
    assert tests["rate_date"] == ["not_null"] and "not_null" in tests["units_per_usd"]
    key_test = entry["data_tests"][0]["gen_model.unique_combination_of_columns"]
    assert key_test["arguments"]["combination_of_columns"] == ["rate_date", "currency_code"]


# -- expressions -------------------------------------------------------------------------------


def evaluate(expression: str, frame: pl.DataFrame) -> list:
    columns = {name: parse_type(_duck(dtype)) for name, dtype in frame.schema.items()}
    compiled = compile_expression(expression, columns)
    namespace = {"pl": pl}
    for helper in compiled.helpers:
        exec(HELPERS[helper], namespace)  # the compiler's own helper source, as models hold it
    return frame.select(eval(compiled.expr, namespace).alias("v"))["v"].to_list()


def _duck(dtype) -> str:
    from generator.enrich.types import from_polars

    return from_polars(dtype)


EXPRESSION_FRAME = pl.DataFrame(
    {
        "email": ["  Jane.Doe@Acme.COM ", "", None, "x@y"],
        "site": ["WWW.ACME.com", "https://www.globex.com/about", None, "sub.initech.io:8080"],
        "n": [1, 2, None, 7],
    }
)


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("nullif(lower(trim(email)), '')", ["jane.doe@acme.com", None, None, "x@y"]),
        ("email_domain(email)", ["acme.com", None, None, "y"]),
        ("domain(site)", ["acme.com", "globex.com", None, "sub.initech.io"]),
        ("split_part(site, '.', 2)", ["ACME", "globex", None, "initech"]),
        ("split_part(site, '.', 9)", [None, None, None, None]),
        # a null condition takes the else branch, as SQL's CASE does
        ("if_else(n > 1, 'big', 'small')", ["small", "big", "small", "big"]),
        ("n * 2 + 1", [3, 5, None, 15]),
        ("n / 2", [0.5, 1.0, None, 3.5]),
        ("n in [1, 7]", [True, False, None, True]),
        ("not (n >= 2) or is_null(n)", [True, False, True, False]),
        ("coalesce(email, site, 'none')", ["  Jane.Doe@Acme.COM ", "", "none", "x@y"]),
        (
            "concat(email, '|', upper(email))",
            ["  Jane.Doe@Acme.COM |  JANE.DOE@ACME.COM ", "|", None, "x@y|X@Y"],
        ),
        ("length(trim(email))", [17, 0, None, 3]),
        (
            "replace(site, 'www.', '')",
            ["WWW.ACME.com", "https://globex.com/about", None, "sub.initech.io:8080"],
        ),
    ],
)
def test_expressions_compute_what_they_say(expression, expected):
    assert evaluate(expression, EXPRESSION_FRAME) == expected


# -- what the compiled models do, checked against the raw files -----------------------------------


def raw_contacts(directory: Path = RAW) -> list[dict]:
    lines = (directory / "crm" / "contacts.ndjson").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_crm_contacts_latest_version_wins_and_emails_are_normalised():
    frame = model("stg_crm__contacts").build(RAW, ACCOUNTS)
    latest: dict[str, dict] = {}
    for record in raw_contacts():
        if record["id"] not in latest or record["updatedAt"] >= latest[record["id"]]["updatedAt"]:
            latest[record["id"]] = record
    assert sorted(frame["contact_id"].to_list()) == sorted(latest), "one row per id"
    for row in frame.iter_rows(named=True):
        record = latest[row["contact_id"]]
        email = (record["properties"]["email"] or "").strip().lower() or None
        assert row["email"] == email
        assert row["email_domain"] == (email.split("@")[1] if email else None)
        assert row["lifecycle_stage"] == record["properties"]["lifecyclestage"]
        assert row["owner_id"] == record["properties"]["hubspot_owner_id"]
        assert row["is_archived"] is record["archived"]
        domain = email.split("@")[1] if email else None
        assert row["account_id"] == {"acme.com": "acc_00001", "globex.com": "acc_00002"}.get(domain)
        updated = datetime.strptime(record["updatedAt"], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert row["updated_at"] == updated.replace(tzinfo=timezone.utc)
    assert frame.schema["updated_at"] == pl.Datetime("us", "UTC")
    late = [r for r in raw_contacts() if r["properties"]["hubspot_owner_id"] == "owner_99"]
    assert late and all(latest[r["id"]]["properties"]["hubspot_owner_id"] == "owner_99" for r in late)


def test_firmographics_latest_record_per_normalised_domain():
    frame = model("stg_firmographics__companies").build(RAW)
    records = json.loads((RAW / "firmographics" / "companies.json").read_text())["data"]
    latest: dict[str, dict] = {}
    for record in records:
        domain = record["domain"].strip().lower().removeprefix("www.")
        if domain not in latest or record["updated_at"] >= latest[domain]["updated_at"]:
            latest[domain] = record
    assert sorted(frame["domain"].to_list()) == sorted(latest)
    for row in frame.iter_rows(named=True):
        record = latest[row["domain"]]
        assert row["industry"] == record["industry"]
        assert row["employee_count"] == record["metrics"]["employees"]
        revenue = record["metrics"]["annual_revenue_usd"]
        assert row["annual_revenue_usd"] == (Decimal(revenue).quantize(Decimal("0.01")) if revenue else None)
        assert row["hq_city"] == record["hq"]["city"]
        assert row["tags"] == record["tags"]
        assert row["updated_at"] == date.fromisoformat(record["updated_at"])
    assert frame.schema["annual_revenue_usd"] == pl.Decimal(18, 2)


def test_fx_rates_parse_mixed_dates_and_drop_exact_duplicates():
    frame = model("stg_fx__rates").build(RAW)
    rows = set()
    for line in (RAW / "fx" / "fx_rates.csv").read_text(encoding="utf-8-sig").splitlines()[1:]:
        text, currency, rate = line.split(";")
        for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%b %d %Y"):
            try:
                day = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        rows.add((day, currency, Decimal(rate).quantize(Decimal("0.000001"))))
    assert sorted(frame.iter_rows()) == sorted(rows)
    assert frame.height == len(rows) == 40
    assert frame.select("rate_date", "currency_code").is_duplicated().sum() == 0


def test_events_keep_the_earliest_received_copy():
    frame = model("stg_events__events").build(RAW)
    earliest: dict[str, dict] = {}
    for path in sorted((RAW / "events").glob("*.parquet")):
        for record in pq.read_table(path).to_pylist():
            seen = earliest.get(record["event_id"])
            if seen is None or record["received_at"] < seen["received_at"]:
                earliest[record["event_id"]] = record
    assert sorted(frame["event_id"].to_list()) == sorted(earliest)
    for row in frame.iter_rows(named=True):
        record = earliest[row["event_id"]]
        assert row["received_at"] == record["received_at"]
        assert row["occurred_at"] == record["occurred_at"]
        assert row["feature"] == record["properties"]["feature"]
        assert row["duration_ms"] == record["properties"]["duration_ms"]
        assert row["ip_country"] == record["context"]["ip_country"]
    assert frame.schema["occurred_at"] == pl.Datetime("us", "UTC")


# -- bad input never passes silently -------------------------------------------------------------


def test_ndjson_bad_lines_are_quarantined_with_line_numbers():
    bad = quarantine("stg_crm__contacts").quarantined(RAW / "malformed")
    rows = {row["source_row"]: row for row in bad.iter_rows(named=True)}
    assert sorted(rows) == [5, 13, 41]
    assert all(row["source_file"] == "crm/contacts.ndjson" for row in rows.values())
    assert rows[5]["error"].startswith("not valid JSON: Expecting ',' delimiter")
    assert rows[5]["source_record"].startswith('{"id": "2001"')
    assert rows[13]["error"] == "created_at: cannot parse 'yesterday' as timestamp with time zone"
    assert json.loads(rows[13]["source_record"])["createdAt"] == "yesterday"
    assert rows[41]["error"].startswith("not a JSON object")
    good = model("stg_crm__contacts").build(RAW / "malformed", ACCOUNTS)
    assert good.height == 30, "the good rows load"
    # The bad line was one version of contact 1011; its clean later version still loads.
    assert "1011" in good["contact_id"].to_list()


def test_csv_rows_with_wrong_field_counts_or_bad_values_are_quarantined():
    bad = quarantine("stg_fx__rates").quarantined(RAW / "malformed")
    assert bad["source_row"].to_list() == [6, 9]
    assert bad["error"][0] == "expected 3 fields, found 4"
    assert bad["source_record"][0].endswith(";extra")
    assert bad["error"][1].startswith("rate_date: cannot parse '31.01.2024' as date")
    assert json.loads(bad["source_record"][1])["rate_date"] == "31.01.2024"


def test_fail_mode_names_file_record_and_reason():
    module = model("stg_firmographics__companies")
    with pytest.raises(module.rt.EnrichError) as raised:
        module.build(RAW / "malformed")
    message = str(raised.value)
    assert "1 bad row(s) in firmographics/companies.json; nothing was loaded" in message
    assert "firmographics/companies.json record 3: not a JSON object" in message


def test_fail_mode_ndjson_lists_every_bad_line(tmp_path):
    spec_path = tmp_path / "stg_crm__contacts.enrich.yml"
    text = (MODELS["stg_crm__contacts"] / spec_path.name).read_text()
    spec_path.write_text(text.replace("on_error: quarantine", "on_error: fail"))
    compile_spec(spec_path)
    module = Compiled(tmp_path / "stg_crm__contacts.py")
    with pytest.raises(module.rt.EnrichError) as raised:
        module.build(RAW / "malformed", ACCOUNTS)
    lines = str(raised.value).splitlines()
    assert lines[0].startswith("stg_crm__contacts: 3 bad row(s) in crm/contacts.ndjson")
    assert lines[1].startswith("  crm/contacts.ndjson:5: not valid JSON")
    assert lines[2] == ("  crm/contacts.ndjson:13: created_at: cannot parse 'yesterday' as timestamp with time zone")
    assert lines[3].startswith("  crm/contacts.ndjson:41: not a JSON object")
    assert "on_error: quarantine" in lines[-1]


def test_a_broken_json_document_fails_even_in_quarantine_mode(tmp_path):
    (tmp_path / "firmographics").mkdir()
    (tmp_path / "firmographics" / "companies.json").write_text('{"data": [{"domain": "a.com"},\n')
    module = model("stg_firmographics__companies")
    with pytest.raises(module.rt.EnrichError, match=r"companies.json:2:1: not valid JSON"):
        module.build(tmp_path)


def test_schema_drift_missing_field_is_an_error_new_field_a_warning(monkeypatch):
    module = model("stg_crm__contacts")
    warned = []
    monkeypatch.setattr(module.rt, "warn", warned.append)
    with pytest.raises(module.rt.EnrichError) as raised:
        module.build(RAW / "drift", ACCOUNTS)
    message = str(raised.value)
    assert "crm/contacts.ndjson: schema drift, missing field(s): updatedAt" in message
    assert "Update input.fields" in message
    assert warned == ["stg_crm__contacts: crm/contacts.ndjson: schema drift, new field(s): updated_at, source"]


def test_schema_drift_policy_is_followed(tmp_path, monkeypatch):
    spec_path = tmp_path / "stg_crm__contacts.enrich.yml"
    text = (MODELS["stg_crm__contacts"] / spec_path.name).read_text()
    text = text.replace("missing: error", "missing: warn").replace("new: warn", "new: error")
    spec_path.write_text(text)
    compile_spec(spec_path)
    module = Compiled(tmp_path / "stg_crm__contacts.py")
    warned = []
    monkeypatch.setattr(module.rt, "warn", warned.append)
    with pytest.raises(module.rt.EnrichError, match=r"new field\(s\): updated_at, source"):
        module.build(RAW / "drift", ACCOUNTS)
    assert warned == ["stg_crm__contacts: crm/contacts.ndjson: schema drift, missing field(s): updatedAt"]
    # Retyped: `archived` arrives as text; the policy says error.
    retyped = tmp_path / "retyped" / "crm"
    retyped.mkdir(parents=True)
    records = raw_contacts()
    for record in records:
        record["archived"] = "no"
    retyped.joinpath("contacts.ndjson").write_text("\n".join(map(json.dumps, records)))
    with pytest.raises(module.rt.EnrichError, match=r"retyped field\(s\): archived is String, expected Boolean"):
        module.build(tmp_path / "retyped", ACCOUNTS)


def test_a_field_first_seen_after_the_type_sample_still_loads(tmp_path):
    """NDJSON field types come from a sample of lines; a value outside it must not be lost."""
    module = model("stg_crm__contacts")
    base = raw_contacts()[0]
    lines = []
    for number in range(30_001):
        record = json.loads(json.dumps(base))
        record["id"] = str(number)
        del record["properties"]["phone"]  # the key is absent, not null, in almost every line
        lines.append(record)
    # Not among the first lines, and not on the sample's stride (every 3rd line).
    assert 20_000 > module.rt.SAMPLE_LINES and 20_000 % (30_001 // module.rt.SAMPLE_LINES) != 0
    lines[20_000]["properties"]["phone"] = "+1 555 0199"
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "contacts.ndjson").write_text("\n".join(map(json.dumps, lines)))
    frame = module.build(tmp_path, ACCOUNTS)
    assert frame.filter(pl.col("contact_id") == "20000")["phone"].to_list() == ["+1 555 0199"]
    assert frame["phone"].null_count() == 30_000


def write_contacts(directory: Path, lines: list[str], newline: str = "\n") -> Path:
    (directory / "crm").mkdir(parents=True, exist_ok=True)
    path = directory / "crm" / "contacts.ndjson"
    path.write_bytes(newline.join(lines).encode())
    return directory


def test_ndjson_chunk_boundaries_change_nothing(tmp_path, monkeypatch):
    """The file is decoded a chunk at a time; where the chunks end must not matter."""
    module = model("stg_crm__contacts")
    bad_module = quarantine("stg_crm__contacts")
    whole = module.build(RAW / "malformed", ACCOUNTS)
    whole_bad = bad_module.quarantined(RAW / "malformed")
    for size in (1, 97, 4096):  # smaller than a line, a few lines, the whole file
        monkeypatch.setattr(module.rt, "CHUNK_BYTES", size)
        assert module.build(RAW / "malformed", ACCOUNTS).equals(whole)
        assert bad_module.quarantined(RAW / "malformed").equals(whole_bad)


def test_ndjson_blank_lines_and_crlf_keep_line_numbers(tmp_path):
    records = [json.dumps(record) for record in raw_contacts()[:4]]
    lines = [records[0], "", records[1], "   ", records[2], "not json", records[3], ""]
    write_contacts(tmp_path, lines, newline="\r\n")
    frame = model("stg_crm__contacts").build(tmp_path, ACCOUNTS)
    assert frame.height == len({json.loads(r)["id"] for r in records})
    bad = quarantine("stg_crm__contacts").quarantined(tmp_path)
    assert bad["source_row"].to_list() == [6], "the 6th line of the file, blank lines counted"
    assert bad["error"][0].startswith("not valid JSON")


def test_ndjson_value_of_the_wrong_type_past_the_sample_is_quarantined_by_field(tmp_path, monkeypatch):
    """Types come from a sample; a line further down that does not fit is set aside, named."""
    module = model("stg_crm__contacts")
    bad_module = quarantine("stg_crm__contacts")
    monkeypatch.setattr(module.rt, "SAMPLE_LINES", 10)
    base = raw_contacts()[0]
    lines = []
    for number in range(1000):
        record = json.loads(json.dumps(base))
        record["id"] = str(number)
        lines.append(record)
    lines[500]["archived"] = "yes"
    path = write_contacts(tmp_path, [json.dumps(record) for record in lines]) / "crm" / "contacts.ndjson"
    assert module.rt.sample_types(path)["archived"] == pl.Boolean, "the sample must miss line 501"
    frame = module.build(tmp_path, ACCOUNTS)
    assert frame.height == 999
    assert "500" not in frame["contact_id"].to_list()
    bad = bad_module.quarantined(tmp_path)
    assert bad["source_row"].to_list() == [501]
    assert bad["error"].to_list() == ['archived: "yes" is not Boolean']


def test_later_timestamp_formats_parse_only_what_earlier_ones_left():
    module = model("stg_crm__contacts")
    frame = pl.DataFrame({"text": [" 2024-01-02T03:04:05Z", "2024-01-02 03:04:05", None, "soon", ""]})
    parsed = frame.select(module.rt.parse_timestamp(pl.col("text"), module.module.ISO_8601, "Europe/Berlin"))
    assert parsed.schema["text"] == pl.Datetime("us", "UTC")
    assert [str(value) for value in parsed["text"]] == [
        "2024-01-02 03:04:05+00:00",
        "2024-01-02 02:04:05+00:00",  # naive: read in the column's time zone
        "None",
        "None",
        "None",
    ]


def test_the_contract_check_catches_a_wrong_output_type():
    module = model("stg_fx__rates")
    frame = pl.DataFrame({"rate_date": ["2024-01-01"], "currency_code": ["EUR"], "units_per_usd": [0.9]})
    with pytest.raises(module.rt.EnrichError, match="rate_date is String, expected Date"):
        module.rt.finish(module.spec, frame)


def test_missing_input_and_unrendered_raw_dir_are_clear(tmp_path):
    module = model("stg_events__events")
    with pytest.raises(module.rt.EnrichError, match=r"no file matches 'events/events-\*.parquet'"):
        module.build(tmp_path)
    with pytest.raises(module.rt.EnrichError, match="set the dbt var gen_model_raw_path"):
        module.rt.raw_dir_from("{{ env_var('GEN_MODEL_RAW_PATH', 'data/raw') }}")


def test_a_new_runtime_version_makes_every_compiled_model_stale(monkeypatch):
    """A model pins the runtime it was compiled for: a version bump is a recompile to review."""
    from generator.enrich import emit

    assert stale_files(SNAPSHOT) == []
    monkeypatch.setattr(emit, "RUNTIME_VERSION", 2)
    monkeypatch.setattr(emit, "RUNTIME_MODULE", "gen_model_runtime_v2")
    stale = {path.name for path in stale_files(SNAPSHOT)}
    assert {"stg_crm__contacts_linked__checked.py", "stg_crm__contacts_linked.sql"} <= stale
    code = render_spec(load_spec(SNAPSHOT), SNAPSHOT.name).files["stg_crm__contacts_linked__checked.py"]
    assert 'RUNTIME = "gen_model_runtime_v2"' in code


def test_the_runtime_needs_no_gen_model():
    """dbt runs compiled models without gen-model installed: the runtime imports Polars,
    pyarrow and the standard library only."""
    tree = ast.parse((REPO / "python" / "gen_model_runtime_v1.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"polars", "pyarrow", "dbt"}, imported


def test_compiled_sql_quotes_only_the_column_names_that_need_it():
    from generator.enrich.emit import sql_identifier

    assert sql_identifier("contact_id") == "contact_id"
    assert sql_identifier("order") == '"order"', "a reserved word"
    assert sql_identifier("_error") == "_error"

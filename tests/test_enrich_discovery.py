"""Discovery: raw files found, formats and options sniffed, schemas read with nested types."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from generator.enrich.discovery import (
    discover_raw_files,
    resolve_raw_dir,
    sniff_csv,
    sniff_encoding,
    sniff_file,
)
from generator.project.catalog import Catalog

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "tests" / "fixtures" / "raw"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project dir whose data/raw holds the good fixtures (and one file to ignore)."""
    monkeypatch.delenv("GEN_MODEL_RAW_PATH", raising=False)
    (tmp_path / "dbt_project.yml").write_text("name: p\nvars:\n  gen_model_raw_path: data/raw\n")
    for source in ("crm", "firmographics", "fx", "events"):
        shutil.copytree(RAW / source, tmp_path / "data" / "raw" / source)
    (tmp_path / "data" / "raw" / "README.md").write_text("not data")
    (tmp_path / "data" / "raw" / ".hidden.csv").write_text("a,b\n1,2\n")
    return tmp_path


def by_path(files) -> dict:
    return {raw.path: raw for raw in files}


def test_discovers_each_format_with_project_relative_paths(project):
    files = by_path(discover_raw_files(project))
    assert sorted(files) == [
        "data/raw/crm/contacts.ndjson",
        "data/raw/events/events-*.parquet",
        "data/raw/firmographics/companies.json",
        "data/raw/fx/fx_rates.csv",
    ]
    assert {path: raw.format for path, raw in files.items()} == {
        "data/raw/crm/contacts.ndjson": "ndjson",
        "data/raw/events/events-*.parquet": "parquet",
        "data/raw/firmographics/companies.json": "json",
        "data/raw/fx/fx_rates.csv": "csv",
    }


def test_nested_schemas_are_flattened_with_duckdb_type_names(project):
    files = by_path(discover_raw_files(project))
    events = {c.name: c.data_type for c in files["data/raw/events/events-*.parquet"].columns}
    assert events["occurred_at"] == "timestamp with time zone"
    assert events["properties.duration_ms"] == "bigint"
    assert events["context.ip_country"] == "varchar"
    assert "properties" not in events, "structs are listed by their leaves"
    companies = files["data/raw/firmographics/companies.json"]
    assert companies.record_path == "data"
    types = {c.name: c.data_type for c in companies.columns}
    assert types["tags"] == "varchar[]"
    assert types["metrics.annual_revenue_usd"] == "bigint"
    assert types["hq.country"] == "varchar"
    contacts = {c.name: c for c in files["data/raw/crm/contacts.ndjson"].columns}
    assert contacts["archived"].data_type == "boolean"
    assert contacts["properties.email"].data_type == "varchar"
    assert "  John.Doe@acme.com " in contacts["properties.email"].sample_values


def test_row_counts(project):
    files = by_path(discover_raw_files(project))
    assert files["data/raw/crm/contacts.ndjson"].row_count == 38
    assert files["data/raw/events/events-*.parquet"].row_count == 32  # two files, summed
    assert files["data/raw/firmographics/companies.json"].row_count == 11
    assert files["data/raw/fx/fx_rates.csv"].row_count == 43


def test_csv_options_and_messy_headers_are_reported_as_found(project):
    fx = by_path(discover_raw_files(project))["data/raw/fx/fx_rates.csv"]
    assert [c.name for c in fx.columns] == ["Rate Date", "Currency Code ", "Units per USD"]
    assert all(c.data_type == "varchar" for c in fx.columns)
    assert "delimiter ';'" in fx.description and "byte order mark" in fx.description
    dates = next(c for c in fx.columns if c.name == "Rate Date").sample_values
    assert any("/" in d for d in dates) or any(d[:3].isalpha() for d in dates)


def test_sniffers():
    assert sniff_encoding(b"\xef\xbb\xbfa;b") == "utf-8-sig"
    assert sniff_encoding("é".encode("latin-1") + b"abc,def,ghi") == "latin-1"
    assert sniff_encoding("é,ü".encode()) == "utf-8"
    dialect = sniff_csv(b"id|name|amount\n1|a|2.5\n2|b|3.5\n")
    assert (dialect.delimiter, dialect.header) == ("|", True)
    assert sniff_csv(b"1,2,3\n4,5,6\n").header is False


def test_ndjson_saved_as_json_and_malformed_lines(tmp_path):
    lines = [json.dumps({"id": i, "tags": ["x"]}) for i in range(3)] + ["{broken"]
    path = tmp_path / "export.json"
    path.write_text("\n".join(lines) + "\n")
    raw = sniff_file(path, tmp_path)
    assert raw.format == "ndjson"
    assert {c.name: c.data_type for c in raw.columns} == {"id": "bigint", "tags": "varchar[]"}
    assert "1 of them not JSON objects" in raw.description


def test_json_array_and_unknown_extensions(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"a": {"b": 1.5}}, {"a": {"b": 2}}]))
    raw = sniff_file(path, tmp_path)
    assert raw.record_path is None and raw.row_count == 2
    assert [(c.name, c.data_type) for c in raw.columns] == [("a.b", "double")]
    assert sniff_file(tmp_path / "x.txt", tmp_path) is None


def test_unreadable_files_are_listed_not_fatal(tmp_path):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    (raw_dir / "broken.parquet").write_bytes(b"PAR1 not really")
    (files,) = discover_raw_files(tmp_path, raw_dir)
    assert files.path == "raw/broken.parquet"
    assert files.description.startswith("could not be read")


def test_raw_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("GEN_MODEL_RAW_PATH", raising=False)
    assert resolve_raw_dir(tmp_path) == tmp_path / "data" / "raw"
    (tmp_path / "dbt_project.yml").write_text("vars:\n  gen_model_raw_path: exports\n")
    assert resolve_raw_dir(tmp_path) == tmp_path / "exports"
    # A Jinja default (as the sample project writes it) is not a path: fall back.
    (tmp_path / "dbt_project.yml").write_text(
        "vars:\n  gen_model_raw_path: \"{{ env_var('GEN_MODEL_RAW_PATH', 'data/raw') }}\"\n"
    )
    assert resolve_raw_dir(tmp_path) == tmp_path / "data" / "raw"
    monkeypatch.setenv("GEN_MODEL_RAW_PATH", "/srv/raw")
    assert resolve_raw_dir(tmp_path) == Path("/srv/raw")
    assert resolve_raw_dir(tmp_path, "elsewhere") == tmp_path / "elsewhere"
    assert discover_raw_files(tmp_path, "missing") == ()


def test_raw_files_round_trip_through_the_catalog(project):
    files = discover_raw_files(project)
    catalog = Catalog(project_name="p", project_dir=project, raw_files=files)
    again = Catalog.from_dict(json.loads(json.dumps(catalog.to_dict())))
    assert again.raw_files == files


def test_drafted_specs_validate_compile_and_run(project, tmp_path):
    import importlib.util

    from generator.enrich.compiler import compile_spec
    from generator.enrich.discovery import draft_spec
    from generator.enrich.spec import load_spec

    drafts = tmp_path / "drafts"
    drafts.mkdir()
    modules = {}
    for raw in discover_raw_files(project):
        text = draft_spec(raw, project)
        spec_name = next(line for line in text.splitlines() if line.startswith("name: "))[6:]
        path = drafts / f"{spec_name}.enrich.yml"
        path.write_text(text)
        spec = load_spec(path)
        assert [c.source for c in spec.columns] == [c.name for c in raw.columns]
        compile_spec(path)
        module_spec = importlib.util.spec_from_file_location(spec_name, drafts / f"{spec_name}.py")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        modules[spec_name] = module
    assert sorted(modules) == [
        "stg_crm__contacts",
        "stg_events__events",
        "stg_firmographics__companies",
        "stg_fx__fx_rates",
    ]
    raw_dir = project / "data" / "raw"
    companies = modules["stg_firmographics__companies"]
    companies = companies.rt.build(companies.SPEC, raw_dir)
    assert companies.height == 11 and companies.columns[:2] == ["domain", "company_name"]
    assert dict(companies.schema)["metrics_employees"] == pl.Int64
    # No dedupe in a draft: a repeated key is reported, not silently collapsed.
    fx = modules["stg_fx__fx_rates"]
    with pytest.raises(fx.rt.EnrichError, match=r"duplicate key rate_date \(the spec has no dedupe\)"):
        fx.rt.build(fx.SPEC, raw_dir)

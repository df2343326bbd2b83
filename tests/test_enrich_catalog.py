"""Raw files in the catalog: discovered on every run, cheaply, and linked to their models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.enrich import discovery
from generator.enrich.discovery import discover_raw_files, json_head, sniff_file
from generator.project.catalog import Catalog, RawFile

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "tests" / "fixtures" / "raw"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("GEN_MODEL_RAW_PATH", raising=False)
    (tmp_path / "dbt_project.yml").write_text("name: p\nvars:\n  gen_model_raw_path: exports\n")
    for source in ("crm", "firmographics", "fx", "events"):
        shutil.copytree(RAW / source, tmp_path / "exports" / source)
    return tmp_path


def by_path(files) -> dict[str, RawFile]:
    return {raw.path: raw for raw in files}


def test_raw_files_carry_their_spec_input_path_and_reading_options(project):
    files = by_path(discover_raw_files(project))
    assert {path: raw.input_path for path, raw in files.items()} == {
        "exports/crm/contacts.ndjson": "crm/contacts.ndjson",
        "exports/events/events-*.parquet": "events/events-*.parquet",
        "exports/firmographics/companies.json": "firmographics/companies.json",
        "exports/fx/fx_rates.csv": "fx/fx_rates.csv",
    }
    assert files["exports/fx/fx_rates.csv"].options == {
        "delimiter": ";",
        "header": True,
        "encoding": "utf-8",
    }
    assert files["exports/crm/contacts.ndjson"].options == {}


def test_a_raw_dir_outside_the_project_keeps_raw_dir_relative_input_paths(project, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(RAW / "fx", outside / "fx")
    (raw,) = discover_raw_files(project, outside)
    assert raw.path == (outside / "fx" / "fx_rates.csv").as_posix()
    assert raw.input_path == "fx/fx_rates.csv"


def test_new_fields_round_trip_and_old_callers_still_work(project):
    files = discover_raw_files(project)
    catalog = Catalog(project_name="p", project_dir=project, raw_files=files)
    again = Catalog.from_dict(json.loads(json.dumps(catalog.to_dict())))
    assert again.raw_files == files
    assert again.raw_files[-1].options == {"delimiter": ";", "header": True, "encoding": "utf-8"}
    old_style = RawFile("data/x.ndjson", "ndjson")
    assert (old_style.input_path, old_style.options, old_style.staged_by) == (None, {}, ())
    assert hash(old_style) == hash(RawFile("data/x.ndjson", "ndjson"))


def test_a_big_json_document_is_sampled_from_its_head(tmp_path, monkeypatch):
    records = [{"domain": f"d{i}.com", "metrics": {"employees": i}} for i in range(5000)]
    path = tmp_path / "raw" / "companies.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"data": records, "meta": {"count": 5000}}))
    exact = sniff_file(path, tmp_path, tmp_path / "raw")
    assert (exact.row_count, exact.record_path) == (5000, "data")
    monkeypatch.setattr(discovery, "JSON_PARSE_BYTES", 1000)
    monkeypatch.setattr(discovery, "JSON_HEAD_BYTES", 20_000)
    sampled = sniff_file(path, tmp_path, tmp_path / "raw")
    assert sampled.record_path == "data"
    assert [(c.name, c.data_type) for c in sampled.columns] == [
        ("domain", "varchar"),
        ("metrics.employees", "bigint"),
    ]
    assert 4500 <= sampled.row_count <= 5500, "extrapolated from the head"
    assert "estimated" in sampled.description


def test_json_head_reads_complete_records_of_a_cut_document():
    text = '{"meta": {"n": 2}, "results": [{"a": 1}, {"a": 2}, {"a": 3'
    path, records, span = json_head(text)
    assert (path, records) == ("results", [{"a": 1}, {"a": 2}])
    assert span == len('[{"a": 1}, {"a": 2}, ')
    assert json_head('[{"a": 1}, {"a"')[:2] == (None, [{"a": 1}])
    assert json_head('{"x": 1, "items": []}')[:2] == (None, [])
    with pytest.raises(ValueError, match="neither a JSON object nor an array"):
        json_head('"just text"')


def test_big_text_files_get_estimated_line_counts(tmp_path, monkeypatch):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n" + "".join(f"{i:05d},x\n" for i in range(10_000)))
    assert discovery._count_lines(path) == (10_001, False)
    monkeypatch.setattr(discovery, "COUNT_EXACT_BYTES", 1000)
    monkeypatch.setattr(discovery, "COUNT_SAMPLE_BYTES", 5000)
    count, estimated = discovery._count_lines(path)
    assert estimated and 9_000 <= count <= 11_000


def test_a_parquet_series_is_sampled_once_and_counted_from_footers(project, monkeypatch):
    sniffed = []
    original = discovery.sniff_file
    monkeypatch.setattr(discovery, "sniff_file", lambda path, *a, **k: sniffed.append(path) or original(path, *a, **k))
    files = by_path(discover_raw_files(project))
    events = files["exports/events/events-*.parquet"]
    assert events.row_count == 32
    assert [p.name for p in sniffed if p.suffix == ".parquet"] == ["events-2024-01.parquet"]


@pytest.mark.dbt
def test_the_catalog_lists_raw_files_and_the_models_that_stage_them(sample_project):
    from generator.project import load_project
    from generator.project.catalog_builder import build_catalog

    catalog = build_catalog(load_project(sample_project))
    files = by_path(catalog.raw_files)
    assert sorted(files) == [
        "data/raw/crm/contacts.ndjson",
        "data/raw/events/events-*.parquet",
        "data/raw/firmographics/companies.json",
        "data/raw/fx/fx_rates.csv",
    ]
    assert files["data/raw/crm/contacts.ndjson"].staged_by == ("stg_crm__contacts",)
    assert files["data/raw/events/events-*.parquet"].staged_by == ("stg_events__events",)
    assert files["data/raw/fx/fx_rates.csv"].staged_by == ("stg_fx__rates",)
    # A warn-severity test (the quarantine's "is empty" check) guarantees nothing.
    quarantine = catalog.ref("stg_crm__contacts__quarantine")
    assert quarantine.column("error").accepted_values is None


@pytest.mark.dbt
def test_context_for_a_raw_file_request_shows_the_file_and_its_staging_model(sample_project):
    from generator.cli import cli

    result = CliRunner().invoke(
        cli,
        ["context", "normalise the CRM contacts export", "--project-dir", str(sample_project)],
    )
    assert result.exit_code == 0, result.output
    catalog = result.output.split("<catalog>\n")[1].split("\n</catalog>")[0]
    assert (
        "file 'data/raw/crm/contacts.ndjson' (ndjson, spec input.path 'crm/contacts.ndjson', "
        "staged by ref('stg_crm__contacts'))" in catalog
    )
    assert '"properties.email" varchar' in catalog, "the nested schema, flattened"
    assert "ref('stg_crm__contacts') —" in catalog

"""`gen-model enrich compile|discover`: exit codes and exact messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "tests" / "fixtures" / "raw"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The sample project's enrichment specs and compiled models, with the raw fixtures."""
    monkeypatch.delenv("GEN_MODEL_RAW_PATH", raising=False)
    (tmp_path / "dbt_project.yml").write_text("name: p\nvars:\n  gen_model_raw_path: data/raw\n")
    for source in ("crm", "fx"):
        shutil.copytree(REPO / "models" / "staging" / source, tmp_path / "models" / "staging" / source)
    for source in ("crm", "fx", "firmographics"):
        shutil.copytree(RAW / source, tmp_path / "data" / "raw" / source)
    # The enrichment runtime, where `gen-model init` vendors it (`compile` requires it).
    shutil.copytree(REPO / "python", tmp_path / "vendor" / "gen_model" / "python")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, ["enrich", *args])


def test_compile_check_passes_on_up_to_date_files(project):
    result = run("compile", "--check")
    assert result.exit_code == 0, result.output
    assert result.output == "2 specs: every compiled file is up to date\n"


def test_compile_check_lists_stale_files_and_fails(project):
    spec = project / "models" / "staging" / "fx" / "stg_fx__rates.enrich.yml"
    spec.write_text(spec.read_text().replace("units_per_usd > 0", "units_per_usd > 0.5"))
    (project / "models" / "staging" / "crm" / "stg_crm__contacts__quarantine.sql").unlink()
    result = run("compile", "--check")
    assert result.exit_code == 1
    assert result.output == (
        "stale: models/staging/crm/stg_crm__contacts__quarantine.sql "
        "(compiled from models/staging/crm/stg_crm__contacts.enrich.yml)\n"
        "stale: models/staging/fx/stg_fx__rates__checked.py "
        "(compiled from models/staging/fx/stg_fx__rates.enrich.yml)\n"
        "stale: models/staging/fx/stg_fx__rates.sql (compiled from models/staging/fx/stg_fx__rates.enrich.yml)\n"
        "stale: models/staging/fx/stg_fx__rates__quarantine.sql "
        "(compiled from models/staging/fx/stg_fx__rates.enrich.yml)\n"
        "stale: models/staging/fx/stg_fx__rates.yml (compiled from models/staging/fx/stg_fx__rates.enrich.yml)\n"
        "stale: models/staging/fx/stg_fx__rates__quarantine.yml "
        "(compiled from models/staging/fx/stg_fx__rates.enrich.yml)\n"
        "6 compiled file(s) out of date with their spec; run `gen-model enrich compile`\n"
    )
    assert not (project / "models" / "staging" / "crm" / "stg_crm__contacts__quarantine.sql").exists()

    fixed = run("compile")
    assert fixed.exit_code == 0
    assert fixed.output.splitlines()[-1] == "2 specs compiled, 6 file(s) written"
    assert run("compile", "--check").exit_code == 0


def test_compile_takes_paths_and_reports_an_invalid_spec_without_stopping(project):
    spec = project / "models" / "staging" / "fx" / "stg_fx__rates.enrich.yml"
    spec.write_text(spec.read_text().replace("dedupe:\n  keep: first", "dedupe:\n  keep: newest"))
    result = run("compile", "models/staging")
    assert result.exit_code == 1
    assert "models/staging/fx/stg_fx__rates.enrich.yml is invalid (1 problem)" in result.output
    assert "dedupe.keep: 'newest' is not one of latest, earliest, first, last" in result.output
    assert result.output.splitlines()[-2:] == [
        "2 specs compiled, 0 file(s) written",
        "1 spec(s) with problems; nothing was written for them",
    ]
    only_crm = run("compile", "models/staging/crm/stg_crm__contacts.enrich.yml")
    assert only_crm.exit_code == 0
    assert only_crm.output == "1 spec compiled, 0 file(s) written\n"


def test_compile_with_nothing_to_compile(project, tmp_path):
    shutil.rmtree(project / "models")
    (project / "models").mkdir()
    result = run("compile")
    assert result.exit_code == 0
    assert result.output == "no enrichment specs (*.enrich.yml) under models\n"
    missing = run("compile", "nowhere")
    assert missing.exit_code == 2 and "'nowhere' does not exist" in missing.output


def test_discover_lists_files_formats_rows_and_readers(project):
    result = run("discover")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "crm/contacts.ndjson  ndjson  38 rows  read by stg_crm__contacts"
    assert "  properties.email varchar" in lines
    assert "firmographics/companies.json  json  11 rows  no spec" in lines
    assert "fx/fx_rates.csv  csv  43 rows  read by stg_fx__rates" in lines
    assert "  Currency Code  varchar" in lines


def test_discover_draft_writes_only_missing_specs_and_never_overwrites(project):
    result = run("discover", "--draft")
    assert result.exit_code == 0, result.output
    drafted = project / "models" / "staging" / "firmographics" / "stg_firmographics__companies.enrich.yml"
    assert (
        "  drafted models/staging/firmographics/stg_firmographics__companies.enrich.yml: "
        "check its TODOs, then run `gen-model enrich compile`"
    ) in result.output.splitlines()
    assert result.output.splitlines()[-1] == "1 spec(s) drafted"
    assert drafted.read_text().startswith("# Drafted by gen-model from data/raw/firmographics/companies.json")
    # The draft validates and compiles as it is.
    assert run("compile").exit_code == 0
    drafted.write_text(drafted.read_text() + "# my notes\n")
    compiled = (project / "models" / "staging" / "firmographics" / "stg_firmographics__companies.py").read_text()
    again = run("discover", "--draft")
    assert again.output.splitlines()[-1] == "0 spec(s) drafted"
    assert drafted.read_text().endswith("# my notes\n"), "a spec that exists is never overwritten"
    assert "firmographics/companies.json  json  11 rows  read by stg_firmographics__companies" in again.output
    assert compiled == (drafted.parent / "stg_firmographics__companies.py").read_text()


def test_discover_draft_leaves_an_existing_file_of_that_name_alone(project):
    target = project / "models" / "staging" / "firmographics" / "stg_firmographics__companies.enrich.yml"
    target.parent.mkdir(parents=True)
    target.write_text("not a spec")  # invalid, so it reads nothing: still never overwritten
    result = run("discover", "--draft")
    assert result.exit_code == 0
    assert (
        "  models/staging/firmographics/stg_firmographics__companies.enrich.yml exists: left as it is"
        in result.output.splitlines()
    )
    assert target.read_text() == "not a spec"


def test_discover_with_no_raw_dir(project):
    shutil.rmtree(project / "data")
    result = run("discover")
    assert result.exit_code == 0
    assert result.output == "no raw files under data/raw\n"
    other = run("discover", "--raw-dir", str(RAW / "fx"))
    assert other.exit_code == 0
    assert other.output.startswith("fx_rates.csv  csv  43 rows  no spec\n")

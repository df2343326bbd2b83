"""Issue #13 item 7: the YAML of each generated sample mart is reviewable.

Measured on the committed files (`make demo` checks they are byte-identical to what
`gen-model apply` writes): at most 2.5 times the lines of the model's SQL plus its
unit-test rows, each test's reason on its test's own line, the description said once.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MAX_RATIO = 2.5


def generated_marts() -> list[tuple[str, Path, Path]]:
    """(name, yml, latest sql) of every generated mart the lockfile records."""
    lock = yaml.safe_load((ROOT / "gen_model.lock").read_text(encoding="utf-8"))
    marts = []
    for name, versions in sorted(lock["models"].items()):
        latest = versions[-1]
        if latest.get("layer") != "marts":
            continue
        files = [ROOT / path for path in latest["files"]]
        sql = next(path for path in files if path.suffix == ".sql")
        yml = next(path for path in files if path.suffix == ".yml")
        marts.append((name, yml, sql))
    return marts


MARTS = generated_marts()


def unit_test_rows(document: dict) -> int:
    rows = 0
    for unit in document.get("unit_tests") or []:
        rows += sum(len(given.get("rows") or []) for given in unit.get("given") or [])
        rows += len((unit.get("expect") or {}).get("rows") or [])
    return rows


def test_the_sample_has_generated_marts():
    assert {name for name, _, _ in MARTS} >= {"account_mrr", "account_payment_health", "monthly_revenue_by_tier"}


@pytest.mark.parametrize(("name", "yml", "sql"), MARTS, ids=[name for name, _, _ in MARTS])
def test_the_yaml_is_at_most_two_and_a_half_times_the_sql_plus_its_rows(name, yml, sql):
    text = yml.read_text(encoding="utf-8")
    rows = unit_test_rows(yaml.safe_load(text))
    row_lines = len(re.findall(r"^\s*- \{.*\}$", text, flags=re.MULTILINE))
    assert row_lines >= rows, f"{yml.name}: unit-test rows are not one line each"
    yml_lines = len(text.splitlines())
    sql_lines = len(sql.read_text(encoding="utf-8").splitlines())
    ratio = yml_lines / (sql_lines + rows)
    measured = f"{yml_lines} lines for {sql_lines} lines of SQL and {rows} rows ({ratio:.2f}x)"
    assert ratio <= MAX_RATIO, f"{yml.name}: {measured}"


@pytest.mark.parametrize(("name", "yml", "sql"), MARTS, ids=[name for name, _, _ in MARTS])
def test_each_reason_is_on_its_tests_lines_and_the_description_said_once(name, yml, sql):
    text = yml.read_text(encoding="utf-8")
    assert not re.search(r"^\s*reason:", text, flags=re.MULTILINE), "a reason takes lines of its own"
    document = yaml.safe_load(text)
    block = next(model for model in document["models"] if model["name"] == name)
    latest = next(item for item in block["versions"] if item["v"] == block["latest_version"])
    assert "description" not in latest, "the latest version repeats the model's description"
    for item in [latest, *latest["columns"]]:
        for test in item.get("data_tests") or []:
            body = next(iter(test.values())) if isinstance(test, dict) else {}
            assert body.get("config", {}).get("meta", {}).get("reason"), f"{test} says nothing of what it guards"

"""The rows the unit-test search chooses on a domain it was not tuned on (NYC taxi, rideshare
and 311 data, benchmarks/realistic_bugs_nyc.py) cover what the first contact missed.

One preparation (a dbt build, `gen-model init`, the three marts applied) is shared by the
tests below; each checks the given rows of one mart's unit test:
* taxi_daily_payments has a unit test at all (no twin with an invented payment type), and
  its Newark trip is one the filter keeps (a fare > 0): the class's own row must matter.
* rideshare_hourly has trips with is_shared_match and is_wav_match true: a boolean the SQL
  tests bare (`filter (where trips.is_shared_match)`, `a or b`) is covered true and false.
* service_requests_monthly has a request created after 19:00 on a month's last day (the
  "last hours of a month" class takes the rows nearest midnight: New York is 5 hours behind
  UTC), one closed just past 7 days after its creation (the SQL's threshold), and one
  without a borough (a null in a column the SQL aggregates: `count(requests.borough)`).
* rideshare_hourly, whose input has no unique key (no twin), has two trips of one license
  in one hour with one summed value: what tells sum from sum(distinct).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from benchmarks.realistic_bugs_nyc import PROPOSALS, WAREHOUSE, prepare
from tests.conftest import SHARED_DIR, missing_shared

pytestmark = pytest.mark.dbt


@pytest.fixture(scope="module")
def nyc_project(tmp_path_factory) -> Path:
    if not (SHARED_DIR / WAREHOUSE).is_file():
        missing_shared("the nyc warehouse")
    return prepare(tmp_path_factory.mktemp("nyc"), SHARED_DIR, PROPOSALS)


def given_rows(project: Path, mart: str, text: str) -> list[dict]:
    """The rows the unit test of `mart` gives input `text` (ref('x') or source('a', 'b'))."""
    document = yaml.safe_load((project / "models" / "marts" / f"{mart}.yml").read_text(encoding="utf-8"))
    (entry,) = document.get("unit_tests") or [None]
    assert entry is not None, f"{mart} has no unit test"
    return next(item["rows"] for item in entry["given"] if item["input"] == text)


def test_a_taxi_unit_test_is_written_and_its_newark_trip_counts(nyc_project):
    trips = given_rows(nyc_project, "taxi_daily_payments", "ref('stg_taxi_trips')")
    assert any(row["rate_code"] == "newark" and float(row["fare_amount"]) > 0 for row in trips), trips


def test_bare_boolean_filters_get_true_and_false_rows(nyc_project):
    trips = given_rows(nyc_project, "rideshare_hourly", "ref('stg_rideshare_trips')")
    for column in ("is_shared_match", "is_wav_match"):
        assert {row[column] for row in trips} >= {True, False}, (column, trips)


def at(value) -> datetime | None:
    """A timestamp of a given row, or None."""
    return None if value is None else datetime.fromisoformat(str(value))


def test_a_request_late_on_a_months_last_day(nyc_project):
    requests = given_rows(nyc_project, "service_requests_monthly", "ref('stg_service_requests')")
    created = [at(row["created_at"]) for row in requests]
    assert any(t.hour >= 19 and (t + timedelta(days=1)).day == 1 for t in created), created


def test_a_request_closed_just_past_a_week_and_one_without_a_borough(nyc_project):
    requests = given_rows(nyc_project, "service_requests_monthly", "ref('stg_service_requests')")
    waits = [at(row["closed_at"]) - at(row["created_at"]) for row in requests if row.get("closed_at")]
    assert any(timedelta(days=7) < wait < timedelta(days=8) for wait in waits), waits
    assert any(row.get("borough") is None for row in requests), requests


def test_a_keyless_input_gets_two_rows_of_one_group_with_one_summed_value(nyc_project):
    trips = given_rows(nyc_project, "rideshare_hourly", "ref('stg_rideshare_trips')")

    def hour(row) -> str:
        return str(row["requested_at"])[:13]

    pairs = [
        column
        for column in ("trip_seconds", "driver_pay", "base_passenger_fare", "tips")
        for i, a in enumerate(trips)
        for b in trips[i + 1 :]
        if (a["license_number"], hour(a)) == (b["license_number"], hour(b))
        and a.get(column) not in (None, 0)
        and a.get(column) == b.get(column)
    ]
    assert pairs, trips

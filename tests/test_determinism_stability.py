"""The determinism gate's function rule is DuckDB's own duckdb_functions().stability.

These tests read the classification from DuckDB, so a DuckDB upgrade that adds a volatile
function, or reclassifies one, is covered (or fails here) without a hand list to update.
"""

from __future__ import annotations

import duckdb
import pytest

from generator.gates.determinism import (
    STABILITY_EXCEPTIONS,
    depends_on_time_zone,
    duckdb_function_stability,
    run_dependence,
)


def stabilities() -> dict[str, set[str]]:
    connection = duckdb.connect()
    try:
        rows = connection.execute(
            "select function_name, stability from duckdb_functions() where stability is not null"
        ).fetchall()
    finally:
        connection.close()
    result: dict[str, set[str]] = {}
    for name, stability in rows:
        result.setdefault(name, set()).add(stability)
    return result


def test_every_volatile_function_is_refused_unless_documented():
    volatile = sorted(name for name, kinds in stabilities().items() if "VOLATILE" in kinds)
    assert {"random", "uuid", "current_connection_id", "current_query", "nextval"} <= set(volatile)
    refused = {name: run_dependence(name) for name in volatile}
    allowed = sorted(name for name, kind in refused.items() if kind is None)
    assert allowed == ["error"]  # fails on the same rows every run (see STABILITY_EXCEPTIONS)


def test_functions_that_read_the_run_whatever_their_arguments_are_refused():
    within_query = sorted(name for name, kinds in stabilities().items() if kinds == {"CONSISTENT_WITHIN_QUERY"})
    assert {"now", "txid_current", "current_database", "getvariable", "transaction_timestamp"} <= set(within_query)
    assert [name for name in within_query if run_dependence(name) is None] == []
    assert run_dependence("now") == "clock"
    assert run_dependence("txid_current") == "session"


def test_functions_consistent_but_for_timestamptz_are_time_zone_dependent_not_refused():
    mixed = sorted(name for name, kinds in stabilities().items() if kinds == {"CONSISTENT", "CONSISTENT_WITHIN_QUERY"})
    assert {"date_trunc", "date_part", "strftime", "last_day"} <= set(mixed)
    for name in mixed:
        assert run_dependence(name) is None, name
        assert depends_on_time_zone(name), name
    assert not depends_on_time_zone("md5")


@pytest.mark.parametrize(
    "macro, kind",
    [("ago", "clock"), ("pg_conf_load_time", "clock"), ("current_catalog", "session"), ("geomean", None)],
)
def test_macros_inherit_what_their_definition_calls(macro, kind):
    assert duckdb_function_stability()[macro].stabilities == frozenset()  # DuckDB does not classify macros
    assert run_dependence(macro) == kind


def test_documented_exceptions_name_functions_duckdb_has():
    table = duckdb_function_stability()
    assert sorted(name for name in STABILITY_EXCEPTIONS if name not in table) == []
    assert run_dependence("version") == "engine"
    assert run_dependence("reservoir_quantile") == "random"


def test_the_classification_is_read_once():
    assert duckdb_function_stability() is duckdb_function_stability()

"""The data diff is spelled per engine and says when it cannot run on one; no engine needed here.

The Spark spelling is run for real on a local Spark in tests/test_spark_ci.py; these tests
pin what can be checked without a JVM: the queries parse as Spark SQL and carry Spark's
spellings, and an engine without a spelling is named in diff's error and review's section.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from generator.ci import diff as diff_module
from generator.ci.diff import DUCKDB, SPARK, diff_relations, diff_unavailable
from generator.errors import ConfigError
from generator.project.catalog import Catalog, Relation

FROM_COLUMNS = [("id", "int"), ("day", "date"), ("name", "string"), ("code", "string"), ("at", "timestamp")]
TO_COLUMNS = [("id", "int"), ("day", "date"), ("name", "string"), ("code", "int"), ("at", "timestamp")]


class Recorder:
    """A connection that records each query and answers: 2 rows, 2 distinct keys in each
    version, then one row in both versions, nothing changed."""

    def __init__(self):
        self.queries: list[str] = []

    def execute(self, sql: str):
        self.queries.append(sql)
        return self

    def fetchone(self):
        if len(self.queries) == 1:
            return (2, 2, 2, 2)
        return (1, 1, 1, 0, 0, 0, None, None, None)


def spark_queries() -> list[str]:
    recorder = Recorder()
    result = diff_relations(
        recorder, "`s`.`m_v1`", "`s`.`m_v2`", ["id", "day"], FROM_COLUMNS, TO_COLUMNS, spelling=SPARK
    )
    assert (result.only_from, result.only_to, result.matched) == (1, 1, 1)
    return recorder.queries


def test_the_spark_queries_parse_as_spark_sql_in_sparks_spelling():
    queries = spark_queries()
    assert len(queries) == 2
    for sql in queries:
        sqlglot.parse_one(sql, read="spark")  # raises on anything Spark's grammar does not have
    counts, join = queries
    assert "approx_count_distinct(xxhash64(`id`, `day`)) from `s`.`m_v1`" in counts
    assert "a.`id` is not distinct from b.`id` and a.`day` is not distinct from b.`day`" in join
    # text and numbers of different kinds are compared as Spark's text type
    assert "(cast(a.`code` as string) is distinct from cast(b.`code` as string))" in join
    # the first rows by key: Spark 4.2's min_by(x, key, n), keys ordered as typed values
    assert "min_by(named_struct('k0', a.`id`, 'k1', a.`day`), named_struct('k0', a.`id`, 'k1', a.`day`), 5)" in join
    # a timestamp is shown as Spark's text in the session's time zone, not Python's local one
    assert "'c2_from', cast(a.`at` as string), 'c2_to', cast(b.`at` as string)" in join
    assert '"' not in join and "{" not in join


def test_duckdb_keeps_its_own_spelling():
    assert (DUCKDB.quote("a"), DUCKDB.text_type, DUCKDB.key_hash) == ('"a"', "varchar", "hash")
    assert DUCKDB.struct([("k0", "x")]) == "{'k0': x}"
    assert DUCKDB.shown("a.x", "timestamp") == "a.x"


def catalog(adapter_type: str) -> Catalog:
    return Catalog(project_name="p", project_dir=Path("."), adapter_type=adapter_type, target_name="prod")


def test_every_engine_gen_model_supports_has_a_diff():
    assert diff_unavailable(catalog("duckdb")) is None
    assert diff_unavailable(catalog("spark")) is None
    assert diff_unavailable(catalog("databricks")) is None  # Spark's dialect, Spark's diff


def test_an_engine_without_a_spelling_is_named_with_those_that_have_one(monkeypatch):
    monkeypatch.setattr(diff_module, "ENGINES", {"duckdb": diff_module.ENGINES["duckdb"]})
    reason = diff_unavailable(catalog("spark"))
    assert reason == "the data diff does not run on Spark yet (target 'prod'); it runs on DuckDB targets"


def versions() -> tuple[Relation, Relation]:
    """v1 and v2 of a model `m`, both built."""
    return tuple(
        Relation(f"model.p.m.v{v}", "model", "m", "", "s", f"m_v{v}", version=v, latest_version=2) for v in (1, 2)
    )


def test_review_says_why_the_data_diff_is_missing(monkeypatch):
    from generator.ci.review import data_diff_section

    monkeypatch.setattr(diff_module, "ENGINES", {"duckdb": diff_module.ENGINES["duckdb"]})
    lines = data_diff_section(catalog("spark"), *versions())
    assert lines == [
        "### Data diff: v1 → v2",
        "",
        "Not computed: the data diff does not run on Spark yet (target 'prod'); it runs on DuckDB targets.",
        "",
    ]


def test_diff_refuses_with_the_reason(monkeypatch):
    from generator.ci.diff import diff_versions

    monkeypatch.setattr(diff_module, "ENGINES", {"duckdb": diff_module.ENGINES["duckdb"]})
    spark_catalog = Catalog(project_name="p", project_dir=Path("."), relations=versions(), adapter_type="spark")
    with pytest.raises(ConfigError, match="the data diff does not run on Spark yet"):
        diff_versions(spark_catalog, "m")

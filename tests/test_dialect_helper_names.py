"""How gen-model's helper SQL (DuckDB's spelling) names a relation on each engine.

The SQL analysis (generator.sql.facts) profiles upstream columns with helper SQL that the
dry run runs: as is on DuckDB, transpiled on Spark. A Spark relation has no catalog part;
DuckDB's full name would name a catalog "None" that Spark rejects (a profile that failed
quietly, so a note went missing on Spark; tests/test_spark_twin.py checks the note).
"""

from __future__ import annotations

import sqlglot

from generator.dialects import get_dialect
from generator.project.catalog import Relation


def relation(database: str | None) -> Relation:
    return Relation("model.shop.stg_payments", "model", "stg_payments", database, "shop", "stg_payments")


def test_duckdb_helper_sql_names_the_relation_as_dbt_duckdb_renders_it():
    assert get_dialect("duckdb").helper_relation_name(relation("shop_db")) == '"shop_db"."shop"."stg_payments"'


def test_spark_helper_sql_leaves_out_the_catalog_part_a_spark_relation_lacks():
    name = get_dialect("spark").helper_relation_name(relation(None))
    assert name == '"shop"."stg_payments"'
    # What the Spark dry run runs: the helper SQL transpiled from DuckDB's spelling.
    spark_sql = sqlglot.transpile(f'select min("amount") from {name}', read="duckdb", write="spark")[0]
    assert spark_sql == "SELECT MIN(`amount`) FROM `shop`.`stg_payments`"
    assert get_dialect("databricks").helper_relation_name(relation("main")) == '"main"."shop"."stg_payments"'

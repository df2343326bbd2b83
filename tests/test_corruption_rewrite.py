"""The hollow-test gate's corruptions, in place (DuckDB) and as rewrites (Spark), change the
same rows: both run here on DuckDB, which can do either, and must leave the same copy.

A Spark temp view cannot be updated, so there every corruption rewrites the copy whole
(generator.testgen.kinds.base); tests/test_spark_tests.py runs them on Spark itself.
"""

from __future__ import annotations

import duckdb
import pytest

from generator.testgen.kinds.base import (
    CORRUPTED_TABLE,
    Copy,
    delete_row,
    duplicate_row,
    keep_rows,
    set_every,
    set_value,
)
from generator.testgen.twin import Refused, duckdb_type

ROWS = """
select * from (values
    (1, 'a', 10.50, date '2024-01-31'),
    (1, 'a', 10.50, date '2024-01-31'),
    (2, null, 3.00, null),
    (3, 'b', null, date '2024-03-01'),
    (4, 'b', 7.25, date '2024-02-29')
) as t(id, kind, amount, day)
"""


class InPlace:
    """A sandbox's execute() over a plain connection."""

    def __init__(self, connection):
        self.connection = connection

    def execute(self, sql, parameters=None, timeout_s=None):
        cursor = self.connection.execute(sql, parameters)
        return cursor.fetchall() if cursor.description else []


class Rewriting(InPlace):
    """The same, saying (as the Spark dry run does) that temp tables cannot be updated."""

    updates_in_place = False


CORRUPTIONS = {
    "set a value where a condition holds": lambda copy: set_value(copy, "amount", "amount + 1", "amount > 5"),
    "set a value to null in the first row": lambda copy: set_value(copy, "kind", "null", '"kind" is not null'),
    "set a value in a duplicated row": lambda copy: set_value(copy, "id", "-1", "id = 1"),
    "set a value in every row": lambda copy: set_every(copy, "day", "null"),
    "set every row from a subquery on the copy": lambda copy: set_every(
        copy, "amount", f"(select max(amount) from {CORRUPTED_TABLE})"
    ),
    "duplicate the first row": lambda copy: duplicate_row(copy),
    "duplicate a row three times": lambda copy: duplicate_row(copy, "kind is null", times=3),
    "delete the first row": lambda copy: delete_row(copy),
    "keep two rows": lambda copy: keep_rows(copy, 2),
}


def corrupted(sandbox, make) -> list[tuple]:
    sandbox.execute(f"create or replace temp table source_rows as {ROWS}")
    copy = Copy(sandbox, "source_rows", None)
    copy.fresh()
    for statement in make(copy):
        sandbox.execute(statement)
    return sorted(sandbox.execute(f"select * from {CORRUPTED_TABLE}"), key=repr)


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_rewrite_changes_what_the_update_changes(corruption):
    with duckdb.connect() as connection:
        in_place = corrupted(InPlace(connection), CORRUPTIONS[corruption])
        rewritten = corrupted(Rewriting(connection), CORRUPTIONS[corruption])
        original = sorted(connection.execute("select * from source_rows").fetchall(), key=repr)
    assert rewritten == in_place
    assert rewritten != original


def test_a_value_the_columns_type_cannot_hold_is_refused_either_way():
    """An update casts to the column's type; a rewrite casts a number too, so a defect that
    is impossible in place is impossible rewritten (the gate then tries the next one)."""
    too_big = lambda copy: set_value(copy, "amount", "amount + 1000", "amount > 0")  # noqa: E731 - one use
    for sandbox in (InPlace, Rewriting):
        with duckdb.connect() as connection, pytest.raises(duckdb.ConversionException):
            corrupted(sandbox(connection), too_big)


def test_the_twin_carries_only_types_duckdb_holds_exactly():
    assert [duckdb_type(kind) for kind in ("string", "int", "bigint", "decimal(28,2)", "date", "timestamp_ntz")] == [
        "varchar",
        "integer",
        "bigint",
        "decimal(28,2)",
        "date",
        "timestamp",
    ]
    for kind in ("timestamp", "array<int>", "map<string,int>", ""):
        with pytest.raises(Refused):
            duckdb_type(kind)

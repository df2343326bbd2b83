"""The data diff between two versions, on small hand-built tables whose answer is known."""

from __future__ import annotations

import duckdb
import pytest

from generator.ci.diff import diff_key, diff_relations, pick_versions
from generator.errors import ConfigError
from generator.project.catalog import Catalog


def columns(connection, table: str) -> list[tuple[str, str]]:
    return connection.execute(
        "select column_name, lower(data_type) from duckdb_columns() where table_name = ? order by column_index",
        [table],
    ).fetchall()


@pytest.fixture
def connection():
    connection = duckdb.connect()
    connection.execute(
        """
        create table v1 (id integer, day date, name varchar, amount decimal(18,2), n integer, code varchar,
                         old_col varchar);
        insert into v1 values
            (1, '2024-01-01', 'a', 10.00, 1, '1', 'x'),
            (2, '2024-01-01', 'b', 20.00, 2, '2', 'x'),
            (3, '2024-01-01', 'c', null, 3, '3', 'x'),
            (4, '2024-01-01', 'd', 40.00, 4, '4', 'x'),
            (1, '2024-02-01', 'a', 11.00, 5, '5', 'x');
        create table v2 (id integer, day date, name varchar, amount decimal(18,2), n bigint, code integer,
                         new_col double);
        insert into v2 values
            (1, '2024-01-01', 'a', 10.00, 1, 1, 0.5),
            (2, '2024-01-01', 'B', 20.00, 2, 2, 0.5),
            (3, '2024-01-01', 'c', 30.00, 3, 3, 0.5),
            (5, '2024-01-01', 'e', 50.00, 5, 5, 0.5),
            (1, '2024-02-01', 'z', 12.00, 5, 9, 0.5);
        """
    )
    yield connection
    connection.close()


def run(connection, key=("id", "day"), a="v1", b="v2"):
    return diff_relations(
        connection,
        a,
        b,
        list(key),
        columns(connection, a),
        columns(connection, b),
        model="m",
        from_version=1,
        to_version=2,
    )


def test_counts_keys_columns_and_examples(connection):
    result = run(connection)
    assert (result.rows_from, result.rows_to) == (5, 5)
    assert (result.only_from, result.only_to, result.matched) == (1, 1, 4)
    assert result.removed_columns == ["old_col"] and result.added_columns == ["new_col"]
    # name: b->B and a->z; amount: null->30 and 11->12; n: integer vs bigint, equal values;
    # code: '5' vs 9 (compared as text because varchar and integer differ in kind).
    assert result.changed_rows_by_column == {"name": 2, "amount": 2, "code": 1}
    assert [(c.name, c.from_type, c.to_type) for c in result.columns] == [
        ("name", "varchar", "varchar"),
        ("amount", "decimal(18,2)", "decimal(18,2)"),
        ("n", "integer", "bigint"),
        ("code", "varchar", "integer"),
    ]
    assert result.examples_only_from == [{"id": 4, "day": "2024-01-01"}]
    assert result.examples_only_to == [{"id": 5, "day": "2024-01-01"}]
    assert result.examples_changed == [
        {"id": 1, "day": "2024-02-01", "name": ["a", "z"], "amount": ["11.00", "12.00"], "code": ["5", 9]},
        {"id": 2, "day": "2024-01-01", "name": ["b", "B"]},
        {"id": 3, "day": "2024-01-01", "amount": [None, "30.00"]},
    ]
    assert result.note is None


def test_examples_are_the_first_by_key_and_limited(connection):
    connection.execute("create table big_a as select i as id, i % 7 as v from range(1000) t(i)")
    connection.execute(
        "create table big_b as select i as id, case when i % 10 = 3 then -1 else i % 7 end as v "
        "from range(5, 1005) t(i)"
    )
    result = run(connection, key=("id",), a="big_a", b="big_b")
    assert (result.only_from, result.only_to, result.matched) == (5, 5, 995)
    assert [row["id"] for row in result.examples_only_from] == [0, 1, 2, 3, 4]
    assert [row["id"] for row in result.examples_only_to] == [1000, 1001, 1002, 1003, 1004]
    assert [row["id"] for row in result.examples_changed] == [13, 23, 33, 43, 53]
    assert result.changed_rows_by_column == {"v": 99}  # 13, 23, ..., 993


def test_text_output_names_everything(connection):
    text = run(connection).format_text()
    assert text.splitlines()[0] == "m: v1 -> v2, joined on (id, day)"
    assert "  keys:            4 in both, 1 only in v1, 1 only in v2" in text
    assert "    name    2" in text
    assert "    id=3, day=2024-01-01, amount: null -> 30.00" in text


def test_a_key_repeated_in_both_versions_compares_row_counts_only(connection):
    connection.execute("insert into v1 values (2, '2024-01-01', 'b2', 1, 1, '1', 'x')")
    connection.execute("insert into v2 values (2, '2024-01-01', 'b3', 1, 1, 1, 0.5)")
    result = run(connection)
    assert (result.rows_from, result.rows_to) == (6, 6)
    assert result.matched is None and result.examples_changed == []
    assert result.duplicate_keys == {"from": 1, "to": 1}
    assert (
        result.note == "the grain (id, day) is not unique (1 repeated row(s) in v1, 1 repeated row(s) in v2): "
        "only row counts are compared"
    )


def test_a_key_repeated_on_a_large_scale_never_reaches_the_join(connection):
    # 2 x 20,000 rows on one key would join into 400 million pairs.
    connection.execute("create table dup_a as select 1 as id, i as v from range(20000) t(i)")
    connection.execute("create table dup_b as select 1 as id, i as v from range(20000) t(i)")
    result = run(connection, key=("id",), a="dup_a", b="dup_b")
    assert result.duplicate_keys == {"from": 19999, "to": 19999}
    assert result.matched is None
    assert result.elapsed_s < 5


def test_no_shared_grain_column_compares_row_counts(connection):
    result = run(connection, key=("old_col",))
    assert result.key == [] and result.matched is None
    assert result.note == "the versions share no grain column: only row counts are compared"


CATALOG = Catalog.from_dict(
    {
        "project_name": "p",
        "relations": [
            {
                "name": "m", "version": 1, "latest_version": 3, "identifier": "m_v1", "generated": True,
                "meta": {"gen_model": {"grain": ["id"]}}, "columns": ["id", "a"],
            },
            {
                "name": "m", "version": 2, "latest_version": 3, "identifier": "m_v2", "generated": True,
                "meta": {"gen_model": {"grain": ["id", "day"]}}, "columns": ["id", "day", "a"],
            },
            {
                "name": "m", "version": 3, "latest_version": 3, "identifier": "m_v3", "generated": True,
                "exists": False, "meta": {"gen_model": {"grain": ["id"]}}, "columns": ["id"],
            },
        ],
    }
)  # fmt: skip


def test_versions_default_to_latest_and_the_one_before():
    with pytest.raises(ConfigError, match=r"m v3 is not built in the warehouse; run `dbt build --select m.v3` first"):
        pick_versions(CATALOG, "m", None, None)
    old, new = pick_versions(CATALOG, "m", None, 2)
    assert (old.version, new.version) == (1, 2)


@pytest.mark.parametrize(
    ("model", "from_version", "to_version", "message"),
    [
        ("mm", None, None, r"no versioned model named 'mm'. Did you mean 'm'\?"),
        ("m", None, 1, r"m v1 has no earlier version to compare with; pass --from N"),
        ("m", 7, 2, r"m has no v7; it has v1, v2, v3"),
    ],
)
def test_version_errors_say_what_to_do(model, from_version, to_version, message):
    with pytest.raises(ConfigError, match=message):
        pick_versions(CATALOG, model, from_version, to_version)


def test_join_key_is_the_new_grain_when_the_old_version_has_its_columns():
    v1, v2 = CATALOG.ref("m", 1), CATALOG.ref("m", 2)
    # v2's grain (id, day): v1 has no `day`, so v1's grain (id) is used, which v2 has.
    assert diff_key(v1, v2) == ["id"]
    assert diff_key(v2, v2) == ["id", "day"]

"""What every test kind (generator.testgen.kinds) builds on: rendering and corrupting.

A kind module renders its failing-rows SQL with `jinja_text` (how the macro prints an
argument) and breaks the hollow gate's copy of the result with `set_value`, `set_every`,
`duplicate_row`, `delete_row` and `keep_rows` on a `Copy`, always the same row, so that a
verdict is reproducible.

Where the engine updates a temp table in place (DuckDB) a corruption is an UPDATE, INSERT
or DELETE of the copy. Spark has none of these on a temp view, so there each corruption
rewrites the copy whole: `create or replace temp table <copy> as select ... from <copy>`,
the rows computed from the copy as it is and then put in its place (the Spark dry run
materialises such a table, generator.dialects.spark_session). The row changed is the same
kind of row either way: the first that meets the condition in the order of all columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

# "ref('x')" / "source('a', 'b')" -> the relation dbt renders it to: "db"."schema"."x".
Resolver = Callable[[str], str]

# (what the corruption does, the statements that do it to the copy)
Corruptions = Iterator[tuple[str, list[str]]]

CORRUPTED_TABLE = "gen_model_corrupted"
UNEXPECTED_TEXT = "__gen_model_unexpected__"
ORPHAN_TEXT = "__gen_model_orphan__"
# A number type spelled alike in DuckDB and Spark: `bigint`, `decimal(28,2)`.
NUMBER_TYPE = re.compile(r"(tinyint|smallint|int|integer|bigint|float|double|decimal(\(\d+,\s*\d+\))?)")


def jinja_text(value: object) -> str:
    """How `{{ value }}` prints a YAML value: Python's str(), True/False/None capitalised."""
    return str(value)


def quote(name: str) -> str:
    """`name` as a quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def is_numeric(data_type: str) -> bool:
    """A number column (DuckDB's lowercase type name); lists of numbers are not."""
    return any(word in data_type for word in ("int", "decimal", "numeric", "double", "float", "real")) and (
        not data_type.endswith("]")
    )


def is_text(data_type: str) -> bool:
    """A text column (DuckDB's lowercase type name, or Spark's `string`)."""
    return data_type.startswith("varchar") or data_type in ("text", "string")


def is_temporal(data_type: str) -> bool:
    """A date, time or timestamp column (DuckDB's lowercase type name)."""
    return data_type.startswith(("date", "timestamp", "time"))


class Copy:
    """The corrupted copy: a fresh temp table with the result's rows for each attempt."""

    def __init__(self, sandbox, source: str, timeout_s: float | None):
        self.sandbox = sandbox
        self.source = source
        self.timeout_s = timeout_s
        rows = sandbox.execute(f"describe {source}")
        self.types = {row[0].lower(): row[1].lower() for row in rows}
        self.names = [row[0] for row in rows]
        self.order = ", ".join(quote(name) for name in self.names)
        # False where temp tables cannot be updated (Spark): corruptions rewrite the copy.
        self.in_place = getattr(sandbox, "updates_in_place", True)

    def fresh(self) -> None:
        """Replace the copy by the result's rows, undoing the last corruption."""
        self.sandbox.execute(
            f"create or replace temp table {CORRUPTED_TABLE} as select * from {self.source}",
            timeout_s=self.timeout_s,
        )

    def first_row(self, condition: str = "true") -> str:
        """A predicate picking one row, the same one on every run."""
        return (
            f"rowid = (select rowid from {CORRUPTED_TABLE} where {condition} order by {self.order} nulls last limit 1)"
        )

    def picked(self, condition: str) -> str:
        """The copy's rows with `gm_pick`, true in the first row that meets `condition`
        (in the order of all columns, nulls last) and false elsewhere: what a rewrite
        changes, duplicates or drops, for an engine without `rowid`.

        The first row is found by a top-1 sort, and of the rows equal to it in every column
        one is picked by a window partitioned by all columns: no sort of all rows in one
        partition (Spark would move them all to one task, and warn)."""
        met = f"coalesce(({condition}), false)"
        columns = ", ".join(quote(name) for name in self.names)
        order = ", ".join(f"{quote(name)} nulls last" for name in self.names)
        same = " and ".join(f"gm_rows.{quote(name)} is not distinct from gm_first.{quote(name)}" for name in self.names)
        return (
            f"(select gm_rows.*, coalesce(gm_rows.gm_met and gm_rows.gm_copy = 1 and {same}, false) as gm_pick "
            f"from (select *, {met} as gm_met, "
            f"row_number() over (partition by {columns} order by {columns}) as gm_copy "
            f"from {CORRUPTED_TABLE}) as gm_rows "
            f"left join (select {columns} from {CORRUPTED_TABLE} where {met} order by {order} limit 1) as gm_first "
            "on true) as gm_picked"
        )

    def rewrite(self, select: str) -> list[str]:
        """The statement replacing the copy by `select` (computed from the copy as it is)."""
        return [f"create or replace temp table {CORRUPTED_TABLE} as {select}"]

    def columns(self, values: dict[str, str] | None = None, when: str = "true") -> str:
        """The copy's columns in order, `values[name]` in place of a column's value where
        `when` holds."""
        values = {name.lower(): value for name, value in (values or {}).items()}
        selected = []
        for name in self.names:
            value = values.get(name.lower())
            if value is None:
                selected.append(quote(name))
                continue
            kind = self.type_of(name)
            if NUMBER_TYPE.fullmatch(kind):
                # As an UPDATE would: the number takes the column's type, or the defect is impossible.
                value = f"cast({value} as {kind})"
            # Within a CASE even a null keeps the column's type.
            selected.append(f"case when {when} then {value} else {quote(name)} end as {quote(name)}")
        return ", ".join(selected)

    def type_of(self, column: str | None) -> str:
        """The lowercase type of `column` in the result; '' if it has none."""
        return self.types.get((column or "").lower(), "")

    def count(self) -> int:
        """The result's row count: what every corruption starts from.

        Counted on the result, not the copy: a kind plans its corruptions before the
        first `fresh()`, when the copy does not exist yet.
        """
        return int(self.sandbox.execute(f"select count(*) from {self.source}")[0][0])


def duplicate_row(copy: Copy, condition: str = "true", times: int = 1) -> list[str]:
    """Statements inserting the first row that meets `condition` `times` more times."""
    if not copy.in_place:
        return copy.rewrite(
            f"select {copy.columns()} from {CORRUPTED_TABLE} union all "
            f"select {copy.columns()} from {copy.picked(condition)} "
            f"cross join (select unnest(generate_series(1, {int(times)})) as gm_copy) as gm_copies where gm_pick"
        )
    return [
        f"insert into {CORRUPTED_TABLE} select picked.* from ("
        f"select * from {CORRUPTED_TABLE} where {copy.first_row(condition)}) as picked, range({int(times)})"
    ]


def set_value(copy: Copy, column: str, value: str, condition: str = "true") -> list[str]:
    """Statements setting `column` to the SQL `value` in the first row that meets `condition`."""
    if not copy.in_place:
        return copy.rewrite(f"select {copy.columns({column: value}, 'gm_pick')} from {copy.picked(condition)}")
    return [f"update {CORRUPTED_TABLE} set {quote(column)} = {value} where {copy.first_row(condition)}"]


def set_every(copy: Copy, column: str, value: str) -> list[str]:
    """Statements setting `column` to the SQL `value` in every row."""
    if not copy.in_place:
        return copy.rewrite(f"select {copy.columns({column: value})} from {CORRUPTED_TABLE}")
    return [f"update {CORRUPTED_TABLE} set {quote(column)} = {value}"]


def delete_row(copy: Copy) -> list[str]:
    """Statements deleting the first row."""
    if not copy.in_place:
        return copy.rewrite(f"select {copy.columns()} from {copy.picked('true')} where not gm_pick")
    return [f"delete from {CORRUPTED_TABLE} where {copy.first_row()}"]


def keep_rows(copy: Copy, keep: int) -> list[str]:
    """Statements deleting every row but the first `keep` (in the order of all columns)."""
    if not copy.in_place:
        order = ", ".join(f"{quote(name)} nulls last" for name in copy.names)
        return copy.rewrite(f"select * from {CORRUPTED_TABLE} order by {order} limit {int(keep)}")
    return [
        f"delete from {CORRUPTED_TABLE} where rowid not in "
        f"(select rowid from {CORRUPTED_TABLE} order by {copy.order} limit {keep})"
    ]


def row_counts_sql(relation: str, compare: str) -> str:
    """The two row counts the model-versus-input tests (equal_rowcount, fewer_rows_than) compare."""
    return (
        f"with model_rows as (\n    select count(*) as row_count\n    from {relation}\n),\n"
        f"compare_model_rows as (\n    select count(*) as row_count\n    from {compare}\n)\n"
    )

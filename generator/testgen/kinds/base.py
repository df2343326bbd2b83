"""What every test kind (generator.testgen.kinds) builds on: rendering and corrupting.

A kind module renders its failing-rows SQL with `jinja_text` (how the macro prints an
argument) and breaks the hollow gate's copy of the result with `set_value` and
`duplicate_row` on a `Copy`, always the same row, so that a verdict is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

# "ref('x')" / "source('a', 'b')" -> the relation dbt renders it to: "db"."schema"."x".
Resolver = Callable[[str], str]

# (what the corruption does, the statements that do it to the copy)
Corruptions = Iterator[tuple[str, list[str]]]

CORRUPTED_TABLE = "gen_model_corrupted"
UNEXPECTED_TEXT = "__gen_model_unexpected__"
ORPHAN_TEXT = "__gen_model_orphan__"


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
    """A text column (DuckDB's lowercase type name)."""
    return data_type.startswith("varchar") or data_type == "text"


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
    return [
        f"insert into {CORRUPTED_TABLE} select picked.* from ("
        f"select * from {CORRUPTED_TABLE} where {copy.first_row(condition)}) as picked, range({int(times)})"
    ]


def set_value(copy: Copy, column: str, value: str, condition: str = "true") -> list[str]:
    """Statements setting `column` to the SQL `value` in the first row that meets `condition`."""
    return [f"update {CORRUPTED_TABLE} set {quote(column)} = {value} where {copy.first_row(condition)}"]


def row_counts_sql(relation: str, compare: str) -> str:
    """The two row counts the model-versus-input tests (equal_rowcount, fewer_rows_than) compare."""
    return (
        f"with model_rows as (\n    select count(*) as row_count\n    from {relation}\n),\n"
        f"compare_model_rows as (\n    select count(*) as row_count\n    from {compare}\n)\n"
    )

"""A unit test as dbt runs it, in the sandbox: its fixtures loaded, the model (or a mutant) run on them.

The fixture search (generator.testgen.unit_fixtures) uses this to compute the expected rows
and to check them; the mutation runner (generator.testgen.mutate) to tell whether a unit
test kills a mutant. dbt's fixture SQL and its comparison are mirrored: each given value is
cast from its YAML text to the input column's type, the expected values to the result's
types, and rows are compared as sorted multisets, as dbt compares them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlglot import exp

from generator.dialects.duckdb import UNSIGNED_INTEGER_TYPES
from generator.project.sandbox import SandboxQueryError
from generator.sql.context import GateContext
from generator.sql.runnable import runnable_sql


@dataclass(frozen=True)
class GivenInput:
    """The rows one input (`ref('x')`, `source('a', 'b')`) gets in a unit test."""

    input: str
    rows: tuple[dict, ...]


@dataclass(frozen=True)
class UnitTest:
    """One dbt unit test of a model (as the YAML states it)."""

    name: str
    model: str
    given: tuple[GivenInput, ...]
    expect: tuple[dict, ...]
    version: int | None = None
    description: str = ""

    def to_yaml(self) -> dict:
        entry: dict = {"name": self.name, "model": self.model}
        if self.version is not None:
            entry["versions"] = {"include": [self.version]}
        if self.description:
            entry["description"] = self.description
        entry["given"] = [{"input": given.input, "rows": [dict(row) for row in given.rows]} for given in self.given]
        entry["expect"] = {"rows": [dict(row) for row in self.expect]}
        return entry

    def renamed(self, name: str, version: int | None) -> UnitTest:
        return UnitTest(name, self.model, self.given, self.expect, version, self.description)


def unit_test_name(model: str, version: int | None) -> str:
    return f"{model}_v{version}_logic" if version is not None else f"{model}_logic"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _normal(call_text: str) -> str:
    return "".join(call_text.split()).replace('"', "'")


def placeholders_by_input(ctx: GateContext) -> dict[str, list[str]]:
    """`ref('x')` (as the SQL writes it) -> the placeholders standing for it, in SQL order."""
    inputs: dict[str, list[str]] = {}
    calls = sorted(ctx.templated.calls, key=lambda call: call.start) if ctx.templated else []
    for call in calls:
        if call.placeholder in ctx.relations:
            inputs.setdefault(call.display(), []).append(call.placeholder)
    return inputs


# -- dbt's fixture SQL, mirrored -------------------------------------------------------------


def _sql_value(value: object) -> str:
    """A YAML fixture value as dbt's format_row renders it before the cast."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def fixture_sql(rows: tuple[dict, ...] | list[dict], columns: list[tuple[str, str]]) -> str:
    """dbt's get_fixture_sql: every column of the input, cast; missing ones null."""
    if not rows:
        listed = ", ".join(f"cast(null as {kind}) as {_quote(name)}" for name, kind in columns)
        return f"select {listed} limit 0"
    selects = []
    for row in rows:
        lowered = {str(key).lower(): value for key, value in row.items()}
        listed = ", ".join(
            f"cast({_sql_value(lowered.get(name.lower()))} as {kind}) as {_quote(name)}" for name, kind in columns
        )
        selects.append(f"select {listed}")
    return "\nunion all\n".join(selects)


def _render(value_text: str | None, data_type: str):
    """DuckDB's text for a value -> the YAML scalar written for it."""
    if value_text is None:
        return None
    kind = data_type.lower()
    if kind in ("boolean", "bool"):
        return value_text == "true"
    if kind in (
        "tinyint",
        "smallint",
        "integer",
        "int",
        "bigint",
        "hugeint",
        *UNSIGNED_INTEGER_TYPES,
    ):
        return int(value_text)
    return value_text


def rendered_rows(sandbox, table: str, columns: list[tuple[str, str]], order: str | None = None) -> list[dict]:
    if not columns:
        return []
    listed = ", ".join(f"cast({_quote(name)} as varchar)" for name, _ in columns)
    rows = sandbox.execute(f"select {listed} from {table}" + (f" order by {order}" if order else ""))
    rendered = [{name: _render(value, kind) for (name, kind), value in zip(columns, row, strict=True)} for row in rows]
    if order is None:
        rendered.sort(key=lambda row: [(value is None, str(value)) for value in row.values()])
    return rendered


@dataclass(frozen=True)
class Verdict:
    differs_from_expected: bool
    same_as_original: bool


class FixtureRunner:
    """One unit test's fixtures loaded in the sandbox, to run the model (or a mutant) on."""

    def __init__(self, sandbox, ctx: GateContext, unit_test: UnitTest, index: int):
        self.sandbox = sandbox
        self.ctx = ctx
        self.unit_test = unit_test
        self.name = unit_test.name
        self.prefix = f"gm_unit_{index}"
        self.tables: dict[str, str] = {}
        self.usable = True
        self.problem: str | None = None
        self._original: str | None = None
        by_input = {_normal(text): placeholders for text, placeholders in placeholders_by_input(ctx).items()}
        given = {_normal(item.input): item for item in unit_test.given}
        for position, (text, placeholders) in enumerate(by_input.items()):
            relation = ctx.relations[placeholders[0]]
            columns = [(column.name, column.data_type or "varchar") for column in relation.columns]
            rows = given[text].rows if text in given else ()
            table = f"{self.prefix}_input_{position}"
            try:
                sandbox.execute(f"create or replace temp table {table} as {fixture_sql(rows, columns)}")
            except SandboxQueryError as error:
                self.usable, self.problem = False, f"unit test {self.name}: its fixture does not load: {error.summary}"
                return
            for placeholder in placeholders:
                self.tables[placeholder] = table

    def run(self, tree: exp.Expression, table: str) -> list[tuple[str, str]]:
        sql = runnable_sql(tree, self.ctx.relations, self.tables)
        self.sandbox.execute(f"create or replace temp table {table} as select * from (\n{sql}\n) as q")
        return [(row[0], row[1]) for row in self.sandbox.execute(f"describe {table}")]

    def _differs(self, actual: str, actual_columns: list[tuple[str, str]], expected_rows) -> bool:
        """dbt's comparison: expected values cast to the actual columns' types, as multisets."""
        types = {name.lower(): (name, kind) for name, kind in actual_columns}
        expected_columns = list(expected_rows[0].keys()) if expected_rows else [n for n, _ in actual_columns]
        try:
            chosen = [types[str(name).lower()] for name in expected_columns]
        except KeyError:
            return True  # dbt stops: the expected rows name a column the model does not return
        listed = ", ".join(_quote(name) for name, _ in chosen)
        expected_sql = fixture_sql(list(expected_rows), chosen) if expected_rows else None
        actual_sql = f"select {listed} from {actual}"
        if expected_sql is None:
            count = self.sandbox.execute(f"select count(*) from {actual}")[0][0]
            return count != 0
        try:
            rows = self.sandbox.execute(
                f"with actual as ({actual_sql}), expected as ({expected_sql}) select "
                "(select count(*) from (select * from actual except all select * from expected)) + "
                "(select count(*) from (select * from expected except all select * from actual))"
            )
        except SandboxQueryError:
            return True  # an expected value does not cast to the mutant's type: dbt errors
        return rows[0][0] != 0

    def check_original(self, tree: exp.Expression) -> str | None:
        """The accepted SQL must reproduce the expected rows; else the unit test is unusable."""
        if not self.usable:
            return self.problem
        try:
            columns = self.run(tree, f"{self.prefix}_original")
        except SandboxQueryError as error:
            self.usable = False
            return f"unit test {self.name}: the model does not run on its fixtures: {error.summary}"
        self._original = f"{self.prefix}_original"
        self._original_columns = columns
        if self._differs(self._original, columns, self.unit_test.expect):
            self.usable = False
            return f"unit test {self.name} fails on the model itself; not used"
        return None

    def verdict(self, tree: exp.Expression) -> Verdict:
        table = f"{self.prefix}_mutant"
        try:
            columns = self.run(tree, table)
        except SandboxQueryError:
            return Verdict(True, False)  # dbt would report the unit test as an error
        differs = self._differs(table, columns, self.unit_test.expect)
        same = [(n.lower(), k) for n, k in columns] == [(n.lower(), k) for n, k in self._original_columns] and (
            self.sandbox.execute(
                f"select (select count(*) from (select * from {table} except all select * from {self._original})) + "
                f"(select count(*) from (select * from {self._original} except all select * from {table}))"
            )[0][0]
            == 0
        )
        return Verdict(differs, same)

    def close(self) -> None:
        for table in [*dict.fromkeys(self.tables.values()), f"{self.prefix}_original", f"{self.prefix}_mutant"]:
            with contextlib.suppress(SandboxQueryError):
                self.sandbox.execute(f"drop table if exists {table}")

"""Fixture-driven tests of the SQL gates, in sqlglot's style.

`tests/fixtures/<rule>.sql` holds inputs the pipeline must accept up to and including
<rule>; `tests/fixtures/<rule>__invalid.sql` holds inputs it must refuse, each followed
by the exact problems expected. The format:

    -- case: <title>
    <sql, any number of lines>
    -- expect: <rule> <line>:<col> <message>[ <suggestion>]
    -- duckdb-accepts: <why the gate refuses what DuckDB itself would run>

Lines and columns count from the case's first SQL line. Every problem the pipeline
reports must be listed, in order. The rule under test also runs when an earlier gate it
requires failed but a tree exists (safety judges a CREATE that parse refused: defence in
depth), so those cases list both problems.

The fixtures are cross-checked against real DuckDB: each valid case runs on empty tables
shaped like tests/fixtures/catalog.yml (and its output column names must match what the
binding gate computed), and each binding__invalid case must fail in DuckDB too unless it
says why DuckDB accepts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml

from generator.errors import Problem
from generator.gates import GATES, nondeterminism_problems
from generator.gates.base import run_gates
from generator.project.catalog import Catalog
from generator.proposal import ColumnSpec, Proposal
from generator.sql.context import GateContext, resolve_call
from generator.sql.scope import analyze

FIXTURES = Path(__file__).parent / "fixtures"
RULES = ("parse", "references", "binding", "safety", "determinism")


@dataclass(frozen=True)
class Case:
    rule: str
    valid: bool
    title: str
    sql: str
    expect: tuple[str, ...]
    duckdb_accepts: str | None
    file_line: int

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        return f"{self.rule}{'' if self.valid else '__invalid'}:{self.file_line}:{slug[:50]}"


def load_cases(rule: str, valid: bool) -> list[Case]:
    path = FIXTURES / f"{rule}{'' if valid else '__invalid'}.sql"
    text = path.read_text()
    cases = []
    for match in re.finditer(r"^-- case: (.*)$", text, flags=re.M):
        start = match.end() + 1
        following = re.search(r"^-- case: ", text[start:], flags=re.M)
        body = text[start : start + following.start()] if following else text[start:]
        sql_lines, expect, accepts = [], [], None
        for line in body.splitlines():
            if line.startswith("-- expect: "):
                expect.append(line[len("-- expect: ") :])
            elif line.startswith("-- duckdb-accepts: "):
                accepts = line[len("-- duckdb-accepts: ") :]
            else:
                sql_lines.append(line)
        sql = "\n".join(sql_lines).strip("\n") + "\n"
        file_line = text.count("\n", 0, match.start()) + 1
        cases.append(Case(rule, valid, match.group(1).strip(), sql, tuple(expect), accepts, file_line))
    return cases


VALID = [case for rule in RULES for case in load_cases(rule, True)]
INVALID = [case for rule in RULES for case in load_cases(rule, False)]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_dict(yaml.safe_load((FIXTURES / "catalog.yml").read_text()))


def context(sql: str, catalog: Catalog, **options) -> GateContext:
    proposal = Proposal(
        name="fixture",
        layer="marts",
        description="A fixture case.",
        grain=("x",),
        sql=sql,
        columns=(ColumnSpec("x"),),
    )
    return GateContext(proposal=proposal, catalog=catalog, **options)


def run_up_to(rule: str, sql: str, catalog: Catalog) -> tuple[GateContext, list[Problem]]:
    """The pipeline up to `rule`; `rule` itself also runs when only a prerequisite failed."""
    names = [gate.name for gate in GATES]
    gates = GATES[: names.index(rule) + 1]
    ctx = context(sql, catalog)
    report = run_gates(ctx, gates)
    problems = list(report.problems)
    last = report.outcomes[-1]
    if last.status == "skipped" and ctx.tree is not None:
        problems.extend(gates[-1].check(ctx))
    return ctx, problems


def short(problem: Problem) -> str:
    text = f"{problem.rule} {problem.line}:{problem.col} {problem.message}"
    return f"{text} {problem.suggestion}" if problem.suggestion else text


def test_fixture_files_have_cases():
    for rule in RULES:
        assert load_cases(rule, True), f"{rule}.sql has no cases"
        assert load_cases(rule, False), f"{rule}__invalid.sql has no cases"
    assert all(case.expect for case in INVALID), "every invalid case lists its problems"
    assert not any(case.expect for case in VALID), "valid cases expect no problems"


@pytest.mark.parametrize("case", VALID, ids=lambda case: case.id)
def test_valid(case: Case, catalog: Catalog):
    _, problems = run_up_to(case.rule, case.sql, catalog)
    assert [short(p) for p in problems] == []


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case.id)
def test_invalid(case: Case, catalog: Catalog):
    _, problems = run_up_to(case.rule, case.sql, catalog)
    assert [short(p) for p in problems] == list(case.expect)
    for problem in problems:
        assert problem.file == "fixture.sql"
        if problem.line is not None:
            assert problem.highlight, "a located problem shows the line it is on"


# -- the fixtures against real DuckDB -----------------------------------------------------


@pytest.fixture(scope="module")
def warehouse(catalog: Catalog):
    """An in-memory DuckDB with an empty table per relation, named as dbt would name it."""
    connection = duckdb.connect()
    databases = {relation.database for relation in catalog.relations}
    for database in sorted(databases):
        connection.execute(f"attach ':memory:' as \"{database}\"")
    for relation in catalog.relations:
        if not relation.exists:
            continue
        connection.execute(f'create schema if not exists "{relation.database}"."{relation.schema}"')
        columns = ", ".join(f'"{c.name}" {c.data_type}' for c in relation.columns)
        connection.execute(f"create table {relation.relation_name} ({columns})")
    yield connection
    connection.close()


def render(sql: str, catalog: Catalog) -> str:
    """What dbt would compile: each ref()/source() becomes the relation's quoted name."""
    ctx = context(sql, catalog)
    run_gates(ctx, GATES[:1])
    for call in sorted(ctx.templated.calls, key=lambda c: c.start, reverse=True):
        relation = resolve_call(catalog, call)
        sql = sql[: call.start] + relation.relation_name + sql[call.end :]
    return sql


DUCKDB_CHECKED = VALID


@pytest.mark.parametrize("case", DUCKDB_CHECKED, ids=lambda case: case.id)
def test_valid_cases_bind_in_duckdb(case: Case, catalog: Catalog, warehouse):
    """DuckDB runs each valid case, and names its columns as the binding gate said."""
    result = warehouse.execute(render(case.sql, catalog))
    duckdb_names = [column[0] for column in result.description]
    ctx, _ = run_up_to("binding", case.sql, catalog)
    outputs = analyze(ctx).top_outputs
    assert len(outputs) == len(duckdb_names)
    for output, name in zip(outputs, duckdb_names, strict=True):
        if output.from_star or output.item.alias or output.item.key == "column":
            assert output.name.lower() == name.lower()


BINDING_INVALID = [case for case in INVALID if case.rule == "binding"]


@pytest.mark.parametrize("case", BINDING_INVALID, ids=lambda case: case.id)
def test_binding_invalid_cases_fail_in_duckdb(case: Case, catalog: Catalog, warehouse):
    """What binding refuses, DuckDB's binder refuses too, unless the case says why not."""
    sql = render(case.sql, catalog)
    if case.duckdb_accepts:
        warehouse.execute(sql)
        return
    with pytest.raises(duckdb.Error):
        warehouse.execute(sql)


# -- exact, full messages ------------------------------------------------------------------


def test_unknown_column_message_in_full(catalog: Catalog):
    sql = "select\n    o.order_id,\n    o.amout\nfrom {{ ref('stg_shop__orders') }} as o\n"
    _, problems = run_up_to("binding", sql, catalog)
    assert [p.format() for p in problems] == [
        "fixture.sql:3:5: [binding] ref('stg_shop__orders') (as o) has no column 'amout'. "
        "Did you mean 'amount'?\n"
        "        o.amout\n"
        "        ^^^^^^^"
    ]
    assert problems[0].identifier == "o.amout"


def test_bare_table_message_in_full(catalog: Catalog):
    sql = "select id from raw_shop.customers\n"
    _, problems = run_up_to("references", sql, catalog)
    assert [p.format() for p in problems] == [
        "fixture.sql:1:16: [references] table 'raw_shop.customers' is not referenced through "
        "dbt. Use {{ source('raw_shop', 'customers') }} so dbt knows the lineage and the "
        "target's schema.\n"
        "    select id from raw_shop.customers\n"
        "                   ^^^^^^^^^^^^^^^^^^"
    ]


def test_limit_message_in_full(catalog: Catalog):
    sql = "select order_id, amount\nfrom {{ ref('stg_shop__orders') }}\norder by amount desc\nlimit 5\n"
    _, problems = run_up_to("determinism", sql, catalog)
    assert [p.format() for p in problems] == [
        "fixture.sql:4:1: [determinism] LIMIT after ORDER BY amount can return different rows "
        "on each run: rows tied on amount come in any order. Add order_id to the ORDER BY "
        "(order_id is the unique key of ref('stg_shop__orders')).\n"
        "    limit 5\n"
        "    ^^^^^"
    ]


# -- behaviour the fixtures cannot show ----------------------------------------------------------


def test_gates_run_in_order_with_prerequisites():
    names = [gate.name for gate in GATES]
    assert names[:5] == list(RULES)
    requires = {gate.name: gate.requires for gate in GATES}
    assert requires["references"] == ("parse",)
    assert requires["binding"] == ("references",)
    assert requires["safety"] == ("parse",)
    assert requires["determinism"] == ("parse",)
    for gate in GATES:
        assert gate.summary() and len(gate.summary()) < 100


def test_passing_gates_leave_relations_and_a_qualified_tree(catalog: Catalog):
    sql = (
        "select o.order_id, c.full_name\nfrom {{ ref('stg_shop__orders') }} as o\n"
        "join {{ ref('stg_shop__customers') }} as c using (customer_id)\n"
    )
    ctx, problems = run_up_to("binding", sql, catalog)
    assert problems == []
    assert sorted(r.name for r in ctx.relations.values()) == [
        "stg_shop__customers",
        "stg_shop__orders",
    ]
    qualified = ctx.qualified.sql(dialect="duckdb")
    assert "o.order_id AS order_id" in qualified and "c.full_name AS full_name" in qualified
    assert ctx.templated.restore(qualified).count("{{ ref(") == 2


def test_allow_nondeterministic_silences_the_gate_but_problems_stay_listable(catalog: Catalog):
    sql = "select order_id, now() as loaded_at\nfrom {{ ref('stg_shop__orders') }}\nlimit 3\n"
    strict = context(sql, catalog)
    report = run_gates(strict, GATES[:5])
    assert [p.rule for p in report.problems] == ["determinism", "determinism"]
    relaxed = context(sql, catalog, allow_nondeterministic=True)
    assert run_gates(relaxed, GATES[:5]).passed
    assert [p.message for p in nondeterminism_problems(relaxed)] == [p.message for p in report.problems]


def test_determinism_uses_keys_from_the_catalog(catalog: Catalog):
    """The same query is total over a keyed model and not over the keyless events source."""
    keyed = "select order_id, status from {{ ref('stg_shop__orders') }} order by order_id limit 3\n"
    keyless = "select user_id, event_type from {{ source('raw_events', 'events') }} order by user_id limit 3\n"
    assert run_up_to("determinism", keyed, catalog)[1] == []
    assert [p.rule for p in run_up_to("determinism", keyless, catalog)[1]] == ["determinism"]

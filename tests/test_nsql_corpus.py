"""The SQL gates on a corpus we did not write: DuckDB-NSQL's 75 dev questions.

Every gold query is judged (see benchmarks/nsql_gates.py for how it becomes a proposal),
and the verdict must match tests/fixtures/nsql_expectations.yml exactly: `pass`, or the
rules that must refuse it. Valid read-only queries refused for any other reason are false
rejects; the test prints their rate and requires none.

Two checks go beyond the expectations file, against the real DuckDB databases (opened
read-only): what passes really runs, with the output column names binding computed; and
a misspelled column planted in every passing query is caught by binding.
"""

from __future__ import annotations

import os
from dataclasses import replace

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from benchmarks.nsql_gates import (
    catalog_for,
    expected_rules,
    false_rejects,
    find_corpus,
    load_cases,
    load_expectations,
    run_case,
    run_corpus,
)
from generator.gates.parse import ParseRule
from generator.proposal import ColumnSpec, Proposal
from generator.sql.context import GateContext
from generator.sql.scope import analyze

CORPUS = find_corpus()
# Skipped only off CI: CI always has ../shared, where a missing corpus must fail loudly.
pytestmark = pytest.mark.skipif(
    CORPUS is None and os.environ.get("CI", "").lower() != "true",
    reason="DuckDB-NSQL corpus not found at ../shared/corpora/duckdb-nsql",
)


@pytest.fixture(scope="module")
def verdicts():
    return run_corpus(CORPUS)


@pytest.fixture(scope="module")
def expectations():
    return load_expectations()


def test_expectations_cover_every_query(expectations):
    assert sorted(expectations) == [case.index for case in load_cases(CORPUS)]
    for index, expectation in expectations.items():
        assert ("expect" in expectation) != ("reject" in expectation), index
        if "reject" in expectation:
            assert expectation.get("why"), f"query {index}: say why it must be refused"


def test_every_verdict_matches_its_expectation(verdicts, expectations):
    mismatches = []
    for verdict in verdicts:
        expected = set(expected_rules(expectations[verdict.case.index]))
        if set(verdict.rejected_by) != expected:
            first = verdict.problems[0].format() if verdict.problems else ""
            mismatches.append(
                f"#{verdict.case.index}: expected {sorted(expected) or 'pass'}, got "
                f"{sorted(verdict.rejected_by) or 'pass'}\n{first}"
            )
    assert not mismatches, "\n".join(mismatches)


def test_false_reject_rate(verdicts, expectations):
    wrong, valid = false_rejects(verdicts, expectations)
    rate = len(wrong) / valid
    print(f"\nDuckDB-NSQL: {valid} valid read-only queries, {len(wrong)} false rejects ({rate:.1%})")
    assert valid >= 50
    assert [v.case.index for v in wrong] == []


def test_refused_statements_say_what_they_are(verdicts):
    """DDL, writes, settings: parse names the statement, safety says what it would do."""
    for verdict in verdicts:
        if "safety" in verdict.rejected_by and "parse" in verdict.rejected_by:
            parse = next(p for p in verdict.problems if p.rule == "parse")
            safety = next(p for p in verdict.problems if p.rule == "safety")
            assert parse.message.startswith("expected one select statement, got ")
            assert safety.message.endswith("a model may only read")
            assert (parse.line, parse.col) == (safety.line, safety.col) == (1, 1)


def _passing(verdicts):
    return [v for v in verdicts if v.passed]


def test_what_passes_runs_in_duckdb_with_the_columns_binding_named(verdicts):
    checked = 0
    by_database: dict[str, list] = {}
    for verdict in _passing(verdicts):
        by_database.setdefault(verdict.case.db_id, []).append(verdict)
    for db_id, group in by_database.items():
        path = CORPUS / "databases" / db_id / f"{db_id}.duckdb"
        connection = duckdb.connect(str(path), read_only=True)
        try:
            for verdict in group:
                result = connection.execute(verdict.case.query)
                names = [column[0] for column in result.description]
                ctx = _context(verdict.sql, catalog_for(CORPUS, db_id))
                ParseRule().check(ctx)
                outputs = analyze(ctx).top_outputs
                assert len(outputs) == len(names), verdict.case.index
                for output, name in zip(outputs, names, strict=True):
                    if output.from_star or output.item.alias or isinstance(output.item, exp.Column):
                        assert output.name.lower() == name.lower(), (verdict.case.index, name)
                checked += 1
        finally:
            connection.close()
    assert checked >= 30


def _context(sql, catalog) -> GateContext:
    proposal = Proposal(
        name="nsql",
        layer="marts",
        description="d",
        grain=("x",),
        sql=sql,
        columns=(ColumnSpec("x"),),
    )
    return GateContext(proposal=proposal, catalog=catalog)


def test_a_misspelled_column_is_caught_in_every_passing_query(verdicts):
    """Plant a typo in the first column each passing query reads: binding must name it."""
    planted = 0
    for verdict in _passing(verdicts):
        case = verdict.case
        column = next(
            (
                c
                for c in sqlglot.parse_one(case.query, read="duckdb").find_all(exp.Column)
                if not isinstance(c.this, exp.Star) and c.this._meta and "start" in c.this.meta
            ),
            None,
        )
        if column is None:
            continue  # a query over literals only
        start, end = column.this.meta["start"], column.this.meta["end"]
        typo = f"{column.name}zz"
        mutated = replace(case, query=case.query[:start] + typo + case.query[end + 1 :])
        result = run_case(mutated, catalog_for(CORPUS, case.db_id))
        binding = [p for p in result.problems if p.rule == "binding"]
        assert binding, f"#{case.index}: {typo!r} was not caught\n{mutated.query}"
        assert any(typo in p.message for p in binding), [p.message for p in binding]
        planted += 1
    assert planted >= 30

"""The unit-test row search asks DuckDB fewer, larger questions (FixtureSearch.prefetch):
every answer run ahead is the one asked alone, and a query the batch cannot run is asked
one choice at a time, as before."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlglot

from generator.testgen.mutate import enumerate_mutants
from generator.testgen.unit_fixtures import FixtureSearch, build_unit_test, ddmin

PROPOSALS = Path(__file__).resolve().parents[1] / "examples" / "proposals"


@pytest.mark.parametrize("model", ["account_mrr", "account_payment_health", "monthly_revenue_by_tier"])
def test_rows_run_ahead_are_the_rows_asked_alone(model, gate_proposal):
    ctx = gate_proposal(PROPOSALS / f"{model}.yml")
    alone, ahead = FixtureSearch(ctx), FixtureSearch(ctx)
    alone.setup()
    try:
        seeds = alone.seeds()
        choices = [alone.block(seed, groups) for seed in seeds[:12] for groups in (False, True)]
        choices.append({})  # no rows at all
        trees = [ctx.tree, *(mutant.tree for mutant in enumerate_mutants(ctx) if not mutant.held_out)]
        expected = {
            (i, j): alone.rows_of(picks, tree) for i, tree in enumerate(trees) for j, picks in enumerate(choices)
        }
    finally:
        alone.teardown()
    ahead.setup()
    try:
        ahead.seeds()
        for tree in trees:
            ahead.prefetch(tree, choices)
        answered = 0
        for (i, j), rows in expected.items():
            answered += ahead.prefetched(trees[i], [choices[j]])
            found = ahead.rows_of(choices[j], trees[i])
            assert (found is None) == (rows is None), (i, j)
            if rows is not None:
                assert Counter(found) == Counter(rows), (i, j)
        if model == "account_mrr":  # its columns compare as values: the batch answers
            assert ahead.prefetched(ctx.tree, choices)
            assert answered > len(choices)
    finally:
        ahead.teardown()


def test_a_query_the_batch_cannot_run_is_asked_alone(gate_proposal):
    ctx = gate_proposal(PROPOSALS / "account_mrr.yml")
    search = FixtureSearch(ctx)
    search.setup()
    try:
        choices = [search.block(seed, False) for seed in search.seeds()[:4]]
        # Runs on no rows (its shape is known), fails on any row of text: the batch fails.
        failing = sqlglot.parse_one(f'select cast(plan_tier as integer) as n from "{search.inputs[0].view}"')
        search.prefetch(failing, [*choices, {}])
        assert not search.prefetched(failing, choices)
        assert search.rows_of(choices[0], failing) is None  # asked alone: it fails, as before
        assert search.rows_of({}, failing) == []
    finally:
        search.teardown()


def test_ddmin_tells_each_rounds_tries_ahead():
    told = []
    found = ddmin(list(range(8)), lambda chosen: 5 in chosen, told.append)
    assert found == [5]
    assert told and all(isinstance(tries, list) and tries for tries in told)
    assert [5] in [try_ for tries in told for try_ in tries]


def test_values_read_ahead_are_the_values_asked_alone(gate_proposal):
    ctx = gate_proposal(PROPOSALS / "account_mrr.yml")
    alone, ahead = FixtureSearch(ctx), FixtureSearch(ctx)
    alone.setup()
    try:
        rows = [(item.index, row) for item in alone.inputs for row in range(1, min(item.rows, 40) + 1, 3)]
        expected = {
            (index, row, column): alone.value_of(index, row, column)
            for index, row in rows
            for column in alone.inputs[index].read
        }
    finally:
        alone.teardown()
    ahead.setup()
    try:
        for item in ahead.inputs:
            ahead.values_of(item.index, [row for index, row in rows if index == item.index])
        for (index, row, column), value in expected.items():
            assert ahead.value_of(index, row, column) == value, (index, row, column)
    finally:
        ahead.teardown()


def test_the_search_asks_few_statements(gate_proposal, monkeypatch):
    """account_mrr's search (its re-check restores six coverage classes) asked 602 statements
    before the re-check's questions were batched and remembered; it must not drift back."""
    ctx = gate_proposal(PROPOSALS / "account_mrr.yml")
    asked = Counter()
    query = FixtureSearch.query

    def counted(self, sql, parameters=None):
        asked["lateral" if "lateral (with" in sql else "other"] += 1
        return query(self, sql, parameters)

    monkeypatch.setattr(FixtureSearch, "query", counted)
    unit_test, choice, problem = build_unit_test(ctx, enumerate_mutants(ctx), model="account_mrr", version=1)
    assert problem is None and unit_test is not None and choice.killed
    assert sum(asked.values()) <= 450, asked


def test_fingerprints_tell_rows_apart_exactly_as_their_values_do(gate_proposal):
    """The search reads a plain-typed query's rows as DuckDB hashes (FixtureSearch.fingerprinted):
    every comparison it makes of them (a mutant's rows with the accepted SQL's, the accepted
    SQL's on one choice of rows with another) must come out as it does on the values."""
    ctx = gate_proposal(PROPOSALS / "account_mrr.yml")
    search = FixtureSearch(ctx)
    search.setup()
    try:
        choices = [search.block(seed, groups) for seed in search.seeds()[:10] for groups in (False, True)]
        choices.append({})
        trees = [ctx.tree, *(mutant.tree for mutant in enumerate_mutants(ctx) if not mutant.held_out)]
        trees = [tree for tree in trees if search.fingerprinted(tree)]
        assert ctx.tree in trees and len(trees) > 5  # account_mrr's columns are all plain

        def values(picks, tree):
            sql = f"with {search.fixture_ctes(picks)} select * from (\n{search.sql_of(tree)}\n) as q"
            return Counter(search.query(sql))

        answers = [
            (values(picks, tree), Counter(search.rows_of(picks, tree)))
            for tree in trees
            for picks in choices
            if search.rows_of(picks, tree) is not None
        ]
        assert all(isinstance(f, int) for _, fingerprints in answers for f in fingerprints)
        for value, fingerprint in answers:
            assert sum(value.values()) == sum(fingerprint.values())
        pairs = 0
        for first in range(len(answers)):
            for second in range(first + 1, len(answers)):
                same_values = answers[first][0] == answers[second][0]
                assert same_values == (answers[first][1] == answers[second][1]), (first, second)
                pairs += same_values
        assert pairs > 0  # some choices give equal outputs: both outcomes were compared
    finally:
        search.teardown()

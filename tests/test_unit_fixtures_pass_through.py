"""A pass-through select (no aggregate, join, distinct or window) gets no twin row in its unit
test: a copy of an input row with a new key only repeats an output row there, which no test
can tell from the original."""

from __future__ import annotations

from generator.testgen.mutate import enumerate_mutants
from generator.testgen.unit_fixtures import build_unit_test

RENAMED = {
    "name": "account_names",
    "layer": "marts",
    "description": "Accounts and their names.",
    "grain": ["account_id"],
    "sql": (
        "select account_id, account_name as name, domain\n"
        "from {{ ref('stg_app__accounts') }}\n"
        "where domain is not null\n"
    ),
    "columns": [
        {"name": "account_id", "description": "The account."},
        {"name": "name", "description": "Its name."},
        {"name": "domain", "description": "Its web domain."},
    ],
}


def test_a_pass_through_select_gets_no_twin(gate_proposal):
    ctx = gate_proposal(RENAMED)
    unit_test, choice, problem = build_unit_test(ctx, enumerate_mutants(ctx), model="account_names", version=1)
    assert problem is None and unit_test is not None
    assert "a copy of another with a new key" not in unit_test.description
    [given] = unit_test.given
    ids = [row["account_id"] for row in given.rows]
    assert len(ids) == len(set(ids)) and ids, given.rows

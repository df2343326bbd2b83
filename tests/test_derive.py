"""Test derivation: evidence from the SQL, upstream tests and the dry run, never from text.

Fixture-driven: each tests/fixtures/derive/<case>.yml holds a proposal, the tests it must
get (with the evidence their reasons must name) and tests it must not get. The proposals
run through every gate against the built sample project.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.testgen.derive import derive_tests

FIXTURES = Path(__file__).parent / "fixtures" / "derive"
CASES = sorted(path.stem for path in FIXTURES.glob("*.yml"))


def load(case: str) -> dict:
    return yaml.safe_load((FIXTURES / f"{case}.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES)
def test_derivation_matches_the_fixture(case, gate_proposal):
    spec = load(case)
    ctx = gate_proposal(spec["proposal"])
    derivation = derive_tests(ctx)
    derived = {test.describe(): test for test in derivation.tests}
    problems = []
    for wanted in spec["expect"]:
        test = derived.get(wanted["test"])
        if test is None:
            problems.append(f"missing {wanted['test']}; derived: {sorted(derived)}")
            continue
        for key, value in (wanted.get("arguments") or {}).items():
            if test.arguments.get(key) != value:
                problems.append(f"{wanted['test']}: {key} is {test.arguments.get(key)!r}, expected {value!r}")
        if wanted["reason"] not in test.reason:
            problems.append(f"{wanted['test']}: reason {test.reason!r} does not say {wanted['reason']!r}")
    for unwanted in spec.get("absent") or []:
        if unwanted in derived:
            problems.append(f"{unwanted} should not be derived (reason given: {derived[unwanted].reason!r})")
    for note in spec.get("notes") or []:
        if not any(note in said for said in derivation.notes):
            problems.append(f"no note says {note!r}; notes: {derivation.notes}")
    assert not problems, "\n".join(problems)


def test_every_test_names_its_evidence(gate_proposal):
    for case in CASES:
        ctx = gate_proposal(load(case)["proposal"])
        for test in derive_tests(ctx).tests:
            assert test.reason and test.kind, f"{case}: {test.describe()} has no reason or kind"


def test_the_proposals_words_are_never_evidence(gate_proposal):
    # The same SQL with descriptions that claim everything a test could check: the same tests.
    spec = load("plans_on_sale")
    plain = gate_proposal(spec["proposal"])
    claims = {
        **spec["proposal"],
        "description": "Unique plans, never null, prices always positive and below 100.",
        "columns": [
            {"name": c["name"], "description": f"{c['name']} is unique, never null, one of 'a' or 'b', >= 0"}
            for c in spec["proposal"]["columns"]
        ],
    }
    claimed = gate_proposal(claims)

    def signature(ctx):
        return [(t.describe(), repr(sorted(t.arguments.items())), t.reason) for t in derive_tests(ctx).tests]

    assert signature(plain) == signature(claimed)


def test_derivation_is_deterministic(gate_proposal):
    spec = load("subscription_mix")
    first = derive_tests(gate_proposal(spec["proposal"])).tests
    second = derive_tests(gate_proposal(spec["proposal"])).tests
    assert [(t.key, t.reason) for t in first] == [(t.key, t.reason) for t in second]


def test_without_an_analysable_tree_only_the_grain_speaks(gate_proposal):
    # Today's profile is no evidence: it is reported, never turned into a test.
    ctx = gate_proposal(load("accounts_with_subscriptions")["proposal"])
    ctx.qualified = None
    derivation = derive_tests(ctx)
    assert {test.kind for test in derivation.tests} == {"grain"}
    assert "only the grain is tested" in derivation.notes[0]
    assert any(note.startswith("industry: 10 distinct values today") for note in derivation.notes)


def test_observed_facts_are_notes_never_tests(gate_proposal):
    derivation = derive_tests(gate_proposal(load("subscription_mix")["proposal"]))
    assert all(test.evidence in ("proven", "inherited") for test in derivation.tests)
    assert any(note.startswith("seats: >= 0 today") and "no accepted_range test" in note for note in derivation.notes)
    assert not [note for note in derivation.notes if "))" in note], "a note reads one level deep"
    assert all("upstream rows" not in test.reason for test in derivation.tests), "data is not the SQL"


def test_upstream_accepted_values_are_inherited_not_restated_nor_profiled(gate_proposal):
    # currency passes through a column with accepted_values, unfiltered: the upstream test
    # guarantees it, so no test restates it here, and today's profile makes none either.
    ctx = gate_proposal(Path(__file__).parents[1] / "examples" / "proposals" / "monthly_revenue_by_tier.yml")
    derivation = derive_tests(ctx)
    assert "accepted_values(currency)" not in {t.describe() for t in derivation.tests}
    assert (
        "currency: accepted_values inherited from ref('invoices').currency, passed through unchanged: "
        "not tested again here (the upstream test guarantees it)"
    ) in derivation.notes


def test_a_sum_of_sums_says_its_reason_once_not_nested(gate_proposal):
    # Reasons are one reviewable line: a sum over a sum over a count reads "a sum of
    # non-negative values (count...)", not "a sum of non-negative values (a sum of ...)".
    proposal = {
        "name": "invoice_totals",
        "layer": "marts",
        "description": "Invoices per account.",
        "grain": ["account_id"],
        "sql": (
            "with per_status as (\n"
            "    select account_id, invoice_status, currency, count(*) as invoices\n"
            "    from {{ ref('invoices') }}\n"
            "    group by account_id, invoice_status, currency\n"
            "),\n"
            "per_currency as (\n"
            "    select account_id, currency, sum(invoices) as invoices\n"
            "    from per_status\n"
            "    group by account_id, currency\n"
            ")\n"
            "select account_id, sum(invoices) as invoices\n"
            "from per_currency\n"
            "group by account_id\n"
        ),
        "columns": [
            {"name": "account_id", "description": "The account."},
            {"name": "invoices", "description": "Its invoices."},
        ],
    }
    tests = {test.describe(): test for test in derive_tests(gate_proposal(proposal)).tests}
    reasons = [tests["not_null(invoices)"].reason, tests["gen_model.accepted_range(invoices)"].reason]
    assert reasons == [
        "never null: sum() over each group of non-null values (a count is never null)",
        "lower bound from the SQL: a sum of non-negative values (count(*) of a group is at least 1)",
    ]

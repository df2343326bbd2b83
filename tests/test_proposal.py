import pytest

from generator.errors import ProposalError
from generator.proposal import load_proposal, validate_proposal

GOOD = {
    "name": "account_revenue",
    "layer": "marts",
    "description": "Revenue per account.",
    "grain": ["account_id"],
    "sql": "select 1 as account_id",
    "columns": [{"name": "account_id", "description": "The account."}],
}


def problems_of(data) -> list[str]:
    with pytest.raises(ProposalError) as raised:
        validate_proposal(data, file="p.yml")
    return [problem.format() for problem in raised.value.problems]


def test_every_missing_field_is_named_once():
    data = {key: value for key, value in GOOD.items() if key not in ("description", "columns")}
    assert problems_of(data) == ["p.yml: [schema] missing required fields: description, columns"]


def test_an_unknown_field_gets_a_did_you_mean():
    data = dict(GOOD, descripton="typo")
    assert problems_of(data) == [
        "p.yml: [schema] unknown field at <proposal>: 'descripton' (did you mean 'description'?). "
        "Allowed fields: columns, description, grain, kind, layer, materialized, name, request, spec, sql."
    ]


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"name": "account_revenue", "layer": "staging"},
            "staging model name 'account_revenue' must start with 'stg_'",
        ),
        ({"name": "int_accounts", "layer": "marts"}, "marts model name 'int_accounts' must not start with 'int_'"),
        ({"name": "account_revenue_v2"}, "model name 'account_revenue_v2' ends in a version suffix"),
        ({"grain": ["acount_id"]}, "grain column 'acount_id' is not among the proposal's columns"),
        ({"name": "Account Revenue"}, "'Account Revenue' is not a snake_case name"),
    ],
)
def test_conventions_are_enforced_with_a_suggestion(change, expected):
    assert any(expected in problem for problem in problems_of(dict(GOOD, **change)))


def test_sql_positions_map_to_the_yaml_file(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text(
        "name: account_revenue\nlayer: marts\ndescription: d\ngrain: [account_id]\n"
        "sql: |\n\n  select\n      1 as account_id\ncolumns:\n  - {name: account_id, description: x}\n"
    )
    proposal = load_proposal(path)
    assert proposal.sql == "select\n    1 as account_id\n"
    assert proposal.sql_position == (7, 2)


def test_the_proposal_hash_ignores_where_it_came_from(tmp_path):
    first = validate_proposal(GOOD, file="a.yml")
    second = validate_proposal(GOOD, file="b.yml")
    assert first.sha256() == second.sha256()
    assert validate_proposal(dict(GOOD, description="Other.")).sha256() != first.sha256()

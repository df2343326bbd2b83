"""`gen-model tests` and `gen-model mutate` on a model people write the way jaffle-shop does:
a project macro, a `{% for %}` loop, `{{ config() }}`, and a properties YAML with a
hand-written unit test in flow style, comments, quoted strings and a long line.

The model is analysed as dbt compiles it (its relations turned back into ref()/source()),
so it gets the tests and unit test a plain model gets; the YAML only gains lines.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from tests.conftest import copy_project, dbt_build

pytestmark = pytest.mark.dbt

MACRO = """\
{% macro cents_to_dollars(column_name, scale=2) -%}
    ({{ column_name }} / 100)::numeric(16, {{ scale }})
{%- endmacro %}
"""

MODEL = """\
{{ config(materialized='table') }}
{%- set payment_methods = ['credit_card', 'coupon', 'bank_transfer', 'gift_card'] %}

select
    order_id,
    {% for payment_method in payment_methods -%}
    sum(case when payment_method = '{{ payment_method }}' then {{ cents_to_dollars('amount') }} else 0 end)
        as {{ payment_method }}_amount,
    {% endfor -%}
    sum({{ cents_to_dollars('amount') }}) as total_amount
from {{ ref('raw_payments') }}
group by order_id
"""

# What a person would write by hand for the same model: dbt's compiled SQL, with ref().
BY_HAND = """\
select
    order_id,
    sum(case when payment_method = 'credit_card' then (amount / 100)::numeric(16, 2) else 0 end)
        as credit_card_amount,
    sum(case when payment_method = 'coupon' then (amount / 100)::numeric(16, 2) else 0 end)
        as coupon_amount,
    sum(case when payment_method = 'bank_transfer' then (amount / 100)::numeric(16, 2) else 0 end)
        as bank_transfer_amount,
    sum(case when payment_method = 'gift_card' then (amount / 100)::numeric(16, 2) else 0 end)
        as gift_card_amount,
    sum((amount / 100)::numeric(16, 2)) as total_amount
from {{ ref('raw_payments') }}
group by order_id
"""

PROPERTIES = """\
version: 2

# Payments per order, one column per payment method (written by hand).
models:
  - name: order_payments
    description: "One row per order: what was paid for it, by payment method."
    columns:
      - name: order_id
        description: 'The order.'   # the grain
        data_tests:
          - unique
      - name: total_amount
        description: LONG

unit_tests:
  - name: order_payments_by_method   # a person wrote this one
    model: order_payments
    given:
      - input: ref('raw_payments')
        rows:
          - {id: 1, order_id: 1, payment_method: credit_card, amount: 1000}
          - {id: 2, order_id: 1, payment_method: "coupon",    amount: 250}
    expect:
      rows:
        - {order_id: 1, credit_card_amount: 10, coupon_amount: 2.5, bank_transfer_amount: 0, ROW_END
""".replace(
    "ROW_END",  # a long line (over the linter's limit here), as people write them
    "gift_card_amount: 0, total_amount: 12.5}",
).replace(
    "LONG",
    "Everything paid for the order in dollars, whichever method was used, credit card or coupon or bank "
    "transfer or gift card, summed.",
)

PROPERTIES_FILE = Path("models") / "marts" / "order_payments.yml"
MODEL_FILE = Path("models") / "marts" / "order_payments.sql"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def jaffle_built(shop_project_initialised: Path, tmp_path_factory) -> Path:
    """The initialised shop project with a jaffle-shop style model, built (its unit test passes)."""
    root = copy_project(shop_project_initialised, tmp_path_factory.mktemp("jaffle") / "project")
    (root / "macros").mkdir(exist_ok=True)
    (root / "macros" / "cents_to_dollars.sql").write_text(MACRO, encoding="utf-8")
    (root / MODEL_FILE).write_text(MODEL, encoding="utf-8")
    (root / PROPERTIES_FILE).write_text(PROPERTIES, encoding="utf-8")
    dbt_build(root)
    return root


@pytest.fixture
def jaffle(jaffle_built: Path, tmp_path: Path) -> Path:
    """A private copy of jaffle_built."""
    return copy_project(jaffle_built, tmp_path / "jaffle")


def removed_lines(before: str, after: str) -> list[str]:
    """The lines of `before` that `after` does not keep (a pure insertion removes none)."""
    diff = difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True))
    return [line[2:] for line in diff if line.startswith("- ")]


def test_tests_and_mutate_on_a_model_with_a_macro_and_a_loop(jaffle):
    from generator.project import load_project
    from generator.project.dbt import invoke

    dry = run("tests", "order_payments", "--project-dir", str(jaffle), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith(
        "✓ order_payments: would add 2 data test(s) and a unit test to models/marts/order_payments.yml "
        "(dry run: nothing written)\n"
    )
    assert "  + not_null(order_id) " in dry.output
    assert "  + unit test order_payments_logic: " in dry.output
    assert (
        "  note: models/marts/order_payments.sql uses Jinja beyond ref() and source(); it was analysed as dbt "
        "compiles it (line numbers are those of target/compiled/), its relations turned back into ref()/source()"
    ) in dry.output.splitlines()
    assert (jaffle / PROPERTIES_FILE).read_text(encoding="utf-8") == PROPERTIES, "--dry-run wrote"

    written = run("tests", "order_payments", "--project-dir", str(jaffle))
    assert written.exit_code == 0, written.output
    assert written.output.startswith(
        "✓ order_payments: added 2 data test(s) and a unit test to models/marts/order_payments.yml\n"
    )
    assert ", 0 failed (order_payments)" in written.output
    after = (jaffle / PROPERTIES_FILE).read_text(encoding="utf-8")
    assert removed_lines(PROPERTIES, after) == [], "every line a person wrote is kept as it is"
    assert len(after.splitlines()) > len(PROPERTIES.splitlines())
    assert (jaffle / MODEL_FILE).read_text(encoding="utf-8") == MODEL
    built = invoke(load_project(jaffle), ["build", "--select", "order_payments"])
    assert built.success, built.failure_messages()
    assert {n.name for n in built.nodes} >= {"order_payments_by_method", "order_payments_logic"}

    mutated = run("mutate", "order_payments", "--project-dir", str(jaffle))
    assert mutated.exit_code == 0, mutated.output
    lines = mutated.output.splitlines()
    assert lines[0].startswith("order_payments: ") and " mutants killed (score " in lines[0]
    assert "2 unit test(s)" in lines[0], "the person's unit test and the new one"
    assert lines[2].startswith("  held out (operators the unit-test rows were not chosen for): ")
    assert (
        "  note: the SQL mutated is dbt's compiled SQL of models/marts/order_payments.sql (it uses Jinja beyond "
        "ref() and source()), relations as ref()/source(); each mutant runs from that plain SQL in the sandbox, "
        "line numbers are those of target/compiled/"
    ) in lines
    score = json.loads(run("mutate", "order_payments", "--project-dir", str(jaffle), "--json").output)
    assert score["score"] >= 0.9 and score["total"] >= 20 and score["held_out"]["total"] >= 1
    assert (jaffle / MODEL_FILE).read_text(encoding="utf-8") == MODEL, "mutants never touch the person's file"


def test_the_tests_are_those_of_the_compiled_sql_written_by_hand(jaffle):
    from generator.project import load_project
    from generator.project.dbt import invoke

    marts = jaffle / "models" / "marts"
    (marts / "order_payments_by_hand.sql").write_text(BY_HAND, encoding="utf-8")
    # The same YAML a person wrote for the model (its unit test aside), for the by-hand copy.
    hand_written = PROPERTIES.split("\nunit_tests:")[0].replace(
        "name: order_payments\n", "name: order_payments_by_hand\n"
    )
    (marts / "order_payments_by_hand.yml").write_text(hand_written, encoding="utf-8")
    assert invoke(load_project(jaffle), ["run", "--select", "order_payments_by_hand"]).success
    reports = {}
    for name in ("order_payments", "order_payments_by_hand"):
        result = run("tests", name, "--project-dir", str(jaffle), "--dry-run", "--json")
        assert result.exit_code == 0, result.output
        reports[name] = json.loads(result.output)
    compiled, by_hand = reports["order_payments"], reports["order_payments_by_hand"]
    assert compiled["added"] == by_hand["added"] and len(compiled["added"]) == 2
    assert compiled["skipped"] == by_hand["skipped"] and compiled["dropped"] == by_hand["dropped"]
    assert compiled["unit_test"] == "order_payments_logic" and by_hand["unit_test"] == "order_payments_by_hand_logic"


def test_a_model_dbt_cannot_compile_keeps_todays_fallback_and_says_why(jaffle, monkeypatch):
    from generator.errors import ConfigError
    from generator.project import dbt

    def fails(project, selector, unique_id, manifest=None):
        raise ConfigError(f"dbt could not compile {selector}:\nCompilation Error: 'payment_methods' is undefined")

    monkeypatch.setattr(dbt, "compile_node", fails)
    result = run("tests", "order_payments", "--project-dir", str(jaffle), "--dry-run")
    assert result.exit_code == 0, result.output
    note = next(line for line in result.output.splitlines() if "could not be analysed" in line)
    assert "dbt could not compile it: Compilation Error: 'payment_methods' is undefined" in note
    assert note.endswith("only its grain can be tested (today's values are no evidence), and there is no unit test")
    assert "unit test order_payments_logic" not in result.output

    mutated = run("mutate", "order_payments", "--project-dir", str(jaffle))
    assert mutated.exit_code != 0
    assert "order_payments's SQL cannot be mutated" in mutated.output
    assert "dbt could not compile it" in mutated.output


@pytest.mark.parametrize(
    "written",
    ['"shop"."main"."raw_payments"', "shop.main.raw_payments", '"SHOP"."Main"."raw_payments"'],
)
def test_compiled_relation_names_turn_back_into_refs(written):
    from generator.project.catalog import Catalog, Relation
    from generator.testgen.model import plain_sql

    seed = Relation("seed.shop.raw_payments", "seed", "raw_payments", "shop", "main", "raw_payments")
    model = Relation(
        "model.shop.m", "model", "m", "shop", "main", "m", depends_on=("seed.shop.raw_payments", "model.shop.gone")
    )
    catalog = Catalog("shop", Path("."), relations=(seed, model))
    compiled = f"select amount from {written} as p\njoin other.main.raw_payments_old as o on true\n"
    assert plain_sql(compiled, catalog, model) == (
        "select amount from {{ ref('raw_payments') }} as p\njoin other.main.raw_payments_old as o on true\n"
    )

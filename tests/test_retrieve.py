"""Retrieval: what a request gets from the catalog, in what order, within what budget."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from generator.llm.retrieve import render_relation, retrieve, stem, terms
from generator.llm.tokens import estimate_tokens
from generator.project.catalog import Catalog, Column, ForeignKey, Relation

FIXTURE = Path(__file__).parent / "fixtures" / "llm_catalog.json"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_dict(json.loads(FIXTURE.read_text()))


def keys(catalog_slice):
    return [item.key for item in catalog_slice.included]


def test_terms_split_snake_and_camel_case_and_stem():
    assert terms("stg_billing__invoices") == ["stg", "bill", "invoice"]
    assert terms("accountId openedAt") == ["account", "id", "open"]  # "at" is a stop word
    assert terms("monthly revenue per customer") == ["month", "revenue", "customer"]
    assert [stem(w) for w in ("categories", "statuses", "status", "boxes", "analysis")] == [
        "category",
        "status",
        "status",
        "box",
        "analysis",
    ]


def test_best_match_first_with_its_join_neighbours(catalog):
    catalog_slice = retrieve(catalog, "invoice amounts per account")
    included = keys(catalog_slice)
    assert included[0] == "ref('stg_billing__invoices')"
    # Its foreign key points at accounts: the join partner must come along.
    assert "ref('stg_app__accounts')" in included
    reasons = {item.key: item.reasons for item in catalog_slice.items}
    assert any("join neighbour" in reason for reason in reasons["ref('stg_billing__payments')"])


def test_models_are_preferred_over_the_sources_and_seeds_they_stage(catalog):
    catalog_slice = retrieve(catalog, "invoices")
    assert keys(catalog_slice)[0] == "ref('stg_billing__invoices')"
    staged = next(item for item in catalog_slice.items if item.key == "source('billing', 'invoices')")
    assert staged.rendering == "dropped"
    assert any("staged by ref('stg_billing__invoices')" in reason for reason in staged.reasons)
    assert "source('billing', 'invoices')" not in catalog_slice.text


def test_a_staged_source_named_in_the_request_is_sent(catalog):
    included = keys(retrieve(catalog, "clean up billing.invoices"))
    assert "source('billing', 'invoices')" in included


def test_seeds_staged_jaffle_shop_style_step_back():
    catalog = Catalog.from_dict(
        {
            "project_name": "shop",
            "relations": [
                {
                    "name": "raw_orders",
                    "resource_type": "seed",
                    "columns": ["id", "user_id", "status"],
                },
                {
                    "name": "stg_orders",
                    "primary_key": ["order_id"],
                    "columns": ["order_id", "status"],
                },
            ],
        }
    )
    catalog_slice = retrieve(catalog, "orders by status")
    assert keys(catalog_slice) == ["ref('stg_orders')"]
    assert [item.rendering for item in catalog_slice.items] == ["full", "dropped"]


def test_an_unstaged_source_is_offered_as_it_is(catalog):
    included = keys(retrieve(catalog, "support tickets by priority"))
    assert included[0] == "source('support', 'tickets')"


def test_only_the_latest_version_of_a_versioned_model_is_offered(catalog):
    catalog_slice = retrieve(catalog, "monthly recurring revenue mrr per account")
    assert "ref('account_mrr')" in keys(catalog_slice)
    assert "ref('account_mrr', v=1)" not in [item.key for item in catalog_slice.items]
    assert "mrr_old" not in catalog_slice.text
    assert "revenue_month" in catalog_slice.text


def test_raw_files_compete_when_they_match(catalog):
    catalog_slice = retrieve(catalog, "product events per account")
    assert keys(catalog_slice)[0] == "file 'data/product_events.ndjson'"
    assert catalog_slice.raw_files[0].path == "data/product_events.ndjson"
    assert "(ndjson)" in catalog_slice.text


def test_generic_words_count_little(catalog):
    # 'id' is in nearly every relation: it must not outrank a specific word.
    catalog_slice = retrieve(catalog, "employee id")
    assert keys(catalog_slice)[0] == "ref('stg_hr__employees')"


def test_rendering_shows_keys_types_foreign_keys_and_values(catalog):
    text = render_relation(catalog.ref("stg_billing__invoices"), catalog)
    assert text.splitlines() == [
        "ref('stg_billing__invoices') — One row per invoice. rows: 1,234",
        "  invoice_id varchar pk not-null",
        "  account_id varchar not-null -> ref('stg_app__accounts').account_id",
        "  amount decimal(18,2) -- Invoice total in USD.",
        "  status varchar in ('paid','open','void')",
        "  issued_at timestamp",
    ]
    compact = render_relation(catalog.ref("stg_billing__invoices"), catalog, "compact")
    assert compact.splitlines()[1] == (
        "  columns: invoice_id varchar pk, account_id varchar, amount decimal(18,2), status "
        "varchar, issued_at timestamp"
    )


def test_odd_column_names_are_rendered_quoted():
    relation = Relation(
        unique_id="model.p.x",
        resource_type="model",
        name="x",
        database="d",
        schema="s",
        identifier="x",
        columns=(Column("Order Date", "date"), Column('say "hi"', "varchar")),
    )
    catalog = Catalog(project_name="p", project_dir=Path("."), relations=(relation,))
    lines = render_relation(relation, catalog).splitlines()
    assert lines[1:] == ['  "Order Date" date', '  "say ""hi""" varchar']


def test_same_inputs_give_byte_identical_slices(catalog):
    first = retrieve(catalog, "monthly revenue per customer")
    second = retrieve(Catalog.from_dict(json.loads(FIXTURE.read_text())), "monthly revenue per customer")
    assert first.text.encode() == second.text.encode()
    assert first.items == second.items


def test_order_does_not_depend_on_catalog_order(catalog):
    shuffled = replace(catalog, relations=tuple(reversed(catalog.relations)))
    assert retrieve(shuffled, "revenue per account").text == retrieve(catalog, "revenue per account").text


def test_ties_are_broken_by_name():
    relations = tuple(
        Relation(
            unique_id=f"model.p.{name}",
            resource_type="model",
            name=name,
            database="d",
            schema="s",
            identifier=name,
            description="Widgets.",
            columns=(Column("widget_id", "varchar"),),
        )
        for name in ("widgets_b", "widgets_a", "widgets_c")
    )
    catalog = Catalog(project_name="p", project_dir=Path("."), relations=relations)
    assert keys(retrieve(catalog, "widgets")) == [
        "ref('widgets_a')",
        "ref('widgets_b')",
        "ref('widgets_c')",
    ]


def _wide_catalog(count: int, columns: int) -> Catalog:
    relations = []
    for index in range(count):
        name = f"stg_shop__orders_{index:03d}"
        relations.append(
            Relation(
                unique_id=f"model.p.{name}",
                resource_type="model",
                name=name,
                database="d",
                schema="s",
                identifier=name,
                description="Orders placed in the shop, one row per order.",
                columns=tuple(
                    Column(
                        f"order_attribute_{n}",
                        "varchar",
                        f"Attribute {n} of the order as typed by staff.",
                    )
                    for n in range(columns)
                ),
                primary_key=("order_attribute_0",),
            )
        )
    return Catalog(project_name="p", project_dir=Path("."), relations=tuple(relations))


@pytest.mark.parametrize("budget", [0, 40, 300, 1500, 6000])
def test_the_budget_is_never_exceeded(budget):
    catalog_slice = retrieve(_wide_catalog(60, 25), "orders", budget)
    assert catalog_slice.token_estimate == estimate_tokens(catalog_slice.text)
    assert catalog_slice.token_estimate <= budget


def test_what_does_not_fit_whole_is_rendered_compactly_then_dropped():
    catalog = _wide_catalog(30, 25)
    full_size = estimate_tokens(render_relation(catalog.relations[0], catalog) + "\n\n")
    compact_size = estimate_tokens(render_relation(catalog.relations[0], catalog, "compact") + "\n\n")
    assert compact_size < full_size / 2
    catalog_slice = retrieve(catalog, "orders", budget_tokens=full_size * 2 + compact_size + 5)
    renderings = [item.rendering for item in catalog_slice.items]
    assert renderings[:2] == ["full", "full"]
    assert "compact" in renderings
    assert renderings[-1] == "dropped"
    assert len(catalog_slice.relations) == renderings.count("full") + renderings.count("compact")


def test_foreign_keys_to_other_versions_and_missing_targets_render(catalog):
    relation = Relation(
        unique_id="model.saas.fct",
        resource_type="model",
        name="fct",
        database="d",
        schema="s",
        identifier="fct",
        columns=(Column("ghost_id", "varchar"),),
        foreign_keys=(ForeignKey("ghost_id", "model.saas.gone", "ghost_id"),),
    )
    assert "-> model.saas.gone.ghost_id" in render_relation(relation, catalog)


def test_a_request_matching_nothing_gets_an_overview(catalog):
    catalog_slice = retrieve(catalog, "xyzzy plugh")
    included = keys(catalog_slice)
    assert included, "the model needs something to work with"
    # Models first, then unstaged sources and files; staged sources are not sent at all.
    assert included[0] == "ref('account_mrr')"
    assert included[-2:] == ["source('support', 'tickets')", "file 'data/product_events.ndjson'"]
    assert "source('app', 'accounts')" not in included


def test_empty_catalog_gives_an_empty_slice():
    catalog_slice = retrieve(Catalog(project_name="p", project_dir=Path(".")), "anything")
    assert (catalog_slice.text, catalog_slice.token_estimate, catalog_slice.items) == ("", 0, ())


def test_summary_lists_every_candidate_with_its_reasons(catalog):
    summary = retrieve(catalog, "invoices").summary()
    assert "ref('stg_billing__invoices')" in summary
    assert "name matches 'invoice'" in summary
    assert summary.splitlines()[-1].endswith("of 6000 tokens (estimated)")

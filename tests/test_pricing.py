"""The model ladder and the cost estimate."""

from __future__ import annotations

from generator.llm.pricing import (
    DEFAULT_LADDER,
    PRICES,
    ModelPrice,
    estimate_cost,
    sdk_deprecated_models,
    sdk_known_models,
    total_cost,
)


def test_deprecated_models_are_the_union_of_both_sdk_tables(monkeypatch):
    # What our code does with the SDK's tables, whatever the installed release lists in them.
    import anthropic._data.deprecated_models as data_module
    import anthropic.resources.messages.messages as messages_module

    monkeypatch.setattr(data_module, "DEPRECATED_MODELS", {"model-a": "2026-01-01"})
    monkeypatch.setattr(messages_module, "DEPRECATED_MODELS", {"model-b": "2026-02-01"})
    assert sdk_deprecated_models() == {"model-a", "model-b"}


def test_default_ladder_has_only_current_models_the_sdk_knows():
    # Read against the locked SDK (requirements/dev.txt); the drift workflow runs it on the
    # newest release the ranges allow, which is where a newly deprecated model shows up.
    known = sdk_known_models()
    deprecated = sdk_deprecated_models()
    assert known and deprecated  # the tables are really read
    assert DEFAULT_LADDER
    for model in DEFAULT_LADDER:
        assert model in known, f"{model} is not in the installed anthropic SDK's ModelParam"
        assert model not in deprecated, f"{model} is deprecated in the installed anthropic SDK"


def test_default_ladder_is_cheapest_first_and_priced():
    prices = [PRICES[model] for model in DEFAULT_LADDER]
    assert all(price is not None and price.source for price in prices)
    assert [p.input_per_mtok for p in prices] == sorted(p.input_per_mtok for p in prices)
    assert [p.output_per_mtok for p in prices] == sorted(p.output_per_mtok for p in prices)


def test_every_sdk_model_is_in_the_table_priced_or_explicitly_unknown():
    assert sdk_known_models() <= set(PRICES)


def test_cost_of_a_call():
    cost = estimate_cost("claude-sonnet-5-5", 10_000, 2_000)
    assert cost.usd == 0.04  # 10k x $2/M + 2k x $10/M
    assert cost.format() == "$0.0400 (claude-sonnet-5-5, 10,000 in / 2,000 out)"


def test_long_prompts_switch_to_the_long_context_rates():
    assert estimate_cost("claude-haiku-5-5", 100_000, 1_000_000).usd == 0.51
    assert estimate_cost("claude-haiku-5-5", 100_001, 0).usd == round(100_001 * 0.5 / 1e6, 6)


def test_unpriced_models_say_unknown_instead_of_guessing():
    assert PRICES["claude-mythos-5-2"] is None
    cost = estimate_cost("claude-mythos-5-2", 1000, 100)
    assert cost.usd is None
    assert cost.format().startswith("unknown (claude-mythos-5-2, 1,000 in / 100 out; no published price")
    assert estimate_cost("llama3.1:8b", 1000, 100).usd is None
    assert estimate_cost("claude-haiku-5-5", None, 100).usd is None


def test_user_prices_override_and_extend_the_table():
    overrides = {
        "llama3.1:8b": ModelPrice(0.0, 0.0, "mine"),
        "claude-haiku-5-5": ModelPrice(1.0, 1.0, "mine"),
    }
    assert estimate_cost("llama3.1:8b", 5000, 500, overrides).usd == 0.0
    assert estimate_cost("claude-haiku-5-5", 1_000_000, 0, overrides).usd == 1.0


def test_total_is_unknown_if_any_call_is():
    known = estimate_cost("claude-opus-5-5", 1000, 1000)
    assert total_cost([known, known]) == round(2 * known.usd, 6)
    assert total_cost([known, estimate_cost("mystery", 1, 1)]) is None

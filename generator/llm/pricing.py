"""Model ladder and prices, for choosing models and estimating what a run cost.

`DEFAULT_LADDER` is tried cheapest first: current Claude models, none deprecated, all known
to the installed `anthropic` SDK (a unit test checks both against the SDK's own tables).
Mythos models are left out (invitation only), Fable too (its price buys nothing a SQL
proposal needs that Opus lacks).

Prices are USD per million tokens, standard (not batch, not cached) rates, each with where
it was read. A model without a published price we could find has `None`: its cost is
reported as "unknown", never guessed. Users may add or override prices in `.gen-model.yml`
(`pricing:`), for example for a local model served through the openai provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_LADDER: tuple[str, ...] = ("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5")


@dataclass(frozen=True)
class ModelPrice:
    """Standard per-million-token prices; `long_*` apply when the prompt exceeds the threshold."""

    input_per_mtok: float
    output_per_mtok: float
    source: str = ""
    long_context_threshold: int | None = None  # input tokens above which long_* apply
    long_input_per_mtok: float | None = None
    long_output_per_mtok: float | None = None

    def rates(self, input_tokens: int) -> tuple[float, float]:
        """(input, output) USD per million tokens for a prompt of `input_tokens`."""
        if self.long_context_threshold is not None and input_tokens > self.long_context_threshold:
            return (
                self.long_input_per_mtok if self.long_input_per_mtok is not None else self.input_per_mtok,
                self.long_output_per_mtok if self.long_output_per_mtok is not None else self.output_per_mtok,
            )
        return self.input_per_mtok, self.output_per_mtok


_DOCS = "https://platform.claude.com/docs/en"

PRICES: dict[str, ModelPrice | None] = {
    # Current models (the ladder).
    "claude-haiku-5-5": ModelPrice(
        0.10,
        0.50,
        f"{_DOCS}/models/haiku-5-5/overview (prompts over 100,000 tokens: $0.50 / $2.50)",
        long_context_threshold=100_000,
        long_input_per_mtok=0.50,
        long_output_per_mtok=2.50,
    ),
    "claude-sonnet-5-5": ModelPrice(2.0, 10.0, f"{_DOCS}/models/sonnet-5-5/overview"),
    "claude-opus-5-5": ModelPrice(4.0, 20.0, f"{_DOCS}/about-claude/models/overview"),
    "claude-fable-5-2": ModelPrice(8.0, 40.0, f"{_DOCS}/models/overview (Claude Fable 5.2)"),
    # Legacy, still served.
    "claude-fable-5-1": ModelPrice(10.0, 50.0, f"{_DOCS}/about-claude/models/overview (Claude Fable 5.1)"),
    "claude-fable-5": ModelPrice(10.0, 50.0, f"{_DOCS}/models/fable-5/overview"),
    "claude-mythos-5": ModelPrice(10.0, 50.0, f"{_DOCS}/models/fable-5/overview (Mythos 5 shares Fable 5's pricing)"),
    "claude-sonnet-5": ModelPrice(2.0, 10.0, f"{_DOCS}/models/sonnet-5/overview"),
    "claude-opus-5": ModelPrice(5.0, 25.0, f"{_DOCS}/about-claude/models/whats-new-opus-5"),
    "claude-opus-4-8": ModelPrice(5.0, 25.0, f"{_DOCS}/models/opus-4-8/overview"),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0, f"{_DOCS}/about-claude/models/overview (Claude Haiku 4.5)"),
    "claude-haiku-4-5-20251001": ModelPrice(1.0, 5.0, f"{_DOCS}/about-claude/models/overview (Claude Haiku 4.5)"),
    # Third-party listings only (not Anthropic's own pages): used, but marked as such.
    "claude-opus-4-7": ModelPrice(5.0, 25.0, "docs.venice.ai model listing (third party; not Anthropic)"),
    "claude-opus-4-6": ModelPrice(5.0, 25.0, "docs.venice.ai model listing (third party; not Anthropic)"),
    "claude-opus-4-5": ModelPrice(5.0, 25.0, "docs.venice.ai model listing (third party; not Anthropic)"),
    "claude-opus-4-5-20251101": ModelPrice(5.0, 25.0, "docs.venice.ai model listing (third party; not Anthropic)"),
    "claude-sonnet-4-6": ModelPrice(3.0, 15.0, "docs.venice.ai model listing (third party; not Anthropic)"),
    # Deprecated (never defaulted to), priced for users who still name them.
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0, "docs.rs/cogito-claude price table, Nov 2025 (third party)"),
    "claude-sonnet-4-5-20250929": ModelPrice(3.0, 15.0, "docs.rs/cogito-claude price table, Nov 2025 (third party)"),
    # Known to the SDK, but no published price found: cost is reported as unknown.
    "claude-mythos-5-2": None,
    "claude-mythos-5-1": None,
    "claude-mythos-preview": None,
}


@dataclass(frozen=True)
class CostEstimate:
    """What a call (or a run) cost; `usd` is None when the model has no known price."""

    model: str
    input_tokens: int
    output_tokens: int
    usd: float | None
    price_source: str = ""

    def format(self) -> str:
        """`$0.0012 (claude-haiku-5-5, 4,210 in / 812 out)` or `unknown (...)`."""
        tokens = f"{self.model}, {self.input_tokens:,} in / {self.output_tokens:,} out"
        if self.usd is None:
            return f"unknown ({tokens}; no published price for {self.model}: add one under pricing: in .gen-model.yml)"
        return f"${self.usd:.4f} ({tokens})"


def price_for(model: str, overrides: Mapping[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The price of `model`: the user's override first, then the table above."""
    if overrides and model in overrides:
        return overrides[model]
    return PRICES.get(model)


def estimate_cost(
    model: str,
    input_tokens: int | None,
    output_tokens: int | None,
    overrides: Mapping[str, ModelPrice] | None = None,
) -> CostEstimate:
    """USD for one call, or None (unknown) when the model has no price or usage is missing."""
    price = price_for(model, overrides)
    if price is None or input_tokens is None or output_tokens is None:
        return CostEstimate(model, input_tokens or 0, output_tokens or 0, None)
    input_rate, output_rate = price.rates(input_tokens)
    usd = (input_tokens * input_rate + output_tokens * output_rate) / 1_000_000
    return CostEstimate(model, input_tokens, output_tokens, round(usd, 6), price.source)


def total_cost(estimates: list[CostEstimate] | tuple[CostEstimate, ...]) -> float | None:
    """The sum over calls, or None as soon as one of them has an unknown cost."""
    if any(estimate.usd is None for estimate in estimates):
        return None
    return round(sum(estimate.usd for estimate in estimates), 6)


def sdk_known_models() -> frozenset[str]:
    """Model ids the installed anthropic SDK lists in its `ModelParam` type."""
    from typing import get_args

    from anthropic.types.model_param import ModelParam

    known: set[str] = set()
    for option in get_args(ModelParam):
        known.update(value for value in get_args(option) if isinstance(value, str))
    return frozenset(known)


def sdk_deprecated_models() -> frozenset[str]:
    """Model ids the installed anthropic SDK warns about as deprecated (both of its tables)."""
    from anthropic._data.deprecated_models import DEPRECATED_MODELS as DATA_TABLE
    from anthropic.resources.messages.messages import DEPRECATED_MODELS as MESSAGES_TABLE

    return frozenset(DATA_TABLE) | frozenset(MESSAGES_TABLE)

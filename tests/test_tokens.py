"""The offline token estimate: deterministic, additive across blocks, and rather high than low."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.llm.prompt import SYSTEM_PROMPT, canonical_json, tool_definition
from generator.llm.retrieve import retrieve
from generator.llm.tokens import SAFETY_FACTOR, estimate_tokens, raw_token_count
from generator.project.catalog import Catalog

FIXTURE = Path(__file__).parent / "fixtures" / "llm_catalog.json"
SQL = (Path(__file__).parent.parent / "benchmarks" / "context_tokens.py").read_text()


def test_known_counts():
    assert estimate_tokens("") == 0
    assert raw_token_count("select") == 1
    assert raw_token_count(" account_id") == 3  # ' account', '_', 'id' (BPE: 2)
    assert raw_token_count("12345678") == 3  # digits go in threes
    assert raw_token_count("aGVsbGVsbG") == 4  # mixed case: 3 letters a token
    assert estimate_tokens("select") == 2  # ceil(1 x 1.3)


def test_blocks_joined_by_a_blank_line_cost_no_more_than_their_sum():
    blocks = ["ref('a') — One row.\n  id varchar pk", "ref('b')\n  columns: x int", "  indented"]
    whole = estimate_tokens("\n\n".join(blocks))
    assert whole <= sum(estimate_tokens(block + "\n\n") for block in blocks)


def test_deterministic():
    text = canonical_json(tool_definition())
    assert estimate_tokens(text) == estimate_tokens(text)


def test_never_below_a_real_bpe_count_on_what_we_send():
    bpe_openai = pytest.importorskip("bpe_openai")  # optional: bundles OpenAI vocabularies
    catalog = Catalog.from_dict(json.loads(FIXTURE.read_text()))
    texts = [
        SYSTEM_PROMPT,
        canonical_json(tool_definition()),
        SQL,
        retrieve(catalog, "revenue").text,
    ]
    for name in ("cl100k_base", "o200k_base"):
        encoding = bpe_openai.get_encoding(name)
        for text in texts:
            real = len(encoding.encode(text))
            assert real <= raw_token_count(text) <= 1.35 * real
            assert estimate_tokens(text) >= SAFETY_FACTOR * real

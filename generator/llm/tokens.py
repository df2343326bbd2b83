"""Offline, deterministic token estimates (no tokenizer download is possible here).

Method. Text is cut into the pre-tokens a GPT-style byte-pair tokenizer never merges
across, by one regular expression modelled on cl100k's: a word with its leading blank, a
number of up to 3 digits, a run of punctuation with its leading blank, a newline with the
indentation after it, a run of blanks. Each piece is charged:

- a word: one token per started 8 letters (common words are one token; long identifiers
  and rare words several), or per started 3 letters when its case changes inside
  (base64, hashes, camelCase);
- a number (1-3 digits): one token;
- punctuation: one token per started 2 ASCII characters (BPE merges `('`, `->`, `":"`),
  plus one per non-ASCII character;
- a newline with its indentation, or a run of blanks: one token.

The sum is multiplied by `SAFETY_FACTOR` and rounded up.

Error. Calibrated offline against two real vocabularies, OpenAI's cl100k_base and
o200k_base (the `bpe-openai` package bundles them), on 18 texts like those gen-model sends:
the system prompt, the tool schema as JSON, catalog slices of 10-1,000 relations, dbt SQL
and YAML, pretty-printed JSON and English prose. The raw count (before the safety factor)
is 1.04-1.28 times the cl100k count and 1.03-1.23 times the o200k count: it never
under-counted there. `benchmarks/context_tokens.py` prints the ratios when `bpe-openai` is
installed. Claude's tokenizer is not public; Anthropic documents that the tokenizer of
Claude 4.7 and later counts about 30% more tokens than the previous one for the same text,
hence `SAFETY_FACTOR = 1.3`: estimates are meant to be high for Claude, and are 1.36-1.66
times OpenAI counts. Text unlike the calibration set is estimated less reliably: random
base64 is under-counted (about 0.7x cl100k raw), and so is non-English prose (German,
French: about 0.75x). The provider records the real `input_tokens` of every call: that is
the number to trust for cost; this one is for budgeting before the call.
"""

from __future__ import annotations

import math
import re

SAFETY_FACTOR = 1.3
LETTERS_PER_TOKEN = 8
PUNCTUATION_PER_TOKEN = 2
MIXED_CASE_LETTERS_PER_TOKEN = 3
_MIXED_CASE = re.compile(r"[a-z][A-Z]")

_PIECE = re.compile(
    r"\n+[ \t]*"  # a newline (or several) and the indentation after it
    r"|[ \t]+(?=[ \t]*\n)"  # trailing blanks
    r"|[ \t]{2,}(?! )"  # a run of blanks before a word
    r"| ?[A-Za-z]+"  # a word with its leading blank
    r"| ?[0-9]{1,3}"  # numbers split every 3 digits
    r"| ?[^\sA-Za-z0-9]+"  # punctuation and non-ASCII
    r"|\s"  # anything else: a lone blank, a carriage return
)


def raw_token_count(text: str) -> int:
    """The uncorrected count (before `SAFETY_FACTOR`); exposed for calibration."""
    count = 0
    for match in _PIECE.finditer(text):
        piece = match.group().lstrip(" ")
        if not piece or piece[0].isspace():
            count += 1
        elif piece[0].isascii() and piece[0].isalpha():
            # Mixed case inside a word (base64, hashes, camelCase) splits into short tokens.
            per_token = MIXED_CASE_LETTERS_PER_TOKEN if _MIXED_CASE.search(piece) else LETTERS_PER_TOKEN
            count += -(-len(piece) // per_token)
        elif piece[0].isdigit():
            count += 1
        else:
            non_ascii = sum(1 for char in piece if not char.isascii())
            count += -(-(len(piece) - non_ascii) // PUNCTUATION_PER_TOKEN) + non_ascii
    return count


def estimate_tokens(text: str) -> int:
    """A conservative (rather high than low) estimate of how many tokens `text` costs."""
    if not text:
        return 0
    return math.ceil(raw_token_count(text) * SAFETY_FACTOR)

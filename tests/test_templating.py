"""Finding Jinja in SQL: the same spans as the obvious lazy regex, without its quadratic rescans."""

from __future__ import annotations

import random
import re

from generator.sql.templating import jinja_spans, untemplate

# What untemplate used to match with: right, but it rescans to the end of the text from every
# opener that has no closer (a hand-written model of 100 KB of `{{}x}` took minutes).
LAZY = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
PIECES = ["{", "}", "%", "#", "x", "\n", "{{", "}}", "{%", "%}", "{#", "#}", "{{ ref('a') }}"]


def test_jinja_spans_are_the_lazy_regex_matches():
    rng = random.Random(20261204)
    for _ in range(5_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        assert list(jinja_spans(text)) == [m.span() for m in LAZY.finditer(text)], text


def test_openers_without_closers_cost_one_search_each_kind():
    # 20,000 `{{` with no `}}` after them: the regex searched to the end 20,000 times.
    searched = []

    class Counting(str):
        def find(self, sub, *args):
            searched.append(sub)
            return str.find(self, sub, *args)

    list(jinja_spans(Counting("select 1 " + "{{}x}" * 20_000)))
    assert searched.count("}}") == 1


def test_untemplate_still_finds_calls_and_refuses_other_jinja():
    templated, problems = untemplate("select * from {{ ref('orders') }} {% if x %}")
    assert [call.text for call in templated.calls] == ["{{ ref('orders') }}"]
    assert [p.message for p in problems] == ["Jinja statements ({% ... %}) are not allowed in a proposal"]

"""The libyaml scan in `yaml_problems` decides exactly as the ruamel round-trip check does.

The scan only ever answers "certainly clean"; everything else takes the full check, which
locates the problem. These files are the cases where the two YAML readers differ (YAML 1.1
booleans, duplicate and merge keys, custom tags, several documents) or where a value renders.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.write import inert

REPO = Path(__file__).resolve().parents[1]

CASES = {
    "clean": "version: 2\nmodels:\n  - name: m\n    description: plain text\n",
    "escaped constant": "models:\n  - name: m\n    description: \"{{ 'a {{ b' }}\"\n",
    "live jinja": "models:\n  - name: m\n    description: \"{{ env_var('X') }}\"\n",
    "jinja in a key": 'models:\n  - name: m\n    meta: {"{{ x }}": 1}\n',
    "test argument call": "models:\n  - name: m\n    data_tests:\n      - t: {arguments: {e: \"env_var('X')\"}}\n",
    "resolved ref argument": "models:\n  - name: m\n    data_tests:\n      - r: {arguments: {to: \"ref('x')\"}}\n",
    "yaml 1.1 boolean key": "on: {{ x }}\n",
    "boolean key, clean": "on: 1\nyes: 2\n",
    "duplicate keys": "a: 1\na: 2\n",
    "merge key": "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",
    "custom tag": "a: !custom '{{ x }}'\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "not yaml": "a: [1, 2\n",
    "empty": "",
    "version description twice": "models:\n- name: m\n  versions:\n  - v: 1\n    description: \"{{ 'x' }}\"\n",
}


def full_check(text: str) -> list:
    """yaml_problems without the scan: the ruamel round trip for every file."""
    original = inert.certainly_clean
    try:
        inert.certainly_clean = lambda text: False
        return inert.yaml_problems(text, "f.yml")
    finally:
        inert.certainly_clean = original


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_fast_scan_agrees_with_the_round_trip_check(name):
    text = CASES[name]
    assert inert.yaml_problems(text, "f.yml") == full_check(text)


def test_the_fast_scan_clears_the_sample_projects_generated_yaml():
    for path in sorted((REPO / "models").rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        assert inert.certainly_clean(text) == (full_check(text) == []), path

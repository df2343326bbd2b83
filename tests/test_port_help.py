"""`gen-model port --help` lists what the port refuses from the rule table itself."""

from __future__ import annotations

from click.testing import CliRunner

from generator.cli import cli
from generator.port.rules import RULES


def test_port_help_lists_every_rule_of_the_table():
    result = CliRunner().invoke(cli, ["port", "--help"])
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())  # click wraps the paragraph: compare it unwrapped
    assert all(rule.construct for rule in RULES), "every rule says what it refuses"
    missing = [rule.name for rule in RULES if rule.construct not in shown]
    assert not missing, f"port --help does not list {missing}:\n{result.output}"
    assert "series whose start may be past their stop" in shown  # port:series_bounds, once left out
    assert "{refused}" not in shown


def test_port_help_follows_the_table(monkeypatch):
    from generator.port import rules

    class Extra(rules.PortRule):
        name = "extra"
        construct = "a construct added to the table"

    monkeypatch.setattr(rules, "RULES", (*rules.RULES, Extra()))
    result = CliRunner().invoke(cli, ["port", "--help"])
    assert "a construct added to the table" in " ".join(result.output.split())

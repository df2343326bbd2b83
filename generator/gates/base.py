"""The gate framework: linter-style rules run in a fixed order over one shared context.

Each rule's docstring is its one-line summary (shown in `gen-model --help`-style listings
and reports). A rule reports *every* problem it finds; a rule whose prerequisites failed
is skipped, so one bad reference does not drown the report in follow-on errors.

The context the rules read and fill in (`GateContext`) lives in `generator.sql.context`,
below the rules, so the SQL analysis it feeds does not depend on the rule framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from generator.errors import Problem
from generator.sql.context import GateContext


class Rule:
    """Base class: subclasses set `name`, maybe `requires`, and implement `check`."""

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]

    def check(self, ctx: GateContext) -> list[Problem]:
        raise NotImplementedError


@dataclass(frozen=True)
class GateOutcome:
    name: str
    summary: str
    status: str  # passed | failed | skipped
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class GateReport:
    outcomes: tuple[GateOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(outcome.status == "passed" for outcome in self.outcomes)

    @property
    def problems(self) -> list[Problem]:
        return [problem for outcome in self.outcomes for problem in outcome.problems]

    def format(self) -> str:
        """Every problem, one block each, in gate order."""
        return "\n".join(problem.format() for problem in self.problems)


def run_gates(ctx: GateContext, rules: tuple[Rule, ...]) -> GateReport:
    """Run `rules` in order; a rule whose prerequisites did not pass is skipped."""
    status: dict[str, str] = {}
    outcomes = []
    for rule in rules:
        if any(status.get(name) != "passed" for name in rule.requires):
            status[rule.name] = "skipped"
            outcomes.append(GateOutcome(rule.name, rule.summary(), "skipped"))
            continue
        problems = tuple(rule.check(ctx))
        status[rule.name] = "failed" if problems else "passed"
        outcomes.append(GateOutcome(rule.name, rule.summary(), status[rule.name], problems))
    return GateReport(tuple(outcomes))

"""The hollow-test gate: a derived test is kept only if it is shown able to fail.

A system that writes its own tests passes them by construction, so every candidate is
run twice in the sandbox, exactly as dbt would run it (generator.testgen.testsql):

  1. on the real result (the dry run's table): it must pass, else it is dropped as
     "fails on the real data";
  2. on a corrupted copy of that result, corrupted for the test's kind: it must fail,
     else it is dropped as "cannot fail".

Corruptions, one defect each, on one deterministically chosen row (the first in the order
of all columns) of a fresh copy of the result (each kind's are in its module of
generator.testgen.kinds):

  not_null, not_null_proportion   the value set to null (every row, for a proportion)
  unique, unique_combination      the row duplicated
  accepted_values                 a value outside the set ('__gen_model_unexpected__' for
                                  text, one above the largest accepted number)
  relationships                   a value without a parent ('__gen_model_orphan__', or one
                                  above the parent's largest key)
  accepted_range                  the value pushed one below the lower bound (or one above
                                  the upper bound; onto the bound when exclusive)
  expression_is_true              each referenced column in turn pushed above its largest
                                  absolute value, below its negation, negated (booleans)
                                  or suffixed (text) until the expression is false
  equal_rowcount                  one row deleted
  fewer_rows_than                 rows duplicated until there are more than the input's
  row_count_between               rows deleted down to one under the minimum, or
                                  duplicated up to one over the maximum

A test that no corruption makes fail (a tautology, an unbounded range) is hollow.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.project.sandbox import RESULT_TABLE, SandboxQueryError
from generator.testgen.datatests import DataTest
from generator.testgen.kinds import KINDS
from generator.testgen.kinds.base import CORRUPTED_TABLE, Copy, Corruptions, Resolver
from generator.testgen.testsql import NotMirrored, canonical_name, count_failures


@dataclass(frozen=True)
class Verdict:
    """What the gate found out about one test."""

    test: DataTest
    kept: bool
    real_failures: int | None
    corruption: str | None  # the corruption that made it fail, or the ones tried
    corrupted_failures: int | None
    why: str = ""  # why it was dropped

    def to_dict(self) -> dict:
        return {
            "test": self.test.describe(),
            "name": self.test.name,
            "column": self.test.column,
            "arguments": dict(self.test.arguments),
            "reason": self.test.reason,
            "why": self.why,
        }


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """Ways to break the result so that `test` should fail: (description, statements).
    Each kind knows its own (generator.testgen.kinds); a test of no known kind has none."""
    kind = KINDS.get(canonical_name(test.name))
    if kind is not None:
        yield from kind.corruptions(test, copy, resolve)


def check_test(
    sandbox,
    test: DataTest,
    resolve: Resolver,
    *,
    source: str = RESULT_TABLE,
    copy: Copy | None = None,
    timeout_s: float | None = None,
) -> Verdict:
    """Run one test on the real result and on corrupted copies; say whether it can fail."""
    try:
        real = count_failures(sandbox, test, source, resolve, timeout_s)
    except NotMirrored as error:
        return Verdict(test, False, None, None, None, f"cannot be checked: {error}")
    except SandboxQueryError as error:
        return Verdict(test, False, None, None, None, f"does not run: {error.summary}")
    if real:
        return Verdict(test, False, real, None, None, f"fails on the real data ({real:,} failures)")
    copy = copy or Copy(sandbox, source, timeout_s)
    tried = []
    for description, statements in corruptions(test, copy, resolve):
        try:
            copy.fresh()
            for statement in statements:
                sandbox.execute(statement, timeout_s=timeout_s)
            failures = count_failures(sandbox, test, CORRUPTED_TABLE, resolve, timeout_s)
        except SandboxQueryError as error:
            # The column's type refuses the defect (-1 in an unsigned column): no data this
            # model can hold breaks the test that way.
            tried.append(f"{description} (impossible: {error.summary.split(':')[0]})")
            continue
        if failures:
            return Verdict(test, True, 0, description, failures)
        tried.append(f"{description} (still passes)")
    why = "cannot fail: " + ("; ".join(tried) if tried else "no defect in the result can break it")
    return Verdict(test, False, 0, "; ".join(tried) or None, 0, why)


def hollow_gate(
    sandbox, tests: list[DataTest], resolve: Resolver, *, source: str = RESULT_TABLE, timeout_s: float | None = None
) -> tuple[list[DataTest], list[Verdict]]:
    """Keep the tests that pass on the result and fail on its corruption; the verdicts of all."""
    copy = Copy(sandbox, source, timeout_s)
    verdicts = [check_test(sandbox, test, resolve, source=source, copy=copy, timeout_s=timeout_s) for test in tests]
    try:
        sandbox.execute(f"drop table if exists {CORRUPTED_TABLE}")
    except SandboxQueryError:
        pass
    return [v.test for v in verdicts if v.kept], verdicts

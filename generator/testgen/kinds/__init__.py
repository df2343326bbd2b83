"""One module per data test kind: how its failing rows are rendered, how it is shown able to fail.

Each module states, for one test (dbt's own four, the package's macros/generic_tests/):

  NAME          the canonical test name (`not_null`, `gen_model.accepted_range`)
  failing_rows  the rows its macro returns, rendered exactly as the macro renders them
                (generator.testgen.testsql runs them in the sandbox without dbt)
  corruptions   the defects of the result that should make it fail, for the hollow-test
                gate (generator.testgen.hollow)
  FAIL_CALC     what dbt counts as failures, where the macro sets it (else count(*))
  IGNORED_ARGUMENTS, covered_by
                optional: arguments that do not change what a test states, and the
                other tests that state it already (generator.testgen.existing)
  derive        where a kind has a derivation of its own (generator.testgen.derive runs
                it per column, in derive.COLUMN_KINDS): the tests of that kind the SQL,
                the upstream tests or the data give evidence for

Adding a kind is one module here and one line in KINDS (and tests/test_testsql.py proves
the rendering against dbt).
"""

from __future__ import annotations

from types import ModuleType

from generator.testgen.kinds import (
    accepted_range,
    accepted_values,
    equal_rowcount,
    expression_is_true,
    fewer_rows_than,
    not_null,
    not_null_proportion,
    relationships,
    row_count_between,
    unique,
    unique_combination_of_columns,
)

# The order is the order tests/test_testsql.py lists them in; a kind not here is not mirrored.
KINDS: dict[str, ModuleType] = {
    kind.NAME: kind
    for kind in (
        not_null,
        unique,
        accepted_values,
        relationships,
        unique_combination_of_columns,
        accepted_range,
        expression_is_true,
        equal_rowcount,
        fewer_rows_than,
        not_null_proportion,
        row_count_between,
    )
}

DEFAULT_FAIL_CALC = "count(*)"


def fail_calc(name: str) -> str:
    """What dbt counts as the failures of test `name` (canonical): the macro's config, or count(*)."""
    return getattr(KINDS.get(name), "FAIL_CALC", DEFAULT_FAIL_CALC)

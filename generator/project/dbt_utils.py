"""dbt_utils in place of the gen_model package: a project that installs dbt_utils needs no `init`.

Most of gen_model's generic tests are dbt_utils' tests of the same name, taking the same
arguments and failing on the same rows (macros/generic_tests/README.md). When a project
has dbt_utils and not gen_model, the generated YAML names dbt_utils' tests, which people
there already know, and nothing is vendored. A test dbt_utils does not have
(`row_count_between`), or one that means something else there (dbt_utils'
`fewer_rows_than` fails on equal counts, gen_model's only when `strict`), stays
gen_model's: such a model needs `gen-model init` after all, and `require_tests_package`
says so before anything is written.

A project with gen_model installed keeps gen_model's names, dbt_utils or not: its
generated files do not change.

A project's own dbt_utils tests of SAME_TESTS are run in the sandbox (`gen-model mutate`,
through generator.testgen.testsql) as dbt_utils' macros render them, which is not always
gen_model's SQL: `failing_rows` and `fail_calc` below. tests/test_dbt_utils_mirror.py proves
the rendering against dbt's compiled SQL of the package tests install (tests/fixtures/dbt_utils,
dbt_utils 1.x's SQL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from generator.project.catalog import Catalog
from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import Resolver, jinja_text

NAME = "dbt_utils"

# gen_model's test -> the arguments dbt_utils' macro of the same name takes (dbt_utils 1.x).
SAME_TESTS: dict[str, frozenset[str]] = {
    "unique_combination_of_columns": frozenset({"combination_of_columns", "quote_columns"}),
    "accepted_range": frozenset({"min_value", "max_value", "inclusive"}),
    "expression_is_true": frozenset({"expression"}),
    "not_null_proportion": frozenset({"at_least", "at_most"}),
    "equal_rowcount": frozenset({"compare_model"}),
    "fewer_rows_than": frozenset({"compare_model"}),
}


# dbt_utils' fewer_rows_than fails on equal row counts; gen_model's does only with `strict: true`.
# So only a strict one is the same test (written without the argument dbt_utils does not take).
STRICT_ONLY = frozenset({"fewer_rows_than"})


def installed_tests(macros) -> tuple[str, ...]:
    """The tests of SAME_TESTS that dbt_utils defines in a manifest's `macros`, sorted."""
    return tuple(sorted(name for name in SAME_TESTS if f"macro.{NAME}.test_{name}" in macros))


def _as_dbt_utils(test: DataTest, available: tuple[str, ...]) -> DataTest:
    if not test.name.startswith(f"{PACKAGE}."):
        return test
    macro = test.macro
    arguments = dict(test.arguments)
    if macro in STRICT_ONLY and arguments.pop("strict", False) is not True:
        return test
    if macro not in available or not set(arguments) <= SAME_TESTS[macro]:
        return test
    return replace(test, name=f"{NAME}.{macro}", arguments=arguments)


def as_gen_model(test: DataTest) -> DataTest:
    """`test` in gen_model's terms if it is one of dbt_utils' tests of SAME_TESTS (a strict
    fewer_rows_than for dbt_utils' one); unchanged otherwise. Tests already in a project's
    YAML are compared with derived ones this way, so a dbt_utils test counts as there."""
    package, _, macro = test.name.partition(".")
    if package != NAME or macro not in SAME_TESTS or not set(test.arguments) <= SAME_TESTS[macro]:
        return test
    arguments = dict(test.arguments)
    if macro in STRICT_ONLY:
        arguments["strict"] = True
    return replace(test, name=f"{PACKAGE}.{macro}", arguments=arguments)


def named_for_project(tests: list[DataTest], catalog: Catalog) -> list[DataTest]:
    """`tests` as the project's YAML should name them: dbt_utils' where it has the same test
    and gen_model is not installed; unchanged otherwise."""
    if catalog.has_package or not catalog.dbt_utils_tests:
        return list(tests)
    return [_as_dbt_utils(test, catalog.dbt_utils_tests) for test in tests]


def require_tests_package(tests: list[DataTest], catalog: Catalog, project) -> None:
    """Raise the missing-package error if a test still needs gen_model and it is not installed."""
    if catalog.has_package:
        return
    needing = sorted({test.name for test in tests if test.name.startswith(f"{PACKAGE}.")})
    if needing:
        from generator.errors import ConfigError
        from generator.write.package import missing_package_error

        error = missing_package_error(project)
        raise ConfigError(f"{error} The generated tests {', '.join(needing)} have no dbt_utils equivalent.")


# -- dbt_utils' tests as its macros render them --------------------------------------------------
#
# Each renderer prints what dbt_utils 1.x's macro prints (DuckDB's spelling; `dbt.type_numeric()`
# is numeric(28,6)), arguments the way Jinja prints them. `group_by_columns`, which counts per
# group, is not among SAME_TESTS' arguments: a test using it is not mirrored.


def _accepted_range(test: DataTest, relation: str, resolve: Resolver) -> str:
    # `> {{- "=" if inclusive }}`: Jinja's truthiness decides, and a null is never out of range
    # (`not null >= 0` is null, so not a failing row).
    lower, upper = test.arguments.get("min_value"), test.arguments.get("max_value")
    equal = "=" if test.arguments.get("inclusive", True) else ""
    column = jinja_text(test.column)
    conditions = "".join(
        f"\n        or not {column} {sign}{equal} {jinja_text(bound)}"
        for sign, bound in ((">", lower), ("<", upper))
        if bound is not None
    )
    return (
        f"with meet_condition as (\n    select * from {relation}\n),\n"
        f"validation_errors as (\n    select *\n    from meet_condition\n    where 1 = 2{conditions}\n)\n"
        "select * from validation_errors"
    )


def _expression_is_true(test: DataTest, relation: str, resolve: Resolver) -> str:
    prefix = "" if test.column is None else f"{test.column} "
    return f"select *\nfrom {relation}\nwhere not({prefix}{test.arguments.get('expression')})"


def _unique_combination_of_columns(test: DataTest, relation: str, resolve: Resolver) -> str:
    columns = test.arguments.get("combination_of_columns") or []
    if test.arguments.get("quote_columns"):
        columns = [f'"{column}"' for column in columns]  # dbt-duckdb's adapter.quote, which escapes nothing
    listed = ", ".join(jinja_text(column) for column in columns)
    return (
        f"with validation_errors as (\n    select {listed}\n    from {relation}\n"
        f"    group by {listed}\n    having count(*) > 1\n)\nselect * from validation_errors"
    )


def _not_null_proportion(test: DataTest, relation: str, resolve: Resolver) -> str:
    # A floating proportion compared with the bounds (gen_model's compares counts exactly), and
    # an empty model gives a null proportion, which fails nothing.
    at_least, at_most = test.arguments.get("at_least"), test.arguments.get("at_most", 1)
    return (
        "with validation as (\n    select\n"
        f"        sum(case when {test.column} is null then 0 else 1 end)\n"
        f"            / cast(count(*) as numeric(28,6)) as not_null_proportion\n    from {relation}\n),\n"
        "validation_errors as (\n    select not_null_proportion\n    from validation\n"
        f"    where not_null_proportion < {jinja_text(at_least)} or not_null_proportion > {jinja_text(at_most)}\n)\n"
        "select * from validation_errors"
    )


def _equal_rowcount(test: DataTest, relation: str, resolve: Resolver) -> str:
    compare = resolve(str(test.arguments["compare_model"]))
    return (
        f"with a as (\n    select count(*) as count_a from {relation}\n),\n"
        f"b as (\n    select count(*) as count_b from {compare}\n),\n"
        "final as (\n    select count_a, count_b, abs(count_a - count_b) as diff_count\n    from a cross join b\n)\n"
        "select * from final"
    )


def _fewer_rows_than(test: DataTest, relation: str, resolve: Resolver) -> str:
    # Equal counts fail with 1: what gen_model's does only when strict (STRICT_ONLY).
    compare = resolve(str(test.arguments["compare_model"]))
    return (
        f"with a as (\n    select count(*) as count_our_model from {relation}\n),\n"
        f"b as (\n    select count(*) as count_comparison_model from {compare}\n),\n"
        "counts as (\n    select count_our_model, count_comparison_model,\n        case\n"
        "            when count_our_model > count_comparison_model then count_our_model - count_comparison_model\n"
        "            when count_our_model = count_comparison_model then 1\n            else 0\n"
        "        end as row_count_delta\n    from a cross join b\n)\n"
        "select * from counts"
    )


RENDERERS: dict[str, Callable[[DataTest, str, Resolver], str]] = {
    "accepted_range": _accepted_range,
    "expression_is_true": _expression_is_true,
    "unique_combination_of_columns": _unique_combination_of_columns,
    "not_null_proportion": _not_null_proportion,
    "equal_rowcount": _equal_rowcount,
    "fewer_rows_than": _fewer_rows_than,
}

# The macros' `config(fail_calc=...)`; the others count the failing rows.
FAIL_CALC = {
    "equal_rowcount": "sum(coalesce(diff_count, 0))",
    "fewer_rows_than": "sum(coalesce(row_count_delta, 0))",
}


def mirrors(test: DataTest) -> bool:
    """Whether `test` is one of dbt_utils' tests of SAME_TESTS, with arguments its renderer knows."""
    package, _, macro = test.name.partition(".")
    return package == NAME and macro in RENDERERS and set(test.arguments) <= SAME_TESTS[macro]


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """The rows dbt_utils' macro returns for `test` (one `mirrors` accepts), `relation` tested."""
    return RENDERERS[test.macro](test, relation, resolve)


def fail_calc(test: DataTest) -> str:
    """What dbt counts as the failures of dbt_utils' `test` (its macro's config, else count(*))."""
    return FAIL_CALC.get(test.macro, "count(*)")


__all__ = [
    "NAME",
    "SAME_TESTS",
    "as_gen_model",
    "fail_calc",
    "failing_rows",
    "installed_tests",
    "mirrors",
    "named_for_project",
    "require_tests_package",
]

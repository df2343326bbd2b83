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
"""

from __future__ import annotations

from dataclasses import replace

from generator.project.catalog import Catalog
from generator.testgen.datatests import PACKAGE, DataTest

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


__all__ = ["NAME", "SAME_TESTS", "as_gen_model", "installed_tests", "named_for_project", "require_tests_package"]

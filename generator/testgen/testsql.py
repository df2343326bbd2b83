"""A data test as the SQL dbt runs for it, so tests can be run in the sandbox without dbt.

The hollow-test gate and the mutation runner execute tests thousands of times against
tables that exist only in the sandbox (a corrupted copy of a result, a mutant's result);
a dbt invocation per run would cost seconds each. So each test is rendered exactly
as its macro renders it: dbt's own four (dbt/include/global_project/macros/
generic_test_sql/), the package's (macros/generic_tests/) and the dbt_utils tests dbt_utils
stands in for gen_model's with (generator.project.dbt_utils), same SQL, same `where:`
subquery (get_where_subquery), same `fail_calc` (dbt's get_test_sql). Nothing is quoted
that the macros do not quote, and arguments are inlined the way Jinja prints them.

tests/test_testsql.py (tests/test_dbt_utils_mirror.py for dbt_utils) holds the mirror to the
macros: it compiles the same tests with dbt and compares failure counts on good and corrupted
data. A mirror that drifted would make the hollow gate lie, so a change to a macro must change
its kind's module (generator.testgen.kinds) too.
"""

from __future__ import annotations

from generator.project import dbt_utils
from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds import KINDS
from generator.testgen.kinds import fail_calc as kind_fail_calc
from generator.testgen.kinds.base import Resolver

# The tests this module can render (one module each in generator.testgen.kinds), besides
# dbt_utils' (generator.project.dbt_utils.mirrors); anything else is reported as not mirrored.
MIRRORED = tuple(KINDS)


class NotMirrored(ValueError):
    """A test whose SQL this module does not know (a custom or third-party test)."""


def canonical_name(name: str) -> str:
    """`dbt.not_null` -> `not_null`; `gen_model.x` stays; a bare package test gets its namespace."""
    if name.startswith("dbt."):
        return name[4:]
    if "." not in name and f"{PACKAGE}.{name}" in MIRRORED:
        return f"{PACKAGE}.{name}"
    return name


def is_mirrored(test: DataTest) -> bool:
    """Whether the test's SQL can be rendered here (its kind has a module, or dbt_utils' is known)."""
    return canonical_name(test.name) in MIRRORED or dbt_utils.mirrors(test)


def model_relation(test: DataTest, model: str) -> str:
    """`model` as the test sees it: dbt's get_where_subquery applies the `where:` config."""
    if test.where:
        return f"(select * from {model} where {test.where}) dbt_subquery"
    return model


def fail_calc(test: DataTest) -> str:
    """What dbt counts as the number of failures (the macros set it through config)."""
    if dbt_utils.mirrors(test):
        return dbt_utils.fail_calc(test)
    return kind_fail_calc(canonical_name(test.name))


def failing_rows_sql(test: DataTest, model: str, resolve: Resolver) -> str:
    """The test's failing rows (what its macro returns), with `model` as the tested relation."""
    kind = KINDS.get(canonical_name(test.name))
    # dbt_utils' tests render as its macros do, which is not always gen_model's SQL.
    render = dbt_utils.failing_rows if dbt_utils.mirrors(test) else getattr(kind, "failing_rows", None)
    if render is None:
        raise NotMirrored(f"{test.name} is not a test gen-model can run in its sandbox")
    return render(test, model_relation(test, model), resolve)


def failures_sql(test: DataTest, model: str, resolve: Resolver) -> str:
    """dbt's get_test_sql around the failing rows: one row, the number dbt reports."""
    return (
        f"select {fail_calc(test)} as failures\nfrom (\n{failing_rows_sql(test, model, resolve)}\n) dbt_internal_test"
    )


def count_failures(sandbox, test: DataTest, model: str, resolve: Resolver, timeout_s: float | None = None) -> int:
    """Run the test against `model` in the sandbox: how many failures dbt would report."""
    rows = sandbox.execute(failures_sql(test, model, resolve), timeout_s=timeout_s)
    return int(rows[0][0] or 0) if rows else 0


def catalog_resolver(catalog) -> Resolver:
    """Resolve `ref()`/`source()` argument strings against a catalog, as dbt renders them."""
    from generator.errors import GenModelError
    from generator.sql.context import resolve_call
    from generator.sql.templating import untemplate

    def resolve(text: str) -> str:
        templated, problems = untemplate("{{ " + text.strip() + " }}")
        call = templated.calls[0] if templated.calls and not problems else None
        relation = resolve_call(catalog, call) if call else None
        if relation is None:
            raise GenModelError(f"{text} does not name a relation of the project")
        # relation_name, in the helper SQL's (DuckDB's) spelling, without the database part
        # a Spark relation does not have (the Spark dry run transpiles it to `schema`.`name`).
        return ".".join(f'"{part}"' for part in (relation.database, relation.schema, relation.identifier) if part)

    return resolve

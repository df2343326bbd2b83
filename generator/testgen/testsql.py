"""A data test as the SQL dbt runs for it, so tests can be run in the sandbox without dbt.

The hollow-test gate and the mutation runner execute tests thousands of times against
tables that exist only in the sandbox (a corrupted copy of a result, a mutant's result);
a dbt invocation per run would cost seconds each. So each test is rendered here exactly
as its macro renders it: dbt's own four (dbt/include/global_project/macros/
generic_test_sql/) and the package's (macros/generic_tests/), same SQL, same `where:`
subquery (get_where_subquery), same `fail_calc` (dbt's get_test_sql). Nothing is quoted
that the macros do not quote, and arguments are inlined the way Jinja prints them.

tests/test_testsql.py holds the mirror to the macros: it compiles the same tests with dbt
and compares failure counts on good and corrupted data. A mirror that drifted would make
the hollow gate lie, so a change to a macro must change this module too.
"""

from __future__ import annotations

from collections.abc import Callable

from generator.testgen.datatests import PACKAGE, DataTest

# "ref('x')" / "source('a', 'b')" -> the relation dbt renders it to: "db"."schema"."x".
Resolver = Callable[[str], str]

# The tests this module can render; anything else is reported as not mirrored.
MIRRORED = (
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    f"{PACKAGE}.unique_combination_of_columns",
    f"{PACKAGE}.accepted_range",
    f"{PACKAGE}.expression_is_true",
    f"{PACKAGE}.equal_rowcount",
    f"{PACKAGE}.fewer_rows_than",
    f"{PACKAGE}.not_null_proportion",
    f"{PACKAGE}.row_count_between",
)


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
    return canonical_name(test.name) in MIRRORED


def jinja_text(value: object) -> str:
    """How `{{ value }}` prints a YAML value: Python's str(), True/False/None capitalised."""
    return str(value)


def model_relation(test: DataTest, model: str) -> str:
    """`model` as the test sees it: dbt's get_where_subquery applies the `where:` config."""
    if test.where:
        return f"(select * from {model} where {test.where}) dbt_subquery"
    return model


def fail_calc(test: DataTest) -> str:
    """What dbt counts as the number of failures (the macros set it through config)."""
    macro = canonical_name(test.name)
    if macro == f"{PACKAGE}.equal_rowcount":
        return "coalesce(sum(row_count_difference), 0)"
    if macro == f"{PACKAGE}.fewer_rows_than":
        return "coalesce(sum(excess_rows), 0)"
    return "count(*)"


def _bounds(lower: str | None, upper: str | None, column: str, inclusive: bool) -> str:
    parts = []
    if lower is not None:
        parts.append(f"{column} {'<' if inclusive else '<='} {lower}")
    if upper is not None:
        parts.append(f"{column} {'>' if inclusive else '>='} {upper}")
    return " or ".join(parts)


def failing_rows_sql(test: DataTest, model: str, resolve: Resolver) -> str:
    """The test's failing rows (what its macro returns), with `model` as the tested relation."""
    macro = canonical_name(test.name)
    args = test.arguments
    column = test.column
    relation = model_relation(test, model)
    if macro == "not_null":
        return f"select {column}\nfrom {relation}\nwhere {column} is null"
    if macro == "unique":
        return (
            f"select {column} as unique_field, count(*) as n_records\nfrom {relation}\n"
            f"where {column} is not null\ngroup by {column}\nhaving count(*) > 1"
        )
    if macro == "accepted_values":
        quote = args.get("quote", True)
        values = ",".join(f"'{jinja_text(v)}'" if quote else jinja_text(v) for v in args.get("values") or [])
        return (
            f"with all_values as (\n    select {column} as value_field, count(*) as n_records\n"
            f"    from {relation}\n    group by {column}\n)\n"
            f"select *\nfrom all_values\nwhere value_field not in ({values})"
        )
    if macro == "relationships":
        parent = resolve(str(args["to"]))
        return (
            f"with child as (\n    select {column} as from_field\n    from {relation}\n"
            f"    where {column} is not null\n),\n"
            f"parent as (\n    select {args['field']} as to_field\n    from {parent}\n)\n"
            "select from_field\nfrom child\nleft join parent\n    on child.from_field = parent.to_field\n"
            "where parent.to_field is null"
        )
    if macro == f"{PACKAGE}.unique_combination_of_columns":
        columns = args.get("combination_of_columns") or []
        if args.get("quote_columns"):
            columns = ['"' + str(c).replace('"', '""') + '"' for c in columns]
        listed = ", ".join(str(c) for c in columns)
        return f"select {listed}, count(*) as n_records\nfrom {relation}\ngroup by {listed}\nhaving count(*) > 1"
    if macro == f"{PACKAGE}.accepted_range":
        lower, upper = args.get("min_value"), args.get("max_value")
        inclusive = args.get("inclusive", True)
        condition = _bounds(
            None if lower is None else jinja_text(lower),
            None if upper is None else jinja_text(upper),
            str(column),
            inclusive is not False,
        )
        return f"select *\nfrom {relation}\nwhere\n    {condition}"
    if macro == f"{PACKAGE}.expression_is_true":
        prefix = f"{column} " if column is not None else ""
        return f"select *\nfrom {relation}\nwhere not ({prefix}{args['expression']})"
    if macro in (f"{PACKAGE}.equal_rowcount", f"{PACKAGE}.fewer_rows_than"):
        compare = resolve(str(args["compare_model"]))
        head = (
            f"with model_rows as (\n    select count(*) as row_count\n    from {relation}\n),\n"
            f"compare_model_rows as (\n    select count(*) as row_count\n    from {compare}\n)\n"
        )
        if macro.endswith("equal_rowcount"):
            return head + (
                "select model_rows.row_count as model_row_count,\n"
                "    compare_model_rows.row_count as compare_model_row_count,\n"
                "    abs(model_rows.row_count - compare_model_rows.row_count) as row_count_difference\n"
                "from model_rows\ncross join compare_model_rows\n"
                "where model_rows.row_count <> compare_model_rows.row_count"
            )
        strict = args.get("strict", False) is True
        return head + (
            "select model_rows.row_count as model_row_count,\n"
            "    compare_model_rows.row_count as compare_model_row_count,\n"
            "    case when model_rows.row_count > compare_model_rows.row_count\n"
            "        then model_rows.row_count - compare_model_rows.row_count else 1 end as excess_rows\n"
            "from model_rows\ncross join compare_model_rows\n"
            f"where model_rows.row_count {'>=' if strict else '>'} compare_model_rows.row_count"
        )
    if macro == f"{PACKAGE}.not_null_proportion":
        at_least, at_most = args.get("at_least"), args.get("at_most", 1)
        return (
            f"with counts as (\n    select count({column}) as non_null_rows, count(*) as total_rows\n"
            f"    from {relation}\n)\n"
            "select non_null_rows, total_rows,\n"
            "    cast(non_null_rows as numeric(28,6)) / total_rows as not_null_proportion\n"
            "from counts\nwhere total_rows > 0\n"
            f"    and (non_null_rows < {jinja_text(at_least)} * total_rows\n"
            f"        or non_null_rows > {jinja_text(at_most)} * total_rows)"
        )
    if macro == f"{PACKAGE}.row_count_between":
        lower, upper = args.get("min_value"), args.get("max_value")
        parts = []
        if lower is not None:
            parts.append(f"row_count < {jinja_text(lower)}")
        if upper is not None:
            parts.append(f"row_count > {jinja_text(upper)}")
        return (
            f"with counts as (\n    select count(*) as row_count\n    from {relation}\n)\n"
            f"select row_count\nfrom counts\nwhere\n    {' or '.join(parts)}"
        )
    raise NotMirrored(f"{test.name} is not a test gen-model can run in its sandbox")


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
        return relation.relation_name

    return resolve

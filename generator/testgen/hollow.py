"""The hollow-test gate: a derived test is kept only if it is shown able to fail.

A system that writes its own tests passes them by construction, so every candidate is
run twice in the sandbox, exactly as dbt would run it (generator.testgen.testsql):

  1. on the real result (the dry run's table): it must pass, else it is dropped as
     "fails on the real data";
  2. on a corrupted copy of that result, corrupted for the test's kind: it must fail,
     else it is dropped as "cannot fail".

Corruptions, one defect each, on one deterministically chosen row (the first in the order
of all columns) of a fresh copy of the result:

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

from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp, parse_one

from generator.project.sandbox import RESULT_TABLE, SandboxQueryError
from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.testsql import (
    NotMirrored,
    Resolver,
    canonical_name,
    count_failures,
    jinja_text,
)

CORRUPTED_TABLE = "gen_model_corrupted"
UNEXPECTED_TEXT = "__gen_model_unexpected__"
ORPHAN_TEXT = "__gen_model_orphan__"


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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _numeric(data_type: str) -> bool:
    return any(word in data_type for word in ("int", "decimal", "numeric", "double", "float", "real")) and (
        not data_type.endswith("]")
    )


def _text(data_type: str) -> bool:
    return data_type.startswith("varchar") or data_type == "text"


def _temporal(data_type: str) -> bool:
    return data_type.startswith(("date", "timestamp", "time"))


class Copy:
    """The corrupted copy: a fresh temp table with the result's rows for each attempt."""

    def __init__(self, sandbox, source: str, timeout_s: float | None):
        self.sandbox = sandbox
        self.source = source
        self.timeout_s = timeout_s
        rows = sandbox.execute(f"describe {source}")
        self.types = {row[0].lower(): row[1].lower() for row in rows}
        self.names = [row[0] for row in rows]
        self.order = ", ".join(_quote(name) for name in self.names)

    def fresh(self) -> None:
        self.sandbox.execute(
            f"create or replace temp table {CORRUPTED_TABLE} as select * from {self.source}",
            timeout_s=self.timeout_s,
        )

    def first_row(self, condition: str = "true") -> str:
        """A predicate picking one row, the same one on every run."""
        return (
            f"rowid = (select rowid from {CORRUPTED_TABLE} where {condition} order by {self.order} nulls last limit 1)"
        )

    def type_of(self, column: str | None) -> str:
        return self.types.get((column or "").lower(), "")

    def count(self) -> int:
        return int(self.sandbox.execute(f"select count(*) from {CORRUPTED_TABLE}")[0][0])


def _duplicate(copy: Copy, condition: str = "true", times: int = 1) -> list[str]:
    return [
        f"insert into {CORRUPTED_TABLE} select picked.* from ("
        f"select * from {CORRUPTED_TABLE} where {copy.first_row(condition)}) as picked, range({int(times)})"
    ]


def _set(copy: Copy, column: str, value: str, condition: str = "true") -> list[str]:
    return [f"update {CORRUPTED_TABLE} set {_quote(column)} = {value} where {copy.first_row(condition)}"]


def _literal_of(value: object) -> str:
    text = jinja_text(value)
    return text


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Iterator[tuple[str, list[str]]]:  # noqa: C901 - one corruption per test kind; to become one module per kind (issue: testgen/)
    """Ways to break the result so that `test` should fail: (description, statements)."""
    macro = canonical_name(test.name)
    args = test.arguments
    column = test.column
    kind = copy.type_of(column)
    quoted = _quote(column) if column else None
    if macro == "not_null":
        yield f"set {column} to null in one row", _set(copy, column, "null", f"{quoted} is not null")
    elif macro == "unique":
        yield f"duplicate a row with a {column}", _duplicate(copy, f"{quoted} is not null")
    elif macro == f"{PACKAGE}.unique_combination_of_columns":
        yield "duplicate a row", _duplicate(copy)
    elif macro == "accepted_values":
        values = [jinja_text(v) for v in args.get("values") or []]
        if _text(kind):
            outside = UNEXPECTED_TEXT
            while outside in values:
                outside += "_"
            yield f"set {column} to '{outside}' in one row", _set(copy, column, f"'{outside}'")
        elif _numeric(kind):
            try:
                numbers = [float(v) for v in values]
            except ValueError:
                return
            outside = int(max(numbers, default=0)) + 1
            yield f"set {column} to {outside} in one row", _set(copy, column, str(outside))
    elif macro == "relationships":
        parent = resolve(str(args["to"]))
        field = args["field"]
        if _text(kind):
            yield f"set {column} to '{ORPHAN_TEXT}' (no parent) in one row", _set(copy, column, f"'{ORPHAN_TEXT}'")
        elif _numeric(kind):
            yield (
                f"set {column} to one above {parent}'s largest {field} in one row",
                _set(copy, column, f"(select coalesce(max({field}), 0) + 1 from {parent})"),
            )
        elif _temporal(kind):
            yield (
                f"set {column} to a day after {parent}'s latest {field} in one row",
                _set(copy, column, f"(select max({field}) + interval 1 day from {parent})"),
            )
    elif macro == f"{PACKAGE}.accepted_range":
        inclusive = args.get("inclusive", True) is not False
        lower, upper = args.get("min_value"), args.get("max_value")
        step = "interval 1 day" if _temporal(kind) else "1"
        if lower is not None:
            value = f"({_literal_of(lower)}) - {step}" if inclusive else f"({_literal_of(lower)})"
            yield f"set {column} below the lower bound ({value}) in one row", _set(copy, column, value)
        if upper is not None:
            value = f"({_literal_of(upper)}) + {step}" if inclusive else f"({_literal_of(upper)})"
            yield f"set {column} above the upper bound ({value}) in one row", _set(copy, column, value)
    elif macro == f"{PACKAGE}.expression_is_true":
        expression = f"{column} {args['expression']}" if column else str(args["expression"])
        yield from _expression_corruptions(copy, expression)
    elif macro == f"{PACKAGE}.equal_rowcount":
        yield "delete one row", [f"delete from {CORRUPTED_TABLE} where {copy.first_row()}"]
    elif macro == f"{PACKAGE}.fewer_rows_than":
        compare = resolve(str(args["compare_model"]))
        strict = args.get("strict", False) is True
        inputs = int(copy.sandbox.execute(f"select count(*) from {compare}")[0][0])
        extra = inputs - copy.count() + (0 if strict else 1)
        if extra > 0:
            yield (
                f"duplicate rows until there are {inputs + (0 if strict else 1):,} (the input has {inputs:,})",
                (_duplicate(copy, times=extra)),
            )
    elif macro == f"{PACKAGE}.row_count_between":
        lower, upper = args.get("min_value"), args.get("max_value")
        rows = copy.count()
        if lower is not None and int(lower) >= 1:
            keep = int(lower) - 1
            yield (
                f"delete rows down to {keep}",
                [
                    f"delete from {CORRUPTED_TABLE} where rowid not in "
                    f"(select rowid from {CORRUPTED_TABLE} order by {copy.order} limit {keep})"
                ],
            )
        if upper is not None and rows > 0:
            extra = int(upper) + 1 - rows
            if extra > 0:
                yield f"duplicate rows up to {int(upper) + 1}", _duplicate(copy, times=extra)
    elif macro == f"{PACKAGE}.not_null_proportion":
        at_least, at_most = args.get("at_least", 0), args.get("at_most", 1)
        if float(at_least) > 0:
            yield f"set {column} to null in every row", [f"update {CORRUPTED_TABLE} set {quoted} = null"]
        if float(at_most) < 1:
            yield (
                f"give every row a {column}",
                [
                    f"update {CORRUPTED_TABLE} set {quoted} = (select {quoted} from {CORRUPTED_TABLE} "
                    f"where {quoted} is not null order by 1 limit 1)"
                ],
            )


def _expression_corruptions(copy: Copy, expression: str) -> Iterator[tuple[str, list[str]]]:
    try:
        tree = parse_one(expression, read="duckdb")
    except Exception:
        return
    names = list(dict.fromkeys(column.name for column in tree.find_all(exp.Column)))
    condition = f"coalesce(({expression}), false)"
    for name in names:
        kind = copy.type_of(name)
        if not kind:
            continue
        quoted = _quote(name)
        if _numeric(kind):
            big = f"(select coalesce(max(abs({quoted})), 0) + 1 from {CORRUPTED_TABLE})"
            yield (
                f"raise {name} above its largest absolute value in one row",
                _set(copy, name, f"{quoted} + {big}", condition),
            )
            yield (
                f"lower {name} below minus its largest absolute value in one row",
                _set(copy, name, f"{quoted} - {big}", condition),
            )
        elif kind == "boolean":
            yield f"negate {name} in one row", _set(copy, name, f"not {quoted}", condition)
        elif _text(kind):
            yield f"append text to {name} in one row", _set(copy, name, f"{quoted} || '{UNEXPECTED_TEXT}'", condition)
        elif _temporal(kind):
            yield (
                f"move {name} 10000 days later in one row",
                _set(copy, name, f"{quoted} + interval 10000 day", condition),
            )
            yield (
                f"move {name} 10000 days earlier in one row",
                _set(copy, name, f"{quoted} - interval 10000 day", condition),
            )


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

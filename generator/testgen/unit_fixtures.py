"""Unit tests for a model: a few real input rows, and the rows the accepted SQL makes of them.

A dbt unit test (`unit_tests:`) gives each input of the model a handful of rows and states
the rows the model must return for them. gen-model writes one per generated model:

  given   rows copied from the warehouse, at most 20 per input, only the columns the SQL
          reads. They are chosen deterministically, in three steps:
            1. candidate blocks: a seed row of one input (evenly spaced rows, each input
               column's minimum, maximum and first null, the first row of each value of a
               low-cardinality column, a key without a partner in the joined input, a
               key seen twice) plus the rows of the other inputs it joins to (the join
               keys are read from the SQL), so that joins match;
            2. semantic coverage, within budget, each the cheapest candidate that changes
               the expected rows: a row for every value of a column the SQL compares with
               text literals (named or not); rows at month and week boundaries, in the
               hours where time zones disagree, of every date or timestamp it truncates,
               compares or shifts; a twin (a row copied with a fresh key, its children
               in the other inputs copied with it) for an input it groups, so one group
               has two children of one kind;
            3. for each mutant of the SQL (generator.testgen.mutate: a dropped filter, another join
               type, a flipped boundary, another aggregate...), in order: if the rows
               chosen so far do not already tell it apart from the accepted SQL, the
               smallest set of candidate blocks that does (delta debugging) is added, as
               long as every input stays within its row budget; when no candidate does,
               rows that join the groups already there (a rate's 3/7, not 1/2); a sibling
               column read instead (column-swap) that the full budget has no room for
               trades one row of its input for a row where the two columns disagree;
            4. the final rows re-checked: rows added later can take the meaning of earlier
               ones away (a later invoice moves the data's end), so each mutant told apart
               and each coverage class of step 2 must still change the expected rows on the
               final rows; the fewest rows that make a class hold again are added (within
               budget, keeping every mutant told apart), and what no rows keep is not claimed.
          So the rows a filter must drop, a null, a duplicate key, an unmatched join key are
          in the fixture exactly when the logic depends on them.
  expect  the accepted SQL run in the sandbox on exactly the fixture dbt will build: each
          given value cast from its YAML text to the input column's type, the expected
          values cast to the result's types, compared as dbt compares them (as sorted
          multisets of rows).

Running a unit test (its fixtures loaded, the model or a mutant run on them, the rows
compared as dbt compares them) is generator.testgen.unit_runner's; this module searches.

Values are written as DuckDB's own text for them (cast to varchar), which casts back to
the same value: decimals, dates, timestamps with their offset, lists; integers and
booleans stay YAML numbers and booleans; null is null.

The search is three modules: `fixture_inputs` (what the SQL and the catalog say about the
inputs: columns read, keys, joins, parents, the columns a class of rows is about),
`fixture_search` (`FixtureSearch`: the sandbox tables, candidate rows, and every question
about what a query returns on a choice of rows) and `fixture_chooser` (`choose_rows`: the
steps above). This module builds the unit test from their choice.
"""

from __future__ import annotations

from generator.project.sandbox import RESULT_TABLE, SandboxQueryError
from generator.sql.context import GateContext
from generator.testgen.fixture_chooser import MAX_EXPECT_ROWS, MAX_ROWS_PER_INPUT, FixtureChoice, choose_rows, ddmin
from generator.testgen.fixture_inputs import (
    bounded_columns,
    constraint_violations,
    is_bare_predicate,
    read_columns,
    relation_of_input,
)
from generator.testgen.fixture_search import EXPANSION, FixtureSearch
from generator.testgen.unit_runner import (
    FixtureRunner,
    GivenInput,
    UnitTest,
    rendered_rows,
    unit_test_name,
)


def build_unit_test(
    ctx: GateContext,
    mutants,
    *,
    model: str,
    version: int | None,
    timeout_s: float | None = None,
) -> tuple[UnitTest | None, FixtureChoice | None, str | None]:
    """The unit test for the accepted SQL in `ctx` (sandbox open), or None and why not."""
    if ctx.tree is None or not ctx.relations or ctx.sandbox is None:
        return None, None, "no parsed SQL or no inputs: no unit test"
    search = FixtureSearch(ctx, timeout_s=timeout_s)
    try:
        search.setup()
        choice = choose_rows(search, mutants, result_table=RESULT_TABLE if ctx.result is not None else None)
        given = []
        for item in search.inputs:
            rows = choice.picks.get(item.index, [])
            columns = [(c.name, c.data_type or "varchar") for c in item.relation.columns if c.name in item.read]
            if rows:
                table = f"({FixtureSearch.rows_sql(item, rows, f'select * from {item.source}')})"
                rendered = rendered_rows(search.sandbox, table, columns, order="gm_row")
            else:
                rendered = []
            given.append(GivenInput(item.text, tuple(rendered)))
    except SandboxQueryError as error:
        return None, None, f"no unit test: choosing its rows failed: {error.summary}"
    finally:
        search.teardown()
    twins = search.copied_rows(choice.picks)
    problems = constraint_violations(given, {item.text: item.relation for item in search.inputs})
    if problems:
        return None, choice, "no unit test: its rows would break a test of its inputs: " + "; ".join(problems[:3])
    draft = UnitTest(unit_test_name(model, version), model, tuple(given), (), version)
    runner = FixtureRunner(ctx.sandbox, ctx, draft, 0)
    try:
        if not runner.usable:
            return None, choice, runner.problem
        try:
            columns = runner.run(ctx.tree, f"{runner.prefix}_original")
        except SandboxQueryError as error:
            return None, choice, f"no unit test: the model does not run on the chosen rows: {error.summary}"
        expect = rendered_rows(ctx.sandbox, f"{runner.prefix}_original", columns)
    finally:
        runner.close()
    killed = len(choice.killed)
    inputs = ", ".join(f"{len(g.rows)} row(s) of {g.input}" for g in given)
    copied = f"; {twins} of them a copy of another with a new key (a second child of one kind)" if twins else ""
    boundaries = (
        f", rows at {len(choice.boundaries)} month or week boundaries (in the hours where time zones disagree) "
        "of the dates it truncates or compares"
        if choice.boundaries
        else ""
    )
    description = (
        f"Pins the reviewed logic: {inputs}, real rows from the warehouse (each with its parent rows, "
        f"no unique key twice{copied}): every value of a filtered column{boundaries}, then rows that make "
        f"{killed} plausible changes to the SQL change the expected rows; expected = the accepted SQL run on them."
    )
    unit_test = UnitTest(draft.name, model, tuple(given), tuple(expect), version, description)
    # The expected rows must be what dbt computes from the YAML values: check it once.
    check = FixtureRunner(ctx.sandbox, ctx, unit_test, 1)
    try:
        problem = check.check_original(ctx.tree)
    finally:
        check.close()
    if problem:
        return None, choice, problem
    return unit_test, choice, None


# The unit test's API, and the names its parts are known by (tests, generator.testgen.twin).
__all__ = [
    "EXPANSION",
    "MAX_EXPECT_ROWS",
    "MAX_ROWS_PER_INPUT",
    "FixtureChoice",
    "FixtureSearch",
    "bounded_columns",
    "build_unit_test",
    "choose_rows",
    "constraint_violations",
    "ddmin",
    "is_bare_predicate",
    "read_columns",
    "relation_of_input",
    "unit_test_name",
]

"""The row search's questions to DuckDB: candidate rows, and what a query returns on them.

`FixtureSearch` copies each input's rows into the sandbox once (`setup`), then answers the
chooser's questions about choices of rows (a choice is the gm_row numbers picked per
input): the seeds and candidate blocks (a row with the rows of the other inputs it joins
to), the rows of each coverage class, and what the accepted SQL or a mutant returns on a
choice, remembered, batched many choices to a statement (`prefetch`), read as fingerprints
where the columns allow (`fingerprinted`). The helpers below it compute on choices.
Which rows to choose is `generator.testgen.fixture_chooser`'s (overview:
`generator.testgen.unit_fixtures`).
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable

from sqlglot import exp

from generator.project.sandbox import SandboxQueryError
from generator.sql.context import GateContext
from generator.sql.runnable import runnable_sql
from generator.testgen.coverage import (
    disagreement,
)
from generator.testgen.fixture_inputs import (
    NUMERIC_TYPES,
    FixtureInput,
    JoinEdge,
    bounded_columns,
    categorical_columns,
    is_temporal,
    join_edges,
    nullable,
    parent_links,
    pass_through_columns,
    read_columns,
    temporal_columns,
    unique_keys,
)
from generator.testgen.kinds.base import quote
from generator.testgen.unit_runner import (
    placeholders_by_input,
)

BLOCK_ROWS_PER_INPUT = 6
EXPANSION = 3  # rows of a joined input added per key value
EVENLY_SPACED = 8
MAX_DISTINCT_SEEDS = 12
MAX_SEEDS = 96
SOURCE_ROW_LIMIT = 200_000
COVERAGE_CANDIDATES = 6  # rows tried for each value or boundary to cover
MATE_ROWS = 32  # rows tried to grow the fixture's groups when no candidate tells a mutant apart
CHILD_COPY_DEPTH = 2  # generations of children copied with a twin (its orders, their payments)
PREFETCH_BATCH = 64  # choices of rows one statement runs a query on (FixtureSearch.prefetch)
# A boundary row is taken within this many seconds of midnight when there is one: a shift
# of 5 hours (New York, Bogota, Lima from UTC) moves it across.
NEAR_MIDNIGHT_S = 5 * 3600
# Boundary classes of a date or timestamp the SQL truncates or compares: (what, condition
# on a timestamp read in UTC, condition on a date). Time zones west of UTC (the Americas,
# 3-10 hours behind) put the first hours of a UTC day in the day before; zones east of it
# (Europe to Asia, 1-10 hours ahead) put its last hours in the day after.
BOUNDARIES = (
    (
        "first hours of a month (UTC)",
        "extract(day from {v}) = 1 and extract(hour from {v}) < 10",
        "extract(day from {v}) = 1",
    ),
    (
        "last hours of a month (UTC)",
        "extract(day from {v} + interval '1' day) = 1 and extract(hour from {v}) >= 14",
        "extract(day from {v} + interval '1' day) = 1",
    ),
    (
        "first hours of a week (Monday, UTC)",
        "isodow({v}) = 1 and extract(hour from {v}) < 10",
        "isodow({v}) = 1",
    ),
    (
        "last hours of a week (Sunday, UTC)",
        "isodow({v}) = 7 and extract(hour from {v}) >= 14",
        "isodow({v}) = 7",
    ),
)
# DuckDB types whose values come back to Python as values that compare as DuckDB compares
# them (no float: NaN and -0.0; no interval: months are not days; no nested types).
PLAIN_TYPE = re.compile(
    r"(varchar|boolean|date|time|timestamp|timestamp with time zone|u?(tinyint|smallint|integer|bigint)"
    r"|hugeint|decimal\(\d+,\s*\d+\))",
    re.IGNORECASE,
)


def _comparable_as_values(original: list[tuple[str, str]], actual: list[tuple[str, str]]) -> bool:
    """Whether a mutant's rows compare to the original's as fetched values: the same column
    names (one of each) in the same order, of the same plain types."""
    names = [name.lower() for name, _ in original]
    return (
        len(set(names)) == len(names)
        and names == [name.lower() for name, _ in actual]
        and [kind for _, kind in original] == [kind for _, kind in actual]
        and all(PLAIN_TYPE.fullmatch(kind) for _, kind in original)
    )


class FixtureSearch:
    """Chooses fixture rows from the warehouse for one model (see the module docstring)."""

    def __init__(self, ctx: GateContext, *, timeout_s: float | None = None):
        self.ctx = ctx
        self.sandbox = ctx.sandbox
        self.timeout_s = timeout_s
        self.inputs: list[FixtureInput] = []
        by_input = placeholders_by_input(ctx)
        read = read_columns(ctx)
        wanted_by_index: list[set[str]] = []
        searched_by_index: list[set[str]] = []
        for placeholders in by_input.values():
            relation = ctx.relations[placeholders[0]]
            wanted = set().union(*(read.get(p, set()) for p in placeholders))
            # The primary key is given too: it shows which real row each fixture row is, and
            # lets anyone check that no row is there twice.
            wanted |= {k.lower() for k in relation.primary_key if relation.column(k) is not None}
            searched_by_index.append(set(wanted))
            # So is every column a test keeps from null or repeated: a row without it is a row
            # that could not happen (dbt fills an absent column with null), and `count(city)`
            # in place of `count(*)` would count none of them.
            wanted |= {c.name.lower() for c in relation.columns if c.not_null or c.unique}
            wanted_by_index.append(wanted)
        relations = [ctx.relations[placeholders[0]] for placeholders in by_input.values()]
        self.parents = parent_links(relations, wanted_by_index)
        for parent in self.parents:
            # A parent's key is given, so that the child's rows visibly have their parent.
            wanted_by_index[parent.parent].add(parent.parent_column.lower())
        for parent in parent_links(relations, searched_by_index):
            searched_by_index[parent.parent].add(parent.parent_column.lower())
        for index, (text, placeholders) in enumerate(by_input.items()):
            relation = relations[index]
            columns = [c.name for c in relation.columns if c.name.lower() in wanted_by_index[index]]
            searched = [c for c in columns if c.lower() in searched_by_index[index]]
            keys = unique_keys(relation)
            self.inputs.append(FixtureInput(index, text, placeholders, relation, columns, keys, searched=searched))
        index_of = {p: item.index for item in self.inputs for p in item.placeholders}
        self.edges = join_edges(ctx, index_of)
        self.categorical = categorical_columns(ctx, index_of)
        self.temporal = temporal_columns(ctx, index_of)
        self.copies = pass_through_columns(ctx, index_of)
        self._expansions: dict[tuple, list[int]] = {}
        self._values: dict[tuple[int, int], tuple] = {}
        self._shapes: dict[int, list[tuple[str, str]] | None] = {}
        # id(tree) -> (tree, sql): the tree is kept so its id cannot be reused.
        self._sql: dict[int, tuple[exp.Expression, str]] = {}
        self._kills: dict[tuple, bool] = {}
        self._output_rows: dict[tuple, int] = {}
        self._original_rows: dict[tuple, list[tuple] | None] = {}
        # output() of each choice asked: the re-check compares the same choices hundreds of
        # times, and sorting the rows' reprs each time cost more than the queries it saves.
        self._outputs: dict[tuple, tuple] = {}
        # (choice of rows, id(tree)) -> the tree's rows on them, run ahead by prefetch().
        self._prefetched: dict[tuple, list[tuple]] = {}
        self._unbatchable: set[int] = set()  # id(tree) of queries prefetch() leaves alone
        self._fingerprinted: dict[int, bool] = {}  # id(tree) -> whether rows_of() fingerprints
        self._picked: dict[int, tuple[int, ...]] = {}
        self.twins: dict[tuple[int, int], int] = {}
        self._copies: list[tuple[int, int]] = []  # (input, gm_row) of every row copied
        # (input, what) -> the condition on a source row (and its parameters) that makes it
        # one of a class's (a value of a column, a boundary), for members().
        self._conditions: dict[tuple[int, str], tuple[str, list]] = {}
        self._members: dict[tuple[int, str, int], bool] = {}

    # -- sandbox tables --------------------------------------------------------------------

    def setup(self) -> None:
        for item in self.inputs:
            item.source = f"gm_source_{item.index}"
            item.view = f"gm_fixture_{item.index}"
            relation = item.relation
            read = [quote(c) for c in item.read] or ["1 as gm_nothing"]
            order = ", ".join(f"{quote(c)} nulls first" for c in item.searched) or "1"
            total = self.sandbox.execute(f"select count(*) from {relation.relation_name}", timeout_s=self.timeout_s)[0][
                0
            ]
            limited = relation.relation_name
            if total > SOURCE_ROW_LIMIT:
                # A deterministic spread of rows of a large input (hash order, not the first N).
                limited = (
                    f"(select * from {relation.relation_name} order by hash({', '.join(read)}) "
                    f"limit {SOURCE_ROW_LIMIT})"
                )
            self.sandbox.execute(
                f"create or replace temp table {item.source} as select row_number() over (order by {order}) "
                f"as gm_row, {', '.join(read)} from {limited} as gm_input",
                timeout_s=self.timeout_s,
            )
            item.rows = int(self.sandbox.execute(f"select count(*) from {item.source}")[0][0])
            wanted = {c.lower() for c in item.read}
            listed = ", ".join(
                quote(c.name)
                if c.name.lower() in wanted
                else f"cast(null as {c.data_type or 'varchar'}) as {quote(c.name)}"
                for c in relation.columns
            )
            item.select = f"select {listed} from {item.source}"
        self.pick({})

    def teardown(self) -> None:
        for item in self.inputs:
            with contextlib.suppress(SandboxQueryError):
                self.sandbox.execute(f"drop table if exists {item.view}")
                self.sandbox.execute(f"drop table if exists {item.source}")

    def tables(self) -> dict[str, str]:
        return {p: item.view for item in self.inputs for p in item.placeholders}

    def query(self, sql: str, parameters=None) -> list[tuple]:
        """A query on the small fixture tables, without the sandbox's per-query timer thread
        (it costs more than these queries do); errors are the sandbox's errors all the same."""
        import duckdb

        try:
            cursor = self.sandbox.connection.execute(sql, parameters)
            return cursor.fetchall() if cursor.description else []
        except duckdb.Error as error:
            raise SandboxQueryError(str(error).split("\n")[0], str(error), sql) from None

    def pick(self, picks: dict[int, list[int]]) -> None:
        """Make the fixture tables hold exactly these rows (gm_row per input)."""
        for item in self.inputs:
            rows = tuple(picks.get(item.index) or ())
            if self._picked.get(item.index) == rows:
                continue  # this input's table already holds exactly these rows
            self.query(f"create or replace temp table {item.view} as {self.rows_sql(item, rows, item.select)}")
            self._picked[item.index] = rows

    @staticmethod
    def rows_sql(item: FixtureInput, rows, select: str) -> str:
        """`select` over the source, restricted to `rows` (a row listed twice comes twice)."""
        if not rows:
            return f"{select} where false"
        listed = ", ".join(f"({int(r)})" for r in rows)
        return f"{select} join (values {listed}) as gm_picked(gm_row) using (gm_row)"

    def sql_of(self, tree: exp.Expression) -> str:
        """The tree's SQL over the fixture tables. Their names never change during a search,
        so each tree is generated once (sqlglot's generator dominated the search's time)."""
        key = id(tree)
        if key not in self._sql:
            self._sql[key] = (tree, runnable_sql(tree, self.ctx.relations, self.tables()))
        return self._sql[key][1]

    def shape(self, tree: exp.Expression) -> list[tuple[str, str]] | None:
        """The columns a (mutant) query returns on the fixtures, or None if it does not run."""
        key = id(tree)
        if key not in self._shapes:
            try:
                rows = self.query(f"describe (select * from (\n{self.sql_of(tree)}\n) as q)")
                self._shapes[key] = [(row[0], row[1]) for row in rows]
            except SandboxQueryError:
                self._shapes[key] = None
        return self._shapes[key]

    def kills(self, picks: dict[int, list[int]], mutant_tree: exp.Expression) -> bool:
        """Would a unit test with these rows (expecting the original's output) fail on the mutant?

        Remembered per (rows, mutant): delta debugging asks the same question again and again.
        """
        key = (picks_key(picks), id(mutant_tree))
        if key not in self._kills:
            self._kills[key] = self._kills_uncached(picks, mutant_tree)
        return self._kills[key]

    def _kills_uncached(self, picks: dict[int, list[int]], mutant_tree: exp.Expression) -> bool:
        original = self.shape(self.ctx.tree)
        actual = self.shape(mutant_tree)
        if original is None or actual is None:
            return False  # a mutant that does not run says nothing about the rows
        if _comparable_as_values(original, actual):
            # The same columns of the same plain types: the expected values' round trip
            # through text is the identity, so the multisets of rows compare as Python
            # values. The original's rows are shared with every question on these rows
            # (each mutant's, the output's size), so only the mutant runs here.
            expected, found = self.original_rows(picks), self.rows_of(picks, mutant_tree)
            if expected is not None and found is not None:
                return Counter(expected) != Counter(found)
        return self.kills_in_sql(picks, mutant_tree)

    def kills_in_sql(self, picks: dict[int, list[int]], mutant_tree: exp.Expression) -> bool:
        """kills() as one statement that compares as dbt does, whatever the columns' types:
        the expected values cast from their text to the mutant's types, rows as multisets."""
        original = self.shape(self.ctx.tree)
        actual = self.shape(mutant_tree)
        if original is None or actual is None:
            return False
        types = {name.lower(): (name, kind) for name, kind in actual}
        if any(name.lower() not in types for name, _ in original):
            return True
        listed = ", ".join(
            f"cast(cast({quote(name)} as varchar) as {types[name.lower()][1]}) as {quote(name)}" for name, _ in original
        )
        plain = ", ".join(quote(types[name.lower()][0]) for name, _ in original)
        try:
            rows = self.query(
                f"with {self.fixture_ctes(picks)}, "
                f"expected as (select {listed} from (\n{self.sql_of(self.ctx.tree)}\n) as e), "
                f"actual as (select {plain} from (\n{self.sql_of(mutant_tree)}\n) as a) "
                "select (select count(*) from (select * from actual except all select * from expected)) + "
                "(select count(*) from (select * from expected except all select * from actual))"
            )
        except SandboxQueryError:
            return False  # a runtime error on some rows says nothing about the logic
        return rows[0][0] != 0

    def fingerprinted(self, tree: exp.Expression) -> bool:
        """Whether rows_of() gives `tree`'s rows as fingerprints: DuckDB's 64-bit hash of each
        row, for a query whose columns are all of plain types (those prefetch() batches).

        The search only counts a query's rows and compares them as multisets (a mutant's
        with the accepted SQL's, the accepted SQL's on one choice of rows with another):
        rows of the same plain types are equal exactly when their values are, and so are
        their hashes, but for a collision (2^-64 a pair). Fetched as Python tuples, the
        rows themselves cost a quarter of the search (a batch is tens of thousands of
        rows); two integers a row cost little. A collision can only make two outputs look
        alike: a mutant not told apart, a row that seems not to matter, so more rows tried;
        the unit test's expected rows are computed from the final rows, never from these."""
        key = id(tree)
        if key not in self._fingerprinted:
            shape = self.shape(tree)
            self._fingerprinted[key] = (
                self.ctx.dialect.sqlglot == "duckdb"
                and shape is not None
                and all(PLAIN_TYPE.fullmatch(kind) for _, kind in shape)
            )
        return self._fingerprinted[key]

    def rows_of(self, picks: dict[int, list[int]], tree: exp.Expression) -> list | None:
        """A query's rows on these fixture rows (their fingerprints where `fingerprinted`), or
        None if it fails on them."""
        prefetched = self._prefetched.get((picks_key(picks), id(tree)))
        if prefetched is not None:
            return prefetched
        try:
            if self.fingerprinted(tree):
                rows = self.query(f"with {self.fixture_ctes(picks)} select hash(q) from (\n{self.sql_of(tree)}\n) as q")
                return [row[0] for row in rows]
            return self.query(f"with {self.fixture_ctes(picks)} select * from (\n{self.sql_of(tree)}\n) as q")
        except SandboxQueryError:
            return None

    def original_rows(self, picks: dict[int, list[int]]) -> list | None:
        """The accepted SQL's rows on these fixture rows (None if it fails on them), asked
        once per choice of rows: its size, its rows and every mutant's comparison share it."""
        key = picks_key(picks)
        if key not in self._original_rows:
            self._original_rows[key] = self.rows_of(picks, self.ctx.tree)
        return self._original_rows[key]

    def output_rows(self, picks: dict[int, list[int]]) -> int:
        """How many rows the accepted SQL returns on these fixture rows (-1 if it fails)."""
        rows = self.original_rows(picks)
        if rows is not None:
            return len(rows)
        key = picks_key(picks)
        if key not in self._output_rows:
            # Counting may not compute a column that fails on these rows: ask as before.
            try:
                query = f"with {self.fixture_ctes(picks)} select count(*) from (\n{self.sql_of(self.ctx.tree)}\n) as q"
                self._output_rows[key] = int(self.query(query)[0][0])
            except SandboxQueryError:
                self._output_rows[key] = -1
        return self._output_rows[key]

    def output(self, picks: dict[int, list[int]]) -> tuple:
        """The accepted SQL's rows on these fixture rows, as a sorted multiset (for telling
        whether a row added changes what the unit test expects)."""
        key = picks_key(picks)
        if key not in self._outputs:
            rows = self.original_rows(picks)
            if rows is None:
                self._outputs[key] = ()
            elif self.fingerprinted(self.ctx.tree):
                self._outputs[key] = tuple(sorted(rows))
            else:
                self._outputs[key] = tuple(sorted(repr(row) for row in rows))
        return self._outputs[key]

    def prefetch(self, tree: exp.Expression, choices: list[dict[int, list[int]]]) -> None:
        """Run `tree` on several choices of rows ahead, PREFETCH_BATCH to a statement, for
        rows_of() to answer from: the answers are the same, the statements fewer.

        On a few fixture rows DuckDB spends more time planning a query than running it, and
        the search asks about one query on many choices of rows in a row (each candidate of
        a coverage class, each block's cost, the pieces delta debugging tries). A LATERAL
        join over the choices asks them all in one statement, which DuckDB decorrelates into
        one plan. Only for a query whose columns compare as values (no floats: a sum's last
        bits may follow the order rows arrive in); if a statement fails (a row some choice
        holds makes the query fail, say), the query's choices are asked one by one, as
        without prefetching.
        """
        if not self.batches(tree):
            return
        keys: dict[tuple, dict[int, list[int]]] = {}
        for picks in choices:
            key = picks_key(picks)
            if (key, id(tree)) not in self._prefetched and key not in keys:
                keys[key] = picks
        todo = list(keys.items())
        if len(todo) < 2:
            return  # one statement either way
        for start in range(0, len(todo), PREFETCH_BATCH):
            chunk = todo[start : start + PREFETCH_BATCH]
            try:
                rows = self.query(self._lateral_sql(tree, [picks for _, picks in chunk]))
            except SandboxQueryError:
                self._unbatchable.add(id(tree))
                return
            by_choice: dict[int, list[int]] = {position: [] for position in range(len(chunk))}
            for position, fingerprint in rows:
                by_choice[position].append(fingerprint)
            for position, (key, _) in enumerate(chunk):
                self._prefetched[(key, id(tree))] = by_choice[position]

    def batches(self, tree: exp.Expression) -> bool:
        """Whether prefetch() runs `tree` in batches (else each question is a statement of its
        own, and asking ahead what may not be asked costs statements)."""
        # The batched statement is DuckDB's SQL (LATERAL, unnest, list literals) and reads
        # fingerprints; a tree it failed on once is asked one choice at a time.
        return id(tree) not in self._unbatchable and self.fingerprinted(tree)

    def prefetched(self, tree: exp.Expression, choices: list[dict[int, list[int]]]) -> bool:
        """Whether rows_of() answers `tree` on every one of these choices without a query."""
        return all((picks_key(picks), id(tree)) in self._prefetched for picks in choices)

    def _lateral_sql(self, tree: exp.Expression, choices: list[dict[int, list[int]]]) -> str:
        """One statement: `tree` on each choice of rows, each result row's fingerprint (see
        `fingerprinted`) tagged with its choice."""
        names = ", ".join(f"gm_rows_{item.index}" for item in self.inputs)
        listed = ", ".join(
            f"({position}, "
            + ", ".join(
                f"[{', '.join(str(int(r)) for r in picks.get(item.index) or ())}]::bigint[]" for item in self.inputs
            )
            + ")"
            for position, picks in enumerate(choices)
        )
        ctes = ", ".join(
            f"{item.view} as ({item.select} join (select unnest(gm_choice.gm_rows_{item.index}) as gm_row) "
            "as gm_picked using (gm_row))"
            for item in self.inputs
        )
        return (
            f"select gm_choice.gm_position, gm_result.gm_fingerprint "
            f"from (values {listed}) as gm_choice(gm_position, {names}), "
            f"lateral (with {ctes} select hash(q) as gm_fingerprint from (\n{self.sql_of(tree)}\n) as q) as gm_result"
        )

    def prefetch_kills(self, tree: exp.Expression, choices: list[dict[int, list[int]]]) -> None:
        """prefetch() what kills() will ask about `tree` on these choices: the accepted SQL's
        rows and the mutant's, when they compare as values (else kills() asks in SQL)."""
        original, actual = self.shape(self.ctx.tree), self.shape(tree)
        if original is None or actual is None or not _comparable_as_values(original, actual):
            return
        choices = [picks for picks in choices if (picks_key(picks), id(tree)) not in self._kills]
        self.prefetch(self.ctx.tree, [picks for picks in choices if picks_key(picks) not in self._original_rows])
        self.prefetch(tree, choices)

    def fixture_ctes(self, picks: dict[int, list[int]]) -> str:
        """The fixture tables as CTEs of the same names (a CTE shadows a table): a search
        question is then one statement, instead of re-creating tables before each."""
        return ", ".join(
            f"{item.view} as ({self.rows_sql(item, tuple(picks.get(item.index) or ()), item.select)})"
            for item in self.inputs
        )

    # -- candidates ------------------------------------------------------------------------

    def _first(self, item: FixtureInput, condition: str, order: str = "gm_row") -> int | None:
        rows = self.query(f"select gm_row from {item.source} where {condition} order by {order} limit 1")
        return int(rows[0][0]) if rows else None

    def seeds(self) -> list[tuple[int, int]]:
        seeds: list[tuple[int, int]] = []

        def add(index: int, row: int | None) -> None:
            if row is not None and (index, row) not in seeds:
                seeds.append((index, row))

        for item in self.inputs:
            if not item.rows:
                continue
            count = min(EVENLY_SPACED, item.rows)
            for k in range(count):
                add(item.index, 1 + (k * (item.rows - 1)) // max(1, count - 1))
            for column in item.searched:
                quoted = quote(column)
                add(item.index, self._first(item, f"{quoted} is null"))
                add(item.index, self._first(item, f"{quoted} is not null", f"{quoted} asc, gm_row"))
                add(item.index, self._first(item, f"{quoted} is not null", f"{quoted} desc, gm_row"))
                distinct = self.query(f"select count(distinct {quoted}) from {item.source}")[0][0]
                if distinct and distinct <= MAX_DISTINCT_SEEDS:
                    for (row,) in self.query(f"select min(gm_row) from {item.source} group by {quoted} order by 1"):
                        add(item.index, int(row))
            for edge in self.edges:
                for mine, column, other, other_column in (
                    (edge.left, edge.left_column, edge.right, edge.right_column),
                    (edge.right, edge.right_column, edge.left, edge.left_column),
                ):
                    if mine != item.index:
                        continue
                    partner = self.inputs[other]
                    quoted, other_quoted = quote(column), quote(other_column)
                    add(
                        item.index,
                        self._first(
                            item,
                            f"{quoted} is not null and {quoted} not in "
                            f"(select {other_quoted} from {partner.source} where {other_quoted} is not null)",
                        ),
                    )
                    add(
                        item.index,
                        self._first(
                            item, f"{quoted} in (select {quoted} from {item.source} group by all having count(*) > 1)"
                        ),
                    )
        return seeds[:MAX_SEEDS] if len(seeds) > MAX_SEEDS else seeds

    def diff_seeds(self, mutant_tree: exp.Expression, result_table: str, limit: int = 3) -> list[tuple[int, int]]:
        """Seeds where the mutant's result on the real data differs from the original's:
        the input rows whose copied columns hold the values of a differing output row."""
        if not self.copies:
            return []
        try:
            self.sandbox.execute(
                "create or replace temp table gm_mutant_real as select * from (\n"
                f"{runnable_sql(mutant_tree, self.ctx.relations)}\n) as q",
                timeout_s=self.timeout_s,
            )
            names = [row[0] for row in self.sandbox.execute(f"describe {result_table}")]
            mutant_names = [row[0] for row in self.sandbox.execute("describe gm_mutant_real")]
            if [n.lower() for n in names] != [n.lower() for n in mutant_names]:
                return []
            listed = ", ".join(quote(n) for n in names)
            rows = self.sandbox.execute(
                f"(select {listed} from (select {listed} from {result_table} except all "
                f"select {listed} from gm_mutant_real) order by all limit {limit}) union all "
                f"(select {listed} from (select {listed} from gm_mutant_real except all "
                f"select {listed} from {result_table}) order by all limit {limit})",
                timeout_s=self.timeout_s,
            )
        except SandboxQueryError:
            return []
        finally:
            with contextlib.suppress(SandboxQueryError):
                self.sandbox.execute("drop table if exists gm_mutant_real")
        position = {name.lower(): i for i, name in enumerate(names)}
        # Of a differing group, the rows the mutant's comparison and the original's disagree
        # on first (the row at 75 of `>= 75` -> `> 75`), not only the group's first rows.
        disagrees = disagreement(self, mutant_tree)
        seeds: list[tuple[int, int]] = []
        for row in rows:
            for index, columns in sorted(self.copies.items()):
                conditions, values = [], []
                for output, column in columns:
                    value = row[position[output.lower()]] if output.lower() in position else None
                    if value is not None:
                        conditions.append(f"{quote(column)} = ?")
                        values.append(value)
                if not conditions:
                    continue
                item = self.inputs[index]
                first = f"({disagrees[1]}) desc, " if disagrees is not None and disagrees[0] == index else ""
                try:
                    found = self.query(
                        f"select gm_row from {item.source} where {' and '.join(conditions)} "
                        f"order by {first}gm_row limit 2",
                        values,
                    )
                except SandboxQueryError:
                    continue  # a comparison DuckDB cannot run on this input alone
                for (gm_row,) in found:
                    if (index, int(gm_row)) not in seeds:
                        seeds.append((index, int(gm_row)))
        return seeds

    def _value(self, index: int, row: int, column: str):
        key = (index, row)
        if key not in self._values:
            self.values_of(index, [row])
        item = self.inputs[index]
        return self._values[key][[c.lower() for c in item.read].index(column.lower())]

    def values_of(self, index: int, rows) -> None:
        """Read the read columns of these source rows of one input in one query, for
        value_of() to answer from (blocks ask about one row at a time, a query each)."""
        item = self.inputs[index]
        unknown = sorted({int(row) for row in rows if (index, int(row)) not in self._values})
        if not unknown:
            return
        listed = ", ".join(quote(c) for c in item.read) or "1"
        found = self.query(
            f"select gm_row, {listed} from {item.source} where gm_row in ({', '.join(str(r) for r in unknown)})"
        )
        for row in found:
            self._values[(index, int(row[0]))] = tuple(row[1:])

    def _partners(self, index: int, row: int, edge: JoinEdge, expansion: int = EXPANSION) -> list[int]:
        if edge.left == index:
            column, other, other_column = edge.left_column, edge.right, edge.right_column
        else:
            column, other, other_column = edge.right_column, edge.left, edge.left_column
        value = self._value(index, row, column)
        if value is None:
            return []
        key = (other, other_column.lower(), repr(value))
        if key not in self._expansions:
            partner = self.inputs[other]
            # Their values come along: the block asks about each of them next.
            listed = ", ".join(quote(c) for c in partner.read) or "1"
            found = self.query(
                f"select gm_row, {listed} from {partner.source} where {quote(other_column)} = ? "
                f"order by gm_row limit {EXPANSION}",
                [value],
            )
            self._expansions[key] = [int(r[0]) for r in found]
            self._values.update({(other, int(r[0])): tuple(r[1:]) for r in found})
        # The first rows by gm_row, whatever the limit: a lean block's rows are a full one's.
        return self._expansions[key][:expansion]

    def block(self, seed: tuple[int, int], groups: bool = False, expansion: int = EXPANSION) -> dict[int, list[int]]:
        """A seed row and, transitively, the rows of other inputs its join keys match (and,
        with `groups`, rows of its own input in the same group): at most `expansion` per key
        value (a lean block: one ticket of a fare package, one more of that ticket's flight),
        save the seed's siblings, rows of the seed's own input, and their matches: EXPANSION
        of those, as a group's aggregates read them (a customer's other orders and their
        payments are what tells sum from sum(distinct) of equal order totals)."""
        chosen: dict[int, list[int]] = {seed[0]: [seed[1]]}
        queue = [seed]
        while queue:
            index, row = queue.pop(0)
            for edge in self.edges:
                if index not in (edge.left, edge.right):
                    continue
                if edge.left == edge.right and not groups:
                    continue
                other = edge.right if edge.left == index else edge.left
                sibling = other == seed[0] or (index == seed[0] and row != seed[1])
                for partner in self._partners(index, row, edge, EXPANSION if sibling else expansion):
                    rows = chosen.setdefault(other, [])
                    if partner in rows or len(rows) >= BLOCK_ROWS_PER_INPUT:
                        continue
                    rows.append(partner)
                    queue.append((other, partner))
        self.add_parents(chosen)
        return {index: sorted(rows) for index, rows in chosen.items()}

    def twin(self, index: int, row: int) -> int | None:
        """A copy of a row with fresh values in its unique key columns, as a new source row:
        a second child of the same kind (two subscriptions of one account to one plan), which
        tells sum from max or count(*) from count(distinct) without repeating a key. Its
        children in the other inputs (an order's payments, see children()) are copied with
        it, pointed at its new key: a twin without them would be a second order of another
        kind (one never paid), and two orders paid alike is what tells sum from sum(distinct).
        None if a key column is not text or integer, or not given."""
        if (index, row) in self.twins:
            return self.twins[(index, row)]
        if not self.inputs[index].keys:
            return None
        new_row = self._copy(index, row, {}, (index,), "'_2'")
        if new_row is not None:
            self.twins[(index, row)] = new_row
        return new_row

    def _copy(self, index: int, row: int, pointed: dict[str, object], path: tuple[int, ...], suffix: str):
        """Insert a copy of a source row with fresh unique key values (text keys get `suffix`)
        and `pointed` columns set to the given values, then copies of its children pointed at
        it; its new gm_row, or None (nothing inserted) when a key cannot be made fresh."""
        item = self.inputs[index]
        key_columns = {column.lower() for key in item.keys for column in key}
        if not key_columns <= {c.lower() for c in item.read}:
            return None
        # A key column a test bounds (accepted_values, relationships) gets no invented value:
        # null where the column may be null (a unique `previous_subscription_id`), else no copy.
        bounded = bounded_columns(item.relation) & (key_columns - {c.lower() for c in pointed})
        if any(not nullable(item.relation, column) for column in bounded):
            return None
        new_row = item.rows + 1 + len(self._copies)
        listed, values = [], []
        for column in item.read:
            kind = (item.relation.column(column).data_type or "").lower()
            quoted = quote(column)
            if column.lower() in {c.lower() for c in pointed}:
                listed.append("?")
                values.append(next(v for c, v in pointed.items() if c.lower() == column.lower()))
            elif column.lower() not in key_columns:
                listed.append(quoted)
            elif column.lower() in bounded:
                listed.append("null")
            elif kind.startswith("varchar") or kind in ("text", "string"):
                listed.append(f"{quoted} || {suffix}")
            elif kind in ("integer", "bigint", "int", "smallint", "hugeint"):
                # Above every key there is, whatever the sign of this one.
                listed.append(f"(select max({quoted}) from {item.source}) + {new_row}")
            else:
                return None
        self.query(
            f"insert into {item.source} select {new_row}, {', '.join(listed)} from {item.source} where gm_row = {row}",
            values,
        )
        # A key the copy repeats (a real key that already ends in the suffix, a child's key
        # it was pointed at) would make an impossible fixture: no copy then.
        for key in item.keys:
            same = " and ".join(f"other.{quote(c)} = copy.{quote(c)}" for c in key)
            clash = self.query(
                f"select count(*) from {item.source} as other, {item.source} as copy "
                f"where copy.gm_row = {new_row} and other.gm_row <> {new_row} and {same}"
            )
            if clash[0][0]:
                self.query(f"delete from {item.source} where gm_row = {new_row}")
                return None
        self._copies.append((index, new_row))
        for child, column, key_column in self.children(index):
            if child in path or len(path) > CHILD_COPY_DEPTH:
                continue
            old, new = self._value(index, row, key_column), self._value(index, new_row, key_column)
            if old is None or old == new:
                continue
            originals = self.query(
                f"select gm_row from {self.inputs[child].source} where {quote(column)} = ? "
                f"and gm_row <= {self.inputs[child].rows} order by gm_row limit {EXPANSION}",
                [old],
            )
            for (child_row,) in originals:
                self._copy(child, int(child_row), {column: new}, (*path, child), f"'_{new_row}'")
        return new_row

    def children(self, index: int) -> list[tuple[int, str, str]]:
        """(child input, its column, this input's key column) for every other input whose rows
        point at this input's unique key: a relationships test to it, or an equality with it
        in the SQL (`payments.order_id = orders.order_id`, order_id unique in orders)."""
        item = self.inputs[index]
        key_columns = {column.lower() for key in item.keys for column in key}
        found: list[tuple[int, str, str]] = []
        links = [(link.child, link.column, link.parent, link.parent_column) for link in self.parents]
        for edge in self.edges:
            links += [
                (edge.left, edge.left_column, edge.right, edge.right_column),
                (edge.right, edge.right_column, edge.left, edge.left_column),
            ]
        for child, column, parent, parent_column in links:
            if parent != index or child == index or parent_column.lower() not in key_columns:
                continue
            if column.lower() not in {c.lower() for c in self.inputs[child].read}:
                continue
            seen = {(c, k.lower(), p.lower()) for c, k, p in found}
            if (child, column.lower(), parent_column.lower()) not in seen:
                found.append((child, column, parent_column))
        return found

    def copied_rows(self, picks: dict[int, list[int]]) -> int:
        """How many of these rows are copies with a new key (twins and their children)."""
        return sum(1 for index, row in self._copies if row in (picks.get(index) or []))

    def value_candidates(self) -> list[tuple[int, str, list[int]]]:
        """(input, what, rows): for every value (when there are few) of every column the SQL
        compares with text literals, the named values and their unnamed siblings alike, the
        first few rows that hold it."""
        return [(index, what, rows) for index, _, what, rows in self.value_classes()]

    def value_classes(self) -> list[tuple[int, str, str, list[int]]]:
        """value_candidates() with the column of each: (input, column, what, rows)."""
        found: list[tuple[int, str, str, list[int]]] = []
        for index, column in self.categorical:
            item = self.inputs[index]
            if column.lower() not in {c.lower() for c in item.read}:
                continue
            quoted = quote(column)
            distinct = self.query(f"select count(distinct {quoted}) from {item.source}")[0][0]
            if not distinct or distinct > MAX_DISTINCT_SEEDS:
                continue
            rows = self.query(
                f"select {quoted}, list(gm_row order by gm_row)[1:{COVERAGE_CANDIDATES}] from {item.source} "
                f"where {quoted} is not null group by 1 order by 1"
            )
            for value, picked in rows:
                what = f"{column} = {value!r}"
                self._conditions[(index, what)] = (f"{quoted} = ?", [value])
                found.append((index, column, what, [int(r) for r in picked]))
        return found

    def boundary_candidates(self) -> list[tuple[int, str, list[int]]]:
        """(input, what, rows): for every date or timestamp column the SQL truncates, compares
        or shifts, the few rows of each boundary class (see BOUNDARIES) nearest midnight: the
        chooser keeps the one that adds the fewest expected rows."""
        found: list[tuple[int, str, list[int]]] = []
        for index, column in self.temporal:
            item = self.inputs[index]
            if column.lower() not in {c.lower() for c in item.read}:
                continue
            kind = (item.relation.column(column).data_type or "").lower()
            if not kind.startswith(("timestamp", "date")):
                continue
            quoted = quote(column)
            # Hours are read in UTC, where the warehouse's zone and the reader's disagree most.
            value = f"timezone('UTC', {quoted})" if "time zone" in kind else quoted
            # Rows nearest midnight first: the smaller the zone shift that moves a row across
            # the boundary, the more zones it tells apart (New York's 5 hours need 19:00 or later).
            seconds = f"extract(epoch from cast({value} as time))"
            nearest = f"least({seconds}, 86400 - {seconds})" if kind.startswith("timestamp") else "0"
            for label, timestamp_condition, date_condition in BOUNDARIES:
                condition = (timestamp_condition if kind.startswith("timestamp") else date_condition).format(v=value)
                rows = self.query(
                    f"select gm_row, {nearest} from {item.source} where {quoted} is not null and {condition} "
                    f"order by 2, gm_row limit {COVERAGE_CANDIDATES}"
                )
                # The chooser keeps the cheapest candidate: only those about as near as the nearest.
                reach = max(float(rows[0][1]), NEAR_MIDNIGHT_S) if rows else 0
                rows = [row for row, distance in rows if float(distance) <= reach]
                if rows:
                    self._conditions[(index, f"{column}: {label}")] = (f"{quoted} is not null and {condition}", [])
                    found.append((index, f"{column}: {label}", [int(r) for r in rows]))
        return found

    def members(self, index: int, what: str, rows) -> list[int]:
        """Those of these rows of one input that are of the class `what` (a value of a
        column, a boundary of a date) by its condition, whichever rows the search first
        offered for it; none for a class without a condition (rows of one group)."""
        if (index, what) not in self._conditions:
            return []
        condition, parameters = self._conditions[(index, what)]
        unknown = sorted({int(row) for row in rows if (index, what, int(row)) not in self._members})
        if unknown:
            found = {
                int(row)
                for (row,) in self.query(
                    f"select gm_row from {self.inputs[index].source} where gm_row in "
                    f"({', '.join(str(row) for row in unknown)}) and ({condition})",
                    parameters,
                )
            }
            self._members.update({(index, what, row): row in found for row in unknown})
        return sorted({int(row) for row in rows if self._members[(index, what, int(row))]})

    def twin_candidates(self, fixture: dict[int, list[int]]) -> list[tuple[int, str, list[int]]]:
        """(input, what, rows): for every input with a unique key whose rows the SQL groups
        or partitions, and without a twin in the fixture yet, twins of its first fixture
        rows: two children of one kind in one group (what tells sum from sum(distinct),
        count(*) from count(distinct)), which no fixture row repeated could be."""
        found: list[tuple[int, str, list[int]]] = []
        grouped = {edge.left for edge in self.edges if edge.left == edge.right}
        for item in self.inputs:
            picked = fixture.get(item.index) or []
            if item.index not in grouped or not picked:
                continue
            if not item.keys:
                # No key to make fresh: two rows the input already has, alike where it counts.
                found += self.equal_value_candidates(item.index, picked)
                continue
            twins = {row for (index, _), row in self.twins.items() if index == item.index}
            if twins & set(picked):
                continue
            originals = [row for row in picked if row not in twins][:COVERAGE_CANDIDATES]
            rows = [twin for twin in (self.twin(item.index, row) for row in originals) if twin is not None]
            if rows:
                found.append((item.index, f"two rows of one group in {item.text}", rows))
        return found

    def equal_value_candidates(self, index: int, picked: list[int]) -> list[tuple[int, str, list[int]]]:
        """(input, what, rows): for an input without a unique key (no twin can be made), and
        each numeric column the SQL sums, averages or counts, the source rows not picked yet that
        hold the value of a picked row in the same group (every grouping column equal, the
        nearest first in a grouping date): two trips of one license in one hour with one
        fare, what tells sum from sum(distinct) and count(x) from count(distinct x)."""
        item = self.inputs[index]
        read = {c.lower(): c for c in item.read}
        grouped = (read.get(e.left_column.lower()) for e in self.edges if e.left == e.right == index)
        groups = [g for g in dict.fromkeys(grouped) if g]
        # A date the SQL groups by is mostly truncated (to the hour, the month): the nearest
        # rows in it, not only equal ones.
        dates = [g for g in groups if is_temporal(item.relation, g)]
        near = " + ".join(f"abs(epoch(b.{quote(g)}) - epoch(a.{quote(g)}))" for g in dates) or "0"
        aggregated = {
            column.name.lower()
            for node in (self.ctx.tree.find_all(exp.Sum, exp.Avg, exp.Count) if self.ctx.tree is not None else ())
            for column in node.find_all(exp.Column)
        }
        found: list[tuple[int, str, list[int]]] = []
        for name in sorted(aggregated & set(read)):
            kind = (item.relation.column(read[name]).data_type or "").lower()
            if not kind.startswith(NUMERIC_TYPES):
                continue
            x = quote(read[name])
            same = "".join(f" and b.{quote(g)} is not distinct from a.{quote(g)}" for g in groups if g not in dates)
            listed = ", ".join(str(row) for row in picked)
            rows = self.query(
                f"select b.gm_row from {item.source} a join {item.source} b on b.{x} = a.{x}{same} "
                f"where a.gm_row in ({listed}) and b.gm_row not in ({listed}) and a.{x} <> 0 "
                f"and b.gm_row <= {item.rows} group by b.gm_row "
                f"order by min({near}), b.gm_row limit {COVERAGE_CANDIDATES}"
            )
            if rows:
                what = f"two rows of one group with one {read[name]} in {item.text}"
                found.append((index, what, [int(row) for (row,) in rows]))
        return found

    def mate_blocks(self, fixture: dict[int, list[int]]) -> list[dict[int, list[int]]]:
        """Blocks of rows spread evenly over each input the fixture has rows of (MATE_ROWS of
        them, not in the fixture yet): where the others' groups are, to grow them."""
        found: list[dict[int, list[int]]] = []
        for item in self.inputs:
            picked = set(fixture.get(item.index) or [])
            if not picked or not item.rows:
                continue
            count = min(MATE_ROWS, item.rows)
            rows = sorted({1 + (k * (item.rows - 1)) // max(1, count - 1) for k in range(count)} - picked)
            for row in rows:
                block = self.block((item.index, row), False)
                if block not in found:
                    found.append(block)
        return found

    def value_of(self, index: int, row: int, column: str):
        """The value of one column of one source row."""
        return self._value(index, row, column)

    def add_parents(self, chosen: dict[int, list[int]]) -> None:
        """Add, for every child row of a relationships test between inputs, its parent row:
        a fixture whose order has no customer could not happen. Every fixture is a union of
        blocks, so it has every parent when each block has its own."""
        changed = True
        while changed:
            changed = False
            for link in self.parents:
                rows = chosen.get(link.child) or []
                values = {repr(v): v for v in (self._value(link.child, r, link.column) for r in rows) if v is not None}
                have = {repr(self._value(link.parent, r, link.parent_column)) for r in chosen.get(link.parent) or []}
                for text, value in values.items():
                    if text in have:
                        continue
                    parent = self.inputs[link.parent]
                    found = self.query(
                        f"select min(gm_row) from {parent.source} where {quote(link.parent_column)} = ?", [value]
                    )
                    if found and found[0][0] is not None:
                        chosen.setdefault(link.parent, []).append(int(found[0][0]))
                        have.add(text)
                        changed = True


def merge_picks(*picks: dict[int, list[int]]) -> dict[int, list[int]]:
    """Rows of several picks together; a row picked twice (a duplicate) stays twice."""
    merged: dict[int, Counter] = {}
    for pick in picks:
        for index, rows in pick.items():
            merged.setdefault(index, Counter())
            merged[index] |= Counter(rows)
    return {index: sorted(rows.elements()) for index, rows in sorted(merged.items())}


def adds_rows(base: dict[int, list[int]]) -> Callable[[dict[int, list[int]]], bool]:
    """`lambda block: merge_picks(base, block) != base` (does the block add a row?), with the work
    on `base` done once: the re-check asks it of every candidate block for every unit."""
    if merge_picks(base) != base:
        return lambda block: True  # (a merge is sorted: it never equals rows out of order)
    counts = {index: Counter(rows) for index, rows in base.items()}
    return lambda block: any(index not in counts or not Counter(rows) <= counts[index] for index, rows in block.items())


def changed_rows(output, before) -> set:
    """The expected rows in one output and not the other (both ways)."""
    return set(output) ^ set(before)


def picks_key(picks: dict[int, list[int]]) -> tuple:
    """A hashable identity for a choice of rows (inputs without rows do not count)."""
    return tuple(sorted((index, tuple(rows)) for index, rows in picks.items() if rows))


def rows_in(picks: dict[int, list[int]]) -> int:
    """How many source rows a choice holds, over every input."""
    return sum(len(rows) for rows in picks.values())


def size_ok(picks: dict[int, list[int]], limit: int) -> bool:
    return all(len(rows) <= limit for rows in picks.values())

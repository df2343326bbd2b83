"""The choice of a unit test's fixture rows: greedy, deterministic, within budget.

`choose_rows` takes the candidate blocks `FixtureSearch` offers and builds the fixture in
the steps `generator.testgen.unit_fixtures` describes: a base that returns rows, coverage of
what the SQL means (values, boundaries, thresholds, nulls, twins, pairs), the mutants told
apart one by one (delta debugging: `ddmin`, `smallest_subset`), and a re-check of every
promise on the final rows (`Chooser.recheck`). It asks; `fixture_search` runs the queries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlglot import exp

from generator.testgen.coverage import (
    bound_classes,
    null_classes,
    pair_classes,
    spread_classes,
    threshold_classes,
)
from generator.testgen.fixture_inputs import (
    pass_through,
)
from generator.testgen.fixture_search import (
    COVERAGE_CANDIDATES,
    EXPANSION,
    FixtureSearch,
    adds_rows,
    changed_rows,
    merge_picks,
    picks_key,
    rows_in,
    size_ok,
)

MAX_ROWS_PER_INPUT = 20
MAX_EXPECT_ROWS = 100
BASE_CANDIDATES = 16
BASE_OUTPUT_ROWS = 3
SINGLE_BLOCK_TRIES = 24
DUPLICATE_SEEDS = 4
PREFIXES = (1, 2, 4, 8, 16, 32)


@dataclass
class FixtureChoice:
    """The chosen rows (gm_row per input) and what they tell apart."""

    picks: dict[int, list[int]] = field(default_factory=dict)
    killed: list[str] = field(default_factory=list)
    unkillable: list[str] = field(default_factory=list)
    boundaries: list[str] = field(default_factory=list)  # boundary classes with a row the output depends on
    covered: list[str] = field(default_factory=list)  # coverage classes that hold on the final rows
    lost: list[str] = field(default_factory=list)  # classes covered once that no rows within budget keep


def ddmin(items: list, failing: Callable[[list], bool], ahead: Callable[[list[list]], None] | None = None) -> list:
    """Zeller's delta debugging: a 1-minimal sublist of `items` for which `failing` holds.

    `ahead`, if given, is told every sublist a round may try before the round asks
    `failing` about them (in order, stopping at the first that fails): to answer them at once.
    """
    n = 2
    while len(items) >= 2:
        chunk = max(1, len(items) // n)
        chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        if ahead is not None:
            ahead([*chunks, *([item for item in items if item not in piece] for piece in chunks)])
        reduced = False
        for piece in chunks:
            if failing(piece):
                items, n, reduced = piece, 2, True
                break
        if not reduced:
            for piece in chunks:
                complement = [item for item in items if item not in piece]
                if complement and failing(complement):
                    items, n, reduced = complement, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(items):
                break
            n = min(len(items), 2 * n)
    return items


def smallest_subset(
    base: dict[int, list[int]],
    pieces: list[dict[int, list[int]]],
    holds: Callable[[dict[int, list[int]]], bool],
    ahead: Callable[[list[dict[int, list[int]]]], None],
) -> dict[int, list[int]] | None:
    """`base` with a 1-minimal sublist of the (ordered) pieces for which `holds`, or None if
    no prefix of them makes it hold. Delta debugging costs about n log n questions: it starts
    from the shortest prefix (of PREFIXES' sizes) that holds; `ahead` is told each round's
    choices first, to answer them at once."""
    sizes = (*PREFIXES, len(pieces))
    ahead([merge_picks(base, *pieces[:size]) for size in sizes if pieces[:size]])
    for size in sizes:
        prefix = pieces[:size]
        if prefix and holds(merge_picks(base, *prefix)):
            break
        if size >= len(pieces):
            return None
    else:
        return None
    subset = ddmin(
        prefix,
        lambda chosen: holds(merge_picks(base, *chosen)),
        lambda tries: ahead([merge_picks(base, *chosen) for chosen in tries]),
    )
    return merge_picks(base, *subset)


def less_rows(picks: dict[int, list[int]], index: int, rows) -> dict[int, list[int]]:
    """A choice of rows less some rows (every copy of each) of one input."""
    gone = set(rows)
    return {i: [r for r in picked if i != index or r not in gone] for i, picked in picks.items()}


class CoverageClass(NamedTuple):
    """A coverage class the fixture was given rows for: the input, what it shows, and its
    units (one row, or the rows of one group that show it together)."""

    index: int
    what: str
    units: list[tuple[int, ...]]


class Chooser:
    """The greedy choice of fixture rows (see choose_rows)."""

    def __init__(self, search: FixtureSearch, max_rows: int, max_expect: int, result_table: str | None):
        self.search = search
        self.max_rows = max_rows
        self.max_expect = max_expect
        self.result_table = result_table
        self.blocks: list[dict[int, list[int]]] = []
        self.everything: dict[int, list[int]] = {}
        self.fixture: dict[int, list[int]] = {}
        self.costs: dict[tuple[str, int], int] = {}
        self.current_rows = 0
        self.promised: list[CoverageClass] = []  # the coverage classes given rows, re-checked at the end
        self.witness: dict[tuple[int, str], tuple[int, ...]] = {}  # the unit that last mattered, per class
        self.hopeless: set[tuple[int, str]] = set()  # classes no candidate rows made hold
        # (id(class), choice of rows) -> holds(): the re-check asks the same class about the
        # same rows again and again (each restoration keeps the classes before it holding).
        self._holds: dict[tuple[int, tuple], bool] = {}

    def add_block(self, block: dict[int, list[int]]) -> None:
        if block not in self.blocks:
            self.blocks.append(block)
            self.everything = merge_picks(self.everything, block)

    def base(self) -> None:
        """The smallest output among fixtures made of one block of each group of inputs the
        joins connect (the first, smallest, block of the others and each of the first blocks)."""
        search, blocks = self.search, self.blocks
        components: list[set[int]] = []
        for block in blocks:
            if not any(set(block) <= component for component in components):
                components.append(set(block))
        firsts = [next(b for b in blocks if set(b) <= component) for component in components]
        self.fixture = merge_picks(*firsts)
        best = search.output_rows(self.fixture)

        def better(rows: int, than: int) -> bool:
            # Enough output rows to read the logic in (BASE_OUTPUT_ROWS), no more than needed.
            if rows <= 0:
                return False
            if than <= 0:
                return True
            if (rows >= BASE_OUTPUT_ROWS) != (than >= BASE_OUTPUT_ROWS):
                return rows >= BASE_OUTPUT_ROWS
            return rows < than if rows >= BASE_OUTPUT_ROWS else rows > than

        candidates = []
        for block in blocks[:BASE_CANDIDATES]:
            others = [f for f, component in zip(firsts, components, strict=True) if not set(block) <= component]
            candidates.append(merge_picks(block, *others))
        search.prefetch(search.ctx.tree, candidates)
        for candidate in candidates:
            rows = search.output_rows(candidate)
            if better(rows, best) and size_ok(candidate, self.max_rows):
                self.fixture, best = candidate, rows

    def cost(self, position: int) -> tuple[int, int, int]:
        """How many output rows a block adds to the fixture so far (then its size)."""
        key = (repr(self.fixture), position)
        if key not in self.costs:
            added = self.search.output_rows(merge_picks(self.fixture, self.blocks[position]))
            self.costs[key] = added - max(self.current_rows, 0)
        return (self.costs[key], sum(len(rows) for rows in self.blocks[position].values()), position)

    def acceptable(self, candidate: dict[int, list[int]], tree: exp.Expression) -> bool:
        # Cheapest checks first: sizes, then the output's row count, then the mutant.
        return (
            size_ok(candidate, self.max_rows)
            and 0 < self.search.output_rows(candidate) <= self.max_expect
            and self.search.kills(candidate, tree)
        )

    def smallest_killing(self, pieces: list, tree: exp.Expression) -> dict[int, list[int]] | None:
        search = self.search
        found = smallest_subset(
            self.fixture,
            pieces,
            lambda picks: search.kills(picks, tree),
            lambda tries: search.prefetch_kills(tree, tries),
        )
        return found if found is not None and self.acceptable(found, tree) else None

    def cover(self, classes: list[tuple[int, str, list[int]]]) -> list[str]:
        """Semantic coverage beyond the mutants searched: for each class (a value of a filtered
        column, a boundary of a truncated date) without a row in the fixture, add the candidate
        row (with its block) that changes the expected rows while adding the fewest of them,
        within budget; a candidate that changes nothing (its row is filtered away, say) only
        when none does. Returns the classes covered."""
        search = self.search
        covered: list[str] = []
        for index, what, rows in classes:
            present = set(rows) & set(self.fixture.get(index) or [])
            # A row of the class already there covers it only if the output depends on it:
            # one the SQL filters away (a gift-card payment of a returned order) tests nothing.
            self._ask_without(index, sorted(present))
            if any(self._matters(index, row) for row in sorted(present)):
                covered.append(what)
                self.promised.append(CoverageClass(index, what, [(row,) for row in rows]))
                continue
            current = search.output_rows(self.fixture)

            def rank(position, candidate, produced, current=current):
                # Another row count is another output; the same count needs a look at the rows.
                same = produced == current and search.output(candidate) == search.output(self.fixture)
                return (same, produced - current, rows_in(candidate), position)

            if self._adopt_best(
                [merge_picks(self.fixture, block) for _, block in self._class_blocks(index, rows)], rank
            ):
                covered.append(what)
                self.promised.append(CoverageClass(index, what, [(row,) for row in rows]))
        return covered

    def _class_blocks(self, index: int, rows: list[int]) -> list[tuple[int, dict[int, list[int]]]]:
        """(row, block) candidates for a coverage class: each row's lean block (one row of
        another input per key value of the row itself) before its full one (EXPANSION of
        them). A class row on a parent input (a fare package) otherwise brings EXPANSION
        children (tickets) for each value covered, and a few values spend a child input's
        whole row budget before the rows that matter later (a month boundary) are offered;
        the rank keeps the full block only where the lean one does not change the expected
        rows as well. A copy (a twin) gets its full block and its original's: its children
        were copied with it, and two orders are alike (what tells sum from sum(distinct))
        only with all their payments, the original's too (it may have come with a lean block)."""
        found: list[tuple[int, dict[int, list[int]]]] = []
        twins = {(i, new): original for (i, original), new in self.search.twins.items()}
        for row in rows:
            if (index, row) in twins:
                full = self.search.block((index, row), False)
                found.append((row, merge_picks(full, self.search.block((index, twins[(index, row)]), False))))
                continue
            lean, full = (self.search.block((index, row), False, expansion) for expansion in (1, EXPANSION))
            found += [(row, lean)] if lean == full else [(row, lean), (row, full)]
        return found

    def _adopt_best(self, candidates: list[dict[int, list[int]]], rank) -> bool:
        """Make the candidate of least `rank(position, candidate, produced rows)` the fixture,
        among those within the row budgets (a rank of None rules a candidate out); False
        if there is none. The candidates' outputs are asked of DuckDB in batches first."""
        search = self.search
        search.prefetch(search.ctx.tree, candidates)
        best: tuple | None = None
        for position, candidate in enumerate(candidates):
            produced = search.output_rows(candidate)
            if not size_ok(candidate, self.max_rows) or not 0 < produced <= self.max_expect:
                continue
            key = rank(position, candidate, produced)
            if key is not None and (best is None or key < best[0]):
                best = (key, candidate)
        if best is None:
            return False
        self.fixture = best[1]
        return True

    def cover_apart(self, classes: list[tuple[int, str, str, list[int]]]) -> list[str]:
        """cover() for the values of filtered columns (value_classes()), preferring for each
        value a row whose expected rows are not those a row of another value of the column
        changes: two sibling values in one group cancel when a filter swaps one for the
        other (one customer lost, one gained: the count stays), in two groups they cannot."""
        search = self.search
        covered: list[str] = []
        for index, column, what, rows in classes:
            present = set(rows) & set(self.fixture.get(index) or [])
            self._ask_without(index, sorted(present))
            if any(self._matters(index, row) for row in sorted(present)):
                covered.append(what)
                self.promised.append(CoverageClass(index, what, [(row,) for row in rows]))
                continue
            value = search.value_of(index, rows[0], column) if rows else None
            others = [
                row for row in self.fixture.get(index) or [] if search.value_of(index, row, column) not in (None, value)
            ]
            self._ask_without(index, others[:COVERAGE_CANDIDATES])
            touched = set().union(*(self._changed_by(index, row) for row in others[:COVERAGE_CANDIDATES]))
            current = search.output(self.fixture)
            blocks = self._class_blocks(index, rows)
            candidates = [merge_picks(self.fixture, block) for _, block in blocks]
            alone = [
                less_rows(candidate, index, (row,)) for candidate, (row, _) in zip(candidates, blocks, strict=True)
            ]
            search.prefetch(search.ctx.tree, alone)

            def rank(position, candidate, produced, current=current, touched=touched, alone=alone):
                # The value's own row must change the expected rows, not only its block: a
                # block whose other rows do while the row is filtered away covers nothing.
                own = search.output(candidate) != search.output(alone[position])
                changed = changed_rows(search.output(candidate), current)
                overlap = bool(changed & touched)
                return (not own, not changed, overlap, produced - len(current), rows_in(candidate), position)

            if self._adopt_best(candidates, rank):
                covered.append(what)
                self.promised.append(CoverageClass(index, what, [(row,) for row in rows]))
        return covered

    def _changed_by(self, index: int, row: int) -> set:
        """The expected rows that change (before and after) without this one source row."""
        return changed_rows(self.search.output(self._without(index, row)), self.search.output(self.fixture))

    def cover_pairs(self, classes: list[tuple[int, str, list[tuple[int, ...]], str]]) -> list[str]:
        """Coverage by several rows (generator.testgen.coverage): for each class without such
        rows in the fixture, add the rows (with the block of each) that change the
        expected rows while adding the fewest, within budget; none if no pair changes them."""
        search = self.search
        covered: list[str] = []
        for index, what, pairs, group in classes:
            picked = set(self.fixture.get(index) or [])
            if any(set(rows) <= picked for rows in pairs):
                covered.append(what)
                self.promised.append(CoverageClass(index, what, [tuple(rows) for rows in pairs]))
                continue
            current = search.output(self.fixture)
            groups = {repr(search.value_of(index, row, group)) for row in picked}

            def rank(
                position, candidate, produced, current=current, groups=groups, pairs=pairs, index=index, group=group
            ):
                if not changed_rows(search.output(candidate), current):
                    return None  # a pair the SQL filters away (or that repeats a group) tests nothing
                joins = repr(search.value_of(index, pairs[position][0], group)) in groups
                return (joins, produced - len(current), rows_in(candidate), position)

            candidates = [
                merge_picks(self.fixture, *(search.block((index, row), False) for row in rows)) for rows in pairs
            ]
            if self._adopt_best(candidates, rank):
                covered.append(what)
                self.promised.append(CoverageClass(index, what, [tuple(rows) for rows in pairs]))
        return covered

    def _matters(self, index: int, row: int) -> bool:
        """Whether the fixture's expected rows change without this one source row."""
        return self.search.output(self._without(index, row)) != self.search.output(self.fixture)

    def _ask_without(self, index: int, rows: list[int]) -> None:
        """Prefetch the fixture's output without each of these rows (one statement, not one each)."""
        self.search.prefetch(self.search.ctx.tree, [self.fixture, *(self._without(index, row) for row in rows)])

    def _without(self, index: int, row: int) -> dict[int, list[int]]:
        """The fixture less one source row."""
        return {i: [r for r in picked if (i, r) != (index, row)] for i, picked in self.fixture.items()}

    # -- coverage re-checked on the final rows ----------------------------------------------

    def units_in(self, promise: CoverageClass, picks: dict[int, list[int]]) -> list[tuple[int, ...]]:
        """The units of a class these rows hold: those the search offered for it, and any
        row of the class by its condition (another row of the value, of the boundary)."""
        picked = picks.get(promise.index) or []
        offered = [unit for unit in promise.units if set(unit) <= set(picked)]
        others = [(row,) for row in self.search.members(promise.index, promise.what, picked)]
        units = list(dict.fromkeys([*offered, *others]))
        # The unit that mattered last time first: the choices asked about mostly share rows.
        witness = self.witness.get(promise[:2])
        return sorted(units, key=lambda unit: unit != witness)

    def holds(self, promise: CoverageClass, picks: dict[int, list[int]]) -> bool:
        """Whether these rows hold a unit of the class and the expected rows change without
        it. Rows added later (a later invoice that moves the data's end, a larger amount
        that becomes the maximum) can make a row that mattered matter no more; and a class
        given a row that never mattered (none of its candidates did) promised nothing."""
        # Keyed by the class object: two classes may share a name (and differ in units).
        key = (id(promise), picks_key(picks))
        if key not in self._holds:
            self._holds[key] = self._holds_uncached(promise, picks)
        return self._holds[key]

    def _holds_uncached(self, promise: CoverageClass, picks: dict[int, list[int]]) -> bool:
        output = self.search.output(picks)
        for unit in self.units_in(promise, picks):
            if self.search.output(less_rows(picks, promise.index, unit)) != output:
                self.witness[promise[:2]] = unit
                return True
        return False

    def _ask_holds(self, promise: CoverageClass, choices: list[dict[int, list[int]]]) -> None:
        """Prefetch what holds() asks about these choices: each, and each less each unit."""
        self._ask_classes([promise], choices)

    def _ask_classes(
        self, classes: list[CoverageClass], choices: list[dict[int, list[int]]], *, first: bool = False
    ) -> None:
        """Prefetch what holds() asks about each of these classes on each of these choices
        (with `first`, only about the unit it asks first: the one that mattered last time)."""
        search = self.search
        for promise in classes:
            # Which rows are of the class, for every choice in one question (members() remembers).
            rows = {row for picks in choices for row in picks.get(promise.index) or []}
            search.members(promise.index, promise.what, rows)
        asked = []
        for picks in choices:
            asked.append(picks)
            for promise in classes:
                if (id(promise), picks_key(picks)) not in self._holds:
                    units = self.units_in(promise, picks)
                    asked += [less_rows(picks, promise.index, unit) for unit in (units[:1] if first else units)]
        search.prefetch(search.ctx.tree, asked)

    def recheck(self, killed: list[exp.Expression]) -> list[CoverageClass]:
        """After the last row is chosen, every coverage class given rows must still change
        the expected rows on the final fixture (see holds()). For each that does not, in the
        order they were given rows, the fewest rows that make one of its units matter again
        (a later invoice, so that a subscription started after the fixture's last one counts)
        are added: within budget, every mutant told apart still told apart, every class
        given rows before it still holding (and as many given rows after it as can). Each
        addition makes the classes that hold, read in that order, strictly better: this
        ends. Returns the classes that no such rows keep."""
        # (A mutant rows chosen later took the difference from is not this step's to keep.)
        killed = [tree for tree in killed if self.search.kills(self.fixture, tree)]
        helpers = self._helpers()
        # Every class's question about the final rows in as few statements as prefetch makes.
        self._ask_classes(self.promised, [self.fixture])
        tried: set[tuple] = set()
        restored = True
        while restored:
            restored = False
            for position, promise in enumerate(self.promised):
                key = (position, picks_key(self.fixture))
                if key in tried or promise[:2] in self.hopeless or self.holds(promise, self.fixture):
                    continue
                tried.add(key)
                restored = self._restore(position, helpers, killed) or restored
        return [promise for promise in self.promised if not self.holds(promise, self.fixture)]

    def _helpers(self) -> list[dict[int, list[int]]]:
        """The candidate blocks not all in the fixture yet, those that add the fewest expected
        rows first (then the smallest): what may make a row matter again."""
        search = self.search
        current = search.output_rows(self.fixture)
        adds = adds_rows(self.fixture)
        candidates = [(p, b) for p, b in enumerate(self.blocks) if adds(b)]
        search.prefetch(search.ctx.tree, [merge_picks(self.fixture, b) for _, b in candidates])
        ranked = sorted(
            candidates,
            key=lambda pair: (
                search.output_rows(merge_picks(self.fixture, pair[1])) - current,
                rows_in(pair[1]),
                pair[0],
            ),
        )
        return [block for _, block in ranked]

    def _restore(self, position: int, helpers: list[dict[int, list[int]]], killed: list[exp.Expression]) -> bool:
        """Make the class at this position hold again (see recheck): among the rows that do,
        keeping every class before it, those that lose the fewest classes after it, then
        add the fewest expected rows, then the fewest rows. False if none do."""
        search, promise = self.search, self.promised[position]
        current = search.output_rows(self.fixture)
        self._ask_classes(self.promised, [self.fixture])  # (the fixture changes as classes are restored)
        earlier = [other for other in self.promised[:position] if self.holds(other, self.fixture)]
        later = [other for other in self.promised[position + 1 :] if self.holds(other, self.fixture)]
        found = [
            candidate
            for candidate in self._restorations(promise, helpers, earlier)
            if size_ok(candidate, self.max_rows) and 0 < search.output_rows(candidate) <= self.max_expect
        ]

        def cost(candidate: dict[int, list[int]]) -> tuple[int, int, int]:
            lost = sum(not self.holds(other, candidate) for other in later)
            return (lost, search.output_rows(candidate) - current, rows_in(candidate))

        if len(found) > 1:
            # Every class after this one asked about every candidate at once.
            self._ask_classes(later, found)
            ranked = sorted(found, key=cost)
        else:
            ranked = found  # (one candidate or none: nothing to rank)
        for candidate in ranked:
            if all(search.kills(candidate, tree) for tree in killed):
                self.fixture = candidate
                return True
        return False

    def _restorations(
        self, promise: CoverageClass, helpers: list[dict[int, list[int]]], keep: list[CoverageClass]
    ) -> list[dict[int, list[int]]]:
        """For each unit the search offered for the class: the fixture with it (and its
        block) and the fewest helper blocks that make the class hold, the classes in `keep`
        holding too."""
        search = self.search

        def holds(picks: dict[int, list[int]]) -> bool:
            return self.holds(promise, picks) and all(self.holds(other, picks) for other in keep)

        found = []
        # A class that holds neither with a unit alone nor among every candidate row (a value
        # the SQL filters away) is not searched again when the fixture grows.
        self.hopeless.add(promise[:2])
        tries = []
        for unit in promise.units[:COVERAGE_CANDIDATES]:
            base = merge_picks(self.fixture, *(search.block((promise.index, row), False) for row in unit))
            adds = adds_rows(base)
            pieces = [block for block in helpers if adds(block)]
            tries.append((base, pieces, merge_picks(base, *pieces)))
        # Every unit's first questions at once; then, for the units whose rows alone make
        # the class hold (a few rows more than the fixture: cheap to run on), what the
        # classes to keep ask about them.
        self._ask_holds(promise, [choice for base, _, everything in tries for choice in (base, everything)])
        if keep and search.batches(search.ctx.tree):
            self._ask_classes(keep, [base for base, _, _ in tries if self.holds(promise, base)])
            # The units whose rows alone do not: the classes to keep about every candidate row
            # (many rows, so only the unit each class asks first; the others when asked).
            wider = [everything for base, _, everything in tries if not holds(base) and self.holds(promise, everything)]
            self._ask_classes(keep, wider, first=True)
        for base, pieces, everything in tries:
            if self.holds(promise, base) or self.holds(promise, everything):
                self.hopeless.discard(promise[:2])
            if holds(base):
                found.append(base)
            elif holds(everything):
                # Not monotone (a row can matter among some rows and not among more), but
                # rows that make it matter among all of them are worth a search.
                restored = smallest_subset(base, pieces, holds, lambda tries: self._ask_holds(promise, tries))
                if restored is not None:
                    found.append(restored)
        return found

    def grow_groups(self, tree: exp.Expression) -> bool:
        """Tell a mutant apart with more rows in the groups the fixture already has: a rate
        rounded to fewer places shows only on groups of a size like 7 (3/7, not 1/2), which
        no candidate block makes, since each starts a group of its own or brings a whole
        one. The candidates are rows spread over each input (with their blocks) that add
        no output row but change one; the fewest of them that tell the mutant apart are
        added. False if none do."""
        search = self.search
        current = search.output_rows(self.fixture)
        if current <= 0:
            return False
        candidates = [merge_picks(self.fixture, block) for block in search.mate_blocks(self.fixture)]
        search.prefetch(search.ctx.tree, candidates)
        mates = [
            candidate
            for candidate in candidates
            if search.output_rows(candidate) == current and search.output(candidate) != search.output(self.fixture)
        ]
        found = self.smallest_killing(mates, tree) if mates else None
        if found is None:
            return False
        self.fixture = found
        return True

    def trade(self, tree: exp.Expression, killed: list[exp.Expression]) -> bool:
        """Tell a mutant apart within a full budget: a source row where the real data shows it
        (with its parents) in place of one fixture row of its input whose loss keeps every
        mutant in `killed` told apart and every coverage class that holds holding. False if
        no such trade is found (tried in a fixed order, the first that works is kept)."""
        search = self.search
        if not self.result_table:
            return False
        holding = [promise for promise in self.promised if self.holds(promise, self.fixture)]
        parents = {link.parent for link in search.parents if self.fixture.get(link.child)}
        for index, row in search.diff_seeds(tree, self.result_table):
            if index in parents or row in (self.fixture.get(index) or []):
                continue  # a parent traded away would orphan its children; a row there is no trade
            # The seed alone of its input, with the rows of the others it joins to and its parents.
            added = {i: rows for i, rows in search.block((index, row), False).items() if i != index}
            added[index] = [row]
            search.add_parents(added)
            grown = merge_picks(self.fixture, added)
            candidates = [less_rows(grown, index, (old,)) for old in self.fixture.get(index) or []]
            search.prefetch(search.ctx.tree, candidates)
            search.prefetch_kills(tree, [c for c in candidates if size_ok(c, self.max_rows)])
            for candidate in candidates:
                if (
                    self.acceptable(candidate, tree)
                    and all(search.kills(candidate, other) for other in killed)
                    and all(self.holds(promise, candidate) for promise in holding)
                ):
                    self.fixture = candidate
                    return True
        return False

    def tell_apart(self, tree: exp.Expression) -> bool:
        """Grow the fixture so that the mutant's output differs; False if it cannot."""
        search = self.search
        if search.kills(self.fixture, tree):
            return True
        if not search.kills(merge_picks(self.fixture, self.everything), tree) and self.result_table:
            # No candidate shows the difference: seed from where the real data shows it.
            for seed in search.diff_seeds(tree, self.result_table):
                for groups in (False, True):
                    self.add_block(search.block(seed, groups))
        if not search.kills(merge_picks(self.fixture, self.everything), tree):
            return self.grow_groups(tree)
        adds = adds_rows(self.fixture)
        positions = sorted(
            (p for p, b in enumerate(self.blocks) if adds(b)),
            key=lambda p: (sum(len(rows) for rows in self.blocks[p].values()), p),
        )
        candidates = [self.blocks[p] for p in positions]
        # The smallest blocks first; if that makes too many expected rows, the blocks that
        # alone keep them within budget (ordered by the rows they add), then any one block.
        found = self.smallest_killing(candidates, tree)
        if found is None:
            self.current_rows = search.output_rows(self.fixture)
            budget = self.max_expect - max(self.current_rows, 0)
            search.prefetch(search.ctx.tree, [merge_picks(self.fixture, self.blocks[p]) for p in positions])
            by_cost = sorted(positions, key=self.cost)
            affordable = [self.blocks[p] for p in by_cost if self.cost(p)[0] <= budget]
            if len(affordable) < len(candidates):
                found = self.smallest_killing(affordable, tree)
            if found is None:
                singles = [merge_picks(self.fixture, b) for b in affordable[:SINGLE_BLOCK_TRIES]]
                search.prefetch(search.ctx.tree, singles)
                if search.prefetched(search.ctx.tree, singles):
                    # Their sizes are known for free now: run the mutant on the ones in budget.
                    search.prefetch_kills(
                        tree,
                        [
                            c
                            for c in singles
                            if size_ok(c, self.max_rows) and 0 < search.output_rows(c) <= self.max_expect
                        ],
                    )
                found = next((c for c in singles if self.acceptable(c, tree)), None)
        if found is None:
            return False
        self.fixture = found
        return True


def choose_rows(
    search: FixtureSearch,
    mutants,
    *,
    max_rows: int = MAX_ROWS_PER_INPUT,
    max_expect: int = MAX_EXPECT_ROWS,
    result_table: str | None = None,
) -> FixtureChoice:
    """Pick fixture rows: a base that returns rows, then blocks that tell mutants apart."""
    choice = FixtureChoice()
    chooser = Chooser(search, max_rows, max_expect, result_table)
    found: list[dict[int, list[int]]] = []
    duplicated: Counter = Counter()
    # Where each output row is one input row's, a second copy of a row only repeats an output
    # row: it tells nothing apart (there is no sum or count to change), so none is added.
    doubles = not pass_through(search.ctx)
    seeds = search.seeds()
    for item in search.inputs:  # every seed's values in one query per input (each block reads its seed's)
        search.values_of(item.index, [row for index, row in seeds if index == item.index])
    for seed in seeds:
        for groups in (False, True):
            block = search.block(seed, groups)
            if block not in found:
                found.append(block)
        # The seed row twice: a duplicate in the input (a double load), which is what tells
        # sum from max and count(*) from count(distinct) when the data has no such group.
        # An input with a unique key gets a twin instead (the row copied with a fresh key):
        # the same row twice could not happen there.
        if doubles and duplicated[seed[0]] < DUPLICATE_SEEDS:
            duplicated[seed[0]] += 1
            second = search.twin(*seed) if search.inputs[seed[0]].keys else seed[1]
            if second is not None:
                twice = {index: list(rows) for index, rows in search.block(seed, False).items()}
                twice[seed[0]] = sorted([*twice[seed[0]], second])
                if twice not in found:
                    found.append(twice)
    if not found:
        return choice
    # Small blocks first: delta debugging keeps the first pieces that work.
    for block in sorted(found, key=lambda b: (sum(len(rows) for rows in b.values()), found.index(b))):
        chooser.add_block(block)
    chooser.base()
    # Meaning first (the values a filter names and their siblings; rows at the month and
    # week boundaries of the dates it truncates or compares, in the hours where time zones
    # disagree, the cheapest of each), then whatever the mutants still need.
    chooser.cover_apart(search.value_classes())
    choice.boundaries = chooser.cover(search.boundary_candidates())
    # Not month or week boundaries (the description counts those): rows on either side of a
    # threshold between two dates, and nulls in the columns the SQL aggregates.
    chooser.cover(threshold_classes(search) + null_classes(search))
    chooser.cover(search.twin_candidates(chooser.fixture))
    chooser.cover_pairs(pair_classes(search) + spread_classes(search))
    searched = [mutant for mutant in mutants if not mutant.held_out]  # held out: scored by mutate only
    told = [mutant for mutant in searched if chooser.tell_apart(mutant.tree)]
    # Rows added for a later mutant can take an earlier one's difference away (a later
    # invoice moves the data's end past every start): those are searched for once more.
    for mutant in told:
        if not search.kills(chooser.fixture, mutant.tree):
            chooser.tell_apart(mutant.tree)
    # A sibling column read instead (column-swap) shows only on a row where the two disagree,
    # which the budget, full by now, may have no room for: one such row traded for another.
    for mutant in searched:
        if mutant.operator == "column-swap" and not search.kills(chooser.fixture, mutant.tree):
            chooser.trade(mutant.tree, [m.tree for m in searched if search.kills(chooser.fixture, m.tree)])
    # Rows at and either side of each number an expression of one input is compared with,
    # after the mutants: offered before them, rows a filter drops (a payment of 0 where
    # `amount > 0`) took the place of a value's row the mutants then did not bring back.
    chooser.cover(bound_classes(search))
    # The rows the mutants asked for came after the coverage: what each class promised must
    # hold on the final rows, which the unit test will hold.
    lost = chooser.recheck([mutant.tree for mutant in searched if search.kills(chooser.fixture, mutant.tree)])
    for mutant in searched:
        killed = search.kills(chooser.fixture, mutant.tree)
        (choice.killed if killed else choice.unkillable).append(mutant.label())
    choice.lost = [promise.what for promise in lost]
    choice.covered = [promise.what for promise in chooser.promised if not any(promise is gone for gone in lost)]
    choice.boundaries = [what for what in choice.boundaries if what in choice.covered]
    choice.picks = chooser.fixture
    return choice

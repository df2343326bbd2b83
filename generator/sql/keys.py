"""Determinism keys and functional dependencies over a resolved query.

Keys here are *determinism keys*: column sets such that two rows agreeing on them are the
same row or identical in every column. A relation's primary key and unique columns are
keys; so is the set of all its columns (identical rows cannot be told apart, so their
order cannot matter). Join and filter equalities add functional dependencies (FDs)
between column *atoms*; closing a set of atoms under them says what a set of keys pins
down.

`KeySearch` is the half of `generator.sql.scope.Analysis` that answers these questions
from the references name resolution recorded (`self.refs`); the determinism gate asks
them, and name resolution itself uses them to give subqueries and CTEs their keys.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from generator.sql.locate import DIALECT
from generator.sql.shapes import (
    Atom,
    Col,
    Output,
    Ref,
    RefTable,
    SelectInfo,
    Source,
    conjuncts,
    dedupe_names,
    in_window,
    is_aggregate,
)


class KeySearch:
    """Keys and FDs of resolved selects; mixed into `Analysis`, which fills `refs`."""

    sql: str
    refs: RefTable

    def __init__(self) -> None:
        # While a select's keys are searched (refs fixed, no nodes made), canonical texts
        # and column atoms are asked for the same nodes many times: remembered by node id.
        self._canon_memo: dict[int, str] | None = None
        # (id(node), id(info)): column_atoms; (id(node), -id(info)): start_atoms of one key;
        # (id(source), 0): a source's atoms.
        self._atoms_memo: dict[tuple[int, int], set[Atom]] | None = None

    def unalias(self, node: exp.Expression) -> exp.Expression:
        """A bare reference to a select alias stands for the aliased expression."""
        if isinstance(node, exp.Column):
            ref = self.refs.get(id(node))
            if ref is not None and ref.kind == "alias" and ref.target is not None:
                return ref.target
        return node

    def has_aggregate(self, node: exp.Expression) -> bool:
        """Whether an expression aggregates (outside windows and nested queries)."""
        for child in node.walk():
            if isinstance(child, (exp.Select, exp.SetOperation)) and child is not node:
                continue
            if is_aggregate(child, self.sql) and not in_window(child):
                return True
        return False

    def _fd_equal(self, left: Atom, right: Atom, info: SelectInfo, join_type: str | None) -> None:
        if join_type in (None, "", "inner", "cross"):
            info.fds.append((frozenset({left}), frozenset({right})))
            info.fds.append((frozenset({right}), frozenset({left})))
        elif join_type == "left":
            info.fds.append((frozenset({left}), frozenset({right})))
        elif join_type == "right":
            info.fds.append((frozenset({right}), frozenset({left})))

    def _equalities(self, condition, info: SelectInfo, direction: str | None, right: Source | None = None) -> None:
        """`a = b` and `a = constant` conjuncts of WHERE or ON: what they pin down."""
        for conjunct in conjuncts(condition):
            if not isinstance(conjunct, exp.EQ):
                continue
            sides = [self.atom_of(conjunct.this, info), self.atom_of(conjunct.expression, info)]
            constant = [self._is_constant(conjunct.this), self._is_constant(conjunct.expression)]
            for atom, other_constant in ((sides[0], constant[1]), (sides[1], constant[0])):
                if atom is not None and other_constant:
                    info.fds.append((frozenset(), frozenset({atom})))
            if sides[0] is not None and sides[1] is not None:
                if direction in (None, "", "inner", "cross"):
                    self._fd_equal(sides[0], sides[1], info, None)
                else:
                    # In an outer join, the preserved side pins the other side, not back.
                    a, b = sides
                    right_atoms = right.atoms() if right is not None else set()
                    if direction == "left":
                        pairs = [(a, b)] if b in right_atoms else [(b, a)]
                    else:
                        pairs = [(b, a)] if b in right_atoms else [(a, b)]
                    for lhs, rhs in pairs:
                        info.fds.append((frozenset({lhs}), frozenset({rhs})))

    @staticmethod
    def _is_constant(node: exp.Expression) -> bool:
        return not any(isinstance(n, (exp.Column, exp.Query, exp.Subquery)) for n in node.walk())

    def atom_of(self, node: exp.Expression, info: SelectInfo) -> Atom | None:
        """The column atom a plain column reference stands for in `info`, if it is one."""
        node = self.unalias(node)
        while isinstance(node, exp.Paren):
            node = node.this
        if not isinstance(node, exp.Column):
            return None
        ref = self.refs.get(id(node))
        if ref is None or ref.kind != "column" or ref.source not in info.sources or ref.path:
            return None
        return ref.source.atom(ref.column)

    def canon(self, node: exp.Expression | None) -> str:
        """A canonical text for an expression: columns by what they resolve to."""
        memo = self._canon_memo
        if memo is None or node is None:
            return self._canon(node)
        text = memo.get(id(node))
        if text is None:
            text = memo[id(node)] = self._canon(node)
        return text

    def _canon(self, node: exp.Expression | None) -> str:
        if node is None:
            return "null"
        if isinstance(node, (exp.Alias, exp.Paren)) and isinstance(node.this, exp.Expression):
            return self.canon(node.this)
        if isinstance(node, exp.Column):
            ref = self.refs.get(id(node))
            if ref is not None and ref.kind == "alias" and ref.target is not None:
                return self.canon(ref.target)
            if ref is not None and ref.kind in ("column", "outer") and ref.source is not None:
                return f"#{ref.source.uid}.{ref.column}" + "".join(f".{p.lower()}" for p in ref.path)
            return node.sql(dialect=DIALECT).lower()
        if isinstance(node, exp.Identifier):
            return node.name if node.quoted else node.name.lower()
        if isinstance(node, exp.Literal):
            return repr((node.is_string, node.this))
        parts = [node.key]
        for key, value in node.args.items():
            if value is None or value is False or value == []:
                continue
            if isinstance(value, list):
                inner = ",".join(self.canon(v) if isinstance(v, exp.Expression) else repr(v) for v in value)
                parts.append(f"{key}=[{inner}]")
            elif isinstance(value, exp.Expression):
                parts.append(f"{key}={self.canon(value)}")
            else:
                parts.append(f"{key}={value!r}")
        return "(" + " ".join(parts) + ")"

    def column_atoms(self, node: exp.Expression, info: SelectInfo) -> set[Atom]:
        """Atoms of `info`'s sources an expression reads (through aliases and subqueries)."""
        memo = self._atoms_memo
        if memo is None:
            return self._column_atoms(node, info)
        atoms = memo.get((id(node), id(info)))
        if atoms is None:
            atoms = memo[(id(node), id(info))] = self._column_atoms(node, info)
        return atoms

    def _column_atoms(self, node: exp.Expression, info: SelectInfo) -> set[Atom]:
        atoms: set[Atom] = set()
        for child in node.walk():
            if isinstance(child, exp.Column):
                ref = self.refs.get(id(child))
                if ref is None:
                    continue
                if ref.kind == "alias" and ref.target is not None and ref.target is not node:
                    atoms |= self.column_atoms(ref.target, info)
                elif ref.kind in ("column", "outer") and ref.source in info.sources:
                    atoms.add(ref.source.atom(ref.column))
                elif ref.kind == "row" and ref.source in info.sources:
                    atoms |= ref.source.atoms()
        return atoms

    def closure(self, info: SelectInfo, start: set[Atom]) -> set[Atom]:
        """The atoms `start` determines, following `info`'s functional dependencies."""
        result = set(start)
        changed = True
        while changed:
            changed = False
            for lhs, rhs in info.fds:
                if lhs <= result and not rhs <= result:
                    result |= rhs
                    changed = True
        return result

    def start_atoms(self, info: SelectInfo, keys: list[exp.Expression]) -> set[Atom]:
        """The atoms rows tied on `keys` agree on: each key's canonical text, and its column."""
        atoms: set[Atom] = set()
        memo = self._atoms_memo
        for key in keys:
            if memo is None:
                atoms |= self._key_atoms(key, info)
                continue
            found = memo.get((id(key), -id(info)))
            if found is None:
                found = memo[(id(key), -id(info))] = self._key_atoms(key, info)
            atoms |= found
        return atoms

    def _key_atoms(self, key: exp.Expression, info: SelectInfo) -> set[Atom]:
        key = self.unalias(key)
        atom = self.atom_of(key, info)
        return {("e", self.canon(key))} if atom is None else {("e", self.canon(key)), atom}

    def keyed(self, source: Source, closure: set[Atom]) -> bool:
        """Whether atoms in `closure` pin down one row of `source` (a key or all its columns)."""
        for key in source.shape.keys:
            if all(source.atom(k) in closure for k in key):
                return True
        if not source.shape.known:
            return False
        memo = self._atoms_memo
        if memo is None:
            return source.atoms() <= closure
        atoms = memo.get((id(source), 0))
        if atoms is None:
            atoms = memo[(id(source), 0)] = source.atoms()
        return atoms <= closure

    def row_determined(self, expression, info: SelectInfo, closure: set[Atom]) -> bool:
        """Whether rows agreeing on `closure` agree on `expression` too."""
        if ("e", self.canon(expression)) in closure:
            return True
        for atom in self.column_atoms(expression, info):
            if atom in closure:
                continue
            owner = next((s for s in info.sources if s.uid == atom[1]), None)
            if owner is None or not self.keyed(owner, closure):
                return False
        return True

    def _unresolved(self, expressions: list[exp.Expression]) -> bool:
        if not self.refs.unknown:
            return False
        for expression in expressions:
            for column in expression.find_all(exp.Column):
                ref = self.refs.get(id(column))
                if ref is not None and ref.kind == "unknown":
                    return True
        return False

    def whole_rows(self, info: SelectInfo) -> list[exp.Expression]:
        """Every column of every source, as expressions (for outputs we could not expand)."""
        columns = []
        for source in info.visible_sources:
            for column in source.shape.columns or ():
                node = exp.column(column.name, table=source.name)
                self.refs[id(node)] = Ref("column", source, column.name.lower())
                columns.append(node)
        return columns

    def relevant_outputs(self, info: SelectInfo) -> list[exp.Expression]:
        """What a select emits, for deciding whether tied rows can be told apart."""
        outputs = [o.expression for o in info.outputs if o.expression is not None]
        if len(outputs) < len(info.outputs):
            outputs.extend(self.whole_rows(info))
        return outputs

    def undetermined(
        self,
        info: SelectInfo,
        keys: list[exp.Expression],
        relevant: list[exp.Expression],
        grouped: bool,
    ) -> list[exp.Expression]:
        """The relevant expressions that rows tied on `keys` may still disagree on.

        Nothing is reported when a column in them did not resolve: binding reports that.
        """
        return list(self._gaps(info, keys, relevant, grouped))

    def _gaps(
        self,
        info: SelectInfo,
        keys: list[exp.Expression],
        relevant: list[exp.Expression],
        grouped: bool,
    ) -> Iterator[exp.Expression]:
        """`undetermined`, lazily: the key search needs only whether there is a first one."""
        if self._unresolved(keys) or self._unresolved(relevant):
            return
        closure = self.closure(info, self.start_atoms(info, keys))
        if grouped:
            if not info.group:
                return  # an aggregate without GROUP BY is one row
            if all(self.row_determined(g, info, closure) for g in info.group):
                return
            yield from (
                e
                for e in relevant
                if ("e", self.canon(e)) not in closure
                and (self.has_aggregate(e) or not self.row_determined(e, info, closure))
            )
            return
        yield from (e for e in relevant if not self.row_determined(e, info, closure))

    def output_keys(self, info: SelectInfo) -> list[frozenset[str]]:
        """The sets of output columns (lowercase) that identify a row of `info`'s result.

        The top select's keys are not searched while analysing (nothing reads them there);
        the grain gate asks for them here, once, after the dry run.
        """
        if any(o.expression is None for o in info.outputs):
            return []
        return self._output_keys(info, dedupe_names([Col(o.name, o.data_type) for o in info.outputs]))

    def _output_keys(self, info: SelectInfo, columns: list[Col]) -> list[frozenset[str]]:
        saved = self._canon_memo, self._atoms_memo
        self._canon_memo, self._atoms_memo = {}, {}
        try:
            return self._search_output_keys(info, columns)
        finally:
            self._canon_memo, self._atoms_memo = saved

    def _search_output_keys(self, info: SelectInfo, columns: list[Col]) -> list[frozenset[str]]:
        names = [c.name.lower() for c in columns]
        outputs = [o for o in info.outputs if o.expression is not None]
        limit = info.node.args.get("limit")
        if info.aggregated and not info.group:
            return [frozenset()]  # one row
        if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal) and limit.expression.this == "1":
            return [frozenset()]
        grouped = info.aggregated
        keys: list[frozenset[str]] = []

        def pins(subset: list[Output]) -> bool:
            expressions = [o.expression for o in subset]
            everything = [o.expression for o in outputs]
            return next(self._gaps(info, expressions, everything, grouped), None) is None

        if outputs and len(outputs) == len(names) and pins(outputs):
            for order in (outputs, list(reversed(outputs))):
                current = list(outputs)
                for output in order:
                    trial = [o for o in current if o is not output]
                    if trial and pins(trial):
                        current = trial
                keys.append(frozenset(names[info.outputs.index(o)] for o in current))
        distinct = info.node.args.get("distinct")
        if isinstance(distinct, exp.Distinct) and distinct.args.get("on") is None:
            keys.append(frozenset(names))
        keys.extend(self._row_number_keys(info, names))
        return list(dict.fromkeys(keys))

    def _row_number_keys(self, info: SelectInfo, names: list[str]) -> list[frozenset[str]]:
        """row_number() is unique within its partition; `qualify row_number() ... = 1`
        leaves one row per partition."""
        by_canon = {self.canon(o.expression): names[i] for i, o in enumerate(info.outputs) if o.expression is not None}

        def partition_names(window: exp.Window) -> list[str] | None:
            partition = window.args.get("partition_by") or []
            found = [by_canon.get(self.canon(self.unalias(p))) for p in partition]
            return None if None in found else found

        keys = []
        for index, output in enumerate(info.outputs):
            window = output.expression
            if isinstance(window, exp.Window) and isinstance(window.this, exp.RowNumber):
                partition = partition_names(window)
                if partition is not None:
                    keys.append(frozenset([*partition, names[index]]))
        qualify = info.node.args.get("qualify")
        condition = qualify.this if qualify is not None else None
        if isinstance(condition, (exp.EQ, exp.LTE)):
            sides = [self.unalias(condition.this), self.unalias(condition.expression)]
            one = [s for s in sides if isinstance(s, exp.Literal) and s.this == "1"]
            window = next((s for s in sides if isinstance(s, exp.Window)), None)
            if one and window is not None and isinstance(window.this, exp.RowNumber):
                partition = partition_names(window)
                if partition is not None:
                    keys.append(frozenset(partition))
        return keys

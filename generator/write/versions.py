"""Change classification between two versions of a generated model, at the contract level.

A consumer of a dbt model depends on its contract: the column names, their types and the
grain (what one row is). A new version is

  breaking      when a column is removed or renamed, a type changes other than by widening,
                or the grain changes: `ref('model')` consumers may fail or silently change
                meaning, so the previous version gets a `deprecation_date` and stays
                reachable as `ref('model', v=N)`;
  non-breaking  when columns are only added, types only widen, or only the logic (or the
                documentation) changes with the same schema.

"Widening" is an explicit, small table of DuckDB types (below): every value of the old type
is a value of the new one, unchanged. Anything not in the table is breaking: a wrong
"breaking" costs a reviewer a look, a wrong "non-breaking" costs a consumer an outage.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from generator.project.catalog import Relation

BREAKING = "breaking"
NON_BREAKING = "non-breaking"
UNCHANGED = "unchanged"

DEFAULT_DEPRECATION_DAYS = 90

# DuckDB's spellings of the same type, to one name (DuckDB reports the right-hand ones).
_ALIASES = {
    "int": "integer",
    "int4": "integer",
    "signed": "integer",
    "int32": "integer",
    "int8": "bigint",
    "long": "bigint",
    "int64": "bigint",
    "int2": "smallint",
    "short": "smallint",
    "int16": "smallint",
    "int1": "tinyint",
    "int128": "hugeint",
    "float4": "float",
    "real": "float",
    "float8": "double",
    "string": "varchar",
    "text": "varchar",
    "char": "varchar",
    "bpchar": "varchar",
    "bool": "boolean",
    "logical": "boolean",
    "datetime": "timestamp",
    "timestamptz": "timestamp with time zone",
    "numeric": "decimal(18,3)",
    "decimal": "decimal(18,3)",
}

# old type -> types that hold every old value exactly (DuckDB). Nothing else widens.
_WIDENS_TO: dict[str, frozenset[str]] = {
    "tinyint": frozenset({"smallint", "integer", "bigint", "hugeint", "float", "double"}),
    "smallint": frozenset({"integer", "bigint", "hugeint", "float", "double"}),
    "integer": frozenset({"bigint", "hugeint", "double"}),
    "bigint": frozenset({"hugeint"}),
    "utinyint": frozenset(
        {"usmallint", "uinteger", "ubigint", "uhugeint", "smallint", "integer", "bigint", "hugeint", "float", "double"}
    ),
    "usmallint": frozenset({"uinteger", "ubigint", "uhugeint", "integer", "bigint", "hugeint", "float", "double"}),
    "uinteger": frozenset({"ubigint", "uhugeint", "bigint", "hugeint", "double"}),
    "ubigint": frozenset({"uhugeint", "hugeint"}),
    "float": frozenset({"double"}),
}
# Decimal digits an integer type needs: it widens to decimal(p, s) when p - s is at least this.
_INTEGER_DIGITS = {
    "tinyint": 3,
    "smallint": 5,
    "integer": 10,
    "bigint": 19,
    "hugeint": 39,
    "utinyint": 3,
    "usmallint": 5,
    "uinteger": 10,
    "ubigint": 20,
}
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


def normalize_type(data_type: str | None) -> str:
    """One spelling per DuckDB type: lowercase, no spaces in parameters, aliases resolved."""
    text = re.sub(r"\s+", " ", (data_type or "").strip().lower())
    text = re.sub(r"\s*([(),])\s*", r"\1", text)
    text = re.sub(r"^varchar\(\d+\)$", "varchar", text)
    return _ALIASES.get(text, text)


def widens(old: str | None, new: str | None) -> bool:
    """True when every value of type `old` is, unchanged, a value of type `new`."""
    old, new = normalize_type(old), normalize_type(new)
    if old == new:
        return True
    if new in _WIDENS_TO.get(old, ()):
        return True
    new_decimal = _DECIMAL.match(new)
    if new_decimal:
        precision, scale = int(new_decimal.group(1)), int(new_decimal.group(2))
        old_decimal = _DECIMAL.match(old)
        if old_decimal:
            old_precision, old_scale = int(old_decimal.group(1)), int(old_decimal.group(2))
            return scale >= old_scale and precision - scale >= old_precision - old_scale
        if old in _INTEGER_DIGITS:
            return precision - scale >= _INTEGER_DIGITS[old]
    return False


@dataclass(frozen=True)
class Contract:
    """What consumers of one model version rely on."""

    columns: tuple[tuple[str, str], ...]  # (name, data_type) in output order
    grain: tuple[str, ...] = ()
    lineage: dict = field(default_factory=dict, compare=False)  # column -> {from, transform}
    sql: str | None = field(default=None, compare=False)
    description_sha: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Change:
    """How a new version differs from the previous one, and why we say so."""

    kind: str  # breaking | non-breaking | unchanged
    reasons: tuple[str, ...]
    previous_version: int | None = None

    @property
    def breaking(self) -> bool:
        return self.kind == BREAKING

    def to_meta(self) -> dict:
        """The form recorded in `meta.gen_model.change` and in the lockfile."""
        data: dict = {"class": self.kind}
        if self.previous_version is not None:
            data["from_version"] = self.previous_version
        data["reasons"] = list(self.reasons)
        return data


def _renames(
    removed: list[str], added: list[str], old: Contract, new: Contract, old_facts=None, new_facts=None
) -> dict[str, str]:
    """old name -> new name for removed columns that reappear under another name.

    Evidence, strongest first: the same upstream columns and transform in lineage; else, for
    a lone removed/added pair, the same position and type. Either way, when both SQL texts
    are known the two columns must be computed by the same expression: `count(*) as
    payment_count` -> `count(distinct order_id) as order_count` is a removal and an addition.
    """
    renames: dict[str, str] = {}
    old_types, new_types = dict(old.columns), dict(new.columns)

    def same_expression(before: str, after: str) -> bool:
        if old_facts is None or new_facts is None:
            return True  # no SQL to compare: lineage or position decides
        left = old_facts.outputs.get(before.lower())
        right = new_facts.outputs.get(after.lower())
        return left is not None and left == right

    def origin(lineage: dict, column: str):
        item = lineage.get(column) or {}
        sources = tuple(sorted(item.get("from") or ()))
        return (sources, item.get("transform")) if sources else None

    for name in removed:
        here = origin(old.lineage, name)
        if here is None:
            continue
        matches = [
            a
            for a in added
            if a not in renames.values() and origin(new.lineage, a) == here and same_expression(name, a)
        ]
        if len(matches) == 1:
            renames[name] = matches[0]
    left_removed = [r for r in removed if r not in renames]
    left_added = [a for a in added if a not in renames.values()]
    if len(left_removed) == 1 and len(left_added) == 1:
        old_names = [c for c, _ in old.columns]
        new_names = [c for c, _ in new.columns]
        before, after = left_removed[0], left_added[0]
        same_type = normalize_type(old_types[before]) == normalize_type(new_types[after])
        if same_type and old_names.index(before) == new_names.index(after) and same_expression(before, after):
            renames[before] = after
    return renames


def classify(old: Contract, new: Contract, previous_version: int | None = None, dialect: str = "duckdb") -> Change:
    """Compare two contracts; every difference found becomes a reason, breaking ones first.

    `dialect` is sqlglot's name for the SQL of both versions (the target's engine: its
    Dialect.sqlglot); SQL read in another dialect may not parse, and the logic is then
    compared as text only."""
    old_types = {name.lower(): (name, data_type) for name, data_type in old.columns}
    new_types = {name.lower(): (name, data_type) for name, data_type in new.columns}
    removed = [old_types[key][0] for key in old_types if key not in new_types]
    added = [new_types[key][0] for key in new_types if key not in old_types]
    old_facts, new_facts = logic_facts(old.sql, dialect), logic_facts(new.sql, dialect)
    if old_facts is None or new_facts is None:
        old_facts = new_facts = None
    renames = _renames(removed, added, old, new, old_facts, new_facts)

    breaking: list[str] = []
    compatible: list[str] = []
    for before, after in renames.items():
        breaking.append(f"column {before} renamed to {after}")
    for name in removed:
        if name not in renames:
            breaking.append(f"column {name} removed")
    for key, (name, old_type) in old_types.items():
        if key not in new_types:
            continue
        new_type = new_types[key][1]
        if normalize_type(old_type) == normalize_type(new_type):
            continue
        if widens(old_type, new_type):
            compatible.append(f"column {name} type widened {old_type} -> {new_type}")
        elif widens(new_type, old_type):
            breaking.append(f"column {name} type narrowed {old_type} -> {new_type}")
        else:
            breaking.append(f"column {name} type changed {old_type} -> {new_type}")
    old_grain = sorted(g.lower() for g in old.grain)
    new_grain = sorted(g.lower() for g in new.grain)
    if old.grain and new.grain and old_grain != new_grain:
        breaking.append(f"grain changed [{', '.join(old.grain)}] -> [{', '.join(new.grain)}]")
    for name in added:
        if name not in renames.values():
            compatible.append(f"column {name} added")
    kept_old = [name.lower() for name, _ in old.columns if name.lower() in new_types]
    kept_new = [name.lower() for name, _ in new.columns if name.lower() in old_types]
    if kept_old != kept_new:
        compatible.append("columns reordered")
    logic = logic_changes(old_facts, new_facts) if old_facts is not None else []
    if breaking:
        return Change(BREAKING, tuple(breaking + compatible + logic), previous_version)
    if logic:
        compatible.extend(logic)
    elif not compatible:
        if old.sql is not None and new.sql is not None and _normal_sql(old.sql) != _normal_sql(new.sql):
            compatible.append("logic changed; same columns, types and grain")
        elif old.description_sha != new.description_sha:
            compatible.append("documentation changed; same SQL, columns, types and grain")
    if compatible:
        return Change(NON_BREAKING, tuple(compatible), previous_version)
    return Change(UNCHANGED, (), previous_version)


@dataclass(frozen=True)
class LogicFacts:
    """What a version's SQL does, in comparable pieces (ref()/source() written as Jinja)."""

    filters: tuple[str, ...]  # each AND-ed condition of every WHERE and HAVING
    joins: tuple[str, ...]  # "left join {{ ref('orders') }}"
    aggregates: tuple[str, ...]  # "count(distinct order_id)"
    outputs: dict = field(default_factory=dict, compare=False)  # output column -> its expression


def logic_facts(sql: str | None, dialect: str = "duckdb") -> LogicFacts | None:
    """The filters, joins and aggregates of `sql`, and each output column's expression.

    `sql` is read, and the pieces are written, in `dialect` (sqlglot's name: the target
    engine's). None when there is no SQL or it does not parse (the caller then compares text
    only).
    """
    if not sql:
        return None
    import sqlglot
    from sqlglot import exp

    from generator.sql.templating import untemplate

    templated, problems = untemplate(sql)
    if problems:
        return None
    try:
        tree = sqlglot.parse_one(templated.sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return None

    def text(node) -> str:
        return templated.restore(_lowercase_words(node.sql(dialect=dialect)))

    filters: list[str] = []
    for clause in (*tree.find_all(exp.Where), *tree.find_all(exp.Having)):
        condition = clause.this
        parts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
        filters.extend(f"{clause.key} {text(part)}" for part in parts)
    joins = []
    for join in tree.find_all(exp.Join):
        kind = " ".join(part for part in (join.side, join.kind) if part).lower()
        target = join.this.copy()
        if isinstance(target, exp.Table):
            target.set("alias", None)
        joins.append(f"{kind + ' ' if kind else ''}join {text(target)}")
    aggregates = [text(node) for node in tree.find_all(exp.AggFunc)]
    outputs: dict[str, str] = {}
    final = tree if isinstance(tree, exp.Select) else None
    for projection in final.expressions if final is not None else ():
        if projection.alias_or_name:
            outputs[projection.alias_or_name.lower()] = _normal_sql(text(projection.unalias()))
    return LogicFacts(tuple(filters), tuple(joins), tuple(aggregates), outputs)


# Quoted text first (strings, "identifiers", Spark's `identifiers`), so a word inside it is skipped.
_QUOTED_OR_WORD = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|\b[A-Z][A-Z0-9_]*\b")


def _lowercase_words(sql: str) -> str:
    """sqlglot's upper-case keywords and functions in lower case, quoted text untouched."""
    return _QUOTED_OR_WORD.sub(lambda m: m.group(0) if m.group(0)[0] in "'\"`" else m.group(0).lower(), sql)


def logic_changes(old: LogicFacts | None, new: LogicFacts | None) -> list[str]:
    """Filters, joins and aggregates one version has and the other has not, as reasons."""
    if old is None or new is None:
        return []
    reasons = []
    for label, before, after in (
        ("filter", old.filters, new.filters),
        ("join", old.joins, new.joins),
        ("aggregate", old.aggregates, new.aggregates),
    ):
        old_keys = {_normal_sql(item): item for item in before}
        new_keys = {_normal_sql(item): item for item in after}
        reasons += [f"{label} added: {new_keys[key]}" for key in new_keys if key not in old_keys]
        reasons += [f"{label} removed: {old_keys[key]}" for key in old_keys if key not in new_keys]
    return reasons


def _normal_sql(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip().lower()


def contract_of_relation(relation: Relation, sql: str | None = None) -> Contract:
    """The contract a built (or declared) generated version offers its consumers."""
    gen_model = (relation.meta or {}).get("gen_model") or {}
    return Contract(
        columns=tuple((c.name, c.data_type or "unknown") for c in relation.columns),
        grain=tuple(gen_model.get("grain") or relation.primary_key or ()),
        lineage=dict(gen_model.get("lineage") or {}),
        sql=sql,
        description_sha=gen_model.get("proposal_sha256"),
    )


def deprecation_date(days: int, today: datetime.date | None = None) -> str:
    """ISO date `days` from today: when the superseded version may be dropped."""
    return ((today or datetime.date.today()) + datetime.timedelta(days=days)).isoformat()

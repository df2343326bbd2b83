"""`gen-model diff`: how the data of two versions of a model differs, computed on the target's engine.

The versions are joined on the model's grain (a full outer join, `is not distinct from` on
every key column). One aggregate query over that join counts the rows whose key is in only
one version and, per column both versions have, the matched rows whose value changed (`is
distinct from`, so null -> value counts), and picks a few example rows of each kind, the
first by key (`min_by(row, key, n)`). Nothing comes back to Python but counts and those
examples, so millions of rows take seconds (benchmarks/diff_speed.py).

When the grain is not unique in a version, joined pairs would outnumber rows and the counts
would mislead, so only row counts are compared and the result says why.

The queries run where the tables are: in the DuckDB file, read-only, or in the Spark
session dbt-spark uses (Spark 4.2+ has `min_by(x, key, n)` and FILTER too). They have one
shape on every engine; what differs (quoting, a struct literal, the text type, the key
hash) is one `Spelling` per engine in ENGINES. An engine without one is said, not guessed.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from generator.dialects.duckdb import UNSIGNED_INTEGER_TYPES
from generator.dialects.spark import quote as backquote
from generator.errors import ConfigError

EXAMPLE_ROWS = 5


def quote(identifier: str) -> str:
    """A double-quoted identifier (DuckDB)."""
    return '"' + identifier.replace('"', '""') + '"'


def _as_is(expression: str, data_type: str) -> str:
    return expression


def _spark_shown(expression: str, data_type: str) -> str:
    # PySpark hands timestamps to Python in the process's local time zone; Spark's own cast
    # to text uses the session's (pinned) zone, so examples do not depend on the machine.
    return f"cast({expression} as string)" if data_type.lower().startswith("timestamp") else expression


@dataclass(frozen=True)
class Spelling:
    """How the diff's queries are spelled on one engine (their shape is the same on all)."""

    engine: str  # as messages name it
    quote: Callable[[str], str]
    struct: Callable[[Sequence[tuple[str, str]]], str]  # (field, expression) pairs -> a struct value
    text_type: str  # what columns of different kinds are compared as
    numeric_types: frozenset[str]  # base type names compared as numbers across versions
    key_hash: str  # a hash function of one or more values, for the distinct-key estimate
    # (expression, type) -> the value an example row shows
    shown: Callable[[str, str], str] = _as_is


DUCKDB = Spelling(
    engine="DuckDB",
    quote=quote,
    struct=lambda fields: "{" + ", ".join(f"'{name}': {value}" for name, value in fields) + "}",
    text_type="varchar",
    numeric_types=frozenset(
        (
            "tinyint",
            "smallint",
            "integer",
            "bigint",
            "hugeint",
            *UNSIGNED_INTEGER_TYPES,
            "float",
            "double",
            "decimal",
        )
    ),
    key_hash="hash",
)
SPARK = Spelling(
    engine="Spark",
    quote=backquote,
    struct=lambda fields: "named_struct(" + ", ".join(f"'{name}', {value}" for name, value in fields) + ")",
    text_type="string",
    numeric_types=frozenset(("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")),
    # 64 bits, as DuckDB's hash(): Spark's hash() has 32, whose collisions grow with the keys.
    key_hash="xxhash64",
    shown=_spark_shown,
)


@dataclass(frozen=True)
class ColumnChange:
    """Matched rows whose value of one column differs between the versions."""

    name: str
    changed: int
    from_type: str
    to_type: str


@dataclass
class DiffResult:
    """Two versions of a model, compared row by row on their grain."""

    model: str
    from_version: int | None
    to_version: int | None
    key: list[str]
    rows_from: int = 0
    rows_to: int = 0
    only_from: int | None = None  # keys only in the `from` version
    only_to: int | None = None
    matched: int | None = None
    duplicate_keys: dict[str, int] = field(default_factory=dict)  # 'from'/'to' -> keys repeated
    columns: list[ColumnChange] = field(default_factory=list)  # every compared column, in order
    added_columns: list[str] = field(default_factory=list)
    removed_columns: list[str] = field(default_factory=list)
    examples_only_from: list[dict] = field(default_factory=list)
    examples_only_to: list[dict] = field(default_factory=list)
    examples_changed: list[dict] = field(default_factory=list)  # key + {column: [from, to]}
    note: str | None = None
    elapsed_s: float = 0.0

    @property
    def changed_rows_by_column(self) -> dict[str, int]:
        return {c.name: c.changed for c in self.columns if c.changed}

    @property
    def labels(self) -> tuple[str, str]:
        return (
            f"v{self.from_version}" if self.from_version is not None else "from",
            f"v{self.to_version}" if self.to_version is not None else "to",
        )

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "key": self.key,
            "rows": {"from": self.rows_from, "to": self.rows_to},
            "keys_only_in_from": self.only_from,
            "keys_only_in_to": self.only_to,
            "keys_in_both": self.matched,
            "duplicate_keys": self.duplicate_keys,
            "columns": [
                {"name": c.name, "changed": c.changed, "from_type": c.from_type, "to_type": c.to_type}
                for c in self.columns
            ],
            "added_columns": self.added_columns,
            "removed_columns": self.removed_columns,
            "examples": {
                "only_in_from": self.examples_only_from,
                "only_in_to": self.examples_only_to,
                "changed": self.examples_changed,
            },
            "note": self.note,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def format_text(self) -> str:
        """The terminal summary of `gen-model diff`."""
        old, new = self.labels
        lines = [f"{self.model}: {old} -> {new}, joined on ({', '.join(self.key) or 'nothing'})"]
        lines.append(f"  rows:            {self.rows_from:,} -> {self.rows_to:,} ({self.rows_to - self.rows_from:+,})")
        if self.note:
            lines.append(f"  note:            {self.note}")
        if self.matched is not None:
            lines.append(
                f"  keys:            {self.matched:,} in both, {self.only_from:,} only in {old}, "
                f"{self.only_to:,} only in {new}"
            )
        if self.removed_columns:
            lines.append(f"  removed columns: {', '.join(self.removed_columns)}")
        if self.added_columns:
            lines.append(f"  added columns:   {', '.join(self.added_columns)}")
        if self.columns and self.matched is not None:
            width = max(len(c.name) for c in self.columns)
            lines.append("  changed values (rows in both versions whose value differs):")
            lines.extend(f"    {c.name:<{width}}  {c.changed:,}" for c in self.columns)
        for title, rows in (
            (f"only in {old}", self.examples_only_from),
            (f"only in {new}", self.examples_only_to),
            ("with changed values", self.examples_changed),
        ):
            if rows:
                lines.append(f"  examples {title}:")
                lines.extend(f"    {_row_text(row)}" for row in rows)
        return "\n".join(lines)


def _row_text(row: dict) -> str:
    parts = []
    for name, value in row.items():
        if isinstance(value, list):
            parts.append(f"{name}: {_value(value[0])} -> {_value(value[1])}")
        else:
            parts.append(f"{name}={_value(value)}")
    return ", ".join(parts)


def _value(value: Any) -> str:
    return "null" if value is None else str(value)


def _base_type(data_type: str) -> str:
    return data_type.lower().split("(", 1)[0].strip()


def _comparison(spelling: Spelling, column: str, from_type: str, to_type: str) -> tuple[str, str]:
    """How to compare a column across versions: as is when types agree or both are numbers."""
    a, b = f"a.{spelling.quote(column)}", f"b.{spelling.quote(column)}"
    same = from_type.lower() == to_type.lower()
    numeric = _base_type(from_type) in spelling.numeric_types and _base_type(to_type) in spelling.numeric_types
    if same or numeric:
        return a, b
    return f"cast({a} as {spelling.text_type})", f"cast({b} as {spelling.text_type})"


def diff_relations(
    connection,
    from_relation: str,
    to_relation: str,
    key: list[str],
    from_columns: list[tuple[str, str]],
    to_columns: list[tuple[str, str]],
    *,
    model: str = "",
    from_version: int | None = None,
    to_version: int | None = None,
    limit: int = EXAMPLE_ROWS,
    spelling: Spelling = DUCKDB,
) -> DiffResult:
    """Compare two relations on `key` on one engine (`connection` sees both, e.g. read-only).

    `connection.execute(sql).fetchone()` runs a query: a DuckDB connection, or
    generator.dialects.spark_session.SparkQueries (with `spelling=SPARK`). `*_columns` are
    (name, type) in output order; `*_relation` are SQL names, quoted as the engine quotes them.
    Three queries: row counts with an approximate distinct-key count (a guard: a badly
    repeated key would make the join explode), then one full outer join that computes every
    count and the example rows (`min_by(..., key, n)` keeps the first n by key), then, only
    if the counts show a repeated key after all, the exact repeats for the note.
    """
    started = time.monotonic()
    from_types = {name.lower(): (name, data_type) for name, data_type in from_columns}
    to_types = {name.lower(): (name, data_type) for name, data_type in to_columns}
    keys = [k for k in key if k.lower() in from_types and k.lower() in to_types]
    key_set = {k.lower() for k in keys}
    result = DiffResult(model, from_version, to_version, [to_types[k.lower()][0] for k in keys])
    result.removed_columns = [name for lowered, (name, _) in from_types.items() if lowered not in to_types]
    result.added_columns = [name for lowered, (name, _) in to_types.items() if lowered not in from_types]
    compared = [
        (to_types[lowered][0], from_type, to_types[lowered][1])
        for lowered, (_, from_type) in from_types.items()
        if lowered in to_types and lowered not in key_set
    ]
    result.columns = [ColumnChange(name, 0, a, b) for name, a, b in compared]
    quote = spelling.quote
    key_hash = f"{spelling.key_hash}({', '.join(quote(k) for k in keys)})" if keys else "0"
    rows_from, approx_from, rows_to, approx_to = connection.execute(
        f"select (select count(*) from {from_relation}), "
        f"(select approx_count_distinct({key_hash}) from {from_relation}), "
        f"(select count(*) from {to_relation}), "
        f"(select approx_count_distinct({key_hash}) from {to_relation})"
    ).fetchone()
    result.rows_from, result.rows_to = int(rows_from), int(rows_to)
    if not keys:
        result.note = "the versions share no grain column: only row counts are compared"
        return _done(result, started)
    # HyperLogLog is within a few percent: only a key repeated on a large scale trips this.
    if approx_from < 0.5 * result.rows_from or approx_to < 0.5 * result.rows_to:
        return _repeated_keys(connection, result, from_relation, to_relation, keys, started, quote)

    join = " and ".join(f"a.{quote(k)} is not distinct from b.{quote(k)}" for k in keys)
    both = "a.__gen_model_in and b.__gen_model_in"

    types = {"a": from_types, "b": to_types}

    def key_fields(side: str, shown: Callable[[str, str], str] = _as_is) -> list[tuple[str, str]]:
        return [(f"k{i}", shown(f"{side}.{quote(k)}", types[side][k.lower()][1])) for i, k in enumerate(keys)]

    def first_rows(fields: list[tuple[str, str]], side: str) -> str:
        """The first `limit` rows by key (typed, so numbers order as numbers) as structs."""
        return f"min_by({spelling.struct(fields)}, {spelling.struct(key_fields(side))}, {limit})"

    comparisons = [_comparison(spelling, name, from_type, to_type) for name, from_type, to_type in compared]
    differs = [f"({left} is distinct from {right})" for left, right in comparisons]
    changed_fields = key_fields("a", spelling.shown)
    for index, (name, from_type, to_type) in enumerate(compared):
        changed_fields += [
            (f"c{index}_from", spelling.shown(f"a.{quote(name)}", from_type)),
            (f"c{index}_to", spelling.shown(f"b.{quote(name)}", to_type)),
            (f"c{index}_differs", differs[index]),
        ]
    measures = [
        "count(*) filter (where b.__gen_model_in is null)",
        "count(*) filter (where a.__gen_model_in is null)",
        f"count(*) filter (where {both})",
        *(f"count(*) filter (where {both} and {condition})" for condition in differs),
        f"{first_rows(key_fields('a', spelling.shown), 'a')} filter (where b.__gen_model_in is null)",
        f"{first_rows(key_fields('b', spelling.shown), 'b')} filter (where a.__gen_model_in is null)",
    ]
    if compared:
        measures.append(f"{first_rows(changed_fields, 'a')} filter (where {both} and ({' or '.join(differs)}))")
    # A marker per side tells a missing row from a row whose key happens to be null.
    row = connection.execute(
        f"select {', '.join(measures)} "
        f"from (select *, true as __gen_model_in from {from_relation}) as a "
        f"full outer join (select *, true as __gen_model_in from {to_relation}) as b on {join}"
    ).fetchone()
    only_from, only_to, matched = (int(v) for v in row[:3])
    if result.rows_from != only_from + matched or result.rows_to != only_to + matched:
        # A key in both versions repeats: joined pairs outnumber rows, so the counts mislead.
        return _repeated_keys(connection, result, from_relation, to_relation, keys, started, quote)
    result.only_from, result.only_to, result.matched = only_from, only_to, matched
    counts = row[3 : 3 + len(compared)]
    result.columns = [
        ColumnChange(name, int(changed), from_type, to_type)
        for (name, from_type, to_type), changed in zip(compared, counts, strict=True)
    ]
    examples = row[3 + len(compared) :]
    result.examples_only_from = [_key_row(result.key, item) for item in examples[0] or ()]
    result.examples_only_to = [_key_row(result.key, item) for item in examples[1] or ()]
    if compared:
        for item in examples[2] or ():
            example = _key_row(result.key, item)
            for index, (name, _, _) in enumerate(compared):
                if item[f"c{index}_differs"]:
                    example[name] = [_plain(item[f"c{index}_from"]), _plain(item[f"c{index}_to"])]
            result.examples_changed.append(example)
    return _done(result, started)


def _key_row(key: list[str], item: dict) -> dict:
    return {name: _plain(item[f"k{index}"]) for index, name in enumerate(key)}


def _done(result: DiffResult, started: float) -> DiffResult:
    result.elapsed_s = time.monotonic() - started
    return result


def _repeated_keys(
    connection, result: DiffResult, from_relation: str, to_relation: str, keys, started, quote
) -> DiffResult:
    """The grain repeats in a version: say exactly how much, compare row counts only."""
    key_list = ", ".join(quote(k) for k in keys)
    distinct_from, distinct_to = connection.execute(
        f"select (select count(*) from (select {key_list} from {from_relation} group by all)), "
        f"(select count(*) from (select {key_list} from {to_relation} group by all))"
    ).fetchone()
    result.duplicate_keys = {
        side: rows - int(distinct)
        for side, rows, distinct in (("from", result.rows_from, distinct_from), ("to", result.rows_to, distinct_to))
        if rows != int(distinct)
    }
    old, new = result.labels
    names = {"from": old, "to": new}
    repeated = ", ".join(f"{count:,} repeated row(s) in {names[side]}" for side, count in result.duplicate_keys.items())
    result.note = f"the grain ({', '.join(keys)}) is not unique ({repeated}): only row counts are compared"
    return _done(result, started)


def _plain(value: Any) -> Any:
    """JSON- and Markdown-friendly values: numbers and strings stay, the rest become text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# -- a project's model versions --------------------------------------------------------------


def pick_versions(catalog, model: str, from_version: int | None, to_version: int | None):
    """The two built relations to compare: `to` defaults to the latest, `from` to the one before."""
    versions = {r.version: r for r in catalog.models if r.name == model and r.version is not None}
    if not versions:
        from generator.suggest import did_you_mean

        names = sorted({r.name for r in catalog.models if r.version is not None})
        hint = did_you_mean(model, names)
        raise ConfigError(f"no versioned model named {model!r}" + (f". {hint}" if hint else ""))
    latest = catalog.ref(model)
    to_version = to_version if to_version is not None else latest.version
    if to_version not in versions:
        raise ConfigError(f"{model} has no v{to_version}; it has " + ", ".join(f"v{v}" for v in sorted(versions)))
    if from_version is None:
        earlier = [v for v in versions if v < to_version]
        if not earlier:
            raise ConfigError(f"{model} v{to_version} has no earlier version to compare with; pass --from N")
        from_version = max(earlier)
    if from_version not in versions:
        raise ConfigError(f"{model} has no v{from_version}; it has " + ", ".join(f"v{v}" for v in sorted(versions)))
    pair = versions[from_version], versions[to_version]
    for relation in pair:
        if not relation.exists:
            raise ConfigError(
                f"{model} v{relation.version} is not built in the warehouse; run "
                f"`dbt build --select {model}.v{relation.version}` first"
            )
    return pair


def diff_key(from_relation, to_relation) -> list[str]:
    """The grain to join on: the new version's, else the old one's, if the other has its columns."""
    for relation, other in ((to_relation, from_relation), (from_relation, to_relation)):
        grain = list(((relation.meta or {}).get("gen_model") or {}).get("grain") or relation.primary_key or ())
        if grain and all(other.column(k) is not None and relation.column(k) is not None for k in grain):
            return grain
    return []


@contextlib.contextmanager
def _duckdb_queries(catalog, relation) -> Iterator[Any]:
    """The DuckDB file, read-only, once dbt's own handle on it is released."""
    from generator.project import dbt
    from generator.project.catalog_builder import open_warehouse

    dbt.release_duckdb()
    with open_warehouse(catalog.database_path, catalog.database_name or relation.database) as connection:
        if connection is None:
            raise ConfigError(f"the warehouse {catalog.database_path} does not exist; run `dbt build` first")
        yield connection


@contextlib.contextmanager
def _spark_queries(catalog, relation) -> Iterator[Any]:
    """The Spark session dbt-spark uses in this process (the catalog was read in it)."""
    from generator.dialects.spark_session import SparkQueries, spark_session

    yield SparkQueries(spark_session(catalog.project_dir, catalog.session_settings))


# gen-model's dialect name -> how the diff is spelled there and where its queries run.
ENGINES: dict[str, tuple[Spelling, Callable[[Any, Any], Any]]] = {
    "duckdb": (DUCKDB, _duckdb_queries),
    "spark": (SPARK, _spark_queries),
}


def diff_unavailable(catalog) -> str | None:
    """Why the data diff cannot run on the catalog's target, or None when it can."""
    from generator.dialects import get_dialect

    dialect = get_dialect(catalog.adapter_type)
    if dialect.name in ENGINES:
        return None
    supported = ", ".join(spelling.engine for spelling, _ in ENGINES.values())
    return (
        f"the data diff does not run on {dialect.engine} yet (target {catalog.target_name!r}); "
        f"it runs on {supported} targets"
    )


def diff_versions(catalog, model: str, from_version: int | None = None, to_version: int | None = None) -> DiffResult:
    """Compare two versions of `model` where the catalog's target keeps them (DuckDB read-only,
    or the Spark session); a target whose engine has no Spelling is a ConfigError saying so."""
    from generator.dialects import get_dialect

    old, new = pick_versions(catalog, model, from_version, to_version)
    reason = diff_unavailable(catalog)
    if reason:
        raise ConfigError(reason)
    dialect = get_dialect(catalog.adapter_type)
    spelling, queries = ENGINES[dialect.name]
    with queries(catalog, old) as connection:
        return diff_relations(
            connection,
            dialect.relation_name(old),
            dialect.relation_name(new),
            diff_key(old, new),
            [(c.name, c.data_type or "") for c in old.columns],
            [(c.name, c.data_type or "") for c in new.columns],
            model=model,
            from_version=old.version,
            to_version=new.version,
            spelling=spelling,
        )


def diff(project, model: str, from_version: int | None = None, to_version: int | None = None) -> DiffResult:
    """`gen-model diff MODEL [--from N] [--to M]` on a project: reads the manifest and warehouse."""
    from generator.project.catalog_builder import build_catalog

    started = time.monotonic()
    result = diff_versions(build_catalog(project, raw_files=()), model, from_version, to_version)
    result.elapsed_s = time.monotonic() - started
    return result

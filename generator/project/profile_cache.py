"""Relation profiles kept while the warehouse file is unchanged.

`profile_relations` asks the warehouse, per relation the retrieval keeps, for its row
count and a few distinct values of its low-cardinality text columns: a dozen queries,
0.1-0.2 s, in every `context` and `gen-model "..."`. Those answers depend on the
warehouse's data alone, so they are kept in `<target-path>/gen_model_profiles.json` under
the same warehouse stamp the catalog cache checks (size and mtime of the DuckDB file and
its WAL). Editing a model changes the catalog's key but not the warehouse: the profiles
still answer. A `dbt build`, a seed load or anything else that writes the warehouse
changes the stamp, and every entry is dropped.

Each entry is keyed by the relation's quoted name and its columns with their types, so a
relation whose columns changed is profiled again. Anything unexpected (an unreadable or
foreign file) means asking the warehouse, never a wrong profile.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from generator import __version__
from generator.project import Project
from generator.project.catalog import Relation
from generator.project.catalog_cache import cache_path, warehouse_stamp

PROFILE_CACHE_NAME = "gen_model_profiles.json"
FORMAT = 1


def cache_file(project: Project) -> Path:
    """Where the profiles live: beside the catalog cache, in dbt's target path."""
    return cache_path(project).with_name(PROFILE_CACHE_NAME)


def relation_key(relation: Relation) -> str:
    """What a profile is valid for: the relation's name and its columns' names and types."""
    return json.dumps([relation.relation_name, [[c.name, c.data_type] for c in relation.columns]])


def load(path: Path, database_path: Path) -> dict[str, dict]:
    """The cached profiles by relation_key(), or {} when the warehouse changed since."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or data.get("version") != __version__
        or data.get("warehouse") != warehouse_stamp(database_path)
        or not isinstance(data.get("relations"), dict)
    ):
        return {}
    return data["relations"]


def save(path: Path, database_path: Path, entries: dict[str, dict]) -> None:
    """Store `entries` under the warehouse's current stamp; silently skipped if it cannot be."""
    from generator.write.transaction import atomic_write

    data = {"format": FORMAT, "version": __version__, "warehouse": warehouse_stamp(database_path), "relations": entries}
    try:
        atomic_write(path, json.dumps(data, sort_keys=True))
    except (TypeError, ValueError, OSError):
        return  # not writable: no cache, still correct


def entry_of(relation: Relation) -> dict:
    """A profiled relation's answers: its row count, and sample values and distinct counts per column."""
    return {
        "row_count": relation.row_count,
        "samples": {c.name: list(c.sample_values) for c in relation.columns if c.sample_values},
        "distinct": {c.name: c.distinct_count for c in relation.columns if c.distinct_count is not None},
    }


def apply(relation: Relation, entry: dict) -> Relation | None:
    """`relation` with a cached entry's answers, or None if the entry is not one entry_of() wrote."""
    try:
        samples = {name: tuple(str(value) for value in values) for name, values in entry["samples"].items()}
        distinct = {name: int(count) for name, count in entry["distinct"].items()}
        row_count = entry["row_count"]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if row_count is not None and not isinstance(row_count, int):
        return None
    return with_profile(relation, row_count, samples, distinct)


def with_profile(
    relation: Relation, row_count: int | None, samples: dict[str, tuple[str, ...]], distinct: dict[str, int]
) -> Relation:
    """`relation` with a profile's answers: its row count, and sample values and distinct
    counts for the columns named (the others keep theirs)."""
    columns = tuple(
        replace(
            column,
            sample_values=samples.get(column.name, column.sample_values),
            distinct_count=distinct.get(column.name, column.distinct_count),
        )
        for column in relation.columns
    )
    return replace(relation, row_count=row_count, columns=columns)

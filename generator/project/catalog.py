"""What the generator knows about a project: relations, columns, keys, raw files.

The catalog is plain data. `generator.project.catalog_builder` fills it from the dbt manifest and
the warehouse; tests build it from dicts. Gates, retrieval and prompts read only this.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Column:
    """A column of a relation, with what tests and profiling say about it."""

    name: str
    data_type: str | None = None  # DuckDB's type, lowercase: 'varchar', 'decimal(18,2)'
    description: str = ""
    not_null: bool = False  # a not_null test (or a primary key) guarantees it
    unique: bool = False  # a unique test guarantees it
    accepted_values: tuple[str, ...] | None = None  # from an accepted_values test
    sample_values: tuple[str, ...] = ()  # a few distinct values of low-cardinality text
    distinct_count: int | None = None


@dataclass(frozen=True)
class ForeignKey:
    """`column` points at `to_column` of relation `to` (a unique_id), from a relationships test."""

    column: str
    to: str
    to_column: str


@dataclass(frozen=True)
class Relation:
    """A model, seed, snapshot or source table, as dbt and the warehouse describe it."""

    unique_id: str
    resource_type: str  # model | seed | snapshot | source
    name: str  # model/seed name; for sources, the table name
    database: str
    schema: str
    identifier: str
    package_name: str = ""
    source_name: str | None = None
    version: int | None = None
    latest_version: int | None = None
    description: str = ""
    columns: tuple[Column, ...] = ()
    row_count: int | None = None
    exists: bool = True  # built (or loaded) in the warehouse
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    materialized: str | None = None
    original_file_path: str | None = None
    generated: bool = False  # written by gen-model (has its provenance in meta)
    meta: dict = field(default_factory=dict, compare=False, hash=False)
    # unique_ids of the models, seeds, snapshots and sources this model reads (dbt's depends_on).
    depends_on: tuple[str, ...] = ()

    @property
    def relation_name(self) -> str:
        """Fully qualified, quoted: "db"."schema"."identifier"."""
        return ".".join(f'"{part}"' for part in (self.database, self.schema, self.identifier))

    @property
    def is_source(self) -> bool:
        return self.resource_type == "source"

    @property
    def display(self) -> str:
        """`ref('name')`, `ref('name', v=2)` or `source('src', 'table')`."""
        if self.is_source:
            return f"source('{self.source_name}', '{self.name}')"
        if self.version is not None and self.version != self.latest_version:
            return f"ref('{self.name}', v={self.version})"
        return f"ref('{self.name}')"

    def jinja(self) -> str:
        """How a proposal should refer to this relation."""
        return "{{ " + self.display + " }}"

    def column(self, name: str) -> Column | None:
        """Case-insensitive column lookup (DuckDB identifiers are case-insensitive)."""
        lowered = name.lower()
        for column in self.columns:
            if column.name.lower() == lowered:
                return column
        return None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


@dataclass(frozen=True)
class RawFile:
    """A non-SQL input file (NDJSON, JSON, CSV, Parquet) the project has on disk."""

    path: str  # relative to the project directory, '/'-separated
    format: str  # ndjson | json | csv | parquet
    columns: tuple[Column, ...] = ()
    row_count: int | None = None
    record_path: str | None = None  # JSON: the key holding the records
    description: str = ""
    # What an enrichment spec's `input.path` says: relative to the raw dir (a glob for a
    # series of same-schema files). None when the file is not under the raw dir.
    input_path: str | None = None
    # How to read it, as a spec's `input` writes it: CSV delimiter, header, encoding.
    options: dict = field(default_factory=dict, hash=False)
    # The enrichment models whose spec reads this file (dbt model names).
    staged_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """Everything retrieval, prompts and gates may know about a project."""

    project_name: str
    project_dir: Path
    relations: tuple[Relation, ...] = ()
    raw_files: tuple[RawFile, ...] = ()
    target_name: str = "dev"
    adapter_type: str = "duckdb"
    database_path: Path | None = None  # the DuckDB file, when the target is DuckDB
    database_name: str | None = None  # the name dbt gives that database (attach alias)
    has_package: bool = True  # the gen_model dbt package (its generic tests) is installed
    # gen_model's tests the project's dbt_utils has too (generator.project.dbt_utils)
    dbt_utils_tests: tuple[str, ...] = ()
    session_settings: tuple[tuple[str, str], ...] = ()  # DuckDB settings the profile sets

    # -- lookups -------------------------------------------------------------------------

    def ref(self, name: str, version: int | None = None, package: str | None = None) -> Relation | None:
        """Resolve `ref(name)` like dbt: the latest version unless `version` is given."""
        candidates = [
            relation
            for relation in self.relations
            if relation.resource_type != "source"
            and relation.name == name
            and (package is None or relation.package_name == package)
        ]
        if not candidates:
            return None
        if version is not None:
            return next((r for r in candidates if r.version == version), None)
        for relation in candidates:
            if relation.version is None or relation.version == relation.latest_version:
                return relation
        return max(candidates, key=lambda r: r.version or 0)

    def source(self, source_name: str, table_name: str) -> Relation | None:
        """Resolve `source(source_name, table_name)`."""
        for relation in self.relations:
            if relation.is_source and relation.source_name == source_name and relation.name == table_name:
                return relation
        return None

    def by_unique_id(self, unique_id: str) -> Relation | None:
        for relation in self.relations:
            if relation.unique_id == unique_id:
                return relation
        return None

    def by_identifier(self, identifier: str) -> list[Relation]:
        """Relations whose warehouse table name or dbt name is `identifier` (case-insensitive)."""
        lowered = identifier.lower()
        return [
            relation
            for relation in self.relations
            if relation.identifier.lower() == lowered or relation.name.lower() == lowered
        ]

    @property
    def models(self) -> list[Relation]:
        return [r for r in self.relations if r.resource_type == "model"]

    @property
    def sources(self) -> list[Relation]:
        return [r for r in self.relations if r.is_source]

    def ref_names(self) -> list[str]:
        """Every name `ref()` accepts, for did-you-mean suggestions."""
        return sorted({r.name for r in self.relations if not r.is_source})

    def source_names(self) -> list[tuple[str, str]]:
        """Every (source, table) pair `source()` accepts."""
        return sorted({(r.source_name or "", r.name) for r in self.relations if r.is_source})

    # -- serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = asdict(self)
        data["project_dir"] = str(self.project_dir)
        data["database_path"] = str(self.database_path) if self.database_path else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Catalog:
        """Build a catalog from plain data (as `to_dict` writes it; tests use this)."""

        def column(item: dict | str) -> Column:
            if isinstance(item, str):
                return Column(name=item)
            item = dict(item)
            if item.get("accepted_values") is not None:
                item["accepted_values"] = tuple(item["accepted_values"])
            item["sample_values"] = tuple(item.get("sample_values") or ())
            return Column(**item)

        def relation(item: dict) -> Relation:
            item = dict(item)
            item["columns"] = tuple(column(c) for c in item.get("columns") or ())
            item["primary_key"] = tuple(item.get("primary_key") or ())
            item["foreign_keys"] = tuple(ForeignKey(**fk) for fk in item.get("foreign_keys") or ())
            item["depends_on"] = tuple(item.get("depends_on") or ())
            item.setdefault("identifier", item["name"])
            item.setdefault("database", "warehouse")
            item.setdefault("schema", "main")
            if "unique_id" not in item:
                if item.get("resource_type") == "source":
                    item["unique_id"] = f"source.{data['project_name']}.{item['source_name']}.{item['name']}"
                else:
                    item.setdefault("resource_type", "model")
                    item["unique_id"] = f"{item['resource_type']}.{data['project_name']}.{item['name']}"
                    if item.get("version") is not None:
                        item["unique_id"] += f".v{item['version']}"
            return Relation(**item)

        def raw_file(item: dict) -> RawFile:
            item = dict(item)
            item["columns"] = tuple(column(c) for c in item.get("columns") or ())
            item["options"] = dict(item.get("options") or {})
            item["staged_by"] = tuple(item.get("staged_by") or ())
            return RawFile(**item)

        return cls(
            project_name=data["project_name"],
            project_dir=Path(data.get("project_dir") or "."),
            relations=tuple(relation(r) for r in data.get("relations") or ()),
            raw_files=tuple(raw_file(f) for f in data.get("raw_files") or ()),
            target_name=data.get("target_name", "dev"),
            adapter_type=data.get("adapter_type", "duckdb"),
            database_path=Path(data["database_path"]) if data.get("database_path") else None,
            database_name=data.get("database_name"),
            has_package=data.get("has_package", True),
            dbt_utils_tests=tuple(str(name) for name in data.get("dbt_utils_tests") or ()),
            session_settings=tuple((str(k), str(v)) for k, v in data.get("session_settings") or ()),
        )


def fingerprint(relations: list[Relation] | tuple[Relation, ...]) -> str:
    """sha256 over what a prompt or a model depends on: names and typed columns, not row counts.

    Row counts and sample values change with every load; they must not invalidate a lock.
    """
    shape = sorted(
        (
            relation.unique_id,
            [(column.name, column.data_type) for column in relation.columns],
        )
        for relation in relations
    )
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()

"""Build a Catalog from a dbt project: the manifest says what exists, the warehouse what it holds.

Two passes with different costs:
  * `build_catalog`: manifest (in-process parse, partial parse) plus one cheap query for the
    columns and types of every relation in the warehouse. Enough for retrieval and gates.
  * `profile_relations`: row counts and a few distinct values of low-cardinality text
    columns, for the handful of relations a prompt will actually show.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb

from generator.dialects import get_dialect
from generator.errors import ConfigError
from generator.project import Project, dbt, dbt_utils, profile_cache
from generator.project.catalog import Catalog, Column, ForeignKey, RawFile, Relation

# Text columns with at most this many distinct values get sample values in the catalog.
SAMPLE_MAX_DISTINCT = 12
# ... and only when values are short: long distinct strings are free text, never shown.
SAMPLE_MAX_LENGTH = 40
KEY_TESTS = ("unique_combination_of_columns",)


def session_settings() -> tuple[tuple[str, str], ...]:
    """The session settings of the loaded profile: dbt-duckdb's `settings:` (TimeZone and
    the like), dbt-spark's `server_side_parameters` (spark.sql.session.timeZone, ...)."""
    from dbt.adapters.factory import FACTORY

    adapter = next(iter(FACTORY.adapters.values()), None)
    credentials = getattr(getattr(adapter, "config", None), "credentials", None)
    settings = getattr(credentials, "settings", None) or getattr(credentials, "server_side_parameters", None) or {}
    return tuple(sorted((str(name), str(value)) for name, value in settings.items()))


def loaded_adapter_type(project: Project) -> str:
    """The type of the adapter dbt loaded for the target, if gen-model supports it.

    An adapter without a dialect module (generator.dialects) is a ConfigError (exit 2)
    naming the supported ones.
    """
    from dbt.adapters.factory import FACTORY

    adapter = next(iter(FACTORY.adapters.values()), None)
    if adapter is None:
        raise ConfigError("dbt did not load an adapter for this project; run `dbt debug` to see why")
    try:
        get_dialect(adapter.type())
    except ConfigError as error:
        raise ConfigError(f"target {project.target_name!r}: {error}") from None
    return adapter.type()


def warehouse_path(project: Project) -> tuple[Path, str]:
    """The DuckDB file and database name of the project's target, from dbt's own config."""
    from dbt.adapters.factory import FACTORY

    adapter_type = loaded_adapter_type(project)
    if adapter_type != "duckdb":
        raise ConfigError(f"target {project.target_name!r} uses the {adapter_type} adapter, which has no DuckDB file")
    adapter = next(iter(FACTORY.adapters.values()))
    credentials = adapter.config.credentials
    path = str(credentials.path)
    if path == ":memory:" or path.startswith("md:"):
        raise ConfigError(
            f"target {project.target_name!r} has path {path!r}; gen-model needs a DuckDB file to "
            "read the warehouse from. Set `path:` in profiles.yml to a file."
        )
    resolved = Path(path)
    if not resolved.is_absolute():
        resolved = project.project_dir / resolved
    return resolved, credentials.database


def _tests_by_node(manifest: Any) -> dict[str, list[Any]]:
    tests: dict[str, list[Any]] = {}
    for node in manifest.nodes.values():
        if node.resource_type != "test" or not getattr(node, "test_metadata", None):
            continue
        if not node.config.enabled:
            continue
        if str(getattr(node.config, "severity", "error")).lower() == "warn":
            continue  # a warning guarantees nothing about the data
        attached = getattr(node, "attached_node", None)
        if attached is None and node.depends_on.nodes:
            attached = node.depends_on.nodes[0]
        if attached is None:
            for source_id in getattr(node, "sources", []) or []:
                attached = source_id
        if attached is None:
            # Tests on sources: depends_on lists the source's unique_id.
            attached = next((n for n in node.depends_on.nodes if n.startswith("source.")), None)
        if attached:
            tests.setdefault(attached, []).append(node)
    return tests


def _test_kwargs(test: Any) -> dict:
    kwargs = dict(test.test_metadata.kwargs or {})
    # dbt 1.11 nests generic test arguments under `arguments:` in YAML; the manifest flattens.
    return kwargs


def _column_name(test: Any) -> str | None:
    name = getattr(test, "column_name", None) or _test_kwargs(test).get("column_name")
    if not name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
        return None  # an expression, not a column
    return str(name)


def _foreign_key_target(test: Any, attached: str) -> str | None:
    for unique_id in test.depends_on.nodes:
        if unique_id != attached:
            return unique_id
    return None


def _relation_from_node(node: Any, tests: list[Any], manifest: Any) -> Relation:
    """What the manifest says about one model/seed/snapshot/source (columns come later)."""
    not_null: set[str] = set()
    unique: set[str] = set()
    accepted: dict[str, tuple[str, ...]] = {}
    foreign_keys: list[ForeignKey] = []
    composite_key: tuple[str, ...] = ()
    for test in tests:
        name = test.test_metadata.name
        kwargs = _test_kwargs(test)
        column = _column_name(test)
        if name == "not_null" and column:
            not_null.add(column.lower())
        elif name == "unique" and column:
            unique.add(column.lower())
        elif name == "accepted_values" and column and kwargs.get("values"):
            accepted[column.lower()] = tuple(str(v) for v in kwargs["values"])
        elif name == "relationships" and column:
            target = _foreign_key_target(test, node.unique_id)
            field = kwargs.get("field")
            if target and field:
                foreign_keys.append(ForeignKey(column=column, to=target, to_column=str(field)))
        elif name in KEY_TESTS and not composite_key:
            columns = kwargs.get("combination_of_columns") or ()
            composite_key = tuple(str(c) for c in columns)

    primary_key: tuple[str, ...] = ()
    for constraint in getattr(node, "constraints", []) or []:
        if str(getattr(constraint, "type", "")) == "primary_key" and constraint.columns:
            primary_key = tuple(constraint.columns)
    if not primary_key:
        for column_name, info in (node.columns or {}).items():
            for constraint in info.constraints or []:
                if str(constraint.type) == "primary_key":
                    primary_key = (column_name,)
    if not primary_key and unique:
        documented = [name for name in (node.columns or {}) if name.lower() in unique]
        candidates = documented or sorted(unique)
        primary_key = (candidates[0],)
    if not primary_key and composite_key:
        primary_key = composite_key

    columns = []
    for column_name, info in (node.columns or {}).items():
        lowered = column_name.lower()
        columns.append(
            Column(
                name=column_name,
                data_type=(info.data_type or None) and str(info.data_type).lower(),
                description=info.description or "",
                not_null=lowered in not_null or (primary_key == (column_name,)),
                unique=lowered in unique,
                accepted_values=accepted.get(lowered),
            )
        )

    config = getattr(node, "config", None)
    meta = dict(getattr(config, "meta", None) or {}) or dict(getattr(node, "meta", None) or {})
    is_source = node.resource_type == "source"
    return Relation(
        unique_id=node.unique_id,
        resource_type=str(node.resource_type),
        name=node.name,
        database=node.database or "",
        schema=node.schema,
        identifier=node.identifier if is_source else node.alias,
        package_name=node.package_name,
        source_name=node.source_name if is_source else None,
        version=getattr(node, "version", None),
        latest_version=getattr(node, "latest_version", None),
        description=(node.description or "").strip(),
        columns=tuple(columns),
        primary_key=primary_key,
        foreign_keys=tuple(foreign_keys),
        materialized=None if is_source else getattr(config, "materialized", None),
        original_file_path=node.original_file_path,
        generated="gen_model" in meta,
        meta=meta,
        depends_on=()
        if is_source
        else tuple(
            sorted(
                uid
                for uid in (getattr(getattr(node, "depends_on", None), "nodes", None) or ())
                if uid.split(".", 1)[0] in ("model", "seed", "snapshot", "source")
            )
        ),
    )


def _warehouse_columns(
    connection: duckdb.DuckDBPyConnection, database: str
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    rows = connection.execute(
        """
        select schema_name, table_name, column_name, lower(data_type)
        from duckdb_columns()
        where database_name = ?
        order by schema_name, table_name, column_index
        """,
        [database],
    ).fetchall()
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        columns.setdefault((schema.lower(), table.lower()), []).append((column, data_type))
    return columns


@contextlib.contextmanager
def open_warehouse(path: Path, database: str):
    """The warehouse, read-only, attached under dbt's database name (views resolve)."""
    if not path.exists():
        yield None
        return
    connection = duckdb.connect(":memory:")
    try:
        try:
            connection.execute(f"attach '{_sql_string(str(path))}' as \"{database}\" (read_only)")
        except duckdb.Error as error:
            raise ConfigError(
                f"cannot open the warehouse {path} read-only: {error}. Is another process "
                "(a running dbt, a notebook) holding it open? Close it and retry."
            ) from None
        yield connection
    finally:
        connection.close()


def spark_columns(
    project: Project, relations: list[Relation], settings: tuple[tuple[str, str], ...]
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) -> [(column, Spark type)] for each relation the Spark metastore has.

    Read from the analysed plan of each table (no rows are read), in the session dbt-spark
    uses in this process, or one started with the profile's settings.
    """
    from generator.dialects.spark_session import spark_session

    spark = spark_session(project.project_dir, settings)
    columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for relation in relations:
        name = f"{relation.schema}.{relation.identifier}"
        if not spark.catalog.tableExists(name):
            continue
        schema = spark.table(name).schema
        columns[(relation.schema.lower(), relation.identifier.lower())] = [
            (field.name, field.dataType.simpleString()) for field in schema.fields
        ]
    return columns


def _sql_string(value: str) -> str:
    return value.replace("'", "''")


def _merge_columns(relation: Relation, warehouse: list[tuple[str, str]] | None) -> Relation:
    """Warehouse columns (real names, order, types) with the manifest's docs and test facts."""
    if warehouse is None:
        return replace(relation, exists=False)
    documented = {column.name.lower(): column for column in relation.columns}
    merged = []
    for name, data_type in warehouse:
        doc = documented.get(name.lower())
        if doc is None:
            merged.append(Column(name=name, data_type=data_type, not_null=relation.primary_key == (name,)))
        else:
            merged.append(replace(doc, name=name, data_type=data_type))
    return replace(relation, columns=tuple(merged), exists=True)


def raw_files_of(project: Project, relations: list[Relation]) -> tuple[RawFile, ...]:
    """The project's raw files (NDJSON, JSON, CSV, Parquet under its raw dir), each with the
    enrichment models whose spec reads it.

    The raw dir is resolved as the compiled models resolve it: $GEN_MODEL_RAW_PATH, else the
    project's `vars.gen_model_raw_path`, else `data/raw`; a project without one has none.
    Sniffing is bounded per file (see `generator.enrich.discovery`).
    """
    from fnmatch import fnmatchcase

    from generator.enrich.discovery import discover_raw_files
    from generator.project import catalog_cache

    files = catalog_cache.raw_files(project, discover_raw_files)
    readers: dict[str, set[str]] = {}
    for relation in relations:
        provenance = relation.meta.get("gen_model") if isinstance(relation.meta, dict) else None
        if not isinstance(provenance, dict) or provenance.get("kind") != "enrich":
            continue
        if provenance.get("quarantine_of") or not isinstance(provenance.get("input"), str):
            continue
        readers.setdefault(provenance["input"], set()).add(relation.name)
    linked = []
    for raw in files:
        names: set[str] = set()
        for pattern, models in readers.items():
            if raw.input_path and (raw.input_path == pattern or fnmatchcase(raw.input_path, pattern)):
                names |= models
        linked.append(replace(raw, staged_by=tuple(sorted(names))) if names else raw)
    return tuple(linked)


def build_catalog(
    project: Project,
    manifest: Any = None,
    raw_files: tuple[RawFile, ...] | None = None,
    progress: Any = None,
    cached: Catalog | None = None,
) -> Catalog:
    """Manifest + warehouse columns for every model, seed, snapshot and source of the project,
    and the raw files under its raw dir (pass `raw_files` to skip discovery).

    Without a `manifest`, an unchanged project and warehouse are read from the catalog
    cache (see `catalog_cache`): no dbt parse at all; `progress` says "catalog from cache".
    `cached` is that entry when the caller read it already (`catalog_cache.read`).
    """
    from generator.project import catalog_cache

    if cached is None:
        # A manifest passed in was parsed from (or cached for) these very files, so the
        # cached catalog for the same key is its catalog too.
        key = catalog_cache.cache_key(project)
        cached = catalog_cache.load(project, key)
    if cached is not None:
        if progress is not None:
            progress.step("catalog from cache (project files, profile and warehouse unchanged)")
        if raw_files is None:
            raw_files = raw_files_of(project, list(cached.relations))
        return replace(cached, raw_files=tuple(raw_files))
    if manifest is None or not dbt.adapter_loaded(project) or isinstance(manifest, catalog_cache.ManifestFacts):
        # The warehouse's path and settings come from dbt's loaded adapter: a manifest from
        # the cache loaded none, so parse for real (partial parse: the files are unchanged).
        # verify's cached facts have no sources or macros; on Spark no catalog is cached to
        # stand in for them, so they reach here with the adapter of an earlier command loaded.
        manifest = dbt.parse(project, cached=False)
    from generator.write import package  # loads ruamel: not for a cached catalog, nor context's

    adapter_type = loaded_adapter_type(project)
    if adapter_type == "duckdb":
        path, database = warehouse_path(project)
    else:
        path, database = None, ""
    tests = _tests_by_node(manifest)

    relations: list[Relation] = []
    nodes = [
        node
        for node in manifest.nodes.values()
        if node.resource_type in ("model", "seed", "snapshot") and node.config.enabled
    ]
    nodes += [source for source in manifest.sources.values() if source.config.enabled]
    for node in nodes:
        if getattr(node, "language", "sql") not in ("sql", "python"):
            continue
        if node.resource_type == "model" and getattr(node.config, "materialized", "") == "ephemeral":
            continue  # no relation in the warehouse to read or dry-run against
        relations.append(_relation_from_node(node, tests.get(node.unique_id, []), manifest))

    if path is None:
        columns = spark_columns(project, relations, session_settings())
    else:
        dbt.release_duckdb()
        with open_warehouse(path, database) as connection:
            columns = _warehouse_columns(connection, database) if connection else {}
    relations = [
        _merge_columns(relation, columns.get((relation.schema.lower(), relation.identifier.lower())))
        if relation.database.lower() == database.lower()
        else replace(relation, exists=False)
        for relation in relations
    ]
    relations.sort(key=lambda r: r.unique_id)
    catalog = Catalog(
        project_name=project.name,
        project_dir=project.project_dir,
        relations=tuple(relations),
        target_name=project.target_name,
        adapter_type=adapter_type,
        database_path=path,
        database_name=database,
        has_package=package.has_package(manifest),
        dbt_utils_tests=dbt_utils.installed_tests(manifest.macros),
        session_settings=session_settings(),
    )
    if path is not None:
        # Spark's tables live in its metastore, which the cache's warehouse stamp cannot see.
        catalog_cache.save(project, key, catalog)
    if raw_files is None:
        raw_files = raw_files_of(project, relations)
    return replace(catalog, raw_files=tuple(raw_files))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def profile_relations(catalog: Catalog, unique_ids: list[str] | tuple[str, ...], cache: Path | None = None) -> Catalog:
    """Add row counts and low-cardinality sample values to the named relations.

    With `cache` (a file, see profile_cache), a DuckDB warehouse that has not changed since
    answers from there, and only relations it does not know are queried."""
    wanted = set(unique_ids)
    targets = [r for r in catalog.relations if r.unique_id in wanted and r.exists]
    if not targets:
        return catalog
    if catalog.database_path is None:
        return _profile_in_spark(catalog, targets)
    database = targets[0].database
    profiled: dict[str, Relation] = {}
    entries = profile_cache.load(cache, catalog.database_path) if cache is not None else {}
    for relation in targets:
        entry = entries.get(profile_cache.relation_key(relation))
        answered = profile_cache.apply(relation, entry) if isinstance(entry, dict) else None
        if answered is not None:
            profiled[relation.unique_id] = answered
    missing = [relation for relation in targets if relation.unique_id not in profiled]
    if missing:
        dbt.release_duckdb()
        with open_warehouse(catalog.database_path, database) as connection:
            if connection is None:
                return catalog
            for relation in missing:
                answered = _profile(connection, relation)
                profiled[relation.unique_id] = answered
                if answered is not relation:  # a broken view is asked again next time
                    entries[profile_cache.relation_key(relation)] = profile_cache.entry_of(answered)
        if cache is not None:
            profile_cache.save(cache, catalog.database_path, entries)
    return replace(
        catalog,
        relations=tuple(profiled.get(r.unique_id, r) for r in catalog.relations),
    )


def _profile_in_spark(catalog: Catalog, targets: list[Relation]) -> Catalog:
    """The same profile on a Spark target, in the session dbt-spark uses (Spark SQL)."""
    from pyspark.errors import PySparkException

    from generator.dialects.spark import quote
    from generator.dialects.spark_session import SparkQueries, spark_session

    queries = SparkQueries(spark_session(catalog.project_dir, catalog.session_settings))
    relation_name = get_dialect(catalog.adapter_type).relation_name
    profiled = {
        r.unique_id: _profile(queries, r, relation_name(r), quote, ("string", "varchar", "char"), (PySparkException,))
        for r in targets
    }
    return replace(catalog, relations=tuple(profiled.get(r.unique_id, r) for r in catalog.relations))


def _profile(
    connection: Any,
    relation: Relation,
    name: str | None = None,
    quote: Any = _quote,
    text_types: tuple[str, ...] = ("varchar",),
    errors: tuple[type[Exception], ...] = (duckdb.Error,),
) -> Relation:
    """Row count, and for text columns (types starting with one of `text_types`) distinct
    counts and the values of the categorical ones; DuckDB's spelling unless told."""
    name = name or relation.relation_name
    text_columns = [c for c in relation.columns if (c.data_type or "").startswith(text_types)]
    selects = ["count(*)"] + [
        f"approx_count_distinct({quote(c.name)}), max(length({quote(c.name)}))" for c in text_columns
    ]
    try:
        row = connection.execute(f"select {', '.join(selects)} from {name}").fetchone()
    except errors:
        return relation  # a broken view: the gates will say so when it is used
    row_count = int(row[0])
    samples: dict[str, tuple[str, ...]] = {}
    distinct: dict[str, int] = {}
    for index, column in enumerate(text_columns):
        approx, longest = row[1 + 2 * index], row[2 + 2 * index]
        distinct[column.name] = int(approx or 0)
        is_categorical = (
            approx and approx <= SAMPLE_MAX_DISTINCT and (longest or 0) <= SAMPLE_MAX_LENGTH and row_count >= 2 * approx
        )
        if is_categorical:
            values = connection.execute(
                f"select distinct {quote(column.name)} from {name} "
                f"where {quote(column.name)} is not null order by 1 limit {SAMPLE_MAX_DISTINCT + 1}"
            ).fetchall()
            if len(values) <= SAMPLE_MAX_DISTINCT:
                samples[column.name] = tuple(str(v[0]) for v in values)
    return profile_cache.with_profile(relation, row_count, samples, distinct)

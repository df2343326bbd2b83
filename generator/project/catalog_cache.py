"""The catalog cache: an unchanged project and warehouse need no dbt parse.

`build_catalog` costs a dbt parse (1-2 s of imports, then partial parse) plus a warehouse
query. Its result depends only on the project's files, the profile and target, the
environment variables dbt may read, the installed packages and the warehouse file, so it is
cached in `<target-path>/gen_model_catalog.json` under a key over all of those:

  * every file under the project directory and under `local:` packages outside it (path,
    size, mtime); build output, logs, hidden folders and the warehouse are left out;
  * the values of the variables dbt may read: every `env_var('NAME')` named in the source
    files (.sql, .yml, .py, ... under 1 MB) or profiles.yml;
  * profiles.yml (content), the target, gen-model's version, DBT_* / GEN_MODEL_* variables;
  * the warehouse file's and its WAL's size and mtime, checked when the entry is read
    (the path comes from the cached catalog: dbt is not loaded to find it).

Raw files are not part of the cached catalog (they live anywhere GEN_MODEL_RAW_PATH says);
they are discovered by the commands that use them. Anything unexpected (an unreadable or
stale entry, a value that is not plain JSON) means no cache, never a wrong catalog.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from generator import __version__
from generator.project import Project
from generator.project.catalog import Catalog

CACHE_NAME = "gen_model_catalog.json"
FORMAT = 2  # 2: the catalog records the project's dbt_utils tests
# Folders never part of what dbt parses (besides hidden ones and the target path).
SKIPPED_DIRS = {"logs", "__pycache__", "node_modules"}
SOURCE_SUFFIXES = {".sql", ".yml", ".yaml", ".py", ".md", ".jinja", ".j2"}
SOURCE_MAX_BYTES = 1 << 20
ENV_VAR = re.compile(r"""env_var\(\s*['"]([^'"]+)['"]""")


def cache_path(project: Project) -> Path:
    """Where the cache lives: dbt's target path (DBT_TARGET_PATH, else `target-path`)."""
    target = os.environ.get("DBT_TARGET_PATH") or project.config.get("target-path") or "target"
    return project.project_dir / target / CACHE_NAME


def _warehouse_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + ".wal")]


def warehouse_stamp(path: Path | None) -> list:
    """Size and mtime of the warehouse file and its WAL (absent: None)."""
    if path is None:
        return []
    stamp = []
    for file in _warehouse_files(path):
        try:
            status = file.stat()
        except OSError:
            stamp.append(None)
        else:
            stamp.append([status.st_size, status.st_mtime_ns])
    return stamp


def _local_packages(project: Project) -> list[Path]:
    """Folders of `local:` packages outside the project (their models are parsed too)."""
    import yaml

    found = []
    for name in ("packages.yml", "dependencies.yml"):
        try:
            data = yaml.safe_load((project.project_dir / name).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        for item in data.get("packages") or () if isinstance(data, dict) else ():
            local = item.get("local") if isinstance(item, dict) else None
            if isinstance(local, str):
                path = (project.project_dir / local).resolve()
                if path.is_dir() and project.project_dir.resolve() not in (path, *path.parents):
                    found.append(path)
    return sorted(set(found))


def _stamp_tree(root: Path, skip: Path, digest, env_names: set[str]) -> None:
    """Every file under `root` (path, size, mtime) into `digest`; env_var names into `env_names`."""
    for directory, folders, files in os.walk(root):
        here = Path(directory)
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and name not in SKIPPED_DIRS and (here / name).resolve() != skip
        )
        for name in sorted(files):
            path = here / name
            if name.startswith(".") and name != ".gen-model.yml":
                continue
            if ".duckdb" in name:
                continue  # the warehouse: stamped separately, when the entry is read
            try:
                status = path.stat()
            except OSError:
                continue
            relative = path.relative_to(root).as_posix()
            digest.update(f"{root}\0{relative}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
            if path.suffix.lower() in SOURCE_SUFFIXES and status.st_size <= SOURCE_MAX_BYTES:
                try:
                    env_names.update(ENV_VAR.findall(path.read_text(encoding="utf-8", errors="replace")))
                except OSError:
                    continue


def cache_key(project: Project) -> str:
    """sha256 over everything the catalog depends on except the warehouse (see module doc)."""
    root = project.project_dir
    target = cache_path(project).parent.resolve()
    digest = hashlib.sha256()
    env_names = {name for name in os.environ if name.startswith(("DBT_", "GEN_MODEL_"))}
    for tree in (root, *_local_packages(project)):
        _stamp_tree(tree, target, digest, env_names)
    profiles = project.profiles_dir / "profiles.yml"
    try:
        profile_text = profiles.read_text(encoding="utf-8")
    except OSError:
        profile_text = ""
    env_names.update(ENV_VAR.findall(profile_text))
    digest.update(profile_text.encode())
    environment = sorted((name, os.environ.get(name)) for name in env_names)
    digest.update(json.dumps([__version__, FORMAT, str(root), project.target_name, environment]).encode())
    return digest.hexdigest()


def load(project: Project, key: str) -> Catalog | None:
    """The cached catalog if its key and the warehouse stamp still match, else None."""
    path = cache_path(project)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    try:
        catalog = Catalog.from_dict(data["catalog"])
    except (KeyError, TypeError, ValueError):
        return None
    if data.get("warehouse") != warehouse_stamp(catalog.database_path):
        return None
    return catalog


def read(project: Project) -> Catalog | None:
    """The cached catalog of the project as it is now (`load` under the current key), else
    None: what `build_catalog(..., cached=)` takes from a caller that needed to know first."""
    return load(project, cache_key(project))


RAW_CACHE_NAME = "gen_model_raw_files.json"


def raw_files(project: Project, discover) -> tuple:
    """`discover(project_dir)` (raw-file discovery), reused while no file under the raw dir
    changed: the key is the raw dir and every file's path, size and mtime there."""
    from dataclasses import asdict

    from generator.enrich.discovery import resolve_raw_dir

    root = resolve_raw_dir(project.project_dir)
    if not root.is_dir():
        return discover(project.project_dir)
    stamp = []
    for path in sorted(root.rglob("*")):
        try:
            status = path.stat()
        except OSError:
            continue
        stamp.append([path.relative_to(root).as_posix(), status.st_size, status.st_mtime_ns])
    key = hashlib.sha256(json.dumps([__version__, FORMAT, str(root.resolve()), stamp]).encode()).hexdigest()
    path = cache_path(project).with_name(RAW_CACHE_NAME)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") == key:
            shell = {"project_name": "", "raw_files": data["raw_files"]}
            return Catalog.from_dict(shell).raw_files
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    found = discover(project.project_dir)
    try:
        from generator.write.transaction import atomic_write

        atomic_write(path, json.dumps({"key": key, "raw_files": [asdict(f) for f in found]}))
    except (TypeError, ValueError, OSError):
        pass
    return found


MANIFEST_NAME = "gen_model_manifest.msgpack"


def load_manifest(project: Project, key: str):
    """The Manifest the last parse stored under `key`, or None (dbt's msgpack: data only)."""
    path = cache_path(project).with_name(MANIFEST_NAME)
    try:
        stored_key = path.with_suffix(".key").read_text(encoding="utf-8")
        if stored_key != key:
            return None
        data = path.read_bytes()
        from dbt.contracts.graph.manifest import Manifest

        return Manifest.from_msgpack(data)
    except Exception:  # noqa: BLE001 - an unreadable or foreign entry is a cache miss, never an error
        return None


def save_manifest(project: Project, key: str, manifest) -> None:
    """Store `manifest` under `key` (the key file last, so a torn write is a miss)."""
    from generator.write.transaction import atomic_write

    path = cache_path(project).with_name(MANIFEST_NAME)
    try:
        atomic_write(path, manifest.to_msgpack())
        atomic_write(path.with_suffix(".key"), key)
    except Exception:  # noqa: BLE001 - not serialisable or not writable: no cache, still correct
        return


# -- manifest facts: what verify and review read of the manifest, without dbt ----------------

FACTS_NAME = "gen_model_manifest_facts.json"


@dataclass(frozen=True)
class ColumnFacts:
    """A column as a model's YAML declares it."""

    data_type: str | None = None


@dataclass(frozen=True)
class TestMetadata:
    """A generic test's name and arguments."""

    name: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Enabled:
    """A node's config, as far as it is read: enabled or not."""

    enabled: bool = True


@dataclass(frozen=True)
class Contract:
    """A model's contract: enforced or not."""

    enforced: bool = False


@dataclass(frozen=True)
class DependsOn:
    """The nodes a node depends on."""

    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeFacts:
    """One manifest node, with the attributes (and their names) verify and review read."""

    unique_id: str
    resource_type: str
    config: Enabled = Enabled()
    patch_path: str | None = None
    language: str = "sql"
    contract: Contract = Contract()
    columns: dict = field(default_factory=dict)  # name -> ColumnFacts
    test_metadata: TestMetadata | None = None
    attached_node: str | None = None
    column_name: str | None = None
    depends_on: DependsOn = DependsOn()


@dataclass(frozen=True)
class ManifestFacts:
    """A stand-in for dbt's Manifest where only `nodes` and `unit_tests` are read.

    `gen-model verify` and `review` on an unchanged project need a few facts per node
    (contract, declared column types, tests and what they are attached to, the YAML file):
    read from plain JSON they cost milliseconds, where dbt's stored Manifest costs its
    imports (a second or more) before a single node is read.
    """

    nodes: dict  # unique_id -> NodeFacts
    unit_tests: dict  # unique_id -> NodeFacts


def _node_facts(node) -> dict:
    """A manifest node as plain data (the fields NodeFacts has)."""
    resource_type = getattr(node, "resource_type", "")
    metadata = getattr(node, "test_metadata", None)
    depends_on = getattr(node, "depends_on", None)
    return {
        "unique_id": node.unique_id,
        "resource_type": str(getattr(resource_type, "value", resource_type)),
        "enabled": bool(getattr(getattr(node, "config", None), "enabled", True)),
        "patch_path": getattr(node, "patch_path", None),
        "language": str(getattr(node, "language", None) or "sql"),
        "enforced": bool(getattr(getattr(node, "contract", None), "enforced", False)),
        "columns": {name: info.data_type for name, info in (getattr(node, "columns", None) or {}).items()},
        "test_metadata": [metadata.name, dict(metadata.kwargs or {})] if metadata is not None else None,
        "attached_node": getattr(node, "attached_node", None),
        "column_name": getattr(node, "column_name", None),
        "depends_on": list(getattr(depends_on, "nodes", None) or ()),
    }


def _node_from_facts(data: dict) -> NodeFacts:
    metadata = data["test_metadata"]
    return NodeFacts(
        unique_id=data["unique_id"],
        resource_type=data["resource_type"],
        config=Enabled(data["enabled"]),
        patch_path=data["patch_path"],
        language=data["language"],
        contract=Contract(data["enforced"]),
        columns={name: ColumnFacts(data_type) for name, data_type in data["columns"].items()},
        test_metadata=TestMetadata(metadata[0], metadata[1]) if metadata is not None else None,
        attached_node=data["attached_node"],
        column_name=data["column_name"],
        depends_on=DependsOn(tuple(data["depends_on"])),
    )


def save_facts(project: Project, key: str, manifest) -> None:
    """Store what `ManifestFacts` holds of `manifest` under `key`; skipped if it cannot be."""
    from generator.write.transaction import atomic_write

    try:
        data = {
            "key": key,
            "nodes": [_node_facts(node) for node in manifest.nodes.values()],
            "unit_tests": [_node_facts(node) for node in (getattr(manifest, "unit_tests", None) or {}).values()],
        }
        atomic_write(cache_path(project).with_name(FACTS_NAME), json.dumps(data))
    except Exception:  # noqa: BLE001 - a test argument that is not JSON, an odd node: no cache, still correct
        return


def load_facts(project: Project, key: str) -> ManifestFacts | None:
    """The manifest facts the last parse stored under `key`, or None."""
    try:
        data = json.loads(cache_path(project).with_name(FACTS_NAME).read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        nodes = [_node_from_facts(item) for item in data["nodes"]]
        unit_tests = [_node_from_facts(item) for item in data["unit_tests"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    return ManifestFacts({n.unique_id: n for n in nodes}, {n.unique_id: n for n in unit_tests})


def save(project: Project, key: str, catalog: Catalog) -> None:
    """Store `catalog` (without raw files) under `key`; silently skipped if it cannot be."""
    from dataclasses import replace

    from generator.write.transaction import atomic_write

    data = {
        "key": key,
        "warehouse": warehouse_stamp(catalog.database_path),
        "catalog": replace(catalog, raw_files=()).to_dict(),
    }
    try:
        text = json.dumps(data)  # key order kept: meta (lineage) is shown in its order
        atomic_write(cache_path(project), text)
    except (TypeError, ValueError, OSError):
        return  # not plain JSON (an odd meta value) or not writable: no cache, still correct

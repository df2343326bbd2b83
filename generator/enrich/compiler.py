"""Spec -> dbt-duckdb models (Polars, streaming) and their model YAML. Deterministic.

A compiled model carries only what its spec says: constants from the spec (the expected
fields, the output schema), one function per spec step (`cast_fields`, `derive`,
`check_rows`, `filter_rows`, the lookup) and dbt's `model(dbt, session)`. The fixed code
(reading, drift, parsing, dedupe, streaming) is the versioned runtime
(`python/gen_model_runtime_v1.py` in the gen_model dbt package), which the model loads by
path from the dbt project; a runtime upgrade is a new file and a reviewed version bump,
not a rewrite of every model. Recompiling an unchanged spec gives byte-identical files;
every line fits in 100 columns so `ruff check` passes.

The model returns an Arrow stream (`pyarrow.RecordBatchReader`), which dbt-duckdb's
`materialize` registers and DuckDB writes while it reads: memory holds a few batches, not
the input. A bad row under `on_error: fail` raises at the end of the stream, so DuckDB's
`create table ... as select` fails and nothing is written.

With `on_error: quarantine` the Python model is `<name>__checked`: it reads the input once
and returns the good rows and the bad ones (with their file, row, record and reason). The
model `<name>` and its quarantine `<name>__quarantine` are SQL selects from it, so the bad
rows stay in the DAG (documented, testable, selectable) and the input is not read twice.
Versioned specs (`version: N`) compile to `<name>_vN.*` with one YAML for every version.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator.enrich.emit import ModelWriter
from generator.enrich.formatting import LINE_LENGTH
from generator.enrich.model_yaml import (
    RAW_PATH_META,
    render_checked_yaml,
    render_model_yaml,
    render_quarantine_yaml,
    render_versioned_quarantine_yaml,
    render_versioned_yaml,
)
from generator.enrich.spec import SPEC_SUFFIX, EnrichSpec, load_spec
from generator.errors import WriteError

# Re-exported: callers read the line length and the raw-path setting from the compiler.
__all__ = [
    "LINE_LENGTH",
    "RAW_PATH_META",
    "CompiledModel",
    "compile_files",
    "compile_spec",
    "compiled_by_gen_model",
    "find_specs",
    "render_spec",
    "sha256_of",
    "stale_files",
    "versioned_specs",
]


@dataclass(frozen=True)
class CompiledModel:
    """The files one spec compiles to: file name (beside the spec) -> content."""

    name: str
    files: dict[str, str]
    removed: tuple[str, ...] = ()  # compiled files of an earlier spec this one no longer makes


# -- entry points ----------------------------------------------------------------------------


def render_spec(
    spec: EnrichSpec, spec_file: str | None = None, versions: list[EnrichSpec] | None = None
) -> CompiledModel:
    """Every file a spec compiles to, as text. Pure: the same spec gives the same bytes.

    A versioned spec (`version: N`) compiles to `<name>_vN.py` (and
    `<name>__quarantine_vN.py`); the model YAML `<name>.yml` describes every version, so
    `versions` passes all the model's versioned specs (this one included; default: only it).
    Unchanged files are never written; a file no spec produces any more is listed in
    `CompiledModel.removed`.
    """
    spec_file = spec_file or spec.spec_file_name
    writer = ModelWriter(spec, spec_file)
    files: dict[str, str] = {}
    removed: list[str] = []
    if spec.on_error == "quarantine":
        # One read for both: `<name>__checked` reads and checks the input; the model and
        # its quarantine select their rows from it.
        files[f"{spec.checked_name}.py"] = writer.render()
        files[f"{spec.checked_name}.yml"] = render_checked_yaml(spec, spec_file)
        files[f"{spec.model_file}.sql"] = writer.render_sql()
        files[f"{spec.quarantine_name}.sql"] = writer.render_sql(quarantine=True)
        removed += [f"{spec.model_file}.py", f"{spec.quarantine_name}.py"]
    else:
        files[f"{spec.model_file}.py"] = writer.render()
        removed += [f"{spec.checked_name}.py", f"{spec.checked_name}.yml", f"{spec.model_file}.sql"]
        removed += [f"{spec.quarantine_name}.sql", f"{spec.quarantine_name}.py"]
    if spec.version is None:
        files[f"{spec.name}.yml"] = render_model_yaml(spec, spec_file)
        if spec.on_error == "quarantine":
            files[f"{spec.name}__quarantine.yml"] = render_quarantine_yaml(spec, spec_file)
        else:
            removed.append(f"{spec.name}__quarantine.yml")
    else:
        siblings = {other.version: other for other in versions or [spec] if other.version}
        siblings[spec.version] = spec
        everything = [siblings[version] for version in sorted(siblings)]
        files[f"{spec.name}.yml"] = render_versioned_yaml(everything)
        quarantine_yaml = render_versioned_quarantine_yaml(everything)
        if quarantine_yaml is None:
            removed.append(f"{spec.name}__quarantine.yml")
        else:
            files[f"{spec.name}__quarantine.yml"] = quarantine_yaml
    for file_name, content in files.items():
        for marker in ("{{", "{%", "{#"):
            if file_name.endswith(".py") and marker in content:
                raise WriteError(
                    f"{spec_file}: the compiled {file_name} would contain {marker!r}, which dbt "
                    "reads as Jinja in Python models; remove it from the spec's literals"
                )
    return CompiledModel(name=spec.name, files=files, removed=tuple(removed))


def _write_atomic(path: Path, content: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def versioned_specs(directory: Path, name: str) -> list[Path]:
    """The `<name>_v<N>.enrich.yml` files in `directory`, by version."""
    pattern = re.compile(rf"^{re.escape(name)}_v(\d+){re.escape(SPEC_SUFFIX)}$")
    found = [
        (int(match.group(1)), path)
        for path in directory.glob(f"{name}_v*{SPEC_SUFFIX}")
        if (match := pattern.match(path.name))
    ]
    return [path for _, path in sorted(found)]


def compile_files(path: Path) -> CompiledModel:
    """What the spec at `path` compiles to, versioned siblings considered (pure: no writes)."""
    spec = load_spec(path)
    versions = None
    if spec.version is not None:
        versions = [spec if other == path else load_spec(other) for other in versioned_specs(path.parent, spec.name)]
    return render_spec(spec, path.name, versions)


def compiled_by_gen_model(path: Path) -> bool:
    """Whether `path` is a file the enrichment compiler wrote (it says so in its header)."""
    return path.is_file() and "Compiled by gen-model" in path.read_text(encoding="utf-8")


def compile_spec(path: str | Path) -> list[Path]:
    """Compile `<name>.enrich.yml` into the files beside it; return the files written.

    Unchanged files are not rewritten (their bytes would be identical anyway). A stale
    compiled `<name>__quarantine.*` from an earlier `on_error: quarantine` is removed.
    """
    path = Path(path)
    compiled = compile_files(path)
    written = []
    for file_name, content in compiled.files.items():
        target = path.parent / file_name
        if target.is_file() and target.read_text(encoding="utf-8") == content:
            continue
        _write_atomic(target, content)
        written.append(target)
    for file_name in compiled.removed:
        stale = path.parent / file_name
        if compiled_by_gen_model(stale):
            stale.unlink()
    return written


def find_specs(paths: list[str | Path]) -> list[Path]:
    """The `*.enrich.yml` files among `paths` (files, or directories searched recursively)."""
    found: set[Path] = set()
    for item in map(Path, paths):
        if item.is_dir():
            found.update(p for p in item.rglob(f"*{SPEC_SUFFIX}") if p.is_file())
        elif item.name.endswith(SPEC_SUFFIX):
            found.add(item)
    return sorted(found)


def stale_files(path: str | Path) -> list[Path]:
    """Files beside the spec that differ from what it compiles to, are missing, or are
    compiled leftovers it no longer produces."""
    path = Path(path)
    compiled = compile_files(path)
    stale = []
    for file_name, content in compiled.files.items():
        target = path.parent / file_name
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            stale.append(target)
    stale += [path.parent / name for name in compiled.removed if compiled_by_gen_model(path.parent / name)]
    return stale


def sha256_of(files: dict[str, str]) -> str:
    """One digest over compiled files, for determinism checks."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()

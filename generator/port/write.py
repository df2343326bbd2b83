"""Writing a proven port into the project: one model, two dialects, the target picks.

dbt 1.11 allows two models of one name when all but one are disabled, and renders a
`target.type` expression in dbt_project.yml's `+enabled`. So the ported SQL goes beside the
model in a folder named after the engine (`models/marts/spark/orders.sql`), and
dbt_project.yml enables each file on its own engines:

    models:
      shop:
        marts:
          orders:
            +enabled: "{{ target.type != 'spark' }}"
          spark:
            orders:
              +enabled: "{{ target.type == 'spark' }}"

The person's SQL and properties YAML stay as they are (the properties, tests included,
apply to whichever file is enabled). The ported file is inert like every generated file:
its only Jinja is `ref()`/`source()` with literal arguments; the only Jinja gen-model adds
is the fixed `+enabled` text above. Files, dbt_project.yml and the lockfile's `ports:` entry
are written in one transaction, only when the proof holds.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.errors import ConfigError, GenModelError
from generator.port.model import PortedModel
from generator.project import Project
from generator.write import lockfile
from generator.write.inert import check_files
from generator.write.transaction import FileTransaction, ProjectLock, interrupts_as_exceptions, raise_if_interrupted

HEADER = (
    "-- {name} for {target}, written by `gen-model port {name} --to {target} --write` from {source}.\n"
    "-- Rows proven identical on both engines (gen_model.lock, ports.{name}.{target}); do not edit:\n"
    "-- change {source} and port again.\n"
)


class PortWriteError(GenModelError):
    """The port was not written: no proof, a proof that fails, or a project it cannot go into."""

    exit_code = 1


@dataclass(frozen=True)
class PortWritten:
    """What `write_port` wrote."""

    file: str
    config: str
    lock: str


def ported_path(source: str, target: str) -> str:
    """Where the ported SQL of the model at `source` goes: a folder named after the engine beside it."""
    path = PurePosixPath(source)
    return (path.parent / target / path.name).as_posix()


def enabled_on(targets: list[str]) -> str:
    """The original's `+enabled`: every engine but those it was ported to (our fixed Jinja)."""
    if len(targets) == 1:
        return f"{{{{ target.type != '{targets[0]}' }}}}"
    listed = ", ".join(f"'{target}'" for target in sorted(targets))
    return f"{{{{ target.type not in ({listed}) }}}}"


def enabled_only_on(target: str) -> str:
    """The ported file's `+enabled`: its engine only."""
    return f"{{{{ target.type == '{target}' }}}}"


def _folders(project: Project, source: str) -> list[str]:
    """The folders between the model path and the model's file (dbt_project.yml's path keys)."""
    parts = PurePosixPath(source).parts
    for model_path in project.model_paths:
        prefix = PurePosixPath(model_path).parts
        if parts[: len(prefix)] == prefix:
            return list(parts[len(prefix) : -1])
    raise ConfigError(f"{source} is not under the project's model-paths ({', '.join(project.model_paths)})")


def _set_enabled(node, keys: list[str], value: str, where: str) -> None:
    """Set `+enabled: value` at `keys` under `node`, creating mappings; refuse a person's own."""
    for key in keys:
        child = node.get(key)
        if child is None:
            node[key] = child = {}
        if not isinstance(child, dict):
            raise PortWriteError(f"dbt_project.yml's models.{where} is not a mapping; cannot configure the port there")
        node = child
    existing = node.get("+enabled", node.get("enabled"))
    if existing is not None and not (isinstance(existing, str) and existing.startswith("{{ target.type ")):
        raise PortWriteError(
            f"dbt_project.yml already sets enabled for models.{where} ({existing!r}); "
            "the port would override it: remove it or port by hand"
        )
    node.pop("enabled", None)
    node["+enabled"] = value


def project_config(project: Project, source: str, name: str, targets: list[str], target: str) -> str:
    """dbt_project.yml's text with the two `+enabled` switches set, comments kept."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # the person's file changes only where the port is configured
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load((project.project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    if document.get("models") is None:
        document["models"] = {}
    folders = [project.name, *_folders(project, source)]
    _set_enabled(document["models"], [*folders, name], enabled_on(targets), ".".join([*folders, name]))
    _set_enabled(document["models"], [*folders, target, name], enabled_only_on(target), ".".join([*folders, target]))
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def write_port(project: Project, ported: PortedModel) -> PortWritten:
    """Write a proven port: the target's SQL beside the model, the engine switches in
    dbt_project.yml, the proof in gen_model.lock; all or nothing. Raises PortWriteError
    without a proof that holds."""
    proof = ported.proof
    if proof is None or not proof.holds:
        raise PortWriteError(f"{ported.name}: no proof that the rows are identical on {ported.target}; nothing written")
    if ported.version is not None:
        raise PortWriteError(f"{ported.name} is a versioned model: porting a version into the project is not supported")
    source = ported.path
    file = ported_path(source, ported.target)
    text = HEADER.format(name=ported.name, target=ported.target, source=source) + ported.sql
    check_files([(file, text)])
    root = Path(project.project_dir)
    with ProjectLock(root), interrupts_as_exceptions():
        transaction = FileTransaction(root)
        transaction.recover()
        lock = lockfile.load(root)
        lockfile.refuse_unrecorded(lock, root, writing=ported.name)
        if lockfile.file_sha256(root / source) != ported.source_sha256:
            raise PortWriteError(f"{source} changed while it was being proven; port it again")
        ported_before = lock.ports.get(ported.name, {})
        if (root / file).exists() and ported.target not in ported_before:
            raise PortWriteError(f"{file} exists and is not a port gen-model wrote; move it away first")
        targets = sorted({*ported_before, ported.target})
        config = project_config(project, source, ported.name, targets, ported.target)
        lock.record_port(
            ported.name,
            ported.target,
            {
                "source": source,
                "source_sha256": ported.source_sha256,
                "file": file,
                "sha256": lockfile.sha256_text(text),
                "engines": dict(proof.engines),
                "row_sets": [{"name": row_set.name, "rows": row_set.rows} for row_set in proof.sets],
            },
        )
        try:
            transaction.write(root / file, text)
            transaction.write(root / "dbt_project.yml", config)
            transaction.write(lock.path, lock.dumps())
            raise_if_interrupted()
        except BaseException:
            transaction.rollback()
            raise
        transaction.commit()
    return PortWritten(file, "dbt_project.yml", lockfile.LOCK_NAME)

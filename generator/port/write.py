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

The person's SQL stays as it is, and so does the properties YAML (its tests, unit tests
included, apply to whichever file is enabled), with one exception: a versioned model with an
enforced contract is one model and version on every engine, described by one YAML entry, so
each column whose type differs on the target gets a per-engine `data_type`
(generator.write.engine_types: `{{ 'string' if target.type == 'spark' else 'varchar' }}`,
the target's type as its analysed plan gives it), edited in place, every other byte kept.
A versioned model's file keeps its name (`account_mrr_v1.sql`), so the version's
`defined_in` finds either file; the switches are keyed by that file name.

A version without a proven port to the target (v1, when v2 is ported) stays off there: its
SQL is unproven on that engine. Its switch is keyed by dbt's fqn (`account_payment_health:
{v1: ...}`), and so is one for each unit test of that version alone; porting it lifts both.

Where an enclosing folder of dbt_project.yml already sets `+enabled` with an expression
(the sample project enables its models for its own profile only), the switches keep it:
`{{ (target.profile_name == 'gen_model') and target.type != 'spark' }}`.

The ported file is inert like every generated file: its only Jinja is `ref()`/`source()`
with literal arguments; the only Jinja gen-model adds is the fixed `+enabled` text above
and the contract's type switch. Files, dbt_project.yml and the lockfile's `ports:` entry
are written in one transaction, only when the proof holds.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.errors import ConfigError, GenModelError
from generator.port.model import ModelVersion, PortedModel
from generator.project import Project
from generator.write import lockfile
from generator.write.inert import check_files
from generator.write.transaction import FileTransaction, ProjectLock, interrupts_as_exceptions, raise_if_interrupted

HEADER = (
    "-- {key} for {target}, written by `gen-model port {key} --to {target} --write` from {source}.\n"
    "-- Rows proven identical on both engines (gen_model.lock, ports.{key}.{target}); do not edit:\n"
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
    off: tuple[str, ...] = ()  # other versions of the model, off on the target (`account_mrr.v1`)


def ported_path(source: str, target: str) -> str:
    """Where the ported SQL of the model at `source` goes: a folder named after the engine beside it."""
    path = PurePosixPath(source)
    return (path.parent / target / path.name).as_posix()


def _and(inherited: str | None, condition: str) -> str:
    return f"{{{{ ({inherited}) and {condition} }}}}" if inherited else f"{{{{ {condition} }}}}"


def enabled_on(targets: list[str], inherited: str | None = None) -> str:
    """The original's `+enabled`: every engine but those it was ported to (our fixed Jinja),
    within the enclosing folders' own `+enabled` expression, if any."""
    if len(targets) == 1:
        return _and(inherited, f"target.type != '{targets[0]}'")
    listed = ", ".join(f"'{target}'" for target in sorted(targets))
    return _and(inherited, f"target.type not in ({listed})")


def enabled_only_on(target: str, inherited: str | None = None) -> str:
    """The ported file's `+enabled`: its engine only (within the folders' own expression)."""
    return _and(inherited, f"target.type == '{target}'")


# What the switches above look like: a value of this form at the model is gen-model's own.
_OWN_SWITCH = re.compile(r"^\{\{ (\(.+\) and )?target\.type (!=|==|not in) .+ \}\}$")


def _inherited_enabled(models, keys: list[str], where: str) -> str | None:
    """The expression of the nearest enclosing `+enabled` along `keys` (folders), if any."""
    found = None
    node = models
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        value = node.get("+enabled", node.get("enabled"))
        if value is not None:
            found = value
    if found is None or found is True or (isinstance(found, str) and found.strip().lower() == "true"):
        return None
    if isinstance(found, str) and found.startswith("{{") and found.endswith("}}") and "{{" not in found[2:-2]:
        return found[2:-2].strip()
    raise PortWriteError(
        f"dbt_project.yml's models.{where} sets enabled to {found!r}: the model is not built on any target; "
        "nothing to port"
    )


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
    if existing is not None and not (isinstance(existing, str) and _OWN_SWITCH.match(existing)):
        raise PortWriteError(
            f"dbt_project.yml already sets enabled for models.{where} ({existing!r}); "
            "the port would override it: remove it or port by hand"
        )
    node.pop("enabled", None)
    node["+enabled"] = value


def _off_targets(value) -> list[str]:
    """The engines one of our `enabled_on` switches turns a node off on (none for any other value)."""
    if not (isinstance(value, str) and _OWN_SWITCH.match(value)):
        return []
    return re.findall(r"'([^']+)'", value.rsplit("target.type", 1)[1])


def _node_at(node, keys: list[str]):
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _prune(node, keys: list[str]) -> None:
    """Drop the mappings along `keys` that were left empty, innermost first."""
    for depth in range(len(keys), 0, -1):
        parent = _node_at(node, keys[: depth - 1])
        if parent is None or parent.get(keys[depth - 1]) != {}:
            return
        del parent[keys[depth - 1]]


def _switch_version(document, section: str, fqn: tuple[str, ...], target: str, off: bool) -> None:
    """Turn the node at `fqn` (dbt's fqn: package, folders, name...) off on `target`, or back on.

    Versions are configured by fqn (`account_payment_health: {v1: ...}`): a version's node is
    re-configured under that fqn when its YAML entry patches it, so a file-name key would not
    hold. The switch is our own `enabled_on` text, within the enclosing `+enabled`.
    """
    keys = list(fqn)
    where = f"{section}.{'.'.join(keys)}"
    if document.get(section) is None:
        document[section] = {}
    current = _node_at(document[section], keys)
    value = None if current is None else current.get("+enabled", current.get("enabled"))
    targets = set(_off_targets(value))
    if value is not None and not targets:
        raise PortWriteError(
            f"dbt_project.yml already sets enabled for {where} ({value!r}); the port would override it: "
            "remove it or port by hand"
        )
    targets = targets | {target} if off else targets - {target}
    if targets:
        inherited = _inherited_enabled(document[section], keys[:-1], where)
        _set_enabled(document[section], keys, enabled_on(sorted(targets), inherited), where)
    elif current is not None:
        current.pop("+enabled", None)
        _prune(document[section], keys)


def project_config(
    project: Project,
    source: str,
    name: str,
    targets: list[str],
    target: str,
    *,
    versions_off: tuple[ModelVersion, ...] = (),
    version_on: ModelVersion | None = None,
) -> str:
    """dbt_project.yml's text with the two `+enabled` switches set, comments kept.

    `name` is the model file's name without `.sql` (dbt_project.yml configures files).
    `versions_off`: other versions of the model with no port to `target`, turned off there
    (with their unit tests); `version_on`: the version ported, whose earlier switch-off on
    `target` is lifted.
    """
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # the person's file changes only where the port is configured
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load((project.project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    if document.get("models") is None:
        document["models"] = {}
    folders = [project.name, *_folders(project, source)]
    inherited = _inherited_enabled(document["models"], folders, ".".join(folders))
    _set_enabled(document["models"], [*folders, name], enabled_on(targets, inherited), ".".join([*folders, name]))
    _set_enabled(
        document["models"],
        [*folders, target, name],
        enabled_only_on(target, inherited),
        ".".join([*folders, target]),
    )
    switches = [(version, True) for version in versions_off] + ([(version_on, False)] if version_on else [])
    for version, off in switches:
        _switch_version(document, "models", version.fqn, target, off)
        for fqn in version.unit_tests:
            _switch_version(document, "unit_tests", fqn, target, off)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _model_entry(document, ported: PortedModel):
    """The YAML mapping whose `columns` describe the ported model (its version's, if it has them)."""
    models = document.get("models") if isinstance(document, dict) else None
    entry = next(
        (item for item in models or () if isinstance(item, dict) and item.get("name") == ported.name),
        None,
    )
    if entry is None:
        raise PortWriteError(f"{ported.properties} has no entry for {ported.name}; cannot write its contract types")
    if ported.version is not None:
        versions = [item for item in entry.get("versions") or () if isinstance(item, dict)]
        version = next((item for item in versions if item.get("v") == ported.version), None)
        if version is not None and version.get("columns") is not None:
            return version
    return entry


def _scalar_span(lines: list[str], line: int, col: int, value: str, flow: bool) -> tuple[int, int]:
    """Where the scalar `value` starting at (line, col) ends on that line; refuse what is not one plain
    or quoted scalar on one line (the YAML is then edited by hand)."""
    import yaml

    text = lines[line]
    if text[col : col + 1] in ("'", '"'):
        quote = text[col]
        end = text.find(quote, col + 1)
        while quote == "'" and end != -1 and text[end + 1 : end + 2] == "'":
            end = text.find(quote, end + 2)
        end = end + 1 if end != -1 else -1
    else:
        ends = (" #", ",", "}") if flow else (" #",)  # in {...} a plain scalar ends at , or }: no decimal(p,s)
        stops = [index for index in (text.find(end, col) for end in ends) if index != -1]
        end = min(stops) if stops else len(text.rstrip("\r\n"))
        while end > col and text[end - 1] == " ":
            end -= 1
    if end <= col or yaml.safe_load(text[col:end]) != value:
        raise PortWriteError(
            f"cannot edit the data_type {value!r} in place (line {line + 1}): write it on one line as a plain "
            "scalar, or set the target's type by hand"
        )
    return col, end


def contract_types(project: Project, ported: PortedModel) -> str | None:
    """The properties YAML with each contracted column's type switched per engine where the target's
    type differs (generator.write.engine_types), every other byte kept; None when nothing changes."""
    from ruamel.yaml import YAML

    from generator.write.engine_types import TypeNameError, parse_type_switch, type_switch

    if not ported.contract or ported.properties is None:
        return None
    on_target = {name.lower(): kind for name, kind in ported.proof.target_columns} if ported.proof else {}
    path = Path(project.project_dir) / ported.properties
    text = path.read_text(encoding="utf-8")
    entry = _model_entry(YAML(typ="rt").load(text), ported)
    lines = text.splitlines(keepends=True)
    edits = []
    for column in entry.get("columns") or ():
        if not isinstance(column, dict) or not isinstance(column.get("data_type"), str):
            continue
        name, current = str(column.get("name")), column["data_type"]
        if name.lower() not in on_target:
            raise PortWriteError(f"{ported.properties}: contract column {name} is not a column of the ported model")
        by_engine, default = parse_type_switch(current) or ({}, current)
        wanted = on_target[name.lower()]
        if "".join(wanted.lower().split()) == "".join(default.lower().split()):
            by_engine.pop(ported.target, None)
        else:
            by_engine[ported.target] = wanted
        try:
            new = type_switch(by_engine, default)
        except TypeNameError as error:
            raise PortWriteError(f"{ported.properties}: column {name}: {error}; set its types by hand") from None
        if new != current:
            line, col = column.lc.value("data_type")
            start, end = _scalar_span(lines, line, col, current, column.fa.flow_style())
            shown = f'"{new}"' if new.startswith("{{") else new
            edits.append((line, start, end, shown))
    for line, start, end, shown in sorted(edits, reverse=True):
        lines[line] = lines[line][:start] + shown + lines[line][end:]
    return "".join(lines) if edits else None


def _record_properties(lock, path: str, old_digest: str | None, text: str) -> None:
    """The lock entry that wrote `path` now expects its new bytes (gen-model wrote them too)."""
    for model in lock.entries:
        owner = lock.expected_files(model).get(path)
        if owner is None:
            continue
        entry, generated, adopted = owner
        if old_digest == generated:
            entry.files[path] = lockfile.sha256_text(text)
        elif old_digest == adopted:
            entry.adopted[path] = lockfile.sha256_text(text)
        else:
            raise PortWriteError(f"{path} has changes gen-model did not record; run `gen-model verify` first")


def versions_on_target(
    lock: lockfile.Lockfile, ported: PortedModel
) -> tuple[ModelVersion | None, tuple[ModelVersion, ...]]:
    """The version ported, and the model's other versions with no proven port to the target.

    Those stay off on the target: their SQL is unproven there (v1 of the sample's
    account_payment_health rounds a double, which Spark rounds otherwise), and a DuckDB
    contract does not even parse in Spark's DDL. Off, `ref('model', v=1)` on the target is
    dbt's clear "disabled" error rather than other rows.
    """
    this = next((version for version in ported.versions if version.version == ported.version), None)
    off = tuple(
        version
        for version in ported.versions
        if version.version != ported.version
        and ported.target not in lock.ported(ported.name, version.version, version.path)
    )
    return this, off


def port_files(project: Project, ported: PortedModel) -> tuple[list[tuple[Path, str]], str]:
    """Every file a proven port writes, as (path, final text), and the ported file's path:
    the target's SQL, dbt_project.yml, the YAML when its contract needs the target's types,
    and gen_model.lock (read from disk now, so a run's own new entry is kept). Writes
    nothing; the caller holds the project lock and writes them in one transaction. Raises
    PortWriteError without a proof that holds."""
    proof = ported.proof
    if proof is None or not proof.holds:
        raise PortWriteError(f"{ported.name}: no proof that the rows are identical on {ported.target}; nothing written")
    source = ported.path
    file = ported_path(source, ported.target)
    key = lockfile.port_key(ported.name, ported.version)
    text = HEADER.format(key=key, target=ported.target, source=source) + ported.sql
    root = Path(project.project_dir)
    properties_digest = lockfile.file_sha256(root / ported.properties) if ported.properties else None
    properties = contract_types(project, ported)
    check_files([(file, text), *([(ported.properties, properties)] if properties is not None else [])])
    lock = lockfile.load(root)
    lockfile.refuse_unrecorded(lock, root, writing=ported.name)
    if lockfile.file_sha256(root / source) != ported.source_sha256:
        raise PortWriteError(f"{source} changed while it was being proven; port it again")
    ported_before = lock.ported(ported.name, ported.version, source)
    if (root / file).exists() and ported.target not in ported_before:
        raise PortWriteError(f"{file} exists and is not a port gen-model wrote; move it away first")
    targets = sorted({*ported_before, ported.target})
    this, off = versions_on_target(lock, ported)
    config = project_config(
        project, source, PurePosixPath(source).stem, targets, ported.target, versions_off=off, version_on=this
    )
    files = [(root / file, text), (root / "dbt_project.yml", config)]
    if properties is not None:
        _record_properties(lock, ported.properties, properties_digest, properties)
        files.append((root / ported.properties, properties))
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
        ported.version,
    )
    files.append((lock.path, lock.dumps()))
    return files, file


def write_port(project: Project, ported: PortedModel) -> PortWritten:
    """Write a proven port: the target's SQL beside the model, the engine switches in
    dbt_project.yml, the proof in gen_model.lock; all or nothing. Raises PortWriteError
    without a proof that holds."""
    root = Path(project.project_dir)
    with ProjectLock(root), interrupts_as_exceptions():
        transaction = FileTransaction(root)
        transaction.recover()
        files, file = port_files(project, ported)
        try:
            for path, text in files:
                transaction.write(path, text)
            raise_if_interrupted()
        except BaseException:
            transaction.rollback()
            raise
        transaction.commit()
    _, off = versions_on_target(lockfile.load(root), ported)
    shown = tuple(lockfile.port_key(ported.name, version.version) for version in off)
    return PortWritten(file, "dbt_project.yml", lockfile.LOCK_NAME, shown)

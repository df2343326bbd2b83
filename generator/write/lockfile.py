"""`gen_model.lock`: what every accepted generation was made from, one entry per model version.

The lockfile lives at the project root and is committed with it, like a package manager's
lockfile. It makes generation reproducible and reviewable:

  * replay: the same request against an unchanged catalog slice reuses the locked proposal
    (no LLM call) and its locked provenance, so the files come out byte-identical;
  * verify: the sha256 of every file a generation wrote, so CI can tell a hand edit from
    a generated file, and `gen-model adopt` can record an edit as accepted;
  * drift: the upstream columns each version reads (from the SQL, filters and joins
    included), so a column an input lost is named precisely.

Format (YAML, keys in a fixed order, models by name, entries by version; no timestamps, so
the same runs give the same bytes):

    version: 1
    models:
      account_mrr:
        - v: 1
          layer: marts
          requested: {name: account_mrr}        # --name/--layer the user gave (LLM runs)
          catalog_fingerprint: 36e68a6c...      # catalog.fingerprint() of the prompt's slice
          files:                                # sha256 of every file this version wrote
            models/marts/account_mrr_v1.sql: 9f2c...
            models/marts/account_mrr.yml: 41d0...
          adopted:                              # hand edits recorded by `gen-model adopt`
            models/marts/account_mrr_v1.sql: 77ab...
          inputs:                               # the relations the SQL reads:
            ref('int_subscriptions_joined_to_plans'):
              uses: [account_id, currency, ...]  #   columns used (filters and joins too)
              columns: subscription_id varchar, account_id varchar, ...  # all, when generated
          catalog_slice:                        # what the prompt showed: relation -> sha256
            ref('invoices'): 5be0c1d2e3f40a1b   #   of its typed columns (first 16 hex digits)
          attempts: [...]                       # LLM calls: model, tokens, outcome
          provenance: {...}                     # meta.gen_model exactly as written (no lineage)
          proposal: {...}                       # the accepted proposal
    ports:                                      # `gen-model port --write`: proven copies
      orders:                                   #   (any model, generated or hand-written;
        spark:                                  #   a version as dbt selects it: account_mrr.v1)
          source: models/marts/orders.sql       # the model as proven, and its sha256
          source_sha256: 5d1e...
          file: models/marts/spark/orders.sql   # the ported file, and its sha256
          sha256: 0b7c...
          engines: {duckdb: 1.4.3, spark: 4.0.1}
          row_sets: [{name: a sample of the real inputs (up to 1000 rows each), rows: 99}]

A port is keyed by model and version (`port_key`), so each version keeps its own proof.
Lockfiles written before that keyed a versioned model's port by its name alone; such a record
is read as it is and written back unchanged, and belongs to the version whose file it proves
(`Lockfile.ported`), until that version is ported again.

Request, provider, model id, prompt sha256 and the change class live in `provenance`, the
block written into the model's YAML, so lockfile and YAML cannot disagree about them.

A file is written by several versions (`<name>.yml` holds them all): what it should hash to
now is what the newest entry naming it says.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import yaml

from generator import limits
from generator.errors import ConfigError, Problem
from generator.project.catalog import Relation, fingerprint
from generator.write.transaction import atomic_write

LOCK_NAME = "gen_model.lock"
FORMAT_VERSION = 1
HEADER = (
    "# gen_model.lock: what each generated model version was made from. Written by gen-model;\n"
    "# commit it with the project. `gen-model verify` checks the files against it and\n"
    "# `gen-model adopt MODEL` records hand edits. Do not edit by hand.\n"
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def file_sha256(path: Path) -> str | None:
    """The sha256 of a file's bytes, or None when it does not exist."""
    try:
        return sha256_bytes(Path(path).read_bytes())
    except FileNotFoundError:
        return None


@dataclass
class LockEntry:
    """One generated model version and what it was made from."""

    model: str
    version: int
    layer: str = ""
    requested: dict = field(default_factory=dict)  # {name, layer} the user fixed, LLM runs only
    catalog_fingerprint: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    adopted: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, dict] = field(default_factory=dict)  # display -> {uses: [...], columns: "..."}
    catalog_slice: dict[str, str] = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    proposal: dict | None = None

    @property
    def origin(self) -> str:
        return str(self.provenance.get("origin") or "")

    @property
    def request(self) -> str | None:
        return self.provenance.get("request")

    @property
    def change(self) -> dict | None:
        return self.provenance.get("change")

    def to_dict(self) -> dict:
        data: dict = {"v": self.version, "layer": self.layer}
        if self.requested:
            data["requested"] = dict(self.requested)
        if self.catalog_fingerprint:
            data["catalog_fingerprint"] = self.catalog_fingerprint
        data["files"] = dict(self.files)
        if self.adopted:
            data["adopted"] = dict(sorted(self.adopted.items()))
        if self.inputs:
            data["inputs"] = {key: _input_dict(value) for key, value in sorted(self.inputs.items())}
        if self.catalog_slice:
            data["catalog_slice"] = dict(sorted(self.catalog_slice.items()))
        if self.attempts:
            data["attempts"] = [dict(attempt) for attempt in self.attempts]
        data["provenance"] = dict(self.provenance)
        if self.proposal is not None:
            data["proposal"] = dict(self.proposal)
        return data

    @classmethod
    def from_dict(cls, model: str, data: dict, where: str) -> LockEntry:
        if not isinstance(data, dict) or not isinstance(data.get("v"), int):
            raise ConfigError(f"{where}: every entry of {model!r} needs an integer `v`")
        return cls(
            model=model,
            version=data["v"],
            layer=str(data.get("layer") or ""),
            requested=dict(data.get("requested") or {}),
            catalog_fingerprint=data.get("catalog_fingerprint"),
            files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
            adopted={str(k): str(v) for k, v in (data.get("adopted") or {}).items()},
            inputs={str(k): _input_dict(v) for k, v in (data.get("inputs") or {}).items()},
            catalog_slice={str(k): str(v) for k, v in (data.get("catalog_slice") or {}).items()},
            attempts=list(data.get("attempts") or []),
            provenance=dict(data.get("provenance") or {}),
            proposal=data.get("proposal"),
        )


def _input_dict(value) -> dict:
    value = value if isinstance(value, dict) else {"uses": list(value or [])}
    data: dict = {"uses": [str(column) for column in value.get("uses") or []]}
    if value.get("columns"):
        data["columns"] = str(value["columns"])
    return data


@dataclass
class Lockfile:
    """Every locked model version of a project."""

    path: Path
    entries: dict[str, list[LockEntry]] = field(default_factory=dict)
    # port_key(model, version) -> target -> the proof of its port (PORT_FIELDS); a
    # hand-written model has no entry in `entries`, so ports live beside them.
    ports: dict[str, dict[str, dict]] = field(default_factory=dict)

    # -- reading ---------------------------------------------------------------------------

    def versions(self, model: str) -> list[LockEntry]:
        return sorted(self.entries.get(model, []), key=lambda entry: entry.version)

    def get(self, model: str, version: int) -> LockEntry | None:
        return next((e for e in self.entries.get(model, []) if e.version == version), None)

    def latest(self, model: str) -> LockEntry | None:
        versions = self.versions(model)
        return versions[-1] if versions else None

    def all(self) -> list[LockEntry]:
        return [entry for model in sorted(self.entries) for entry in self.versions(model)]

    def expected_files(self, model: str) -> dict[str, tuple[LockEntry, str, str | None]]:
        """path -> (owning entry, generated sha256, adopted sha256) for a model's files now.

        The newest entry naming a path owns it: `<name>.yml` is rewritten by every version.
        """
        owners: dict[str, tuple[LockEntry, str, str | None]] = {}
        for entry in self.versions(model):
            for path, digest in entry.files.items():
                owners[path] = (entry, digest, entry.adopted.get(path))
        return owners

    def ported(self, model: str, version: int | None, source: str | None = None) -> dict[str, dict]:
        """target -> proof of each port of `model` at `version` (None: an unversioned model).

        A record keyed by the name alone, from before ports were kept per version, belongs to
        the version whose file it proves: `source` when the caller knows the version's file,
        else the file of the version's lock entry.
        """
        found = dict(self.ports.get(port_key(model, version), {}))
        if version is None:
            return found
        entry = self.get(model, version)
        files = {source} if source else set(entry.files if entry else ())
        for target, port in self.ports.get(model, {}).items():
            if port.get("source") in files:
                found.setdefault(target, port)
        return found

    def replay_candidate(self, text: str, name: str | None, layer: str | None) -> LockEntry | None:
        """The newest entry an LLM made for this very request (text, --name and --layer)."""
        wanted = requested_key(name, layer)
        matches = [
            entry
            for entry in self.all()
            if entry.origin == "llm"
            and entry.request == text
            and entry.requested == wanted
            and entry.proposal is not None
        ]
        return max(matches, key=lambda e: (e.model, e.version)) if matches else None

    def unrecorded(self, project_dir: Path, except_model: str | None = None) -> list[OnDisk]:
        """Generated model versions on disk (gen-model provenance in their YAML) with no entry.

        A lockfile cut between two entries still reads as a whole one; writing it would make
        the loss permanent. `except_model` is the model being written, whose older versions
        may predate the lockfile (they are recorded as the run finds them).
        """
        missing = []
        for found in generated_on_disk(project_dir):
            if found.model == except_model:
                continue
            if found.version.isdigit() and self.get(found.model, int(found.version)) is not None:
                continue
            if not found.version and self.entries.get(found.model):
                continue
            missing.append(found)
        return missing

    # -- writing ---------------------------------------------------------------------------

    def record(self, entry: LockEntry) -> None:
        """Add or replace the entry for (entry.model, entry.version)."""
        versions = [e for e in self.entries.get(entry.model, []) if e.version != entry.version]
        versions.append(entry)
        self.entries[entry.model] = sorted(versions, key=lambda e: e.version)

    def record_port(self, model: str, target: str, port: dict, version: int | None = None) -> None:
        """Add or replace the proof of the port of `model` (at `version`) to `target` (PORT_FIELDS' keys).

        Other versions' proofs are kept; a record of this very version and target from before
        ports were kept per version (keyed by name, proving the same file) is replaced.
        """
        key = port_key(model, version)
        self.ports.setdefault(key, {})[target] = {field: port[field] for field in PORT_FIELDS if field in port}
        by_name = self.ports.get(model) if key != model else None
        if by_name and by_name.get(target, {}).get("source") == port.get("source"):
            del by_name[target]
            if not by_name:
                del self.ports[model]

    def remove(self, model: str, version: int) -> None:
        remaining = [e for e in self.entries.get(model, []) if e.version != version]
        if remaining:
            self.entries[model] = remaining
        else:
            self.entries.pop(model, None)

    def to_dict(self) -> dict:
        data: dict = {
            "version": FORMAT_VERSION,
            "models": {model: [e.to_dict() for e in self.versions(model)] for model in sorted(self.entries)},
        }
        if self.ports:  # absent until a port is written: older lockfiles keep their bytes
            data["ports"] = {
                model: {target: dict(self.ports[model][target]) for target in sorted(self.ports[model])}
                for model in sorted(self.ports)
            }
        return data

    def dumps(self) -> str:
        """The file's text: deterministic (fixed key order, sorted models and versions)."""
        body = yaml.dump(
            self.to_dict(),
            Dumper=_LockDumper,
            sort_keys=False,
            allow_unicode=True,
            width=4096,
            default_flow_style=False,
        )
        return HEADER + body

    def save(self) -> None:
        """Write atomically. Callers hold the project lock (`transaction.ProjectLock`)."""
        atomic_write(self.path, self.dumps())


class _LockDumper(yaml.SafeDumper):
    """Multi-line strings (SQL) as literal blocks; short lists of names in flow style."""

    def ignore_aliases(self, data) -> bool:
        # A list shared by two entries is written out twice: the reader refuses aliases
        # that expand without bound, and a lockfile is read by people in review.
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str):
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_list(dumper: yaml.SafeDumper, value: list):
    flow = bool(value) and all(isinstance(item, (str, int, float)) and "\n" not in str(item) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_LockDumper.add_representer(str, _represent_str)
_LockDumper.add_representer(list, _represent_list)


def lock_path(project_dir: Path) -> Path:
    return Path(project_dir) / LOCK_NAME


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# How deep a lockfile nests: models -> versions -> entry -> proposal -> an enrich spec.
_LOCK_DEPTH = limits.MAX_DATA_DEPTH + 8
# A lockfile written by an older gen-model may hold aliases (a list shared by two entries);
# they are read, but may not expand to more than this many values (billion laughs).
_LOCK_EXPANDED = 10_000_000


def _restore_hint(path: Path) -> str:
    return (
        f"Restore it from git (`git checkout -- {path.name}`, or the version before the damage); "
        "gen-model writes it, people should not need to edit it."
    )


def _is_str_map(value, digest: bool = False) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) and (not digest or _SHA256.match(v)) for k, v in value.items()
    )


def _is_file_map(value) -> bool:
    """path -> sha256, every path relative and inside the project (the lockfile is untrusted)."""
    return _is_str_map(value, digest=True) and all(
        key and not key.startswith(("/", "\\")) and ".." not in re.split(r"[\\/]", key) and ":" not in key
        for key in value
    )


def _is_input(value) -> bool:
    if isinstance(value, list):  # the first format: just the columns used
        return all(isinstance(item, str) for item in value)
    return (
        isinstance(value, dict)
        and set(value) <= {"uses", "columns"}
        and isinstance(value.get("uses", []), list)
        and all(isinstance(item, str) for item in value.get("uses") or [])
        and isinstance(value.get("columns", ""), str)
    )


# Every key an entry may have: (required, check, what it must be). Checked before use, so a
# damaged lockfile is an error that names the key, never a crash or a silent default.
_ENTRY_FIELDS: dict[str, tuple[bool, object, str]] = {
    "v": (True, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a version number (1, 2, ...)"),
    "layer": (True, lambda v: isinstance(v, str), "a layer name"),
    "requested": (False, _is_str_map, "a mapping of name/layer to strings"),
    "catalog_fingerprint": (False, lambda v: isinstance(v, str), "a sha256 string"),
    "files": (True, _is_file_map, "a mapping of file path (inside the project) to sha256 (64 hex digits)"),
    "adopted": (False, _is_file_map, "a mapping of file path (inside the project) to sha256 (64 hex digits)"),
    "inputs": (
        False,
        lambda v: isinstance(v, dict) and all(isinstance(k, str) and _is_input(i) for k, i in v.items()),
        "a mapping of relation to {uses: [...], columns: ...}",
    ),
    "catalog_slice": (False, _is_str_map, "a mapping of relation to a short sha256"),
    "attempts": (False, lambda v: isinstance(v, list) and all(isinstance(a, dict) for a in v), "a list of mappings"),
    "provenance": (True, lambda v: isinstance(v, dict), "a mapping (meta.gen_model)"),
    "proposal": (False, lambda v: isinstance(v, dict), "a mapping (the accepted proposal)"),
}


def _is_row_sets(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, dict)
        and set(item) == {"name", "rows"}
        and isinstance(item["name"], str)
        and type(item["rows"]) is int
        for item in value
    )


# Every key a port record has (all required): the proof `gen-model port --write` made.
PORT_FIELDS: dict[str, tuple[object, str]] = {
    "source": (lambda v: _is_file_map({v: "0" * 64}) if isinstance(v, str) else False, "a path inside the project"),
    "source_sha256": (lambda v: isinstance(v, str) and bool(_SHA256.match(v)), "a sha256 (64 hex digits)"),
    "file": (lambda v: _is_file_map({v: "0" * 64}) if isinstance(v, str) else False, "a path inside the project"),
    "sha256": (lambda v: isinstance(v, str) and bool(_SHA256.match(v)), "a sha256 (64 hex digits)"),
    "engines": (_is_str_map, "a mapping of engine to version"),
    "row_sets": (_is_row_sets, "a list of {name, rows}"),
}


def port_key(model: str, version: int | None) -> str:
    """The `ports:` key of a port: the model's name, and its version as dbt selects it (`account_mrr.v1`)."""
    return model if version is None else f"{model}.v{version}"


def split_port_key(key: str) -> tuple[str, int | None]:
    """(model, version) of a `ports:` key; a key without a version (an unversioned model, or a
    record from before ports were kept per version) has None."""
    model, dot, version = key.rpartition(".v")
    return (model, int(version)) if dot and model and version.isdigit() else (key, None)


def _port_problems(ports) -> list[tuple[tuple, str]]:
    """(key path, message) for a `ports:` section that is not as `record_port` writes it."""
    if not isinstance(ports, dict):
        return [(("ports",), "ports must be a mapping of model (and version) to its ported targets")]
    problems: list[tuple[tuple, str]] = []
    for model, targets in ports.items():
        if not isinstance(model, str) or not isinstance(targets, dict) or not targets:
            problems.append((("ports", model), f"ports.{str(model)[:80]} must be a mapping of target to its proof"))
            continue
        for target, port in targets.items():
            at = ("ports", model, target)
            if not isinstance(port, dict) or set(port) != set(PORT_FIELDS):
                problems.append((at, f"ports.{model}.{str(target)[:80]} must have exactly {', '.join(PORT_FIELDS)}"))
                continue
            for key, (check, what) in PORT_FIELDS.items():
                if not check(port[key]):  # type: ignore[operator]
                    problems.append(((*at, key), f"ports.{model}.{target}.{key} must be {what}"))
    return problems


def _structure_problems(data, path: Path) -> list[tuple[tuple, str]]:
    """(key path, message) for everything in parsed lockfile data that is not as written."""
    if not isinstance(data, dict):
        return [((), f"expected `version:` and a `models:` mapping, got {type(data).__name__}")]
    problems: list[tuple[tuple, str]] = []
    for key in data:
        if key not in ("version", "models", "ports"):
            problems.append(((key,), f"unknown key {str(key)[:80]!r}: a lockfile has only version, models and ports"))
    if "ports" in data:
        problems += _port_problems(data["ports"])
    models = data.get("models")
    if models in (None, [], {}):
        return problems
    if not isinstance(models, dict):
        return [*problems, (("models",), "models must be a mapping of model name to its versions")]
    for model, items in models.items():
        where = ("models", model)
        if not isinstance(model, str) or not isinstance(items, list) or not items:
            problems.append((where, f"models.{str(model)[:80]} must be a non-empty list of versions"))
            continue
        versions: set = set()
        for index, item in enumerate(items):
            at = (*where, index)
            if not isinstance(item, dict):
                problems.append((at, f"models.{model}[{index}] must be a mapping"))
                continue
            if isinstance(item.get("v"), int) and item["v"] in versions:
                problems.append(((*at, "v"), f"models.{model} lists v{item['v']} twice (a bad merge?)"))
            versions.add(item.get("v") if isinstance(item.get("v"), int) else None)
            for key in item:
                if key not in _ENTRY_FIELDS:
                    problems.append(((*at, key), f"models.{model}[{index}]: unknown key {str(key)[:80]!r}"))
            for key, (required, check, what) in _ENTRY_FIELDS.items():
                if key not in item:
                    if required:
                        problems.append((at, f"models.{model}[{index}] has no `{key}` (it is cut short?)"))
                elif not check(item[key]):  # type: ignore[operator]
                    problems.append(((*at, key), f"models.{model}[{index}].{key} must be {what}"))
            problems.extend(((*at, "proposal"), message) for message in _proposal_mismatch(item, model, index))
            # Only `gen-model adopt` records an entry without its proposal, and then with
            # none of what a generation records: such an entry lost its end.
            made_by_a_run = [key for key in ("inputs", "catalog_slice", "attempts", "requested") if key in item]
            if made_by_a_run and "proposal" not in item:
                problems.append((at, f"models.{model}[{index}] has {made_by_a_run[0]} but no `proposal` (cut short?)"))
    return problems


def _proposal_mismatch(item: dict, model: str, index: int) -> list[str]:
    """The locked proposal must hash to the proposal_sha256 its provenance records.

    This catches a lockfile cut short inside a proposal (its SQL or columns), which is
    otherwise still valid YAML.
    """
    proposal, provenance = item.get("proposal"), item.get("provenance")
    if not isinstance(proposal, dict) or not isinstance(provenance, dict):
        return []
    recorded = provenance.get("proposal_sha256")
    if not isinstance(recorded, str):
        return []
    try:
        actual = sha256_text(json.dumps(proposal, sort_keys=True, ensure_ascii=False))
    except (TypeError, ValueError):
        return [f"models.{model}[{index}].proposal holds values that are not plain data"]
    if actual == recorded:
        return []
    return [
        f"models.{model}[{index}].proposal does not match its provenance.proposal_sha256: it was cut short or edited"
    ]


def _located(text: str, path: Path, problems: list[tuple[tuple, str]]) -> list[Problem]:
    """Problems at their line and column in the lockfile (positions are found only now)."""
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        root = None
    located = []
    for key_path, message in problems[:20]:
        line, col = _position(root, key_path)
        located.append(Problem(rule="lockfile", message=message, file=str(path), line=line, col=col))
    return located


def _position(node, key_path: tuple) -> tuple[int | None, int | None]:
    """Line and column of the deepest node along `key_path` (a key points at the key)."""
    best = node.start_mark if node is not None else None
    for key in key_path:
        if isinstance(node, yaml.MappingNode):
            pair = next((p for p in node.value if isinstance(p[0], yaml.ScalarNode) and p[0].value == str(key)), None)
            if pair is None:
                break
            best, node = pair[0].start_mark, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            best = node.start_mark
        else:
            break
    return (best.line + 1, best.column + 1) if best is not None else (None, None)


def _read(path: Path) -> tuple[str, object]:
    """The lockfile's text and parsed data; every way it can be unreadable is a ConfigError."""
    hint = _restore_hint(path)
    raw = limits.read_limited(path, limits.MAX_LOCKFILE_BYTES, "the lockfile", ConfigError)
    text = limits.decode_text(raw, str(path), f"{path.name} is YAML", ConfigError, hint)
    shape = limits.yaml_shape_problem(
        text, str(path), max_depth=_LOCK_DEPTH, max_expanded=_LOCK_EXPANDED, unique_keys=True
    )
    if shape is not None:
        raise ConfigError(f"{path} cannot be read. {hint}", [replace(shape, rule="lockfile")])
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ConfigError(
            f"{path} is not valid YAML: {str(error).splitlines()[0]}. {hint}",
            [
                Problem(
                    rule="lockfile",
                    message=str(error).splitlines()[0][:300],
                    file=str(path),
                    line=mark.line + 1 if mark else None,
                    col=mark.column + 1 if mark else None,
                )
            ],
        ) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        raise ConfigError(f"{path} cannot be read: {type(error).__name__}: {str(error)[:200]}. {hint}") from None
    return text, data


def load(project_dir: Path) -> Lockfile:
    """The project's lockfile; an empty one when there is none yet.

    A lockfile that cannot be read is an error, never an empty lockfile: too large, not
    UTF-8, not YAML, aliases that expand without bound, duplicate keys, an entry with a
    missing or mistyped key, a proposal that does not match its recorded sha256 (a file
    cut short), or no entries at all while generated models are on disk.
    """
    path = lock_path(project_dir)
    if not path.is_file():
        return Lockfile(path)
    text, data = _read(path)
    if data is None:  # empty, or comments only
        data = {}
    version = data.get("version") if isinstance(data, dict) else None
    if isinstance(data, dict) and data and (type(version) is not int or version != FORMAT_VERSION):
        if type(version) is int:  # `version: true` is no version (True == 1 in Python)
            raise ConfigError(
                f"{path} has format version {version!r}; this gen-model reads version "
                f"{FORMAT_VERSION}. Upgrade gen-model."
            )
        raise ConfigError(f"{path} has no valid `version:` (expected {FORMAT_VERSION}). {_restore_hint(path)}")
    problems = _structure_problems(data, path)
    if problems:
        raise ConfigError(
            f"{path} is damaged ({len(problems)} problem(s)). {_restore_hint(path)}", _located(text, path, problems)
        )
    lockfile = Lockfile(path)
    for model, items in (data.get("models") or {}).items():
        entries = [LockEntry.from_dict(str(model), item, str(path)) for item in items]
        lockfile.entries[str(model)] = sorted(entries, key=lambda e: e.version)
    lockfile.ports = {
        model: {target: dict(port) for target, port in targets.items()}
        for model, targets in (data.get("ports") or {}).items()
    }
    if not lockfile.entries:
        _refuse_empty(Path(project_dir), path)
    return lockfile


def _few(found: list[OnDisk], shown: int = 5) -> str:
    names = _by_file(found)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _by_file(found: list[OnDisk]) -> list[str]:
    """'path (m v1, v2)' per YAML file: one file holds every version of its model."""
    grouped: dict[str, list[OnDisk]] = {}
    for item in found:
        grouped.setdefault(item.path, []).append(item)
    shown = []
    for path, items in grouped.items():
        described, model = [], None
        for item in items:
            name = f"v{item.version}" if item.model == model and item.version else item.describe()
            described.append(name)
            model = item.model if item.version else None
        shown.append(f"{path} ({', '.join(described)})")
    return shown


def _refuse_empty(project_dir: Path, path: Path) -> None:
    """An empty lockfile beside generated models was emptied or cut short: never use it."""
    generated = generated_on_disk(project_dir)
    if not generated:
        return
    raise ConfigError(
        f"{path} has no entries, but gen-model generated models are on disk ({_few(generated)}): it was emptied or cut "
        f"short, and writing it now would lose their records. {_restore_hint(path)} If these models were "
        f"generated before any lockfile existed, delete {path.name} and run `gen-model adopt MODEL` for each."
    )


def refuse_unrecorded(lock: Lockfile, project_dir: Path, writing: str) -> None:
    """Refuse to rewrite a lockfile that lacks entries for generated models on disk."""
    missing = lock.unrecorded(Path(project_dir), except_model=writing)
    if not missing:
        return
    raise ConfigError(
        f"{lock.path} has no entry for gen-model generated models on disk ({_few(missing)}): it was cut short or "
        f"edited, and writing it now would lose their records. {_restore_hint(lock.path)} If those models "
        "really were never recorded, run `gen-model adopt MODEL` for each first."
    )


class OnDisk(NamedTuple):
    """A generated model (version) found in a model YAML: its file, model and version ('' if unversioned)."""

    path: str
    model: str
    version: str

    def describe(self) -> str:
        """'model vN' (or 'model')."""
        return f"{self.model} v{self.version}" if self.version else self.model


def generated_on_disk(project_dir: Path) -> list[OnDisk]:
    """Each model version whose YAML carries gen-model's provenance.

    Read straight from the model YAML files (no dbt parse): cheap, and only needed when a
    lockfile is empty. Files that cannot be read are skipped; dbt reports them itself.
    """
    project_dir = Path(project_dir)
    try:
        config = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
        paths = config.get("model-paths") or ["models"]
    except (OSError, ValueError, yaml.YAMLError, AttributeError):
        paths = ["models"]
    found = []
    for model_path in paths if isinstance(paths, list) else ["models"]:
        root = project_dir / str(model_path)
        for file in sorted(root.rglob("*.yml")) if root.is_dir() else []:
            found += [OnDisk(file.relative_to(project_dir).as_posix(), *item) for item in _generated_in(file)]
    return found


def _generated_in(file: Path) -> list[tuple[str, str]]:
    try:
        if file.stat().st_size > limits.MAX_PROPOSAL_BYTES * 10:
            return []
        text = file.read_text(encoding="utf-8")
        if "gen_model:" not in text or "origin:" not in text:
            return []
        if limits.yaml_shape_problem(text, str(file), max_depth=_LOCK_DEPTH) is not None:
            return []
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, ValueError, yaml.YAMLError):
        return []
    names = []
    models = data.get("models") if isinstance(data, dict) else None
    for model in models if isinstance(models, list) else []:
        if not isinstance(model, dict):
            continue
        if _provenance_of(model):
            names.append((str(model.get("name")), ""))
        for version in model.get("versions") or []:
            if isinstance(version, dict) and _provenance_of(version):
                names.append((str(model.get("name")), str(version.get("v"))))
    return names


def _provenance_of(node: dict) -> bool:
    """Whether a model or version block carries the provenance gen-model's writer puts there."""
    config = node.get("config") if isinstance(node.get("config"), dict) else {}
    meta = node.get("meta") or config.get("meta")
    provenance = meta.get("gen_model") if isinstance(meta, dict) else None
    return isinstance(provenance, dict) and "origin" in provenance and not provenance.get("quarantine_of")


def requested_key(name: str | None, layer: str | None) -> dict:
    """What the user fixed about the model, as stored in `requested` (empty when nothing)."""
    return {key: value for key, value in (("name", name), ("layer", layer)) if value}


# -- the catalog slice -----------------------------------------------------------------------


def slice_relations(relations, model: str) -> list[Relation]:
    """The slice's relations without the model's own versions.

    Once a model exists, retrieval may offer it for its own request; the lock must not see
    that as a changed catalog (a model never reads itself).
    """
    return [r for r in relations if not (r.resource_type == "model" and r.name == model)]


def slice_fingerprint(relations, model: str) -> str:
    """`catalog.fingerprint` of the slice (names and typed columns; never row counts)."""
    return fingerprint(slice_relations(relations, model))


def columns_line(relation: Relation) -> str:
    """'column type, ...': a relation's typed columns on one line (the lockfile's form)."""
    return ", ".join(f"{c.name} {c.data_type or 'unknown'}" for c in relation.columns)


def slice_shape(relations, model: str) -> dict[str, str]:
    """relation -> short sha256 of its typed columns, for every relation the prompt showed."""
    return {
        relation.display: sha256_text(columns_line(relation))[:16] for relation in slice_relations(relations, model)
    }


def parse_columns_line(line: str) -> dict[str, str]:
    """The inverse of `columns_line`: {column: type}."""
    columns = {}
    for part in _split_columns(line):
        name, _, data_type = part.strip().partition(" ")
        if name:
            columns[name] = data_type
    return columns


def _split_columns(line: str) -> list[str]:
    """Split 'a int, b decimal(18,2), c struct(x int, y int)' on top-level commas only."""
    parts, depth, current = [], 0, []
    for char in line:
        if char in "(<[":
            depth += 1
        elif char in ")>]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def column_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """'lost column x', 'gained column y', 'column z integer -> bigint'."""
    lowered = {name.lower(): name for name in after}
    parts = [f"lost column {name}" for name in before if name.lower() not in lowered]
    known = {name.lower() for name in before}
    parts += [f"gained column {name}" for name in after if name.lower() not in known]
    parts += [
        f"column {name} {before[name]} -> {after[lowered[name.lower()]]}"
        for name in before
        if name.lower() in lowered and before[name] != after[lowered[name.lower()]]
    ]
    return parts


def slice_changes(entry: LockEntry, relations, model: str) -> list[str]:
    """What changed in the catalog slice since `entry`, one line per relation.

    Columns are named for the model's inputs (the lock keeps their typed columns); other
    relations of the slice are known by hash only.
    """
    current = {relation.display: relation for relation in slice_relations(relations, model)}
    shape = slice_shape(relations, model)
    changes = []
    for display in sorted(set(entry.catalog_slice) | set(current)):
        if display not in current:
            changes.append(f"{display} is no longer in the catalog slice")
        elif display not in entry.catalog_slice:
            changes.append(f"{display} is new in the catalog slice")
        elif entry.catalog_slice[display] != shape[display]:
            locked = (entry.inputs.get(display) or {}).get("columns")
            if locked:
                parts = column_changes(parse_columns_line(locked), parse_columns_line(columns_line(current[display])))
                changes.append(f"{display}: " + (", ".join(parts) or "columns reordered"))
            else:
                changes.append(f"{display}: columns changed")
    return changes


# -- inputs ------------------------------------------------------------------------------------

_DISPLAY = re.compile(
    r"""^(?:ref\('(?P<ref>[^']+)'(?:,\s*v=(?P<version>\d+))?\)|source\('(?P<source>[^']+)',\s*'(?P<table>[^']+)'\))$"""
)


def resolve_display(catalog, display: str) -> Relation | None:
    """The relation `ref('x')`, `ref('x', v=2)` or `source('s', 't')` names in `catalog`."""
    match = _DISPLAY.match(display)
    if not match:
        return None
    if match.group("ref"):
        version = int(match.group("version")) if match.group("version") else None
        return catalog.ref(match.group("ref"), version)
    return catalog.source(match.group("source"), match.group("table"))


def used_columns(ctx) -> dict[str, list[str]]:
    """Every upstream column the accepted SQL reads, per input relation (`display` keys).

    Unlike lineage (output columns only), this includes columns used in filters, joins,
    group by and windows: dropping any of them upstream breaks the model. Columns are
    followed through CTEs and subqueries; an import CTE's `select *` counts only for the
    columns actually used from it (generator.sql.columns says which).
    """
    from generator.sql.columns import columns_read

    found: dict[str, set[str]] = {}
    for placeholder, columns in (columns_read(ctx) or {}).items():
        found.setdefault(ctx.relations[placeholder].display, set()).update(columns)
    return {display: sorted(columns, key=str.lower) for display, columns in sorted(found.items())}


def inputs_of(ctx) -> dict[str, dict]:
    """The lockfile's `inputs`: per relation read, the columns used and all its typed columns."""
    relations = {relation.display: relation for relation in ctx.relations.values()}
    return {
        display: {"uses": uses, "columns": columns_line(relations[display])}
        for display, uses in used_columns(ctx).items()
        if display in relations
    }

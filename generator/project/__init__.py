"""Locating a dbt project, its profiles and target, the way dbt itself does."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path

import yaml

from generator.errors import ConfigError

# Folder names projects give each layer, the conventional one first.
LAYER_FOLDERS = {
    "staging": ("staging", "stg"),
    "intermediate": ("intermediate", "int"),
    "marts": ("marts", "mart"),
}


@dataclass(frozen=True)
class Project:
    """A dbt project on disk and how to connect to its warehouse."""

    project_dir: Path
    profiles_dir: Path
    name: str
    profile_name: str
    target: str | None = None  # None: the profile's default target
    model_paths: tuple[str, ...] = ("models",)
    config: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def target_name(self) -> str:
        """The target dbt will use: the one asked for, else the profile's default."""
        if self.target:
            return self.target
        profile = _read_profiles(self.profiles_dir).get(self.profile_name) or {}
        return str(profile.get("target", "dev"))

    @property
    def model_dir(self) -> Path:
        """Where generated models go: the first of the project's model-paths."""
        return self.project_dir / self.model_paths[0]

    def layer_dir(self, layer: str) -> Path:
        """Where a new generated model of `layer` goes, following the project's own layout.

        `.gen-model.yml`'s `layers:` first; else the layer's folder under a model path, if
        the project has one (`staging/` or `stg/`...); else, in a flat project (SQL files
        at the top of the model path and no layer folders), the model path itself; else
        `<model path>/<layer>/`.
        """
        from generator.llm.settings import resolve_settings

        configured = resolve_settings(self.project_dir).layers.get(layer)
        if configured:
            return self.project_dir / configured
        bases = [self.project_dir / path for path in self.model_paths]
        for base in bases:
            for name in LAYER_FOLDERS.get(layer, (layer,)):
                if (base / name).is_dir():
                    return base / name
        base = self.model_dir
        has_layer_folders = any(
            (candidate / name).is_dir() for candidate in bases for names in LAYER_FOLDERS.values() for name in names
        )
        if base.is_dir() and not has_layer_folders and any(base.glob("*.sql")):
            return base
        return base / layer

    def relative(self, path: Path) -> str:
        """A path relative to the project, '/'-separated, for messages and lockfiles."""
        try:
            return path.resolve().relative_to(self.project_dir.resolve()).as_posix()
        except ValueError:
            return str(path)

    def dbt_args(self) -> list[str]:
        """The flags every dbt invocation for this project needs."""
        args = ["--project-dir", str(self.project_dir), "--profiles-dir", str(self.profiles_dir)]
        if self.target:
            args += ["--target", self.target]
        return args


# dbt's own files are input too: bounded like a proposal, but anchors are common in them.
_CONFIG_BYTES = 10_000_000
_CONFIG_EXPANDED = 1_000_000


def read_yaml_config(path: Path) -> object:
    """A dbt YAML file (dbt_project.yml, profiles.yml), read within the input limits.

    Too large, not UTF-8, nested too deep or expanding aliases without bound is a located
    ConfigError; so is invalid YAML. FileNotFoundError is left to the caller.
    """
    from generator import limits

    data = limits.read_limited(path, _CONFIG_BYTES, path.name, ConfigError)
    text = limits.decode_text(data, str(path), f"{path.name} is YAML", ConfigError, "Save it as UTF-8 YAML.")
    problem = limits.yaml_shape_problem(text, str(path), max_expanded=_CONFIG_EXPANDED)
    if problem is not None:
        raise ConfigError(f"{path} cannot be read", [problem])
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    except (ValueError, TypeError, RecursionError) as error:
        raise ConfigError(f"{path} cannot be read: {type(error).__name__}: {str(error)[:200]}") from None


def _read_profiles(profiles_dir: Path) -> dict:
    path = profiles_dir / "profiles.yml"
    try:
        profiles = read_yaml_config(path) or {}
    except FileNotFoundError:
        return {}
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path} must be a mapping of profile names to profiles")
    return profiles


def _find_profiles_dir(project_dir: Path, flag: str | None) -> Path:
    candidates = []
    if flag:
        candidates.append(("--profiles-dir", Path(flag)))
    elif os.environ.get("DBT_PROFILES_DIR"):
        candidates.append(("DBT_PROFILES_DIR", Path(os.environ["DBT_PROFILES_DIR"])))
    else:
        candidates += [
            ("the project directory", project_dir),
            ("the current directory", Path.cwd()),
            ("~/.dbt", Path.home() / ".dbt"),
        ]
    for _, directory in candidates:
        if (directory / "profiles.yml").is_file():
            return directory.resolve()
    looked = ", ".join(f"{where} ({directory})" for where, directory in candidates)
    hint = ""
    if (project_dir / "profiles.yml.example").is_file():
        hint = f" This project ships one: cp {project_dir / 'profiles.yml.example'} {project_dir / 'profiles.yml'}"
    raise ConfigError(f"no profiles.yml found; looked in {looked}.{hint}")


def load_project(
    project_dir: str | Path | None = None,
    profiles_dir: str | Path | None = None,
    target: str | None = None,
) -> Project:
    """Find and check a dbt project, its profiles.yml and target; raise ConfigError if wrong."""
    directory = Path(project_dir or os.environ.get("DBT_PROJECT_DIR") or Path.cwd()).resolve()
    project_file = directory / "dbt_project.yml"
    if not project_file.is_file():
        raise ConfigError(
            f"{directory} is not a dbt project (no dbt_project.yml). "
            "Run gen-model from a dbt project or pass --project-dir."
        )
    config = read_yaml_config(project_file) or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{project_file} must be a mapping (name:, profile:, ...)")
    name = config.get("name")
    profile_name = config.get("profile") or name
    if not name:
        raise ConfigError(f"{project_file} has no 'name'")
    profiles = _find_profiles_dir(directory, str(profiles_dir) if profiles_dir else None)
    profile = _read_profiles(profiles).get(profile_name)
    if not isinstance(profile, dict):
        raise ConfigError(f"profile {profile_name!r} (named in {project_file}) is not in {profiles / 'profiles.yml'}")
    outputs = profile.get("outputs") or {}
    if target and target not in outputs:
        close = get_close_matches(target, list(outputs), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        available = ", ".join(sorted(outputs)) or "no targets"
        raise ConfigError(f"unknown target {target!r}: profile {profile_name!r} has {available}.{hint}")
    model_paths = tuple(config.get("model-paths") or config.get("source-paths") or ["models"])
    return Project(
        project_dir=directory,
        profiles_dir=profiles,
        name=name,
        profile_name=profile_name,
        target=target,
        model_paths=model_paths,
        config=config,
    )

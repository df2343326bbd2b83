"""The gen_model dbt package: the generic tests and the runtime generated models rely on.

A generated model's YAML uses `gen_model.unique_combination_of_columns` and friends (or
dbt_utils' tests of the same name, in a project that has dbt_utils and not gen_model:
generator.project.dbt_utils), and a compiled enrichment model loads the versioned runtime
(`python/gen_model_runtime_v<N>.py`), which only this package has. So a project must have
the package (or dbt_utils, for SQL models) before anything is written into it. `gen-model init`
vendors it into the project (`vendor/gen_model/`, committed, reviewable, no network) and
adds a `local:` entry to packages.yml, then runs `dbt deps`.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from ruamel.yaml import YAML

from generator import __version__
from generator.errors import ConfigError
from generator.project import Project, dbt
from generator.write.transaction import atomic_write

PACKAGE_NAME = "gen_model"
VENDOR_DIR = Path("vendor") / PACKAGE_NAME
# What the package ships: the generic tests, and the enrichment runtime compiled models load
# (every version: a model compiled for an older runtime keeps loading it).
PACKAGE_FOLDERS = ("macros", "python")

VENDORED_PROJECT = f"""\
# Vendored by `gen-model init` (gen-model {__version__}): the generic tests and the
# enrichment runtime (python/) that generated models use. Refresh with
# `gen-model init --upgrade`; edits here are overwritten then.
name: {PACKAGE_NAME}
version: "{__version__}"
config-version: 2
macro-paths: ["macros"]
"""


def package_source() -> Path:
    """Where this installation keeps the package's macros and runtime (a wheel, or the repository)."""
    package = Path(__file__).resolve().parents[1]  # generator/, where the wheel puts _dbt_package
    for candidate in (package / "_dbt_package", package.parent):
        if (candidate / "macros" / "generic_tests").is_dir() and (candidate / "python").is_dir():
            return candidate
    raise ConfigError("this gen-model installation has no dbt package (macros/generic_tests and python/); reinstall it")


def has_package(manifest) -> bool:
    """True if the project (or one of its packages) defines gen_model's generic tests."""
    return any(key.startswith(f"macro.{PACKAGE_NAME}.test_") for key in manifest.macros)


def _run_init(project_dir: Path) -> str:
    return (
        f"Run `gen-model init --project-dir {project_dir}` once: it vendors the package into "
        f"{VENDOR_DIR.as_posix()}/ and adds it to packages.yml (no network needed)."
    )


def missing_package_error(project: Project) -> ConfigError:
    """The error for a project whose generated tests need gen_model's, which it does not install."""
    return ConfigError(
        f"the dbt project at {project.project_dir} does not install the {PACKAGE_NAME} dbt package, "
        "whose generic tests (unique_combination_of_columns, accepted_range, ...) generated models use. "
        + _run_init(project.project_dir)
    )


def runtime_installed(project_dir: Path) -> bool:
    """Whether a compiled enrichment model finds its runtime in `project_dir`, where it looks
    (generator.enrich.emit.RUNTIME_DIRS: the package itself, installed by dbt deps, or vendored)."""
    from generator.enrich.emit import RUNTIME_DIRS, RUNTIME_MODULE

    return any((project_dir / folder / f"{RUNTIME_MODULE}.py").is_file() for folder in RUNTIME_DIRS)


def require_runtime(project_dir: Path) -> None:
    """Raise the missing-package error if enrichment models compiled into the dbt project at
    `project_dir` would not find the runtime they load (`dbt build` would fail on each). A
    folder without dbt_project.yml builds nothing, so it needs nothing."""
    if runtime_installed(project_dir) or not (project_dir / "dbt_project.yml").is_file():
        return
    from generator.enrich.emit import RUNTIME_MODULE

    # dbt_utils, which stands in for gen_model's tests (generator.project.dbt_utils), has no runtime.
    raise ConfigError(
        f"the dbt project at {project_dir} does not install the {PACKAGE_NAME} dbt package, whose "
        f"runtime (python/{RUNTIME_MODULE}.py) every compiled enrichment model loads: dbt build would fail "
        f"on them. {_run_init(project_dir)} If packages.yml lists {PACKAGE_NAME} already, run `dbt deps`."
    )


def _packages_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _add_local_package(path: Path, local: str) -> str | None:
    """packages.yml with a `- local:` entry for the package; None if it is there already."""
    yaml = _packages_yaml()
    document = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    if document is None:
        document = {"packages": []}
    packages = document.setdefault("packages", [])
    if any(isinstance(item, dict) and str(item.get("local", "")).rstrip("/") == local for item in packages):
        return None
    packages.append({"local": local})
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def init_project(project: Project, upgrade: bool = False) -> list[str]:
    """Vendor the package into `project`, register it, run `dbt deps`; return what changed."""
    if project.name == PACKAGE_NAME:
        return []
    changed = []
    target = project.project_dir / VENDOR_DIR
    if upgrade or not target.exists():
        source = package_source()
        if target.exists():
            shutil.rmtree(target)
        for folder in PACKAGE_FOLDERS:
            shutil.copytree(source / folder, target / folder, ignore=shutil.ignore_patterns("__pycache__"))
        atomic_write(target / "dbt_project.yml", VENDORED_PROJECT)
        changed.append(f"{VENDOR_DIR.as_posix()}/")
    packages_file = project.project_dir / "packages.yml"
    if not packages_file.exists() and (project.project_dir / "dependencies.yml").exists():
        packages_file = project.project_dir / "dependencies.yml"
    updated = _add_local_package(packages_file, VENDOR_DIR.as_posix())
    if updated is not None:
        atomic_write(packages_file, updated)
        changed.append(packages_file.name)
    # dbt deps writes package-lock.yml (to commit) and installs into dbt_packages/ (not).
    lock_file = project.project_dir / "package-lock.yml"
    lock_before = lock_file.read_bytes() if lock_file.is_file() else None
    outcome = dbt.invoke(project, ["deps"])
    if not outcome.success:
        raise ConfigError("dbt deps failed:\n" + "\n".join(outcome.errors))
    if lock_file.is_file() and lock_file.read_bytes() != lock_before:
        changed.append(lock_file.name)
    return changed

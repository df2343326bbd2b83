"""Shared pytest fixtures.

Building a dbt project costs seconds, so every project fixture comes in two parts: a
session-scoped build (once per session; with pytest-xdist, once per worker) and a
function-scoped private copy of it for tests that write. Copying a built project costs
milliseconds.

  sample_project_built  session   this repo's dbt project + sample data (scale 1), built
                                  with `dbt build`. Treat it as read-only.
  sample_project        function  a private copy of sample_project_built (warehouse included)
  shop_project_built    session   a copy of ../shared/corpora/shop_project, a project we did
                                  not write, built with `dbt build` (seeds + models + tests)
  shop_project          function  a private copy of shop_project_built

Every test runs with the environment scrubbed of settings that would point dbt or the
sample data generator at a developer's own warehouse (see `_hermetic_environment`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI checks the repository out beside the shared corpora: <root>/../shared. A worktree that
# lives elsewhere can point GEN_MODEL_SHARED_DIR at its copy.
SHARED_DIR = Path(os.environ.get("GEN_MODEL_SHARED_DIR") or Path(__file__).parents[1].parent / "shared")
SHOP_PROJECT = SHARED_DIR / "corpora" / "shop_project"


def missing_shared(what: str) -> None:
    """Skip a test whose shared corpus is absent; in CI (CI=true) fail instead, since CI
    always has ../shared and a silent skip there would hide a broken checkout."""
    message = f"{what} is not at {SHARED_DIR} (CI has it at ../shared; set GEN_MODEL_SHARED_DIR to use another copy)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


# What a copy of the sample dbt project needs. Add a path here when the project grows one
# (a packages.yml, an enrichment spec folder...); build output and the venv stay behind.
DBT_PROJECT_PATHS = (
    "dbt_project.yml",
    "gen_model.lock",
    "packages.yml",
    "dependencies.yml",
    "selectors.yml",
    "models",
    "macros",
    "python",
    "seeds",
    "snapshots",
    "analyses",
    "data_tests",
)
LEFT_BEHIND = shutil.ignore_patterns(
    "__pycache__",
    "*.pyc",
    "target",
    "logs",
    "dbt_packages",
    "*.duckdb",
    "*.duckdb.wal",
    ".user.yml",
)
SAMPLE_SCALE = 1.0

# Settings that would make a test read or write a developer's files instead of its own.
_LEAKY_VARIABLES = (
    "GEN_MODEL_DUCKDB_PATH",
    "GEN_MODEL_RAW_PATH",
    "GEN_MODEL_DBT_WORKER",  # would send every apply in the suite through a worker process
    "DBT_PROFILES_DIR",
    "DBT_PROJECT_DIR",
    "DBT_TARGET_PATH",
    "DBT_LOG_PATH",
)


@pytest.fixture(scope="session", autouse=True)
def _hermetic_environment():
    """Scrub variables that redirect dbt or the generator, and keep dbt off the network."""
    with pytest.MonkeyPatch.context() as patch:
        for name in _LEAKY_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("DO_NOT_TRACK", "1")
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        patch.setenv("DBT_VERSION_CHECK", "false")
        yield


def copy_dbt_project(source: Path, target: Path) -> Path:
    """Copy the sample project's dbt files into `target`, with profiles.yml from the example."""
    target.mkdir(parents=True, exist_ok=True)
    for name in DBT_PROJECT_PATHS:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, target / name, ignore=LEFT_BEHIND)
        elif path.is_file():
            shutil.copy2(path, target / name)
    shutil.copy2(source / "profiles.yml.example", target / "profiles.yml")
    return target


def copy_project(source: Path, target: Path) -> Path:
    """A private copy of a (built) project directory, warehouse and target/ included."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.duckdb.wal"))
    return target


def dbt_build(project_dir: Path):
    """`dbt build` in-process; fail the calling test with dbt's own messages if it is red."""
    from generator.project import load_project
    from generator.project.dbt import invoke
    from sample_data.demo import summarize

    outcome = invoke(load_project(project_dir), ["build"])
    if not outcome.success:
        detail = "\n".join(outcome.errors)
        pytest.fail(f"dbt build of {project_dir} failed:\n{summarize(outcome, 0.0)}\n{detail}")
    if not outcome.nodes:
        pytest.fail(
            f"dbt build of {project_dir} ran nothing: no model, seed or test is enabled "
            "(check the +enabled settings in its dbt_project.yml)"
        )
    return outcome


@pytest.fixture(scope="session")
def sample_project_built(tmp_path_factory) -> Path:
    """The sample dbt project with scale-1 data, built once per session (per xdist worker).

    The directory holds dbt_project.yml, profiles.yml, models/, macros/, seeds/, the raw
    files under data/raw/ and warehouse.duckdb (raw schemas + every model). Read-only: a
    test that writes takes `sample_project` instead.
    """
    from sample_data import generate

    root = copy_dbt_project(REPO_ROOT, tmp_path_factory.mktemp("sample_project_built") / "project")
    generate(scale=SAMPLE_SCALE, raw_dir=root / "data" / "raw", warehouse=root / "warehouse.duckdb")
    dbt_build(root)
    return root


@pytest.fixture
def sample_project(sample_project_built: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the built sample project."""
    return copy_project(sample_project_built, tmp_path / "sample_project")


@pytest.fixture(scope="session")
def shop_project_built(tmp_path_factory) -> Path:
    """The shared shop project (not ours) copied and built with `dbt build`, once per session."""
    if not (SHOP_PROJECT / "dbt_project.yml").is_file():
        missing_shared("the shared shop project")
    root = tmp_path_factory.mktemp("shop_project_built") / "project"
    shutil.copytree(SHOP_PROJECT, root, ignore=LEFT_BEHIND)
    # /work/shared is read-only: the copy must be writable for dbt's target/ and warehouse.
    for path in (root, *root.rglob("*")):
        path.chmod(path.stat().st_mode | 0o200)
    dbt_build(root)
    return root


@pytest.fixture
def shop_project(shop_project_built: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the built shop project."""
    return copy_project(shop_project_built, tmp_path / "shop_project")


@pytest.fixture
def locked_sample_project(sample_project: Path) -> Path:
    """sample_project, whose copy includes the repository's gen_model.lock (kept as a name
    that says so in tests about the lockfile)."""
    assert (sample_project / "gen_model.lock").is_file()
    return sample_project


# ---- test derivation, the hollow-test gate, unit tests, mutation -------------------------


@pytest.fixture(scope="session")
def sample_catalog(sample_project_built: Path, tmp_path_factory):
    """The built sample project's catalog, from a private copy (dbt parse writes target/)."""
    from generator.project import load_project
    from generator.project.catalog_builder import build_catalog

    root = copy_project(sample_project_built, tmp_path_factory.mktemp("sample_catalog") / "project")
    return build_catalog(load_project(root))


@pytest.fixture
def gate_proposal(sample_catalog):
    """A function: a proposal (dict, file or Proposal) -> its GateContext after every gate
    passed, with the sandbox still open (closed at teardown)."""
    import contextlib

    from generator.project.sandbox import open_sandbox
    from generator.proposal import Proposal, load_proposal, validate_proposal
    from generator.run.accept import check
    from generator.run.options import Options

    stack = contextlib.ExitStack()

    def run(proposal):
        if isinstance(proposal, (str, Path)):
            proposal = load_proposal(proposal)
        elif not isinstance(proposal, Proposal):
            proposal = validate_proposal(proposal)
        sandbox = stack.enter_context(open_sandbox(sample_catalog, 60))
        ctx = check(sample_catalog, proposal, sandbox, Options())
        assert ctx.report.passed, ctx.report.format()
        return ctx

    yield run
    stack.close()


@pytest.fixture(scope="session")
def shop_project_initialised(shop_project_built: Path, tmp_path_factory) -> Path:
    """The built shop project after `gen-model init` (the package's tests vendored)."""
    from generator.project import load_project
    from generator.write.package import init_project

    root = copy_project(shop_project_built, tmp_path_factory.mktemp("shop_initialised") / "project")
    init_project(load_project(root))
    return root


@pytest.fixture
def shop_project_with_package(shop_project_initialised: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the initialised shop project."""
    return copy_project(shop_project_initialised, tmp_path / "shop_project")

"""A copy of the shared shop project on profiles.yml.example's `spark` target, for the
Spark test modules (each builds its own copy once, in its one JVM)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, SHOP_PROJECT, missing_shared


def spark_profile(profile_name: str, schema: str) -> dict:
    """profiles.yml.example's `spark` target under the project's profile name, in `schema`."""
    example = yaml.safe_load((REPO_ROOT / "profiles.yml.example").read_text())
    target = dict(example["gen_model"]["outputs"]["spark"], schema=schema)
    return {profile_name: {"target": "spark", "outputs": {"spark": target}}}


def shop_copy_on_spark(tmp_path_factory, name: str, schema: str) -> Path:
    """A writable copy of shop_project whose profile is the Spark target (not built yet)."""
    if shutil.which("java") is None:
        pytest.fail("no JDK on PATH: Spark needs one (.ci/run installs openjdk-17-jre-headless from apt)")
    if not (SHOP_PROJECT / "dbt_project.yml").is_file():
        missing_shared("the shared shop project")
    root = tmp_path_factory.mktemp(name) / "project"
    shutil.copytree(SHOP_PROJECT, root)
    for path in (root, *root.rglob("*")):
        path.chmod(path.stat().st_mode | 0o200)
    (root / "profiles.yml").write_text(yaml.safe_dump(spark_profile("shop", schema)))
    return root

"""The committed lock (requirements/dev.txt) matches what pyproject.toml asks for."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.lockcheck import ROOT, bootstrap_problems, main, problems

PYPROJECT = ROOT / "pyproject.toml"
TOOLS_IN = ROOT / "requirements" / "tools.in"
LOCK = ROOT / "requirements" / "dev.txt"


def test_the_committed_lock_matches_pyproject():
    found = problems(PYPROJECT, TOOLS_IN, LOCK) + bootstrap_problems(LOCK.parent / "uv.txt", LOCK)
    assert not found, "requirements/dev.txt is stale; run `make lock` and commit it:\n" + "\n".join(found)


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path, Path]:
    for source in (PYPROJECT, TOOLS_IN, LOCK):
        shutil.copy(source, tmp_path / source.name)
    return tmp_path / "pyproject.toml", tmp_path / "tools.in", tmp_path / "dev.txt"


def test_a_new_dependency_makes_the_lock_stale(copies):
    pyproject, tools_in, lock = copies
    text = pyproject.read_text()
    pyproject.write_text(text.replace("dependencies = [\n", 'dependencies = [\n    "rich>=13",\n', 1))
    assert problems(pyproject, tools_in, lock) == ["rich>=13 is asked for but not pinned in dev.txt"]


def test_a_range_the_pin_falls_outside_makes_the_lock_stale(copies):
    pyproject, tools_in, lock = copies
    text = pyproject.read_text()
    pyproject.write_text(text.replace('"sqlglot>=30.30,<31"', '"sqlglot>=31"'))
    [problem] = problems(pyproject, tools_in, lock)
    assert problem.startswith("sqlglot>=31 is asked for but dev.txt pins sqlglot==30.")


def test_a_dropped_dependency_makes_the_lock_stale(copies):
    pyproject, tools_in, lock = copies
    pyproject.write_text(pyproject.read_text().replace('    "jsonschema>=4.20",\n', ""))
    assert problems(pyproject, tools_in, lock) == [
        "jsonschema is pinned for pyproject.toml, which no longer asks for it"
    ]


def test_a_new_tool_makes_the_lock_stale(copies):
    pyproject, tools_in, lock = copies
    tools_in.write_text(tools_in.read_text() + "pip-audit\n")
    assert problems(pyproject, tools_in, lock) == ["pip-audit is asked for but not pinned in dev.txt"]


def test_the_command_says_what_to_do(monkeypatch, capsys, copies):
    pyproject, tools_in, lock = copies
    pyproject.write_text(pyproject.read_text().replace("dependencies = [\n", 'dependencies = [\n    "rich>=13",\n', 1))
    monkeypatch.setattr("tools.lockcheck.ROOT", pyproject.parent)
    (pyproject.parent / "requirements").mkdir()
    shutil.move(tools_in, pyproject.parent / "requirements" / "tools.in")
    shutil.move(lock, pyproject.parent / "requirements" / "dev.txt")
    shutil.copy(ROOT / "requirements" / "uv.txt", pyproject.parent / "requirements" / "uv.txt")
    assert main() == 1
    err = capsys.readouterr().err
    assert "requirements/dev.txt is stale" in err
    assert "rich>=13 is asked for but not pinned" in err
    assert "Run `make lock`" in err


def test_the_bootstrap_uv_must_be_the_locked_uv(tmp_path):
    uv_lock = tmp_path / "uv.txt"
    uv_lock.write_text("uv==0.0.1 \\\n    --hash=sha256:00\n")
    [problem] = bootstrap_problems(uv_lock, LOCK)
    assert problem.startswith("uv.txt pins uv==0.0.1 but dev.txt pins uv==")

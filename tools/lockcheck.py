"""Is requirements/dev.txt still a lock of what pyproject.toml asks for?

`python tools/lockcheck.py` exits 1 naming each mismatch and saying to run `make lock`;
`tests/test_lock.py` runs the same check, so a stale lock fails the test suite. The check
reads the package's dependencies, its `dev` and `spark` extras and requirements/tools.in, and asks of
each: does the lock pin it, at a version inside the range? And of each package the lock
says it pinned for pyproject.toml: is it still asked for? It resolves nothing and needs no
network; `packaging` (locked, installed with the build backend) does the version maths.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")
VIA_PYPROJECT = "gen-model (pyproject.toml)"
LOCKED_EXTRAS = ("dev", "spark")  # the extras `make lock` resolves into dev.txt


def asked_for(pyproject: Path, tools_in: Path) -> list[Requirement]:
    """The direct requirements: the package's, its locked extras' and the repository tools'."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    lines = [*project.get("dependencies", [])]
    for extra in LOCKED_EXTRAS:
        lines += extras.get(extra, [])
    for line in tools_in.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return [Requirement(line) for line in lines]


def pinned(lock: Path) -> tuple[dict[str, list[tuple[Version, Marker | None]]], set[str]]:
    """Pins by canonical name (several where markers split them), and the names pinned for pyproject.toml."""
    pins: dict[str, list[tuple[Version, Marker | None]]] = {}
    for_pyproject: set[str] = set()
    current = ""
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match["name"])
            marker = Marker(match["marker"]) if match["marker"] else None
            pins.setdefault(current, []).append((Version(match["version"]), marker))
        elif current and VIA_PYPROJECT in line:
            for_pyproject.add(current)
    return pins, for_pyproject


def problems(pyproject: Path, tools_in: Path, lock: Path) -> list[str]:
    """Every way the lock no longer matches what pyproject.toml and tools.in ask for."""
    if not lock.is_file():
        return [f"{lock} is missing"]
    pins, for_pyproject = pinned(lock)
    found: list[str] = []
    direct = set()
    for requirement in asked_for(pyproject, tools_in):
        name = canonicalize_name(requirement.name)
        direct.add(name)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        versions = [version for version, marker in pins.get(name, []) if marker is None or marker.evaluate()]
        if not versions:
            found.append(f"{requirement} is asked for but not pinned in {lock.name}")
        elif not any(requirement.specifier.contains(version, prereleases=True) for version in versions):
            shown = ", ".join(str(version) for version in versions)
            found.append(f"{requirement} is asked for but {lock.name} pins {requirement.name}=={shown}")
    for name in sorted(for_pyproject - direct):
        found.append(f"{name} is pinned for pyproject.toml, which no longer asks for it")
    return found


def bootstrap_problems(uv_lock: Path, lock: Path) -> list[str]:
    """requirements/uv.txt (installed with pip before uv exists) must pin the lock's uv."""
    if not uv_lock.is_file():
        return [f"{uv_lock} is missing"]
    wanted = {str(version) for version, _ in pinned(lock)[0].get("uv", [])}
    got = {str(version) for version, _ in pinned(uv_lock)[0].get("uv", [])}
    if got != wanted:
        shown_got, shown_wanted = ", ".join(sorted(got)) or "(nothing)", ", ".join(sorted(wanted))
        return [f"{uv_lock.name} pins uv=={shown_got} but {lock.name} pins uv=={shown_wanted}"]
    return []


def main() -> int:
    lock = ROOT / "requirements" / "dev.txt"
    found = problems(ROOT / "pyproject.toml", ROOT / "requirements" / "tools.in", lock)
    found += bootstrap_problems(ROOT / "requirements" / "uv.txt", lock)
    if not found:
        return 0
    print(f"error: {lock.relative_to(ROOT)} is stale:", file=sys.stderr)
    for problem in found:
        print(f"  - {problem}", file=sys.stderr)
    print("Run `make lock` to re-resolve it, then commit requirements/.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

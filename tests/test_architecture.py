"""The package's structure stays as designed: no import cycles, no private names across modules.

Imports inside functions count too: they only postpone a cycle to run time, they do not
remove it. `from generator.pkg import submodule` depends on that submodule (and on the
package's `__init__`, which Python runs first, only when it is the importer's own package
that is meant).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "generator"


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_dbt_package" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(known: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the generator modules it imports, anywhere in its body."""
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in known}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(known)
                graph[name] |= submodules
                if len(submodules) < len(node.names) and node.module in known:
                    graph[name].add(node.module)
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    found = cycles(imports(modules()))
    assert not found, "import cycles (function-level imports included): " + "; ".join(" <-> ".join(c) for c in found)


# The SQL-analysis library answers questions about SQL; the stages that use it (rules,
# derived tests, writing, the LLM, CI, the pipeline) sit above it, never below.
SQL_MAY_NOT_IMPORT = ("gates", "testgen", "run", "write", "llm", "ci")


def test_the_sql_library_imports_no_stage_above_it():
    graph = imports(modules())
    forbidden = tuple(f"generator.{package}" for package in SQL_MAY_NOT_IMPORT)
    offenders = [
        f"{module} imports {imported}"
        for module, imported_modules in sorted(graph.items())
        if module == "generator.sql" or module.startswith("generator.sql.")
        for imported in sorted(imported_modules)
        if imported in forbidden or imported.startswith(tuple(f"{f}." for f in forbidden))
    ]
    assert not offenders, "generator.sql depends on a stage above it: " + "; ".join(offenders)


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for root in (PACKAGE, PACKAGE.parent / "tests", PACKAGE.parent / "benchmarks"):
        for path in sorted(root.rglob("*.py")):
            if "integration_project" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("generator"):
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {alias.name}")
    assert not offenders, "private names imported across modules: " + ", ".join(offenders)


def test_every_function_above_the_complexity_limit_says_why():
    # ruff's C901 (pyproject.toml) fails above the limit; a `noqa` must carry its reason.
    bare = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"noqa: C901(?! - \S)", line):
                bare.append(f"{path.relative_to(PACKAGE.parent)}:{number}")
    assert not bare, "complexity exceptions without a reason: " + ", ".join(bare)


def test_the_public_api_is_importable_from_the_package():
    import generator

    for name in generator.__all__:
        assert getattr(generator, name) is not None, name

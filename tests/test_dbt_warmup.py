"""dbt's first-use work done in the background (generator.project.dbt_warmup).

The warm-up must cover what dbt validates when it parses a generated model (else it saves
nothing, silently), and it must never change what is written nor hide an error.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from generator import Options, apply
from generator.errors import GateError
from generator.project import dbt_warmup, load_project

pytestmark = pytest.mark.dbt

REPO = Path(__file__).resolve().parents[1]
ACCOUNT_MRR = REPO / "examples" / "proposals" / "account_mrr.yml"
# its version 2 (a series that never starts past its stop), applied after it
ACCOUNT_MRR_V2 = REPO / "examples" / "proposals" / "account_mrr_v2.yml"


def run_fresh(tmp_path: Path, name: str, script: str, project: Path, *args: str) -> tuple[dict, str]:
    """`script` run in a fresh interpreter in `project` (argv: the project, then `args`): the
    JSON its last line prints, and its whole output. A test process has built dbt's caches."""
    path = tmp_path / name
    path.write_text(script)
    completed = subprocess.run(
        [sys.executable, str(path), str(project), *args], capture_output=True, text=True, cwd=project
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stdout


def test_every_warmed_name_is_a_dbt_class_with_a_json_schema():
    # A dbt release that renames or moves one of them fails here, not silently at run time.
    for module, name in dbt_warmup.VALIDATED_BY_NEW_FILES:
        cls = getattr(importlib.import_module(module), name)
        assert callable(cls.json_schema), f"{module}.{name}"
    importlib.import_module(dbt_warmup.DBT_LOADED)


# Run in a fresh interpreter: a pytest worker may have built dbt's schemas already.
COVERAGE_SCRIPT = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path
    from dbt_common.dataclass_schema import dbtClassMixin
    from generator.project import dbt, dbt_warmup, load_project

    project_dir, aside = Path(sys.argv[1]), Path(sys.argv[2])
    project = load_project(project_dir)
    dbt.parse(project, cached=False)  # what apply's catalog parses: the model is not there yet
    misses = dbtClassMixin.__dict__["json_schema"].__func__.cache_info
    warmup = dbt_warmup.start()
    warmup.wait()
    before = misses().misses
    for path in aside.iterdir():
        shutil.move(str(path), project_dir / "models" / "marts" / path.name)
    outcome = dbt.invoke(project, ["parse", "--no-write-json"])
    print(json.dumps({"parsed": outcome.success, "error": repr(warmup.error), "warmed": warmup.warmed,
                      "new_schemas": misses().misses - before}))
    """
)


def test_the_warmup_covers_what_parsing_a_generated_model_validates(sample_project, tmp_path):
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in (sample_project / "models" / "marts").glob("account_mrr*"):
        path.rename(aside / path.name)
    result, output = run_fresh(tmp_path, "coverage.py", COVERAGE_SCRIPT, sample_project, str(aside))
    assert result["parsed"], output
    assert result["error"] == "None"
    # Every module was loaded by the parse before (the warm-up imports none itself).
    assert result["warmed"] == len(dbt_warmup.VALIDATED_BY_NEW_FILES)
    # Every schema dbt needed for the new model, its tests and its unit test was built already.
    assert result["new_schemas"] == 0, "dbt validated a class the warm-up does not build: add it"


def test_a_warmup_that_fails_is_recorded_and_never_raised(monkeypatch):
    monkeypatch.setattr(dbt_warmup, "DBT_LOADED", "json")  # as if dbt were loaded

    def broken() -> int:
        raise AttributeError("module 'dbt.contracts.graph.nodes' has no attribute 'ModelNode'")

    warmup = dbt_warmup.start(broken)
    warmup.wait()
    assert isinstance(warmup.error, AttributeError)
    warmup.wait()  # twice is fine


def test_no_warmup_without_dbt_loaded(monkeypatch):
    monkeypatch.setattr(dbt_warmup, "DBT_LOADED", "no.such.module")
    started = threading.Event()
    warmup = dbt_warmup.start(lambda: started.set() or 0)
    warmup.wait()
    assert warmup.thread is None and not started.is_set()


def test_a_broken_warmup_writes_the_same_files(sample_project, monkeypatch):
    """Apply with a warm-up that fails writes what the committed example holds, and builds it."""
    monkeypatch.setattr(dbt_warmup, "VALIDATED_BY_NEW_FILES", (("dbt.contracts.graph.nodes", "NoSuchNode"),))
    failures: list = []
    original = dbt_warmup.start

    def recording_start(work=dbt_warmup.warm_schemas):
        warmup = original(work)
        failures.append(warmup)
        return warmup

    monkeypatch.setattr(dbt_warmup, "start", recording_start)
    for path in (sample_project / "models").rglob("account_mrr*"):
        path.unlink()
    for proposal in (ACCOUNT_MRR, ACCOUNT_MRR_V2):
        report = apply(load_project(sample_project), proposal, Options())
        assert report.status == "written" and report.build["failed"] == 0
    assert [type(w.error) for w in failures] == [AttributeError, AttributeError]
    for path in ("models/marts/account_mrr_v1.sql", "models/marts/account_mrr_v2.sql", "models/marts/account_mrr.yml"):
        assert (sample_project / path).read_bytes() == (REPO / path).read_bytes(), path


def test_a_rejection_during_the_warmup_is_reported_as_it_was(sample_project, tmp_path, monkeypatch):
    release = threading.Event()

    def slow() -> int:
        release.wait(30)
        raise RuntimeError("warm-up failed too")

    original = dbt_warmup.start
    monkeypatch.setattr(dbt_warmup, "start", lambda work=None: original(slow))
    text = ACCOUNT_MRR.read_text().replace("monthly_amount", "monthly_amount_typo", 1)
    proposal = tmp_path / "account_mrr.yml"
    proposal.write_text(text)
    for path in (sample_project / "models").rglob("account_mrr*"):
        path.unlink()
    try:
        with pytest.raises(GateError) as raised:
            apply(load_project(sample_project), proposal, Options())
    finally:
        release.set()
    assert "rejected by the gates" in str(raised.value)
    assert not list((sample_project / "models").rglob("account_mrr*"))


# -- the worker's build warm-up (dbt_warmup.build_steps) ------------------------------------

# A fresh interpreter, as the worker is: the manifest of the project without the model, the
# templates a build of the model then compiles, with or without every warm-up step first.
BUILD_SCRIPT = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path
    from dbt_common.clients.jinja import TemplateCache
    from generator.project import dbt, dbt_warmup, load_project

    project_dir, aside, warm = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "warm"
    project = load_project(project_dir)
    manifest = dbt.parse(project, cached=False)
    first = [macro.unique_id for macro in dbt_warmup.build_macros(manifest)]
    everything = [macro.unique_id for macro in dbt_warmup.macros_by_priority(manifest)]
    steps = 0
    if warm:
        for step in dbt_warmup.build_steps(manifest):
            step()
            steps += 1
    compiled = []
    compile_template = TemplateCache.get_node_template

    def recording(self, node):
        if node.macro_sql not in self.file_cache:
            compiled.append(node.unique_id)
        return compile_template(self, node)

    TemplateCache.get_node_template = recording
    for path in aside.iterdir():
        shutil.move(str(path), project_dir / "models" / "marts" / path.name)
    outcome = dbt.build(project, ["account_mrr.v1"])
    print(json.dumps({"built": outcome.success, "errors": list(outcome.errors), "compiled": compiled,
                      "first": first, "everything": everything, "macros": sorted(manifest.macros),
                      "steps": steps}))
    """
)


def run_build_script(sample_project: Path, tmp_path: Path, mode: str) -> dict:
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in (sample_project / "models" / "marts").glob("account_mrr*"):
        path.rename(aside / path.name)
    result, _ = run_fresh(tmp_path, "build.py", BUILD_SCRIPT, sample_project, str(aside), mode)
    assert result["built"], result["errors"]
    return result


def test_the_build_macros_are_those_a_build_of_a_generated_model_runs(sample_project, tmp_path):
    """Warmed first, they are what the worker has ready when the gates end early: a build
    that runs a macro outside them (a dbt release that calls a new one by name, say) would
    compile it itself, and this test says which to add to CALLED_BY_NAME."""
    result = run_build_script(sample_project, tmp_path, "cold")
    assert result["compiled"], "the build compiled no template: the check would prove nothing"
    missed = [name for name in result["compiled"] if name not in result["first"]]
    assert missed == [], missed
    # Every macro is warmed in the end, each once: the first ones, then the rest.
    assert sorted(result["everything"]) == result["macros"]
    assert result["everything"][: len(result["first"])] == result["first"]


def test_after_every_warmup_step_the_build_compiles_no_template(sample_project, tmp_path):
    """The steps compile through dbt's own cache, keyed as the build asks: nothing is left."""
    result = run_build_script(sample_project, tmp_path, "warm")
    assert result["steps"] == 2 + len(result["everything"])
    assert result["compiled"] == []


STEPS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from dbt_common.clients.jinja import template_cache
    from generator.project import dbt, dbt_warmup, load_project

    project = load_project(Path(sys.argv[1]))
    manifest = dbt.parse(project, cached=False)
    steps = 0
    for step in dbt_warmup.build_steps(manifest):
        step()  # raises here if a step does not work on this project
        steps += 1
    print(json.dumps({"steps": steps, "macros": len(manifest.macros), "templates": len(template_cache.file_cache)}))
    """
)


def test_every_warmup_step_runs_on_a_project_we_did_not_write(shop_project, tmp_path):
    """shop_project installs dbt_utils as a local package and has its own macros and tests:
    a step that fails there would end the worker's warm-up early, silently (it only costs the
    build its time), so it is run here, each step, outside the worker's catch-all."""
    result, _ = run_fresh(tmp_path, "steps.py", STEPS_SCRIPT, shop_project)
    assert result["steps"] == 2 + result["macros"]
    assert result["templates"] > 0


def test_an_in_process_dbt_invocation_leaves_the_garbage_collector_as_it_found_it(sample_project, monkeypatch):
    """dbt.invoke freezes the heap while dbt runs (its collections then skip what this process
    held before) and unfreezes it after, also when dbt raises: a long-lived process (a test
    run, a notebook) frees those objects as before."""
    import gc

    from generator.project import dbt

    frozen: list[int] = []
    outcome = dbt.invoke(
        load_project(sample_project),
        ["parse", "--no-write-json"],
        listeners=(lambda event: frozen.append(gc.get_freeze_count()),),
    )
    assert outcome.success and max(frozen) > 0
    assert gc.get_freeze_count() == 0

    def broken(self, args):
        raise RuntimeError("dbt crashed")

    monkeypatch.setattr("dbt.cli.main.dbtRunner.invoke", broken)
    with pytest.raises(RuntimeError, match="dbt crashed"):
        dbt.invoke(load_project(sample_project), ["parse"])
    assert gc.get_freeze_count() == 0

"""The dbt worker process (generator.project.dbt_worker): same files, same outcome, same
messages as the in-process build; never left running; any trouble before the build means
the in-process build."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from generator import Options, apply
from generator.errors import BuildError, GateError
from generator.project import dbt, dbt_worker, load_project

REPO = Path(__file__).resolve().parents[1]
ACCOUNT_MRR = REPO / "examples" / "proposals" / "account_mrr.yml"


def without_account_mrr(project_dir: Path) -> Path:
    """The sample project without the example model, which apply then writes."""
    for path in (project_dir / "models").rglob("account_mrr*"):
        path.unlink()
    return project_dir


@pytest.fixture
def started(monkeypatch):
    """Every worker the run starts (the test then checks it ran the build and is gone)."""
    workers: list[dbt_worker.Worker] = []
    start = dbt_worker.start

    def recording(project):
        worker = start(project)
        workers.append(worker)
        return worker

    monkeypatch.setattr(dbt_worker, "start", recording)
    return workers


def copy_of(sample_project_built: Path, directory: Path) -> Path:
    import shutil

    return without_account_mrr(Path(shutil.copytree(sample_project_built, directory)))


def gone(worker: dbt_worker.Worker) -> bool:
    return worker.process.returncode is not None


# -- through apply (dbt is imported in this process, so the worker is forced) ----------------


@pytest.mark.dbt
def test_apply_through_the_worker_writes_and_builds_what_in_process_does(
    sample_project_built, tmp_path, monkeypatch, started
):
    monkeypatch.setenv(dbt_worker.ENV, "0")
    in_process = apply(load_project(copy_of(sample_project_built, tmp_path / "a")), ACCOUNT_MRR, Options())
    assert started == []
    monkeypatch.setenv(dbt_worker.ENV, "1")
    through_worker = apply(load_project(copy_of(sample_project_built, tmp_path / "b")), ACCOUNT_MRR, Options())
    assert len(started) == 1 and started[0].sent, "the build went through the worker"
    assert gone(started[0])
    assert through_worker.status == in_process.status == "written"
    assert through_worker.file_contents == in_process.file_contents
    # dbt runs the tests in threads: the order they finish in is not the build's.
    assert sorted(through_worker.build.pop("nodes"), key=str) == sorted(in_process.build.pop("nodes"), key=str)
    assert through_worker.build == in_process.build
    assert through_worker.build["failed"] == 0 and through_worker.build["passed"] >= 2


@pytest.mark.dbt
def test_a_failing_build_in_the_worker_says_what_dbt_said_and_rolls_back(
    sample_project_built, tmp_path, monkeypatch, started
):
    messages = []
    for mode, name in (("0", "a"), ("1", "b")):
        project_dir = copy_of(sample_project_built, tmp_path / name)
        project_file = project_dir / "dbt_project.yml"
        config = yaml.safe_load(project_file.read_text())
        config["models"]["gen_model"]["marts"]["+post-hook"] = "select * from table_that_does_not_exist"
        project_file.write_text(yaml.safe_dump(config, sort_keys=False))
        monkeypatch.setenv(dbt_worker.ENV, mode)
        with pytest.raises(BuildError) as raised:
            apply(load_project(project_dir), ACCOUNT_MRR, Options())
        assert "everything written was rolled back" in raised.value.message
        assert not list((project_dir / "models").rglob("account_mrr*"))
        # dbt runs the tests in threads: the order they finish in is not the build's.
        messages.append(sorted(problem.message for problem in raised.value.problems))
    assert len(started) == 1 and started[0].sent and gone(started[0])
    assert messages[0] == messages[1]
    assert any("table_that_does_not_exist" in message for message in messages[1])


@pytest.mark.dbt
def test_a_proposal_the_gates_reject_leaves_no_worker_behind(sample_project_built, tmp_path, monkeypatch, started):
    project_dir = copy_of(sample_project_built, tmp_path / "project")
    proposal = yaml.safe_load(ACCOUNT_MRR.read_text())
    proposal["sql"] = proposal["sql"].replace("monthly_amount", "monthly_amount_typo", 1)
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(proposal, sort_keys=False))
    monkeypatch.setenv(dbt_worker.ENV, "1")
    with pytest.raises(GateError):
        apply(load_project(project_dir), bad, Options())
    assert len(started) == 1 and not started[0].sent
    assert gone(started[0]), "the worker was ended with the run"


@pytest.mark.dbt
def test_a_dry_run_starts_no_worker(sample_project_built, tmp_path, monkeypatch, started):
    monkeypatch.setenv(dbt_worker.ENV, "1")
    report = apply(load_project(copy_of(sample_project_built, tmp_path / "p")), ACCOUNT_MRR, Options(dry_run=True))
    assert report.status == "dry-run" and started == []


@pytest.mark.dbt
def test_generate_builds_through_the_worker_and_ends_it_when_no_attempt_passes(
    sample_project_built, tmp_path, monkeypatch, started
):
    from generator import Request, generate
    from generator.llm.providers.scripted import ScriptedProvider

    proposal = yaml.safe_load(ACCOUNT_MRR.read_text())
    bad = dict(proposal, sql=proposal["sql"].replace("monthly_amount", "monthly_amount_typo", 1))
    monkeypatch.setenv(dbt_worker.ENV, "1")
    request = Request(text=proposal["request"], name="account_mrr", models=("m",), max_attempts=2)
    project = load_project(copy_of(sample_project_built, tmp_path / "a"))
    report = generate(project, request, Options(), provider=ScriptedProvider([bad, proposal]))
    assert [attempt.outcome for attempt in report.attempts] == ["rejected", "accepted"]
    assert report.status == "written" and report.build["failed"] == 0
    assert len(started) == 1 and started[0].sent and gone(started[0])
    project = load_project(copy_of(sample_project_built, tmp_path / "b"))
    with pytest.raises(GateError):
        generate(project, request, Options(), provider=ScriptedProvider([bad, bad]))
    assert len(started) == 2 and not started[1].sent and gone(started[1])


# -- a user's apply: a fresh process, catalog from cache, dbt never imported there ----------


@pytest.mark.dbt
def test_a_warm_apply_from_the_cli_builds_in_the_worker_without_importing_dbt(sample_project_built, tmp_path):
    project_dir = copy_of(sample_project_built, tmp_path / "project")
    # As after an earlier gen-model command: the catalog cache holds this project.
    from generator.project.catalog_builder import build_catalog

    build_catalog(load_project(project_dir), raw_files=())
    script = textwrap.dedent(
        """
        import json, sys
        from generator.cli import main
        from generator.project import dbt_worker

        # What this process had imported when the worker started: the gates' sqlglot and
        # DuckDB come after, beside the worker's import of dbt.
        start, at_start = dbt_worker.start, []
        def recording(project):
            at_start.extend(name for name in ("sqlglot", "duckdb", "generator.run.accept") if name in sys.modules)
            return start(project)
        dbt_worker.start = recording
        sys.argv = ["gen-model", "apply", sys.argv[1], "--project-dir", sys.argv[2], "--json"]
        try:
            main()
        finally:
            imported = sorted(name for name in ("dbt.cli.main", "dbt.adapters.duckdb") if name in sys.modules)
            print(json.dumps(at_start), file=sys.stderr)
            print(json.dumps(imported), file=sys.stderr)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(ACCOUNT_MRR), str(project_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    assert "catalog from cache" in completed.stderr
    assert completed.stderr.strip().splitlines()[-1] == "[]", "dbt was imported in the main process"
    assert completed.stderr.strip().splitlines()[-2] == "[]", "the worker started after the gates' imports"
    report = json.loads(completed.stdout)
    assert report["status"] == "written" and report["build"]["failed"] == 0


# -- the protocol, with stand-in workers -------------------------------------------------------


def stand_in(project, code: str) -> dbt_worker.Worker:
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return dbt_worker.Worker(project, process)


@pytest.fixture
def in_process(monkeypatch):
    """dbt.build stood in for: the fallback's calls are recorded."""
    calls = []

    def build(project, select):
        calls.append(select)
        return dbt.DbtOutcome(success=True, nodes=(), errors=(), warnings=())

    monkeypatch.setattr(dbt, "build", build)
    return calls


@pytest.mark.parametrize(
    "code",
    [
        "import sys; sys.exit(3)",  # died while starting
        'print(\'{"ready": false, "error": "dbt parse failed"}\', flush=True)',  # its parse failed
        "print('not json', flush=True)",
    ],
)
def test_a_worker_not_ready_for_the_build_means_the_in_process_build(sample_project_built, in_process, code):
    worker = stand_in(load_project(sample_project_built), code)
    outcome = worker.build(worker.project, ["m.v1"])
    assert outcome.success and in_process == [["m.v1"]]
    assert gone(worker)


def test_a_worker_that_dies_during_the_build_is_a_failed_build(sample_project_built, in_process):
    code = "import sys; print('{\"ready\": true}', flush=True); sys.stdin.readline(); sys.exit(4)"
    worker = stand_in(load_project(sample_project_built), code)
    outcome = worker.build(worker.project, ["m.v1"])
    assert not outcome.success and in_process == []
    assert outcome.failure_messages() == ["the dbt worker stopped (exit code 4)"]
    assert gone(worker)


def test_the_outcome_crosses_the_process_boundary_unchanged():
    outcome = dbt.DbtOutcome(
        success=False,
        nodes=(dbt.NodeResult("model.p.m.v1", "m", "model", "error", "boom", None, None, 0.5),),
        errors=("Database Error in model m",),
        warnings=("a warning",),
    )
    back = dbt_worker.outcome_from_dict(json.loads(json.dumps(dbt_worker.outcome_to_dict(outcome))))
    assert back == outcome
    assert back.failure_messages() == outcome.failure_messages()


def test_the_worker_is_used_only_where_dbt_is_not_imported_unless_told(monkeypatch):
    monkeypatch.delenv(dbt_worker.ENV, raising=False)
    monkeypatch.setitem(sys.modules, dbt_worker.DBT_IMPORTED, sys)
    assert not dbt_worker.wanted()
    monkeypatch.delitem(sys.modules, dbt_worker.DBT_IMPORTED)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert dbt_worker.wanted()
    assert not dbt_worker.wanted(parses_here=True), "the catalog's parse will import dbt here"
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert not dbt_worker.wanted(), "one core: nothing runs beside the gates"
    monkeypatch.setenv(dbt_worker.ENV, "0")
    assert not dbt_worker.wanted()
    monkeypatch.setenv(dbt_worker.ENV, "1")
    monkeypatch.setitem(sys.modules, dbt_worker.DBT_IMPORTED, sys)
    assert dbt_worker.wanted()


# -- the wait for the build: warm while idle, stop when the command comes ---------------------


def test_warming_while_idle_stops_as_soon_as_a_command_is_waiting(monkeypatch):
    import os

    read_end, write_end = os.pipe()
    ran: list[int] = []

    def steps(manifest):
        for index in range(10):

            def step(index=index):
                ran.append(index)
                if index == 2:
                    os.write(write_end, b'{"command": "build", "select": []}\n')

            yield step

    monkeypatch.setattr("generator.project.dbt_warmup.build_steps", steps)
    with os.fdopen(read_end) as commands:
        assert dbt_worker.warm_while_idle(object(), commands) == 3
        assert ran == [0, 1, 2]
        assert json.loads(commands.readline())["command"] == "build"  # left for serve to read
    os.close(write_end)


def test_a_failing_warmup_step_is_skipped_and_the_others_run(monkeypatch):
    import os

    ran: list[str] = []

    def steps(manifest):
        yield lambda: ran.append("first")
        yield lambda: 1 / 0
        yield lambda: ran.append("after the failure")

    monkeypatch.setattr("generator.project.dbt_warmup.build_steps", steps)
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as commands:
        assert dbt_worker.warm_while_idle(object(), commands) == 2
    assert ran == ["first", "after the failure"]
    os.close(write_end)


def test_steps_that_cannot_be_listed_warm_nothing(monkeypatch):
    import os

    def steps(manifest):
        raise AttributeError("a dbt release moved something")
        yield  # (a generator)

    monkeypatch.setattr("generator.project.dbt_warmup.build_steps", steps)
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as commands:
        assert dbt_worker.warm_while_idle(object(), commands) == 0
    os.close(write_end)

"""A dbt worker process: dbt's import and warm-up paid beside the gates, the build run there.

On a warm catalog cache `apply` and `generate` need no dbt until the build that ends them,
and a fresh process then pays dbt's import (over a second), a partial parse of the unchanged
project and dbt's first-use work (`dbt_warmup`) before the build can start. Started as soon
as the run knows the catalog will come from the cache (`apply`: before it imports the gates;
`generate`: once the catalog is read), a worker process (`start`, `main`) does all that in
a second process while this one runs the gates and the unit-test row search (on two cores,
side by side), then warms the build's first-use work while it waits on stdin for one
command:

  main -> worker   {"command": "build", "select": [...]}   or end of input: exit
  worker -> main   {"ready": true}  (or {"ready": false, "error": "..."}), once it is warm
                   {"outcome": {...}}  the build's `DbtOutcome`, in plain JSON

What the user sees does not change: the worker runs `dbt.build` exactly as this process
would, and its outcome (nodes, dbt's own errors and warnings) becomes the same `DbtOutcome`.
The rules that keep it an implementation detail:
  * the worker is used only where dbt is not imported here, nor will be (`wanted()`);
    with dbt loaded, the in-process build is as warm and costs no second process;
  * anything wrong before the build is sent (the worker cannot start, its parse fails, it
    is not ready within READY_TIMEOUT_S, it died) means the in-process build, which reports
    what dbt reports as it always did;
  * once the build is sent, the worker's outcome is the build's; a worker that dies then
    is a failed build (rolled back by the caller's transaction, as any failed build);
  * anything that stops this process while the worker builds (Ctrl-C, SIGTERM, an error)
    kills the worker first, so no build outlives the rollback (DuckDB's file lock goes
    with the process);
  * `running()` ends the worker on every path out; the worker also exits when its stdin
    closes, so it never outlives this process once warm.
This process holds no DuckDB connection to the warehouse while the worker builds: the
catalog and the gates' sandbox close theirs before `finish` runs, and `release_duckdb` is
called before the build is sent for an adapter an earlier step may have loaded.

A worker killed while dbt writes its partial-parse state (target/partial_parse.msgpack)
leaves a file dbt discards on its next parse (it parses in full then): build output only,
never the project's files.

GEN_MODEL_DBT_WORKER=1 forces the worker (tests), =0 turns it off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

from generator.project import Project, dbt

ENV = "GEN_MODEL_DBT_WORKER"
# dbt's import and a partial parse take seconds; a worker not ready after this long is
# stuck (or starved), and the in-process build is the sure way on.
READY_TIMEOUT_S = 120.0
# How long a worker told to stop may take before it is killed.
STOP_TIMEOUT_S = 5.0
# Loaded once dbt's CLI runner was imported in this process.
DBT_IMPORTED = "dbt.cli.main"
# The worker's entry: argv is [source root, project]; the root replaces sys.path[0] (the cwd).
BOOT = (
    "import sys; sys.path[0] = sys.argv.pop(1); "
    "from generator.project.dbt_worker import main; sys.exit(main(sys.argv[1:]))"
)

Builder = Callable[[Project, list[str]], dbt.DbtOutcome]


def wanted(parses_here: bool = False) -> bool:
    """Whether a build should go through a worker: GEN_MODEL_DBT_WORKER, else when dbt is
    not imported in this process yet, nor will be before the build (`parses_here`: this
    process will parse the project for its catalog), and a second core can run the worker
    beside it."""
    setting = os.environ.get(ENV, "").strip()
    if setting in ("0", "1"):
        return setting == "1"
    # On one core the worker's import only competes with the gates, and its warm-up parse is
    # work the in-process build would not do.
    return not parses_here and DBT_IMPORTED not in sys.modules and (os.cpu_count() or 1) >= 2


class WorkerFailed(Exception):
    """The worker could not answer (not started, not ready, died, or said something else)."""


class Worker:
    """One worker process, started for `project`; `build` once, then `close`."""

    def __init__(self, project: Project, process: subprocess.Popen) -> None:
        self.project = project
        self.process = process
        self.sent = False

    def _read(self, timeout: float | None) -> dict:
        """The worker's next message; WorkerFailed if none comes (in `timeout` seconds)."""
        stream = self.process.stdout
        if timeout is not None:
            ready, _, _ = select.select([stream], [], [], timeout)
            if not ready:
                raise WorkerFailed(f"not ready in {timeout:.0f} s")
        line = stream.readline()
        if not line:
            raise WorkerFailed(f"the dbt worker stopped (exit code {self.process.wait()})")
        try:
            message = json.loads(line)
        except ValueError as error:
            raise WorkerFailed(f"the dbt worker said something unreadable: {line[:200]!r}") from error
        if not isinstance(message, dict):
            raise WorkerFailed(f"the dbt worker said something unreadable: {line[:200]!r}")
        return message

    def build(self, project: Project, select: list[str]) -> dbt.DbtOutcome:
        """`dbt.build(project, select)` in the worker; in this process if the worker is not
        ready for it. Whatever stops this call while the worker builds kills the worker."""
        if project != self.project or self.sent:
            return dbt.build(project, select)
        try:
            ready = self._read(READY_TIMEOUT_S)
            if not ready.get("ready"):
                raise WorkerFailed(str(ready.get("error") or "not ready"))
            dbt.release_duckdb()  # an adapter an earlier step loaded here must not hold the file
            self.process.stdin.write(json.dumps({"command": "build", "select": list(select)}) + "\n")
            self.process.stdin.flush()
            self.sent = True
        except (WorkerFailed, OSError, ValueError):
            self.close()
            return dbt.build(project, select)
        try:
            message = self._read(None)
        except WorkerFailed as error:
            return _failed(str(error))
        except BaseException:
            self.kill()  # no build may outlive the caller's rollback
            raise
        finally:
            self.close()
        if "outcome" not in message:
            return _failed(str(message.get("error") or "the dbt worker sent no outcome"))
        return outcome_from_dict(message["outcome"])

    def kill(self) -> None:
        """Stop the worker now and reap it."""
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(STOP_TIMEOUT_S)

    def close(self) -> None:
        """End the worker: its stdin closed (a waiting worker exits), else terminated, else killed."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.process.stdin.close()
            if not self.sent:
                # Still importing or parsing: nothing it does then is worth waiting for.
                with contextlib.suppress(OSError):
                    self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def _failed(message: str) -> dbt.DbtOutcome:
    return dbt.DbtOutcome(success=False, nodes=(), errors=(message,), warnings=())


def outcome_to_dict(outcome: dbt.DbtOutcome) -> dict:
    """A `DbtOutcome` as plain JSON (dbt's own result object stays in the worker)."""
    return {
        "success": outcome.success,
        "nodes": [asdict(node) for node in outcome.nodes],
        "errors": list(outcome.errors),
        "warnings": list(outcome.warnings),
    }


def outcome_from_dict(data: dict) -> dbt.DbtOutcome:
    """The `DbtOutcome` `outcome_to_dict` wrote."""
    return dbt.DbtOutcome(
        success=bool(data["success"]),
        nodes=tuple(dbt.NodeResult(**node) for node in data["nodes"]),
        errors=tuple(data["errors"]),
        warnings=tuple(data["warnings"]),
    )


def start(project: Project) -> Worker | None:
    """A worker process for `project`, warming up; None if it could not be started."""
    import generator

    # The worker imports this very gen-model (its source root first on sys.path), and
    # nothing from the working directory, which `-m` and `-c` would put there.
    root = str(Path(generator.__file__).resolve().parents[1])
    command = [
        sys.executable,
        "-c",
        BOOT,
        root,
        json.dumps([str(project.project_dir), str(project.profiles_dir), project.target]),
    ]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # dbt's own messages travel in the outcome; anything else it prints is not the user's.
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
    except OSError:
        return None
    return Worker(project, process)


@contextlib.contextmanager
def running(project: Project, enabled: bool = True, parses_here: bool = False) -> Iterator[Builder]:
    """The build function for this run: a warming worker's when `enabled` and
    `wanted(parses_here)`, else `dbt.build`. The worker is ended when the block is left,
    however it is left."""
    worker = start(project) if enabled and wanted(parses_here) else None
    if worker is None:
        yield dbt.build
        return
    try:
        yield worker.build
    finally:
        worker.close()


# -- the worker's side -----------------------------------------------------------------------


def warm_up(project: Project) -> tuple[dict, object]:
    """dbt imported, the unchanged project parsed (partial parse state loaded and saved),
    the JSON schemas of what the build's parse validates built: the ready message, and the
    parsed manifest (None if the parse failed)."""
    from generator.project import dbt_warmup

    outcome = dbt.invoke(project, ["parse", "--no-write-json"])
    if not outcome.success:
        return {"ready": False, "error": "\n".join(outcome.errors) or "dbt parse failed"}, None
    with contextlib.suppress(Exception):  # a failed warm-up only costs the build the time
        dbt_warmup.warm_schemas()
    return {"ready": True}, outcome.result


def _waiting(commands) -> bool:
    """Whether a command (or the end of input) is there to read, without blocking."""
    try:
        return bool(select.select([commands], [], [], 0)[0])
    except (OSError, ValueError):  # not a selectable stream: warm nothing, read at once
        return True


def warm_while_idle(manifest, commands) -> int:
    """The build's first-use work (`dbt_warmup.build_steps`), a step at a time, until a
    command is waiting on `commands` or there is nothing left: the worker is idle until the
    gates end, and a command that arrives waits one step at most. How many steps ran
    without error. A step that fails (a dbt release that changed what one step calls, a
    macro that does not compile) is skipped: it only costs the build the time it saved,
    and the build meets the same error itself if it needs the same thing."""
    from generator.project import dbt_warmup

    done = 0
    try:
        steps = dbt_warmup.build_steps(manifest)
        for step in steps:
            if _waiting(commands):
                break
            try:
                step()
            except Exception:  # noqa: BLE001, S112 - see above
                continue
            done += 1
    except Exception:  # noqa: BLE001 - listing the steps failed: nothing to warm
        pass
    return done


def serve(project: Project, commands, answers) -> int:
    """Warm up, say so on `answers`, warm the build while idle, then run the one command
    read from `commands`."""

    def say(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    try:
        ready, manifest = warm_up(project)
        say(ready)
    except Exception as error:  # noqa: BLE001 - reported: the main process builds in-process
        say({"ready": False, "error": f"{type(error).__name__}: {error}"})
        return 1
    if manifest is not None:
        warm_while_idle(manifest, commands)
        manifest = None  # (parsed again by the build, from the files written by then)
    line = commands.readline()
    if not line:
        return 0
    command = json.loads(line)
    if command.get("command") != "build":
        return 0
    try:
        outcome = dbt.build(project, list(command["select"]))
    except Exception as error:  # noqa: BLE001 - the main process turns it into a failed build
        say({"error": f"{type(error).__name__}: {error}"})
        return 1
    say({"outcome": outcome_to_dict(outcome)})
    return 0


def main(argv: list[str]) -> int:
    """The worker: `argv` is `['[project_dir, profiles_dir, target]']` (JSON); see `BOOT`."""
    from generator.project import load_project

    # The protocol has stdout to itself: anything printed (by dbt or a library) goes to stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    project_dir, profiles_dir, target = json.loads(argv[0])
    project = load_project(project_dir, profiles_dir, target)
    code = serve(project, sys.stdin, answers)
    # The outcome is sent and dbt closed its files and the warehouse: the interpreter's
    # teardown (dbt's modules, threads) is time the main process would spend waiting to
    # reap the worker. dbt's log file is flushed first.
    logging.shutdown()
    os._exit(code)


__all__ = [
    "DBT_IMPORTED",
    "ENV",
    "BOOT",
    "Builder",
    "Worker",
    "WorkerFailed",
    "outcome_from_dict",
    "outcome_to_dict",
    "running",
    "serve",
    "start",
    "wanted",
    "warm_up",
    "warm_while_idle",
]

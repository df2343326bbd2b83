"""Overhead of `gen-model apply` (no LLM) against a plain `dbt build --select` of the same model.

Both are measured side by side in one run, as a user runs them (fresh processes), on fresh
copies of the built sample project, alternating so machine noise hits both alike:

  harness `gen-model apply --no-unit-test PROPOSAL`: dbt parse + catalog + 8 gates (sandbox
          dry run) + derived data tests through the hollow-test gate + atomic write +
          in-process `dbt build --select <model>.v1` of what it wrote;
  apply   `gen-model apply PROPOSAL`: all that, plus the search for unit-test rows that tell
          the model's mutants apart (test generation's own cost, which a plain build does
          not pay);
  plain   `dbt build --select <model>.v1` of that same model, afterwards, in the same copy.

Prints the median wall time of each and its ratio against plain, plus an in-process
breakdown of where apply spends its time (dbt's import, the parse for the catalog, the gates
and the row search with dbt's warm-up thread beside them, the plan, dbt's parse of the new
files and the build). Every module either side imports is compiled to bytecode first, as
an installed package is, even where PYTHONDONTWRITEBYTECODE is set. The target is issue #16's: `gen-model apply`,
unit-test row search included, within 1.2x of the plain build; exit 1 if it misses it.

With `--baseline DIR` (another version's source tree, e.g. `git archive main | tar -x -C DIR`),
that version's `gen-model apply` is timed too, in the same loop on the same copies, so a
change is measured side by side with what it replaces.

    python benchmarks/apply_overhead.py [--runs 5] [--proposal examples/proposals/account_mrr.yml]
                                        [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_RATIO = 1.2  # apply (unit-test row search included) / plain dbt build
APPLY = "gen-model apply (no LLM)"
PROJECT_PATHS = ("dbt_project.yml", "models", "macros", "seeds", "python", "profiles.yml.example")


def build_template(directory: Path) -> None:
    """A built copy of the sample project (scale 1), without the example model under test."""
    directory.mkdir(parents=True)
    for name in PROJECT_PATHS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, directory / name)
        elif source.exists():
            shutil.copy2(source, directory / name)
    shutil.copy2(directory / "profiles.yml.example", directory / "profiles.yml")
    # The sample project's other generated models are recorded there; apply refuses to
    # rewrite a lock that lost their records.
    shutil.copy2(REPO / "gen_model.lock", directory / "gen_model.lock")
    run([sys.executable, "-m", "sample_data", "--scale", "1"], directory)
    run([str(BIN / "dbt"), "build", "--quiet"], directory)


def run(command: list[str], directory: Path) -> float:
    """Wall time of `command` run in `directory` (exit on failure)."""
    return run_timed(command, directory)[0]


def run_timed(command: list[str], directory: Path, source: Path = REPO) -> tuple[float, float]:
    """(wall time, CPU time) of `command`: the CPU time (user + system of the process and
    its children) is the work done, which a shared machine's load stretches far less than
    the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=directory, capture_output=True, text=True, env=_env(source))
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{completed.stdout}\n{completed.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def _env(source: Path = REPO) -> dict:
    # PYTHONPATH comes before the editable install: `source`'s package is the one imported.
    env = dict(os.environ, DO_NOT_TRACK="1", PYTHONPATH=str(source))
    for name in ("GEN_MODEL_DUCKDB_PATH", "GEN_MODEL_RAW_PATH", "DBT_PROFILES_DIR"):
        env.pop(name, None)
    return env


def compile_sources(*trees: Path) -> None:
    """Bytecode for every module either side imports, as an installed package has it.

    With PYTHONDONTWRITEBYTECODE set (some shells and CI images set it), a fresh venv or
    source tree would recompile its modules in every timed run: gen-model's and sqlglot's
    too, which a plain build never imports, a cost no installed gen-model pays."""
    import compileall
    import sysconfig

    for path in (Path(sysconfig.get_paths()["purelib"]), *(tree / "generator" for tree in trees)):
        compileall.compile_dir(path, quiet=2, workers=0)


def breakdown(directory: Path, proposal: Path) -> dict[str, float]:
    """Where apply's time goes, measured in-process on one more fresh copy, step by step as
    `generator.run.apply` takes them (the dbt warm-up thread included)."""
    sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    import dbt.cli.main  # noqa: F401 - timed on its own: both sides pay it

    times: dict[str, float] = {"import dbt": time.perf_counter() - started}
    from generator.project import dbt, dbt_warmup, load_project
    from generator.project.catalog_builder import build_catalog
    from generator.proposal import load_proposal
    from generator.run.accept import accept_proposal
    from generator.run.finish import provenance_for, write_and_build
    from generator.run.options import Options
    from generator.run.report import RunReport

    started = time.perf_counter()
    project = load_project(directory)
    catalog = build_catalog(project, raw_files=())
    times["parse + catalog"] = time.perf_counter() - started
    started = time.perf_counter()
    options = Options()
    warmup = dbt_warmup.start()
    accepted = accept_proposal(catalog, load_proposal(proposal), RunReport(command="apply"), options)
    times["gates + tests + row search"] = time.perf_counter() - started
    started = time.perf_counter()
    warmup.wait()
    times["waiting for the warm-up"] = time.perf_counter() - started
    started = time.perf_counter()
    written = accepted.plan(project, catalog, provenance_for(accepted.proposal, {}), None)
    times["plan"] = time.perf_counter() - started
    invoked: list[tuple[str, float]] = []
    invoke = dbt.invoke

    def timed_invoke(project_, args, *rest, **keywords):
        began = time.perf_counter()
        try:
            return invoke(project_, args, *rest, **keywords)
        finally:
            invoked.append((args[0], time.perf_counter() - began))

    dbt.invoke = timed_invoke  # gen-model's own wrapper, timed per dbt command
    try:
        started = time.perf_counter()
        write_and_build(project, catalog, written, options, *accepted.build_target(written))
        times["write + dbt build"] = time.perf_counter() - started
    finally:
        dbt.invoke = invoke
    for command, seconds in invoked:
        times[f"  of which dbt {command}"] = seconds
    if warmup.error is not None:
        print(f"note: the dbt warm-up failed ({warmup.error!r}); the build did its work instead")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--proposal", type=Path, default=REPO / "examples" / "proposals" / "account_mrr.yml")
    parser.add_argument("--baseline", type=Path, help="another version's source tree, timed alongside")
    args = parser.parse_args()
    proposal = args.proposal.resolve()
    import yaml

    name = yaml.safe_load(proposal.read_text())["name"]
    gen_model = str(BIN / "gen-model")
    # label -> (command, source tree); each is run on a fresh copy, in this order, every run.
    commands = {
        APPLY: ([gen_model, "apply", str(proposal)], REPO),
        "gen-model apply --no-unit-test": ([gen_model, "apply", "--no-unit-test", str(proposal)], REPO),
    }
    if args.baseline:
        commands["baseline apply (no LLM)"] = ([gen_model, "apply", str(proposal)], args.baseline.resolve())
    plain_label = f"dbt build --select {name}.v1"
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in [*commands, plain_label]}
    with tempfile.TemporaryDirectory(prefix="gen-model-bench-") as scratch:
        template = Path(scratch) / "template"
        print(f"building the sample project once ({template}) ...", flush=True)
        build_template(template)
        compile_sources(REPO, *([args.baseline.resolve()] if args.baseline else []))
        for path in (template / "models").rglob(f"{name}*"):
            path.unlink()  # the model under test is written by apply in each copy
        run([str(BIN / "dbt"), "parse", "--quiet"], template)
        for index in range(args.runs):
            for label, (command, source) in commands.items():
                copy = Path(scratch) / f"run{index}"
                shutil.copytree(template, copy)
                times[label].append(run_timed(command, copy, source))
                if label == APPLY:
                    build = [str(BIN / "dbt"), "build", "--quiet", "--select", f"{name}.v1"]
                    times[plain_label].append(run_timed(build, copy))
                shutil.rmtree(copy)
        copy = Path(scratch) / "breakdown"
        shutil.copytree(template, copy)
        parts = breakdown(copy, proposal)

    def median(label: str, which: int) -> float:
        return statistics.median(t[which] for t in times[label])

    print(f"\nmodel {name}, {args.runs} runs each, fresh processes, medians (wall and CPU: user + system):")
    for label, measured in times.items():
        walls = ", ".join(f"{wall:.2f}" for wall, _ in measured)
        print(f"  {label:<34} wall {median(label, 0):6.2f} s  CPU {median(label, 1):6.2f} s   wall runs: {walls}")
    for label in commands:
        wall, cpu = median(label, 0) / median(plain_label, 0), median(label, 1) / median(plain_label, 1)
        print(f"  ratio {label:<30} / plain  wall {wall:5.2f}x  CPU {cpu:5.2f}x")
    ratio = median(APPLY, 0) / median(plain_label, 0)
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    print(f"  target: {APPLY} <= {TARGET_RATIO}x {plain_label}: {ratio:.2f}x, {verdict}")
    print("\nwhere apply spends its time (in-process, one run):")
    for label, seconds in parts.items():
        print(f"  {label:<28} {seconds:6.2f} s")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

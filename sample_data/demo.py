"""python -m sample_data.demo: build the sample project with dbt, then show generation.

Run from the project directory after `python -m sample_data` (as `make demo` does). dbt runs
in-process through generator.project.dbt; the exit status is 1 when the build fails, with dbt's
errors printed. Then, on a fresh copy of the built project (target/demo_project/, kept for
you to look at), one committed example model's proposals go through `gen-model apply` in
order (version 1, then version 2: a non-breaking change), showing every gate and the summary,
and the files they write are compared byte for byte with the committed ones. With
ANTHROPIC_API_KEY set, one live `gen-model "..."` request follows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from generator.errors import GenModelError
from generator.project import Project, load_project
from generator.project.dbt import DbtOutcome, invoke

MARTS = ("accounts", "subscriptions", "invoices")
# One model's proposals, applied in the order that made its committed versions.
EXAMPLES = (
    Path("examples") / "proposals" / "account_mrr.yml",
    Path("examples") / "proposals" / "account_mrr_v2.yml",
)
LIVE_REQUEST = "weekly active users per account, from the product events, with the account's plan tier"
COPIED = (
    "dbt_project.yml",
    "profiles.yml",
    "packages.yml",
    "gen_model.lock",
    "models",
    "macros",
    "seeds",
    "data",
    "target",
)
PASSED = {"success", "pass"}
SHOWN_FAILURES = 10
PROGRESS_SECONDS = 5.0


def mart_row_counts(project: Project, marts: tuple[str, ...] = MARTS) -> dict[str, int]:
    """Rows per mart, counted by dbt itself so any profile's warehouse path works."""
    query = " union all ".join(
        f"select '{name}' as mart, count(*) as row_count from {{{{ ref('{name}') }}}}" for name in marts
    )
    outcome = invoke(project, ["show", "--inline", query, "--limit", str(len(marts))])
    if not outcome.success or not outcome.nodes:
        return {}
    table = outcome.result.results[0].agate_table
    return {str(row[0]): int(row[1]) for row in table.rows}


def headline(message: str) -> str:
    """The line of a dbt/warehouse error that says what went wrong.

    Warehouse errors end with the SQL they point at (`LINE 5: ...` and a `^^^` marker), so
    the last line is no summary: take the first `... Error: ...` line after dbt's own
    `Runtime Error in model ...` heading, else the last line that is neither.
    """
    lines = [line.strip() for line in message.strip().splitlines()]
    useful = [line for line in lines if line and not set(line) <= {"^", " "} and not line.startswith("LINE ")]
    for line in useful[1:]:
        if "Error:" in line or "Error " in line.split(":", 1)[0]:
            return line
    return useful[-1] if useful else ""


def summarize(outcome: DbtOutcome, seconds: float) -> str:
    """Passed/failed per resource type, then the failures, in a few lines."""
    tally: dict[str, Counter] = {}
    for node in outcome.nodes:
        kind = node.resource_type.rsplit(".", 1)[-1]
        tally.setdefault(kind, Counter())["passed" if node.status in PASSED else node.status] += 1
    lines = [f"dbt build {'succeeded' if outcome.success else 'FAILED'} in {seconds:.1f} s"]
    for kind in ("seed", "model", "test", "unit_test", "snapshot"):
        if kind in tally:
            counts = ", ".join(f"{count} {status}" for status, count in sorted(tally[kind].items()))
            lines.append(f"  {kind + 's':<10} {counts}")
    broken = sorted((node for node in outcome.nodes if node.status in ("error", "fail")), key=lambda n: n.name)
    for node in broken[:SHOWN_FAILURES]:
        lines.append(f"  {node.status.upper():<6} {node.name}: {headline(node.message or '')}")
    if len(broken) > SHOWN_FAILURES:
        lines.append(f"  ... and {len(broken) - SHOWN_FAILURES} more (see target/run_results.json)")
    return "\n".join(lines)


def fresh_copy(project: Project, destination: Path) -> dict[str, str]:
    """A copy of the built project (its warehouse too); the environment that points at it."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for name in COPIED:
        source = project.project_dir / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("demo_project") if name == "target" else None
            shutil.copytree(source, destination / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, destination / name)
    warehouse = Path(os.environ.get("GEN_MODEL_DUCKDB_PATH") or project.project_dir / "warehouse.duckdb")
    if not warehouse.is_absolute():
        warehouse = project.project_dir / warehouse
    shutil.copy2(warehouse, destination / "warehouse.duckdb")
    # The copy must never write into the user's own warehouse.
    return dict(os.environ, GEN_MODEL_DUCKDB_PATH=str(destination / "warehouse.duckdb"))


def show_generation(project: Project) -> int:
    """Apply the example's proposals on a fresh copy; then one live request if a key is set."""
    gen_model = str(Path(sys.executable).parent / "gen-model")
    copy = project.project_dir / "target" / "demo_project"
    environment = fresh_copy(project, copy)
    import yaml

    name = yaml.safe_load((project.project_dir / EXAMPLES[0]).read_text())["name"]
    committed = {path.name: path.read_bytes() for path in (copy / "models").rglob(f"{name}*")}
    committed["gen_model.lock"] = (copy / "gen_model.lock").read_bytes()
    for path in (copy / "models").rglob(f"{name}*"):
        path.unlink()  # so the demo writes them afresh instead of finding them up to date
    for example in EXAMPLES:
        print(f"\n$ gen-model apply {example}   (on a fresh copy: {project.relative(copy)})", flush=True)
        applied = subprocess.run([gen_model, "apply", str(project.project_dir / example)], cwd=copy, env=environment)
        if applied.returncode != 0:
            return applied.returncode
    written = {path.name: path.read_bytes() for path in (copy / "models").rglob(f"{name}*")}
    written["gen_model.lock"] = (copy / "gen_model.lock").read_bytes()
    same = written == committed
    verdict = "byte-identical to" if same else "DIFFERENT from"
    print(f"  reproducible: the model files and gen_model.lock are {verdict} the committed ones")
    if not same:
        return 1
    if os.environ.get("ANTHROPIC_API_KEY"):
        print(f'\n$ gen-model "{LIVE_REQUEST}"   (live: one LLM call, bounded repairs)', flush=True)
        live = subprocess.run([gen_model, LIVE_REQUEST], cwd=copy, env=environment)
        if live.returncode != 0:
            print(f"  the live request ended with exit code {live.returncode} (see above); the demo itself is fine")
    else:
        print('\n(set ANTHROPIC_API_KEY to also see one live `gen-model "..."` request here)')
    return 0


class BuildProgress:
    """Prints a line every few seconds while dbt builds: what it is doing, how far it got.

    A dbt listener (it sees every event) plus a ticker thread, so the parse before the first
    node, which sends no node events, still shows as alive.
    """

    def __init__(self, every: float = PROGRESS_SECONDS) -> None:
        self.every = every
        self.total = 0
        self.finished = 0
        self.current = "parsing the project"
        self.began = time.perf_counter()
        self._done = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def __call__(self, event) -> None:
        name = getattr(event.info, "name", "")
        if name == "LogStartLine":
            self.total = max(self.total, int(getattr(event.data, "total", 0) or 0))
            self.current = str(getattr(event.data, "description", "") or self.current)
        elif name == "NodeFinished":
            self.finished += 1

    def _tick(self) -> None:
        while not self._done.wait(self.every):
            elapsed = time.perf_counter() - self.began
            if self.total:
                print(
                    f"  ... {elapsed:3.0f} s  {self.finished} of {self.total} nodes done ({self.current})", flush=True
                )
            else:
                print(f"  ... {elapsed:3.0f} s  {self.current}", flush=True)

    def __enter__(self) -> BuildProgress:
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._ticker.join()


def main(project_dir: str | Path | None = None, generation: bool = True) -> int:
    try:
        project = load_project(project_dir or Path.cwd())
    except GenModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("==> dbt build of the sample project (seeds, models, tests; about half a minute)", flush=True)
    began = time.perf_counter()
    with BuildProgress() as progress:
        outcome = invoke(project, ["build"], listeners=(progress,))
    print(summarize(outcome, time.perf_counter() - began))
    if not outcome.success:
        if not any(node.status in ("error", "fail") for node in outcome.nodes):
            for message in outcome.errors:  # parse or compile errors: no node to blame
                print(message, file=sys.stderr)
        if any("raw_app" in message or "raw_billing" in message for message in outcome.errors):
            print("hint: load the raw data first: python -m sample_data --scale 1", file=sys.stderr)
        return 1
    if not outcome.nodes:
        print("dbt built nothing: are the sample models enabled?", file=sys.stderr)
        return 1
    counts = mart_row_counts(project)
    if counts:
        print("  marts      " + ", ".join(f"{name} {rows:,} rows" for name, rows in counts.items()))
    if generation and all((project.project_dir / example).is_file() for example in EXAMPLES):
        return show_generation(project)
    return 0


if __name__ == "__main__":
    sys.exit(main())

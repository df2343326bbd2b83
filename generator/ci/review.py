"""`gen-model review`: the Markdown a reviewer reads in a pull request, one section per model.

For the latest version of each generated model named (or changed versus a git base): the
request, the lockfile state of its files, the change class against the previous version
and its deprecation, the `dbt build` result (from target/run_results.json), the SQL, a
lineage table, the tests with their reasons (and the mutation score when `gen-model mutate`
left target/gen_model/mutation/<model>.json), the data diff against the previous version
(computed where the target keeps the tables: DuckDB or the Spark session), and the
attempts, tokens and estimated cost of the generation.

The output is deterministic: no timestamps, no timings, everything sorted or in file
order, numbers formatted one way. Run it twice on the same project, get the same bytes.

Mutation results are read, not produced, here. The expected file shape:
    {"model": "account_mrr", "killed": 17, "total": 20, "score": 0.85,
     "survivors": [{"mutation": "...", "column": "..."} | "..."]}
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.errors import ConfigError
from generator.project import Project
from generator.project.catalog import Catalog, Relation
from generator.write import lockfile

MUTATION_DIR = Path("target") / "gen_model" / "mutation"
RUN_RESULTS = Path("target") / "run_results.json"
MAX_SURVIVORS = 10


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def code(value: Any) -> str:
    text = cell(value)
    return f"`{text}`" if text else ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else cell(value)


# -- reading what the project says about a model --------------------------------------------


@dataclass
class ModelFiles:
    """Where a generated version's files are and what its YAML says."""

    sql_path: str | None
    yml_path: str | None
    block: dict  # the model's block in its YAML
    version_item: dict  # the `versions:` item of this version
    unit_tests: list[dict]


def _model_files(project: Project, relation: Relation, node: Any) -> ModelFiles:
    sql_path = relation.original_file_path
    patch = getattr(node, "patch_path", None) or ""
    yml_path = patch.split("://", 1)[1] if "://" in patch else None
    block: dict = {}
    item: dict = {}
    unit_tests: list[dict] = []
    if yml_path and (project.project_dir / yml_path).is_file():
        document = yaml.safe_load((project.project_dir / yml_path).read_text(encoding="utf-8")) or {}
        block = next((m for m in document.get("models") or [] if m.get("name") == relation.name), {}) or {}
        item = next((v for v in block.get("versions") or [] if v.get("v") == relation.version), {}) or {}
        for test in document.get("unit_tests") or []:
            if test.get("model") != relation.name:
                continue
            include = ((test.get("versions") or {}).get("include")) or None
            if include is None or relation.version in include:
                unit_tests.append(test)
    return ModelFiles(sql_path, yml_path, block, item, unit_tests)


def _tests_of(files: ModelFiles) -> list[tuple[str, str, str]]:
    """(test, column, reason) for every data test of the version, in YAML order."""
    rows = []

    def describe(entry) -> tuple[str, str]:
        if isinstance(entry, str):
            return entry, ""
        name, body = next(iter(entry.items()))
        body = body or {}
        arguments = body.get("arguments") or {k: v for k, v in body.items() if k != "config"}
        reason = ((body.get("config") or {}).get("meta") or {}).get("reason") or ""
        shown = ", ".join(
            f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in arguments.items()
        )
        return (f"{name} ({shown})" if shown else name), str(reason)

    for entry in files.version_item.get("data_tests") or []:
        name, reason = describe(entry)
        rows.append((name, "", reason))
    for column in files.version_item.get("columns") or []:
        for entry in column.get("data_tests") or []:
            name, reason = describe(entry)
            rows.append((name, str(column.get("name")), reason))
    return rows


def _mutation(project: Project, model: str) -> dict | None:
    path = project.project_dir / MUTATION_DIR / f"{model}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {"error": f"{MUTATION_DIR.as_posix()}/{model}.json is not valid JSON"}
    return data if isinstance(data, dict) else {"error": f"{MUTATION_DIR.as_posix()}/{model}.json is not an object"}


def _build_result(project: Project, relation: Relation, manifest: Any) -> str:
    """The version's model and tests in the last dbt run, as statuses (no timings)."""
    path = project.project_dir / RUN_RESULTS
    if not path.is_file():
        return "no dbt run recorded (target/run_results.json); run `dbt build`"
    try:
        results = {r["unique_id"]: r["status"] for r in json.loads(path.read_text(encoding="utf-8"))["results"]}
    except (ValueError, KeyError, TypeError):
        return "target/run_results.json could not be read"
    model_status = results.get(relation.unique_id)
    tests = sorted(
        node.unique_id
        for node in manifest.nodes.values()
        if node.resource_type in ("test", "unit_test") and getattr(node, "attached_node", None) == relation.unique_id
    )
    unit = sorted(
        uid
        for uid, node in getattr(manifest, "unit_tests", {}).items()
        if relation.unique_id in (getattr(node, "depends_on", None).nodes if getattr(node, "depends_on", None) else ())
    )
    test_statuses = [results[uid] for uid in [*tests, *unit] if uid in results]
    if model_status is None and not test_statuses:
        select = f"{relation.name}.v{relation.version}"
        return f"not in the last dbt run (target/run_results.json); run `dbt build --select {select}`"
    counts: dict[str, int] = {}
    for status in test_statuses:
        counts[status] = counts.get(status, 0) + 1
    text = f"model {model_status or 'not run'}"
    if test_statuses:
        text += f"; {len(test_statuses)} test(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    failing = [uid.split(".")[-2] for uid in [*tests, *unit] if results.get(uid) in ("fail", "error", "warn")]
    if failing:
        text += " — not passing: " + ", ".join(sorted(failing))
    return text


def _lock_state(project: Project, lock: lockfile.Lockfile, relation: Relation) -> str:
    entry = lock.get(relation.name, relation.version)
    if entry is None:
        return f"not in `{lockfile.LOCK_NAME}` (run `gen-model adopt {relation.name}`)"
    states = []
    for path, (_, generated, adopted) in sorted(lock.expected_files(relation.name).items()):
        digest = lockfile.file_sha256(project.project_dir / path)
        if digest == generated:
            continue
        if digest is None:
            states.append(f"{code(path)} missing")
        elif digest == adopted:
            states.append(f"{code(path)} edited by hand (adopted)")
        else:
            states.append(f"{code(path)} changed and **not adopted**")
    return "; ".join(states) if states else f"files match `{lockfile.LOCK_NAME}`"


def _classification(project: Project, catalog: Catalog, previous: Relation, current: Relation):
    from generator.dialects import get_dialect
    from generator.write.versions import (
        NON_BREAKING,
        UNCHANGED,
        Change,
        classify,
        contract_of_relation,
    )

    def sql(relation: Relation) -> str | None:
        path = project.project_dir / (relation.original_file_path or "")
        return path.read_text(encoding="utf-8") if path.is_file() else None

    change = classify(
        contract_of_relation(previous, sql(previous)),
        contract_of_relation(current, sql(current)),
        dialect=get_dialect(catalog.adapter_type).sqlglot,  # the files are in the target's SQL
    )
    if change.kind == UNCHANGED:
        change = Change(NON_BREAKING, ("no difference in SQL, columns, types or grain",), previous.version)
    return change


# -- sections --------------------------------------------------------------------------------


def data_diff_section(catalog: Catalog, previous: Relation, current: Relation) -> list[str]:
    """The data diff of `current` against `previous`, or why it was not computed."""
    from generator.ci.diff import diff_unavailable, diff_versions

    title = f"### Data diff: v{previous.version} → v{current.version}"
    unavailable = diff_unavailable(catalog)
    if unavailable:
        # The rest of the review does not need the warehouse: say why this part is missing.
        return [title, "", f"Not computed: {unavailable}.", ""]
    if not previous.exists or not current.exists:
        missing = [f"v{r.version}" for r in (previous, current) if not r.exists]
        return [title, "", f"Not computed: {', '.join(missing)} not built in the warehouse (run `dbt build`)."]
    result = diff_versions(catalog, current.name, previous.version, current.version)
    old, new = result.labels
    lines = [title, ""]
    lines += _table(
        ["", old, new],
        [["Rows", _number(result.rows_from), _number(result.rows_to)]]
        + (
            [["Rows whose key is only here", _number(result.only_from), _number(result.only_to)]]
            if result.matched is not None
            else []
        ),
    )
    lines.append("")
    if result.note:
        lines += [f"Note: {result.note}.", ""]
    if result.matched is not None:
        grain = ", ".join(code(k) for k in result.key)
        lines.append(f"Joined on the grain ({grain}): {result.matched:,} keys in both.")
        lines.append("")
    if result.removed_columns or result.added_columns:
        if result.removed_columns:
            lines.append(f"Columns only in {old}: {', '.join(code(c) for c in result.removed_columns)}.")
        if result.added_columns:
            lines.append(f"Columns only in {new}: {', '.join(code(c) for c in result.added_columns)}.")
        lines.append("")
    if result.columns and result.matched is not None:
        lines.append("Changed values among rows in both versions:")
        lines.append("")
        lines += _table(
            ["Column", "Rows changed", f"Type {old}", f"Type {new}"],
            [[code(c.name), _number(c.changed), cell(c.from_type), cell(c.to_type)] for c in result.columns],
        )
        lines.append("")
    for title_, rows in (
        (f"Rows only in {old}", result.examples_only_from),
        (f"Rows only in {new}", result.examples_only_to),
        ("Rows with changed values", result.examples_changed),
    ):
        if not rows:
            continue
        lines.append(f"{title_} (first {len(rows)} by key):")
        lines.append("")
        for row in rows:
            parts = []
            for name, value in row.items():
                if isinstance(value, list):
                    parts.append(f"{code(name)}: {code(_shown(value[0]))} → {code(_shown(value[1]))}")
                else:
                    parts.append(f"{code(name)} = {code(_shown(value))}")
            lines.append("- " + ", ".join(parts))
        lines.append("")
    return lines


def _shown(value: Any) -> str:
    return "null" if value is None else str(value)


def _generation_section(relation: Relation, entry: lockfile.LockEntry | None) -> list[str]:
    from generator.llm.pricing import estimate_cost

    provenance = (entry.provenance if entry else None) or (relation.meta or {}).get("gen_model") or {}
    lines = ["### Generation", ""]
    origin = provenance.get("origin") or "unknown"
    if origin == "llm":
        lines.append(f"Asked {cell(provenance.get('provider'))} `{cell(provenance.get('model'))}`.")
    elif origin == "proposal-file":
        lines.append(f"Applied from the proposal file {code(provenance.get('proposal_file'))}; no LLM call.")
    else:
        lines.append(f"Origin: {cell(origin)}.")
    lines.append("")
    attempts = (entry.attempts if entry else None) or []
    if attempts:
        rows = []
        for number, attempt in enumerate(attempts, start=1):
            cost = attempt.get("cost_usd")
            rows.append(
                [
                    str(number),
                    code(attempt.get("model")),
                    _number(attempt.get("input_tokens", 0)),
                    _number(attempt.get("output_tokens", 0)),
                    "unknown" if cost is None else f"${cost:.4f}",
                    cell(attempt.get("outcome"))
                    + (f" ({attempt['problems']} problem(s))" if attempt.get("problems") else ""),
                ]
            )
        lines += _table(["Attempt", "Model", "Tokens in", "Tokens out", "Est. cost", "Outcome"], rows)
        lines.append("")
        costs = [a.get("cost_usd") for a in attempts]
        total = "unknown" if any(c is None for c in costs) else f"${sum(costs):.4f}"
        tokens_in = sum(int(a.get("input_tokens") or 0) for a in attempts)
        tokens_out = sum(int(a.get("output_tokens") or 0) for a in attempts)
        lines.append(f"Total: {len(attempts)} attempt(s), {tokens_in:,} tokens in, {tokens_out:,} out, est. {total}.")
    else:
        tokens_in, tokens_out = int(provenance.get("tokens_in") or 0), int(provenance.get("tokens_out") or 0)
        calls = int(provenance.get("attempts") or 0)
        estimate = estimate_cost(str(provenance.get("model") or ""), tokens_in, tokens_out) if calls else None
        cost = "$0.0000" if not calls else ("unknown" if estimate.usd is None else f"${estimate.usd:.4f}")
        lines.append(f"Total: {calls} LLM call(s), {tokens_in:,} tokens in, {tokens_out:,} out, est. {cost}.")
    lines.append("")
    facts = [
        ("prompt sha256", provenance.get("prompt_sha256")),
        ("proposal sha256", provenance.get("proposal_sha256")),
        ("catalog fingerprint", entry.catalog_fingerprint if entry else None),
        ("generator", provenance.get("generator_version")),
    ]
    lines += [f"- {label}: {code(value)}" for label, value in facts if value]
    lines.append("")
    return lines


def review_model(project: Project, catalog: Catalog, manifest: Any, lock: lockfile.Lockfile, model: str) -> list[str]:
    """The Markdown section for the latest version of `model`."""
    versions = sorted(
        (r for r in catalog.models if r.name == model and r.generated and r.version is not None),
        key=lambda r: r.version,
    )
    if not versions:
        lines = [f"## {code(model)}", "", "Not a generated model of this project (no `meta.gen_model`).", ""]
        relation = catalog.ref(model)  # hand-written: its latest version's ports, if versioned
        return lines + port_section(lock, model, *((relation.version, relation.original_file_path) if relation else ()))
    current = catalog.ref(model) if catalog.ref(model) in versions else versions[-1]
    earlier = [r for r in versions if r.version < current.version]
    previous = earlier[-1] if earlier else None
    node = manifest.nodes.get(current.unique_id)
    files = _model_files(project, current, node)
    entry = lock.get(model, current.version)
    provenance = (current.meta or {}).get("gen_model") or {}
    change = _classification(project, catalog, previous, current) if previous else None
    layer = Path(files.sql_path or "").parent.name

    heading = f"## {code(model)} v{current.version}" + (f" ({layer})" if layer else "")
    if change:
        heading += f": {change.kind} change from v{previous.version}"
    elif current.version == 1:
        heading += ": new model"
    lines = [heading, ""]
    request = provenance.get("request")
    if request:
        lines += [f"> {cell(request)}", ""]
    description = files.version_item.get("description") or files.block.get("description") or current.description
    if description:
        lines += [cell(description), ""]

    summary: list[list[str]] = [
        ["Files", ", ".join(code(p) for p in (files.sql_path, files.yml_path) if p)],
        ["Lockfile", _lock_state(project, lock, current)],
        ["Grain", ", ".join(code(g) for g in provenance.get("grain") or ())],
    ]
    if change:
        reasons = "; ".join(cell(r) for r in change.reasons)
        summary.append(["Change", f"**{change.kind}** vs v{previous.version}: {reasons}"])
        recorded = (provenance.get("change") or {}).get("class")
        if recorded and recorded != change.kind:
            summary.append(["Recorded change", f"{cell(recorded)} when generated (the files changed since)"])
        previous_item = next((v for v in files.block.get("versions") or [] if v.get("v") == previous.version), {}) or {}
        date = previous_item.get("deprecation_date")
        if date:
            still = f"`ref('{model}', v={previous.version})` keeps working"
            summary.append(["Previous version", f"v{previous.version} deprecated on {date}; {still}"])
        elif change.breaking:
            missing = f"v{previous.version} has **no deprecation date** despite a breaking change"
            summary.append(["Previous version", missing])
        else:
            # Not "current": latest_version moved, so a plain ref() now reads the new version.
            latest = files.block.get("latest_version") or current.version
            summary.append(
                [
                    "Previous version",
                    f"v{previous.version} stays available with no deprecation date (non-breaking change); "
                    f"`latest_version` is v{latest}, so `ref('{model}')` reads v{latest}",
                ]
            )
    summary.append(["dbt build", cell(_build_result(project, current, manifest))])
    lines += _table(["", ""], [[f"**{label}**", value] for label, value in summary])
    lines.append("")

    sql_text = ""
    if files.sql_path and (project.project_dir / files.sql_path).is_file():
        sql_text = (project.project_dir / files.sql_path).read_text(encoding="utf-8").rstrip("\n")
    lines += ["### SQL", "", "```sql", sql_text, "```", ""]
    if previous is not None and previous.original_file_path:
        old_path = project.project_dir / previous.original_file_path
        old_sql = old_path.read_text(encoding="utf-8").rstrip("\n") if old_path.is_file() else ""
        changes = list(
            difflib.unified_diff(
                old_sql.splitlines(),
                sql_text.splitlines(),
                fromfile=previous.original_file_path,
                tofile=files.sql_path or "",
                lineterm="",
            )
        )
        lines += (
            [f"SQL changes from v{previous.version}:", "", "```diff", *changes, "```", ""]
            if changes
            else [
                f"The SQL is the same as v{previous.version}'s.",
                "",
            ]
        )

    types = {c.get("name"): c.get("data_type") for c in files.version_item.get("columns") or []}
    lineage = provenance.get("lineage") or {}
    if lineage or types:
        lines += ["### Lineage", ""]
        rows = []
        for column in list(lineage) + [c for c in types if c not in lineage]:
            item = lineage.get(column) or {}
            sources = item.get("from") or []
            rows.append(
                [
                    code(column),
                    cell(types.get(column) or ""),
                    "<br>".join(code(s) for s in sources) or "(no upstream column)",
                    cell(item.get("transform") or ""),
                ]
            )
        lines += _table(["Column", "Type", "From", "How"], rows)
        if entry and files.sql_path and files.sql_path in entry.adopted:
            lines += [
                "",
                "The SQL was edited by hand after generation: this lineage is the generated SQL's; the "
                "columns read below were derived again from the edit when it was adopted.",
            ]
        if entry and entry.inputs:
            lines += [
                "",
                "Columns read (filters and joins included): "
                + "; ".join(f"{code(d)}: {', '.join(i.get('uses') or [])}" for d, i in sorted(entry.inputs.items())),
            ]
        lines.append("")

    lines += ["### Tests", ""]
    tests = _tests_of(files)
    if tests:
        rows = [[code(name), code(column), cell(reason)] for name, column, reason in tests]
        lines += _table(["Test", "Column", "Why"], rows)
    else:
        lines.append("**No data tests.**")
    lines.append("")
    if files.unit_tests:
        lines.append("Unit tests: " + ", ".join(code(t.get("name")) for t in files.unit_tests) + ".")
        lines.append("")
    lines += _mutation_lines(project, model)

    if previous is not None:
        lines += data_diff_section(catalog, previous, current)
    lines += _generation_section(current, entry)
    return lines + port_section(lock, model, current.version, current.original_file_path)


def port_section(
    lock: lockfile.Lockfile, model: str, version: int | None = None, source: str | None = None
) -> list[str]:
    """The proof behind each port of `model` (at `version`, whose file is `source`) written into the
    project (`gen-model port --write`)."""
    lines: list[str] = []
    key = lockfile.port_key(model, version)
    for target, port in sorted(lock.ported(model, version, source).items()):
        engines = ", ".join(f"{engine} {release}" for engine, release in port["engines"].items())
        lines += [
            f"### Port to {target}",
            "",
            f"{code(port['file'])}, transpiled from {code(port['source'])}, builds on {target} targets "
            f"(the original everywhere else). Rows proven identical on {cell(engines)}:",
            "",
        ]
        lines += _table(["Rows compared", "Rows"], [[cell(s["name"]), _number(s["rows"])] for s in port["row_sets"]])
        lines += ["", f"Proof recorded in {code(lockfile.LOCK_NAME)} (`ports.{key}.{target}`).", ""]
    return lines


def _mutation_lines(project: Project, model: str) -> list[str]:
    data = _mutation(project, model)
    if data is None:
        return [f"Mutation score: not measured (no `{MUTATION_DIR.as_posix()}/{model}.json`).", ""]
    if "error" in data:
        return [f"Mutation score: {cell(data['error'])}.", ""]
    score = data.get("score")
    shown = f"{score:.0%}" if isinstance(score, (int, float)) else cell(score)
    killed, total = _number(data.get("killed")), _number(data.get("total"))
    lines = [f"Mutation score: **{shown}** ({killed} of {total} mutants killed)."]
    survivors = data.get("survivors") or []
    if survivors:
        lines.append("")
        lines.append("Surviving mutants (the tests do not notice these changes):")
        for survivor in survivors[:MAX_SURVIVORS]:
            if isinstance(survivor, dict):
                text = ", ".join(f"{k}: {v}" for k, v in survivor.items())
            else:
                text = str(survivor)
            lines.append(f"- {cell(text)}")
        if len(survivors) > MAX_SURVIVORS:
            lines.append(f"- … and {len(survivors) - MAX_SURVIVORS} more")
    lines.append("")
    return lines


# -- entry points ----------------------------------------------------------------------------


def review(project: Project, models: list[str], *, title_note: str | None = None) -> str:
    """Markdown for `models` (latest versions), one section each, sorted by name."""
    from generator.ci.verify import read_project

    lock = lockfile.load(project.project_dir)
    manifest, catalog = read_project(project)
    known = {r.name for r in catalog.models if r.generated} | {lockfile.split_port_key(key)[0] for key in lock.ports}
    unknown = [m for m in models if m not in known]
    if unknown:
        from generator.suggest import did_you_mean

        hints = [did_you_mean(m, sorted(known)) for m in unknown]
        raise ConfigError(
            f"not a generated model of this project: {', '.join(unknown)}"
            + "".join(f". {hint}" for hint in hints if hint)
        )
    lines = ["# gen-model review", ""]
    if title_note:
        lines += [title_note, ""]
    if not models:
        lines += ["No generated model to review.", ""]
    for model in sorted(set(models)):
        lines += review_model(project, catalog, manifest, lock, model)
    return "\n".join(lines).rstrip("\n") + "\n"


# -- which models a change touches (git) -------------------------------------------------------


def _git(project: Project, *args: str) -> str:
    try:
        completed = subprocess.run(
            ["git", "-C", str(project.project_dir), *args],
            capture_output=True,
            text=True,
            check=True,
        )
    except FileNotFoundError:
        raise ConfigError("--changed needs git, which is not installed") from None
    except subprocess.CalledProcessError as error:
        raise ConfigError(f"git {' '.join(args)} failed: {error.stderr.strip() or error}") from None
    return completed.stdout


def _resolves(project: Project, ref: str) -> bool:
    try:
        _git(project, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ConfigError:
        return False
    return True


def default_base(project: Project) -> str:
    """The pull request's base (GITHUB_BASE_REF), else the default branch, else HEAD~1."""
    candidates = []
    if os.environ.get("GITHUB_BASE_REF"):
        candidates += [f"origin/{os.environ['GITHUB_BASE_REF']}", os.environ["GITHUB_BASE_REF"]]
    try:
        head = _git(project, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD").strip()
        candidates.append(head.removeprefix("refs/remotes/"))
    except ConfigError:
        pass
    candidates += ["origin/main", "origin/master", "main", "master"]
    for candidate in candidates:
        if _resolves(project, candidate):
            return candidate
    return "HEAD~1"


def changed_models(project: Project, base: str | None = None) -> tuple[str, str, list[str]]:
    """(base ref, base commit, generated models whose files changed since) for `--changed`.

    Changes are the working tree (committed, staged, unstaged and untracked files) against
    the merge base of `base` and HEAD, as a pull request shows them. On the default branch
    itself, where the merge base is HEAD, the last commit is reviewed (HEAD~1).
    """
    if not _resolves(project, "HEAD"):
        raise ConfigError(f"--changed needs a git repository with commits at {project.project_dir}")
    ref = base or default_base(project)
    if not _resolves(project, ref):
        raise ConfigError(f"--base {ref!r} is not a commit git knows (fetch it, e.g. `git fetch origin {ref}`)")
    commit = _git(project, "merge-base", ref, "HEAD").strip()
    head = _git(project, "rev-parse", "HEAD").strip()
    if base is None and commit == head and _resolves(project, "HEAD~1"):
        ref, commit = "HEAD~1", _git(project, "rev-parse", "HEAD~1").strip()
    top = Path(_git(project, "rev-parse", "--show-toplevel").strip()).resolve()
    changed = set(_git(project, "diff", "--name-only", "--no-renames", commit, "--", ".").splitlines())
    changed |= set(_git(project, "ls-files", "--others", "--exclude-standard", "--full-name", ".").splitlines())
    prefix = project.project_dir.resolve().relative_to(top).as_posix()
    relative = {p[len(prefix) + 1 :] if prefix not in ("", ".") and p.startswith(prefix + "/") else p for p in changed}
    return ref, commit, sorted(_models_touching(project, relative))


def _models_touching(project: Project, paths: set[str]) -> set[str]:
    """Generated models with a file among `paths`: `<name>_v<N>.sql` or `<name>.yml`."""
    models = set()
    lock = lockfile.load(project.project_dir)
    for entry in lock.all():
        if any(path in paths for path in entry.files):
            models.add(entry.model)
    pattern = re.compile(r"^(?P<name>[a-z][a-z0-9_]*?)(?:_v\d+\.sql|\.yml)$")
    for path in paths:
        match = pattern.match(Path(path).name)
        full = project.project_dir / path
        if match and full.is_file() and "gen_model:" in full.read_text(encoding="utf-8", errors="replace"):
            models.add(match.group("name"))
        elif match and full.suffix == ".sql" and (full.parent / f"{match.group('name')}.yml").is_file():
            yml = (full.parent / f"{match.group('name')}.yml").read_text(encoding="utf-8", errors="replace")
            if "gen_model:" in yml:
                models.add(match.group("name"))
    return models


def review_changed(project: Project, base: str | None = None) -> str:
    """Markdown for every generated model whose files changed versus `base` (see changed_models)."""
    ref, commit, models = changed_models(project, base)
    note = f"Generated models changed versus `{ref}` (merge base `{commit[:12]}`)."
    if not models:
        return f"# gen-model review\n\nNo generated model changed versus `{ref}` (merge base `{commit[:12]}`).\n"
    return review(project, models, title_note=note)

"""The `gen-model` command line: parses flags, calls the library, translates its errors.

`gen-model "REQUEST"` is shorthand for `gen-model generate "REQUEST"`: a first argument that
is not a subcommand is taken as a request.

Exit codes: 0 accepted and written (or nothing to do); 1 rejected by the gates or by dbt;
2 usage or configuration error; 3 the LLM provider failed after its retries; 4 an
unexpected error (a bug); 130 interrupted (Ctrl-C), everything being written rolled back.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import traceback

import click

from generator import __version__
from generator.errors import EXIT_INTERRUPTED, GenModelError, unexpected_error
from generator.progress import Progress
from generator.write.transaction import interrupt_received, note_interrupt, reset_interrupt

DEBUG_ENV = "GEN_MODEL_DEBUG"


class GenModelException(click.ClickException):
    """A library error rendered for the terminal, with its own exit code."""

    def __init__(self, error: GenModelError):
        super().__init__(error.format())
        self.exit_code = error.exit_code


class _Interrupts:
    """SIGINT while a command runs: the first raises KeyboardInterrupt (so transactions roll
    back); later ones are ignored, so a second Ctrl-C cannot cut the rollback short.

    dbt's in-process runner catches KeyboardInterrupt (its worker pool's finalizers get it
    too) and reports a failed, or even a finished, run: so the flag in
    `generator.write.transaction`, not the exception that comes out, says whether the run was
    interrupted, and a transaction never commits after one. A KeyboardInterrupt that lands
    in a finalizer is not printed as an "Exception ignored" trace.
    """

    def __init__(self) -> None:
        self.previous = None
        self.previous_hook = None

    @property
    def received(self) -> bool:
        return interrupt_received()

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        if not interrupt_received():
            note_interrupt()
            raise KeyboardInterrupt

    def _unraisable(self, unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return
        (self.previous_hook or sys.__unraisablehook__)(unraisable)

    def __enter__(self) -> _Interrupts:
        reset_interrupt()
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None
            return self
        self.previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc) -> None:
        reset_interrupt()  # the flag belongs to this command (tests run many in one process)
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            sys.unraisablehook = self.previous_hook


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get(DEBUG_ENV, "") not in ("", "0", "false", "no")


def _interrupted() -> None:
    click.echo(
        f"gen-model: interrupted (Ctrl-C); what this run was writing was rolled back (exit {EXIT_INTERRUPTED})",
        err=True,
    )
    sys.exit(EXIT_INTERRUPTED)


def _unexpected(error: BaseException, debug: bool) -> None:
    """One line for an error nobody raised on purpose: what, the exit code, how to see more."""
    code, meaning, fix = unexpected_error(error)
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    detail = " ".join(str(error).split())[:300] or "(no message)"
    hint = "" if debug else f"; rerun with --debug or {DEBUG_ENV}=1 to see the stack trace"
    click.echo(f"gen-model: {meaning}: {type(error).__name__}: {detail} (exit {code}). {fix}{hint}", err=True)
    sys.exit(code)


class DefaultToGenerate(click.Group):
    """A group whose first argument, when it is not a subcommand, is a request to generate.

    It is also the one top-level handler: library errors print their message and exit with
    their code; Ctrl-C prints one line and exits 130 after rolling back; anything else
    prints one line with its exit code and how to see the stack trace.
    """

    default_command = "generate"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        leading = []
        while args and args[0] == "--debug":
            leading, args = [*leading, args[0]], args[1:]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, [*leading, *args])

    def invoke(self, ctx: click.Context):
        with _Interrupts() as interrupts:
            try:
                return super().invoke(ctx)
            except KeyboardInterrupt:
                _interrupted()
            except Exception as error:
                if interrupts.received:
                    _interrupted()  # whatever dbt or a library made of the Ctrl-C
                if isinstance(error, (click.ClickException, click.exceptions.Exit, click.exceptions.Abort)):
                    raise
                if isinstance(error, GenModelError):
                    raise GenModelException(error) from None
                _unexpected(error, _debug(ctx))


def project_options(function):
    """--project-dir, --profiles-dir, --target: the same flags dbt takes."""

    @click.option(
        "--project-dir", type=click.Path(file_okay=False), help="The dbt project (default: current directory)."
    )
    @click.option(
        "--profiles-dir", type=click.Path(file_okay=False), help="Where profiles.yml is (default: as dbt finds it)."
    )
    @click.option("--target", help="The profile target to use (default: the profile's default).")
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper


def emit(report, as_json: bool) -> None:
    """Print a run report: JSON on stdout for --json, else the human summary."""
    click.echo(report.to_json() if as_json else report.format_text())


def run_command(body, as_json: bool):
    """Run a command body; print its report; turn library errors into exit codes."""
    try:
        report = body()
    except GenModelError as error:
        report = getattr(error, "report", None)
        if as_json and report is not None:
            click.echo(report.to_json())
        elif report is not None and (report.gates or report.attempts):
            click.echo(report.format_text().split("\n\n")[0], err=True)
        raise GenModelException(error) from None
    emit(report, as_json)
    return report


def _progress(as_json: bool) -> Progress:
    return Progress(stream=sys.stderr, enabled=True)


@click.group(cls=DefaultToGenerate, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="gen-model")
@click.option("--debug", is_flag=True, help=f"Show the stack trace of an unexpected error (or set {DEBUG_ENV}=1).")
def cli(debug) -> None:  # noqa: ARG001 (read by DefaultToGenerate.invoke)
    """Turn a request into a validated, tested, versioned dbt model.

    \b
      gen-model "monthly recurring revenue per account, by plan"
      gen-model apply examples/proposals/account_mrr.yml
      gen-model context "monthly recurring revenue per account"

    An LLM is called once to propose a model; deterministic gates (sqlglot, a DuckDB
    sandbox, tests derived from the SQL and the data) decide whether it is written.
    """


def deprecation_option(function):
    """--deprecation-days: how long a version superseded by a breaking change stays current."""

    @click.option(
        "--deprecation-days",
        type=click.IntRange(0, 36500),
        help="Days until a version replaced by a breaking change is deprecated "
        "(default: $GEN_MODEL_DEPRECATION_DAYS, else 90).",
    )
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper


def also_on_option(function):
    """--also-on TARGET: port the new model to another engine in the same transaction."""

    @click.option(
        "--also-on",
        type=click.Choice(["spark", "databricks"]),
        help="After the build, port the model to this engine too (rules and row proof as `gen-model port "
        "--write`), in the same transaction: refused, nothing is written.",
    )
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper


@cli.command()
@click.argument("proposal_file", type=click.Path(dir_okay=False))
@project_options
@click.option("--dry-run", is_flag=True, help="Run every gate and show the files; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.option("--allow-nondeterministic", is_flag=True, help="Accept now(), random(), partial orders knowingly.")
@click.option(
    "--allow-observed-grain",
    is_flag=True,
    help="Accept a grain unique in the data but not guaranteed by the SQL (its test then warns).",
)
@click.option("--no-unit-test", is_flag=True, help="Derive data tests only; skip the unit test's row search.")
@deprecation_option
@also_on_option
def apply(
    proposal_file,
    project_dir,
    profiles_dir,
    target,
    dry_run,
    as_json,
    allow_nondeterministic,
    allow_observed_grain,
    no_unit_test,
    deprecation_days,
    also_on,
) -> None:
    """Validate and write a proposal from PROPOSAL_FILE (YAML or JSON); no LLM involved."""
    from generator.project import load_project
    from generator.run.apply import apply as apply_proposal
    from generator.run.options import Options

    def body():
        project = load_project(project_dir, profiles_dir, target)
        options = Options(
            dry_run=dry_run,
            allow_nondeterministic=allow_nondeterministic,
            allow_observed_grain=allow_observed_grain,
            progress=_progress(as_json),
            deprecation_days=deprecation_days,
            unit_test=not no_unit_test,
            also_on=also_on,
        )
        return apply_proposal(project, proposal_file, options)

    run_command(body, as_json)


def _bounded_request(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """The request goes into the prompt and the model's YAML: refuse megabytes or binary."""
    from generator import limits

    if len(value) > limits.MAX_DESCRIPTION_CHARS:
        raise click.BadParameter(
            f"{len(value):,} characters; the limit is {limits.MAX_DESCRIPTION_CHARS:,}. Say what you want in a few "
            "sentences.",
            ctx=ctx,
            param=param,
        )
    if "\x00" in value:
        raise click.BadParameter("contains a NUL character", ctx=ctx, param=param)
    return value


def request_options(function):
    """--name and --layer: what the user fixes about the model before the LLM sees it."""
    from generator.proposal import LAYERS

    @click.option("--name", help="The model name (snake_case; stg_/int_ prefixes per layer).")
    @click.option("--layer", type=click.Choice(LAYERS), help="staging, intermediate or marts.")
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return function(*args, **kwargs)

    return wrapper


@cli.command()
@click.argument("request", callback=_bounded_request)
@request_options
@project_options
@click.option(
    "--provider", type=click.Choice(["anthropic", "openai", "scripted"]), help="LLM provider (default: anthropic)."
)
@click.option("--model", "models", multiple=True, help="Model id; repeat for a ladder, cheapest first.")
@click.option("--max-attempts", type=click.IntRange(1, 10), help="LLM calls in all, repairs included (default 3).")
@click.option(
    "--llm-timeout",
    type=click.FloatRange(0, 3600, min_open=True),
    help="Seconds one LLM call may take, the SDK's retries included (default 120); then exit 3.",
)
@click.option(
    "--llm-run-timeout",
    type=click.FloatRange(0, 3600, min_open=True),
    help="Seconds all LLM calls of the run may take together (default 300); then exit 3.",
)
@click.option("--dry-run", is_flag=True, help="Run every gate and show the files; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.option("--allow-nondeterministic", is_flag=True, help="Accept now(), random(), partial orders knowingly.")
@click.option(
    "--allow-observed-grain",
    is_flag=True,
    help="Accept a grain unique in the data but not guaranteed by the SQL (its test then warns).",
)
@click.option("--no-unit-test", is_flag=True, help="Derive data tests only; skip the unit test's row search.")
@click.option(
    "--refresh", is_flag=True, help="Ask the LLM even if gen_model.lock has an answer for this request and catalog."
)
@deprecation_option
@also_on_option
def generate(
    request,
    name,
    layer,
    project_dir,
    profiles_dir,
    target,
    provider,
    models,
    max_attempts,
    llm_timeout,
    llm_run_timeout,
    dry_run,
    as_json,
    allow_nondeterministic,
    allow_observed_grain,
    no_unit_test,
    refresh,
    deprecation_days,
    also_on,
) -> None:
    """Ask the LLM once for a model answering REQUEST, validate it, and write it.

    The same REQUEST against an unchanged catalog replays the answer gen_model.lock holds:
    no LLM call, the same files. --refresh asks again.
    """
    from generator.project import load_project
    from generator.run.generate import generate as generate_model
    from generator.run.options import Options, Request

    def body():
        project = load_project(project_dir, profiles_dir, target)
        options = Options(
            dry_run=dry_run,
            allow_nondeterministic=allow_nondeterministic,
            allow_observed_grain=allow_observed_grain,
            progress=_progress(as_json),
            refresh=refresh,
            deprecation_days=deprecation_days,
            unit_test=not no_unit_test,
            also_on=also_on,
        )
        wanted = Request(
            text=request,
            name=name,
            layer=layer,
            provider=provider,
            models=tuple(m for value in models for m in value.split(",") if m),
            max_attempts=max_attempts,
            llm_timeout=llm_timeout,
            llm_run_timeout=llm_run_timeout,
        )
        return generate_model(project, wanted, options)

    run_command(body, as_json)


@cli.command()
@click.argument("request", callback=_bounded_request)
@request_options
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print the prompt as JSON.")
def context(request, name, layer, project_dir, profiles_dir, target, as_json) -> None:
    """Print exactly what the LLM would be sent for REQUEST, and its size. Calls nothing."""
    import json

    from generator.llm.settings import resolve_settings
    from generator.llm.tokens import estimate_tokens
    from generator.project import load_project
    from generator.run.generate import prompt_for_request
    from generator.run.guards import unbuilt_warnings
    from generator.run.options import Request

    try:
        project = load_project(project_dir, profiles_dir, target)
        settings = resolve_settings(project.project_dir)
        from generator.project.catalog_builder import build_catalog

        wanted = Request(text=request, name=name, layer=layer)
        catalog = build_catalog(project, progress=_progress(False))
        _, _, catalog_slice, prompt = prompt_for_request(project, wanted, settings, catalog)
    except GenModelError as error:
        raise GenModelException(error) from None
    for warning in unbuilt_warnings(catalog, catalog_slice):
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        data = prompt.to_dict()
        data["sha256"] = prompt.sha256
        data["token_estimate"] = prompt.token_estimate
        data["catalog_tokens"] = catalog_slice.token_estimate
        data["retrieval"] = [
            {"key": i.key, "score": round(i.score, 4), "rendering": i.rendering, "reasons": list(i.reasons)}
            for i in catalog_slice.items
        ]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    tool = json.dumps(prompt.tool, indent=2, ensure_ascii=False)
    sections = [("system prompt", prompt.system)]
    sections += [(f"{m['role']} message", m["content"]) for m in prompt.messages]
    sections.append((f"tool {prompt.tool.get('name')} (forced call; its input schema)", tool))
    for title, text in sections:
        click.echo(f"===== {title} (≈{estimate_tokens(text):,} tokens) =====")
        click.echo(text)
        click.echo()
    click.echo("===== retrieval (what was considered, best first) =====")
    click.echo(catalog_slice.summary())
    click.echo()
    click.echo(
        f"total ≈{prompt.token_estimate:,} tokens (estimated offline; catalog part "
        f"{catalog_slice.token_estimate:,} of {catalog_slice.budget_tokens:,}); prompt sha256 {prompt.sha256}"
    )


@cli.command()
@project_options
@click.option("--upgrade", is_flag=True, help="Replace an already vendored copy with this version's.")
def init(project_dir, profiles_dir, target, upgrade) -> None:
    """Install the gen_model dbt package (its generic tests) into a dbt project, offline."""
    from generator.project import load_project
    from generator.write.package import init_project

    try:
        project = load_project(project_dir, profiles_dir, target)
        changed = init_project(project, upgrade=upgrade)
    except GenModelError as error:
        raise GenModelException(error) from None
    if project.name == "gen_model":
        click.echo("this is the gen_model project itself: its generic tests are already here")
    elif changed:
        click.echo(f"installed the gen_model dbt package: {', '.join(changed)} (dbt deps done)")
        click.echo(
            f"commit {', '.join(changed)} with your project; dbt deps also linked it under "
            "dbt_packages/ (build output: not committed)"
        )
    else:
        click.echo("the gen_model dbt package is already installed (dbt deps done)")


@cli.command()
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def verify(project_dir, profiles_dir, target, as_json) -> None:
    """Check generated models against gen_model.lock (for CI); build nothing, no API key.

    Exits 1, listing each problem, when a generated file changed without `gen-model adopt`,
    the lockfile names a missing file, a generated model lacks its lock entry, contract,
    provenance or grain tests, or an input lost a column the model uses.
    """
    from generator.ci.verify import verify as run_verify
    from generator.project import load_project

    try:
        report = run_verify(load_project(project_dir, profiles_dir, target))
    except GenModelError as error:
        raise GenModelException(error) from None
    click.echo(report.to_json() if as_json else report.format_text())
    sys.exit(report.exit_code)


@cli.command()
@click.argument("model")
@project_options
def adopt(model, project_dir, profiles_dir, target) -> None:
    """Record MODEL's files as they are now in gen_model.lock (hand edits become accepted)."""
    from generator.ci.verify import adopt as run_adopt
    from generator.project import load_project

    try:
        result = run_adopt(load_project(project_dir, profiles_dir, target), model)
    except GenModelError as error:
        raise GenModelException(error) from None
    click.echo(result.format_text())


@cli.command()
@click.argument("model")
@click.option("--from", "from_version", type=click.IntRange(1), help="The older version (default: before --to).")
@click.option("--to", "to_version", type=click.IntRange(1), help="The newer version (default: the latest).")
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def diff(model, from_version, to_version, project_dir, profiles_dir, target, as_json) -> None:
    """Compare the data of two versions of MODEL in the warehouse, joined on its grain.

    Row counts, keys only in one version, per-column counts of changed values and a few
    example rows, all computed where the target keeps the tables (DuckDB read-only, or the
    Spark session).
    """
    from generator.ci.diff import diff as run_diff
    from generator.project import load_project

    try:
        result = run_diff(load_project(project_dir, profiles_dir, target), model, from_version, to_version)
    except GenModelError as error:
        raise GenModelException(error) from None
    click.echo(result.to_json() if as_json else result.format_text())


@cli.command()
@click.argument("models", nargs=-1)
@click.option("--changed", is_flag=True, help="Review every generated model whose files changed versus --base.")
@click.option(
    "--base",
    help="Git ref to compare with for --changed (default: $GITHUB_BASE_REF, else the default branch; "
    "on the default branch itself, HEAD~1).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the Markdown here instead of stdout.")
@project_options
def review(models, changed, base, output, project_dir, profiles_dir, target) -> None:
    """Markdown for a pull request: request, SQL, lineage, tests, build, change class, data diff, cost.

    \b
      gen-model review account_mrr
      gen-model review --changed >> "$GITHUB_STEP_SUMMARY"
    """
    from generator.ci.review import review as run_review
    from generator.ci.review import review_changed
    from generator.project import load_project

    if bool(models) == changed:
        raise click.UsageError("name the model(s) to review, or pass --changed (not both)")
    if base and not changed:
        raise click.UsageError("--base only applies with --changed")
    try:
        project = load_project(project_dir, profiles_dir, target)
        markdown = review_changed(project, base) if changed else run_review(project, list(models))
    except GenModelError as error:
        raise GenModelException(error) from None
    if output:
        from pathlib import Path

        Path(output).write_text(markdown, encoding="utf-8")
    else:
        click.echo(markdown, nl=False)


@cli.command()
@click.argument("model")
@project_options
@click.option("--dry-run", is_flag=True, help="Show the YAML diff; write nothing.")
@click.option("--no-unit-test", is_flag=True, help="Derive data tests only.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def tests(model, project_dir, profiles_dir, target, dry_run, no_unit_test, as_json) -> None:
    """Derive tests for an existing MODEL (hand-written too) and add them to its YAML.

    Tests come from the model's SQL, its upstream tests and its data, never from text; each
    must pass on the data and fail on a corrupted copy. Tests a person wrote are never
    changed or removed; tests that exist already are skipped. `dbt test` checks the result
    (the YAML is restored if it fails).
    """
    import json

    from generator.project import load_project
    from generator.testgen.modeltests import add_tests

    try:
        project = load_project(project_dir, profiles_dir, target)
        report = add_tests(project, model, dry_run=dry_run, unit_test=not no_unit_test)
    except GenModelError as error:
        raise GenModelException(error) from None
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format_text())


@cli.command()
@click.argument("model")
@project_options
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
@click.option("--fail-under", type=click.FloatRange(0, 1), help="Exit 1 if the mutation score is below this (0 to 1).")
def mutate(model, project_dir, profiles_dir, target, as_json, fail_under) -> None:
    """Mutation score of MODEL's tests: SQL mutants run against its data tests and unit tests.

    Mutants (another join type, a dropped filter, another aggregate, a flipped boundary, a
    dropped group-by key, no distinct, swapped case branches, another join key) run in a
    read-only sandbox; nothing in the project or the warehouse changes.
    """
    import json

    from generator.project import load_project
    from generator.testgen.modeltests import mutate_model

    try:
        project = load_project(project_dir, profiles_dir, target)
        report = mutate_model(project, model)
    except GenModelError as error:
        raise GenModelException(error) from None
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format_text())
    if fail_under is not None and report.score is not None and report.score < fail_under:
        click.echo(
            f"mutation score {report.score:.2f} is below --fail-under {fail_under:.2f}: "
            f"{len(report.with_status('survived'))} mutant(s) survived",
            err=True,
        )
        sys.exit(1)


class PortCommand(click.Command):
    """`gen-model port`: its help lists the refused constructs from the rule table
    (generator.port.rules, read when the help is shown), so the two cannot drift apart."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from generator.port.rules import refused_constructs

        template = self.help or ""
        self.help = template.replace("{refused}", refused_constructs())
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = template


@cli.command(cls=PortCommand)
@click.argument("model")
@click.option("--to", "to_target", required=True, type=click.Choice(["spark", "databricks"]), help="The engine.")
@click.option(
    "--time-zone-pinned",
    is_flag=True,
    help="Both targets pin the same session time zone (as profiles.yml.example does).",
)
@click.option(
    "--prove",
    is_flag=True,
    help="Run the unit-test rows and a sample of the real inputs on DuckDB and a local Spark; rows must match.",
)
@click.option(
    "--write",
    "write_it",
    is_flag=True,
    help="Prove (implies --prove), then write the port beside the model, enabled on that engine only.",
)
@project_options
def port(model, to_target, time_zone_pinned, prove, write_it, project_dir, profiles_dir, target) -> None:
    """Check MODEL for DuckDB constructs whose rows differ on another engine; print its SQL there.

    Refused, each at its line and column with the rewrite that means the same on both:
    {refused}. With --prove, the model's
    unit-test rows and a sample of its real inputs run on both engines and must give
    identical rows (exit 1 with the differing rows otherwise). Writes nothing unless
    --write: then, only once proven, MODEL's SQL for the engine goes to <model's folder>/
    <engine>/MODEL.sql, dbt_project.yml enables each file on its own engine, and the proof
    goes into gen_model.lock. MODEL may name a version as dbt selects it (account_mrr.v1);
    the model's other versions without a proven port stay off on the engine.
    """
    from generator.port.model import port_model
    from generator.port.write import write_port
    from generator.project import load_project

    try:
        project = load_project(project_dir, profiles_dir, target)
        ported = port_model(project, model, to_target, same_time_zone=time_zone_pinned, prove=prove or write_it)
    except GenModelError as error:
        raise GenModelException(error) from None
    click.echo(f"-- {ported.name} ({ported.path}) for {ported.target}: no construct with a known difference")
    proof = ported.proof
    if proof is not None:
        engines = ", ".join(f"{engine} {version}" for engine, version in proof.engines.items())
        for row_set in proof.sets:
            verdict = "identical" if row_set.equal else "DIFFERENT"
            click.echo(f"-- {verdict}: {row_set.name}, {row_set.rows} rows ({engines})")
            for row in row_set.only_duckdb:
                click.echo(f"--   only on duckdb: {row}")
            for row in row_set.only_target:
                click.echo(f"--   only on {proof.target}: {row}")
        if not proof.holds:
            written = "; nothing was written" if write_it else ""
            click.echo(
                f"error: {ported.name} gives other rows on {proof.target}; it is not portable as written{written}",
                err=True,
            )
            sys.exit(1)
    if not write_it:
        click.echo(ported.sql, nl=False)
        return
    try:
        written = write_port(project, ported)
    except GenModelError as error:
        raise GenModelException(error) from None
    click.echo(
        f"-- wrote {written.file}; {written.config} enables it on {ported.target} targets only "
        f"and {ported.path} everywhere else; the proof is in {written.lock}"
    )
    for other in written.off:  # an unproven version's SQL must not build on the target
        click.echo(f"-- {other} is off on {ported.target} targets until it is ported too (`gen-model port {other}`)")


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="gen-model")
    except KeyboardInterrupt:  # before or after a command ran (click handles it within one)
        _interrupted()
    finally:
        # The process ends here (click exits): the interpreter's teardown would collect the
        # garbage of everything the command imported (sqlglot, DuckDB, dbt) once more, 0.05 s
        # of every command. Frozen objects are left to the exit, like the rest of memory;
        # atexit handlers and flushing run as always.
        import gc

        gc.freeze()


if __name__ == "__main__":
    sys.exit(main())


# -- gen-model enrich: specs for raw files ------------------------------------------------------


@cli.group()
def enrich() -> None:
    """Enrichment specs: compile them into dbt Python models, discover raw files."""


def _relative_to(path, base) -> str:
    from pathlib import Path

    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return str(path)


@enrich.command("compile")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--project-dir", type=click.Path(file_okay=False), help="The dbt project (default: current directory).")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing compiled files that are out of date (CI).")
def enrich_compile(paths, project_dir, check) -> None:
    """Compile the *.enrich.yml specs under PATHS (default: the project's models/).

    Unchanged files are left alone; a spec with problems is reported and the others are
    still compiled. Exit 1 when a spec is invalid or (with --check) a file is stale.
    """
    from pathlib import Path

    from generator.enrich.compiler import compile_spec, find_specs, stale_files
    from generator.write.package import require_runtime

    base = Path(project_dir or ".")
    specs = find_specs(list(paths) or [base / "models"])
    if not specs:
        click.echo(f"no enrichment specs (*.enrich.yml) under {', '.join(paths) or _relative_to(base / 'models', '.')}")
        return
    try:
        if not check:
            require_runtime(base)  # before anything is written: dbt could not build what would be
    except GenModelError as error:
        raise GenModelException(error) from None
    failed, changed = 0, []
    for spec in specs:
        shown = _relative_to(spec, base)
        try:
            files = stale_files(spec) if check else compile_spec(spec)
        except GenModelError as error:
            failed += 1
            click.echo(error.format(), err=True)
            continue
        for path in files:
            changed.append(path)
            if check:
                click.echo(f"stale: {_relative_to(path, base)} (compiled from {shown})")
            else:
                click.echo(f"wrote {_relative_to(path, base)}")
    plural = "s" if len(specs) != 1 else ""
    if check and changed:
        click.echo(
            f"{len(changed)} compiled file(s) out of date with their spec; run `gen-model enrich compile`",
            err=True,
        )
        raise SystemExit(1)
    if check:
        click.echo(f"{len(specs)} spec{plural}: every compiled file is up to date")
    else:
        click.echo(f"{len(specs)} spec{plural} compiled, {len(changed)} file(s) written")
    if failed:
        click.echo(f"{failed} spec(s) with problems; nothing was written for them", err=True)
        raise SystemExit(1)


def _spec_readers(model_dir) -> dict[str, list[str]]:
    """input.path -> the models whose spec reads it (specs that do not load are skipped)."""
    from generator.enrich.compiler import find_specs
    from generator.enrich.spec import load_spec

    readers: dict[str, list[str]] = {}
    for path in find_specs([model_dir]) if model_dir.is_dir() else []:
        try:
            spec = load_spec(path)
        except GenModelError:
            continue
        readers.setdefault(spec.input.path, []).append(spec.model_file)
    return readers


@enrich.command("discover")
@click.option("--project-dir", type=click.Path(file_okay=False), help="The dbt project (default: current directory).")
@click.option("--raw-dir", type=click.Path(file_okay=False), help="The raw dir (default: as the models resolve it).")
@click.option("--draft", is_flag=True, help="Write a starting spec for each file no spec reads yet (never overwrites).")
@click.option(
    "--save-raw-path",
    is_flag=True,
    help="Record the raw dir in use (--raw-dir or $GEN_MODEL_RAW_PATH) as the dbt var gen_model_raw_path.",
)
def enrich_discover(project_dir, raw_dir, draft, save_raw_path) -> None:
    """List the raw files (format, rows, schema) and the specs that read them.

    The raw dir is $GEN_MODEL_RAW_PATH, else the dbt var gen_model_raw_path, else data/raw.
    With --draft, files that no spec reads get `models/staging/<source>/<name>.enrich.yml`.
    """
    from fnmatch import fnmatchcase
    from pathlib import Path

    from generator.enrich.discovery import discover_raw_files, draft_spec, resolve_raw_dir

    base = Path(project_dir or ".")
    root = resolve_raw_dir(base, raw_dir)
    files = discover_raw_files(base, raw_dir)
    if not files:
        click.echo(f"no raw files under {_relative_to(root, base)}")
        return
    readers = _spec_readers(base / "models")
    drafted = 0
    for raw in files:
        key = raw.input_path or raw.path
        staged = sorted(
            {
                model
                for pattern, models in readers.items()
                if key == pattern or fnmatchcase(key, pattern)
                for model in models
            }
        )
        rows = f"{raw.row_count:,} rows" if raw.row_count is not None else "rows unknown"
        click.echo(f"{key}  {raw.format}  {rows}  " + (f"read by {', '.join(staged)}" if staged else "no spec"))
        click.echo(f"  {raw.description}")
        for column in raw.columns:
            click.echo(f"  {column.name} {column.data_type}")
        if not draft or staged or not raw.columns:
            continue
        text = draft_spec(raw, base, raw_dir)
        name = next(line[6:] for line in text.splitlines() if line.startswith("name: "))
        parts = Path(key).parts
        target = base / "models" / "staging" / (parts[0] if len(parts) > 1 else "") / f"{name}.enrich.yml"
        shown = _relative_to(target, base)
        if target.exists():
            click.echo(f"  {shown} exists: left as it is")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        drafted += 1
        click.echo(f"  drafted {shown}: check its TODOs, then run `gen-model enrich compile`")
    if draft:
        click.echo(f"{drafted} spec(s) drafted")
    _offer_raw_path_var(base, raw_dir, save_raw_path or False, drafted > 0 or save_raw_path)


def _offer_raw_path_var(base, raw_dir, save: bool, relevant: bool) -> None:
    """A raw dir only this shell knows is lost on the next plain `dbt build`: save or say so."""
    from generator.enrich.discovery import save_raw_path_var, unsaved_raw_path

    value = unsaved_raw_path(base, raw_dir)
    if value is None or not relevant:
        return
    if save:
        path = save_raw_path_var(base, value)
        shown = _relative_to(path, base)
        click.echo(f"set vars.gen_model_raw_path: {value} in {shown}; a plain `dbt build` now finds the files")
        return
    where = "--raw-dir" if raw_dir else "$GEN_MODEL_RAW_PATH"
    click.echo(
        f"note: the raw dir {value} comes from {where}, which a plain `dbt build` does not see "
        f"(the models would find no files). Rerun with --save-raw-path to record it in dbt_project.yml as "
        f"vars: {{gen_model_raw_path: {value}}}, or export GEN_MODEL_RAW_PATH wherever dbt runs.",
        err=True,
    )

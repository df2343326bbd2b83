"""The `gen-model` command line: parses flags, calls the library, translates its errors.

`gen-model "REQUEST"` is shorthand for `gen-model generate "REQUEST"`: the first argument
that is not a subcommand is taken as a request.
"""

from __future__ import annotations

import sys

import click

from generator import __version__
from generator.errors import GenModelError


class GenModelException(click.ClickException):
    """A library error rendered for the terminal with its own exit code."""

    def __init__(self, error: GenModelError):
        super().__init__(error.format())
        self.exit_code = error.exit_code

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


class DefaultToGenerate(click.Group):
    """A group whose unknown first argument is a request for the `generate` command."""

    default_command = "generate"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [self.default_command, *args]
        elif args and args[0].startswith("-") and args[0] not in ("--help", "-h", "--version"):
            # Options before the request: `gen-model --dry-run "REQUEST"`.
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def translate_errors(function):
    """Run a command body, turning library errors into clean CLI errors (no stack traces)."""

    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except GenModelError as error:
            raise GenModelException(error) from error

    return wrapper


@click.group(
    cls=DefaultToGenerate,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=False,
)
@click.version_option(__version__, "--version", prog_name="gen-model")
def cli() -> None:
    """Turn a request into a validated, tested, versioned dbt model.

    \b
    gen-model "monthly recurring revenue per account, by plan"
    gen-model apply examples/proposals/account_mrr.yml

    An LLM is called once to propose a model; deterministic gates (sqlglot, a DuckDB
    sandbox, derived tests) decide whether it is written.
    """


@cli.command()
@click.argument("request")
def generate(request: str) -> None:
    """Ask the LLM once for a model answering REQUEST, validate it, and write it."""
    raise GenModelException(GenModelError("generation is not available yet"))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gen-model")


if __name__ == "__main__":
    sys.exit(main())

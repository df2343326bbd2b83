from click.testing import CliRunner

from generator import __version__
from generator.cli import cli


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"gen-model, version {__version__}\n"


def test_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Turn a request into a validated, tested, versioned dbt model." in result.output

"""The CLI loads each subcommand's module on first use; to a user it is the same CLI: every
command is listed, each one's help is its own, and a mistyped name gets a suggestion."""

from __future__ import annotations

from typer.testing import CliRunner

from agentload.cli.main import _COMMANDS, app

_RUNNER = CliRunner()


def test_help_lists_every_command_with_its_short_help() -> None:
    result = _RUNNER.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    listed = result.output.split("Commands:")[1]
    for name, (_, _, short_help, _) in _COMMANDS.items():
        assert f"{name} " in listed and short_help in listed


def test_a_command_shows_its_own_help() -> None:
    result = _RUNNER.invoke(app, ["export", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--parquet" in result.output


def test_a_mistyped_command_gets_a_suggestion() -> None:
    result = _RUNNER.invoke(app, ["comapre"])
    assert result.exit_code == 2
    assert "No such command 'comapre'. Did you mean 'compare'?" in result.output

"""The ``agentload`` command. Each subcommand lives in its own module of this package.

Exit codes (also in ``--help`` and the README):
  0  the run finished and every threshold passed
  1  a threshold failed, or not one request succeeded
  2  usage or configuration error (bad scenario, bad option, unreadable run directory)
  3  the run was interrupted or aborted, or a runtime error happened
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from agentload import __version__
from agentload.cli.pydantic_plugins import skip_plugin_discovery
from agentload.errors import AgentloadError

if TYPE_CHECKING:  # typer's own click (importing the click package would load a second one)
    from typer._click import Command, Context

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a threshold failed or no request succeeded; 2 usage or "
    "configuration error; 3 run interrupted, aborted or a runtime error."
)

# name: (module in agentload.cli, its command, short help, no_args_is_help). A module is
# imported only when its command runs or the help lists it, so that `run` does not carry what
# `compare`, `capacity` or `agent` need (resident memory a load test would hold for nothing).
_COMMANDS: dict[str, tuple[str, str, str, bool]] = {
    "run": ("run", "run_command", "Run a load test described by a scenario file.", True),
    "validate": ("validate", "validate_command", "Check a scenario file; send nothing.", True),
    "demo": (
        "demo",
        "demo_command",
        "30-second streaming test against the bundled reference agent.",
        False,
    ),
    "report": ("report", "report_command", "Re-summarise a run directory from its records.", True),
    "compare": (
        "compare",
        "compare_command",
        "Compare two runs with confidence intervals and verdicts.",
        True,
    ),
    "export": (
        "export",
        "export_command",
        "Write a run's records as Parquet or CSV (one row per request).",
        True,
    ),
    "capacity": (
        "capacity",
        "capacity_command",
        "Find the largest load that meets every threshold.",
        True,
    ),
    "probe": (
        "probe",
        "probe_command",
        "Time DNS, connect, TLS, first byte, keep-alive and upload to a URL.",
        True,
    ),
    "agent": ("agent", "app", "The bundled reference agent (agent serve).", False),
}


def _load_command(name: str) -> Command:
    module_name, attr, short_help, no_args_is_help = _COMMANDS[name]
    module = importlib.import_module(f"agentload.cli.{module_name}")
    target = getattr(module, attr)
    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name, short_help=short_help)
    else:
        holder.command(
            name, help=module.HELP, short_help=short_help, no_args_is_help=no_args_is_help
        )(target)
    return typer.main.get_group(holder).commands[name]


class _LazyGroup(TyperGroup):
    """Subcommands imported on first use (click's pattern for lazily loaded subcommands)."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in _COMMANDS and cmd_name not in self.commands:
            self.add_command(_load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in _COMMANDS:
            for name in _COMMANDS:  # a mistyped name: "Did you mean" looks at every command
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="agentload",
    cls=_LazyGroup,
    help=(
        "Load-test and stress-test AI agents and LLM services, and find their bottlenecks.\n\n"
        "Start with `agentload demo` (a 30-second test against the bundled reference agent), "
        "then write a scenario (see examples/) and `agentload run` it.\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"agentload {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


def main() -> None:
    skip_plugin_discovery()  # before typer builds its first validator
    try:
        app(standalone_mode=True)
    except AgentloadError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(3)
    except Exception as exc:  # last resort: one line, no traceback unless asked for
        if os.environ.get("AGENTLOAD_DEBUG"):
            traceback.print_exc()
        print(
            f"error: internal error: {type(exc).__name__}: {exc} "
            "(set AGENTLOAD_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        sys.exit(3)


if __name__ == "__main__":
    main()

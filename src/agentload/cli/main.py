"""The ``agentload`` command. Each subcommand lives in its own module of this package.

Exit codes (also in ``--help`` and the README):
  0  the run finished and every threshold passed
  1  a threshold failed, or not one request succeeded
  2  usage or configuration error (bad scenario, bad option, unreadable run directory)
  3  the run was interrupted or aborted, or a runtime error happened
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from agentload import __version__
from agentload.cli import agent, compare, demo, export, probe, report, run, validate
from agentload.cli import capacity as capacity_cli
from agentload.errors import AgentloadError

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a threshold failed or no request succeeded; 2 usage or "
    "configuration error; 3 run interrupted, aborted or a runtime error."
)

app = typer.Typer(
    name="agentload",
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
app.command(
    "run",
    help=run.HELP,
    short_help="Run a load test described by a scenario file.",
    no_args_is_help=True,
)(run.run_command)
app.command(
    "validate",
    help=validate.HELP,
    short_help="Check a scenario file; send nothing.",
    no_args_is_help=True,
)(validate.validate_command)
app.command(
    "demo",
    help=demo.HELP,
    short_help="30-second streaming test against the bundled reference agent.",
)(demo.demo_command)
app.command(
    "report",
    help=report.HELP,
    short_help="Re-summarise a run directory from its records.",
    no_args_is_help=True,
)(report.report_command)
app.command(
    "compare",
    help=compare.HELP,
    short_help="Compare two runs with confidence intervals and verdicts.",
    no_args_is_help=True,
)(compare.compare_command)
app.command(
    "export",
    help=export.HELP,
    short_help="Write a run's records as Parquet or CSV (one row per request).",
    no_args_is_help=True,
)(export.export_command)
app.command(
    "capacity",
    help=capacity_cli.HELP,
    short_help="Find the largest load that meets every threshold.",
    no_args_is_help=True,
)(capacity_cli.capacity_command)
app.command(
    "probe",
    help=probe.HELP,
    short_help="Time DNS, connect, TLS, first byte, keep-alive and upload to a URL.",
    no_args_is_help=True,
)(probe.probe_command)
app.add_typer(agent.app, name="agent", short_help="The bundled reference agent (agent serve).")


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

"""One exception root for everything agentload raises on purpose.

    AgentloadError                 base; ``exit_code`` is what the CLI returns for it
    ├── UsageError                 bad input from the user (exit 2)
    │   ├── ConfigError            a scenario file or ``--set`` override is invalid;
    │   │                          carries one ``Problem`` per finding (file:line, field, fix)
    │   └── RunDirError            a run directory is missing, unreadable or corrupted
    └── RunError                   the run itself could not go on (exit 3)
        └── RunInterrupted         stopped by a signal; results were written

A failed *request* is never an exception: clients turn every foreign error into an
``ErrorKind`` on the record. Exceptions are for the tool's own input and state.
"""

from __future__ import annotations

from dataclasses import dataclass


class AgentloadError(Exception):
    exit_code = 3


class UsageError(AgentloadError):
    exit_code = 2


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding in a configuration: where it is, what is wrong, what is allowed."""

    source: str  # file name, or "--set" for an override
    line: int | None
    field: str  # dotted path, e.g. "load.rate"
    message: str

    def render(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        # One problem is one line, whatever the user's keys or values contain.
        return f"{where}:{field} {self.message}".replace("\r", "\\r").replace("\n", "\\n")


class ConfigError(UsageError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


class RunDirError(UsageError):
    pass


class RunError(AgentloadError):
    exit_code = 3


class RunInterrupted(RunError):
    pass

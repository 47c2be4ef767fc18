"""What both inference engines (simulated and transformers) share: the life of their
background task, and how an arriving request becomes a ``Generation`` with its planned
output length (``engine_output.plan_output``)."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from types import TracebackType
from typing import Protocol, Self

from agentload.reference_agent.engine_output import OutputPlan, plan_output
from agentload.reference_agent.inference import Generation, GenerationRequest
from agentload.reference_agent.text import TokenSource


class OutputSettings(Protocol):
    """The engine settings that decide an answer's length and text."""

    @property
    def seed(self) -> int: ...
    @property
    def default_max_tokens(self) -> int: ...
    @property
    def output_sigma(self) -> float: ...
    @property
    def max_output_tokens(self) -> int: ...


def planned_generation(
    request: GenerationRequest, settings: OutputSettings
) -> tuple[Generation, OutputPlan]:
    """A new generation for ``request``, stamped with its arrival, and its output plan."""
    output = plan_output(
        request.max_tokens,
        engine_seed=settings.seed,
        request_seed=request.seed,
        median_tokens=settings.default_max_tokens,
        sigma=settings.output_sigma,
        cap_tokens=settings.max_output_tokens,
    )
    generation = Generation(
        prompt_tokens=max(1, request.prompt_tokens),
        output_tokens=output.tokens,
        finish_reason=output.finish_reason,
        source=TokenSource(settings.seed, request.seed),
        arrived_ns=time.monotonic_ns(),
    )
    return generation, output


class EngineTask(abc.ABC):
    """An engine that runs as one background task: ``start`` creates it, ``aclose`` cancels
    it and waits, and ``async with`` does both."""

    _task: asyncio.Task[None] | None = None

    @abc.abstractmethod
    async def start(self) -> None: ...

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

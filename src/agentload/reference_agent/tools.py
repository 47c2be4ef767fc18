"""The agent's tools: simulated latency and failures, short deterministic results.

Each call draws, in a fixed order, a lognormal latency (``latency_ms_median`` ×
e^(``latency_sigma``·N(0,1))), whether it is slow (``slow_rate``: latency × ``slow_factor``)
and whether it fails (``error_rate``), then sleeps that latency, as a real tool would wait on
I/O. A failed call still takes its latency and returns ``ok=False`` with an ``error: ...``
text; the agent reports it (a ``tool.result`` event) and answers anyway, so a tool fault
shows up as a slower, worse answer and an error count — not as a failed request.

``faults.tool_error_rate`` is the other kind of tool fault: the call fails *fatally* (an
unrecoverable tool error) and the agent gives up on the turn, which ends with a
``tool_error`` error (the session's SSE ``error`` event, or an HTTP 502 body with
``error.type: tool_error``). It is drawn per call from a stream of its own, so turning it on
leaves every tool's latency and ``error_rate`` draws as they were.

Draws come from one seeded stream per tool (reproducible call by call in a run); a call
given its own ``seed`` draws from a stream of its own, independent of every other call.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import operator
import random
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentload.reference_agent.settings import AgentSettings, ToolSettings


@dataclass(frozen=True, slots=True)
class ToolDraw:
    latency_ms: float
    slow: bool
    failed: bool


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    name: str
    ok: bool
    latency_ms: float  # the drawn latency that was slept
    content: str
    slow: bool = False
    fatal: bool = False  # faults.tool_error_rate: the turn cannot go on without this call


class ToolBox:
    """The configured tools, by name."""

    def __init__(
        self, tools: Iterable[ToolSettings], *, seed: int = 0, fatal_rate: float = 0.0
    ) -> None:
        self._tools: dict[str, ToolSettings] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"tool {tool.name!r} is configured twice")
            self._tools[tool.name] = tool
        self._seed = seed
        # Keyed by name, so adding a tool leaves every other tool's stream unchanged.
        self._streams = {name: random.Random(f"{seed}:{name}") for name in self._tools}
        self._fatal_rate = fatal_rate
        # ":" cannot be in a tool name: this stream never shares a tool's seed.
        self._fatal_stream = random.Random(f"{seed}:faults:tool_error")

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> ToolBox:
        return cls(settings.tools, seed=settings.seed, fatal_rate=settings.faults.tool_error_rate)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    @property
    def specs(self) -> tuple[ToolSettings, ...]:
        """Name and description of each tool (for OpenAI tool lists and agent cards)."""
        return tuple(self._tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def draw(self, name: str, *, seed: int | None = None) -> ToolDraw:
        """The next call's latency and fate; raises KeyError for an unknown tool."""
        tool = self._tools[name]
        rng = self._streams[name] if seed is None else random.Random(f"{self._seed}:{name}:{seed}")
        latency_ms = tool.latency_ms_median * math.exp(tool.latency_sigma * rng.gauss(0.0, 1.0))
        slow = rng.random() < tool.slow_rate
        failed = rng.random() < tool.error_rate
        return ToolDraw(latency_ms * tool.slow_factor if slow else latency_ms, slow, failed)

    async def run(
        self, name: str, arguments: Mapping[str, Any], *, seed: int | None = None
    ) -> ToolOutcome:
        if name not in self._tools:
            return ToolOutcome(name, False, 0.0, f"error: no tool named {name!r}")
        draw = self.draw(name, seed=seed)
        fatal = self._fatal_rate > 0 and self._fatal_stream.random() < self._fatal_rate
        await asyncio.sleep(draw.latency_ms / 1000)
        if fatal:
            content = f"error: {name} failed (injected tool_error)"
            return ToolOutcome(name, False, draw.latency_ms, content, draw.slow, fatal=True)
        if draw.failed:
            content = f"error: {name} failed (injected tool fault)"
            return ToolOutcome(name, False, draw.latency_ms, content, draw.slow)
        ok, content = tool_result(name, arguments)
        return ToolOutcome(name, ok, draw.latency_ms, content, draw.slow)


def tool_result(name: str, arguments: Mapping[str, Any]) -> tuple[bool, str]:
    """What a call returns when it does not fail: a short text, a pure function of input."""
    if name == "search":
        query = str(arguments.get("query", "")).strip() or "(empty query)"
        slug = f"{zlib.crc32(query.encode()):08x}"
        return True, "\n".join(
            f"{i}. {query}: result {i} (https://example.com/{slug}/{i})" for i in (1, 2, 3)
        )
    if name == "lookup_order":
        order_id = str(arguments.get("order_id", "")).strip()
        if not order_id.isdigit():
            return False, f"error: not an order number: {order_id!r}"
        digest = zlib.crc32(order_id.encode())
        status = ("processing", "shipped", "delivered", "cancelled")[digest % 4]
        items, cents = 1 + digest % 5, 500 + digest % 50_000
        return True, f"order #{order_id}: {status}, {items} items, total ${cents / 100:.2f}"
    if name == "calculator":
        expression = str(arguments.get("expression", ""))
        try:
            return True, f"{expression.strip()} = {format_number(evaluate(expression))}"
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            return False, f"error: cannot evaluate {expression.strip()!r}: {exc}"
    return True, f"{name}: done ({json.dumps(dict(arguments), sort_keys=True, default=str)})"


_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_MAX_EXPRESSION_CHARS = 200


def evaluate(expression: str) -> float:
    """Arithmetic only: numbers, + - * / // %, unary signs and parentheses (no powers,
    names or calls, so no input can run code or compute for long)."""
    text = expression.replace("×", "*").replace("÷", "/").strip()
    if not text or len(text) > _MAX_EXPRESSION_CHARS:
        raise ValueError(f"expected 1 to {_MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise ValueError("not an arithmetic expression") from None
    return _eval(tree.body)


def _eval(node: ast.expr) -> float:
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _eval(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_eval(node.left), _eval(node.right))
    raise ValueError("only numbers, + - * / // % and parentheses are allowed")


def format_number(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"

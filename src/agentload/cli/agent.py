"""``agentload agent serve``: run the bundled reference agent (the system under test)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from agentload.reference_agent.settings import AgentSettings

app = typer.Typer(
    help="The bundled reference agent: a calibrated LLM-agent service to test against.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

SERVE_HELP = (
    "Serve the reference agent: OpenAI-compatible /v1/chat/completions (streaming, tools, "
    "usage) and /v1/models; a session API (/v1/sessions, JSON or SSE step events); async "
    "tasks (/v1/tasks); A2A (/.well-known/agent-card.json, /a2a) with the a2a extra; "
    "/metrics (Prometheus), /healthz, /openapi.json. Latency follows GPU measurements of "
    "Llama-style models (prefill per prompt token, one decode step per output token, shared "
    "by a continuously batched engine). Settings come from --config (YAML; see "
    "AgentSettings: profile, seed, engine, store, tools, faults) and the flags, which win. "
    "Binds 127.0.0.1 unless told otherwise."
)


@app.command("serve", help=SERVE_HELP)
def serve_command(
    config: Path | None = typer.Option(
        None, "--config", help="Agent settings file (YAML).", metavar="FILE"
    ),
    profile: str | None = typer.Option(
        None, help="baseline (one request at a time, no batching) or optimized (default)."
    ),
    engine: str | None = typer.Option(None, help="sim (default) or hf (needs the hf extra)."),
    model: str | None = typer.Option(
        None, help="sim: calibration profile 0.9b (default) or 8b; hf: a local path or config."
    ),
    max_batch: int | None = typer.Option(None, help="Most sequences decoded together."),
    max_wait_ms: float | None = typer.Option(None, help="Dynamic batching wait window (ms)."),
    kv_budget_tokens: int | None = typer.Option(None, help="KV-cache capacity in tokens."),
    oom_policy: str | None = typer.Option(
        None, help="Past the KV budget: fail (503 model_oom) or preempt."
    ),
    speed: float | None = typer.Option(None, help="2.0 makes every step twice as fast."),
    seed: int | None = typer.Option(None, help="Seed of generated text, tools and faults."),
    store: str | None = typer.Option(
        None, help="Context store: memory:// (default) or redis://host:port/db.", metavar="URL"
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, help="Port to bind; 0 picks a free one."),
    ready_file: Path | None = typer.Option(
        None, help="Write the URL here once listening (for scripts)."
    ),
    log_level: str = typer.Option("warning", help="uvicorn's log level."),
    api_key_env: str | None = typer.Option(
        None,
        help="Require an API key: the value of this environment variable, sent as "
        "'Authorization: Bearer <key>' or 'X-Api-Key' (the key itself never goes on the "
        "command line).",
        metavar="NAME",
    ),
) -> None:
    from agentload.errors import UsageError

    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: must be between 0 and 65535 (0 picks a free port)")
    flags: dict[str, Any] = {
        "profile": profile,
        "seed": seed,
        "engine.kind": engine,
        "engine.model": model,
        "engine.max_batch": max_batch,
        "engine.max_wait_ms": max_wait_ms,
        "engine.kv_budget_tokens": kv_budget_tokens,
        "engine.oom_policy": oom_policy,
        "engine.speed": speed,
        "store.url": store,
        "api_key_env": api_key_env,
    }
    settings = _settings(config, {key: value for key, value in flags.items() if value is not None})
    if settings.api_key_env is not None and not os.environ.get(settings.api_key_env):
        raise UsageError(
            f"--api-key-env {settings.api_key_env}: the variable is not set or empty; "
            "export it with the key first"
        )

    from agentload.reference_agent.server import serve

    serve(
        settings,
        host=host,
        port=port,
        log_level=log_level,
        ready_file=str(ready_file) if ready_file else None,
    )


def _settings(config: Path | None, overrides: dict[str, Any]) -> AgentSettings:
    """Validated settings; every problem becomes one line of a ``UsageError`` (exit 2)."""
    from agentload.errors import UsageError
    from agentload.reference_agent.settings import SettingsError, load_settings
    from agentload.reference_agent.store import require_store_packages

    try:
        settings = load_settings(config, **overrides)
        require_store_packages(settings.store.url)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    if settings.engine.kind == "sim":
        from agentload.reference_agent.engine_config import EngineConfig

        try:
            EngineConfig.from_settings(settings)
        except ValueError as exc:
            raise UsageError(f"engine: {exc}") from None
    return settings

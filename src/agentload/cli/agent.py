"""``agentload agent serve``: run the bundled reference agent (the system under test)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="The bundled reference agent: a calibrated LLM-agent service to test against.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command(
    "serve",
    help=(
        "Serve the reference agent: OpenAI-compatible /v1/chat/completions (streaming "
        "and not), /healthz, /v1/models. Latency follows GPU measurements of Llama-style "
        "models (prefill per prompt token, one decode step per output token, shared by a "
        "continuously batched engine). Binds 127.0.0.1 unless told otherwise."
    ),
)
def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, help="Port to bind; 0 picks a free one."),
    model: str = typer.Option("0.9b", help="Calibration profile: 0.9b or 8b."),
    max_batch: int = typer.Option(64, help="Most sequences decoded together in one step."),
    speed: float = typer.Option(1.0, help="Speed factor: 2.0 makes every step twice as fast."),
    seed: int = typer.Option(0, help="Seed of the generated text."),
    ready_file: Path | None = typer.Option(
        None, help="Write the URL here once listening (for scripts)."
    ),
) -> None:
    from agentload.errors import UsageError
    from agentload.reference_agent.server import serve

    if model not in ("0.9b", "8b"):
        raise UsageError(f"--model {model}: choose 0.9b or 8b")
    if not speed > 0 or speed == float("inf"):
        raise UsageError(f"--speed {speed}: must be a positive number, e.g. 1.0 or 10")
    if not 1 <= max_batch <= 65536:
        raise UsageError(f"--max-batch {max_batch}: must be between 1 and 65536")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: must be between 0 and 65535 (0 picks a free port)")

    serve(
        host=host,
        port=port,
        model=model,
        max_batch=max_batch,
        speed=speed,
        seed=seed,
        ready_file=str(ready_file) if ready_file else None,
    )

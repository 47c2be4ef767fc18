"""Collectors that sample resources during a run, on the run clock (docs/telemetry.md).

``runner.TelemetryRunner`` builds them from the scenario's ``telemetry`` section and appends
their samples to ``<run dir>/telemetry.jsonl``: ``host`` (psutil), ``gpu`` (NVML),
``prometheus`` (any /metrics URL), ``redis_info`` (INFO, PING) and ``generator`` (the load
generator itself). ``summary.with_telemetry`` adds their warnings to a run's summary.
"""

"""The GPU collector's series from NVML's answers, and the runner's handling of bad collectors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agentload.clock import NS_PER_S, MonotonicClock
from agentload.config.telemetry import GpuTelemetry, TelemetryConfig
from agentload.records.samples import read_samples
from agentload.telemetry.base import Collector, Notes
from agentload.telemetry.gpu import MISSING_EXTRA, GpuCollector
from agentload.telemetry.runner import TelemetryRunner


class NVMLError(Exception):
    pass


def nvml_module(count: int = 2, power_fails_on: int | None = 1, init_fails: bool = False) -> Any:
    """The parts of pynvml's API the collector calls, answering like a two-GPU machine."""

    def init() -> None:
        if init_fails:
            raise NVMLError("Driver Not Loaded")

    def power(handle: int) -> int:
        if handle == power_fails_on:
            raise NVMLError("Not Supported")
        return 250_500  # milliwatts

    return SimpleNamespace(
        NVMLError=NVMLError,
        NVML_CLOCK_SM=1,
        nvmlInit=init,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: count,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(gpu=40 + h),
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(used=1000 * (h + 1), total=8000),
        nvmlDeviceGetPowerUsage=power,
        nvmlDeviceGetClockInfo=lambda h, clock: 1980,
        nvmlDeviceGetComputeRunningProcesses=lambda h: [
            SimpleNamespace(pid=4242, usedGpuMemory=512),
            SimpleNamespace(pid=7, usedGpuMemory=None),  # hidden from this container
        ],
    )


def test_series_per_device_and_unsupported_readings_left_out() -> None:
    notes = Notes()
    collector = GpuCollector(GpuTelemetry(), notes, nvml=nvml_module())
    values = asyncio.run(collector.sample())
    assert values["gpu0.util_percent"] == 40 and values["gpu1.util_percent"] == 41
    assert values["gpu1.mem_used_bytes"] == 2000 and values["gpu0.mem_total_bytes"] == 8000
    assert values["gpu0.power_w"] == 250.5 and "gpu1.power_w" not in values
    assert values["gpu0.sm_clock_mhz"] == 1980
    assert values["gpu0.proc.4242.mem_used_bytes"] == 512
    assert not any(".proc.7." in k for k in values)
    assert notes.lines == []


def test_device_selection() -> None:
    collector = GpuCollector(GpuTelemetry(devices=(1, 5)), Notes(), nvml=nvml_module())
    values = asyncio.run(collector.sample())
    assert {k.split(".")[0] for k in values} == {"gpu1"}


def test_no_driver_is_said_once_and_nothing_sampled() -> None:
    notes = Notes()
    collector = GpuCollector(GpuTelemetry(), notes, nvml=nvml_module(init_fails=True))

    async def three() -> list[dict[str, float]]:
        return [await collector.sample() for _ in range(3)]

    assert asyncio.run(three()) == [{}, {}, {}]
    assert notes.lines == ["gpu telemetry off: NVML unavailable (Driver Not Loaded)"]


def test_missing_package_names_the_extra(monkeypatch: Any) -> None:
    import agentload.telemetry.gpu as gpu

    monkeypatch.setattr(gpu, "load_nvml", lambda: None)
    notes = Notes()
    assert asyncio.run(GpuCollector(GpuTelemetry(), notes).sample()) == {}
    assert notes.lines == [MISSING_EXTRA]


class Steady:
    name = "steady"

    async def sample(self) -> dict[str, float]:
        return {"x": 1.0}

    async def close(self) -> None:
        pass


class Broken(Steady):
    name = "broken"

    async def sample(self) -> dict[str, float]:
        raise RuntimeError("boom")


class Stuck(Steady):
    name = "stuck"

    async def sample(self) -> dict[str, float]:
        await asyncio.sleep(60)
        return {}


def test_bad_collectors_are_noted_once_and_do_not_stop_the_others(tmp_path: Path) -> None:
    collectors: list[Collector] = [Steady(), Broken(), Stuck()]
    clock = MonotonicClock()
    runner = TelemetryRunner(
        TelemetryConfig(interval=0.1), clock, tmp_path, collectors=collectors, sample_timeout_s=0.3
    )

    async def go() -> None:
        runner.start()
        await asyncio.sleep(0.75)
        await runner.stop()

    asyncio.run(go())
    samples = read_samples(tmp_path)
    assert {s.collector for s in samples} == {"steady"}
    # Each collector keeps its own pace: the stuck one (cut off after 0.3 s) holds up no other.
    assert 5 <= len(samples) <= 9
    assert all(s.at_ns <= 0.8 * NS_PER_S for s in samples)
    assert sorted(runner.notes.lines) == [
        "broken telemetry: a sample failed: boom",
        "stuck telemetry: a sample failed: no answer within 0.3s",
    ]

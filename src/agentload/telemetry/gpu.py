"""GPU collector (NVML, the ``gpu`` extra): utilisation, memory, power, SM clock, per process.

Series per device ``i`` (NVML's index): ``gpu{i}.util_percent``, ``gpu{i}.mem_used_bytes``,
``gpu{i}.mem_total_bytes``, ``gpu{i}.power_w``, ``gpu{i}.sm_clock_mhz`` and, for every
process holding memory on it, ``gpu{i}.proc.{pid}.mem_used_bytes``. Each reading is
independent: a device that does not report power simply has no ``power_w``.

Without nvidia-ml-py, or without a driver (no ``libnvidia-ml``), the collector says so once
in the run's warnings and samples nothing; the run goes on. NVML calls block (a few hundred
microseconds each), so a sample runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from typing import Any

from agentload.config.telemetry import GpuTelemetry
from agentload.telemetry.base import Notes

NAME = "gpu"
MISSING_EXTRA = "gpu telemetry off: nvidia-ml-py is not installed (pip install 'agentload[gpu]')"


def load_nvml() -> Any:
    """The pynvml module, or None when the package is missing."""
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return None


class GpuCollector:
    name = NAME

    def __init__(self, config: GpuTelemetry, notes: Notes, nvml: Any = None) -> None:
        self._config = config
        self._notes = notes
        self._nvml = nvml if nvml is not None else load_nvml()
        self._handles: list[tuple[int, Any]] | None = None
        self._failed = False

    async def sample(self) -> dict[str, float]:
        if self._failed:
            return {}
        return await asyncio.to_thread(self._sample_blocking)

    def _open(self) -> list[tuple[int, Any]] | None:
        nvml = self._nvml
        if nvml is None:
            self._notes.add(MISSING_EXTRA)
            return None
        try:
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
            wanted = range(count) if self._config.devices is None else self._config.devices
            handles = [(i, nvml.nvmlDeviceGetHandleByIndex(i)) for i in wanted if i < count]
        except nvml.NVMLError as exc:
            self._notes.add(f"gpu telemetry off: NVML unavailable ({exc})")
            return None
        if not handles:
            self._notes.add(f"gpu telemetry off: no GPU among the {count} NVML reports")
            return None
        return handles

    def _sample_blocking(self) -> dict[str, float]:
        if self._handles is None:
            self._handles = self._open()
            if self._handles is None:
                self._failed = True
                return {}
        nvml = self._nvml
        values: dict[str, float] = {}
        for index, handle in self._handles:
            _read_device(values, nvml, f"gpu{index}.", handle)
        return values

    async def close(self) -> None:
        if self._handles:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._nvml.nvmlShutdown)
        self._handles = None


def _read_device(values: dict[str, float], nvml: Any, prefix: str, handle: Any) -> None:
    """Every reading of one device; one that fails (unsupported here, or transient) is left
    out and the others are kept."""
    readings: tuple[tuple[str, Callable[[Any, Any], float]], ...] = (
        ("util_percent", _util),
        ("mem_used_bytes", _mem_used),
        ("mem_total_bytes", _mem_total),
        ("power_w", _power_w),
        ("sm_clock_mhz", _sm_clock),
    )
    for key, read in readings:
        with contextlib.suppress(nvml.NVMLError):
            values[prefix + key] = read(nvml, handle)
    with contextlib.suppress(nvml.NVMLError):
        for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
            used = getattr(proc, "usedGpuMemory", None)
            if isinstance(used, int) and used >= 0:  # None or a sentinel when hidden
                values[f"{prefix}proc.{proc.pid}.mem_used_bytes"] = float(used)


def _util(nvml: Any, handle: Any) -> float:
    return float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)


def _mem_used(nvml: Any, handle: Any) -> float:
    return float(nvml.nvmlDeviceGetMemoryInfo(handle).used)


def _mem_total(nvml: Any, handle: Any) -> float:
    return float(nvml.nvmlDeviceGetMemoryInfo(handle).total)


def _power_w(nvml: Any, handle: Any) -> float:
    return float(nvml.nvmlDeviceGetPowerUsage(handle)) / 1000.0  # NVML reports milliwatts


def _sm_clock(nvml: Any, handle: Any) -> float:
    return float(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))

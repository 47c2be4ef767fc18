"""Pure, seeded traffic generation: when work arrives. No asyncio, no network, no clock."""

from agentload.traffic.arrivals import (
    ARRIVAL_KINDS,
    ArrivalProcess,
    ConstantArrivals,
    GammaArrivals,
    PoissonArrivals,
    arrival_process,
    schedule_ns,
)

__all__ = [
    "ARRIVAL_KINDS",
    "ArrivalProcess",
    "ConstantArrivals",
    "GammaArrivals",
    "PoissonArrivals",
    "arrival_process",
    "schedule_ns",
]

"""Pure, seeded traffic generation: when work arrives. No asyncio, no network, no clock.

Trace replay reads its file once, when the process is built; nothing here does I/O after that.
"""

from agentload.traffic.arrivals import (
    ARRIVAL_KINDS,
    ArrivalProcess,
    ConstantArrivals,
    GammaArrivals,
    PoissonArrivals,
    arrival_process,
    schedule_ns,
)
from agentload.traffic.cox import CoxArrivals
from agentload.traffic.profiles import SPACINGS, ProfileArrivals, RateProfile
from agentload.traffic.segments import Hold, Ramp, Segment, Sine, spike, step
from agentload.traffic.spec import (
    ARRIVAL_SPEC_KINDS,
    SEGMENT_KINDS,
    arrivals_from_spec,
    natural_bounds,
)
from agentload.traffic.trace import TIME_UNITS, TraceReplay
from agentload.traffic.trace_files import TRACE_FORMATS, TraceFormatError

__all__ = [
    "ARRIVAL_KINDS",
    "ARRIVAL_SPEC_KINDS",
    "SEGMENT_KINDS",
    "SPACINGS",
    "TIME_UNITS",
    "TRACE_FORMATS",
    "ArrivalProcess",
    "ConstantArrivals",
    "CoxArrivals",
    "GammaArrivals",
    "Hold",
    "PoissonArrivals",
    "ProfileArrivals",
    "Ramp",
    "RateProfile",
    "Segment",
    "Sine",
    "TraceFormatError",
    "TraceReplay",
    "arrival_process",
    "arrivals_from_spec",
    "natural_bounds",
    "schedule_ns",
    "spike",
    "step",
]

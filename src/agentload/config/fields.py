"""Field types every scenario section shares: one definition, so a duration or a rate reads
the same everywhere ("250ms", "30s", "2m" or seconds; "20/s", "1200/m" or per second)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from agentload.units import parse_duration_s, parse_rate_per_s

DurationS = Annotated[float, BeforeValidator(parse_duration_s)]
RatePerS = Annotated[float, BeforeValidator(parse_rate_per_s)]


class Strict(BaseModel):
    """Frozen, and unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

"""Per-request records and the run directory that holds them."""

from agentload.records.record import CallResult, ErrorKind, Outcome, RequestRecord, Timing

__all__ = ["CallResult", "ErrorKind", "Outcome", "RequestRecord", "Timing"]

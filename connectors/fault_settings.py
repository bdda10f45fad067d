"""The settings of the mock portals' injected faults (see `connectors.faults`): a plain
dataclass, so that the command line can offer one flag per fault without loading the mocks."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

# Kinds of malformed record. "date", "status" and "type" leave the record's code and change
# timestamp intact (a client can tell which record it was and fetch it again by code);
# "timestamp" and "code" break the record's identity or its position in the feed.
MALFORMED_KINDS = ("date", "status", "type", "timestamp", "code")


@dataclass(frozen=True)
class FaultSettings:
    seed: int = 0
    error_rate: float = 0.0  # share of requests answered HTTP 500, 502 or 503
    latency_ms: float = 0.0  # extra delay per request, uniform in [0, latency_ms]
    throttle_rate: float = 0.0  # share answered 429 with a Retry-After header
    retry_after_seconds: float = 1.0
    timeout_rate: float = 0.0  # share that hang for hang_seconds before answering
    hang_seconds: float = 30.0
    reset_rate: float = 0.0  # share whose connection is dropped with no answer
    malformed_rate: float = 0.0  # share of served records corrupted in that response only
    duplicate_page_rate: float = 0.0  # share of listing pages that repeat earlier records
    shuffle_rate: float = 0.0  # share of listing pages whose records come out of order
    session_expiry_rate: float = 0.0  # national only: share of service calls whose session ends
    # Listing pages answered before the listing itself fails (HTTP 503 on every further page;
    # look-ups and writes keep working): 0 = never. Counted from when the settings are set.
    listing_fails_after: float = 0.0
    malformed_kinds: tuple[str, ...] = MALFORMED_KINDS  # what a corrupted record may suffer

    def validate(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_rate") and not (
                isinstance(value, int | float) and 0.0 <= value <= 1.0
            ):
                raise ValueError(f"{f.name}: {value!r} is not a rate in [0, 1]")
            if f.name.endswith(("_ms", "_seconds", "_after")) and not (
                isinstance(value, int | float) and math.isfinite(value) and value >= 0
            ):
                raise ValueError(f"{f.name}: {value!r} is not a duration >= 0")
        unknown = set(self.malformed_kinds) - set(MALFORMED_KINDS)
        if unknown or not self.malformed_kinds:
            raise ValueError(
                f"malformed_kinds: {sorted(unknown) or 'none given'}; "
                f"choose from {', '.join(MALFORMED_KINDS)}"
            )

    @property
    def any_request_fault(self) -> bool:
        return bool(self.error_rate or self.throttle_rate or self.timeout_rate or self.reset_rate)

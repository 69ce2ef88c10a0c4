"""Faults: the one vocabulary of fault kinds, the per-run rates, queued faults, the draw.

`FAULTS` is the single table: `--fault` parsing, validation, the help text (`fault_help`)
and what `draw_fault`/`fault_response` can act out are all derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.simulator.prng import Prng
from reconciler.simulator.wire import MUTATING, SimResponse, error_body

# Kind → description. A status kind is answered before the request is committed, with the
# error message "simulated fault: <description>"; "drop" and "stall" commit first. The order
# is the order of the cumulative draw, so changing it changes seeded runs.
FAULTS: Mapping[str, str] = {
    "408": "request timeout",
    "409": "conflict",
    "422": "unprocessable entity",
    "429": "rate limit exceeded, retry later",
    "500": "internal server error",
    "502": "bad gateway",
    "503": "service unavailable",
    "504": "gateway timeout",
    "drop": "commit the request, then close the connection without answering",
    "stall": "commit the request, then answer only after the client's read timeout",
}
FAULT_KINDS = tuple(FAULTS)
RETRY_AFTER_STATUS = 429  # the one status fault that carries `Retry-After`
CONNECTION_FAULTS = frozenset(kind for kind in FAULTS if not kind.isdigit())


def fault_help() -> str:
    """The `--fault KIND:RATE` help text, listing every kind of `FAULTS`."""
    kinds = [
        f"{kind} ({text}; answers Retry-After)"
        if kind == str(RETRY_AFTER_STATUS)
        else f"{kind} ({text})"
        for kind, text in FAULTS.items()
    ]
    return (
        f"KIND is {', '.join(kinds[:-1])} or {kinds[-1]}; RATE is the probability per "
        "mutating request, 0-1. Repeatable."
    )


@dataclass
class Faults:
    """Fault rates per mutating request, plus latency and the 429 `Retry-After` value."""

    rates: dict[str, float] = field(default_factory=dict)
    latency_ms: int = 0
    retry_after: int = 1

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in FAULTS:
                raise ValueError(
                    f"unknown fault kind {kind!r}: expected one of {', '.join(FAULT_KINDS)}"
                )
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {kind} must be between 0 and 1, got {rate}")
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        if self.latency_ms < 0:
            raise ValueError("latency must not be negative")

    @classmethod
    def parse(cls, specs: Sequence[str], *, latency_ms: int = 0, retry_after: int = 1) -> Faults:
        """Build from `KIND:RATE` strings (e.g. `429:0.1`, `drop:0.05`); ValueError if bad."""
        rates: dict[str, float] = {}
        for spec in specs:
            kind, sep, rate_text = spec.partition(":")
            kind = kind.strip().lower()
            if not sep or not kind or not rate_text.strip():
                raise ValueError(f"fault {spec!r}: expected KIND:RATE, e.g. 429:0.1 or drop:0.05")
            try:
                rate = float(rate_text)
            except ValueError:
                raise ValueError(f"fault {spec!r}: RATE must be a number from 0 to 1") from None
            if kind in rates:
                raise ValueError(f"fault {spec!r}: {kind} given twice")
            rates[kind] = rate
        try:
            return cls(rates=rates, latency_ms=latency_ms, retry_after=retry_after)
        except ValueError as exc:
            raise ValueError(f"fault {', '.join(specs)}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "rates": dict(self.rates),
            "latency_ms": self.latency_ms,
            "retry_after": self.retry_after,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Faults:
        return cls(
            rates={str(k): float(v) for k, v in data.get("rates", {}).items()},
            latency_ms=int(data.get("latency_ms", 0)),
            retry_after=int(data.get("retry_after", 1)),
        )


@dataclass
class PendingFault:
    """A queued fault: the next `times` requests matching method and route get `kind`."""

    kind: str
    times: int
    method: str | None
    route: str | None

    def matches(self, method: str, route: str) -> bool:
        return self.method in (None, method) and self.route in (None, route)


def check_queued_kind(kind: str) -> None:
    """Queued faults (a test hook) take any kind of `FAULTS` and, beyond it, any 4xx/5xx."""
    if kind not in CONNECTION_FAULTS and not (kind.isdigit() and 400 <= int(kind) <= 599):
        raise ValueError(f"unknown fault kind {kind!r}")


def draw_fault(
    pending: list[PendingFault], faults: Faults, rng: Prng, method: str, route: str
) -> str | None:
    """A queued fault that matches first; else, for a mutating request, one drawn by rate."""
    for queued in pending:
        if not queued.matches(method, route):
            continue
        queued.times -= 1
        if queued.times <= 0:
            pending.remove(queued)
        return queued.kind
    if method not in MUTATING or not faults.rates:
        return None
    draw = rng.uniform()
    total = 0.0
    for kind in FAULT_KINDS:
        total += faults.rates.get(kind, 0.0)
        if draw < total:
            return kind
    return None


def fault_response(status: int, retry_after: int, headers: dict[str, str]) -> SimResponse:
    """The answer of a status fault (queued ones may use a status outside `FAULTS`)."""
    if status == RETRY_AFTER_STATUS:
        headers["retry-after"] = str(retry_after)
    message = f"simulated fault: {FAULTS.get(str(status), 'error')}"
    return SimResponse(status, error_body(status, message, code="simulated_fault"), headers)

"""A node remediation: its typed record, its state over time, its answer and saved form.

States follow the 2026-07 spec: one created through the API is `PENDING`; one the system
raises (the `request_remediation` test hook) is `PENDING_APPROVAL` until approved (→
`PENDING`) or rejected (→ `CANCELLED`); cancel works from `PENDING_APPROVAL` or `PENDING`.
A queued remediation then runs on the simulator's clock: `PENDING` for QUEUE_SECONDS,
`RUNNING` for RUN_SECONDS, then `SUCCEEDED` (scaled by the speed; instant at speed 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from reconciler.simulator.wire import ApiFailure, bad, format_time

# The spec's modes (the SDK's extra REMEDIATION_MODE_HOST_POWER_CYCLE is not in it).
MODES = (
    "REMEDIATION_MODE_VM_ONLY",
    "REMEDIATION_MODE_HOST_AWARE",
    "REMEDIATION_MODE_EVICT_WITHOUT_REPLACEMENT",
    "REMEDIATION_MODE_REBOOT_VM",
)
STATES = (
    "PENDING_APPROVAL",
    "PENDING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "CANCELLED",
    "AUTO_RESOLVED",
)
TRIGGERS = ("REMEDIATION_TRIGGER_MANUAL", "REMEDIATION_TRIGGER_AUTOMATED")
QUEUE_SECONDS = 60.0
RUN_SECONDS = 600.0
API_USER = "sim-user@together.sim"  # who requests and reviews through the API
SYSTEM_USER = "node-health-monitor"  # who raises automated remediations
ALL_INSTANCES = "-"


@dataclass
class StoredRemediation:
    """One remediation; `queued_at` is None while it awaits approval."""

    id: str
    cluster_id: str
    instance_id: str
    instance_name: str
    mode: str
    trigger: str
    created_at: float
    requested_by: str
    reason: str | None = None
    queued_at: float | None = None
    start_at: float | None = None  # when a queued one starts RUNNING
    end_at: float | None = None  # when it ends (SUCCEEDED), or when it was cancelled
    cancelled: bool = False
    reviewed_by: str | None = None
    review_time: float | None = None
    review_comment: str | None = None

    def state_at(self, now: float) -> str:
        if self.cancelled:
            return "CANCELLED"
        if self.queued_at is None or self.start_at is None or self.end_at is None:
            return "PENDING_APPROVAL"
        if now < self.start_at:
            return "PENDING"
        return "RUNNING" if now < self.end_at else "SUCCEEDED"

    def queue(self, now: float, speed: float) -> None:
        """Approved, or created through the API: queued now, then run on the clock."""
        scale = 0.0 if speed == 0 else 1.0 / speed
        self.queued_at = now
        self.start_at = now + QUEUE_SECONDS * scale
        self.end_at = self.start_at + RUN_SECONDS * scale

    def review(self, now: float, body: Mapping[str, Any]) -> None:
        self.reviewed_by = API_USER
        self.review_time = now
        self.review_comment = body.get("comment")

    def cancel(self, now: float) -> None:
        self.cancelled = True
        self.start_at = None if self.start_at is None or self.start_at > now else self.start_at
        self.end_at = now

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredRemediation:
        """A saved record; the optional members may be left out (a hand-written one)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def act_on(
    remediation: StoredRemediation, action: str, body: Any, now: float, speed: float
) -> None:
    """approve / reject / cancel, each allowed only from the states the spec names (409)."""
    state = remediation.state_at(now)
    allowed = ("PENDING_APPROVAL", "PENDING") if action == "cancel" else ("PENDING_APPROVAL",)
    if state not in allowed:
        raise ApiFailure(
            409,
            f"remediation {remediation.id} is {state}; {action} needs {' or '.join(allowed)}",
            code="failed_precondition",
        )
    if action == "approve":
        remediation.review(now, body)
        if "mode" in body:  # the SDK's approve may change the mode
            remediation.mode = body["mode"]
        remediation.queue(now, speed)
    elif action == "reject":
        remediation.review(now, body)
        remediation.cancel(now)
    else:
        remediation.cancel(now)


def remediation_view(remediation: StoredRemediation, now: float) -> dict[str, Any]:
    """The remediation as the API returns it at `now` (absent fields left out)."""
    state = remediation.state_at(now)
    started = remediation.start_at is not None and remediation.start_at <= now
    ended = state in ("SUCCEEDED", "CANCELLED")
    changes = [remediation.created_at, remediation.queued_at, remediation.review_time]
    changes += [remediation.start_at if started else None, remediation.end_at if ended else None]
    optional = {
        "reason": remediation.reason,
        "requested_by": remediation.requested_by,
        "reviewed_by": remediation.reviewed_by,
        "review_time": _time(remediation.review_time),
        "review_comment": remediation.review_comment,
        "start_time": _time(remediation.start_at) if started else None,
        "end_time": _time(remediation.end_at) if ended else None,
    }
    return {
        "id": remediation.id,
        "cluster_id": remediation.cluster_id,
        "instance_id": remediation.instance_id,
        "instance_name": remediation.instance_name,
        "mode": remediation.mode,
        "trigger": remediation.trigger,
        "state": state,
        "create_time": format_time(remediation.created_at),
        "update_time": format_time(max(t for t in changes if t is not None)),
        **{key: value for key, value in optional.items() if value is not None},
    }


def _time(t: float | None) -> str | None:
    return None if t is None else format_time(t)


def list_page(
    found: Sequence[StoredRemediation], query: Mapping[str, str], now: float
) -> dict[str, Any]:
    """A `ListRemediationsResponse`: filtered (`state`, `trigger`, `mode`, each a comma-joined
    list as the SDK sends it), ordered by creation (`order_by` "create_time desc" reverses),
    paged (`page_size`; `page_token` is the offset of the next page)."""
    views = [remediation_view(r, now) for r in sorted(found, key=lambda r: r.created_at)]
    for key in ("state", "trigger", "mode"):
        wanted = {v for v in query.get(key, "").split(",") if v}
        if wanted:
            views = [v for v in views if v[key] in wanted]
    if query.get("order_by", "").strip().lower() == "create_time desc":
        views.reverse()
    offset = _count(query, "page_token", 0)
    size = _count(query, "page_size", 50) or 50
    page = views[offset : offset + size]
    has_next = offset + size < len(views)
    return {
        "remediations": page,
        "next_page_token": str(offset + size) if has_next else "",
        "has_next": has_next,
    }


def _count(query: Mapping[str, str], key: str, default: int) -> int:
    text = query.get(key, "")
    if not text:
        return default
    if not text.isdigit():
        raise bad(f"{key} must be a whole number; got {text!r}", key)
    return int(text)

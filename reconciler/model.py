"""Frozen values that flow through the pipeline: spec → live → diff → plan → render/apply.

Pure: no I/O. After spec.py and live.py nothing downstream touches raw dicts except through
the frozen `fields` mappings defined here (JSON-like values, dicts frozen, lists as tuples).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from msgspec import Struct
from msgspec.structs import force_setattr

# Re-exported (their old home, which most modules import them from): `X as X` marks it.
from reconciler.frozen import freeze as freeze
from reconciler.frozen import frozen_map as frozen_map
from reconciler.frozen import thaw as thaw

#: The default of every empty mapping field: read-only, so one is shared.
_EMPTY: Mapping[str, Any] = frozen_map()


def group_by_kind(resources: Any) -> dict[str, tuple[Any, ...]]:
    """Resources by `kind`, each group in order: grouped once, as every stage asks `of_kind`."""
    groups: dict[str, list[Any]] = {}
    for resource in resources:
        groups.setdefault(resource.kind, []).append(resource)
    return {kind: tuple(group) for kind, group in groups.items()}


def _set_key(resource: Any) -> None:
    """A Desired's or Live's `key` (`resource_key` of its kind, name and parent), set once at
    construction: a 10,000-cluster plan asked for it ~10 times per resource."""
    force_setattr(resource, "key", resource_key(resource.kind, resource.name, resource.parent))


def resource_key(kind: str, name: str, parent: str | None = None) -> str:
    """`cluster.train-a`, or for a nested kind `add-on.train-a/dash` (unique per parent)."""
    return f"{kind}.{parent}/{name}" if parent is not None else f"{kind}.{name}"


# --- enums -----------------------------------------------------------------------------------


class Ensure(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    BLOCKED = "blocked"


# --- the spec (desired) ----------------------------------------------------------------------


class Location(Struct, frozen=True):
    """Where a value was written: 1-based line and column, as editors show them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Lifecycle(Struct, frozen=True):
    prevent_destroy: bool = False
    ignore_changes: tuple[str, ...] = ()
    replace_on_change: bool = False
    allow_forfeit: bool = False  # a delete or replace may forfeit a prepaid reservation
    expires_at: str | None = None  # RFC 3339 (canonical UTC): after it, the plan deletes it


class Desired(Struct, frozen=True):
    """One resource of the spec, of any kind.

    `fields` holds the API create fields the user set (API names verbatim, defaults merged,
    legacy names translated), without the name field and without the tool-only keys. `refs`
    names other spec resources this one uses (`{"volume": "team-data"}`), resolved to ids at
    apply.
    """

    kind: str
    name: str
    fields: Mapping[str, Any] = _EMPTY
    ensure: Ensure = Ensure.PRESENT
    lifecycle: Lifecycle = Lifecycle()
    refs: Mapping[str, str] = _EMPTY
    location: Location | None = None
    parent: str | None = None  # a nested kind's resource: the name of the one it belongs to

    key: str = ""  # computed once (a value passed in is replaced): see _set_key

    def __post_init__(self) -> None:
        _set_key(self)


class Prune(Struct, frozen=True):
    enabled: bool = False
    name_prefix: str | None = None


#: Plan defaults the command line shows in --help (here, not in reconciler.plan, so that the
#: options import no planning code): --max-deletes, and --warn-expiry in seconds (7 days).
DEFAULT_MAX_DELETES = 3
DEFAULT_WARN_EXPIRY = 7 * 86_400.0


class Budget(Struct, frozen=True):
    """The spec's `budget:` (or the command line's): how much a plan may add."""

    max_hourly_increase: float | None = None  # USD per hour (needs prices)
    max_gpu_increase: int | None = None


class PricesRef(Struct, frozen=True):
    """The spec's `prices:`: a prices file, relative to the spec file that names it."""

    path: str
    location: Location


class Spec(Struct, frozen=True):
    resources: tuple[Desired, ...] = ()
    project_id: str | None = None
    prune: Prune = Prune()
    budget: Budget = Budget()
    prices: PricesRef | None = None
    warnings: tuple[str, ...] = ()  # `file:line:col: path: message`, e.g. removed fields
    digest: str = ""  # sha256 of the spec files' bytes, for saved plans

    _by_kind: Mapping[str, tuple[Desired, ...]] = _EMPTY  # computed once (see __post_init__)

    def __post_init__(self) -> None:
        force_setattr(self, "_by_kind", group_by_kind(self.resources))

    def of_kind(self, kind: str) -> tuple[Desired, ...]:
        return self._by_kind.get(kind, ())


# --- live state ------------------------------------------------------------------------------


class Live(Struct, frozen=True):
    """A resource as the API reports it; `fields` is in the same comparable form as desired.

    `links` holds the ids of other resources it uses, by reference key (`{"volume": (id,)}`).
    """

    kind: str
    id: str
    name: str
    status: str
    fields: Mapping[str, Any] = _EMPTY
    links: Mapping[str, tuple[str, ...]] = _EMPTY
    parent: str | None = None  # a nested kind's resource: the name of the one it belongs to
    parent_id: str | None = None
    attention: tuple[str, ...] = ()  # what a reviewer should see even with nothing to change

    key: str = ""  # computed once (a value passed in is replaced): see _set_key

    def __post_init__(self) -> None:
        _set_key(self)


class LiveState(Struct, frozen=True):
    resources: tuple[Live, ...] = ()
    _by_kind: Mapping[str, tuple[Live, ...]] = _EMPTY  # computed once (see __post_init__)

    def __post_init__(self) -> None:
        force_setattr(self, "_by_kind", group_by_kind(self.resources))

    def of_kind(self, kind: str) -> tuple[Live, ...]:
        return self._by_kind.get(kind, ())


class DriverVersion(Struct, frozen=True):
    id: str
    cuda_version: str
    nvidia_driver_version: str
    os: str = ""


class Region(Struct, frozen=True):
    """One entry of `GET /compute/regions`: what can be created there."""

    name: str
    gpu_types: tuple[str, ...] = ()
    drivers: tuple[DriverVersion, ...] = ()


# --- the plan --------------------------------------------------------------------------------


class FieldChange(Struct, frozen=True):
    """One field of one resource: `before` is None when unset live, `after` None when removed."""

    path: str
    before: Any
    after: Any
    forces_replacement: bool = False

    def __post_init__(self) -> None:
        # Frozen like every plan value, so a plan read back from JSON compares equal to itself.
        force_setattr(self, "before", freeze(self.before))
        force_setattr(self, "after", freeze(self.after))


class Action(Struct, frozen=True):
    """One step of a plan. `body` is what apply sends (create: all fields; update: changed)."""

    kind: ActionKind
    resource: str  # the kind's name: "cluster", "volume"
    name: str
    resource_id: str | None = None
    status: str | None = None
    changes: tuple[FieldChange, ...] = ()
    reason: str = ""
    body: Mapping[str, Any] = _EMPTY
    notes: tuple[str, ...] = ()
    intended: ActionKind | None = None  # for BLOCKED: what the action would have been
    refs: Mapping[str, str] = _EMPTY  # create: spec resources used
    parent: str | None = None  # a nested kind's action: the name of the resource it belongs to
    also_deletes: tuple[str, ...] = ()  # keys of what a delete or replace takes along

    @property
    def key(self) -> str:
        return resource_key(self.resource, self.name, self.parent)


class GpuChange(Struct, frozen=True):
    gpu_type: str
    before: int
    after: int


# --- money (issue 12): prices in, GPU-hours, costs, commitments and expiry out ---------------


class CapacityChange(Struct, frozen=True):
    """Committed GPUs of one GPU type and billing type, before → after."""

    gpu_type: str
    billing_type: str
    before: int
    after: int


class ResourceCost(Struct, frozen=True):
    """USD per hour of one planned resource: 0.0 where it does not exist, None when unpriced."""

    key: str
    before: float | None
    after: float | None


class CostSummary(Struct, frozen=True):
    """Hourly totals over the priced resources; `unknown` names those without a price."""

    currency: str
    source: str
    as_of: str
    before: float
    after: float
    unknown: tuple[str, ...] = ()
    priced: int = 0  # how many resources the totals count


class Commitment(Struct, frozen=True):
    """Prepaid capacity a delete would forfeit (`ends` None: the API reports no end)."""

    key: str
    billing_type: str
    ends: str | None
    gpu_days: float | None
    allowed: bool = False


class Expiry(Struct, frozen=True):
    """A dated end: a reservation ending soon, or a `lifecycle.expires_at` that passed."""

    key: str
    at: str
    days: float  # from now: negative when it has passed


class Money(Struct, frozen=True):
    capacity: tuple[CapacityChange, ...] = ()
    costs: tuple[ResourceCost, ...] = ()
    cost: CostSummary | None = None  # only with a prices file
    forfeits: tuple[Commitment, ...] = ()
    ending: tuple[Expiry, ...] = ()  # reservations that end within --warn-expiry
    expired: tuple[Expiry, ...] = ()  # lifecycle.expires_at passed: the plan deletes them


class Plan(Struct, frozen=True):
    actions: tuple[Action, ...] = ()
    unchanged: tuple[str, ...] = ()
    unmanaged: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    gpu_changes: tuple[GpuChange, ...] = ()
    fingerprints: Mapping[str, str] = _EMPTY
    project_id: str | None = None
    spec_digest: str = ""

    refusals: tuple[str, ...] = ()  # plan-wide safety rules that failed (e.g. --max-deletes)
    attention: tuple[str, ...] = ()  # managed resources needing a human (node repairs, …)
    # what the plan was made with (targets, excludes, allow_replace, max_deletes): a saved plan
    # is made again with the same before it runs
    selection: Mapping[str, Any] = _EMPTY
    snapshots: Mapping[str, Any] = _EMPTY  # redacted live fields
    money: Money = Money()

    @property
    def blocked(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind is ActionKind.BLOCKED)

    @property
    def is_blocked(self) -> bool:
        return bool(self.blocked or self.refusals)

    @property
    def has_changes(self) -> bool:
        return any(a.kind is not ActionKind.BLOCKED for a in self.actions)

    def count(self, kind: ActionKind) -> int:
        return sum(1 for a in self.actions if a.kind is kind)


# --- apply report ----------------------------------------------------------------------------


class Outcome(StrEnum):
    DONE = "done"
    SENT = "sent"  # the call was made; apply was interrupted before the resource settled
    FAILED = "failed"
    SKIPPED = "skipped"


class ActionResult(Struct, frozen=True):
    action: Action
    outcome: Outcome
    message: str = ""
    resource_id: str | None = None
    status: str | None = None
    elapsed: float = 0.0


class ApplyReport(Struct, frozen=True):
    results: tuple[ActionResult, ...] = ()
    interrupted: bool = False

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def has_failures(self) -> bool:
        return any(r.outcome in (Outcome.FAILED, Outcome.SKIPPED) for r in self.results)

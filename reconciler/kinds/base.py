"""What a resource kind is made of: its field table, endpoints, statuses, references, hooks.

Pure. Plain data plus optional hooks: a hook exists only where a kind has a rule of its own,
and every stage treats a missing hook as "nothing special".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from msgspec import Struct
from msgspec.structs import force_setattr

from reconciler.model import ActionKind, Region

#: What is read of each object of a list answer: (key, None) for the whole value, (key, keys)
#: for these keys of each object of the list the key holds.
Reads = tuple[tuple[str, tuple[str, ...] | None], ...]


class FieldClass(StrEnum):
    """How a change to a field is carried out (DESIGN §5)."""

    IN_PLACE = "in-place"  # one update call with only the changed fields
    REPLACE = "replace"  # delete, then create
    CREATE_ONLY = "create-only"  # sent on create, never reported back: a change is a note
    COMPUTED = "computed"  # reported by the API, never sent or compared
    NESTED = "nested"  # its items are a kind of their own (add-ons): sent with the create only


class _NoDefault:
    """Marker: the field has no default of this sort."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


class Field(Struct, frozen=True):
    """One row of a kind's field table."""

    name: str  # the spec's (and the create body's) name
    cls: FieldClass
    live: str | None = None  # the name the API echoes it under, when different
    normalise: Callable[[Any], Any] | None = None  # both sides, before comparing
    server_default: Any = NO_DEFAULT  # what the server assumes when a create omits it
    export_default: Any = NO_DEFAULT  # a live value equal to this is left out of exports
    sensitive: tuple[str, ...] = ()  # dotted sub-paths that are secret ("" = the whole field)
    unreported_matches: bool = False  # absent from a live answer: taken as what is wanted
    in_spec: bool = True  # declared in a spec item (False: the tool fills it in, or nobody)
    echoed_whole: bool = False  # the API echoes every nested key it holds (strict comparison)

    @property
    def is_compared(self) -> bool:
        return self.cls in (FieldClass.IN_PLACE, FieldClass.REPLACE)

    @property
    def live_name(self) -> str:
        return self.live or self.name


class Endpoints(Struct, frozen=True):
    """Where a kind lives in the API and how its answers are shaped."""

    collection: str  # GET lists, POST creates; `{collection}/{id}` gets, puts, deletes
    list_key: str  # the list answer's array: `{"clusters": [...]}`
    id_key: str
    name_key: str
    required: tuple[str, ...]  # string fields every object of this kind must carry
    update_id_in_body: bool = False  # PUT `{collection}` with the id in the body (volumes)
    delete_reports_success: bool = False  # DELETE answers `{"success": bool}` (volumes)
    noun: str = ""  # what a message calls one object; "" reads it off `id_key` (cluster_id)


class Statuses(Struct, frozen=True):
    """What a kind's `status` values mean to the plan and to apply."""

    default: str = "unknown"  # when an answer carries none
    ready: str | None = None  # apply waits for this after create and update
    deleting: str | None = None  # counts as gone; a create of the name waits for it
    failed: frozenset[str] = frozenset()  # will not become ready by itself: apply fails
    unhealthy: frozenset[str] = frozenset()  # flagged in plans
    provisioning_prefixes: tuple[str, ...] = ()  # an update waits these out before sending
    explanations: Mapping[str, str] = {}  # status → what it means


class Ref(Struct, frozen=True):
    """A reference by name from one kind to another: `volume: team-data` in a cluster."""

    key: str  # the spec key, and the key in Desired.refs / Action.refs / Live.links
    kind: str  # the kind referred to
    body_key: str  # the create body's field that carries the resolved id
    live_list: str  # the live answer's list of referenced objects (`volumes: [{volume_id}]`)
    live_id: str  # the id key inside each item of that list


class Parent(Struct, frozen=True):
    """A nested kind lives inside resources of another kind: add-ons inside clusters."""

    kind: str  # the parent kind
    key: str  # the parent's spec item key, create body key and answer key for the list


class Texts(Struct, frozen=True):
    """A kind's own words in plans (kept byte-identical to what users already see)."""

    update_reason: str = "fields differ from the spec"
    replace_reason: str = "a field that cannot be updated in place changed"
    replace_why: str = "changing {fields} forces replacement (delete, then create)"
    ungoverned: str = "{fields} of {names} is set by the API, not by the spec: not compared"


class CostBasis(Struct, frozen=True):
    """What a resource is billed by: a price row's key and how many GPUs it holds."""

    gpu_type: str
    billing_type: str
    region: str
    gpus: int


class Prepaid(Struct, frozen=True):
    """A prepaid reservation that has not ended (`ends` None: the API reports no end)."""

    billing_type: str
    ends: str | None
    gpu_days: float | None  # GPUs reserved × days left; None when the end is unknown


#: (spec defaults, spec item, is it present) → its API fields.
SpecItem = Callable[[Mapping[str, Any], Mapping[str, Any], bool], dict[str, Any]]
#: A merged spec item → (key or path inside it, message) for each problem.
SpecChecks = Callable[[Mapping[str, Any]], list[tuple[Any, str]]]
#: A spec item → (key, message) for each name it should no longer use.
SpecWarnings = Callable[[Mapping[str, Any]], list[tuple[str, str]]]
#: (wanted, live) comparable maps → a reason to block the update, or None.
UpdateGuard = Callable[[Mapping[str, Any], Mapping[str, Any]], str | None]
#: The catalogue check of a create body: why the regions cannot serve it, or None.
CatalogueCheck = Callable[[Mapping[str, Any], Mapping[str, Region]], str | None]


class Hooks(Struct, frozen=True):
    """The rules only some kinds have; None means the kind has no such rule."""

    # (spec defaults, spec item, is it present) → its fields as the API names them: defaults
    # merged under it, older names translated
    spec_item: SpecItem | None = None
    # a spec item (or `defaults:`) → (key, message) for each name the spec still accepts but
    # should no longer be written (older API names)
    spec_warnings: SpecWarnings | None = None
    # a present spec item, defaults merged → (key, message) for rules JSON Schema cannot say
    spec_checks: SpecChecks | None = None
    # desired comparable fields → completed with defaults that depend on other fields
    complete_desired: Callable[[dict[str, Any]], None] | None = None
    # desired fields → compared fields the spec does not govern (e.g. owned by an autoscaler)
    ungoverned: Callable[[Mapping[str, Any]], frozenset[str]] | None = None
    # (wanted, live fields) → top-level fields whose change must force replacement anyway
    forces_replacement: Callable[[Mapping[str, Any], Mapping[str, Any]], frozenset[str]] | None = (
        None
    )
    # the update body, reshaped to the update call's own item shapes
    update_body: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    update_guard: UpdateGuard | None = None
    catalogue: CatalogueCheck | None = None
    # comparable fields → what it is billed by and the GPUs it holds (the plan's GPU line,
    # GPU-hours and cost)
    cost_basis: Callable[[Mapping[str, Any]], CostBasis] | None = None
    # (live comparable fields, now in epoch seconds or None) → the prepaid reservation a
    # delete or replace would forfeit, or None
    prepaid: Callable[[Mapping[str, Any], float | None], Prepaid | None] | None = None
    # (create body, now in epoch seconds) → why apply should not wait for ready, or None
    settles_later: Callable[[Mapping[str, Any], float], str | None] | None = None
    # (desired fields, live resources it uses) → (key, note) for each that a delete of it takes
    # along (a cluster's inline shared volume): shown, and counted as a delete
    collateral: Callable[[Mapping[str, Any], list[Any]], list[tuple[str, str]]] | None = None
    # a create body refused with 409 although its resource was not listed (a disabled add-on
    # is left out of its cluster's answer) → the update that makes it what the create would
    conflict_update: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    # an API object → lines a reviewer should see even with nothing to change (a node repair
    # waiting for approval, a node not ready)
    attention: Callable[[Mapping[str, Any]], tuple[str, ...]] | None = None
    # what `attention` reads of the object: (key, None) for the whole value, (key, subkeys) for
    # these keys of each object of the list it holds (a plan's list answer is read to just that)
    attention_reads: Reads = ()
    # live comparable fields → the spec fields an export writes (secrets already dropped)
    export: Callable[[dict[str, Any]], dict[str, Any]] | None = None


class Kind(Struct, frozen=True, eq=False):
    """One resource kind, as every stage of the pipeline sees it."""

    name: str  # "cluster": in plans, keys (`cluster.train-a`) and messages
    plural: str  # the spec's top-level list key, "clusters"
    api: Endpoints
    fields: tuple[Field, ...]
    rank: Mapping[ActionKind, int]  # the apply order (DESIGN §6); lower runs first
    statuses: Statuses = Statuses()
    waits: bool = False  # apply waits for ready / gone (through the one poller)
    refs: tuple[Ref, ...] = ()
    prunable: bool = False  # live-only resources are pruned or listed as unmanaged
    parent: Parent | None = None  # a nested kind: its collection has a `{parent_id}` in it
    replace_needs_consent: bool = True  # a replace is blocked unless the spec or a flag allows it
    texts: Texts = Texts()
    hooks: Hooks = Hooks()
    # Worked out in __post_init__ from the fields above (a value passed in is replaced).
    by_name: Mapping[str, Field] = {}
    by_live_name: Mapping[str, Field] = {}
    unreported_matches: frozenset[str] = frozenset()
    echoed_whole: frozenset[str] = frozenset()
    # Precomputed for the hottest loop of a large plan (live.comparable_fields).
    compared_by_name: Mapping[str, Field] = {}
    compared_by_live_name: Mapping[str, Field] = {}
    server_defaults: tuple[tuple[str, Any], ...] = ()
    #: Keys of a spec item that are the tool's, not the API's fields.
    tool_keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        set_ = force_setattr
        set_(self, "by_name", {f.name: f for f in self.fields})
        set_(self, "by_live_name", {f.live_name: f for f in self.fields})
        set_(
            self,
            "unreported_matches",
            frozenset(f.name for f in self.fields if f.unreported_matches),
        )
        set_(self, "echoed_whole", frozenset(f.name for f in self.fields if f.echoed_whole))
        compared = [f for f in self.fields if f.is_compared]
        set_(self, "compared_by_name", {f.name: f for f in compared})
        # An answer may carry a field under its spec name as well as under its alias.
        set_(
            self,
            "compared_by_live_name",
            {**{f.name: f for f in compared}, **{f.live_name: f for f in compared}},
        )
        defaults = tuple(
            (f.name, f.server_default) for f in self.fields if f.server_default is not NO_DEFAULT
        )
        set_(self, "server_defaults", defaults)
        tool_keys = {self.api.name_key, "ensure", "lifecycle", *(r.key for r in self.refs)}
        set_(self, "tool_keys", frozenset(tool_keys))

    def names(self, *classes: FieldClass) -> frozenset[str]:
        """The spec names of the fields of these classes."""
        return frozenset(f.name for f in self.fields if f.cls in classes)

    @property
    def compared(self) -> frozenset[str]:
        return self.names(FieldClass.IN_PLACE, FieldClass.REPLACE)

    @property
    def sensitive_paths(self) -> frozenset[str]:
        return frozenset(
            f"{f.name}.{sub}" if sub else f.name for f in self.fields for sub in f.sensitive
        )

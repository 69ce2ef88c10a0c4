"""What apply asks of the API and decides between calls: the client's one generic path, the
order of dependent actions, idempotency keys, the check for names created twice, and how a
replace that deleted but could not create again is reported. Shell module (it lists once).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from reconciler import kinds
from reconciler.errors import ReconcilerError
from reconciler.kinds import Endpoints, Kind, Reads
from reconciler.model import Action, ActionKind, ActionResult, Outcome, thaw
from reconciler.render import show_value

CREATES = (ActionKind.CREATE, ActionKind.REPLACE)
DESTRUCTIVE = (ActionKind.DELETE, ActionKind.REPLACE)
T = TypeVar("T")


class ApiClient(Protocol):
    """The client calls apply makes: one generic path for every kind."""

    def list_resources(
        self, api: Endpoints, project_id: str | None = None, *, parent_id: str | None = None
    ) -> list[dict[str, Any]]: ...
    def list_converted(
        self,
        api: Endpoints,
        project_id: str | None,
        convert: Callable[[dict[str, Any]], T],
        reads: Reads | None = None,
    ) -> list[T]: ...
    def create_resource(
        self,
        api: Endpoints,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        parent_id: str | None = None,
    ) -> dict[str, Any]: ...
    def update_resource(
        self,
        api: Endpoints,
        resource_id: str,
        body: Mapping[str, Any],
        *,
        parent_id: str | None = None,
    ) -> dict[str, Any]: ...
    def delete_resource(
        self, api: Endpoints, resource_id: str, *, parent_id: str | None = None
    ) -> dict[str, Any]: ...


#: How a failed replace's message starts: the report lists these first.
NOT_RECREATED = "DELETED, NOT RECREATED"


def not_recreated(kind: Kind, action: Action, exc: Exception) -> str:
    """A replace whose delete went through and whose create was refused: say so first, with
    the create to send again (secrets shown as "(sensitive)")."""
    return (
        f"{NOT_RECREATED}: {kind.name} {action.name!r} was deleted and its create was refused "
        f"({exc}); the create to send again: {show_value(thaw(action.body))}; "
        "`reconciler plan` shows it as a create"
    )


def idempotency_key(project_id: str | None, action: Action, body: Mapping[str, Any]) -> str:
    """The same create of the same resource gets the same key in every run and every pipeline
    (project, kind, parent, name and body), so two applies at once send one create twice with
    one key, which an API that honours the header answers once."""
    identity = [project_id, action.resource, action.parent, action.name, thaw(body)]
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return "reconciler-" + hashlib.sha256(text.encode()).hexdigest()[:40]


class Dependencies:
    """Which actions must succeed before another: a create waits for the creates of what it
    refers to; a delete waits for the destructive actions of the kinds that refer to its kind.
    The actions are indexed once: asking for each of N actions scanned all N (O(N²))."""

    def __init__(self, actions: list[Action]) -> None:
        self._creates: dict[tuple[str, str], list[str]] = {}
        self._destructive: dict[str, list[str]] = {}
        for a in actions:
            if a.kind in CREATES:
                self._creates.setdefault((a.resource, a.name), []).append(a.key)
            if a.kind in DESTRUCTIVE:
                self._destructive.setdefault(a.resource, []).append(a.key)
        self._order = {a.key: i for i, a in enumerate(actions)}

    def of(self, action: Action) -> list[str]:
        """Keys of the actions `action` depends on, in the order of the action list."""
        kind = kinds.get(action.resource)
        found: list[str] = []
        if action.kind in CREATES and action.refs:
            wanted = {(r.kind, action.refs[r.key]) for r in kind.refs if r.key in action.refs}
            found = [key for w in wanted for key in self._creates.get(w, ())]
        elif action.kind is ActionKind.DELETE:
            referring = {k.name for k, _ in kinds.referrers(kind)}
            found = [key for r in referring for key in self._destructive.get(r, ())]
        return sorted(found, key=self._order.__getitem__)


def find_named(
    client: ApiClient, project_id: str | None, kind: Kind, name: str, parent_id: str | None
) -> dict[str, Any] | None:
    """The live object of that name (not one going away), if one is listed now."""
    for found in client.list_resources(kind.api, project_id, parent_id=parent_id):
        if found.get(kind.api.name_key) == name and found.get("status") != kind.statuses.deleting:
            return found
    return None


def _identities(
    kind: Kind,
) -> tuple[Callable[[dict[str, Any]], tuple[Any, Any, Any]], Reads]:
    """(object → its name, id and status; what that reads of it), for a list call."""
    name_key, id_key = kind.api.name_key, kind.api.id_key

    def identity(obj: dict[str, Any]) -> tuple[Any, Any, Any]:
        return obj.get(name_key), obj.get(id_key), obj.get("status")

    return identity, ((name_key, None), (id_key, None), ("status", None))


def check_duplicates(
    client: ApiClient, project_id: str | None, results: list[ActionResult]
) -> list[ActionResult]:
    """After its creates, list once more: a name held by two live resources (another apply
    created it at the same time) fails that action, naming both ids, never "complete"."""
    created = [
        r
        for r in results
        if r.outcome is Outcome.DONE and r.action.kind in CREATES and r.action.parent is None
    ]
    if not created:
        return results
    twins: dict[tuple[str, str], list[str]] = {}
    for kind in {
        kinds.get(r.action.resource).name: kinds.get(r.action.resource) for r in created
    }.values():
        try:  # read to just name, id and status: 1,000 clusters' answer is ~4 MB
            listed = client.list_converted(kind.api, project_id, *_identities(kind))
        except ReconcilerError:
            continue  # the creates were answered; a plan will show what is there
        for name, id_, status in listed:
            if status != kind.statuses.deleting:
                twins.setdefault((kind.name, str(name)), []).append(str(id_))
    # By identity: `result in created` compared whole dataclasses, O(N²): 0.16 s at 1,000.
    checked, created_here = [], {id(r) for r in created}
    for result in results:
        ids = twins.get((result.action.resource, result.action.name), [])
        if len(ids) > 1 and id(result) in created_here:
            result = ActionResult(
                result.action,
                Outcome.FAILED,
                f"{len(ids)} live {result.action.resource}s are now named "
                f"{result.action.name!r} (ids {', '.join(sorted(ids))}): another apply ran at "
                "the same time; delete the one you do not want, then run plan again",
                result.resource_id,
            )
        checked.append(result)
    return checked

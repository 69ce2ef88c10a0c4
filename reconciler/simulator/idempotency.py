"""Creates with an `Idempotency-Key` (the SDK sends one; the real API documents none, see
`SimState.ignore_idempotency_key`): the same key and body answer the resource that key
created while it lives; the same key with another body is 422 [INF]."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.simulator.wire import ApiFailure, SimRequest

if TYPE_CHECKING:
    from reconciler.simulator.state import SimState

Answer = dict[str, Any] | bytes


def idempotent(
    state: SimState,
    kind: str,
    request: SimRequest,
    body: Any,
    create: Callable[[], tuple[str, Answer]],
) -> Answer:
    """`create`'s answer (it returns the new resource's id and the answer), or, for a key
    seen before, the resource that key created."""
    key = request.headers.get("idempotency-key")
    if not key or state.ignore_idempotency_key:
        return create()[1]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    slot = f"{kind}:{key}"
    seen = state.idempotency.get(slot)
    if seen is not None:
        if seen["digest"] != digest:
            raise ApiFailure(
                422,
                "Idempotency-Key was already used with a different request body",
                code="idempotency_key_reused",
            )
        if kind == "cluster" and seen["id"] in state.clusters:
            return state.cluster_view(state.clusters[seen["id"]])
        if kind == "volume" and seen["id"] in state.volumes:
            return state.volume_view(state.volumes[seen["id"]])
        # The resource is gone: the key has expired, so this is a new request.
    created_id, answer = create()
    state.idempotency[slot] = {"id": created_id, "digest": digest}
    return answer

"""The built-in simulator of the Together GPU cluster API (DESIGN §9).

Pure parts: `wire` (requests, routes, errors), `catalogue`, `shapes` (request bodies),
`faults`, `clusters` (+ `cluster_requests`, `cluster_views`), `volumes`, `remediations`,
`subresources` (the add-on and remediation routes), `store` and `state` (the API facade,
`SimState`, with `idempotency` for its creates), `view_cache` (the clusters' JSON text
`sim serve` keeps between requests).
Shells: `persist` (the state file), `transport` (in-process, for httpx) and `http` (a
loopback socket).
"""

from __future__ import annotations

from reconciler.simulator.clusters import DEMO_SPEED
from reconciler.simulator.faults import Faults
from reconciler.simulator.state import SimState
from reconciler.simulator.wire import SimRequest, SimResponse

__all__ = ["DEMO_SPEED", "Faults", "SimRequest", "SimResponse", "SimState"]

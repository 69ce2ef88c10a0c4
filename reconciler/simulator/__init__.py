"""The built-in simulator of the Together GPU cluster API (DESIGN §9).

`state` is the pure API, `transport` serves it in-process to httpx, `http` over a socket.
"""

from __future__ import annotations

from reconciler.simulator.state import DEMO_SPEED, Faults, SimRequest, SimResponse, SimState

__all__ = ["DEMO_SPEED", "Faults", "SimRequest", "SimResponse", "SimState"]

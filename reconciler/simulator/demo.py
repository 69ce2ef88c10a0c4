"""Seeds a simulator state file with a small 'existing account' for `make demo`.

Run as `python -m reconciler.simulator.demo STATE_FILE`: one cluster that the example spec
marks `ensure: absent`, and one that no spec declares (it shows up as unmanaged).
"""

from __future__ import annotations

import sys
import time

from reconciler.simulator.clusters import DEMO_SPEED
from reconciler.simulator.persist import save_state
from reconciler.simulator.state import SimState


def seed(state_file: str) -> None:
    state = SimState(clock=time.time, speed=DEMO_SPEED)
    state.add_cluster(cluster_name="old-experiment", num_gpus=8)
    state.add_cluster(cluster_name="notebook-dev", num_gpus=8, gpu_type="H200_SXM")
    save_state(state, state_file)


if __name__ == "__main__":
    seed(sys.argv[1] if len(sys.argv) > 1 else ".reconciler/sim.json")

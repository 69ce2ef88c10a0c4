#!/usr/bin/env bash
# `make demo`: the main job on the built-in simulator — validate, plan, apply, plan again.
set -euo pipefail
BIN=${1:-.venv/bin}
STATE=.reconciler/demo-sim.json
rm -f "$STATE"
run() { echo; echo "\$ reconciler $*"; "$BIN/reconciler" "$@"; }

# A few clusters that already exist in the simulated account, as a real account would have.
"$BIN/python" -m reconciler.simulator.demo "$STATE"

run validate -f examples/clusters.yaml
run --sim="$STATE" plan -f examples/clusters.yaml
run --sim="$STATE" apply -f examples/clusters.yaml --auto-approve
run --sim="$STATE" plan -f examples/clusters.yaml --detailed-exitcode
echo
echo "Demo complete: the second plan shows no changes. Simulator state: $STATE"

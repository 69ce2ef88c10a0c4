"""Money through the real CLI on the in-process simulator (issue 12): prices from a flag, the
environment or the spec; the budget gate and the forfeit guard (exit 3); expiry (drift exit 2);
bad inputs (exit 1 with a location); the example CI policy on the JSON plan.

Time is injected with the hidden `--now`, and the simulator's reservations are dated from the
wall clock only where their distance from now is what counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from reconciler.simulator.wire import format_time
from tests.conftest import spec_header
from tests.integration.helpers import (
    run_cli,
    run_in_pty,
    seed_sim_file,
    sim_args,
    write_spec,
)

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "policy" / "money_policy.py"
NOW = "2030-01-02T00:00:00Z"

SPEC = spec_header("{top}") + "  - cluster_name: train\n    num_gpus: {gpus}\n"
#: A test fixture, not a real price.
PRICES = """\
version: 1
currency: USD
source: test fixture (not a real price)
as_of: "2026-11-30"
rows:
  - {gpu_type: H100_SXM, billing_type: ON_DEMAND, region: "*", usd_per_gpu_hour: 2.5}
"""


def account(tmp_path: Path, gpus: int = 64, top: str = "") -> tuple[list[str], str]:
    """A simulator holding `train` with 8 H100s, and a spec asking for `gpus`."""
    sim = tmp_path / "sim.json"
    seed_sim_file(sim, [{"cluster_name": "train", "num_gpus": 8}])
    write_spec(tmp_path, PRICES, "prices.yaml")
    return sim_args(sim), write_spec(tmp_path, SPEC.format(top=top, gpus=gpus))


def test_prices_flag_shows_the_added_dollars(tmp_path: Path) -> None:
    """--prices: the cluster's cost line and the totals, before anything is applied."""
    sim, spec = account(tmp_path)
    result = run_cli([*sim, "plan", "-f", spec, "--prices", str(tmp_path / "prices.yaml")])
    assert result.code == 0, result.all
    assert "      # cost: $20.00/h -> $160.00/h (+$140.00/h, +$102,200.00/month)\n" in result.out
    assert result.out.endswith(
        "Committed GPUs: H100_SXM ON_DEMAND 8 -> 64 (+56; 5,840 -> 46,720 GPU-hours/month).\n"
        "Cost: $20.00/h -> $160.00/h (+$140.00/h); $14,600.00 -> $116,800.00 per month of 730 h "
        "(+$102,200.00). Prices: test fixture (not a real price), as of 2026-11-30.\n"
    )


def test_prices_from_the_environment_and_from_the_spec(tmp_path: Path) -> None:
    """RECONCILER_PRICES, or `prices:` relative to the spec file, give the same cost line."""
    sim, spec = account(tmp_path)
    env = {"RECONCILER_PRICES": str(tmp_path / "prices.yaml")}
    from_env = run_cli([*sim, "plan", "-f", spec], env=env)
    sim, spec = account(tmp_path, top="prices: prices.yaml\n")
    from_spec = run_cli([*sim, "plan", "-f", spec])  # relative to the spec, not the cwd
    assert from_env.code == from_spec.code == 0
    assert "Cost: $20.00/h -> $160.00/h" in from_env.out
    assert from_spec.out == from_env.out


def test_budget_gate_blocks_with_exit_3(tmp_path: Path) -> None:
    """Over budget: the plan is shown, then refused (exit 3) naming the rise and who adds it."""
    sim, spec = account(tmp_path, top="prices: prices.yaml\nbudget: {max_hourly_increase: 100}\n")
    result = run_cli([*sim, "plan", "-f", spec])
    assert result.code == 3, result.all
    reason = (
        "this plan raises the hourly cost by $140.00/h (in all $20.00/h -> $160.00/h), more than "
        'the budget of $100.00/h (budget.max_hourly_increase); largest: cluster "train" '
        "+$140.00/h; raise the budget if that is intended"
    )
    assert f"Blocked: {reason}\n" in result.out
    assert result.err == f"Error: plan blocked by a safety rule:\n  {reason}\n"
    raised = run_cli([*sim, "plan", "-f", spec, "--max-hourly-increase", "140"])
    assert raised.code == 0, raised.all
    gpus = run_cli(
        [*sim, "plan", "-f", spec, "--max-hourly-increase", "500", "--max-gpu-increase", "8"]
    )
    assert gpus.code == 3 and "this plan adds 56 GPUs, more than the budget of 8" in gpus.err


def test_new_user_sees_the_added_dollars_before_typing_yes(tmp_path: Path) -> None:
    """8 -> 64 H100s with a prices file: the dollars per hour are on screen at the prompt."""
    sim, spec = account(tmp_path, top="prices: prices.yaml\n")
    code, screen = run_in_pty([*sim, "apply", "-f", spec], b"no")
    assert code == 1
    shown, prompt = screen.split("Do you want to perform these actions?")
    assert "# cost: $20.00/h -> $160.00/h (+$140.00/h, +$102,200.00/month)" in shown
    assert "Cost: $20.00/h -> $160.00/h (+$140.00/h)" in shown
    assert "Apply cancelled; nothing was changed." in prompt


EXPIRING = """\
version: 1
clusters:
  - cluster_name: test-tmp
    region: us-central-8
    gpu_type: H100_SXM
    num_gpus: 8
    cuda_version: "12.6"
    nvidia_driver_version: "560"
    billing_type: ON_DEMAND
    lifecycle:
      expires_at: "2030-01-01T00:00:00Z"
"""


def test_expired_cluster_is_drift_and_a_proposed_delete(tmp_path: Path) -> None:
    """Past expires_at: drift exits 2 saying "expired"; plan proposes the delete."""
    sim = tmp_path / "sim.json"
    seed_sim_file(sim, [{"cluster_name": "test-tmp"}])
    spec = write_spec(tmp_path, EXPIRING)
    before = run_cli([*sim_args(sim), "drift", "-f", spec, "--now", "2029-12-31T23:59:59Z"])
    assert before.code == 0, before.all
    drift = run_cli([*sim_args(sim), "drift", "-f", spec, "--now", NOW])
    assert drift.code == 2, drift.all
    assert drift.out.splitlines()[-1] == (
        'Expired: cluster "test-tmp": lifecycle.expires_at 2030-01-01T00:00:00Z has passed; '
        "this plan deletes it."
    )
    plan = run_cli([*sim_args(sim), "plan", "-f", spec, "--now", NOW, "--format", "json"])
    document = json.loads(plan.out)
    assert (document["summary"]["delete"], document["actions"][0]["reason"]) == (
        1,
        "expired: lifecycle.expires_at 2030-01-01T00:00:00Z has passed",
    )
    assert document["money"]["expired"] == [
        {"key": "cluster.test-tmp", "at": "2030-01-01T00:00:00Z", "days": -1.0}
    ]


SCHEDULED = """\
version: 1
clusters:
  - cluster_name: window
    ensure: absent
"""


def scheduled(tmp_path: Path, days_left: float) -> tuple[list[str], str]:
    """A SCHEDULED_CAPACITY cluster whose window ends `days_left` from the wall clock, and
    the spec lines that declare it as it is."""
    sim = tmp_path / "sim.json"
    now = time.time()
    window = {
        "billing_type": "SCHEDULED_CAPACITY",
        "reservation_start_time": format_time(now - 86_400),
        "reservation_end_time": format_time(now + days_left * 86_400),
    }
    seed_sim_file(sim, [{"cluster_name": "window", **window}])
    lines = "".join(f"    {key}: {json.dumps(value)}\n" for key, value in window.items())
    declared = (
        "    region: us-central-8\n    gpu_type: H100_SXM\n    num_gpus: 8\n"
        '    cuda_version: "12.6"\n    nvidia_driver_version: "560"\n' + lines
    )
    return sim_args(sim), declared


def test_forfeit_guard_blocks_and_the_flag_allows(tmp_path: Path) -> None:
    """Deleting a scheduled window mid-way: exit 3 with the reason; --allow-forfeit NAME: ok."""
    sim, _ = scheduled(tmp_path, 30)
    spec = write_spec(tmp_path, SCHEDULED)
    blocked = run_cli([*sim, "plan", "-f", spec])
    assert blocked.code == 3
    assert "and forfeit its prepaid SCHEDULED_CAPACITY capacity: reserved until" in blocked.err
    assert (
        "~240 GPU-days prepaid; set lifecycle.allow_forfeit: true or pass --allow-forfeit "
        "window if that is intended" in blocked.err
    )
    allowed = run_cli([*sim, "plan", "-f", spec, "--allow-forfeit", "window"])
    assert allowed.code == 0, allowed.all
    assert "# note: forfeits its prepaid SCHEDULED_CAPACITY capacity" in allowed.out


def test_reservation_ending_soon_is_a_warning_not_drift(tmp_path: Path) -> None:
    """Ends in 2 days: plan and drift warn (drift still exits 0); --warn-expiry 1 is quiet."""
    sim, declared = scheduled(tmp_path, 2)
    spec = write_spec(tmp_path, SCHEDULED.replace("    ensure: absent\n", declared))
    drift = run_cli([*sim, "drift", "-f", spec])
    warning = [line for line in drift.out.splitlines() if line.startswith("Warning: ")]
    assert drift.code == 0, drift.all
    assert len(warning) == 1 and "its reservation ends" in warning[0], drift.all
    assert "(in 2.0 days), and the cluster is decommissioned then." in warning[0]
    quiet = run_cli([*sim, "drift", "-f", spec, "--warn-expiry", "1"])
    assert "Warning: " not in quiet.out


def test_bad_prices_inputs_exit_1_with_a_location(tmp_path: Path) -> None:
    """A missing --prices file, a missing `prices:` file and a bad prices file: exit 1."""
    sim, spec = account(tmp_path)
    missing = run_cli([*sim, "plan", "-f", spec, "--prices", str(tmp_path / "nope.yaml")])
    assert missing.code == 1
    assert missing.err.startswith(f"Error: --prices: cannot read the prices file {tmp_path}/nope")
    sim, spec = account(tmp_path, top="prices: nope.yaml\n")
    named = run_cli([*sim, "plan", "-f", spec])
    assert named.code == 1
    assert f"{spec}:2:9: prices: cannot read the prices file {tmp_path}/nope.yaml" in named.err
    write_spec(tmp_path, PRICES.replace("2.5}", "-1}"), "prices.yaml")
    bad = run_cli([*sim, "plan", "-f", spec, "--prices", str(tmp_path / "prices.yaml")])
    assert bad.code == 1
    assert (
        f"{tmp_path}/prices.yaml:6:82: rows[0].usd_per_gpu_hour: must be a price above 0" in bad.err
    )


def test_bad_money_keys_in_a_spec_are_located(tmp_path: Path) -> None:
    """validate: a bad expires_at, a negative budget, an unknown lifecycle key; each located."""
    spec = write_spec(
        tmp_path,
        EXPIRING.replace('"2030-01-01T00:00:00Z"', "tomorrow").replace(
            "version: 1\n", "version: 1\nbudget: {max_gpu_increase: -8}\n"
        ),
    )
    result = run_cli(["validate", "-f", spec])
    assert result.code == 1
    assert f"{spec}:2:28: budget.max_gpu_increase: -8 is less than the minimum of 0" in result.err
    assert (
        f'{spec}:12:19: clusters[0].lifecycle.expires_at: "tomorrow" must be an RFC 3339 '
        "date-time such as 2026-05-01T00:00:00Z" in result.err
    )


def test_a_prices_file_in_a_spec_directory_is_checked_not_read_as_a_spec(tmp_path: Path) -> None:
    """`validate -f dir/` with prices.yaml in it: checked as prices, not refused as a spec."""
    write_spec(tmp_path, EXPIRING)
    write_spec(tmp_path, PRICES, "prices.yaml")
    assert run_cli(["validate", "-f", str(tmp_path)]).out == "Valid: 1 cluster(s), 0 volume(s).\n"
    write_spec(tmp_path, PRICES.replace("USD", "usd"), "prices.yaml")
    bad = run_cli(["validate", "-f", str(tmp_path)])
    assert bad.code == 1 and "prices.yaml:2:11: currency:" in bad.err
    # examples/prices.yaml sits beside examples/clusters.yaml: checked as prices there too.
    examples = run_cli(
        [
            "validate",
            "-f",
            str(ROOT / "examples" / "clusters.yaml"),
            "-f",
            str(ROOT / "examples" / "prices.yaml"),
        ]
    )
    assert examples.code == 0, examples.all


def test_example_policy_gates_the_json_plan(tmp_path: Path) -> None:
    """examples/policy/money_policy.py, as a CI step runs it on `plan --format json`."""
    sim, spec = account(tmp_path, top="prices: prices.yaml\n")
    plan = run_cli([*sim, "plan", "-f", spec, "--format", "json"])
    (tmp_path / "plan.json").write_text(plan.out)

    def policy(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, str(POLICY), str(tmp_path / "plan.json"), *args]
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    over = policy("--max-monthly-increase", "50000", "--require-prices")
    assert (over.returncode, over.stdout) == (
        1,
        "policy: monthly cost rises by $102,200.00, more than $50,000.00\npolicy: FAILED\n",
    )
    fits = policy("--max-monthly-increase", "200000", "--max-gpu-increase", "56")
    assert (fits.returncode, fits.stdout) == (0, "policy: passed\n")
    (tmp_path / "plan.json").write_text("{}")
    assert policy().returncode == 2


def test_bad_money_options_are_usage_errors(tmp_path: Path) -> None:
    """--now that is not RFC 3339, a negative --warn-expiry or budget: exit 64, nothing read."""
    sim, spec = account(tmp_path)
    for option in (["--now", "soon"], ["--warn-expiry", "-1"], ["--max-hourly-increase", "-5"]):
        result = run_cli([*sim, "plan", "-f", spec, *option])
        assert result.code == 64, (option, result.all)
        assert f"Invalid value for '{option[0]}'" in result.err

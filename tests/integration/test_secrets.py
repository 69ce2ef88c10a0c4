"""Planted canaries (API key, kube_config, OIDC ca_cert) never appear in any output (§5, §10).

Runs the real CLI over the loopback socket (`sim_http_server`, `--base-url`), so the key
travels in a real Authorization header; apply uses --no-wait so no real poll interval passes.
"""

from __future__ import annotations

import os
import traceback
from base64 import b64decode
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import AuthError
from reconciler.simulator.http import SimServer
from reconciler.simulator.state import ROUTE_CLUSTERS, SimState
from tests.integration.helpers import CliResult, run_cli, write_spec

API_KEY = "tgp_v1_CANARYapikey7f3a9c11d0"
WRONG_KEY = "tgp_v1_CANARYwrongkey0b55e2"
KUBE_SECRET = "CANARYkubetoken4d2e"
CA_CERT = "-----BEGIN CERTIFICATE-----CANARYcacertA-----END CERTIFICATE-----"
CA_CERT_2 = "-----BEGIN CERTIFICATE-----CANARYcacertB-----END CERTIFICATE-----"
CA_CERT_3 = "-----BEGIN CERTIFICATE-----CANARYcacertC-----END CERTIFICATE-----"
CANARIES = (API_KEY, WRONG_KEY, KUBE_SECRET, "CANARY")

OIDC_BASE = {
    "issuer_url": "https://issuer.example",
    "client_id": "reconciler",
    "username_claim": "email",
    "username_prefix": "oidc:",
    "group_claim": "groups",
    "group_prefix": "oidc:",
}


def spec_text(kept_ca: str = CA_CERT, kept_gpus: int = 8, extra: str = "") -> str:
    def oidc(ca: str) -> str:
        lines = "".join(f"      {k}: '{v}'\n" for k, v in OIDC_BASE.items())
        return f"    oidc_config:\n{lines}      ca_cert: '{ca}'\n"

    return (
        "version: 1\ndefaults:\n  region: us-central-8\n  gpu_type: H100_SXM\n"
        '  cuda_version: "12.6"\n  nvidia_driver_version: "560"\n  billing_type: ON_DEMAND\n'
        "clusters:\n"
        f"  - cluster_name: kept\n    num_gpus: {kept_gpus}\n"
        + oidc(kept_ca)
        + "  - cluster_name: fresh\n    num_gpus: 8\n"
        + oidc(CA_CERT)
        + extra
    )


class TestSecretsOverLoopback:
    """Every command, success and failure, against the simulator on a real socket."""

    @pytest.fixture
    def server(self, sim_state: SimState, sim_http_server: SimServer) -> Iterator[SimServer]:
        sim_state.token = API_KEY
        kept = sim_state.add_cluster(
            cluster_name="kept", oidc_config={**OIDC_BASE, "ca_cert": CA_CERT}
        )
        sim_state.clusters[kept["cluster_id"]].kube_secret = KUBE_SECRET
        assert KUBE_SECRET in b64decode(sim_state.clusters_named("kept")[0]["kube_config"]).decode()
        yield sim_http_server

    @pytest.fixture
    def key_file(self, tmp_path: Path) -> str:
        path = tmp_path / "api-key"
        path.write_text(API_KEY + "\n")
        os.chmod(path, 0o600)
        return str(path)

    def run(
        self, server: SimServer, *argv: str, key: str = API_KEY, key_file: str = ""
    ) -> CliResult:
        base = ["--base-url", server.url]
        if key_file:
            return run_cli([*base, "--api-key-file", key_file, *argv])
        return run_cli([*base, *argv], env={"TOGETHER_API_KEY": key})

    def test_no_canary_in_any_output(
        self, server: SimServer, sim_state: SimState, tmp_path: Path, key_file: str
    ) -> None:
        """plan/show/apply/drift/destroy, success and failure: no secret printed or saved."""
        spec = write_spec(tmp_path, spec_text())
        seen: list[tuple[str, CliResult]] = []

        def step(label: str, code: int, *argv: str, **kwargs: str) -> CliResult:
            result = self.run(server, *argv, **kwargs)
            assert result.code == code, (label, result.out, result.err)
            seen.append((label, result))
            return result

        plan_file = tmp_path / "plan.json"
        planned = step(
            "plan --out", 0, "plan", "-f", spec, "--out", str(plan_file), key_file=key_file
        )
        assert '"ca_cert": "(sensitive)"' in planned.out
        step("plan json", 0, "plan", "-f", spec, "--format", "json")
        step("plan markdown", 0, "plan", "-f", spec, "--format", "markdown")
        step("show", 0, "show", str(plan_file))
        step("show json", 0, "show", str(plan_file), "--format", "json")
        step("apply planfile", 0, "apply", str(plan_file), "-f", spec, "--no-wait")
        # The secret was sent (restored from the spec), though the plan file never held it.
        (fresh,) = sim_state.clusters_named("fresh")
        assert fresh["oidc_config"]["ca_cert"] == CA_CERT
        step("drift clean", 0, "drift", "-f", spec, key_file=key_file)

        # A changed ca_cert forces replacement: blocked in plan, reported by drift.
        spec_2 = write_spec(tmp_path, spec_text(kept_ca=CA_CERT_2), name="spec2.yaml")
        blocked = step("plan blocked", 3, "plan", "-f", spec_2)
        assert "(sensitive)" in blocked.out
        step("drift changed", 2, "drift", "-f", spec_2)
        step("drift changed json", 2, "drift", "-f", spec_2, "--format", "json")

        # A saved plan gone stale by an out-of-band ca_cert change: exit 4, secret not named.
        spec_3 = write_spec(tmp_path, spec_text(kept_gpus=16), name="spec3.yaml")
        plan_3 = tmp_path / "plan3.json"
        step("plan --out 3", 0, "plan", "-f", spec_3, "--out", str(plan_3))
        (kept,) = sim_state.clusters_named("kept")
        sim_state.oob_update(kept["cluster_id"], oidc_config={**OIDC_BASE, "ca_cert": CA_CERT_3})
        stale = step("apply stale", 4, "apply", str(plan_3), "-f", spec_3)
        assert "oidc_config" in stale.err
        sim_state.oob_update(kept["cluster_id"], oidc_config={**OIDC_BASE, "ca_cert": CA_CERT})

        # A create the API refuses: exit 5 with the API's message, no secret.
        spec_4 = write_spec(
            tmp_path,
            spec_text(extra="  - cluster_name: refused\n    num_gpus: 8\n"),
            name="spec4.yaml",
        )
        sim_state.queue_fault(422, method="POST", route=ROUTE_CLUSTERS)
        failed = step("apply failing", 5, "apply", "-f", spec_4, "--auto-approve", "--no-wait")
        assert "422" in failed.out

        # Wrong key: 401, and the key that was tried is not echoed.
        wrong = step("plan wrong key", 1, "plan", "-f", spec, key=WRONG_KEY)
        assert "401" in wrong.err
        step(
            "destroy",
            0,
            "destroy",
            "-f",
            spec_4,
            "--auto-approve",
            "--no-wait",
            "--max-deletes",
            "5",
        )
        assert sim_state.clusters_named("kept") == []

        files = {p.name: p.read_text() for p in (plan_file, plan_3)}
        for canary in CANARIES:
            for label, result in seen:
                assert canary not in result.out, (label, canary)
                assert canary not in result.err, (label, canary)
            for name, text in files.items():
                assert canary not in text, (name, canary)

    def test_key_file_readable_by_others_is_refused_quietly(
        self, server: SimServer, tmp_path: Path
    ) -> None:
        """A key file others can read is refused (exit 1) without printing the key."""
        path = tmp_path / "loose-key"
        path.write_text(API_KEY)
        os.chmod(path, 0o644)
        spec = write_spec(tmp_path, spec_text())
        result = self.run(server, "plan", "-f", spec, key_file=str(path))
        assert result.code == 1
        assert "chmod 600" in result.err
        assert API_KEY not in result.all

    def test_debug_traceback_keeps_the_key_out(self, server: SimServer, tmp_path: Path) -> None:
        """--debug re-raises with the traceback; neither it nor the message holds the key."""
        spec = write_spec(tmp_path, spec_text())
        with pytest.raises(AuthError) as caught:
            self.run(server, "--debug", "plan", "-f", spec, key=WRONG_KEY)
        text = "".join(traceback.format_exception(caught.value))
        assert "401" in text
        assert WRONG_KEY not in text

"""`reconciler kubeconfig NAME [-o FILE | --merge]` against the simulator (DESIGN §9b, issue 9).

The real CLI runs in-process on a `--sim` state file whose cluster carries a planted canary
token; every run's stdout and stderr are checked for it (decoded and base64) and for the API
key. Files are written under tmp_path; HOME and KUBECONFIG point there too.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.simulator.cluster_views import kube_config
from reconciler.simulator.http import SimServer
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import save_state
from tests.integration.helpers import CliResult, SimSpy, new_sim_state, run_cli, sim_args

KUBE_SECRET = "CANARYkubeSecret9e41"
API_KEY = "tgp_v1_CANARYkubeconfigKey77"
OTHER = {
    "apiVersion": "v1",
    "kind": "Config",
    "preferences": {"colors": True},
    "clusters": [{"name": "home", "cluster": {"server": "https://home.example:6443"}}],
    "contexts": [{"name": "home", "context": {"cluster": "home", "user": "me"}}],
    "current-context": "home",
    "users": [{"name": "me", "user": {"token": "home-token"}}],
}


class Sim:
    """A state file with clusters; `run` runs the CLI on it and checks every output for secrets."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.file = tmp_path / "sim.json"
        self.state = new_sim_state()
        self.results: list[CliResult] = []

    def add(self, name: str = "train-a", **fields: Any) -> str:
        cluster_id: str = self.state.add_cluster(cluster_name=name, **fields)["cluster_id"]
        self.state.clusters[cluster_id].kube_secret = KUBE_SECRET
        save_state(self.state, str(self.file))
        return cluster_id

    def encoded(self, name: str = "train-a") -> str:
        value: str = self.state.clusters_named(name)[0]["kube_config"]
        return value

    def run(self, *argv: str, env: dict[str, str | None] | None = None) -> CliResult:
        environment: dict[str, str | None] = {
            "HOME": str(self.dir / "home"),
            "KUBECONFIG": None,
            **(env or {}),
        }
        result = run_cli([*sim_args(self.file), "kubeconfig", *argv], env=environment)
        self.results.append(result)
        return result


def assert_no_secret(result: CliResult, encoded: str = "") -> None:
    """Neither the kubeconfig's token, nor its base64 form, nor the API key was printed."""
    for secret in (KUBE_SECRET, API_KEY, encoded, encoded[:40]):
        if secret:
            assert secret not in result.all


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    (tmp_path / "home").mkdir()
    sim = Sim(tmp_path)
    yield sim
    encoded = [kube_config(c) for c in sim.state.clusters.values()]
    for result in sim.results:
        for value in encoded:
            assert_no_secret(result, value)
        assert "Traceback" not in result.all


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def decoded(encoded: str) -> str:
    return base64.b64decode(encoded).decode()


# --- -o FILE -------------------------------------------------------------------------------------


def test_output_writes_the_decoded_kubeconfig_mode_600(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-o FILE: the API's base64 decoded, as is, mode 600; one list call; stdout empty."""
    sim.add()
    spy = SimSpy().install(monkeypatch)
    target = sim.dir / "train-a.yaml"
    result = sim.run("train-a", "-o", str(target))
    assert result.code == 0, result.all
    assert result.out == ""
    assert result.err == (
        f'Wrote the kubeconfig of cluster "train-a" to {target} (mode 600). '
        f"Use it with: KUBECONFIG={target} kubectl get nodes\n"
    )
    assert target.read_text() == decoded(sim.encoded())
    assert KUBE_SECRET in target.read_text()
    assert mode(target) == 0o600
    assert spy.requests() == [("GET", "/v1/compute/clusters")]


def test_output_replaces_a_file_and_tightens_its_mode(sim: Sim) -> None:
    """An existing FILE (mode 644) is replaced atomically by a mode-600 one; no temp file left."""
    sim.add()
    target = sim.dir / "kc.yaml"
    target.write_text("old\n")
    target.chmod(0o644)
    assert sim.run("train-a", "--output", str(target)).code == 0
    assert mode(target) == 0o600
    assert "old" not in target.read_text()
    assert sorted(p.name for p in sim.dir.iterdir()) == ["home", "kc.yaml", "sim.json"]


def test_output_follows_a_symlink_and_keeps_it(sim: Sim) -> None:
    """-o onto a symlink writes the file it points to; the link stays a link."""
    sim.add()
    real = sim.dir / "real.yaml"
    link = sim.dir / "link.yaml"
    link.symlink_to(real)
    assert sim.run("train-a", "-o", str(link)).code == 0
    assert link.is_symlink()
    assert KUBE_SECRET in real.read_text()
    assert mode(real) == 0o600


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        ([], 64, "Error: give -o FILE to write the kubeconfig to a file, or --merge"),
        (["-o", "x.yaml", "--merge"], 64, "Error: give -o FILE"),
        (["-o", "-"], 1, "Error: kubeconfig: -o -: the kubeconfig is a credential and is never"),
        (["-o", "{dir}/missing/kc.yaml"], 1, "Error: {dir}/missing/kc.yaml: the directory"),
        (
            ["-o", "{dir}/dangling/kc.yaml"],
            1,
            "Error: {dir}/dangling/kc.yaml: the directory {dir}/nowhere does not exist",
        ),
        (["-o", "{dir}"], 64, "Error: Invalid value for '-o' / '--output'"),
    ],
    ids=["neither", "both", "stdout", "missing-dir", "dangling-dir-link", "a-directory"],
)
def test_bad_destination_is_one_line_and_writes_nothing(
    sim: Sim, monkeypatch: pytest.MonkeyPatch, argv: list[str], code: int, message: str
) -> None:
    """Usage errors exit 64; an unusable file exits 1 before any API call; nothing is created."""
    sim.add()
    (sim.dir / "dangling").symlink_to(sim.dir / "nowhere")
    spy = SimSpy().install(monkeypatch)
    before = sorted(p.name for p in sim.dir.iterdir())
    result = sim.run("train-a", *(a.format(dir=sim.dir) for a in argv))
    assert result.code == code
    assert result.out == ""
    assert result.err.startswith(message.format(dir=sim.dir))
    assert result.err.count("\n") <= 2  # the line, and click's "Try --help" for usage errors
    assert spy.requests() == []
    assert sorted(p.name for p in sim.dir.iterdir()) == before
    assert not (sim.dir / "nowhere").exists()


def test_output_onto_the_merge_kubeconfig_is_refused(sim: Sim) -> None:
    """-o onto the file --merge would edit would drop its other clusters: refused, untouched."""
    sim.add()
    mine = sim.dir / "mine.yaml"
    mine.write_text(yaml.safe_dump(OTHER))
    result = sim.run("train-a", "-o", str(mine), env={"KUBECONFIG": str(mine)})
    assert result.code == 1
    assert "use --merge to add the cluster and keep the others" in result.err
    assert yaml.safe_load(mine.read_text()) == OTHER


# --- which cluster -------------------------------------------------------------------------------


def test_unknown_name_is_one_line_exit_1(sim: Sim) -> None:
    """No live cluster of that name: exit 1, one line, no file."""
    sim.add()
    result = sim.run("nope", "-o", str(sim.dir / "kc.yaml"))
    assert (result.code, result.out) == (1, "")
    assert result.err == 'Error: kubeconfig: no live cluster named "nope"\n'
    assert not (sim.dir / "kc.yaml").exists()


def test_ambiguous_name_lists_the_ids_and_an_id_picks_one(sim: Sim) -> None:
    """Two live clusters named alike: exit 1 naming both ids; the id then selects one."""
    first = sim.add("twin")
    second = sim.add("twin")
    result = sim.run("twin", "-o", str(sim.dir / "kc.yaml"))
    assert result.code == 1
    assert result.err == (
        f'Error: kubeconfig: 2 clusters are named "twin" ({", ".join(sorted([first, second]))}); '
        "pass the id of the one you want instead of the name\n"
    )
    assert sim.run(second, "-o", str(sim.dir / "kc.yaml")).code == 0
    assert second in (sim.dir / "kc.yaml").read_text()


def test_a_deleting_cluster_of_the_same_name_is_ignored(sim: Sim) -> None:
    """After a replace, the old cluster (Deleting) does not make the name ambiguous."""
    sim.add("train-a", status="Deleting")
    new = sim.add("train-a")
    assert sim.run("train-a", "-o", str(sim.dir / "kc.yaml")).code == 0
    assert new in (sim.dir / "kc.yaml").read_text()


# --- --merge -------------------------------------------------------------------------------------


def test_merge_keeps_the_other_entries_and_the_current_context(sim: Sim) -> None:
    """--merge into $KUBECONFIG's first path: others kept, current context unchanged, mode 600."""
    sim.add()
    mine = sim.dir / "mine.yaml"
    mine.write_text(yaml.safe_dump(OTHER, sort_keys=False))
    mine.chmod(0o644)
    kubeconfig = os.pathsep.join([str(mine), str(sim.dir / "second.yaml")])
    result = sim.run("train-a", "--merge", env={"KUBECONFIG": kubeconfig})
    assert result.code == 0, result.all
    assert result.out == ""
    assert result.err == (
        f'Merged cluster "train-a" into {mine} (mode 600) as context "train-a". The current '
        'context is still "home"; switch with: kubectl config use-context train-a\n'
    )
    merged = yaml.safe_load(mine.read_text())
    assert mode(mine) == 0o600
    assert merged["current-context"] == "home"
    assert merged["preferences"] == {"colors": True}
    assert [c["name"] for c in merged["clusters"]] == ["home", "train-a"]
    assert [u["name"] for u in merged["users"]] == ["me", "train-a"]
    assert merged["contexts"][1] == {
        "name": "train-a",
        "context": {"cluster": "train-a", "user": "train-a"},
    }
    assert merged["users"][1]["user"]["token"].endswith(KUBE_SECRET)
    assert not (sim.dir / "second.yaml").exists()
    assert not Path(f"{mine}.lock").exists()


def test_merge_twice_replaces_same_named_entries(sim: Sim) -> None:
    """A second merge (the cluster was replaced: new server, new token) leaves one entry each."""
    sim.add()
    mine = sim.dir / "mine.yaml"
    mine.write_text(yaml.safe_dump(OTHER))
    env: dict[str, str | None] = {"KUBECONFIG": str(mine)}
    assert sim.run("train-a", "--merge", env=env).code == 0
    cluster_id = next(iter(sim.state.clusters))
    sim.state.clusters[cluster_id].kube_secret = KUBE_SECRET + "v2"
    save_state(sim.state, str(sim.file))
    assert sim.run("train-a", "--merge", env=env).code == 0
    merged = yaml.safe_load(mine.read_text())
    for key in ("clusters", "users", "contexts"):
        assert [e["name"] for e in merged[key]].count("train-a") == 1
    assert merged["users"][1]["user"]["token"].endswith(KUBE_SECRET + "v2")


def test_merge_into_a_new_default_kubeconfig(sim: Sim) -> None:
    """No $KUBECONFIG and no ~/.kube: ~/.kube is created (700), config (600) gets the context
    as current one, since it had none."""
    sim.add()
    result = sim.run("train-a", "--merge", env={"KUBECONFIG": ""})
    config = sim.dir / "home" / ".kube" / "config"
    assert result.code == 0, result.all
    assert result.err.endswith("It is the current context (the file had none).\n")
    assert mode(config.parent) == 0o700
    assert mode(config) == 0o600
    merged = yaml.safe_load(config.read_text())
    assert merged["current-context"] == "train-a"
    assert (merged["apiVersion"], merged["kind"]) == ("v1", "Config")


def test_merge_through_a_symlinked_kubeconfig_keeps_the_link(sim: Sim) -> None:
    """A dotfiles-style symlinked kubeconfig: the target is updated, the link stays."""
    sim.add()
    real = sim.dir / "dotfiles-config"
    real.write_text(yaml.safe_dump(OTHER))
    link = sim.dir / "config-link"
    link.symlink_to(real)
    assert sim.run("train-a", "--merge", env={"KUBECONFIG": str(link)}).code == 0
    assert link.is_symlink()
    assert len(yaml.safe_load(real.read_text())["clusters"]) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("clusters: [\n  - a\n", ":2:3: not valid YAML (expected the node content"),
        ("- just\n- a list\n", ": not a kubeconfig (a YAML mapping"),
        ("clusters: {name: x}\n", ": `clusters` is not a list of named entries"),
        (b"\xff\xfe", ": not UTF-8 text"),
    ],
    ids=["invalid-yaml", "not-a-mapping", "clusters-not-a-list", "not-utf8"],
)
def test_merge_into_a_broken_kubeconfig_leaves_it_alone(
    sim: Sim, content: str | bytes, message: str
) -> None:
    """The user's file is not a kubeconfig: exit 1 naming it (and the line), file untouched."""
    sim.add()
    mine = sim.dir / "mine.yaml"
    data = content.encode() if isinstance(content, str) else content
    mine.write_bytes(data)
    result = sim.run("train-a", "--merge", env={"KUBECONFIG": str(mine)})
    assert result.code == 1
    assert result.err.startswith(f"Error: {mine}{message}")
    assert result.err.count("\n") == 1
    assert mine.read_bytes() == data
    assert not Path(f"{mine}.lock").exists()


def test_merge_waits_for_no_one_when_kubectl_holds_the_lock(sim: Sim) -> None:
    """kubectl's `FILE.lock` exists: refuse (exit 1) rather than race it; the lock is not ours."""
    sim.add()
    mine = sim.dir / "mine.yaml"
    mine.write_text(yaml.safe_dump(OTHER))
    Path(f"{mine}.lock").write_text("")
    result = sim.run("train-a", "--merge", env={"KUBECONFIG": str(mine)})
    assert result.code == 1
    assert f"{mine}.lock exists: kubectl or another reconciler is editing" in result.err
    assert yaml.safe_load(mine.read_text()) == OTHER
    assert Path(f"{mine}.lock").exists()


def test_merge_into_a_missing_directory_of_kubeconfig_is_refused(sim: Sim) -> None:
    """$KUBECONFIG in a directory that does not exist: an error, never a directory created."""
    sim.add()
    target = sim.dir / "nope" / "config"
    result = sim.run("train-a", "--merge", env={"KUBECONFIG": str(target)})
    assert result.code == 1
    assert f"the directory {target.parent} does not exist" in result.err
    assert not target.parent.exists()


# --- the real socket, the API key, kubectl ------------------------------------------------------


def test_over_loopback_with_a_real_key(
    sim_state: SimState, sim_http_server: SimServer, tmp_path: Path
) -> None:
    """Over a real socket with TOGETHER_API_KEY: written, and neither secret printed."""
    sim_state.token = API_KEY
    cluster_id = sim_state.add_cluster(cluster_name="train-a")["cluster_id"]
    sim_state.clusters[cluster_id].kube_secret = KUBE_SECRET
    target = tmp_path / "kc.yaml"
    argv = ["--base-url", sim_http_server.url, "kubeconfig", "train-a", "-o", str(target)]
    result = run_cli(argv, env={"TOGETHER_API_KEY": API_KEY})
    assert result.code == 0, result.all
    assert_no_secret(result, sim_state.clusters_named("train-a")[0]["kube_config"])
    assert KUBE_SECRET in target.read_text()
    wrong = run_cli(argv, env={"TOGETHER_API_KEY": API_KEY + "x"})
    assert wrong.code == 1
    assert wrong.err.startswith("Error: GET /v1/compute/clusters: 401")
    assert_no_secret(wrong)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_reads_what_was_written(sim: Sim) -> None:
    """`kubectl config view` (no cluster needed) reads both the -o file and the merged one."""
    sim.add()
    mine = sim.dir / "mine.yaml"
    mine.write_text(yaml.safe_dump(OTHER))
    assert sim.run("train-a", "-o", str(sim.dir / "kc.yaml")).code == 0
    assert sim.run("train-a", "--merge", env={"KUBECONFIG": str(mine)}).code == 0
    for path, contexts in ((sim.dir / "kc.yaml", "train-a"), (mine, "home train-a")):
        shown = subprocess.run(
            ["kubectl", "config", "view", "-o", "jsonpath={.contexts[*].name}"],
            env={"KUBECONFIG": str(path), "PATH": os.environ.get("PATH", ""), "HOME": "/"},
            capture_output=True,
            text=True,
            check=True,
        )
        assert shown.stdout == contexts


def tg_command() -> str | None:
    """The official CLI (`tg`) next to this interpreter, if the SDK installed it."""
    script = Path(sys.executable).with_name("tg")
    return str(script) if script.exists() else None


@pytest.mark.skipif(tg_command() is None, reason="the official `tg` CLI is not installed")
def test_official_cli_decodes_the_simulator_kube_config(
    sim_state: SimState, sim_http_server: SimServer, tmp_path: Path
) -> None:
    """`tg clusters get-credentials` (which base64-decodes) writes the simulator's kubeconfig.
    `--project` is given because the simulator has no /v3/whoami for tg to ask."""
    sim_state.token = API_KEY
    cluster_id = sim_state.add_cluster(cluster_name="train-a")["cluster_id"]
    sim_state.clusters[cluster_id].kube_secret = KUBE_SECRET
    target = tmp_path / "tg-config"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TOGETHER_API_KEY": API_KEY,
        "TOGETHER_BASE_URL": sim_http_server.url,
        "TOGETHER_TELEMETRY_DISABLED": "1",
    }
    argv = [str(tg_command()), "--project", "proj-sim", "clusters", "get-credentials"]
    done = subprocess.run(
        [*argv, cluster_id, "--file", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    written = yaml.safe_load(target.read_text())
    assert written["users"][0]["user"]["token"] == f"sim-kube-{KUBE_SECRET}"
    assert [c["name"] for c in written["contexts"]] == ["train-a"]

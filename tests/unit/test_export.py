"""export.py: live → spec YAML, only what the API would accept."""

from __future__ import annotations

from typing import Any

import yaml

from reconciler.export import render_export
from tests.unit.factories import api_cluster, api_volume, live_state


def unreported(volume: dict[str, Any]) -> dict[str, Any]:
    """A volume as the real API answers it: no region."""
    return {k: v for k, v in volume.items() if k != "region"}


def test_volume_region_comes_from_the_cluster_that_mounts_it() -> None:
    """A volume's unreported region is its cluster's (volumes are mounted in their region)."""
    live = live_state(
        api_cluster("a", region="eu-west-1", volumes=["v-data"]),
        volumes=[unreported(api_volume("data"))],
    )
    document = yaml.safe_load(render_export(live))
    assert document["volumes"] == [{"volume_name": "data", "region": "eu-west-1", "size_tib": 10}]
    assert document["clusters"][0]["volume"] == "data"


def test_volume_with_unknown_region_is_left_out_and_said() -> None:
    """No cluster tells an unattached volume's region: it is left out, with a comment."""
    live = live_state(api_cluster("a"), volumes=[unreported(api_volume("lonely"))])
    text = render_export(live)
    assert "volumes" not in yaml.safe_load(text)
    assert '# Left out: volume "lonely" (its region)' in text


def test_add_ons_are_exported_inside_their_cluster() -> None:
    """A cluster's add-ons are written under it, without their computed state."""
    add_on = {"add_on_type": "dashboard", "name": "d", "config": {"dashboard": {"enabled": True}}}
    live = live_state(api_cluster("a", add_ons=[{**add_on, "state": {"dashboard": {}}}]))
    (cluster,) = yaml.safe_load(render_export(live))["clusters"]
    assert cluster["add_ons"] == [add_on]

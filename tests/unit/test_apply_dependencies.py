"""Which actions wait for which: `Dependencies` indexes the actions once (it was a scan of every
action per action, O(N²) for a large apply)."""

from __future__ import annotations

from reconciler.apply.steps import Dependencies
from reconciler.model import Action, ActionKind

CREATE, DELETE, REPLACE = ActionKind.CREATE, ActionKind.DELETE, ActionKind.REPLACE


def act(kind: ActionKind, resource: str, name: str, **refs: str) -> Action:
    return Action(kind, resource, name, refs=refs)


def test_a_create_waits_for_the_create_of_what_it_refers_to_and_nothing_else() -> None:
    actions = [
        act(CREATE, "volume", "data"),
        act(CREATE, "volume", "other"),
        act(CREATE, "cluster", "a", volume="data"),
        act(CREATE, "cluster", "b"),
        act(CREATE, "cluster", "c", volume="kept"),  # a volume that already exists
    ]
    depends = Dependencies(actions)
    assert [depends.of(a) for a in actions] == [[], [], ["volume.data"], [], []]


def test_a_volume_delete_waits_for_every_destructive_cluster_action_in_list_order() -> None:
    actions = [
        act(REPLACE, "cluster", "r"),
        act(CREATE, "cluster", "new"),
        act(DELETE, "cluster", "old"),
        act(DELETE, "volume", "data"),
    ]
    depends = Dependencies(actions)
    assert depends.of(actions[3]) == ["cluster.r", "cluster.old"]
    assert [depends.of(a) for a in actions[:3]] == [[], [], []]


def test_ten_thousand_actions_are_indexed_not_scanned() -> None:
    """Each cluster's answer names only its own volume's create, whatever the number."""
    actions = [act(CREATE, "volume", f"v{i}") for i in range(5_000)]
    actions += [act(CREATE, "cluster", f"c{i}", volume=f"v{i}") for i in range(5_000)]
    depends = Dependencies(actions)
    assert all(depends.of(a) == [f"volume.v{i}"] for i, a in enumerate(actions[5_000:]))

"""render.py, issue 13: unmanaged names, drift and destroy in their own words, markdown
coloured by consequence."""

from __future__ import annotations

import pytest

from reconciler.model import Action, ActionResult, ApplyReport, Outcome, Plan
from reconciler.render import diff_highlight, render_markdown, render_report, render_text
from tests.unit.test_render import BLOCKED, CREATE, DELETE, REPLACE, UPDATE


@pytest.mark.parametrize(
    ("names", "line"),
    [
        (("a",), 'Unmanaged: 1 live cluster outside this spec\'s scope is left alone: "a".'),
        (
            tuple(f"c{i:02d}" for i in range(10)),
            "Unmanaged: 10 live clusters outside this spec's scope are left alone: "
            + ", ".join(f'"c{i:02d}"' for i in range(10))
            + ".",
        ),
        (
            tuple(f"c{i:02d}" for i in range(13)),
            "Unmanaged: 13 live clusters outside this spec's scope are left alone: "
            + ", ".join(f'"c{i:02d}"' for i in range(10))
            + " and 3 more.",
        ),
    ],
    ids=["one", "ten", "capped"],
)
def test_unmanaged_names_are_listed_up_to_ten(names: tuple[str, ...], line: str) -> None:
    """The unmanaged clusters are named, the first ten, then "and N more"."""
    assert render_text(Plan(unmanaged=names)).splitlines()[0] == line


def test_unmanaged_names_in_markdown_are_code_and_escaped() -> None:
    """Markdown names them as code; a control character is made visible."""
    text = render_markdown(Plan(unmanaged=("ok", "bad\x1b[2J")))
    assert "left alone: `ok`, `bad\\x1b[2J`." in text
    assert "\x1b" not in text


def test_drift_speaks_of_drift() -> None:
    """drift never says "will perform the following actions"; its markdown is headed drift."""
    plan = Plan(actions=(UPDATE,))
    text = render_text(plan, mode="drift")
    assert text.startswith("Live state has drifted from the spec; `reconciler apply` would:\n")
    assert "will perform" not in text
    markdown = render_markdown(plan, mode="drift")
    assert markdown.startswith("### reconciler drift\n")
    assert "will perform" not in markdown
    assert render_text(Plan(), mode="drift") == (
        "No drift. Live clusters and volumes match the spec.\n"
    )
    assert render_markdown(Plan(), mode="drift") == (
        "### reconciler drift\n\n**No drift.** Live clusters and volumes match the spec.\n"
    )


def test_destroy_speaks_of_destroying() -> None:
    """destroy: its own intro, no "(ensure: absent)", and "Destroy complete" after."""
    text = render_text(Plan(actions=(DELETE,)), mode="destroy")
    assert text == (
        "reconciler will destroy the following resources:\n\n"
        '  # cluster "old-experiment" will be destroyed\n'
        '  - cluster "old-experiment" (id c-0b11, Ready)\n\n'
        "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete.\n"
    )
    assert render_text(Plan(), mode="destroy") == (
        "Nothing to destroy: no live resource is declared by the spec.\n"
    )
    report = ApplyReport((ActionResult(DELETE, Outcome.DONE, resource_id="c-0b11"),))
    assert render_report(report, title="Destroy") == (
        'done     cluster "old-experiment" (id c-0b11) destroyed\n'
        "Destroy complete: 1 done, 0 failed, 0 skipped.\n"
    )


def test_a_plan_still_gives_the_reason_of_a_delete() -> None:
    """Outside destroy a delete says why (ensure: absent, prune scope)."""
    assert "will be destroyed (ensure: absent)" in render_text(Plan(actions=(DELETE,)))


@pytest.mark.parametrize(
    ("action", "marks"),
    [
        (CREATE, {"+"}),
        (UPDATE, {" "}),
        (REPLACE, {"-"}),
        (DELETE, {"-"}),
        (BLOCKED, {"!"}),
    ],
    ids=["create-green", "update-neutral", "replace-red", "delete-red", "blocked-orange"],
)
def test_markdown_diff_is_coloured_by_consequence(action: Action, marks: set[str]) -> None:
    """In the ```diff block an action's title and field lines carry one colour mark; the
    comments and the footer stay uncoloured."""
    lines = diff_highlight(render_text(Plan(actions=(action,)))).splitlines()
    title = next(
        i
        for i, line in enumerate(lines)
        if f'cluster "{action.name}"' in line[:30] and not line.lstrip().startswith("#")
    )
    block = [lines[title]]
    block += [
        line
        for line in lines[title + 1 :]
        if line.startswith(("+", "-", "!", "      ")) and not line.lstrip().startswith("#")
    ]
    assert {line[0] for line in block} == marks, block
    assert all(line[0] == " " for line in lines if line.lstrip().startswith("# "))
    assert next(line for line in lines if line.startswith("Plan: "))


def test_markdown_summary_rows_carry_a_colour_per_consequence() -> None:
    """The resource table marks create green, update white, replace and delete red."""
    text = render_markdown(Plan(actions=(REPLACE, CREATE, UPDATE, DELETE, BLOCKED)))
    rows = [line for line in text.splitlines() if line.startswith("| :")]
    assert [row.split()[1] for row in rows] == [
        ":red_circle:",
        ":green_circle:",
        ":white_circle:",
        ":red_circle:",
        ":no_entry:",
    ]


def test_kinds_unchanged_by_mode() -> None:
    """The mode changes words only: the same actions, the same summary line."""
    plan = Plan(actions=(CREATE, DELETE))
    for mode in ("plan", "drift", "destroy"):
        assert "Plan: 1 to create, 0 to update, 0 to replace, 1 to delete." in render_text(
            plan, mode=mode
        )

"""render.py: plans and apply reports as text, JSON and markdown; redaction and escaping.

Plans are built by hand (Alembic-style), so these goldens pin the renderer alone.
"""

from __future__ import annotations

import json

import pytest

from reconciler.model import (
    Action,
    ActionKind,
    ActionResult,
    ApplyReport,
    FieldChange,
    GpuChange,
    Outcome,
    Plan,
)
from reconciler.plan import plan_to_dict
from reconciler.render import (
    MARKDOWN_LIMIT,
    gpu_line,
    render_json,
    render_markdown,
    render_plan,
    render_report,
    render_text,
    summary_line,
)

FC = FieldChange
CLUSTER, VOLUME = "cluster", "volume"

REPLACE = Action(
    ActionKind.REPLACE,
    CLUSTER,
    "eval-b",
    resource_id="c-19d2",
    status="Ready",
    changes=(FC("gpu_type", "H100_SXM", "H200_SXM", forces_replacement=True),),
)
CREATE = Action(
    ActionKind.CREATE,
    CLUSTER,
    "slurm-c",
    changes=(
        FC("cluster_type", None, "SLURM"),
        FC("gpu_type", None, "H100_SXM"),
        FC("num_gpus", None, 16),
        FC("region", None, "us-central-8"),
        FC("slurm_shm_size_gib", None, 64),
    ),
)
UPDATE = Action(
    ActionKind.UPDATE,
    CLUSTER,
    "train-a",
    resource_id="c-7f3a",
    status="Ready",
    changes=(
        FC("add_ons[1]", {"name": "ing", "add_on_type": "ingress"}, None),
        FC("cluster_config.ingress", None, {"enabled": True}),
        FC("num_gpus", 8, 16),
    ),
)
DELETE = Action(
    ActionKind.DELETE,
    CLUSTER,
    "old-experiment",
    resource_id="c-0b11",
    status="Ready",
    reason="ensure: absent",
)
BLOCKED = Action(
    ActionKind.BLOCKED,
    CLUSTER,
    "prod",
    resource_id="c-1",
    status="Degraded",
    intended=ActionKind.REPLACE,
    reason="changing region forces replacement (delete, then create); set "
    "lifecycle.replace_on_change: true or pass --allow-replace prod",
    changes=(FC("region", "us-central-8", "eu-west-1", forces_replacement=True),),
    notes=("live status is Degraded",),
)
EVERY_KIND = Plan(
    actions=(REPLACE, CREATE, UPDATE, DELETE, BLOCKED),
    unmanaged=("x", "y"),
    notes=("create-only fields are set on train-a",),
    gpu_changes=(GpuChange("H100_SXM", 24, 32), GpuChange("H200_SXM", 0, 8)),
    project_id="proj-123",
)

GOLDEN_TEXT = """\
reconciler will perform the following actions (project proj-123):

  # cluster "eval-b" must be replaced
-/+ cluster "eval-b" (id c-19d2, Ready) {
      ~ gpu_type = "H100_SXM" -> "H200_SXM"   # forces replacement
    }

  # cluster "slurm-c" will be created
  + cluster "slurm-c" {
      + cluster_type       = "SLURM"
      + gpu_type           = "H100_SXM"
      + num_gpus           = 16
      + region             = "us-central-8"
      + slurm_shm_size_gib = 64
    }

  # cluster "train-a" will be updated in-place
  ~ cluster "train-a" (id c-7f3a, Ready) {
      - add_ons[1]             = {"add_on_type": "ingress", "name": "ing"} -> null
      + cluster_config.ingress = {"enabled": true}
      ~ num_gpus               = 8 -> 16
    }

  # cluster "old-experiment" will be destroyed (ensure: absent)
  - cluster "old-experiment" (id c-0b11, Ready)

  # cluster "prod" is blocked (replace refused): changing region forces replacement \
(delete, then create); set lifecycle.replace_on_change: true or pass --allow-replace prod
  ! cluster "prod" (id c-1, Degraded) {
      ~ region = "us-central-8" -> "eu-west-1"   # forces replacement
    }
      # note: live status is Degraded

Note: create-only fields are set on train-a
Unmanaged: 2 live clusters outside this spec's scope are left alone: "x", "y".
Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.
GPUs: H100_SXM 24 -> 32 (+8), H200_SXM 0 -> 8 (+8).
Blocked: 1 action refused by a safety rule; nothing will be applied until the plan is clean.
"""

GOLDEN_MARKDOWN_HEAD = """\
### reconciler plan (project `proj-123`)

| action | count |
|---|---:|
| create | 1 |
| update | 1 |
| replace | 1 |
| delete | 1 |
| blocked | 1 |

**Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.**
GPUs: H100_SXM 24 -> 32 (+8), H200_SXM 0 -> 8 (+8).

Unmanaged: 2 live clusters outside this spec's scope are left alone: `x`, `y`.

> :no_entry: **Blocked:** cluster `prod`: changing region forces replacement (delete, then \
create); set lifecycle.replace_on_change: true or pass --allow-replace prod

| | resource | action |
|---|---|---|
| :red_circle: `-/+` | cluster `eval-b` | replace |
| :green_circle: `+` | cluster `slurm-c` | create |
| :white_circle: `~` | cluster `train-a` | update |
| :red_circle: `-` | cluster `old-experiment` | delete |
| :no_entry: `!` | cluster `prod` | blocked |

<details><summary>Plan details</summary>

```diff
"""

GOLDEN_MARKDOWN_DETAILS = """\
reconciler will perform the following actions (project proj-123):

  # cluster "eval-b" must be replaced
-/+ cluster "eval-b" (id c-19d2, Ready) {
-     ~ gpu_type = "H100_SXM" -> "H200_SXM"   # forces replacement
    }

  # cluster "slurm-c" will be created
+   cluster "slurm-c" {
+       cluster_type       = "SLURM"
+       gpu_type           = "H100_SXM"
+       num_gpus           = 16
+       region             = "us-central-8"
+       slurm_shm_size_gib = 64
    }

  # cluster "train-a" will be updated in-place
  ~ cluster "train-a" (id c-7f3a, Ready) {
      - add_ons[1]             = {"add_on_type": "ingress", "name": "ing"} -> null
      + cluster_config.ingress = {"enabled": true}
      ~ num_gpus               = 8 -> 16
    }

  # cluster "old-experiment" will be destroyed (ensure: absent)
-   cluster "old-experiment" (id c-0b11, Ready)

  # cluster "prod" is blocked (replace refused): changing region forces replacement \
(delete, then create); set lifecycle.replace_on_change: true or pass --allow-replace prod
!   cluster "prod" (id c-1, Degraded) {
!     ~ region = "us-central-8" -> "eu-west-1"   # forces replacement
    }
      # note: live status is Degraded

Note: create-only fields are set on train-a
Unmanaged: 2 live clusters outside this spec's scope are left alone: "x", "y".
Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.
GPUs: H100_SXM 24 -> 32 (+8), H200_SXM 0 -> 8 (+8).
Blocked: 1 action refused by a safety rule; nothing will be applied until the plan is clean.
"""


def test_text_golden_every_kind() -> None:
    """Terraform-like text for create, update, replace, delete and blocked, with the footer."""
    assert render_text(EVERY_KIND) == GOLDEN_TEXT


def test_markdown_golden_every_kind() -> None:
    """Markdown: summary table first, blocked reasons, resource table, then collapsible text
    coloured by consequence in GitHub's diff block: create green, replace and delete red,
    blocked orange, update uncoloured."""
    assert render_markdown(EVERY_KIND) == (
        GOLDEN_MARKDOWN_HEAD + GOLDEN_MARKDOWN_DETAILS + "```\n\n</details>\n"
    )


@pytest.mark.parametrize(
    ("plan", "text"),
    [
        (Plan(), "No changes. Live clusters and volumes match the spec.\n"),
        (
            Plan(unmanaged=("other",), unchanged=("cluster.a",)),
            'Unmanaged: 1 live cluster outside this spec\'s scope is left alone: "other".\n'
            "No changes. Live clusters and volumes match the spec.\n",
        ),
        (
            Plan(notes=("prune is enabled, but the spec declares no clusters",)),
            "Note: prune is enabled, but the spec declares no clusters\n"
            "No changes. Live clusters and volumes match the spec.\n",
        ),
    ],
    ids=["empty", "unmanaged", "note"],
)
def test_no_changes_text(plan: Plan, text: str) -> None:
    """A plan without actions says "No changes." and no summary line."""
    assert render_text(plan) == text


def test_no_changes_markdown() -> None:
    """The markdown of an empty plan is a heading and one line."""
    assert render_markdown(Plan(project_id="p")) == (
        "### reconciler plan (project `p`)\n\n"
        "**No changes.** Live clusters and volumes match the spec.\n"
    )


def test_refusal_only_plan_text() -> None:
    """A plan refused by --max-deletes shows its deletes, the summary and the refusal."""
    plan = Plan(actions=(DELETE,), refusals=("too many deletes",))
    assert render_text(plan).endswith(
        "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete.\nBlocked: too many deletes\n"
    )


@pytest.mark.parametrize(
    ("actions", "line"),
    [
        ((), "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete."),
        (
            (CREATE, CREATE, UPDATE, REPLACE, DELETE, BLOCKED),
            "Plan: 2 to create, 1 to update, 1 to replace, 1 to delete.",
        ),
    ],
    ids=["zero", "mixed-blocked-not-counted"],
)
def test_summary_line(actions: tuple[Action, ...], line: str) -> None:
    """The summary line counts each kind; blocked actions are not among them."""
    assert summary_line(Plan(actions=actions)) == line


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ((), ""),
        ((GpuChange("H100_SXM", 24, 32),), "GPUs: H100_SXM 24 -> 32 (+8)."),
        ((GpuChange("H200_SXM", 16, 0),), "GPUs: H200_SXM 16 -> 0 (-16)."),
        (
            (GpuChange("", 0, 8), GpuChange("L40_PCIE", 8, 16)),
            "GPUs: ? 0 -> 8 (+8), L40_PCIE 8 -> 16 (+8).",
        ),
    ],
    ids=["none", "growth", "shrink", "unknown-type-and-two"],
)
def test_gpu_line(changes: tuple[GpuChange, ...], line: str) -> None:
    """The GPU line shows before -> after and the signed difference per type."""
    assert gpu_line(Plan(gpu_changes=changes)) == line


# --- secrets ----------------------------------------------------------------------------------

CANARY = "CANARY-CA-123"


@pytest.mark.parametrize(
    ("action", "line"),
    [
        (
            Action(
                ActionKind.CREATE,
                CLUSTER,
                "a",
                changes=(FC("oidc_config", None, {"ca_cert": CANARY, "client_id": "c"}),),
            ),
            '      + oidc_config = {"ca_cert": "(sensitive)", "client_id": "c"}',
        ),
        (
            Action(
                ActionKind.REPLACE,
                CLUSTER,
                "a",
                changes=(FC("oidc_config.ca_cert", CANARY, "CANARY-2", forces_replacement=True),),
            ),
            "      ~ oidc_config.ca_cert = (sensitive) -> (sensitive) (changed)"
            "   # forces replacement",
        ),
        (
            Action(
                ActionKind.UPDATE, CLUSTER, "a", changes=(FC("oidc_config.ca_cert", None, CANARY),)
            ),
            "      + oidc_config.ca_cert = (sensitive)",
        ),
        (
            Action(ActionKind.UPDATE, CLUSTER, "a", changes=(FC("kube_config", CANARY, None),)),
            "      - kube_config = (sensitive) -> null",
        ),
    ],
    ids=["nested-in-create", "changed-secret", "added-secret", "removed-kube_config"],
)
def test_secrets_print_as_sensitive(action: Action, line: str) -> None:
    """Secret values print as (sensitive), in every position, in every format."""
    plan = Plan(actions=(action,))
    assert line in render_text(plan).splitlines()
    for text in (render_text(plan, color=True), render_json(plan), render_markdown(plan)):
        assert "CANARY" not in text


# --- escaping and colour ----------------------------------------------------------------------

EVIL = "evil\x1b[31m\n"


def evil_plan() -> Plan:
    """Control characters wherever a name, id, status, message or value can carry them."""
    return Plan(
        actions=(
            Action(
                ActionKind.UPDATE,
                CLUSTER,
                EVIL,
                resource_id=EVIL,
                status=EVIL,
                changes=(FC(f"cluster_config.{EVIL}", EVIL, "x"),),
                notes=(EVIL,),
            ),
            Action(ActionKind.DELETE, CLUSTER, EVIL, reason=EVIL),
            Action(ActionKind.BLOCKED, VOLUME, EVIL, reason=EVIL),
        ),
        notes=(EVIL,),
        refusals=(EVIL,),
        project_id=EVIL,
    )


@pytest.mark.parametrize(
    "render",
    [render_text, render_markdown, render_json],
    ids=["text", "markdown", "json"],
)
def test_control_characters_are_escaped(render: object) -> None:
    """No raw ESC or stray newline from a name or message reaches the output."""
    text = render(evil_plan())  # type: ignore[operator]
    assert "\x1b" not in text
    assert "evil\n" not in text


def test_escaped_name_stays_readable() -> None:
    """An escaped name is shown visibly, so the reviewer sees what is there."""
    lines = render_text(evil_plan()).splitlines()
    assert '  # cluster "evil\\u001b[31m\\n" will be updated in-place' in lines
    assert "      # note: evil\\x1b[31m\\n" in lines


def test_report_escapes_control_characters() -> None:
    """API messages and names in the apply report are escaped too."""
    action = Action(ActionKind.CREATE, CLUSTER, EVIL)
    report = ApplyReport(
        results=(
            ActionResult(action, Outcome.FAILED, message=EVIL, resource_id=EVIL),
            ActionResult(action, Outcome.SKIPPED, message=EVIL),
        )
    )
    assert "\x1b" not in render_report(report)


def test_color_only_when_asked() -> None:
    """ANSI colour codes appear with color=True and never without."""
    assert "\x1b" not in render_text(EVERY_KIND)
    colored = render_text(EVERY_KIND, color=True).splitlines()
    assert '\x1b[32m  +\x1b[0m cluster "slurm-c" {' in colored
    assert '\x1b[33m  ~\x1b[0m cluster "train-a" (id c-7f3a, Ready) {' in colored
    assert '\x1b[31m  -\x1b[0m cluster "old-experiment" (id c-0b11, Ready)' in colored
    assert '\x1b[35m-/+\x1b[0m cluster "eval-b" (id c-19d2, Ready) {' in colored
    assert (
        '      \x1b[33m~\x1b[0m gpu_type = "H100_SXM" -> "H200_SXM"   '
        "\x1b[35m# forces replacement\x1b[0m" in colored
    )
    assert colored[-1].startswith("\x1b[31;1mBlocked: 1 action")


# --- JSON and dispatch ------------------------------------------------------------------------


def test_json_is_the_stable_plan_dict() -> None:
    """--format json is plan_to_dict, sorted and indented, newline-terminated."""
    text = render_json(EVERY_KIND)
    assert json.loads(text) == plan_to_dict(EVERY_KIND)
    assert text == json.dumps(plan_to_dict(EVERY_KIND), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("text", render_text(EVERY_KIND)),
        ("json", render_json(EVERY_KIND)),
        ("markdown", render_markdown(EVERY_KIND)),
    ],
    ids=["text", "json", "markdown"],
)
def test_render_plan_dispatches_on_format(fmt: str, expected: str) -> None:
    """render_plan picks the renderer by format name."""
    assert render_plan(EVERY_KIND, fmt) == expected


# --- markdown size ----------------------------------------------------------------------------


def many(kind: ActionKind, n: int, **kw: object) -> Plan:
    actions = tuple(
        Action(
            kind,
            CLUSTER,
            f"cluster-{i:05d}",
            changes=(
                FC("gpu_type", None, "H100_SXM"),
                FC("num_gpus", None, 8),
                FC("region", None, "us-central-8"),
            ),
            **kw,  # type: ignore[arg-type]
        )
        for i in range(n)
    )
    return Plan(actions=actions)


def test_markdown_of_2000_creates_fits_a_pr_comment() -> None:
    """2,000 creates: under 65,000 chars, summary table first, details cut with a note."""
    text = render_markdown(many(ActionKind.CREATE, 2000))
    assert len(text) <= MARKDOWN_LIMIT
    assert text.startswith(
        "### reconciler plan\n\n| action | count |\n|---|---:|\n| create | 2000 |"
    )
    assert "<details><summary>Plan details</summary>" in text
    assert "\n… truncated: the full plan is in the job log (`reconciler plan`).\n" in text
    assert text.endswith("```\n\n</details>\n")


def test_markdown_of_2000_blocked_fits_a_pr_comment() -> None:
    """2,000 blocked actions (a changed default region): the blocked list is capped too."""
    plan = many(
        ActionKind.BLOCKED, 2000, intended=ActionKind.REPLACE, reason="changing region forces " * 8
    )
    text = render_markdown(plan)
    assert len(text) <= MARKDOWN_LIMIT
    assert text.count("> :no_entry: **Blocked:**") == 20
    assert "> … and 1980 more blocked; see the details." in text


@pytest.mark.parametrize("limit", [2_000, 10_000], ids=["2k", "10k"])
def test_markdown_respects_a_smaller_limit(limit: int) -> None:
    """The limit is a parameter, and the result never exceeds it."""
    assert len(render_markdown(many(ActionKind.CREATE, 200), limit=limit)) <= limit


# --- apply report -----------------------------------------------------------------------------


def test_report_golden() -> None:
    """One line per action (done / failed with the API's message / skipped), then totals."""
    report = ApplyReport(
        results=(
            ActionResult(CREATE, Outcome.DONE, resource_id="c-new"),
            ActionResult(UPDATE, Outcome.DONE),
            ActionResult(REPLACE, Outcome.FAILED, message="400: gpu_type not offered"),
            ActionResult(DELETE, Outcome.SKIPPED, message="depends on a failed action"),
            ActionResult(
                Action(ActionKind.UPDATE, VOLUME, "data"), Outcome.DONE, resource_id="v-1"
            ),
            ActionResult(DELETE, Outcome.DONE),
        )
    )
    assert render_report(report) == (
        'done     cluster "slurm-c" (id c-new) created\n'
        'done     cluster "train-a" updated\n'
        'failed   cluster "eval-b": 400: gpu_type not offered\n'
        'skipped  cluster "old-experiment": depends on a failed action\n'
        'done     volume "data" (id v-1) updated\n'
        'done     cluster "old-experiment" destroyed\n'
        "Apply complete: 4 done, 1 failed, 1 skipped.\n"
        "Run `reconciler plan` to see what is left to do.\n"
    )


@pytest.mark.parametrize(
    ("report", "text"),
    [
        (ApplyReport(), "Apply complete: 0 done, 0 failed, 0 skipped.\n"),
        (
            ApplyReport(results=(ActionResult(CREATE, Outcome.DONE),)),
            'done     cluster "slurm-c" created\nApply complete: 1 done, 0 failed, 0 skipped.\n',
        ),
        (
            ApplyReport(
                results=(ActionResult(CREATE, Outcome.SKIPPED, message="interrupted"),),
                interrupted=True,
            ),
            'skipped  cluster "slurm-c": interrupted\n'
            "Apply interrupted: 0 done, 0 failed, 1 skipped.\n"
            "Run `reconciler plan` to see what is left to do.\n",
        ),
    ],
    ids=["empty", "all-done-no-hint", "interrupted"],
)
def test_report_totals(report: ApplyReport, text: str) -> None:
    """The totals line says complete or interrupted; the re-plan hint only after a failure."""
    assert render_report(report) == text


def test_report_color_only_when_asked() -> None:
    """Outcome words are coloured with color=True only."""
    report = ApplyReport(results=(ActionResult(CREATE, Outcome.DONE),))
    assert "\x1b" not in render_report(report)
    assert render_report(report, color=True).startswith("\x1b[32mdone\x1b[0m")


def test_markdown_fence_outgrows_backticks_in_names() -> None:
    """A name holding ``` cannot close the details block early: the fence is longer."""
    from reconciler.plan import build_plan
    from tests.unit.factories import desired_cluster, live_state, make_spec

    plan = build_plan(make_spec(desired_cluster("x```y")), live_state())
    text = render_markdown(plan)
    assert "````diff\n" in text
    assert text.rstrip().endswith("````\n\n</details>".rstrip())


def test_markdown_names_cannot_break_out_of_their_code_span() -> None:
    """A name with backticks and a pipe stays inside its code span and its table cell."""
    from reconciler.render.values import md_code

    assert md_code("a`b") == "``a`b``"
    assert md_code("`x|y`") == "`` `x\\|y` ``"
    evil = "x`**bold**`[l](http://e)|"
    plan = Plan(
        actions=(Action(kind=ActionKind.DELETE, resource="cluster", name=evil, resource_id="c"),),
        unmanaged=(evil,),
    )
    text = render_markdown(plan)
    row = next(line for line in text.splitlines() if line.startswith("| :red_circle:"))
    assert "``x`**bold**`[l](http://e)\\|``" in row and row.count(" | ") == 2

"""A plan as a pull-request comment: summary table first, details collapsible. Pure."""

from __future__ import annotations

from reconciler.model import Action, ActionKind, Plan
from reconciler.render.money import money_lines
from reconciler.render.text import (
    DIFF_MARK,
    DOT,
    MARKDOWN_BLOCKED_SHOWN,
    MARKDOWN_LIMIT,
    NO_CHANGES,
    SYMBOL,
    gpu_line,
    label,
    render_text,
    summary_line,
    unmanaged_line,
)
from reconciler.render.values import escape, md_code


def _md_label(action: Action) -> str:
    return label(action, md_code)


def render_markdown(plan: Plan, limit: int = MARKDOWN_LIMIT, mode: str = "plan") -> str:
    """A PR comment: summary table first, details collapsible, under `limit` characters."""
    scope = f" (project {md_code(plan.project_id)})" if plan.project_id else ""
    head = [f"### reconciler {mode}{scope}", ""]
    unmanaged = ["", unmanaged_line(plan, md_code)] if plan.unmanaged else []
    if not plan.has_changes and not plan.is_blocked:
        first, rest = NO_CHANGES[mode].split(". ", 1)
        head += [f"**{first}.** {rest}", *unmanaged]  # a warning still shows (drift in a PR)
        head += _md_attention(plan)
        money = [f"- {escape(line)}".replace("$", "\\$") for line in money_lines(plan)]
        return "\n".join(head + money) + "\n"
    head += [
        "| action | count |",
        "|---|---:|",
        *(
            f"| {label} | {plan.count(kind)} |"
            for label, kind in (
                ("create", ActionKind.CREATE),
                ("update", ActionKind.UPDATE),
                ("replace", ActionKind.REPLACE),
                ("delete", ActionKind.DELETE),
                ("blocked", ActionKind.BLOCKED),
            )
        ),
        "",
        f"**{summary_line(plan)}**",
    ]
    if gpu := gpu_line(plan):
        head.append(f"{gpu}")
    head += unmanaged
    head += _md_attention(plan)
    if money := money_lines(plan):
        head += ["", *(f"- {escape(line)}".replace("$", "\\$") for line in money)]
    head += _md_blocked(plan)
    rows = ["", "| | resource | action |", "|---|---|---|"]
    rows += [
        f"| {DOT.get(SYMBOL[a.kind], ':no_entry:')} `{SYMBOL[a.kind]}` | {_md_label(a)} "
        f"| {a.kind} |"
        for a in plan.actions
    ]
    details = diff_highlight(render_text(plan, color=False, mode=mode))
    fence = "`" * max(3, _longest_backtick_run(details) + 1)
    tail_open = ["", "<details><summary>Plan details</summary>", "", f"{fence}diff"]
    tail_close = [fence, "", "</details>", ""]
    text = "\n".join(head + rows + tail_open) + "\n" + details + "\n".join(tail_close)
    if len(text) <= limit:
        return text
    cut = f"\n… truncated: the full plan is in the job log (`reconciler {mode}`).\n"
    budget = limit - len("\n".join(head + tail_open)) - len("\n".join(tail_close)) - len(cut) - 2
    return (
        "\n".join(head + tail_open) + "\n" + details[: max(budget, 0)] + cut + "\n".join(tail_close)
    )


def _md_blocked(plan: Plan) -> list[str]:
    """Why the plan is blocked. Capped: a changed default can block thousands of clusters, and
    the comment must fit."""
    if not plan.is_blocked:
        return []
    reasons = [f"{_md_label(a)}: {escape(a.reason)}" for a in plan.blocked]
    reasons += [escape(r) for r in plan.refusals]
    lines = ["", *(f"> :no_entry: **Blocked:** {r}" for r in reasons[:MARKDOWN_BLOCKED_SHOWN])]
    if len(reasons) > MARKDOWN_BLOCKED_SHOWN:
        more = len(reasons) - MARKDOWN_BLOCKED_SHOWN
        lines.append(f"> … and {more} more blocked; see the details.")
    return lines


def _md_attention(plan: Plan) -> list[str]:
    """Managed resources that need a human, capped like the blocked reasons."""
    if not plan.attention:
        return []
    shown = [f"> :warning: **Attention:** {escape(a)}" for a in plan.attention]
    more = len(shown) - MARKDOWN_BLOCKED_SHOWN
    return ["", *shown[:MARKDOWN_BLOCKED_SHOWN], *([f"> … and {more} more."] if more > 0 else [])]


def diff_highlight(text: str) -> str:
    """Plan text for a ```diff block, coloured by consequence (DIFF_MARK): each line of a
    create, delete, replace or blocked action gets its mark in column 0 (the action's own
    symbol moves there), and an update's lines are left as they are, uncoloured."""
    lines, mark = [], ""
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        symbol = stripped[:3] if stripped.startswith("-/+") else stripped[:1]
        is_title = indent + len(symbol) <= 3 and stripped[len(symbol) : len(symbol) + 1] == " "
        if is_title and symbol in DIFF_MARK:
            mark = DIFF_MARK[symbol]
        elif not line.startswith("      ") or stripped.startswith("# "):
            mark = ""  # comments, blank lines and the footer are neutral
        if mark and line.startswith(" "):
            if stripped.startswith(mark) and stripped[len(mark) : len(mark) + 1] == " ":
                line = mark + " " * indent + stripped[len(mark) :]  # the symbol moves
            else:
                line = mark + line[1:]
        lines.append(line)
    return "\n".join(lines) + "\n"


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest

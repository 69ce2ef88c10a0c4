"""Plan and apply report → text (Terraform-like), JSON and markdown strings. Pure.

Every value goes through `show_value`, which prints secrets as "(sensitive)" and escapes
control characters, so nothing rendered can leak a secret or move the terminal cursor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from reconciler import kinds
from reconciler.kinds import SENSITIVE_MARK, TOP_LEVEL, is_sensitive, redact
from reconciler.model import (
    Action,
    ActionKind,
    ApplyReport,
    FieldChange,
    Outcome,
    Plan,
    Region,
    thaw,
)
from reconciler.plan.cost import HOURS_PER_MONTH, usd
from reconciler.plan.saved import plan_to_dict

#: "Live clusters and volumes match the spec.": every kind, referrers first.
MATCHED = f"Live {' and '.join(k.plural for k in reversed(TOP_LEVEL))} match the spec."
MARKDOWN_LIMIT = 65_000
MARKDOWN_BLOCKED_SHOWN = 20
UNMANAGED_SHOWN = 10

#: What the plan is for, which sets its words: `plan`/`show`/`apply`, `drift`, `destroy`.
MODES = ("plan", "drift", "destroy")
INTRO = {
    "plan": "reconciler will perform the following actions{scope}:",
    "drift": "Live state has drifted from the spec{scope}; `reconciler apply` would:",
    "destroy": "reconciler will destroy the following resources{scope}:",
}
NO_CHANGES = {
    "plan": f"No changes. {MATCHED}",
    "drift": f"No drift. {MATCHED}",
    "destroy": "Nothing to destroy: no live resource is declared by the spec.",
}
#: Markdown: the colour of a consequence. In a ```diff block GitHub paints lines starting
#: with `+` green, `-` red and `!` orange; an update's lines stay uncoloured (neutral).
DIFF_MARK = {"+": "+", "~": "", "-": "-", "-/+": "-", "!": "!"}
DOT = {"+": ":green_circle:", "~": ":white_circle:", "-": ":red_circle:", "-/+": ":red_circle:"}

COLORS = {"+": "32", "~": "33", "-": "31", "-/+": "35", "!": "31;1", "bold": "1"}

SYMBOL = {
    ActionKind.CREATE: "+",
    ActionKind.UPDATE: "~",
    ActionKind.DELETE: "-",
    ActionKind.REPLACE: "-/+",
    ActionKind.BLOCKED: "!",
}


def paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{COLORS.get(code, code)}m{text}\x1b[0m" if color else text


def escape(text: str) -> str:
    """Control characters (terminal escapes, newlines) made visible, never interpreted."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def show_name(name: str) -> str:
    return json.dumps(name, ensure_ascii=False) if name.isprintable() else json.dumps(name)


def label(action: Action) -> str:
    """`cluster "train-a"`, or for a nested kind `add-on "dash" on cluster "train-a"`."""
    text = f"{action.resource} {show_name(action.name)}"
    parent = kinds.get(action.resource).parent
    if parent is not None and action.parent is not None:
        text += f" on {parent.kind} {show_name(action.parent)}"
    return text


def _md_label(action: Action) -> str:
    text = f"{action.resource} `{escape(action.name)}`"
    parent = kinds.get(action.resource).parent
    if parent is not None and action.parent is not None:
        text += f" on {parent.kind} `{escape(action.parent)}`"
    return text


def show_value(value: Any, path: str = "") -> str:
    if path and is_sensitive(path):
        return SENSITIVE_MARK
    if value is None:
        return "null"
    text = json.dumps(redact(thaw(value), path), sort_keys=True, separators=(", ", ": "))
    return escape(text)


def _header(action: Action, mode: str = "plan") -> str:
    what = label(action)
    match action.kind:
        case ActionKind.CREATE:
            return f"# {what} will be created"
        case ActionKind.UPDATE:
            return f"# {what} will be updated in-place"
        case ActionKind.REPLACE:
            return f"# {what} must be replaced"
        case ActionKind.DELETE if mode == "destroy" or not action.reason:
            return f"# {what} will be destroyed"
        case ActionKind.DELETE:
            return f"# {what} will be destroyed ({escape(action.reason)})"
        case _:
            intended = f" ({action.intended} refused)" if action.intended else ""
            return f"# {what} is blocked{intended}: {escape(action.reason)}"


def _ident(action: Action) -> str:
    shown_id = action.resource_id and action.resource_id != action.name  # add-ons: id is the name
    parts = [f"id {escape(action.resource_id or '')}"] if shown_id else []
    if action.status:
        parts.append(escape(action.status))
    return f" ({', '.join(parts)})" if parts else ""


def _change_lines(changes: Iterable[FieldChange], kind: ActionKind, color: bool) -> list[str]:
    changes = list(changes)
    width = max((len(escape(c.path)) for c in changes), default=0)
    lines = []
    for change in changes:
        name = escape(change.path).ljust(width)
        if kind is ActionKind.CREATE:
            symbol, text = "+", f"{name} = {show_value(change.after, change.path)}"
        elif change.after is None:
            symbol, text = "-", f"{name} = {show_value(change.before, change.path)} -> null"
        elif change.before is None:
            symbol, text = "+", f"{name} = {show_value(change.after, change.path)}"
        else:
            before = show_value(change.before, change.path)
            after = show_value(change.after, change.path)
            if before == after == SENSITIVE_MARK:
                after = f"{SENSITIVE_MARK} (changed)"
            symbol, text = "~", f"{name} = {before} -> {after}"
        if change.forces_replacement:
            text += "   " + paint("# forces replacement", "-/+", color)
        lines.append(f"      {paint(symbol, symbol, color)} {text}")
    return lines


def render_action(action: Action, color: bool = False, mode: str = "plan") -> list[str]:
    symbol = SYMBOL[action.kind]
    lead = symbol.rjust(3)
    lines = [f"  {_header(action, mode)}"]
    title = f"{label(action)}{_ident(action)}"
    shown_kind = action.intended or action.kind
    if action.kind is ActionKind.DELETE or not action.changes:
        lines.append(f"{paint(lead, symbol, color)} {title}")
    else:
        lines.append(f"{paint(lead, symbol, color)} {title} {{")
        lines.extend(_change_lines(action.changes, shown_kind, color))
        lines.append("    }")
    lines.extend(f"      # note: {escape(n)}" for n in action.notes)
    return lines


def summary_line(plan: Plan) -> str:
    return (
        f"Plan: {plan.count(ActionKind.CREATE)} to create, {plan.count(ActionKind.UPDATE)} to "
        f"update, {plan.count(ActionKind.REPLACE)} to replace, "
        f"{plan.count(ActionKind.DELETE)} to delete."
    )


def gpu_line(plan: Plan) -> str:
    parts = [
        f"{g.gpu_type or '?'} {g.before} -> {g.after} ({g.after - g.before:+d})"
        for g in plan.gpu_changes
    ]
    return f"GPUs: {', '.join(parts)}." if parts else ""


def cost_note(plan: Plan, action: Action) -> list[str]:
    """`# cost: $20.00/h -> $160.00/h (+$140.00/h, +$102,200.00/month)` under an action."""
    for c in plan.money.costs:
        if c.key == action.key and (c.before != c.after or c.before is None):
            shown = ["price unknown" if x is None else f"{usd(x)}/h" for x in (c.before, c.after)]
            text = " -> ".join(shown)
            if c.before is not None and c.after is not None:
                month = usd((c.after - c.before) * HOURS_PER_MONTH, sign=True)
                text += f" ({usd(c.after - c.before, sign=True)}/h, {month}/month)"
            return [f"      # cost: {text}"]
    return []


def _who(key: str) -> str:
    kind, _, name = key.partition(".")  # `cluster.train` → `cluster "train"`
    return f"{kind} {show_name(name)}"


def money_lines(plan: Plan) -> list[str]:
    """GPU-hours per GPU type and billing type, cost totals, reservations ending, expiry."""
    money, lines, hours = plan.money, [], HOURS_PER_MONTH
    if parts := [
        f"{c.gpu_type or '?'} {c.billing_type or '?'} {c.before} -> {c.after} "
        f"({c.after - c.before:+d}; {c.before * hours:,} -> {c.after * hours:,} GPU-hours/month)"
        for c in money.capacity
    ]:
        lines.append(f"Committed GPUs: {', '.join(parts)}.")
    if (cost := money.cost) is not None:
        b, a, change = cost.before, cost.after, cost.after - cost.before
        total = f"{usd(a)}/h, {usd(a * hours)} per month of {hours} h (no change)"
        if change:
            total = (
                f"{usd(b)}/h -> {usd(a)}/h ({usd(change, sign=True)}/h); {usd(b * hours)} -> "
                f"{usd(a * hours)} per month of {hours} h ({usd(change * hours, sign=True)})"
            )
        total = "price unknown" if cost.unknown and not cost.priced else total
        lines.append(f"Cost: {total}. Prices: {escape(cost.source)}, as of {escape(cost.as_of)}.")
        if cost.unknown:
            names = ", ".join(_who(k) for k in cost.unknown)
            lines.append(f"Price unknown (not counted; add rows to the prices file): {names}.")
    lines += [
        f"Warning: {_who(e.key)}: its reservation ends {e.at} (in {e.days:.1f} days), and the "
        "cluster is decommissioned then."
        for e in money.ending
    ]
    lines += [
        f"Expired: {_who(e.key)}: lifecycle.expires_at {e.at} has passed; this plan deletes it."
        for e in money.expired
    ]
    return lines


def unmanaged_line(plan: Plan, quote: str = '"') -> str:
    """The live clusters left alone, by name: the first UNMANAGED_SHOWN, then a count."""
    n = len(plan.unmanaged)
    names = [f"{quote}{escape(name)}{quote}" for name in plan.unmanaged[:UNMANAGED_SHOWN]]
    more = f" and {n - UNMANAGED_SHOWN} more" if n > UNMANAGED_SHOWN else ""
    return (
        f"Unmanaged: {n} live cluster{'s' if n != 1 else ''} outside this spec's scope "
        f"{'are' if n != 1 else 'is'} left alone: {', '.join(names)}{more}."
    )


def render_text(plan: Plan, color: bool = False, mode: str = "plan") -> str:
    """The Terraform-like plan a reviewer reads; `mode` (MODES) sets the words."""
    lines: list[str] = []
    scope = f" (project {escape(plan.project_id)})" if plan.project_id else ""
    if plan.actions:
        lines += [INTRO[mode].format(scope=scope), ""]
        for action in plan.actions:
            lines += render_action(action, color, mode)
            lines += cost_note(plan, action)
            lines.append("")
    for note in plan.notes:
        lines.append(f"Note: {escape(note)}")
    lines += [paint(f"Attention: {escape(a)}", "!", color) for a in plan.attention]
    if plan.unmanaged:
        lines.append(unmanaged_line(plan))
    if not plan.has_changes and not plan.is_blocked:
        lines.append(NO_CHANGES[mode])
    else:
        lines.append(summary_line(plan))
        if gpu := gpu_line(plan):
            lines.append(gpu)
    lines += money_lines(plan)
    for refusal in plan.refusals:
        lines.append(paint(f"Blocked: {escape(refusal)}", "!", color))
    if plan.blocked:
        n = len(plan.blocked)
        lines.append(
            paint(
                f"Blocked: {n} action{'s' if n != 1 else ''} refused by a safety rule; "
                "nothing will be applied until the plan is clean.",
                "!",
                color,
            )
        )
    return "\n".join(lines) + "\n"


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, sort_keys=True) + "\n"


def render_markdown(plan: Plan, limit: int = MARKDOWN_LIMIT, mode: str = "plan") -> str:
    """A PR comment: summary table first, details collapsible, under `limit` characters."""
    scope = f" (project `{escape(plan.project_id)}`)" if plan.project_id else ""
    head = [f"### reconciler {mode}{scope}", ""]
    unmanaged = ["", unmanaged_line(plan, "`")] if plan.unmanaged else []
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
    if plan.is_blocked:
        # Capped: a changed default can block thousands of clusters, and the comment must fit.
        head.append("")
        reasons = [f"{_md_label(a)}: {escape(a.reason)}" for a in plan.blocked]
        reasons += [escape(r) for r in plan.refusals]
        head += [f"> :no_entry: **Blocked:** {r}" for r in reasons[:MARKDOWN_BLOCKED_SHOWN]]
        if len(reasons) > MARKDOWN_BLOCKED_SHOWN:
            head.append(
                f"> … and {len(reasons) - MARKDOWN_BLOCKED_SHOWN} more blocked; see the details."
            )
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


def render_plan(plan: Plan, fmt: str, color: bool = False, mode: str = "plan") -> str:
    match fmt:
        case "json":
            return render_json(plan)
        case "markdown":
            return render_markdown(plan, mode=mode)
        case _:
            return render_text(plan, color, mode)


def render_report(report: ApplyReport, color: bool = False, title: str = "Apply") -> str:
    """What apply (or destroy: `title`) did: one line per action, then the totals."""
    lines = []
    # A replace deleted but not created again is the worst news: it goes first.
    results = sorted(report.results, key=lambda r: not r.message.startswith("DELETED, NOT"))
    for result in results:
        action = result.action
        what = label(action)
        verb = {"create": "created", "update": "updated", "replace": "replaced"}.get(
            str(action.kind), "destroyed"
        )
        rid = f" (id {escape(result.resource_id)})" if result.resource_id else ""
        match result.outcome:
            case Outcome.SENT:
                # The call was made, but Ctrl-C cut its wait short.
                lines.append(
                    f"{paint('sent', '~', color)}     {what}{rid}: {escape(result.message)}"
                )
            case Outcome.DONE:
                note = f"; {escape(result.message)}" if result.message else ""
                lines.append(f"{paint('done', '+', color)}     {what}{rid} {verb}{note}")
            case Outcome.FAILED:
                lines.append(
                    f"{paint('failed', '-', color)}   {what}{rid}: {escape(result.message)}"
                )
            case _:
                lines.append(f"skipped  {what}: {escape(result.message)}")
    unsettled = report.count(Outcome.SENT)
    done, failed = report.count(Outcome.DONE), report.count(Outcome.FAILED)
    skipped = report.count(Outcome.SKIPPED)
    head = f"{title} interrupted" if report.interrupted else f"{title} complete"
    sent = f", {unsettled} not waited for" if unsettled else ""
    lines.append(f"{head}: {done} done{sent}, {failed} failed, {skipped} skipped.")
    if report.has_failures:
        lines.append("Run `reconciler plan` to see what is left to do.")
    return "\n".join(lines) + "\n"


def render_regions(regions: Iterable[Region]) -> str:
    """The catalogue as a table: region, GPU types, cuda/driver pairs (with ids)."""
    rows = [("REGION", "GPU TYPES", "CUDA/DRIVER (OS) ID")]
    for region in regions:
        drivers = [
            f"{d.cuda_version}/{d.nvidia_driver_version}"
            + (f" ({d.os})" if d.os else "")
            + (f" {d.id}" if d.id else "")
            for d in region.drivers
        ] or ["-"]
        for i, driver in enumerate(drivers):
            rows.append(
                (
                    region.name if i == 0 else "",
                    ", ".join(region.gpu_types) if i == 0 else "",
                    driver,
                )
            )
    widths = [max(len(escape(r[i])) for r in rows) for i in range(2)]
    return "".join(
        f"{escape(a).ljust(widths[0])}  {escape(b).ljust(widths[1])}  {escape(c)}".rstrip() + "\n"
        for a, b, c in rows
    )

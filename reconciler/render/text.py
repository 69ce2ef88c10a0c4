"""A plan as text, Terraform-like: the headers, the field changes, the summary lines. Pure.

Every value goes through `show_value`, which prints secrets as "(sensitive)" and escapes
control characters, so nothing rendered can leak a secret or move the terminal cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reconciler import kinds
from reconciler.kinds import SENSITIVE_MARK, TOP_LEVEL
from reconciler.model import (
    Action,
    ActionKind,
    FieldChange,
    Plan,
)
from reconciler.render.money import cost_note, money_lines
from reconciler.render.values import escape, paint, show_name, show_value

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


SYMBOL = {
    ActionKind.CREATE: "+",
    ActionKind.UPDATE: "~",
    ActionKind.DELETE: "-",
    ActionKind.REPLACE: "-/+",
    ActionKind.BLOCKED: "!",
}


def label(action: Action, show: Callable[[str], str] = show_name) -> str:
    """`cluster "train-a"`, or for a nested kind `add-on "dash" on cluster "train-a"`; `show`
    prints a name (markdown passes its code spans)."""
    text = f"{action.resource} {show(action.name)}"
    parent = kinds.get(action.resource).parent
    if parent is not None and action.parent is not None:
        text += f" on {parent.kind} {show(action.parent)}"
    return text


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


def unmanaged_line(plan: Plan, show: Callable[[str], str] = show_name) -> str:
    """The live clusters left alone, by name: the first UNMANAGED_SHOWN, then a count."""
    n = len(plan.unmanaged)
    names = [show(name) for name in plan.unmanaged[:UNMANAGED_SHOWN]]
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

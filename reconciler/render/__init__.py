"""Plans and reports as text (Terraform-like), JSON and markdown strings. Pure.

Every value goes through `values.show_value`, which prints secrets as "(sensitive)" and escapes
control characters, so nothing rendered can leak a secret or move the terminal cursor.
`text.py` is the plan a reviewer reads, `markdown.py` the pull-request comment, `money.py` the
cost lines, `report.py` what apply did; this module picks the format.
"""

from __future__ import annotations

import json

from reconciler.model import Plan
from reconciler.plan.saved import plan_to_dict
from reconciler.render.markdown import diff_highlight, render_markdown
from reconciler.render.money import cost_note, money_lines
from reconciler.render.report import render_regions, render_report
from reconciler.render.text import (
    MARKDOWN_LIMIT,
    MATCHED,
    SYMBOL,
    gpu_line,
    label,
    render_action,
    render_text,
    summary_line,
    unmanaged_line,
)
from reconciler.render.values import escape, paint, show_name, show_value

__all__ = [
    "MARKDOWN_LIMIT",
    "MATCHED",
    "SYMBOL",
    "cost_note",
    "diff_highlight",
    "escape",
    "gpu_line",
    "label",
    "money_lines",
    "paint",
    "render_action",
    "render_json",
    "render_markdown",
    "render_plan",
    "render_regions",
    "render_report",
    "render_text",
    "show_name",
    "show_value",
    "summary_line",
    "unmanaged_line",
]


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, sort_keys=True) + "\n"


def render_plan(plan: Plan, fmt: str, color: bool = False, mode: str = "plan") -> str:
    match fmt:
        case "json":
            return render_json(plan)
        case "markdown":
            return render_markdown(plan, mode=mode)
        case _:
            return render_text(plan, color, mode)

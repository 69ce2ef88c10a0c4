"""How one value, name or symbol is shown: escaped, secrets as "(sensitive)", colours. Pure."""

from __future__ import annotations

import json
from typing import Any

from reconciler.kinds import SENSITIVE_MARK, is_sensitive, redact
from reconciler.model import thaw

COLORS = {"+": "32", "~": "33", "-": "31", "-/+": "35", "!": "31;1", "bold": "1"}


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


def show_value(value: Any, path: str = "") -> str:
    if path and is_sensitive(path):
        return SENSITIVE_MARK
    if value is None:
        return "null"
    text = json.dumps(redact(thaw(value), path), sort_keys=True, separators=(", ", ": "))
    return escape(text)


def md_code(text: str) -> str:
    """`text` as a markdown code span that nothing in it can break out of: fenced with more
    backticks than its longest run, padded when it starts or ends with one, and with `|`
    escaped (GitHub tables split cells on it even inside code)."""
    shown = escape(text).replace("|", "\\|")
    longest = run = 0
    for ch in shown:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"

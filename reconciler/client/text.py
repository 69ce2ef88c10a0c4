"""Text hygiene for foreign text (URLs, API messages, names) before it goes into a message."""

from __future__ import annotations

MAX_API_MESSAGE = 300


def escape(text: str) -> str:
    """Escape control and other non-printable characters, repr-style, keeping the rest."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def truncate(text: str, limit: int = MAX_API_MESSAGE) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"

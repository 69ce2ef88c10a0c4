"""Normalisers the field tables use: both sides go through them before comparing. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def instant(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime (no offset: UTC); None when it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def normalise_time(value: Any) -> Any:
    """An RFC 3339 timestamp → canonical UTC `YYYY-MM-DDTHH:MM:SSZ`; anything else unchanged."""
    when = instant(value)
    if when is None:
        return value
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{when.microsecond:06d}Z" if when.microsecond else "Z"
    )


def upper(value: Any) -> Any:
    """Enums compare case-folded: the API echoes `h100_sxm` as `H100_SXM`."""
    return value.upper() if isinstance(value, str) else value


def text(value: Any) -> Any:
    """Version strings YAML may have read as numbers (`cuda_version: 12.6`)."""
    return str(value)


def cuda(value: Any) -> Any:
    """`12.8-ubuntu-24.04` → `12.8`: the API echoes only the semantic version (REFERENCE §3b:
    the OS suffix selects the image at create time and is not reported back), so the OS part
    is compared as a create-only detail: a change of OS alone cannot be observed."""
    return str(value).split("-", 1)[0]


def epoch(value: Any) -> float | None:
    """An RFC 3339 timestamp as seconds since the epoch; None when it is not one."""
    when = instant(value)
    return None if when is None else when.timestamp()

"""Headers, as the official SDK uses them: extra request headers from the environment, and the
answer headers that steer retries (`x-should-retry`, `Retry-After-Ms`, `Retry-After`).

Nothing here sends anything; the request loop (`loop.py`) asks these questions.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping

from reconciler.errors import ConfigError

#: Error statuses worth another attempt when the answer's headers do not say.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

CUSTOM_HEADERS_ENV = "TOGETHER_CUSTOM_HEADERS"

#: Headers the client sets itself. The SDK lets TOGETHER_CUSTOM_HEADERS replace even
#: Authorization; here the key comes only from TOGETHER_API_KEY or --api-key-file, and the
#: headers that frame or identify a request stay the client's.
OWN_HEADERS = {
    "authorization": "the API key goes only in TOGETHER_API_KEY or --api-key-file",
    "user-agent": "the client names itself reconciler/VERSION",
    "accept": "the client reads JSON answers only",
    "content-type": "the client sends JSON bodies only",
    "content-length": "httpx sets it",
    "transfer-encoding": "httpx sets it",
    "host": "the host comes from the base URL",
    "idempotency-key": "the client derives it per create",
}

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def custom_headers(env: Mapping[str, str]) -> dict[str, str]:
    """Extra headers from TOGETHER_CUSTOM_HEADERS: one `Name: value` per line, as the SDK reads
    it. Blank lines are skipped; anything else that is not such a line is a ConfigError naming
    the line (never its value: a custom header often carries a gateway's secret)."""
    text = env.get(CUSTOM_HEADERS_ENV, "")
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{CUSTOM_HEADERS_ENV} line {number}"
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _TOKEN.fullmatch(name):
            raise ConfigError(
                f"{where}: expected 'Name: value' (a header name of letters, digits and "
                "-_.!#$%&'*+^`|~, then a colon); one header per line"
            )
        lower = name.lower()
        if lower in OWN_HEADERS:
            raise ConfigError(f"{where}: {name} cannot be set here ({OWN_HEADERS[lower]})")
        if lower in seen:
            raise ConfigError(f"{where}: {name} is given twice; keep one line per header")
        if not all(ch == "\t" or " " <= ch <= "~" for ch in value):
            raise ConfigError(f"{where}: the value of {name} has control or non-ASCII characters")
        seen.add(lower)
        headers[name] = value
    return headers


def should_retry(headers: Mapping[str, str]) -> bool | None:
    """The API's own advice in `x-should-retry: true|false`; None when it gives none."""
    value = headers.get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


def retry_delay(headers: Mapping[str, str]) -> float | None:
    """Seconds the API asks to wait: `Retry-After-Ms` first (as the SDK reads it), then
    `Retry-After` (delta-seconds or an HTTP date); None when neither is usable."""
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    return retry_after(headers.get("retry-after"))


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP date); None if unusable."""
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _seconds(value: str | None) -> float | None:
    """A finite number, not below zero (a negative one counts as 0); None if not a number."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None


def may_retry(status: int, is_create: bool, advice: bool | None) -> bool:
    """Whether an error status may be retried. The API's `x-should-retry` (`advice`) decides
    for idempotent calls; for a create it can only forbid: a POST is re-sent only after a 429
    (refused, so not carried out), never because a header said so (DESIGN §7: zero
    duplicates)."""
    if is_create:
        return status == 429 and advice is not False
    return status in RETRYABLE_STATUSES if advice is None else advice

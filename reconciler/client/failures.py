"""What went wrong with a call, in words: error statuses as the error tree, transport failures
as refused / unresolvable / timed out, with a hint for a simulator that is not running.
"""

from __future__ import annotations

import socket
import ssl

import httpx

from reconciler.client.config import _is_loopback as is_loopback
from reconciler.errors import (
    ApiStatusError,
    AuthError,
    ConflictError,
    NotFoundError,
    RateLimitError,
)


class TooSlow(httpx.ReadTimeout):
    """The answer did not arrive whole within the call's deadline."""


def status_error(
    message: str, method: str, path: str, status: int, api_message: str
) -> ApiStatusError:
    cls: type[ApiStatusError]
    if status in (401, 403):
        cls = AuthError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status == 429:
        cls = RateLimitError
    else:
        cls = ApiStatusError
    return cls(message, method=method, path=path, status=status, api_message=api_message or None)


def is_tls_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "[SSL" in str(exc)


def describe(exc: httpx.HTTPError) -> str:
    """The exception's name and, in words, what went wrong: refused, unresolvable, timed out."""
    name, text = type(exc).__name__, str(exc).lower()
    if isinstance(exc, TooSlow):
        return f"ReadTimeout ({exc}: the server sent it too slowly)"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"{name} (timed out connecting)"
    if isinstance(exc, httpx.TimeoutException):
        return f"{name} (timed out)"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return f"{name} (connection closed before the answer)"
    if _in_chain(exc, socket.gaierror) or any(w in text for w in _UNRESOLVABLE):
        return f"{name} (the host name does not resolve)"
    if _in_chain(exc, ConnectionRefusedError) or "refused" in text:
        return f"{name} (connection refused: nothing listens there)"
    return name


_UNRESOLVABLE = ("name or service not known", "name resolution", "nodename nor servname")


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    current: BaseException | None = exc
    for _ in range(10):  # bounded: a chain may loop
        if current is None or isinstance(current, kind):
            return current is not None
        current = current.__cause__ or current.__context__
    return False


def unreachable_hint(base_url: str, exc: httpx.HTTPError) -> str:
    """What to check when nothing answered: for a loopback URL, the local simulator."""
    if is_loopback(httpx.URL(base_url).host):
        return "; is `reconciler sim serve` running on that port? (or use --sim, in-process)"
    connect = isinstance(exc, httpx.ConnectError)
    return "; check --base-url (or TOGETHER_BASE_URL) and the network" if connect else ""

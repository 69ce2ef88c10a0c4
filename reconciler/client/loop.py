"""The request loop: one logical call as attempts, retries with backoff, and error mapping.

Every httpx exception is translated here, once, into the error tree of `reconciler.errors`
(the table is in the package docstring). What to call and how to read the answer is the
caller's (`resources.py`); how long and how often is configuration (`config.py`)."""

from __future__ import annotations

import collections
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from reconciler import __version__
from reconciler.client.answers import Answer, extract_api_message, json_text, load_json, reason
from reconciler.client.config import (
    CALL_DEADLINE,
    CREATE_UNKNOWN_STATUSES,
    DEFAULT_HEADERS,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    MAX_BODY_BYTES,
    THREAD_LIMITS,
    RetryPolicy,
    check_base_url,
    env_proxy,
    is_header_safe,
    kept_url,
    tls_verify,
)
from reconciler.client.failures import (
    TooSlow,
    describe,
    is_tls_error,
    status_error,
    unreachable_hint,
)
from reconciler.client.headers import (
    RETRYABLE_STATUSES,
    custom_headers,
    may_retry,
    retry_delay,
    should_retry,
)
from reconciler.client.text import escape, truncate
from reconciler.errors import (
    ApiResponseError,
    ApiTransportError,
    ConfigError,
    CreateOutcomeUnknown,
)

# Transport errors raised before any byte of the request reached the server.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)

log = logging.getLogger("reconciler.client")


class _Refused(Exception):
    """Internal: an answer was refused before it was fully read (carries the reason)."""


class RequestLoop:
    """A connection pool per calling thread, bearer auth, and `_call`: attempts and retries
    per DESIGN §7."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
        deadline: float = CALL_DEADLINE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`env` (default: the process environment) supplies TOGETHER_CUSTOM_HEADERS and, without
        an injected transport, the proxy. Every thread that calls gets its own connection."""
        if transport is None:
            # Real network: https, or http to loopback. The simulator's transport takes any.
            base_url = check_base_url(base_url)
        if not api_key or not is_header_safe(api_key):
            raise ConfigError("the API key is empty or contains spaces or control characters")
        environ = os.environ if env is None else env
        extra = custom_headers(environ)
        self.base_url = base_url.rstrip("/")
        self._secret = api_key
        self._retry = retry
        self._sleep = sleep
        self._jitter = jitter
        self._deadline = deadline
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        self.calls: collections.Counter[str] = collections.Counter()
        self._transport = transport
        self._verify = tls_verify(base_url)  # one context (one CA bundle load) for all pools
        self._proxy = env_proxy(base_url, environ) if transport is None else None
        self._timeout = {"timeout": timeout.as_dict()}
        self._headers = httpx.Headers(DEFAULT_HEADERS)
        self._headers.update(extra)  # by name, whatever its case, as the Client merged them
        self._headers.update(
            {
                "Accept": "application/json",
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"reconciler/{__version__}",
            }
        )
        self._local = threading.local()
        self._pools: list[httpx.BaseTransport] = []
        self._urls: dict[str, httpx.URL] = {}  # path → its URL, parsed once (`kept_url`)

    @property
    def _http(self) -> httpx.BaseTransport:
        """This thread's connection pool (an httpx transport), made at its first call; an
        injected transport (the simulator) serves every thread. One pool per thread: httpcore
        1.0's shared pool matches requests to connections under one lock with a pass over every
        connection (and a poll per idle one), which made apply at --parallelism 50 CPU-bound
        (encode/httpcore#1035). A thread makes one call at a time: one kept-alive connection.
        No `httpx.Client` on top: its layers (URL and header merging, auth, redirects, cookies)
        cost a quarter of a request's CPU and do nothing here; see `env_proxy`."""
        pool: httpx.BaseTransport | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._transport or httpx.HTTPTransport(
                verify=self._verify, limits=THREAD_LIMITS, proxy=self._proxy
            )
            with self._lock:
                if self._closed:  # closed meanwhile: this pool would never be
                    if pool is not self._transport:
                        pool.close()
                    raise ApiTransportError("the client is closed")
                if pool is not self._transport or not self._pools:
                    self._pools.append(pool)
            self._local.pool = pool
        return pool

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close every thread's pool. A call still running in another thread (plan's list
        calls, when the spec failed its check) ends at its next attempt, quietly."""
        self._closed = True
        with self._lock:
            pools, self._pools = self._pools, []
        for pool in pools:
            pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        empty_ok: bool = False,
        limit: int = MAX_BODY_BYTES,
        read: Callable[[Any, int, str, str, str], Any] = load_json,
        raw: bool = False,
    ) -> Any:
        """One logical call (attempts, retries, translation): what `read` makes of the answer's
        text, status, where, method, path; its JSON by default (`raw`: see `json_text`)."""
        where = f"{method} {path}"
        is_create = method == "POST"
        headers: dict[str, str] = {}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(dict(body), allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            if not is_header_safe(idempotency_key):
                raise ValueError("idempotency_key must be printable ASCII without spaces")
            headers["Idempotency-Key"] = idempotency_key
        retries = 0
        while True:
            if self._closed:
                raise ApiTransportError(f"{where}: the client is closed", method=method, path=path)
            with self._lock:
                self.calls[where] += 1
            attempt = retries + 1
            try:
                answer = self._send(method, path, params, content, headers, limit)
            except _Refused as exc:
                raise ApiResponseError(f"{where}: {exc}", method=method, path=path) from None
            except httpx.HTTPError as exc:
                delay = self._on_transport_error(exc, where, method, path, is_create, retries)
                log.debug(
                    "%s: attempt %d failed (%s); retrying", where, attempt, type(exc).__name__
                )
                self._pause(delay)
                retries += 1
                continue
            except (httpx.InvalidURL, httpx.StreamError, httpx.CookieConflict) as exc:
                raise ApiTransportError(
                    f"{where}: {type(exc).__name__}: {self._clean(str(exc))}",
                    method=method,
                    path=path,
                ) from None
            log.debug("%s: attempt %d answered %d", where, attempt, answer.status)
            if 200 <= answer.status < 300:
                status = answer.status
                text = json_text(answer, where, method, path, empty_ok=empty_ok, raw=raw)
                del answer  # the bytes go before the JSON is built: see json_text
                return read(text, status, where, method, path)
            delay = self._on_error_status(answer, where, method, path, is_create, retries)
            self._pause(delay)
            retries += 1

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        headers: Mapping[str, str],
        limit: int = MAX_BODY_BYTES,
    ) -> Answer:
        """Send once and read at most `limit` bytes of the answer, all of it within the call's
        deadline (a trickling server is a read timeout, retried like one)."""
        give_up = self._clock() + self._deadline
        merged = self._headers
        if headers:
            merged = merged.copy()
            merged.update(headers)
        request = httpx.Request(
            method,
            kept_url(self._urls, self.base_url, path),
            params=params,
            content=content,
            headers=merged,
            extensions=self._timeout,
        )
        pool = self._http
        response = pool.handle_request(request)
        try:
            declared = response.headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > limit:
                raise _Refused(
                    f"the answer is {int(declared)} bytes, over the {limit} byte limit "
                    f"(status {response.status_code})"
                )
            data = bytearray()
            for chunk in response.iter_bytes():
                if self._clock() > give_up:
                    raise TooSlow(
                        f"no complete answer within {self._deadline:.0f} s", request=request
                    )
                data += chunk
                if len(data) > limit:
                    raise _Refused(
                        f"the answer is over the {limit} byte limit (status {response.status_code})"
                    )
            return Answer(response.status_code, response.headers, data)
        finally:
            response.close()
            if self._closed and pool is not self._transport:
                pool.close()  # closed meanwhile: its pool was closed before this connection

    def _on_transport_error(
        self,
        exc: httpx.HTTPError,
        where: str,
        method: str,
        path: str,
        is_create: bool,
        retries: int,
    ) -> float:
        """Decide on a failed attempt with no answer: the delay before retrying, or raise."""
        kind = type(exc).__name__
        detail = self._clean(str(exc)) or kind
        if isinstance(exc, httpx.ConnectError) and is_tls_error(exc):
            raise ApiTransportError(
                f"{where}: TLS error talking to {self.base_url}: {detail} (not retried; "
                "check the base URL and the system's CA certificates)",
                method=method,
                path=path,
            ) from None
        if isinstance(exc, httpx.DecodingError | httpx.TooManyRedirects):
            raise ApiResponseError(f"{where}: {kind}: {detail}", method=method, path=path) from None
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
            raise ApiTransportError(
                f"{where}: {kind}: {detail}", method=method, path=path
            ) from None
        sent = not isinstance(exc, NOT_SENT_ERRORS)
        if is_create and sent:
            raise CreateOutcomeUnknown(
                f"{where}: the request was sent but no answer came back ({describe(exc)}); "
                "it may or may not have been carried out: list before sending it again",
                method=method,
                path=path,
            ) from None
        if retries >= self._retry.max_retries:
            raise ApiTransportError(
                f"{where}: no answer from {self.base_url} after {retries + 1} attempts: "
                f"{describe(exc)}{unreachable_hint(self.base_url, exc)}",
                method=method,
                path=path,
            ) from None
        self._notice_retry(f"{where}: no answer from {self.base_url}: {describe(exc)}")
        return self._backoff(retries)

    def _on_error_status(
        self,
        answer: Answer,
        where: str,
        method: str,
        path: str,
        is_create: bool,
        retries: int,
    ) -> float:
        """Decide on an error status: the delay before retrying, or raise the mapped error."""
        status = answer.status
        api_message = self._clean(extract_api_message(answer))
        summary = f"{where}: {status} {reason(status)}"
        if api_message:
            summary += f": {api_message}"
        if is_create and status in CREATE_UNKNOWN_STATUSES:
            raise CreateOutcomeUnknown(
                f"{summary} (the create may or may not have been carried out: "
                "list before sending it again)",
                method=method,
                path=path,
                status=status,
                api_message=api_message or None,
            )
        advice = should_retry(answer.headers)
        if not may_retry(status, is_create, advice):
            if advice is False and status in RETRYABLE_STATUSES:
                summary += " (not retried: the API answered x-should-retry: false)"
            raise status_error(summary, method, path, status, api_message)
        wait = retry_delay(answer.headers)
        if wait is not None and wait > self._retry.max_retry_after:
            raise status_error(
                f"{summary} (the API asked to wait {wait:.0f} s before retrying, over the "
                f"{self._retry.max_retry_after:.0f} s limit; try again later)",
                method,
                path,
                status,
                api_message,
            )
        if retries >= self._retry.max_retries:
            raise status_error(
                f"{summary} (gave up after {retries + 1} attempts)",
                method,
                path,
                status,
                api_message,
            )
        self._notice_retry(summary)
        return wait if wait is not None else self._backoff(retries)

    def _notice_retry(self, what: str) -> None:
        """One line per client, at the first retry: never silent, never one per attempt (and
        none once the client is closed: the call is dropped, not retried)."""
        with self._lock:
            if self._closed or getattr(self, "_retry_noticed", False):
                return
            self._retry_noticed = True
        retries = self._retry.max_retries
        log.warning("%s; retrying up to %d times (later retries are not reported)", what, retries)

    def _backoff(self, retries: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**retries)]."""
        ceiling = min(self._retry.max_delay, self._retry.base_delay * 2.0**retries)
        return max(0.0, float(self._jitter()) * ceiling)

    def _pause(self, delay: float) -> None:
        if delay > 0:
            self._sleep(delay)

    def _clean(self, text: str) -> str:
        """Make foreign text safe for a message: no token, no control characters, bounded."""
        # A key this short is no real secret, and redacting it would garble ordinary words.
        if len(self._secret) >= 8:
            text = text.replace(self._secret, "***")
        return escape(truncate(text.strip()))

"""Typed HTTP client of the Together cluster API: auth, retries, error mapping, strict answers.

The only package (with the simulator's transport and server) that imports httpx. Every httpx
exception is translated in `loop.py`, once, into the error tree of `reconciler.errors`:

    httpx.ConnectError / ConnectTimeout / PoolTimeout   nothing sent: retried (POST too)
    httpx.ConnectError caused by TLS                     ApiTransportError, never retried
    other transport errors (read/write/timeout/drop)     GET/PUT/DELETE retried;
                                                         POST -> CreateOutcomeUnknown
    408 429 500 502 503 504                              GET/PUT/DELETE retried; POST retries
                                                         only 429, the rest -> CreateOutcomeUnknown
    x-should-retry: true | false (answer header)         overrides the status for GET/PUT/DELETE;
                                                         on a POST it can only stop a 429's retry
    any other HTTP error status                          ApiStatusError subclass, not retried
    a body that is not the documented JSON               ApiResponseError

    config.py     key, base URL, timeouts, size limits, retry policy: decided before a request
    headers.py    TOGETHER_CUSTOM_HEADERS; x-should-retry, Retry-After-Ms, Retry-After answers
    loop.py       the request loop: attempts, retries, backoff, error mapping
    answers.py    strict reading of answers: JSON, shapes, required fields, API messages
    resources.py  `Client`: one create/get/list/update/delete path over a kind's `Endpoints`
"""

from __future__ import annotations

from reconciler.client.config import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    MAX_BODY_BYTES,
    MAX_LIST_BODY_BYTES,
    RetryPolicy,
    check_base_url,
    resolve_api_key,
)
from reconciler.client.resources import Client

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_LIST_BODY_BYTES",
    "Client",
    "RetryPolicy",
    "check_base_url",
    "resolve_api_key",
]

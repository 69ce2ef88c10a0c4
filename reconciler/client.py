"""Typed HTTP client of the Together cluster API: auth, retries, error mapping, strict answers.

The only module (with the simulator's transport and server) that imports httpx. Every httpx
exception is translated here, once, into the error tree of `reconciler.errors`:

    httpx.ConnectError / ConnectTimeout / PoolTimeout   nothing sent: retried (POST too)
    httpx.ConnectError caused by TLS                     ApiTransportError, never retried
    other transport errors (read/write/timeout/drop)     GET/PUT/DELETE retried;
                                                         POST -> CreateOutcomeUnknown
    408 429 500 502 503 504                              GET/PUT/DELETE retried; POST retries
                                                         only 429, the rest -> CreateOutcomeUnknown
    any other HTTP error status                          ApiStatusError subclass, not retried
    a body that is not the documented JSON               ApiResponseError
"""

from __future__ import annotations

import collections
import email.utils
import http
import ipaddress
import json
import logging
import os
import random
import ssl
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import httpx

from reconciler import __version__
from reconciler.errors import (
    ApiError,
    ApiResponseError,
    ApiStatusError,
    ApiTransportError,
    AuthError,
    ConfigError,
    ConflictError,
    CreateOutcomeUnknown,
    NotFoundError,
    RateLimitError,
)

DEFAULT_BASE_URL = "https://api.together.ai"
MAX_BODY_BYTES = 16 * 1024 * 1024
#: List answers grow with the account (about 4 KiB per cluster with its nodes and kube_config):
#: 16 MiB would cap a project near 4,000 clusters, so lists get a larger, still bounded, limit.
MAX_LIST_BODY_BYTES = 256 * 1024 * 1024
MAX_API_MESSAGE = 300
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)

CLUSTERS = "/v1/compute/clusters"
VOLUMES = "/v1/compute/clusters/storage/volumes"
REGIONS = "/v1/compute/regions"

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# A create answered with one of these may have been committed before the error.
CREATE_UNKNOWN_STATUSES = frozenset({408, 500, 502, 503, 504})
# Transport errors raised before any byte of the request reached the server.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry (DESIGN §7); tests inject instant sleep, not a policy."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0


# --- configuration: key and base URL ----------------------------------------------------------


def resolve_api_key(env: Mapping[str, str], api_key_file: str | None) -> str:
    """The API key from `--api-key-file` (wins when given) or env TOGETHER_API_KEY."""
    if api_key_file is not None:
        key = _read_key_file(api_key_file)
        source = f"--api-key-file {api_key_file}"
    else:
        key = env.get("TOGETHER_API_KEY", "").strip()
        source = "TOGETHER_API_KEY"
        if not key:
            raise ConfigError(
                "no API key: set TOGETHER_API_KEY in the environment, or pass "
                "--api-key-file FILE (a file only you can read: chmod 600 FILE); "
                "or use --sim to run against the built-in simulator"
            )
    if not key:
        raise ConfigError(f"{source}: the API key file is empty")
    if not _is_header_safe(key):
        raise ConfigError(f"{source}: the API key contains spaces, control or non-ASCII characters")
    return key


def _read_key_file(path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ConfigError(f"--api-key-file {path}: cannot read it: {exc.strerror}") from None
    try:
        # fstat the open descriptor, so the mode checked is the mode of the file read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"--api-key-file {path}: not a regular file")
        if info.st_mode & 0o077:
            raise ConfigError(
                f"--api-key-file {path}: the file is readable by others "
                f"(mode {stat.S_IMODE(info.st_mode):03o}); run: chmod 600 {path}"
            )
        if info.st_size > 64 * 1024:
            raise ConfigError(f"--api-key-file {path}: too large to be an API key")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read()
    finally:
        os.close(fd)
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"--api-key-file {path}: not UTF-8 text") from None


def _is_header_safe(key: str) -> bool:
    return key.isascii() and key.isprintable() and " " not in key


def check_base_url(url: str) -> str:
    """Validate a base URL (host root; https, or http only for loopback); return it normalised."""
    text = url.strip()
    shown = _escape(text)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"base URL {shown!r}: not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise ConfigError(
            f"base URL {shown!r}: expected https://HOST (the API host root, "
            f"default {DEFAULT_BASE_URL})"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError("base URL: credentials in the URL are refused; use TOGETHER_API_KEY")
    if parts.query or parts.fragment:
        raise ConfigError(f"base URL {shown!r}: no query or fragment allowed")
    if scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"base URL {shown!r}: http:// would send the API key in clear text; "
            "use https://, or http:// only for a loopback host (127.0.0.1, localhost, ::1)"
        )
    path = parts.path.rstrip("/")
    if path.lower().endswith("/v1"):
        root = text[: text.lower().rstrip("/").rfind("/v1")]
        raise ConfigError(
            f"base URL {shown!r}: give the host root, as the official SDK takes it "
            f"(e.g. {_escape(root)!r}); the client adds /v1/... itself"
        )
    return f"{parts.scheme}://{parts.netloc}{path}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- text hygiene --------------------------------------------------------------------------------


def _escape(text: str) -> str:
    """Escape control and other non-printable characters, repr-style, keeping the rest."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _truncate(text: str, limit: int = MAX_API_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _looks_like_html(data: bytes, content_type: str) -> bool:
    if "html" in content_type.lower():
        return True
    head = data[:256].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml"))


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


# --- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes


class _Refused(Exception):
    """Internal: an answer was refused before it was fully read (carries the reason)."""


class Client:
    """The one HTTP client of the tool: one connection pool, bearer auth, retries per §7."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if transport is None:
            # Real network: the URL must pass the https/loopback rule. An injected transport
            # (the simulator) ignores the host, so any base works there.
            base_url = check_base_url(base_url)
        if not api_key or not _is_header_safe(api_key):
            raise ConfigError("the API key is empty or contains spaces or control characters")
        self.base_url = base_url.rstrip("/")
        self._secret = api_key
        self._retry = retry
        self._sleep = sleep
        self._jitter = jitter
        self._lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"reconciler/{__version__}",
            },
        )

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- clusters --------------------------------------------------------------------------------

    def list_clusters(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """GET /v1/compute/clusters[?projectId=]: every cluster, validated."""
        params = {"projectId": project_id} if project_id else None
        body = self._call("GET", CLUSTERS, params=params, limit=MAX_LIST_BODY_BYTES)
        return _items(body, "clusters", _check_cluster, "GET", CLUSTERS)

    def get_cluster(self, cluster_id: str) -> dict[str, Any]:
        """GET /v1/compute/clusters/{id}."""
        path = f"{CLUSTERS}/{_segment(cluster_id)}"
        return _check_cluster(_object(self._call("GET", path), "GET", path), "GET", path)

    def create_cluster(
        self, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/compute/clusters; raises CreateOutcomeUnknown when it may have committed."""
        return self._create(CLUSTERS, body, idempotency_key, _check_cluster)

    def update_cluster(self, cluster_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT /v1/compute/clusters/{id} with a partial body."""
        path = f"{CLUSTERS}/{_segment(cluster_id)}"
        answer = self._call("PUT", path, body=body)
        return _check_cluster(_object(answer, "PUT", path), "PUT", path)

    def delete_cluster(self, cluster_id: str) -> dict[str, Any]:
        """DELETE /v1/compute/clusters/{id}; answers `{cluster_id}`."""
        path = f"{CLUSTERS}/{_segment(cluster_id)}"
        answer = _object(self._call("DELETE", path, empty_ok=True), "DELETE", path)
        _optional_str(answer, "cluster_id", "DELETE", path)
        return answer

    def list_regions(self) -> list[dict[str, Any]]:
        """GET /v1/compute/regions."""
        return _items(self._call("GET", REGIONS), "regions", _check_region, "GET", REGIONS)

    # --- shared volumes --------------------------------------------------------------------------

    def list_volumes(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """GET /v1/compute/clusters/storage/volumes[?projectId=]."""
        params = {"projectId": project_id} if project_id else None
        body = self._call("GET", VOLUMES, params=params, limit=MAX_LIST_BODY_BYTES)
        return _items(body, "volumes", _check_volume, "GET", VOLUMES)

    def get_volume(self, volume_id: str) -> dict[str, Any]:
        """GET /v1/compute/clusters/storage/volumes/{id}."""
        path = f"{VOLUMES}/{_segment(volume_id)}"
        return _check_volume(_object(self._call("GET", path), "GET", path), "GET", path)

    def create_volume(
        self, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """POST /v1/compute/clusters/storage/volumes; CreateOutcomeUnknown as for clusters."""
        return self._create(VOLUMES, body, idempotency_key, _check_volume)

    def update_volume(self, volume_id: str, size_tib: int) -> dict[str, Any]:
        """PUT /v1/compute/clusters/storage/volumes with `{volume_id, size_tib}` (no id in path)."""
        _segment(volume_id)
        answer = self._call("PUT", VOLUMES, body={"volume_id": volume_id, "size_tib": size_tib})
        return _check_volume(_object(answer, "PUT", VOLUMES), "PUT", VOLUMES)

    def delete_volume(self, volume_id: str) -> dict[str, Any]:
        """DELETE /v1/compute/clusters/storage/volumes/{id}; answers `{success}`."""
        path = f"{VOLUMES}/{_segment(volume_id)}"
        answer = _object(self._call("DELETE", path, empty_ok=True), "DELETE", path)
        success = answer.get("success", True)
        if not isinstance(success, bool):
            raise ApiResponseError(
                f"DELETE {path}: 'success' is not a boolean", method="DELETE", path=path
            )
        if not success:
            raise ApiError(
                f"DELETE {path}: the API answered success=false (is the volume still attached "
                "to a cluster?)",
                method="DELETE",
                path=path,
            )
        return answer

    # --- the request loop ------------------------------------------------------------------------

    def _create(
        self,
        path: str,
        body: Mapping[str, Any],
        idempotency_key: str | None,
        check: Callable[[dict[str, Any], str, str], dict[str, Any]],
    ) -> dict[str, Any]:
        """POST once; an unusable 2xx answer means the create probably happened: outcome unknown."""
        try:
            answer = self._call("POST", path, body=body, idempotency_key=idempotency_key)
            return check(_object(answer, "POST", path), "POST", path)
        except ApiResponseError as exc:
            raise CreateOutcomeUnknown(
                f"{exc}; the create may have been carried out: list before sending it again",
                method="POST",
                path=path,
                status=exc.status,
            ) from None

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
    ) -> Any:
        """One logical call: attempts, retries and translation; returns the parsed JSON."""
        where = f"{method} {path}"
        is_create = method == "POST"
        headers: dict[str, str] = {}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(dict(body), allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            if not _is_header_safe(idempotency_key):
                raise ValueError("idempotency_key must be printable ASCII without spaces")
            headers["Idempotency-Key"] = idempotency_key
        retries = 0
        while True:
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
                return _parse_json(answer, where, method, path, empty_ok=empty_ok)
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
    ) -> _Answer:
        """Send once and read at most `limit` bytes of the answer."""
        with self._http.stream(
            method, path, params=params, content=content, headers=headers
        ) as response:
            declared = response.headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > limit:
                raise _Refused(
                    f"the answer is {int(declared)} bytes, over the {limit} byte limit "
                    f"(status {response.status_code})"
                )
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise _Refused(
                        f"the answer is over the {limit} byte limit (status {response.status_code})"
                    )
            return _Answer(response.status_code, response.headers, bytes(data))

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
        if isinstance(exc, httpx.ConnectError) and _is_tls_error(exc):
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
                f"{where}: the request was sent but no answer came back ({_describe(exc)}); "
                "it may or may not have been carried out: list before sending it again",
                method=method,
                path=path,
            ) from None
        if retries >= self._retry.max_retries:
            raise ApiTransportError(
                f"{where}: no answer from {self.base_url} after {retries + 1} attempts: "
                f"{_describe(exc)}",
                method=method,
                path=path,
            ) from None
        return self._backoff(retries)

    def _on_error_status(
        self,
        answer: _Answer,
        where: str,
        method: str,
        path: str,
        is_create: bool,
        retries: int,
    ) -> float:
        """Decide on an error status: the delay before retrying, or raise the mapped error."""
        status = answer.status
        api_message = self._clean(_api_message(answer))
        summary = f"{where}: {status} {_reason(status)}"
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
        if status not in RETRYABLE_STATUSES:
            raise _status_error(summary, method, path, status, api_message)
        wait = _retry_after(answer.headers.get("retry-after"))
        if wait is not None and wait > self._retry.max_retry_after:
            raise _status_error(
                f"{summary} (the API asked to wait {wait:.0f} s before retrying, over the "
                f"{self._retry.max_retry_after:.0f} s limit; try again later)",
                method,
                path,
                status,
                api_message,
            )
        if retries >= self._retry.max_retries:
            raise _status_error(
                f"{summary} (gave up after {retries + 1} attempts)",
                method,
                path,
                status,
                api_message,
            )
        return wait if wait is not None else self._backoff(retries)

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
        return _escape(_truncate(text.strip()))


# --- translation helpers -------------------------------------------------------------------------


def _status_error(
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


def _is_tls_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc) or "[SSL" in str(exc)


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"{type(exc).__name__} (timed out)"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return f"{type(exc).__name__} (connection closed before the answer)"
    return type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _api_message(answer: _Answer) -> str:
    """The API's own words from an error body: either JSON error shape, or plain text."""
    if not answer.body.strip():
        return ""
    content_type = answer.headers.get("content-type", "")
    if _looks_like_html(answer.body, content_type):
        return "(an HTML page instead of a JSON error)"
    text = answer.body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(data.get("message"), str):
            return str(data["message"])
    return text


def _parse_json(answer: _Answer, where: str, method: str, path: str, *, empty_ok: bool) -> Any:
    def refuse(what: str) -> NoReturn:
        raise ApiResponseError(
            f"{where}: {what} (status {answer.status})",
            method=method,
            path=path,
            status=answer.status,
        )

    if not answer.body.strip():
        if empty_ok:
            return {}
        refuse("the API answered an empty body, not JSON")
    if _looks_like_html(answer.body, answer.headers.get("content-type", "")):
        refuse("the API answered HTML, not JSON")
    try:
        return json.loads(answer.body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        refuse("the API answered bytes that are not UTF-8")
    except RecursionError:
        refuse("the API answered JSON nested too deeply")
    except ValueError as exc:
        refuse(f"the API answered invalid JSON ({_escape(_truncate(str(exc), 120))})")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _segment(resource_id: str) -> str:
    """An id as one path segment; an empty id is a bug in the caller, not an API error."""
    if not isinstance(resource_id, str) or not resource_id:
        raise ValueError("a resource id must be a non-empty string")
    return quote(resource_id, safe="")


def _object(data: Any, method: str, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiResponseError(
            f"{method} {path}: expected a JSON object, got {_json_type(data)}",
            method=method,
            path=path,
        )
    return data


def _items(
    data: Any,
    key: str,
    check: Callable[[dict[str, Any], str, str], dict[str, Any]],
    method: str,
    path: str,
) -> list[dict[str, Any]]:
    body = _object(data, method, path)
    items = body.get(key)
    if not isinstance(items, list):
        raise ApiResponseError(
            f"{method} {path}: expected {{{key!r}: [...]}}, got "
            + (f"{key!r}: {_json_type(items)}" if key in body else f"no {key!r} key"),
            method=method,
            path=path,
        )
    where = f"{path} {key}"
    return [
        check(_object(item, method, f"{where}[{i}]"), method, path) for i, item in enumerate(items)
    ]


def _require_str(
    obj: dict[str, Any],
    fields: tuple[str, ...],
    what: str,
    name_field: str,
    method: str,
    path: str,
) -> None:
    """Every field in `fields` must be a non-empty string; the message names the resource."""
    missing = [f for f in fields if not isinstance(obj.get(f), str) or not obj[f]]
    if missing:
        name = obj.get(name_field)
        label = f"{what} {_escape(_truncate(name, 80))!r}" if isinstance(name, str) else f"a {what}"
        raise ApiResponseError(
            f"{method} {path}: {label} lacks the string field(s) {', '.join(missing)}",
            method=method,
            path=path,
        )


def _optional_str(obj: dict[str, Any], field: str, method: str, path: str) -> None:
    if field in obj and not isinstance(obj[field], str):
        raise ApiResponseError(
            f"{method} {path}: {field!r} is {_json_type(obj[field])}, not a string",
            method=method,
            path=path,
        )


def _check_cluster(obj: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    _require_str(
        obj, ("cluster_id", "cluster_name", "status"), "cluster", "cluster_name", method, path
    )
    return obj


def _check_volume(obj: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    _require_str(obj, ("volume_id", "volume_name"), "volume", "volume_name", method, path)
    return obj


def _check_region(obj: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    _require_str(obj, ("name",), "region", "name", method, path)
    return obj


def _json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
    return type(value).__name__

"""The client's configuration, apart from the request loop: the API key, the base URL, limits.

Everything here is decided before the first request: where to send it, with which key, how
long to wait and how often to retry. The loop (`loop.py`) only reads these values.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import stat
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
from msgspec import Struct

from reconciler.client.text import escape
from reconciler.errors import ConfigError

DEFAULT_BASE_URL = "https://api.together.ai"
MAX_BODY_BYTES = 16 * 1024 * 1024
#: List answers grow with the account (about 4 KiB per cluster with its nodes and kube_config):
#: 16 MiB would cap a project near 4,000 clusters, so lists get a larger, still bounded, limit.
MAX_LIST_BODY_BYTES = 256 * 1024 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
#: One whole answer (headers and body) must arrive within this: the read timeout alone is per
#: read, so a server trickling a byte every 20 s would hold a call open forever.
CALL_DEADLINE = 120.0


def tls_verify(base_url: str) -> ssl.SSLContext:
    """httpx's `verify` for `base_url`, one context for all the client's pools: httpx's
    default verification (the CA bundle) for HTTPS. Plain HTTP, which `check_base_url`
    allows to a loopback address only, never does TLS: a context that trusts no one (it
    fails closed should a proxy speak TLS) spares loading the bundle (~18 ms)."""
    if base_url.lower().startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return httpx.create_ssl_context()


#: Each thread's own pool (see RequestLoop._http): one call at a time, one connection kept
#: alive between calls; the second is never needed, it is there so that a call can never
#: queue behind its own thread.
THREAD_LIMITS = httpx.Limits(max_connections=2, max_keepalive_connections=1)


#: The headers httpx's Client would add (minus its cookies: the API sets none and the client
#: keeps none); TOGETHER_CUSTOM_HEADERS may replace them.
DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}


def env_proxy(base_url: str, env: Mapping[str, str]) -> httpx.Proxy | None:
    """The proxy for `base_url` from the environment, or None to connect directly.

    Read as curl and httpx read it: `https_proxy` or `http_proxy` by the base URL's scheme,
    else `all_proxy` (the lower-case name first, then the upper-case one); a host that
    `no_proxy` names goes direct (see `_no_proxy`).
    Only http(s) proxies: a SOCKS one would need a package the tool does not install."""
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()

    def read(name: str) -> tuple[str, str]:
        for variant in (name, name.upper()):
            if env.get(variant, "").strip():
                return variant, env[variant].strip()
        return name, ""

    port = parts.port or (443 if scheme == "https" else 80)
    if _no_proxy(read("no_proxy")[1], parts.hostname or "", port):
        return None
    for name in (f"{scheme}_proxy", "all_proxy"):
        variant, value = read(name)
        if not value:
            continue
        url = value if "://" in value else f"http://{value}"
        try:
            proxy = httpx.Proxy(url)
        except (ValueError, httpx.InvalidURL):
            proxy = None
        # The value is never shown: a proxy URL often carries a user and password.
        if proxy is None or proxy.url.scheme not in ("http", "https") or not proxy.url.host:
            raise ConfigError(
                f"{variant}: not an http:// or https:// proxy URL (the only kinds the client "
                "supports); fix it, or name the API host in NO_PROXY"
            )
        return proxy
    return None


def _no_proxy(entries: str, host: str, port: int) -> bool:
    """Whether `no_proxy` (comma-separated) names the host: `*`, the host itself, or a domain
    it is in (`example.com` and `.example.com` both cover `api.example.com`); an entry with
    `:PORT` covers that port only (`[::1]:8080` for an IPv6 address)."""
    host = host.lower()
    for entry in entries.lower().replace(" ", "").split(","):
        if entry == "*":
            return True
        if entry.startswith("["):
            name, _, rest = entry[1:].partition("]")
            wanted = rest[1:]
        elif entry.count(":") == 1:
            name, _, wanted = entry.partition(":")
        else:
            name, wanted = entry, ""
        if wanted and wanted != str(port):
            continue
        name = name.lstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


# A create answered with one of these may have been committed before the error.
CREATE_UNKNOWN_STATUSES = frozenset({408, 500, 502, 503, 504})


class RetryPolicy(Struct, frozen=True):
    """How often and how long to retry (DESIGN §7); tests inject instant sleep, not a policy."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0


DEFAULT_RETRY = RetryPolicy()


# --- the API key ---------------------------------------------------------------------------------


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
    if not is_header_safe(key):
        raise ConfigError(f"{source}: the API key contains spaces, control or non-ASCII characters")
    return key


def _read_key_file(path: str) -> str:
    try:
        # Without blocking: a FIFO given by mistake is refused below, not waited on forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
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


def is_header_safe(key: str) -> bool:
    """Whether `key` can go into a header value as-is (the API key, an Idempotency-Key)."""
    return key.isascii() and key.isprintable() and " " not in key


# --- the base URL --------------------------------------------------------------------------------


def check_base_url(url: str) -> str:
    """Validate a base URL (host root; https, or http only for loopback); return it normalised."""
    text = url.strip()
    # Never echoed whole: a query or fragment (or user:password@) may hold a token.
    shown = escape(text.split("?", 1)[0].split("#", 1)[0].rpartition("@")[2])
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
        raise ConfigError(f"base URL {shown!r}: no query or fragment allowed (not shown here)")
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
            f"(e.g. {escape(root)!r}); the client adds /v1/... itself"
        )
    return f"{parts.scheme}://{parts.netloc}{path}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The paths whose parsed URL is kept (`kept_url`): the collections and a few more.
MAX_KEPT_URLS = 64


def kept_url(urls: dict[str, httpx.URL], base_url: str, path: str) -> httpx.URL:
    """The base URL and `path`, parsed once and kept in `urls`: parsing was half of building
    a request (27 of 54 µs), at every create of an apply. Past MAX_KEPT_URLS paths (ones
    naming a resource), new ones are parsed each time."""
    url = urls.get(path)
    if url is None:
        url = httpx.URL(base_url + path)
        if len(urls) < MAX_KEPT_URLS:
            urls[path] = url
    return url

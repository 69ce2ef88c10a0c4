"""The simulator over a real loopback socket (`reconciler sim serve`, socket-level tests).

A ThreadingHTTPServer whose handler turns each request into a `SimRequest`, answers it
from the shared `SimState` under a lock, and acts out "drop" and "stall" faults for real.
`--latency` is slept around the answer, as in the in-process transport (`with_latency`: the
answer leaves the latency after the request came, the simulator's own work inside it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from reconciler.simulator.persist import save_after, save_state
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import DEFAULT_STALL_SECONDS, with_latency
from reconciler.simulator.wire import SimRequest, SimResponse

MAX_BODY = 16 * 1024 * 1024


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SimServer(ThreadingHTTPServer):
    """A threaded HTTP server holding the state, its file, and the fault timings."""

    daemon_threads = True
    block_on_close = False
    # The listen backlog: socketserver's 5 overflows when apply opens up to 100 connections
    # at once (its highest --parallelism); an overflowed connect waits a second or more for
    # its SYN to be sent again.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        state: SimState,
        *,
        state_file: str | None,
        stall_seconds: float,
        sleep: Callable[[float], None],
        log: Callable[[str], None] | None,
    ) -> None:
        self.state = state
        self.state_file = state_file
        self.stall_seconds = stall_seconds
        self.sleep = sleep
        self.log = log
        self.lock = threading.Lock()
        super().__init__(address, SimHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class SimHandler(BaseHTTPRequestHandler):
    """One request: read, answer from the state, act out faults."""

    server: SimServer
    protocol_version = "HTTP/1.1"
    server_version = "together-sim/1"
    # TCP_NODELAY: the headers and the body go out in two writes; with Nagle on, the body
    # waited for the client's delayed ACK, ~40 ms on every request of a kept-alive connection.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.answer()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def answer(self) -> None:
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413, "request body too large")
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = SimRequest(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        response = with_latency(server.state, server.sleep, lambda: self.commit(request))
        if response.fault == "drop":
            # Committed, but the client never hears back: close without a byte.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if response.fault == "stall":
            server.sleep(server.stall_seconds)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. after a stall)

    def commit(self, request: SimRequest) -> SimResponse:
        server = self.server
        with server.lock:
            response = server.state.handle(request)
            return save_after(server.state, server.state_file, self.command, response)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")


def make_server(
    state: SimState,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    state_file: str | None = None,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] | None = None,
) -> SimServer:
    """A bound (not yet serving) simulator server; port 0 picks a free port. Loopback only."""
    if not is_loopback(host):
        raise ValueError(f"the simulator listens on loopback only; refusing host {host!r}")
    return SimServer(
        (host, port),
        state,
        state_file=state_file,
        stall_seconds=stall_seconds,
        sleep=sleep,
        log=log,
    )


def serve(
    state: SimState,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    state_file: str | None = None,
    stall_seconds: float = DEFAULT_STALL_SECONDS,
    on_ready: Callable[[str], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt), then close the socket and save the state.
    Settled clusters' JSON texts are kept between requests (`Store.cache_views`)."""
    state.cache_views()
    server = make_server(
        state, host, port, state_file=state_file, stall_seconds=stall_seconds, log=log
    )
    try:
        if on_ready is not None:
            on_ready(server.url)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if state_file is not None:
            with server.lock:
                save_state(state, state_file)

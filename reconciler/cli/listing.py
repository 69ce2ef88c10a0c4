"""The client and the live lists: what a command needs to read live state, and the early
start of `plan` and `drift`, which send their list calls before they parse the spec or
import the planning code (issue 11).

Light to import (the client, the model, the kinds; no schema, planning or rendering code):
the list calls' answer at 10,000 clusters takes longer to come than importing that code and
parsing, checking and building the spec, so all of it runs while the API answers.
"""

from __future__ import annotations

import gc
import os
import re
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, cast

from msgspec import Struct

from reconciler.acyclic import paused_gc
from reconciler.cli import forked
from reconciler.cli.files import read_spec_files
from reconciler.errors import ApiResponseError, ReconcilerError
from reconciler.kinds import TOP_LEVEL
from reconciler.live import assemble, listed_reads, parse_listed
from reconciler.model import Live, LiveState

if TYPE_CHECKING:
    from reconciler.cli import Settings
    from reconciler.cli.forked import ForkedCheck
    from reconciler.client import Client

# The in-process simulator's transport ignores the host; this name only shows in messages.
SIM_BASE_URL = "http://sim.local"


def make_client(settings: Settings) -> Client:
    """The one API client of this run: the in-process simulator (--sim) or the real API
    (a connection per thread that calls: apply's workers and poller have one each)."""
    from reconciler.client import DEFAULT_BASE_URL, Client, check_base_url, resolve_api_key

    print_client_notices()
    if settings.sim is not None:
        from reconciler.simulator.state import DEMO_SPEED
        from reconciler.simulator.transport import open_sim

        speed = settings.sim_speed if settings.sim_speed is not None else DEMO_SPEED
        transport = open_sim(settings.sim, speed=speed)
        return Client(SIM_BASE_URL, transport.state.token, transport=transport)
    base_url = check_base_url(settings.base_url or DEFAULT_BASE_URL)
    key = resolve_api_key(os.environ, settings.api_key_file)
    return Client(base_url, key)


def print_client_notices() -> None:
    """The client's warnings (the one retry notice) as plain lines on stderr, from the first
    client made on (logging is imported then, after a plan's fork, not at start-up)."""
    import logging

    from reconciler.cli import echo_err, escape

    class StderrNotices(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            echo_err(escape(record.getMessage()))

    client_log = logging.getLogger("reconciler.client")
    if not any(type(h).__name__ == "StderrNotices" for h in client_log.handlers):
        client_log.addHandler(StderrNotices(logging.WARNING))


def read_live(client: Client, project_id: str | None) -> LiveState:
    """One list call per resource kind, whatever the number of clusters, all sent at once
    (`list_each`); each object of an answer is parsed as soon as it is read, and let go
    (`Client.list_converted`). All of it runs with the cyclic collector paused (see
    reconciler.acyclic): let go first, the raw objects are never scanned (at 50,000 clusters
    the first collection after the answers were parsed took 0.6 s). What is alive then (the
    live state, the spec) stays to the command's end, so it is frozen out of the collector
    (`tuned_gc` thaws it): else the first pass after the pause scans it all as young objects
    (27-35 ms at 10,000 clusters, 0.17 s at 50,000)."""
    with paused_gc():
        try:
            parsed = list_each(client, project_id)
        except ValueError as exc:
            raise ApiResponseError(f"the API's lists are unusable: {exc}") from None
        live = assemble(live for answer in parsed for one in answer for live in one)
        gc.freeze()
    return live


def list_each(client: Client, project_id: str | None) -> list[list[list[Live]]]:
    """Each top-level kind's list, parsed, in TOP_LEVEL's order; the error of the first kind
    whose call failed. The calls are made at once, each by its own thread (on its own
    connection), so a plan waits for the slowest answer, not for the sum of the round trips
    (100 clusters against `sim serve --latency 200`: 0.42-0.53 s, one after the other
    0.63-0.79 s). With an injected transport (the in-process simulator: nothing to wait
    for) they are made in order, in this thread."""
    calls = [
        partial(client.list_converted, k.api, project_id, partial(parse_listed, k), listed_reads(k))
        for k in TOP_LEVEL
    ]
    if client.in_process:
        return [call() for call in calls]
    outcomes: list[list[list[Live]] | BaseException] = [[] for _ in calls]

    def run(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except BaseException as exc:  # raised again in the calling thread
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(calls))]
    for thread in threads:
        thread.start()
    try:
        outcomes[0] = calls[0]()
    except Exception as exc:  # Ctrl-C is not kept: it ends the command now, not after the rest
        outcomes[0] = exc
    for thread in threads:
        thread.join()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return cast("list[list[list[Live]]]", outcomes)


class Listing:
    """The list calls, made by a thread while the command's thread checks and builds the
    spec: at 10,000 clusters the API (or `sim serve`) takes about half a second to answer,
    and checking and building the spec fits in that wait. `result` raises the calls' error in
    the caller's thread. A spec that fails its check never waits for them: the answers of
    these read-only calls are dropped unread. (So are they when the checked spec names
    another project than the guess they were sent for: a second listing is made.)"""

    def __init__(self, client: Client, project_id: str | None) -> None:
        self.project_id = project_id
        self._client = client
        self._done: list[LiveState] = []
        self._failed: list[BaseException] = []
        self._then: Callable[[LiveState], None] | None = None
        self._thread = threading.Thread(target=self._list, name="reconciler-list", daemon=True)
        self._thread.start()

    def _list(self) -> None:
        try:
            self._done.append(read_live(self._client, self.project_id))
            then = self._then
            if then is not None:
                then(self._done[0])
        except BaseException as exc:  # raised again in the caller's thread
            self._failed.append(exc)

    def then(self, prepare: Callable[[LiveState], None]) -> None:
        """`prepare(live)` in the listing's thread once the live state is read, if that is
        still to come (else the caller works it out itself when it needs it): what the plan
        works out from the live state alone (`plan.prepare_live`), while the command's thread
        waits for the spec's check."""
        self._then = prepare

    def result(self) -> LiveState:
        self._thread.join()
        if self._failed:
            raise self._failed[0]
        return self._done[0]


class Started(Struct):
    """`plan`'s first steps: the spec files read, the client made and the list calls sent.
    A client that could not be made (no key, a bad base URL) is the error instead, reported
    after the spec's own problems and warnings; None: the in-process simulator (`--sim`),
    opened once the spec is checked."""

    files: Sequence[tuple[str, bytes]]
    client: Client | ReconcilerError | None
    listing: Listing | None
    check: ForkedCheck | None = None  # the spec checked by a child process (cli/forked.py)


def start_lists(settings: Settings, paths: Sequence[str]) -> Started:
    """Read the spec files and send the read-only list calls at once, for the project the
    files name (`project_hint`; the plan lists again if the checked spec names another)."""
    files = read_spec_files(paths or (".",))
    if settings.sim is not None:
        # It answers in this very process, so there is no wait to fill: it is opened once
        # the spec is checked, as before (an invalid spec creates no state directory).
        return Started(files, None, None)
    check = forked.start(files, os.environ)  # before the list thread: a fork copies one thread
    try:
        client = make_client(settings)
    except ReconcilerError as exc:
        return Started(files, exc, None, check)
    listing = Listing(client, settings.project_id or project_hint(files))
    return Started(files, client, listing, check)


_PROJECT_LINE = re.compile(rb"^project_id:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*")


def project_hint(files: Sequence[tuple[str, bytes]]) -> str | None:
    """The project the spec files name, read off their `project_id:` lines before their YAML
    is parsed, so `plan` can start its list calls at once: a guess, which the caller compares
    with the checked spec's project (a value written in another way reads as None here)."""
    hint: str | None = None
    for _path, data in files:
        found = _PROJECT_LINE.findall(data)
        if found:
            text = found[-1].decode("utf-8", "replace").partition(" #")[0].strip()
            quoted = len(text) > 1 and text[0] == text[-1] and text[0] in "'\""
            if quoted:
                text = text[1:-1]
            elif text.lower() in _YAML_WORDS:
                text = ""  # YAML reads null, ~, true, … as no string
            hint = text if _PLAIN_ID.fullmatch(text) else None
    return hint


_YAML_WORDS = frozenset(("null", "~", "true", "false", "yes", "no", "on", "off"))

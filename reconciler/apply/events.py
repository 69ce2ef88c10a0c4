"""What apply tells its caller while it works: one `Progress` value per step of an action.

Values, not strings, so a caller can draw a table (kind, name, action, step) or print the
classic line (`Progress.line`) without parsing text. Names and API messages are unescaped
here; whoever shows them escapes them (`render.show_name`, `render.escape`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from msgspec import Struct

from reconciler.render import show_name


class Step(StrEnum):
    DELETING = "deleting"
    CREATING = "creating"
    UPDATING = "updating"
    WAITING = "waiting"  # text: "waiting until Ready" / "waiting until gone"
    CHECKING = "checking"  # an unknown create outcome is being looked into
    ADOPTED = "adopted"
    SCHEDULED = "scheduled"  # accepted; it starts later, so apply does not wait for it
    DONE = "done"
    FAILED = "failed"
    NOT_WAITED = "not waited for"  # the call was made; apply was interrupted before it settled

    @property
    def is_final(self) -> bool:
        return self in (Step.DONE, Step.FAILED, Step.NOT_WAITED)


class Progress(Struct, frozen=True):
    """One step of one action: `resource` is the kind's name, `action` the plan's verb."""

    resource: str
    name: str
    action: str
    step: Step
    text: str  # what the classic line says after the name, e.g. "created after 5s, Ready"
    status: str = ""  # DONE: the status the resource settled in, when known

    @property
    def line(self) -> str:
        return f"{self.resource} {show_name(self.name)}: {self.text}"


ProgressFn = Callable[[Progress], None]

"""The one error tree of the project; only the cli package turns these into messages and exit codes.

ReconcilerError            exit 1   anything that stops a command before it changed anything
├── SpecError              exit 1   the spec is invalid (carries every problem)
├── ApiError               exit 1   the API failed or answered something unusable
│   ├── ApiStatusError              an HTTP error answer (status, the API's message)
│   │   ├── AuthError               401 / 403
│   │   ├── NotFoundError           404
│   │   ├── ConflictError           409
│   │   └── RateLimitError          429 whose Retry-After is too long, or retries exhausted
│   ├── ApiTransportError           connection error or timeout (no answer)
│   ├── ApiResponseError            an answer that is not valid JSON of the right shape
│   └── CreateOutcomeUnknown        a create was sent, but whether it happened is unknown
├── ConfigError            exit 1   API key or base URL missing or unsafe
├── Cancelled              exit 1   the user did not type 'yes' at the confirmation prompt
├── PlanFileError          exit 1   a saved plan file this version cannot read
├── SelectionError         exit 1   --target or --exclude names nothing in the spec or live state
├── UnsafePlanError        exit 3   a safety rule blocked the plan
├── StalePlanError         exit 4   a saved plan no longer matches live state
├── ApplyFailedError       exit 5   apply finished with failures (some actions done)
└── Interrupted            exit 130 the user pressed Ctrl-C

Wrong command-line usage (exit 64) is click's own UsageError, mapped in `cli.main`.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BLOCKED = 3
EXIT_STALE = 4
EXIT_APPLY_FAILED = 5
EXIT_USAGE = 64
EXIT_INTERRUPTED = 130


class ReconcilerError(Exception):
    """Base of every error the project raises on purpose."""

    exit_code = EXIT_ERROR


class SpecError(ReconcilerError):
    """The spec is invalid; `problems` holds one `file:line:col: path: message` line each."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class ApiError(ReconcilerError):
    """The API could not be used; the message names the method and path, never the token."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        api_message: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.api_message = api_message
        super().__init__(message)


class ApiStatusError(ApiError):
    """The API answered with an HTTP error status."""


class AuthError(ApiStatusError):
    """401 or 403."""


class NotFoundError(ApiStatusError):
    """404."""


class ConflictError(ApiStatusError):
    """409."""


class RateLimitError(ApiStatusError):
    """429 that could not be waited out."""


class ApiTransportError(ApiError):
    """No answer: connection refused/reset, or a timeout."""


class ApiResponseError(ApiError):
    """An answer that is not what the API documents (invalid JSON, HTML, missing fields)."""


class CreateOutcomeUnknown(ApiError):
    """A POST was sent and no usable answer came (timeout, 5xx, dropped connection).

    It may have been carried out: re-list and adopt before sending it again (DESIGN §7).
    """


class ConfigError(ReconcilerError):
    """The API key or base URL is missing or unsafe (says how to set it right)."""


class Cancelled(ReconcilerError):
    """The user did not type 'yes' at the confirmation prompt; nothing was changed."""


class PlanFileError(ReconcilerError):
    """A saved plan file that this version cannot read."""


class SelectionError(ReconcilerError):
    """--target or --exclude names no resource: a typo must not read as "No changes"."""


class UnsafePlanError(ReconcilerError):
    exit_code = EXIT_BLOCKED


class StalePlanError(ReconcilerError):
    exit_code = EXIT_STALE


class ApplyFailedError(ReconcilerError):
    exit_code = EXIT_APPLY_FAILED


class Interrupted(ReconcilerError):
    exit_code = EXIT_INTERRUPTED

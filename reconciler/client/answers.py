"""The API's answers, read strictly: JSON parsing, shapes, required fields, the API's messages.

No plan is made from partial data (DESIGN §7): an answer that is not the documented JSON, or
an object that lacks one of its kind's string fields, is an ApiResponseError naming the
endpoint. Nothing here sends anything; the request loop hands its bytes over.
"""

from __future__ import annotations

import http
import json
import math
from collections.abc import Mapping
from typing import Any, NoReturn

from msgspec import Struct

from reconciler.acyclic import paused_gc
from reconciler.client.text import escape, truncate
from reconciler.errors import ApiError, ApiResponseError
from reconciler.kinds import Endpoints


class Answer(Struct, frozen=True):
    """One HTTP answer, read in full (within the size limit)."""

    status: int
    headers: Mapping[str, str]  # httpx.Headers: case-insensitive
    body: bytes | bytearray  # as read: a 40 MB list answer is not copied


class Shape(Struct, frozen=True):
    """What every object of one kind must carry, and how a message names such an object."""

    noun: str  # "cluster": "cluster 'train-a' lacks ...", "a cluster lacks ..."
    name_key: str
    required: tuple[str, ...]

    @classmethod
    def of(cls, api: Endpoints) -> Shape:
        """The shape of a kind's objects, from its endpoints: their noun, else `cluster_id`
        -> "cluster"."""
        return cls(api.noun or api.id_key.removesuffix("_id"), api.name_key, api.required)


REGION = Shape("region", "name", ("name",))


# --- bytes to JSON -------------------------------------------------------------------------------


def looks_like_html(data: bytes | bytearray, content_type: str) -> bool:
    """Whether an answer is an HTML (or XML) page, by its content type or its first bytes."""
    if "html" in content_type.lower():
        return True
    head = data[:256].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml"))


def reason(status: int) -> str:
    """The standard phrase of an HTTP status ("Not Found")."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def extract_api_message(answer: Answer) -> str:
    """The API's own words from an error body: either JSON error shape, or plain text."""
    if not answer.body.strip():
        return ""
    content_type = answer.headers.get("content-type", "")
    if looks_like_html(answer.body, content_type):
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


def json_text(
    answer: Answer, where: str, method: str, path: str, *, empty_ok: bool, raw: bool = False
) -> str | bytes | bytearray:
    """The text of a 2xx answer, ready for `load_json`: "{}" for an empty body when
    `empty_ok`; an empty body (otherwise), HTML or bytes that are not UTF-8 are refused.
    `raw`: an answer that is all ASCII (so UTF-8 for sure) stays the bytes it came as, for a
    reader that decodes bytes itself (a plan's lists: msgspec, see streaming.py) — decoding
    a 10,000-cluster list to text took 22-30 ms and held a second copy of its 38 MB.

    Separate from `load_json` so that the caller can drop the answer's bytes before the JSON
    is built: a 10,000-cluster list is 40 MB of bytes, 40 MB of text and ~100 MB of objects,
    and holding all three at once was the peak of a large plan."""
    # `isspace`, not `strip`: no copy of a list answer of tens of MB (the same test: both
    # know the same ASCII whitespace, and an empty body is not `isspace`).
    if not answer.body or answer.body.isspace():
        if empty_ok:
            return "{}"
        _refuse(answer.status, where, method, path, "the API answered an empty body, not JSON")
    if looks_like_html(answer.body, answer.headers.get("content-type", "")):
        _refuse(answer.status, where, method, path, "the API answered HTML, not JSON")
    if raw and answer.body.isascii():
        return answer.body
    try:
        return answer.body.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(answer.status, where, method, path, "the API answered bytes that are not UTF-8")


def load_json(text: str, status: int, where: str, method: str, path: str) -> Any:
    """The JSON of an answer's text (from `json_text`); invalid or too deep JSON is refused."""
    try:
        with paused_gc():  # JSON holds no cycle: see reconciler.acyclic
            return json.loads(text, parse_constant=refuse_constant, parse_float=finite)
    except RecursionError:
        _refuse(status, where, method, path, "the API answered JSON nested too deeply")
    except ValueError as exc:
        what = f"the API answered invalid JSON ({escape(truncate(str(exc), 120))})"
        _refuse(status, where, method, path, what)


def _refuse(status: int, where: str, method: str, path: str, what: str) -> NoReturn:
    raise ApiResponseError(
        f"{where}: {what} (status {status})", method=method, path=path, status=status
    )


def finite(text: str) -> float:
    """A JSON number as a float; 1e999 would be Infinity, which no JSON output may carry."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


def refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


# --- JSON to checked objects ---------------------------------------------------------------------


def as_object(data: Any, method: str, path: str) -> dict[str, Any]:
    """`data` if it is a JSON object, else an ApiResponseError naming the endpoint."""
    if not isinstance(data, dict):
        raise ApiResponseError(
            f"{method} {path}: expected a JSON object, got {json_type(data)}",
            method=method,
            path=path,
        )
    return data


def checked(data: Any, shape: Shape, method: str, path: str) -> dict[str, Any]:
    """`data` as one object of `shape`, its required fields checked."""
    obj = as_object(data, method, path)
    _require_str(obj, shape, method, path)
    return obj


def read_items(
    text: str, key: str, shape: Shape, origin: tuple[int, str, str, str]
) -> list[dict[str, Any]]:
    """The checked objects of a list answer's text; `origin` is (status, where, method,
    path), for the messages of a refused answer."""
    status, where, method, path = origin
    return items(load_json(text, status, where, method, path), key, shape, method, path)


def items(data: Any, key: str, shape: Shape, method: str, path: str) -> list[dict[str, Any]]:
    """The objects of a list answer `{key: [...]}`, each checked against `shape`."""
    body = as_object(data, method, path)
    found = body.get(key)
    if not isinstance(found, list):
        raise ApiResponseError(
            f"{method} {path}: expected {{{key!r}: [...]}}, got "
            + (f"{key!r}: {json_type(found)}" if key in body else f"no {key!r} key"),
            method=method,
            path=path,
        )
    for i, item in enumerate(found):
        if not isinstance(item, dict):  # the message's path is built only for a bad item
            as_object(item, method, f"{path} {key}[{i}]")
        _require_str(item, shape, method, path)
    return found


def lacking(obj: dict[str, Any], shape: Shape) -> list[str]:
    """The required fields of `shape` that `obj` lacks as non-empty strings."""
    return [f for f in shape.required if not isinstance(obj.get(f), str) or not obj[f]]


def _require_str(obj: dict[str, Any], shape: Shape, method: str, path: str) -> None:
    """Every required field must be a non-empty string; the message names the resource."""
    missing = lacking(obj, shape)
    if missing:
        name = obj.get(shape.name_key)
        what = shape.noun
        label = f"{what} {escape(truncate(name, 80))!r}" if isinstance(name, str) else f"a {what}"
        raise ApiResponseError(
            f"{method} {path}: {label} lacks the string field(s) {', '.join(missing)}",
            method=method,
            path=path,
        )


def optional_str(obj: dict[str, Any], field: str, method: str, path: str) -> None:
    """`field`, when present, must be a string."""
    if field in obj and not isinstance(obj[field], str):
        raise ApiResponseError(
            f"{method} {path}: {field!r} is {json_type(obj[field])}, not a string",
            method=method,
            path=path,
        )


def reported_success(obj: dict[str, Any], noun: str, path: str) -> None:
    """A delete answered `{success}`: `true` (or absent) passes; `false` is a failed delete."""
    success = obj.get("success", True)
    if not isinstance(success, bool):
        raise ApiResponseError(
            f"DELETE {path}: 'success' is not a boolean", method="DELETE", path=path
        )
    if not success:
        raise ApiError(
            f"DELETE {path}: the API answered success=false (is the {noun} still attached "
            "to a cluster?)",
            method="DELETE",
            path=path,
        )


def json_type(value: Any) -> str:
    """How a message names the JSON type of `value` ("an array", "null")."""
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

"""The client's one create/get/list/update/delete path, driven by a kind's `Endpoints`.

A kind describes its API as data (`reconciler.kinds.Endpoints`); nothing here is written per
kind. The request loop (`loop.py`) sends and retries; `answers.py` reads the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from reconciler.client.answers import (
    REGION,
    Shape,
    as_object,
    checked,
    items,
    optional_str,
    read_items,
    reported_success,
)
from reconciler.client.config import MAX_LIST_BODY_BYTES
from reconciler.client.loop import RequestLoop
from reconciler.client.streaming import stream_items
from reconciler.errors import ApiResponseError, CreateOutcomeUnknown
from reconciler.kinds import Endpoints, Reads

REGIONS = "/v1/compute/regions"

T = TypeVar("T")
L = TypeVar("L")  # what a list call's reader makes of the answer


class Client(RequestLoop):
    """The one HTTP client of the tool: generic calls over any kind's endpoints."""

    @property
    def in_process(self) -> bool:
        """True when an injected transport answers (the in-process simulator): its calls do
        not wait on a network, so there is nothing to gain from making them at once."""
        return self._transport is not None

    def list_resources(
        self, api: Endpoints, project_id: str | None = None, *, parent_id: str | None = None
    ) -> list[dict[str, Any]]:
        """GET {collection}[?projectId=]: every object of the kind, validated."""
        shape = Shape.of(api)

        def read(
            text: str, status: int, where: str, method: str, path: str
        ) -> list[dict[str, Any]]:
            return read_items(text, api.list_key, shape, (status, where, method, path))

        return self._list(api, project_id, parent_id, read)

    def list_converted(
        self,
        api: Endpoints,
        project_id: str | None,
        convert: Callable[[dict[str, Any]], T],
        reads: Reads | None = None,
    ) -> list[T]:
        """`list_resources`, each object handed to `convert` as soon as it is read and only
        what `convert` returns kept (see streaming.py: a fraction of the memory). `reads`:
        all that `convert` reads of an object, the rest left unread (None: all of it)."""
        shape = Shape.of(api)
        key = api.list_key

        def read(
            text: str | bytes | bytearray, status: int, where: str, method: str, path: str
        ) -> list[T]:
            return stream_items(text, key, shape, convert, (status, where, method, path), reads)

        return self._list(api, project_id, None, read, raw=reads is not None)

    def _list(
        self,
        api: Endpoints,
        project_id: str | None,
        parent_id: str | None,
        read: Callable[[Any, int, str, str, str], L],
        raw: bool = False,
    ) -> L:
        """GET {collection}[?projectId=], its answer's text handed to `read` (a list answer
        has its own size limit; `raw`: as bytes when it is all ASCII, see `json_text`)."""
        params = {"projectId": project_id} if project_id and parent_id is None else None
        path = collection(api, parent_id)
        limit = MAX_LIST_BODY_BYTES
        result: L = self._call("GET", path, params=params, limit=limit, read=read, raw=raw)
        return result

    def get_resource(
        self, api: Endpoints, resource_id: str, *, parent_id: str | None = None
    ) -> dict[str, Any]:
        """GET {collection}/{id}."""
        path = f"{collection(api, parent_id)}/{segment(resource_id)}"
        return checked(self._call("GET", path), Shape.of(api), "GET", path)

    def create_resource(
        self,
        api: Endpoints,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        """POST {collection} once; raises CreateOutcomeUnknown when it may have committed.

        An unusable 2xx answer means the create probably happened: outcome unknown too.
        """
        path = collection(api, parent_id)
        try:
            answer = self._call("POST", path, body=body, idempotency_key=idempotency_key)
            return checked(answer, Shape.of(api), "POST", path)
        except ApiResponseError as exc:
            raise CreateOutcomeUnknown(
                f"{exc}; the create may have been carried out: list before sending it again",
                method="POST",
                path=path,
                status=exc.status,
            ) from None

    def update_resource(
        self,
        api: Endpoints,
        resource_id: str,
        body: Mapping[str, Any],
        *,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        """PUT {collection}/{id} with a partial body; or, for a kind whose API takes the id in
        the body, PUT {collection} with `{id_key: id, **body}`."""
        if api.update_id_in_body:
            segment(resource_id)
            path = collection(api, parent_id)
            body = {api.id_key: resource_id, **body}
        else:
            path = f"{collection(api, parent_id)}/{segment(resource_id)}"
        return checked(self._call("PUT", path, body=body), Shape.of(api), "PUT", path)

    def delete_resource(
        self, api: Endpoints, resource_id: str, *, parent_id: str | None = None
    ) -> dict[str, Any]:
        """DELETE {collection}/{id}; answers `{success}` or an optional `{id_key}`."""
        path = f"{collection(api, parent_id)}/{segment(resource_id)}"
        answer = as_object(self._call("DELETE", path, empty_ok=True), "DELETE", path)
        if api.delete_reports_success:
            reported_success(answer, Shape.of(api).noun, path)
        else:
            optional_str(answer, api.id_key, "DELETE", path)
        return answer

    def list_regions(self) -> list[dict[str, Any]]:
        """GET /v1/compute/regions."""
        return items(self._call("GET", REGIONS), "regions", REGION, "GET", REGIONS)


def collection(api: Endpoints, parent_id: str | None) -> str:
    """The kind's collection path; a nested kind's has its parent's id in it."""
    if "{parent_id}" not in api.collection:
        return api.collection
    if parent_id is None:
        raise ValueError(f"{api.collection} needs the id of the resource it belongs to")
    return api.collection.replace("{parent_id}", segment(parent_id))


def segment(resource_id: str) -> str:
    """An id as one path segment; an empty id is a bug in the caller, not an API error."""
    if not isinstance(resource_id, str) or not resource_id:
        raise ValueError("a resource id must be a non-empty string")
    return quote(resource_id, safe="")

"""Resource kinds, the second axis of the pipeline: one pure module per kind, this registry.

Pure. A kind owns, as data plus a few plain functions, everything that is particular to it:
its field table, its API endpoints and answer keys, its rank in the apply order, whether
apply waits for it, its references to other kinds, and hooks for the rules only it has.
Every stage (live, diff, plan, render, client, apply) loops over `KINDS` and asks the kind.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where a kind lives in the API and how its answers are shaped."""

    collection: str  # GET lists, POST creates; `{collection}/{id}` gets, puts, deletes
    list_key: str  # the list answer's array: `{"clusters": [...]}`
    id_key: str
    name_key: str
    required: tuple[str, ...]  # string fields every object of this kind must carry
    update_id_in_body: bool = False  # PUT `{collection}` with the id in the body (volumes)
    delete_reports_success: bool = False  # DELETE answers `{"success": bool}` (volumes)

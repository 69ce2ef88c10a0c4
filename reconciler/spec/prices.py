"""A prices file (`--prices FILE`) → `PriceTable`, every problem as `file:line:col`. Pure.

Read like a spec file (safe YAML with positions), validated by its own JSON Schema
(`schemas/prices.schema.json`), then two rules the schema cannot say: GPU types clusters
know, and one row per (GPU type, billing type, region).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from reconciler.errors import SpecError
from reconciler.model import Location
from reconciler.schema import Issue, did_you_mean, prices_validator, schema, validate
from reconciler.spec.reader import File, Reader, format_path, locate, read_file

ANY_REGION = "*"


class PriceRow(Struct, frozen=True):
    gpu_type: str
    billing_type: str
    region: str  # "*": any region without a row of its own
    usd_per_gpu_hour: float | None  # None: left for the user's contract rate
    location: Location | None = None


class PriceTable(Struct, frozen=True):
    """A prices file: where its numbers come from, and its rows."""

    currency: str
    source: str
    as_of: str
    rows: tuple[PriceRow, ...] = ()
    file: str = ""

    def price(self, gpu_type: str, billing_type: str, region: str) -> float | None:
        """USD per GPU-hour from the most specific row (its region, else "*"); None when no
        row matches or the matching row leaves the price open — never a made-up zero."""
        found: dict[str, float | None] = {
            row.region: row.usd_per_gpu_hour
            for row in self.rows
            if row.gpu_type == gpu_type and row.billing_type == billing_type
        }
        return found[region] if region in found else found.get(ANY_REGION)


def load_prices(path: str, data: bytes) -> PriceTable:
    """Parse and check one prices file given as (display path, bytes); raise SpecError."""
    if not data.strip():
        raise SpecError(
            [
                f"{path}:1:1: the prices file is empty; write version: 1, currency, source, "
                "as_of and rows (see examples/prices.yaml)"
            ]
        )
    file, fatal = read_file(0, path, data, Reader())
    if file is None:
        raise SpecError(fatal)
    problems = check_prices_file(file)
    if problems:
        raise SpecError([text for *_at, text in problems])
    document: Mapping[str, Any] = file.value
    return PriceTable(
        currency=document["currency"],
        source=document["source"],
        as_of=document["as_of"],
        rows=tuple(_row(file, index, row) for index, row in enumerate(document["rows"])),
        file=path,
    )


def is_prices_document(value: Any) -> bool:
    """A prices file among spec files (a directory of specs may hold the one `prices:`
    names): its keys are its own, never a spec's."""
    return isinstance(value, dict) and "currency" in value and "rows" in value


def check_prices_file(file: File) -> list[tuple[int, int, str]]:
    """Every problem of a read prices file as (line, col, `file:line:col: ...`), in order."""
    path = file.path
    problems = [(line, col, f"{path}:{line}:{col}: {text}") for line, col, text in file.problems]
    issues = validate(prices_validator(), file.value, 0, ())
    issues += [Issue(0, where, message) for where, message in file.surprises]
    rows = file.value.get("rows") if isinstance(file.value, dict) else None
    issues += _check_rows(rows if isinstance(rows, list) else [])
    problems += [_format(file, issue) for issue in issues]
    return sorted(dict.fromkeys(problems))


def _gpu_types() -> list[str]:
    return list(schema()["$defs"]["cluster"]["properties"]["gpu_type"]["enum"])


def _check_rows(rows: list[Any]) -> list[Issue]:
    issues: list[Issue] = []
    known = _gpu_types()
    first: dict[tuple[Any, ...], int] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        gpu_type = row.get("gpu_type")
        if isinstance(gpu_type, str) and gpu_type not in known:
            hint = did_you_mean(gpu_type, known) or f"; clusters use {', '.join(known)}"
            issues.append(Issue(0, ("rows", index, "gpu_type"), f"unknown GPU type{hint}"))
        key = (str(gpu_type), str(row.get("billing_type")), str(row.get("region")))
        if key in first:
            message = (
                f"the same gpu_type, billing_type and region as rows[{first[key]}]; "
                "keep one row per price"
            )
            issues.append(Issue(0, ("rows", index), message))
        first.setdefault(key, index)
    return issues


def _format(file: File, issue: Issue) -> tuple[int, int, str]:
    node, _ = locate(file.node, issue.path, issue.at_key)
    label = format_path(issue.path)
    where = f"{file.path}:{node[0]}:{node[1]}"
    text = f"{where}: {label}: {issue.message}" if label else f"{where}: {issue.message}"
    return node[0], node[1], text


def _row(file: File, index: int, row: Mapping[str, Any]) -> PriceRow:
    node, _ = locate(file.node, ("rows", index), False)
    price = row["usd_per_gpu_hour"]
    return PriceRow(
        gpu_type=row["gpu_type"],
        billing_type=row["billing_type"],
        region=row["region"],
        usd_per_gpu_hour=float(price) if price is not None else None,
        location=Location(file.path, node[0], node[1]),
    )

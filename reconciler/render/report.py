"""What apply did, and the regions catalogue, as text. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model import ApplyReport, Outcome, Region
from reconciler.render.text import label
from reconciler.render.values import escape, paint


def render_report(report: ApplyReport, color: bool = False, title: str = "Apply") -> str:
    """What apply (or destroy: `title`) did: one line per action, then the totals."""
    lines = []
    # A replace deleted but not created again is the worst news: it goes first.
    results = sorted(report.results, key=lambda r: not r.message.startswith("DELETED, NOT"))
    for result in results:
        action = result.action
        what = label(action)
        verb = {"create": "created", "update": "updated", "replace": "replaced"}.get(
            str(action.kind), "destroyed"
        )
        rid = f" (id {escape(result.resource_id)})" if result.resource_id else ""
        match result.outcome:
            case Outcome.SENT:
                # The call was made, but Ctrl-C cut its wait short.
                lines.append(
                    f"{paint('sent', '~', color)}     {what}{rid}: {escape(result.message)}"
                )
            case Outcome.DONE:
                note = f"; {escape(result.message)}" if result.message else ""
                lines.append(f"{paint('done', '+', color)}     {what}{rid} {verb}{note}")
            case Outcome.FAILED:
                lines.append(
                    f"{paint('failed', '-', color)}   {what}{rid}: {escape(result.message)}"
                )
            case _:
                lines.append(f"skipped  {what}: {escape(result.message)}")
    unsettled = report.count(Outcome.SENT)
    done, failed = report.count(Outcome.DONE), report.count(Outcome.FAILED)
    skipped = report.count(Outcome.SKIPPED)
    head = f"{title} interrupted" if report.interrupted else f"{title} complete"
    sent = f", {unsettled} not waited for" if unsettled else ""
    lines.append(f"{head}: {done} done{sent}, {failed} failed, {skipped} skipped.")
    if report.has_failures:
        lines.append("Run `reconciler plan` to see what is left to do.")
    return "\n".join(lines) + "\n"


def render_regions(regions: Iterable[Region]) -> str:
    """The catalogue as a table: region, GPU types, cuda/driver pairs (with ids)."""
    rows = [("REGION", "GPU TYPES", "CUDA/DRIVER (OS) ID")]
    for region in regions:
        drivers = [
            f"{d.cuda_version}/{d.nvidia_driver_version}"
            + (f" ({d.os})" if d.os else "")
            + (f" {d.id}" if d.id else "")
            for d in region.drivers
        ] or ["-"]
        for i, driver in enumerate(drivers):
            rows.append(
                (
                    region.name if i == 0 else "",
                    ", ".join(region.gpu_types) if i == 0 else "",
                    driver,
                )
            )
    widths = [max(len(escape(r[i])) for r in rows) for i in range(2)]
    return "".join(
        f"{escape(a).ljust(widths[0])}  {escape(b).ljust(widths[1])}  {escape(c)}".rstrip() + "\n"
        for a, b, c in rows
    )

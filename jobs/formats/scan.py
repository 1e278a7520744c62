"""Render a scan: JSON with a documented, stable schema, or a table on a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from jobs.models import DependencyStatus
from jobs.scan import ScanReport

SCHEMA = "nightcrew.scan/1"


def _v(value: object) -> str | None:
    return None if value is None else str(value)


def status_json(status: DependencyStatus) -> dict[str, Any]:
    dep = status.dependency
    return {
        "name": dep.name,
        "ecosystem": dep.ecosystem,
        "file": dep.file,
        "line": dep.line,
        "section": dep.section,
        "specifier": dep.specifier,
        "current": _v(status.current),
        "latest_allowed": _v(status.latest_allowed),
        "latest": _v(status.latest),
        "latest_compatible": _v(status.latest_compatible),
        "update_kind": status.update_kind,
        "python_compatible": status.python_compatible,
        "skipped_reason": status.skipped_reason,
        "locked": dep.locked,
        "lockfile": dep.lockfile,
        "direct": dep.direct,
        "advisories": [{"id": a.id, "aliases": list(a.aliases), "summary": a.summary, "severity": a.severity,
                        "fixed": list(a.fixed), "url": a.url} for a in status.advisories],
        "fix_version": _v(status.fix_version),
        "yanked": status.yanked,
        "yanked_reason": status.yanked_reason,
        # PEP 740, latest against current, by the index's provenance records (signatures not verified); null:
        # the index has no provenance for them
        "publisher_changed": status.publisher.publisher_changed if status.publisher else None,  # type: ignore[attr-defined]
        "attestations_dropped": status.publisher.attestations_dropped if status.publisher else None,  # type: ignore[attr-defined]
    }


def to_json(report: ScanReport) -> dict[str, Any]:
    statuses = report.statuses
    return {
        "schema": SCHEMA,
        "repository": report.repository,
        "index": {"url": report.index_url, "origin": report.index_origin},
        "python": report.python,
        "files": list(report.files),
        "dependencies": [status_json(s) for s in statuses],
        "errors": [{"file": p.file, "line": p.line, "message": p.message} for p in report.problems],
        "vulnerabilities_checked": report.vulnerabilities_checked,
        "summary": {
            "dependencies": len(statuses),
            "outdated": len(report.outdated),
            "up_to_date": sum(1 for s in statuses if s.update_kind is None and s.skipped_reason is None),
            "not_checked": len(report.not_checked),
            "errors": len(report.problems),
            "vulnerable": len(report.vulnerable),
        },
        "requests": dict(report.requests),
        "seconds": round(report.seconds, 3),
    }


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


KIND_STYLE = {"major": "bold red", "minor": "yellow", "patch": "green", "prerelease": "magenta"}


def render_table(report: ScanReport, console: Console, *, show_all: bool = False) -> None:
    """Outdated and unchecked dependencies (all of them with ``show_all``), then a one-line summary."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("package", "where", "specifier", "current", "allowed", "latest", "kind", "python"):
        table.add_column(column, overflow="fold")
    for s in report.statuses:
        if not show_all and s.update_kind is None and s.skipped_reason is None and not s.advisories:
            continue
        dep = s.dependency
        if s.skipped_reason:
            kind = f"[dim]skipped: {s.skipped_reason}[/dim]"
        else:
            kind = f"[{KIND_STYLE.get(s.update_kind or '', 'dim')}]{s.update_kind or 'up to date'}[/]"
        if s.advisories:  # a vulnerable row says so, with the advisories and the fixing release
            ids = ", ".join(a.id for a in s.advisories)
            fix = f"; fixed in {s.fix_version}" if s.fix_version else "; no fix released"
            kind = f"[bold red]VULNERABLE[/] ({ids}{fix}) " + kind
        python = "" if s.python_compatible is None else ("yes" if s.python_compatible else "[red]no[/red]")
        table.add_row(
            dep.name, f"{dep.file}:{dep.line}", dep.specifier or "*", _v(s.current) or "",
            _v(s.latest_allowed) or "", _v(s.latest) or "", kind, python,
        )
    if table.row_count:
        console.print(table)
    summary = to_json(report)["summary"]
    console.print(
        f"{_count(summary['dependencies'], 'dependency', 'dependencies')} in {_count(len(report.files), 'file')}: "
        f"{summary['outdated']} outdated, "
        f"{summary['up_to_date']} up to date, {summary['not_checked']} not checked; "
        + (f"{summary['vulnerable']} vulnerable; " if report.vulnerabilities_checked
           else "vulnerabilities NOT checked; " if report.vulnerabilities_checked is False else "")
        + f"index {report.index_url} ({report.index_origin}), Python {report.python}",
        highlight=False,
    )

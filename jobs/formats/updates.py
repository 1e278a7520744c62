"""Render a dependency-update run: JSON (schema ``nightcrew.dependency-updates/1``) or a summary table."""

from __future__ import annotations

import difflib
from typing import Any

from rich.console import Console
from rich.table import Table

from jobs.dependency_updates import ACTIONS, ChangeResult, UpdateRun

SCHEMA = "nightcrew.dependency-updates/1"


def _packages(result: ChangeResult) -> list[dict[str, Any]]:
    if result.change is None:
        return []
    return [{"name": u.dependency.name, "from": str(u.old) if u.old else None, "to": str(u.new),
             "file": u.dependency.file, "line": u.dependency.line, "kind": u.kind} for u in result.change.updates]


def _diff(result: ChangeResult) -> str | None:
    """The edit as a unified diff (what a dry run would commit)."""
    if result.change is None or not result.change.edits:
        return None
    parts = []
    for e in result.change.edits:
        parts += difflib.unified_diff(e.before.splitlines(keepends=True), e.after.splitlines(keepends=True),
                                      f"a/{e.file}", f"b/{e.file}")
    return "".join(parts)


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def change_json(result: ChangeResult) -> dict[str, Any]:
    tests = result.tests
    return {
        "key": result.key,
        "packages": _packages(result),
        "branch": result.branch,
        "action": result.action,
        "reason": result.reason,
        "pr": None if result.pull is None else {"number": result.pull.number, "url": result.pull.url,
                                                "draft": result.pull.draft, "state": result.pull.state},
        "diff": _diff(result),
        "lockfile_changes": [{"lockfile": c.lockfile, "name": c.name, "from": c.old, "to": c.new, "direct": c.direct}
                             for c in result.locks],
        "security": [{"id": a.id, "aliases": list(a.aliases), "severity": a.severity}
                     for a in (result.change.security if result.change is not None else ())],
        "tests": None if tests is None else {
            "outcome": tests.outcome, "passed": tests.passed, "failed": tests.failed + tests.errors,
            "skipped": tests.skipped, "failing": list(tests.failing), "duration": round(tests.duration, 2),
            "reason": tests.reason,
        },
    }


def denials_json(run: UpdateRun) -> list[dict[str, Any]]:
    """What the policy refused in this run (each also in the audit log), in the order it happened."""
    return [{"action": r.action, "target": r.target, "verdict": r.verdict, "rule": r.rule, "reason": r.detail}
            for r in run.denials]


def to_json(run: UpdateRun) -> dict[str, Any]:
    counts = {action: sum(1 for c in run.changes if c.action == action) for action in ACTIONS}
    return {
        "schema": SCHEMA,
        "run_id": run.run_id,
        "mode": run.mode,
        "dry_run": run.dry_run,
        "stopped": run.stopped,
        "forge": run.forge,
        "base": run.base,
        "changes": [change_json(c) for c in run.changes],
        "not_proposed": [{"name": s.name, "version": s.version, "reason": s.reason, "file": s.file, "line": s.line}
                         for s in run.skipped],
        "errors": [{"file": p.file, "line": p.line, "message": p.message} for p in run.problems],
        "notices": list(run.notices),
        "waiting": [{"name": w.name, "version": w.version, "released": _iso(w.released),
                     "eligible_from": _iso(w.eligible_from), "rule": w.rule, "file": w.file, "line": w.line}
                    for w in run.waiting],
        "denials": denials_json(run),
        "summary": counts,
        "seconds": round(run.seconds, 3),
        "test_seconds": round(run.test_seconds, 3),
    }


def render_table(run: UpdateRun, console: Console) -> None:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("action", "branch", "updates", "tests", "pull request / reason"):
        table.add_column(column, overflow="fold")
    for c in run.changes:
        updates = ", ".join(f"{p['name']} {p['from']}→{p['to']}" for p in _packages(c)) or "-"
        tests = "-" if c.tests is None else (
            f"{c.tests.outcome.replace('_', ' ')} ({c.tests.passed} passed, {c.tests.failed + c.tests.errors} failed)")
        where = f"#{c.pull.number} {c.pull.url}" if c.pull else ""
        if c.reason:
            where = f"{where} {c.reason}".strip()
        table.add_row(c.action + (" (dry run)" if run.dry_run else ""), c.branch, updates, tests, where)
    for s in run.skipped:
        table.add_row("not proposed", "-", f"{s.name} {s.version or ''}".strip(), "-", s.reason)
    if table.row_count:
        console.print(table)
    if run.dry_run:
        for c in run.changes:
            diff = _diff(c)
            if diff:
                console.print(diff, highlight=False, markup=False, end="")
    for d in denials_json(run):
        console.print(f"denied: {d['action']} {d['target']} ({d['rule']}" + (f": {d['reason']})" if d["reason"] else ")"),
                      highlight=False, markup=False)
    if run.stopped:
        console.print(f"stopped: {run.stopped}", highlight=False, markup=False)
    counts = to_json(run)["summary"]
    console.print(f"mode {run.mode}; " + ", ".join(f"{n} {a}" for a, n in counts.items()) +
                  f"; {len(run.problems)} errors; {run.seconds:.1f} s ({run.test_seconds:.1f} s in tests)",
                  highlight=False)

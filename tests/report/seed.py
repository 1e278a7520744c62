"""Seeding the state store at exact times: Store's own methods, each called with the clock held at a chosen moment."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import time_machine

from jobs.state.store import Store, stamp

REPO = "acme/widgets"
OTHER = "acme/other"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)  # a Monday, ISO week 2026-W49


def t(text: str) -> datetime:
    """``"11-02 10:00"`` -> that time in 2026, UTC."""
    return datetime.fromisoformat(f"2026-{text}").replace(tzinfo=timezone.utc)


@contextmanager
def clock(when: datetime) -> Iterator[None]:
    with time_machine.travel(when, tick=False):
        yield


def pull(store: Store, number: int, opened: str, *, repository: str = REPO, packages: dict | None = None,
         kind: str = "minor", url: str | None = None, key: str | None = None) -> None:
    packages = packages or {f"pkg{number}": "1.0"}
    with clock(t(opened)):
        store.track_pull(repository=repository, number=number, branch=f"nightcrew/b{number}",
                         key=key or next(iter(packages)), packages=packages, kind=kind,
                         url=url or f"https://github.com/{repository}/pull/{number}", state="open",
                         opened_at=stamp(t(opened)))


def close(store: Store, number: int, when: str, *, merged: bool, by: str = "human", repository: str = REPO) -> None:
    with clock(t(when)):
        assert store.pull_closed(repository=repository, number=number, merged=merged, by=by, at=stamp(t(when)))


def reopen(store: Store, number: int, when: str, *, repository: str = REPO) -> None:
    row = store.tracked_pull(repository, number)
    assert row is not None
    with clock(t(when)):
        store.track_pull(repository=repository, number=number, branch=row["branch"], key=row["key"],
                         packages={}, kind=row["kind"], url=row["url"], state="open")


def override(store: Store, kind: str, number: int | None, packages: dict, update_kind: str | None, when: str,
             *, repository: str = REPO) -> None:
    with clock(t(when)):
        store.add_override(repository=repository, kind=kind, pull_number=number, packages=packages,
                           update_kind=update_kind)


def change(store: Store, run_id: str, key: str, action: str, when: str, *, tests: str | None = None,
           repository: str = REPO) -> None:
    with clock(t(when)):
        store.add_change(run_id=run_id, repository=repository, key=key, branch=f"nightcrew/{key}",
                         packages={key: "1.0"}, kind="minor", action=action, tests=tests)


def audit(store: Store, run_id: str, action: str, outcome: str, when: str, *, rule: str = "allowed",
          target: str = "t", job: str = "dependency-updates", repository: str = REPO) -> None:
    verdict = {"denied": "deny", "needs-approval": "needs-approval"}.get(outcome, "allow")
    store.add_audit({"time": stamp(t(when)), "run_id": run_id, "job": job, "action": action, "target": target,
                     "verdict": verdict, "rule": rule, "outcome": outcome, "duration": 0.1, "inputs_digest": None,
                     "detail": None, "extra": None}, repository=repository)


def run(store: Store, run_id: str, when: str, outcome: str = "ok", *, job: str = "dependency-updates",
        repository: str = REPO) -> None:
    with clock(t(when)):
        store.start_run(run_id, repository, job, "propose")
        store.end_run(run_id, outcome, {})


def draft(store: Store, tag: str, created: str, final: str | None, distance: float, *,
          repository: str = REPO) -> None:
    with clock(t(created)):
        store.add_draft(tag=tag, generated=f"notes for {tag}", text_hash="0" * 16, location="draft", action="created",
                        repository=repository)
    if final is not None:
        row = store.last_draft(tag, repository=repository)
        assert row is not None
        with clock(t(final)):
            store.set_final(row["id"], f"published notes for {tag}", distance)

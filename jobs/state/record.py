"""What the dependency-update job tells the state store: each change's result, and what became of the bot's PRs."""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from jobs.render import read_marker
from jobs.state import schema
from jobs.state.store import Store

# Smallest to largest: a change's kind is the largest kind among its updates.
KIND_ORDER = ("prerelease", "patch", "minor", "major")


def change_kind(kinds: Iterable[str | None]) -> str | None:
    ranked = [k for k in kinds if k in KIND_ORDER]
    return max(ranked, key=KIND_ORDER.index) if ranked else None


def body_hash(body: str) -> str:
    return hashlib.sha256((body or "").encode()).hexdigest()[:16]


class Recorder:
    """Writes one run's facts; every method is one transaction, so a crash keeps what was recorded before."""

    def __init__(self, store: Store, repository: str, run_id: str) -> None:
        self.store, self.repository, self.run_id = store, repository, run_id

    def seen(self, open_pulls: Iterable[Any], closed_pulls: Iterable[Any]) -> None:
        """Compare the forge's view with what the store knew: merges, human closes, reopenings, edits."""
        with self.store.transaction() as conn:
            for pull in closed_pulls:
                marker = read_marker(pull.body)
                tracked = self.store.tracked_pull(self.repository, pull.number)
                if marker is None or tracked is None or tracked["state"] != "open":
                    continue
                merged = pull.state == "merged"
                by = "nightcrew" if marker.get("closed_by") == "nightcrew" else "human"
                self.store.pull_closed(repository=self.repository, number=pull.number, merged=merged, by=by, conn=conn)
                if not merged and by == "human":
                    self.store.add_override(repository=self.repository, kind="closed-unmerged", pull_number=pull.number,
                                            packages=marker.get("updates") or {}, update_kind=tracked["kind"],
                                            detail=pull.title, conn=conn)
            for pull in open_pulls:
                tracked = self.store.tracked_pull(self.repository, pull.number)
                if tracked is None:
                    continue
                packages = (read_marker(pull.body) or {}).get("updates") or {}
                if tracked["state"] != "open":
                    self.store.add_override(repository=self.repository, kind="reopened", pull_number=pull.number,
                                            packages=packages, update_kind=tracked["kind"], conn=conn)
                    self.store.track_pull(repository=self.repository, number=pull.number, branch=pull.branch,
                                          key=tracked["key"], packages=packages, kind=tracked["kind"], url=pull.url,
                                          state="open", conn=conn)
                elif tracked["body_hash"] and body_hash(pull.body) != tracked["body_hash"]:
                    self.store.add_override(repository=self.repository, kind="edited", pull_number=pull.number,
                                            packages=packages, update_kind=tracked["kind"],
                                            detail="the pull request's text was changed by someone else", conn=conn)
                    # this text is now the known one: the same edit is not counted again on the next run
                    self.store.track_pull(repository=self.repository, number=pull.number, branch=pull.branch,
                                          key=tracked["key"], packages=packages, kind=tracked["kind"], url=pull.url,
                                          state="open", body=pull.body, conn=conn)

    def tested(self, number: int, outcome: str, sha: str | None) -> None:
        """Tests ran on ``sha``, the head of tracked PR ``number`` from now on, even if updating the PR then fails:
        the stored outcome always names the commit it is for, so it never vouches for another head."""
        with self.store.transaction() as conn:
            self._tested(conn, number, outcome, sha)

    def _tested(self, conn: Connection, number: int, outcome: str, sha: str | None) -> None:
        table = schema.pulls
        conn.execute(update(table).where(table.c.repository == self.repository, table.c.number == number)
                     .values(tests=outcome, tests_sha=sha))

    def wrote_body(self, pull: Any, *, key: str, packages: dict[str, str], kind: str | None,
                   tested: tuple[str, str | None] | None = None) -> None:
        """The bot just wrote this body (created or updated the PR): remember it at once, so that a run stopped
        before it records its results does not take its own text for a person's edit next time, nor forget the
        test outcome (and its commit, ``tested``) the body reports."""
        table = schema.pulls
        mine = (table.c.repository == self.repository, table.c.number == pull.number)
        with self.store.transaction() as conn:
            if conn.execute(select(table.c.number).where(*mine)).first() is None:
                self.store.track_pull(repository=self.repository, number=pull.number, branch=pull.branch, key=key,
                                      packages=packages, kind=kind, url=pull.url, state="open", body=pull.body,
                                      conn=conn)
            else:
                conn.execute(update(table).where(*mine).values(body_hash=body_hash(pull.body)))
            if tested is not None:
                self._tested(conn, pull.number, *tested)

    def branch_pushed(self, pull: Any, packages: dict[str, str], kind: str | None, who: str) -> None:
        if pull is not None and self.store.has_override(self.repository, "branch-pushed", pull.number):
            return
        self.store.add_override(repository=self.repository, kind="branch-pushed",
                                pull_number=pull.number if pull is not None else None, packages=packages,
                                update_kind=kind, detail=f"commits by {who}")

    def results(self, results: Iterable[Any]) -> None:
        with self.store.transaction() as conn:
            for result in results:
                change = result.change
                packages = {u.dependency.name: str(u.new) for u in change.updates} if change is not None else {}
                if not packages and result.pull is not None:
                    packages = (read_marker(result.pull.body) or {}).get("updates") or {}
                tracked = self.store.tracked_pull(self.repository, result.pull.number) if result.pull else None
                kind = change_kind(u.kind for u in change.updates) if change is not None else (
                    tracked["kind"] if tracked else None)
                tests = result.tests.outcome if result.tests is not None else None
                pull = result.pull
                self.store.add_change(run_id=self.run_id, repository=self.repository, key=result.key,
                                      branch=result.branch, packages=packages, kind=kind, action=result.action,
                                      pull_number=pull.number if pull else None, pull_url=pull.url if pull else None,
                                      tests=tests, reason=result.reason, conn=conn)
                if pull is None:
                    continue
                if result.action in ("opened", "updated", "unchanged") and pull.state == "open":
                    self.store.track_pull(repository=self.repository, number=pull.number, branch=pull.branch,
                                          key=result.key, packages=packages, kind=kind, url=pull.url, state="open",
                                          tests=tests, body=pull.body, conn=conn)
                    if tests is not None:
                        self._tested(conn, pull.number, tests, getattr(result, "tested_sha", None))
                elif result.action == "superseded" and pull.state == "closed":
                    self.store.pull_closed(repository=self.repository, number=pull.number, merged=False,
                                           by="nightcrew", conn=conn)
                elif result.action == "merged":
                    self.store.pull_closed(repository=self.repository, number=pull.number, merged=True,
                                           by="nightcrew", conn=conn)

"""The embedded forge: branches in git, pull-request records in a SQLite file, a markdown file per PR."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from jobs.forges.base import DuplicatePull, ForgeError, PullRequest
from jobs.vcs import Git

SCHEMA = """
CREATE TABLE IF NOT EXISTS pulls (
    number     INTEGER PRIMARY KEY AUTOINCREMENT,
    branch     TEXT NOT NULL,
    base       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
    draft      INTEGER NOT NULL,
    labels     TEXT NOT NULL DEFAULT '[]',
    reviewers  TEXT NOT NULL DEFAULT '[]',
    closed_by  TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pull       INTEGER NOT NULL REFERENCES pulls(number),
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _has_pulls_table(state_file: Path) -> bool:
    db = sqlite3.connect(f"{state_file.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pulls'").fetchone() is not None
    finally:
        db.close()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)


class LocalForge:
    """Pull requests kept next to the repository, no tokens.

    A pull request counts as merged once its branch's commit is part of the base branch (someone merged it
    with git); ``close`` from the command line is a human closing it.
    """

    kind = "local"

    def __init__(self, git: Git, state_file: Path, pr_folder: Path, base: str = "", *, read_only: bool = False,
                 remote: str = "") -> None:
        self.git = git
        self.state_file = state_file
        self.pr_folder = pr_folder
        self.base = base
        self.read_only = read_only
        self.remote = remote
        self._refreshed = False
        if read_only:  # a dry run: look at the records if there are any, create nothing
            has_pulls = state_file.exists() and _has_pulls_table(state_file)
            uri = f"{state_file.resolve().as_uri()}?mode=ro" if has_pulls else "file::memory:"
            self.db = sqlite3.connect(uri, uri=True, timeout=30)
        else:
            has_pulls = False
            state_file.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(state_file, timeout=30)
        self.db.row_factory = sqlite3.Row
        if not has_pulls:  # in a dry run over a file without PR records (the state store's alone): an empty forge
            with self.db:
                self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- reading ---------------------------------------------------------------------------------

    def default_base(self) -> str:
        return self.base or self.git.current_branch()

    def _record(self, row: sqlite3.Row) -> PullRequest:
        return PullRequest(
            number=row["number"], url=self.markdown_path(row["number"]).as_posix(), state=row["state"],
            draft=bool(row["draft"]), title=row["title"], body=row["body"], branch=row["branch"], base=row["base"],
            labels=tuple(json.loads(row["labels"])),
        )

    def _refresh(self) -> None:
        """Mark open pull requests merged whose branch commit the base branch now contains."""
        if self.read_only or self._refreshed:
            return
        self._refreshed = True  # once per run: a merge does not happen between two steps of one run
        for row in self.db.execute("SELECT number, branch, base FROM pulls WHERE state = 'open'").fetchall():
            tip = self.git.sha(f"refs/heads/{row['branch']}")
            # merged locally, or on the remote (nightcrew fetches the remote's base into a private ref)
            bases = [self.git.sha(row["base"])]
            if self.remote:
                bases.append(self.git.sha(f"refs/nightcrew/remotes/{self.remote}/{row['base']}"))
            if tip and any(base and self.git.is_ancestor(tip, base) for base in bases):
                with self.db:
                    self.db.execute("UPDATE pulls SET state = 'merged', updated_at = ? WHERE number = ?",
                                    (_now(), row["number"]))
                self._render(row["number"])

    def pulls_for_branch(self, branch: str) -> list[PullRequest]:
        self._refresh()
        rows = self.db.execute("SELECT * FROM pulls WHERE branch = ? ORDER BY number DESC", (branch,)).fetchall()
        return [self._record(r) for r in rows]

    def open_pulls(self, prefix: str) -> list[PullRequest]:
        self._refresh()
        rows = self.db.execute(
            "SELECT * FROM pulls WHERE state = 'open' AND substr(branch, 1, ?) = ? ORDER BY number",
            (len(prefix), prefix),
        ).fetchall()
        return [self._record(r) for r in rows]

    def closed_pulls(self, prefix: str, limit: int = 300) -> list[PullRequest]:
        self._refresh()
        rows = self.db.execute(
            "SELECT * FROM pulls WHERE state != 'open' AND substr(branch, 1, ?) = ? ORDER BY number DESC LIMIT ?",
            (len(prefix), prefix, limit),
        ).fetchall()
        return [self._record(r) for r in rows]

    def all_pulls(self) -> list[PullRequest]:
        self._refresh()
        return [self._record(r) for r in self.db.execute("SELECT * FROM pulls ORDER BY number").fetchall()]

    def get_pull(self, number: int) -> PullRequest:
        row = self.db.execute("SELECT * FROM pulls WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise ForgeError(f"no pull request #{number}", str(self.state_file))
        return self._record(row)

    def comments(self, number: int) -> list[str]:
        rows = self.db.execute("SELECT body FROM comments WHERE pull = ? ORDER BY id", (number,)).fetchall()
        return [r["body"] for r in rows]

    @property
    def secrets(self) -> tuple[str, ...]:
        return ()

    def markdown_path(self, number: int) -> Path:
        return self.pr_folder / f"{number}.md"

    # -- writing ---------------------------------------------------------------------------------

    def create_pull(self, *, branch: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        if self.db.execute("SELECT 1 FROM pulls WHERE branch = ? AND state = 'open'", (branch,)).fetchone():
            raise DuplicatePull(f"a pull request already exists for {branch}", str(self.state_file))
        now = _now()
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO pulls (branch, base, title, body, state, draft, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'open', ?, ?, ?)", (branch, base, title, body, int(draft), now, now),
            )
        number = int(cursor.lastrowid or 0)
        self._render(number)
        return self.get_pull(number)

    def update_pull(self, number: int, *, title: str, body: str) -> PullRequest:
        with self.db:
            self.db.execute("UPDATE pulls SET title = ?, body = ?, updated_at = ? WHERE number = ?",
                            (title, body, _now(), number))
        self._render(number)
        return self.get_pull(number)

    def close_pull(self, number: int, *, by: str = "nightcrew") -> PullRequest:
        self.get_pull(number)  # a clear error for a number that does not exist
        with self.db:
            self.db.execute(
                "UPDATE pulls SET state = 'closed', closed_by = ?, updated_at = ? WHERE number = ? AND state = 'open'",
                (by, _now(), number),
            )
        self._render(number)
        return self.get_pull(number)

    def comment(self, number: int, body: str) -> None:
        self.get_pull(number)
        with self.db:
            self.db.execute("INSERT INTO comments (pull, body, created_at) VALUES (?, ?, ?)", (number, body, _now()))
        self._render(number)

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        current = list(self.get_pull(number).labels)
        merged = current + [label for label in labels if label not in current]
        with self.db:
            self.db.execute("UPDATE pulls SET labels = ? WHERE number = ?", (json.dumps(merged), number))
        self._render(number)

    def set_draft(self, number: int, draft: bool) -> None:
        with self.db:
            self.db.execute("UPDATE pulls SET draft = ?, updated_at = ? WHERE number = ?", (int(draft), _now(), number))
        self._render(number)

    def remove_label(self, number: int, label: str) -> None:
        labels = [name for name in self.get_pull(number).labels if name != label]
        with self.db:
            self.db.execute("UPDATE pulls SET labels = ? WHERE number = ?", (json.dumps(labels), number))
        self._render(number)

    def request_reviewers(self, number: int, reviewers: Sequence[str]) -> None:
        with self.db:
            self.db.execute("UPDATE pulls SET reviewers = ? WHERE number = ?", (json.dumps(list(reviewers)), number))
        self._render(number)

    def git_env(self) -> dict[str, str]:
        return {}

    def _render(self, number: int) -> None:
        row = self.db.execute("SELECT * FROM pulls WHERE number = ?", (number,)).fetchone()
        labels = ", ".join(json.loads(row["labels"])) or "none"
        lines = [
            f"# #{number} {row['title']}",
            "",
            f"- state: {row['state']}{' (draft)' if row['draft'] else ''}",
            f"- branch: `{row['branch']}` into `{row['base']}`",
            f"- labels: {labels}",
            f"- updated: {row['updated_at']}",
            "",
            row["body"],
        ]
        for comment in self.comments(number):
            lines += ["", "---", "", comment]
        _write_atomic(self.markdown_path(number), "\n".join(lines) + "\n")

"""The embedded forge: branches in git, pull-request records in a SQLite file, a markdown file per PR."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from jobs.forges.base import DashboardResult, DuplicatePull, ForgeError, PullRequest
from jobs.vcs import Git, GitError

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
    remote_notice: str | None = None  # set by make_forge

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
            labels=tuple(json.loads(row["labels"])), created_at=row["created_at"],
            head_sha=self.git.sha(f"refs/heads/{row['branch']}"),
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

    def merge_pull(self, number: int, *, sha: str, method: str = "squash") -> PullRequest:
        """Merge the PR's branch into its base, only if the branch is still at ``sha``; nobody's work is lost.

        How: a fast-forward when the base has not moved since the branch started, else a merge commit made
        with plumbing (``git merge-tree --write-tree``, ``git commit-tree``), so nothing is checked out to
        merge. ``method`` is taken for the interface but never squashes: the branch's commit stays in the
        base, so git itself (and ``_refresh``) sees the PR merged. Where the base moves:

        - with a remote, the base lives there: its commit is fetched, the merge is pushed with a lease on
          that commit (a push meanwhile makes the merge refuse) and the private remote ref follows; the
          local base branch is left to the person's next ``git pull``;
        - without one, the local base branch moves by compare-and-swap (``git update-ref <base> new old``);
          when it is checked out in a worktree, that worktree must be clean and is fast-forwarded.

        Refused (``ForgeError``, one line) on conflicts, a branch or base that moved, a dirty checkout.
        """
        where = f"merge #{number}"
        pull = self.get_pull(number)
        if pull.state != "open":
            raise ForgeError(f"#{number} is {pull.state}: not mergeable", where)
        if pull.draft:
            raise ForgeError(f"#{number} is a draft: not mergeable", where)
        head = self.git.sha(f"refs/heads/{pull.branch}")
        if head is None:
            raise ForgeError(f"branch {pull.branch} is gone", where)
        if head != sha:
            raise ForgeError(f"branch {pull.branch} is at {head[:12]}, not {sha[:12]}: review and merge again", where)
        if self.remote:
            there = self.git.remote_sha(self.remote, pull.branch)
            if there is not None and there != head:
                raise ForgeError(f"branch {pull.branch} on {self.remote} differs from the local one", where)
            old = self.git.remote_sha(self.remote, pull.base)
            if old is None:
                raise ForgeError(f"base {pull.base} not found on {self.remote}", where)
            self.git.fetch_branch(self.remote, pull.base)
        else:
            old = self.git.sha(f"refs/heads/{pull.base}")
            if old is None:
                raise ForgeError(f"base branch {pull.base} not found", where)
        new = head if self.git.is_ancestor(old, head) else self._merge_commit(pull, old, head, where)
        if self.remote:
            try:
                self.git.push(self.remote, pull.base, new, expected=old)
            except GitError as exc:
                raise ForgeError(f"{pull.base} on {self.remote} moved meanwhile or refused the push ({exc})",
                                 where) from None
            self.git.run("update-ref", f"refs/nightcrew/remotes/{self.remote}/{pull.base}", new)
        else:
            self._move_local_base(pull.base, old, new, where)
        with self.db:
            self.db.execute("UPDATE pulls SET state = 'merged', updated_at = ? WHERE number = ? AND state = 'open'",
                            (_now(), number))
        self._render(number)
        merged = self.get_pull(number)
        if merged.state != "merged":  # verify after acting
            raise ForgeError(f"#{number} is {merged.state} after the merge", where)
        return merged

    def _merge_commit(self, pull: PullRequest, old: str, head: str, where: str) -> str:
        found = self.git.run("merge-tree", "--write-tree", "--no-messages", old, head, check=False)
        tree = found.splitlines()[0].strip() if found else ""
        # a clean merge prints the tree alone; a conflict adds the conflicted files after it
        if len(found.splitlines()) != 1 or not re.fullmatch(r"[0-9a-f]{40,64}", tree):
            raise ForgeError(f"{pull.branch} conflicts with {pull.base}: a person has to merge it", where)
        # the branch's own author (the bot's identity) signs the merge: no git identity needed on this host
        name, email = self.git.run("log", "-1", "--format=%an%x00%ae", head).split("\x00", 1)
        identity = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                    "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        message = f"Merge pull request #{pull.number} from {pull.branch}\n\n{pull.title}\n"
        return self.git.run("commit-tree", tree, "-p", old, "-p", head, env=identity, stdin=message)

    def _move_local_base(self, base: str, old: str, new: str, where: str) -> None:
        listing = self.git.run("worktree", "list", "--porcelain")
        checked_out = None
        for block in listing.split("\n\n"):
            lines = block.splitlines()
            if f"branch refs/heads/{base}" in lines:
                checked_out = Path(lines[0].removeprefix("worktree "))
        if checked_out is None:
            self.git.run("update-ref", f"refs/heads/{base}", new, old, check=False)  # compare-and-swap
            if self.git.sha(f"refs/heads/{base}") != new:
                raise ForgeError(f"{base} moved meanwhile: merge again", where)
            return
        if self.git.run("status", "--porcelain", "--untracked-files=no", cwd=checked_out):
            raise ForgeError(f"{base} is checked out in {checked_out} with local changes: not merging into it", where)
        if self.git.run("rev-parse", "HEAD", cwd=checked_out) != old:
            raise ForgeError(f"{base} moved meanwhile: merge again", where)
        # git refuses the fast-forward itself if it would overwrite anything in that worktree
        try:
            self.git.run("merge", "--ff-only", "--quiet", new, cwd=checked_out)
        except GitError as exc:
            raise ForgeError(f"{base} in {checked_out} could not be fast-forwarded ({exc})", where) from None

    def git_env(self) -> dict[str, str]:
        return {}

    def upsert_dashboard(self, *, title: str, body: str, marker: str, file: Path) -> DashboardResult:
        """The dashboard as one markdown file (``# title`` then the body), rewritten only when it changes."""
        if self.read_only:
            raise ForgeError("read-only (dry run): the dashboard is not written", str(file))
        text = f"# {title}\n\n{body}"
        try:
            before = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            before = None
        except OSError as exc:
            raise ForgeError(f"cannot read the dashboard: {exc.strerror}", str(file)) from None
        if before == text:
            return DashboardResult(str(file), "unchanged")
        try:
            _write_atomic(file, text)
        except OSError as exc:
            raise ForgeError(f"cannot write the dashboard: {exc.strerror}", str(file)) from None
        return DashboardResult(str(file), "created" if before is None else "updated")

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

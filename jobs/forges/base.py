"""The one interface every forge implements, and the pull-request record it returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

from jobs.errors import NightcrewError


class ForgeError(NightcrewError):
    """The forge refused or failed a request; the message names the request."""


class DuplicatePull(ForgeError):
    """The forge already has an open pull request for this branch."""


@dataclass(frozen=True)
class PullRequest:
    """A pull request as the forge reports it. ``state`` is ``open``, ``closed`` (not merged) or ``merged``."""

    number: int
    url: str
    state: str
    draft: bool
    title: str
    body: str
    branch: str
    base: str
    labels: tuple[str, ...] = ()
    created_at: str | None = None  # ISO 8601, UTC: how old the PR is (the automerge age rule)
    head_sha: str | None = None  # the branch's commit as the forge saw it (a merge names it)


@dataclass(frozen=True)
class DashboardResult:
    """Where the dependency dashboard is (an issue's URL, or the file's path) and what this write did to it."""

    location: str
    action: str  # created | updated | unchanged


class Forge(Protocol):
    """Where pull requests live. Reads return fresh state; writes return the forge's own record afterwards."""

    kind: str
    # the git remote branches go to ("": branches stay local; None: not resolved, the job reads [forge] remote),
    # and why the configured default was not used (see jobs.forges.remote)
    remote: str | None
    remote_notice: str | None

    def default_base(self) -> str: ...

    def pulls_for_branch(self, branch: str) -> list[PullRequest]:
        """Every pull request ever opened from ``branch``, any state, newest first."""
        ...

    def open_pulls(self, prefix: str) -> list[PullRequest]:
        """Open pull requests whose branch starts with ``prefix``."""
        ...

    def closed_pulls(self, prefix: str, limit: int = 300) -> list[PullRequest]:
        """Recently closed or merged pull requests whose branch starts with ``prefix`` (newest first, at most ``limit``)."""
        ...

    def comments(self, number: int) -> list[str]:
        """The bodies of the comments on a pull request, oldest first."""
        ...

    def set_draft(self, number: int, draft: bool) -> None:
        """Mark a pull request as a draft, or as ready for review."""
        ...

    def remove_label(self, number: int, label: str) -> None: ...

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in any output (tokens, and their encoded forms)."""
        ...

    def get_pull(self, number: int) -> PullRequest: ...

    def create_pull(self, *, branch: str, base: str, title: str, body: str, draft: bool) -> PullRequest: ...

    def update_pull(self, number: int, *, title: str, body: str) -> PullRequest: ...

    def close_pull(self, number: int) -> PullRequest: ...

    def comment(self, number: int, body: str) -> None: ...

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        """Put ``labels`` on the pull request, creating any the repository does not have yet."""
        ...

    def request_reviewers(self, number: int, reviewers: Sequence[str]) -> None: ...

    def upsert_dashboard(self, *, title: str, body: str, marker: str, file: Path) -> DashboardResult:
        """The dependency dashboard, created once and edited afterwards (left alone when nothing changed): the
        bot's one open issue whose body starts with ``marker`` on a forge with issues, ``file`` on the local one."""
        ...

    def merge_pull(self, number: int, *, sha: str, method: str = "squash") -> PullRequest:
        """Merge the pull request if its head is still ``sha``; returns it re-read (state merged), else ForgeError."""
        ...

    def git_env(self) -> dict[str, str]:
        """Environment for ``git push`` to authenticate (never a token in a URL or an argument)."""
        ...

"""The one interface every forge implements, and the pull-request record it returns."""

from __future__ import annotations

from dataclasses import dataclass
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


class Forge(Protocol):
    """Where pull requests live. Reads return fresh state; writes return the forge's own record afterwards."""

    kind: str

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

    def git_env(self) -> dict[str, str]:
        """Environment for ``git push`` to authenticate (never a token in a URL or an argument)."""
        ...

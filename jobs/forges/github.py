"""GitHub through PyGithub: pull requests, labels, reviewers, comments; pushes authenticated by header."""

from __future__ import annotations

import base64
from typing import Callable, Sequence, TypeVar

from github import Auth, Github, GithubException
from github.GithubRetry import GithubRetry
from github.PullRequest import PullRequest as GhPull

from jobs.forges.base import DuplicatePull, ForgeError, PullRequest

T = TypeVar("T")
LABEL_COLOR = "0366d6"


class GitHubForge:
    """One repository on GitHub (or GitHub Enterprise, by ``api_url``)."""

    kind = "github"

    def __init__(self, *, token: str, repository: str, api_url: str | None = None, base: str = "",
                 retries: int = 3, backoff: float = 0.5, timeout: int = 30, throttle: bool = True) -> None:
        if not token:
            raise ForgeError("no GitHub token: set the variable named by [forge] token_env", "forge.github")
        self._token = token
        retry = GithubRetry(total=retries, backoff_factor=backoff, max_rate_limit_wait=60)
        kwargs: dict[str, object] = {"auth": Auth.Token(token), "retry": retry, "timeout": int(timeout), "per_page": 100}
        if not throttle:  # PyGithub spaces requests as GitHub asks integrations to; a test server needs none
            kwargs.update(seconds_between_requests=None, seconds_between_writes=None)
        if api_url:
            kwargs["base_url"] = api_url.rstrip("/")
        self.gh = Github(**kwargs)  # type: ignore[arg-type]
        self.repository = repository
        self.owner = repository.split("/", 1)[0]
        self.base = base
        self.requests = 0
        self._repo = self._call(f"GET /repos/{repository}", lambda: self.gh.get_repo(repository))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one PyGithub call; a GitHub error becomes one line naming the request, never the token."""
        self.requests += 1
        try:
            return fn()
        except GithubException as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            message = str(data.get("message") or exc.message or "request failed")
            details = [str(e.get("message") or e.get("code")) for e in data.get("errors", []) if isinstance(e, dict)]
            if details:
                message += f" ({'; '.join(details)})"
            text = f"HTTP {exc.status}: {message}".replace(self._token, "***")
            if exc.status == 422 and "already exists" in message:
                raise DuplicatePull(text, what) from None
            raise ForgeError(text, what) from None
        except Exception as exc:  # connection errors, timeouts, retries exhausted
            raise ForgeError(f"{type(exc).__name__}: {str(exc).replace(self._token, '***')}".splitlines()[0],
                             what) from None

    def _record(self, pull: GhPull) -> PullRequest:
        state = "merged" if pull.merged else pull.state
        return PullRequest(
            number=pull.number, url=pull.html_url, state=state, draft=bool(pull.draft), title=pull.title,
            body=pull.body or "", branch=pull.head.ref, base=pull.base.ref,
            labels=tuple(label.name for label in pull.labels),
        )

    def default_base(self) -> str:
        return self.base or self._repo.default_branch

    def pulls_for_branch(self, branch: str) -> list[PullRequest]:
        path = f"GET /repos/{self.repository}/pulls?head={self.owner}:{branch}&state=all"
        pulls = self._call(path, lambda: list(self._repo.get_pulls(state="all", head=f"{self.owner}:{branch}")))
        return sorted((self._record(p) for p in pulls), key=lambda p: -p.number)

    def open_pulls(self, prefix: str) -> list[PullRequest]:
        path = f"GET /repos/{self.repository}/pulls?state=open"
        pulls = self._call(path, lambda: list(self._repo.get_pulls(state="open")))
        return [self._record(p) for p in pulls if p.head.ref.startswith(prefix)]

    def get_pull(self, number: int) -> PullRequest:
        return self._record(self._call(f"GET /repos/{self.repository}/pulls/{number}",
                                       lambda: self._repo.get_pull(number)))

    def create_pull(self, *, branch: str, base: str, title: str, body: str, draft: bool) -> PullRequest:
        pull = self._call(f"POST /repos/{self.repository}/pulls",
                          lambda: self._repo.create_pull(base=base, head=branch, title=title, body=body, draft=draft))
        return self._record(pull)

    def update_pull(self, number: int, *, title: str, body: str) -> PullRequest:
        pull = self._call(f"GET /repos/{self.repository}/pulls/{number}", lambda: self._repo.get_pull(number))
        self._call(f"PATCH /repos/{self.repository}/pulls/{number}", lambda: pull.edit(title=title, body=body))
        return self.get_pull(number)

    def close_pull(self, number: int) -> PullRequest:
        pull = self._call(f"GET /repos/{self.repository}/pulls/{number}", lambda: self._repo.get_pull(number))
        self._call(f"PATCH /repos/{self.repository}/pulls/{number}", lambda: pull.edit(state="closed"))
        return self.get_pull(number)

    def comment(self, number: int, body: str) -> None:
        issue = self._call(f"GET /repos/{self.repository}/issues/{number}", lambda: self._repo.get_issue(number))
        self._call(f"POST /repos/{self.repository}/issues/{number}/comments", lambda: issue.create_comment(body))

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        if not labels:
            return
        existing = {label.name for label in self._call(f"GET /repos/{self.repository}/labels",
                                                       lambda: list(self._repo.get_labels()))}
        for name in labels:
            if name not in existing:
                try:
                    self._call(f"POST /repos/{self.repository}/labels",
                               lambda name=name: self._repo.create_label(name, LABEL_COLOR))
                except ForgeError as exc:
                    if "already_exists" not in str(exc) and "already exists" not in str(exc):
                        raise
        issue = self._call(f"GET /repos/{self.repository}/issues/{number}", lambda: self._repo.get_issue(number))
        self._call(f"POST /repos/{self.repository}/issues/{number}/labels", lambda: issue.add_to_labels(*labels))

    def request_reviewers(self, number: int, reviewers: Sequence[str]) -> None:
        if not reviewers:
            return
        pull = self._call(f"GET /repos/{self.repository}/pulls/{number}", lambda: self._repo.get_pull(number))
        self._call(f"POST /repos/{self.repository}/pulls/{number}/requested_reviewers",
                   lambda: pull.create_review_request(reviewers=list(reviewers)))

    def git_env(self) -> dict[str, str]:
        """An ``http.extraHeader`` through git's environment config: the token is in no URL, argument or file."""
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}

    @property
    def secrets(self) -> tuple[str, ...]:
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        return (self._token, basic)

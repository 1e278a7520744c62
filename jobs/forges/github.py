"""GitHub through PyGithub: pull requests, labels, reviewers, comments; pushes authenticated by header."""

from __future__ import annotations

import base64
import inspect
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TypeVar

from github import Auth, Github, GithubException, UnknownObjectException
from github.GitRelease import GitRelease
from github.GithubRetry import GithubRetry
from github.PullRequest import PullRequest as GhPull

from jobs.forges.base import DashboardResult, DuplicatePull, ForgeError, PullRequest

if TYPE_CHECKING:
    from jobs.tools.gate import Gate

T = TypeVar("T")
LABEL_COLOR = "0366d6"


def _hide(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def call_github(what: str, fn: Callable[[], T], secrets: Sequence[str] = ()) -> T:
    """Run one PyGithub call; a GitHub error becomes one line naming the request (``what``), never a secret."""
    try:
        return fn()
    except GithubException as exc:
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message") or exc.message or "request failed")
        details = [str(e.get("message") or e.get("code")) for e in data.get("errors", []) if isinstance(e, dict)]
        if details:
            message += f" ({'; '.join(details)})"
        text = _hide(f"HTTP {exc.status}: {message}", secrets).splitlines()[0]
        if exc.status == 422 and "already exists" in message:
            raise DuplicatePull(text, what) from None
        raise ForgeError(text, what) from None
    except Exception as exc:  # connection errors, timeouts, retries exhausted
        raise ForgeError(_hide(f"{type(exc).__name__}: {exc}", secrets).splitlines()[0], what) from None


class GitHubForge:
    """One repository on GitHub (or GitHub Enterprise, by ``api_url``)."""

    kind = "github"
    remote: str | None = None  # set by make_forge
    remote_notice: str | None = None

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
        return call_github(what, fn, (self._token,))

    def _record(self, pull: GhPull) -> PullRequest:
        state = "merged" if pull.merged else pull.state
        return PullRequest(
            number=pull.number, url=pull.html_url, state=state, draft=bool(pull.draft), title=pull.title,
            body=pull.body or "", branch=pull.head.ref, base=pull.base.ref,
            labels=tuple(label.name for label in pull.labels),
            created_at=pull.created_at.isoformat() if pull.created_at else None, head_sha=pull.head.sha,
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

    def merge_pull(self, number: int, *, sha: str, method: str = "squash") -> PullRequest:
        """Merge through GitHub, only while the head is ``sha`` (GitHub answers 409 otherwise), then re-read it."""
        pull = self._call(f"GET /repos/{self.repository}/pulls/{number}", lambda: self._repo.get_pull(number))
        status = self._call(f"PUT /repos/{self.repository}/pulls/{number}/merge",
                            lambda: pull.merge(sha=sha, merge_method=method))
        if not status.merged:
            raise ForgeError(f"not merged: {status.message}", f"PUT /repos/{self.repository}/pulls/{number}/merge")
        merged = self.get_pull(number)
        if merged.state != "merged":  # verify after acting
            raise ForgeError(f"#{number} is {merged.state} after the merge", f"GET /repos/{self.repository}/pulls/{number}")
        return merged

    def merge_method(self, preferred: str = "") -> str:
        """``preferred`` when the repository allows it, else the first of squash, merge, rebase it allows."""
        repo = self._call(f"GET /repos/{self.repository}", lambda: self._repo)
        allowed = [m for m, flag in (("squash", repo.allow_squash_merge), ("merge", repo.allow_merge_commit),
                                     ("rebase", repo.allow_rebase_merge)) if flag is not False]
        if preferred:
            if preferred not in allowed:
                raise ForgeError(f"the repository does not allow {preferred} merges", "policy.merge_method")
            return preferred
        return allowed[0] if allowed else "merge"

    def merge_readiness(self, number: int, *, sha: str, require_all: bool = True) -> tuple[str, str, str]:
        """GitHub's verdict before a merge: (``ready`` | ``waiting`` | ``denied``, reason, rule).

        For the head ``sha``: every check branch protection requires passed (and every other reported check with
        ``require_all``; neutral and skipped count as passed), none pending, no reviewer's latest review requests
        changes, no conflict. What cannot be read is a denial ("cannot verify checks"), never a pass."""
        from github import GithubException

        where = f"/repos/{self.repository}"
        pull = self._call(f"GET {where}/pulls/{number}", lambda: self._repo.get_pull(number))
        if pull.head.sha != sha:
            return "denied", f"the head is {pull.head.sha[:7]}, not the tested {sha[:7]}", "checks-head-moved"
        try:
            commit = self._repo.get_commit(sha)
            statuses: dict[str, str] = {}
            for status in commit.get_combined_status().statuses:
                statuses.setdefault(status.context, {"success": "success", "pending": "pending"}.get(
                    status.state, "failure"))
            for run in commit.get_check_runs():
                if run.status != "completed":
                    statuses[run.name] = "pending"
                else:
                    statuses[run.name] = "success" if run.conclusion in ("success", "neutral", "skipped") else "failure"
            reviews = list(pull.get_reviews())
        except GithubException as exc:
            return "denied", f"cannot verify checks: HTTP {exc.status} reading checks or reviews", \
                "checks-unverifiable"
        required: list[str] = []
        try:
            protection = self._repo.get_branch(pull.base.ref).get_protection()
            checks = protection.required_status_checks
            required = list(checks.contexts) if checks is not None else []
        except GithubException as exc:
            if exc.status != 404:  # 404: the branch is not protected; anything else: we cannot know
                return "denied", f"cannot verify checks: HTTP {exc.status} reading branch protection", \
                    "checks-unverifiable"
        considered = dict(statuses) if require_all else {c: statuses.get(c, "") for c in required}
        for context in required:
            considered.setdefault(context, "missing")
        failed = sorted(c for c, s in considered.items() if s == "failure")
        if failed:
            return "denied", f"checks failed: {', '.join(failed)}", "checks-failed"
        latest: dict[str, str] = {}
        for review in reviews:
            if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[review.user.login] = review.state
        blocking = sorted(who for who, state in latest.items() if state == "CHANGES_REQUESTED")
        if blocking:
            return "denied", f"changes requested by {', '.join(blocking)}", "review-changes-requested"
        waiting = sorted(c for c, s in considered.items() if s in ("pending", "missing", ""))
        if waiting:
            shown = ", ".join(f"{c} {'pending' if considered[c] == 'pending' else 'not reported'}" for c in waiting)
            return "waiting", f"waiting for checks: {shown}", "checks-pending"
        state = getattr(pull, "mergeable_state", None)
        if state == "dirty":
            return "denied", "conflicts with the base branch", "merge-conflict"
        if state == "behind":
            return "denied", "behind its base branch, which requires up-to-date branches: rebuilt on the next run", \
                "branch-behind"
        if state == "blocked":
            return "denied", "blocked by branch protection", "protection-blocked"
        return "ready", "", ""

    def closed_pulls(self, prefix: str, limit: int = 300) -> list[PullRequest]:
        path = f"GET /repos/{self.repository}/pulls?state=closed&sort=updated&direction=desc"

        def newest() -> list[GhPull]:
            found = []
            for number, pull in enumerate(self._repo.get_pulls(state="closed", sort="updated", direction="desc")):
                if number >= limit:  # a few pages at most: human decisions that matter are recent
                    break
                found.append(pull)
            return found

        return [self._record(p) for p in self._call(path, newest) if p.head.ref.startswith(prefix)]

    def comments(self, number: int) -> list[str]:
        issue = self._call(f"GET /repos/{self.repository}/issues/{number}", lambda: self._repo.get_issue(number))
        return [c.body for c in self._call(f"GET /repos/{self.repository}/issues/{number}/comments",
                                           lambda: list(issue.get_comments()))]

    def set_draft(self, number: int, draft: bool) -> None:
        pull = self._call(f"GET /repos/{self.repository}/pulls/{number}", lambda: self._repo.get_pull(number))
        # REST cannot change draft state; PyGithub does it through GitHub's GraphQL mutations
        if draft:
            self._call("POST /graphql convertPullRequestToDraft", pull.convert_to_draft)
        else:
            self._call("POST /graphql markPullRequestReadyForReview", pull.mark_ready_for_review)

    def remove_label(self, number: int, label: str) -> None:
        issue = self._call(f"GET /repos/{self.repository}/issues/{number}", lambda: self._repo.get_issue(number))
        self._call(f"DELETE /repos/{self.repository}/issues/{number}/labels/{label}",
                   lambda: issue.remove_from_labels(label))

    # -- release notes: merged pulls in bulk, draft releases -----------------------------------------

    def _repo_for(self, repository: str | None):  # type: ignore[no-untyped-def]
        if repository is None or repository.lower() == self.repository.lower():
            return self._repo
        return self._call(f"GET /repos/{repository}", lambda: self.gh.get_repo(repository))

    def pull_pages(self, repository: str | None = None, *, state: str = "closed", sort: str = "updated",
                   direction: str = "desc") -> Iterator[list[PullSummary]]:  # fmt: skip
        """Pull requests a page at a time (100 per page), one counted request per page; stop early by not
        asking for the next page. Only what the list answer carries is read: no request per pull."""
        name = repository or self.repository
        listing = self._repo_for(repository).get_pulls(state=state, sort=sort, direction=direction)
        yield from _pages(listing, f"GET /repos/{name}/pulls?state={state}&sort={sort}&direction={direction}",
                          self._call, PullSummary.from_github)  # fmt: skip

    def pull_summary(self, repository: str | None, number: int) -> PullSummary | None:
        """One pull request (one request), or None when the number is no pull request there."""
        name = repository or self.repository
        repo = self._repo_for(repository)

        def get() -> PullSummary | None:
            try:
                return PullSummary.from_github(repo.get_pull(number))
            except UnknownObjectException:
                return None

        return self._call(f"GET /repos/{name}/pulls/{number}", get)

    def release_listing(self) -> Iterator[list[DraftRelease]]:
        """This repository's releases, drafts included (the token has push access), a page per request."""
        yield from _pages(self._repo.get_releases(), f"GET /repos/{self.repository}/releases", self._call,
                          DraftRelease.from_github)  # fmt: skip

    def create_draft_release(self, tag: str, *, name: str, body: str, prerelease: bool = False,
                             target: str | None = None) -> DraftRelease:  # fmt: skip
        """A new DRAFT release for ``tag``; the tag need not exist yet (GitHub creates it from ``target``, default
        the default branch, only when someone publishes the draft). Never publishes."""
        extra = {"target_commitish": target} if target else {}
        release = self._call(f"POST /repos/{self.repository}/releases",
                             lambda: self._repo.create_git_release(tag, name=name, message=body, draft=True,
                                                                   prerelease=prerelease, **extra))  # fmt: skip
        return DraftRelease.from_github(release)

    def update_draft_release(self, release_id: int, *, body: str,
                             expect_body: str | None = None) -> DraftRelease | None:
        """Replace a draft release's body, keeping its tag, name and pre-release flag; ``draft`` stays true.

        Read fresh first: None (and nothing written) when it is no draft any more (someone published it) or,
        with ``expect_body``, when its body changed since the caller read it."""
        what = f"/repos/{self.repository}/releases/{release_id}"
        current = self._call(f"GET {what}", lambda: self._repo.get_release(release_id))
        if not current.draft or (expect_body is not None and (current.body or "") != expect_body):
            return None
        name = current.name if hasattr(GitRelease, "name") else current.title
        updated = self._call(f"PATCH {what}", lambda: current.update_release(
            name=name or current.tag_name, message=body, draft=True, prerelease=bool(current.prerelease)))
        return DraftRelease.from_github(updated)

    # -- the dependency dashboard: one issue ------------------------------------------------------------

    def _login(self) -> str | None:
        """The token's own login, to look at the bot's issues only; None when the token cannot tell (GitHub
        Actions' and Apps' installation tokens answer 403 to ``GET /user``)."""
        if not hasattr(self, "_own_login"):
            try:
                self._own_login: str | None = self._call("GET /user", lambda: self.gh.get_user().login)
            except ForgeError:
                self._own_login = None
        return self._own_login

    def upsert_dashboard(self, *, title: str, body: str, marker: str, file: object = None) -> DashboardResult:
        """Edit the open issue whose body starts with ``marker`` and that this token's user opened, or create it
        when there is none; never a second one. ``file`` is the local forge's.

        When GitHub does not say who the token is (``GET /user`` answers 403 to Actions' and Apps' installation
        tokens), only an issue a bot opened can be the dashboard: those tokens act as a bot, and a person's issue
        quoting the marker must never be taken over. The newest such issue wins (GitHub lists newest first).
        """
        login = self._login()
        query = "state=open" + (f"&creator={login}" if login else "")

        def by_a_bot(issue) -> bool:  # type: ignore[no-untyped-def]
            user = issue.user
            return user is not None and (user.type == "Bot" or (user.login or "").endswith("[bot]"))

        def find():  # type: ignore[no-untyped-def]
            listing = self._repo.get_issues(state="open", **({"creator": login} if login else {}))
            for issue in listing:  # every page: PyGithub follows the Link header
                if issue.pull_request is None and (issue.body or "").lstrip().startswith(marker) and (
                        login or by_a_bot(issue)):
                    return issue
            return None

        found = self._call(f"GET /repos/{self.repository}/issues?{query}", find)
        if found is None:
            created = self._call(f"POST /repos/{self.repository}/issues",
                                 lambda: self._repo.create_issue(title=title, body=body))
            return DashboardResult(created.html_url, "created")
        if found.title == title and (found.body or "") == body:
            return DashboardResult(found.html_url, "unchanged")
        self._call(f"PATCH /repos/{self.repository}/issues/{found.number}", lambda: found.edit(title=title, body=body))
        return DashboardResult(found.html_url, "updated")

    def git_env(self) -> dict[str, str]:
        """A credential helper through git's environment config: the token is in no URL, argument or file.

        A helper (not an ``http.extraHeader``) because CI checkouts often store a header of their own, and two
        Authorization headers make GitHub answer 400. The helper reads the token from the environment.
        """
        helper = '!f() { test "$1" = get && echo username=x-access-token && echo "password=$NIGHTCREW_GIT_PASSWORD"; }; f'
        return {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "credential.helper", "GIT_CONFIG_VALUE_0": "",
                "GIT_CONFIG_KEY_1": "credential.helper", "GIT_CONFIG_VALUE_1": helper,
                "NIGHTCREW_GIT_PASSWORD": self._token}

    @property
    def secrets(self) -> tuple[str, ...]:
        basic = base64.b64encode(f"x-access-token:{self._token}".encode()).decode()
        return (self._token, basic)


# -- reading other repositories (upstream changelogs) ---------------------------------------------------


@dataclass(frozen=True)
class GitHubRelease:
    """One release as GitHub lists it; ``body`` is "" when it has no notes."""

    tag: str
    name: str
    body: str
    draft: bool
    prerelease: bool
    html_url: str
    published_at: datetime | None


@dataclass(frozen=True)
class RepoEntry:
    """One entry of a repository folder; ``type`` is ``file``, ``dir``, ``symlink`` or ``submodule``."""

    path: str
    name: str
    type: str
    size: int
    html_url: str | None


@dataclass(frozen=True)
class RepoFile:
    """A file's bytes at one ref, and where people can see it."""

    path: str
    data: bytes
    html_url: str | None


class GitHubReader:
    """Read-only access to any repository on GitHub (or GitHub Enterprise, by ``api_url``): releases and files.

    Public repositories can be read without a token (at GitHub's anonymous rate limit); ``has_token`` tells
    callers that want a token first. Every request is counted in ``requests`` and, with a ``gate``, audited
    as ``forge.read``; a failure is a one-line ``ForgeError`` naming the request, never the token.
    """

    kind = "github"

    def __init__(self, *, token: str | None = None, api_url: str | None = None, gate: Gate | None = None,
                 retries: int = 3, backoff: float = 0.5, timeout: int = 30, throttle: bool = True,
                 per_page: int = 100, max_rate_limit_wait: int = 60) -> None:  # fmt: skip
        self._token = token or None
        retry = GithubRetry(total=retries, backoff_factor=backoff, max_rate_limit_wait=max_rate_limit_wait)
        kwargs: dict[str, object] = {"retry": retry, "timeout": int(timeout), "per_page": per_page}
        if self._token:
            kwargs["auth"] = Auth.Token(self._token)
        if not throttle:  # PyGithub spaces requests as GitHub asks integrations to; a test server needs none
            kwargs.update(seconds_between_requests=None, seconds_between_writes=None)
        if api_url:
            kwargs["base_url"] = api_url.rstrip("/")
        # Lazy repositories cost no request until something is read; newer PyGithub sets that on the client.
        self._lazy_client = "lazy" in inspect.signature(Github.__init__).parameters
        if self._lazy_client:
            kwargs["lazy"] = True
        self.gh = Github(**kwargs)  # type: ignore[arg-type]
        self.gate = gate
        self.per_page = per_page
        self.requests = 0

    @property
    def has_token(self) -> bool:
        return self._token is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        def run() -> T:
            self.requests += 1
            return call_github(what, fn, self.secrets)

        return run() if self.gate is None else self.gate.run("forge.read", what, run)

    def _repo(self, repository: str):  # type: ignore[no-untyped-def]
        return self.gh.get_repo(repository) if self._lazy_client else self.gh.get_repo(repository, lazy=True)

    @staticmethod
    def _release(r: GitRelease) -> GitHubRelease:
        name = r.name if hasattr(GitRelease, "name") else r.title  # "title" is deprecated since PyGithub 2.x
        return GitHubRelease(tag=r.tag_name, name=name or "", body=r.body or "", draft=bool(r.draft),
                             prerelease=bool(r.prerelease), html_url=r.html_url, published_at=r.published_at)

    def release_pages(self, repository: str) -> Iterator[list[GitHubRelease]]:
        """The repository's releases a page at a time, newest first; one request per page, so a caller that
        has seen enough stops early. Drafts appear only for tokens with push access."""
        listing = self._repo(repository).get_releases()
        page = 1
        # PaginatedList fetches one page per _grow() and follows the Link header's "next"; driving it page by
        # page gives one audited request per page and stops exactly where GitHub says the list ends.
        while listing._couldGrow():
            yield self._call(f"GET /repos/{repository}/releases?page={page}",
                             lambda: [self._release(r) for r in listing._grow()])  # fmt: skip
            page += 1

    def tags(self, repository: str, max_pages: int = 10) -> list[tuple[str, str]]:
        """(tag, commit SHA) of the repository's tags (the commit an annotated tag points to), one request per
        page of ``per_page``, at most ``max_pages`` pages."""
        listing = self._repo(repository).get_tags()
        found: list[tuple[str, str]] = []
        page = 1
        while listing._couldGrow() and page <= max_pages:
            found += self._call(f"GET /repos/{repository}/tags?page={page}",
                                lambda: [(t.name, t.commit.sha) for t in listing._grow()])  # fmt: skip
            page += 1
        return found

    def release(self, repository: str, tag: str) -> GitHubRelease | None:
        """The published release of ``tag``, or None when there is none."""

        def get() -> GitHubRelease | None:
            try:
                return self._release(self._repo(repository).get_release(tag))
            except UnknownObjectException:
                return None

        return self._call(f"GET /repos/{repository}/releases/tags/{tag}", get)

    def list_dir(self, repository: str, path: str = "", ref: str | None = None) -> list[RepoEntry] | None:
        """A folder's entries (default branch unless ``ref``), or None when ``path`` is not a folder there.

        For the top folder a 404 means the repository is missing (or empty, or private): a ``ForgeError``.
        """
        what = f"GET /repos/{repository}/contents/{path}" + (f"?ref={ref}" if ref else "")

        def get() -> list[RepoEntry] | None:
            try:
                found = self._repo(repository).get_contents(path, **({"ref": ref} if ref else {}))
            except UnknownObjectException:
                if not path.strip("/"):
                    raise
                return None
            if not isinstance(found, list):
                return None
            return [RepoEntry(path=c.path, name=c.name, type=c.type, size=c.size or 0, html_url=c.html_url)
                    for c in found]  # fmt: skip

        return self._call(what, get)

    def read_file(self, repository: str, path: str, ref: str | None = None) -> RepoFile | None:
        """A file's bytes (default branch unless ``ref``; a symlink to a file reads the file), or None when
        there is no file at ``path`` or it is over the contents API's 1 MB limit."""
        what = f"GET /repos/{repository}/contents/{path}" + (f"?ref={ref}" if ref else "")

        def get() -> RepoFile | None:
            try:
                found = self._repo(repository).get_contents(path, **({"ref": ref} if ref else {}))
            except UnknownObjectException:
                return None
            if isinstance(found, list) or found.type != "file" or found.encoding != "base64":
                return None
            return RepoFile(path=found.path, data=found.decoded_content, html_url=found.html_url)

        return self._call(what, get)

    # -- release notes: merged pulls in bulk ---------------------------------------------------------

    def pull_pages(self, repository: str, *, state: str = "closed", sort: str = "updated",
                   direction: str = "desc") -> Iterator[list[PullSummary]]:  # fmt: skip
        """Pull requests a page at a time (``per_page`` each), one audited request per page; stop early by not
        asking for the next page. Only what the list answer carries is read: no request per pull."""
        listing = self._repo(repository).get_pulls(state=state, sort=sort, direction=direction)
        yield from _pages(listing, f"GET /repos/{repository}/pulls?state={state}&sort={sort}&direction={direction}",
                          self._call, PullSummary.from_github)  # fmt: skip

    def pull_summary(self, repository: str, number: int) -> PullSummary | None:
        """One pull request (one request), or None when the number is no pull request there."""

        def get() -> PullSummary | None:
            try:
                return PullSummary.from_github(self._repo(repository).get_pull(number))
            except UnknownObjectException:
                return None

        return self._call(f"GET /repos/{repository}/pulls/{number}", get)


# -- release notes: records and paging ------------------------------------------------------------


@dataclass(frozen=True)
class PullSummary:
    """A pull request as a list answer describes it (``GET /repos/{o}/{r}/pulls``): enough for release notes."""

    number: int
    title: str
    body: str
    state: str
    labels: tuple[str, ...]
    author: str | None
    html_url: str
    merged_at: datetime | None
    updated_at: datetime | None
    merge_commit_sha: str | None
    base: str | None
    head: str | None = None

    @classmethod
    def from_github(cls, p: GhPull) -> PullSummary:
        # Every attribute read here is in the list answer: none of them makes PyGithub fetch the full pull.
        return cls(number=p.number, title=p.title or "", body=p.body or "", state=p.state,
                   labels=tuple(label.name for label in p.labels), author=p.user.login if p.user else None,
                   html_url=p.html_url, merged_at=p.merged_at, updated_at=p.updated_at,
                   merge_commit_sha=p.merge_commit_sha, base=p.base.ref if p.base else None,
                   head=p.head.ref if p.head else None)  # fmt: skip


@dataclass(frozen=True)
class DraftRelease:
    """A release as the repository's owners see it (drafts included), with the id that edits it."""

    id: int
    tag: str
    name: str
    body: str
    draft: bool
    prerelease: bool
    html_url: str

    @classmethod
    def from_github(cls, r: GitRelease) -> DraftRelease:
        name = r.name if hasattr(GitRelease, "name") else r.title
        return cls(id=r.id, tag=r.tag_name, name=name or "", body=r.body or "", draft=bool(r.draft),
                   prerelease=bool(r.prerelease), html_url=r.html_url)  # fmt: skip


def _pages(listing, what: str, call: Callable[[str, Callable[[], list[T]]], list[T]],  # type: ignore[no-untyped-def]
           convert: Callable[..., T]) -> Iterator[list[T]]:
    """Drive a PyGithub PaginatedList one page per counted ``call``, following GitHub's Link header."""
    page = 1
    # PaginatedList fetches one page per _grow() and follows the Link header's "next" (see release_pages).
    while listing._couldGrow():
        yield call(f"{what}{'&' if '?' in what else '?'}page={page}", lambda: [convert(x) for x in listing._grow()])
        page += 1

"""What the forge knows about the pull requests of a release range, in as few requests as possible.

``enrich`` reads GitHub's pull-request *list* (closed, most recently updated first, 100 a page) instead of one
request per pull request: a pull request merged after the previous release was updated after it too, so the
listing can stop at the first page that reaches back past the previous release's date (``since``), or as soon
as every wanted number has been seen. What is still missing then (a pull request merged long ago and
cherry-picked, a number the listing skipped because the list moved while it was read) is fetched one by one.
The cost is one request per 100 pull requests plus the stragglers, reported with the result.

A pull request's description is used only when it is the change git has: it was merged, and its merge commit
(``merge_commit_sha``: the squash commit, or the merge commit) is the commit of the range that names it. A number
in a commit subject is just text — ``Fix crash (#40)`` pushed straight to the branch may name an old, unrelated
pull request, or one closed without merging — so a pull request that fails that test keeps what git says about
it (its commit's title; no labels, author or body). One exception keeps backports described: a merged pull request
whose title is exactly the commit's title (a cherry-pick of it, with its own sha) is taken.

``git_only`` is the answer without a forge token: titles from the commit subjects, links from the repository's
web address, no labels, authors or closed issues.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Iterator, Protocol, Sequence

from jobs.forges.github import PullSummary
from jobs.models import PullInfo, PullRef
from jobs.releases.categories import prose

__all__ = ["enrich", "git_only", "closing_issues", "web_url", "is_the_change", "PullSource"]

# Past the previous release's date by this much before the listing gives up: clocks of committers and of
# GitHub disagree a little, and a page more costs one request.
SLACK = timedelta(hours=1)
# When more than this many wanted pull requests are still missing at ``since``, keep listing rather than
# fetching them one by one (a listing page finds up to 100 for one request).
FALLBACK_LIMIT = 20


class PullSource(Protocol):
    """``GitHubReader`` or ``GitHubForge``: pages of pull requests and single ones, every request counted."""

    requests: int

    def pull_pages(self, repository: str, *, state: str = ..., sort: str = ...,
                   direction: str = ...) -> Iterator[list[PullSummary]]: ...  # fmt: skip

    def pull_summary(self, repository: str, number: int) -> PullSummary | None: ...


# GitHub's closing keywords (docs: "Linking a pull request to an issue using a keyword"), each followed by
# one reference: #N, OWNER/REPO#N, or the issue's URL. "Closes: #N" works as well.
_KEYWORD = r"(?<![\w-])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?::\s*|\s+)"
_REFERENCE = re.compile(
    _KEYWORD + r"(?:(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+))?#(?P<number>\d+)(?![\w-])"
    r"|" + _KEYWORD
    + r"https?://[^\s/]+/(?P<url_owner>[\w.-]+)/(?P<url_repo>[\w.-]+)/issues/(?P<url_number>\d+)(?![\w-])",
    re.IGNORECASE,
)


def closing_issues(body: str, repository: str) -> tuple[int, ...]:
    """Issue numbers of ``repository`` (``owner/name``) that ``body`` closes by GitHub's keywords, in order, once
    each. References to other repositories and mentions without a keyword ("see #12") are not closes."""
    if not body:
        return ()
    text = prose(body)  # GitHub reads no keywords from fenced or inline code, nor from HTML comments
    owner, _, name = repository.lower().partition("/")
    found: list[int] = []
    for match in _REFERENCE.finditer(text):
        if match["number"] is not None:
            ref_owner, ref_repo, number = match["owner"], match["repo"], match["number"]
        else:
            ref_owner, ref_repo, number = match["url_owner"], match["url_repo"], match["url_number"]
        if ref_owner is not None and (ref_owner.lower(), ref_repo.lower().removesuffix(".git")) != (owner, name):
            continue
        if int(number) not in found:
            found.append(int(number))
    return tuple(found)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # PyGithub gives aware datetimes; be safe with naive ones (UTC, as GitHub sends)
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _info(pull: PullSummary, repository: str) -> PullInfo:
    return PullInfo(number=pull.number, title=pull.title, url=pull.html_url, labels=pull.labels, author=pull.author,
                    merged_at=_iso(pull.merged_at), body=pull.body,
                    closes=closing_issues(pull.body, repository), branch=pull.head)  # fmt: skip


def _squeeze(text: str) -> str:
    return " ".join((text or "").split())


def is_the_change(pull: PullSummary, refs: Sequence[PullRef]) -> bool:
    """Whether ``pull`` is the change the commits ``refs`` (those naming its number) record: merged, and its merge
    commit is one of them — or, for a backport (a cherry-pick has a sha of its own), its title is exactly theirs."""
    if pull.merged_at is None:  # open, or closed without merging: nothing of it is in any release
        return False
    if pull.merge_commit_sha and any(ref.sha == pull.merge_commit_sha for ref in refs):
        return True
    title = _squeeze(pull.title)
    return bool(title) and any(_squeeze(ref.title) == title for ref in refs)


def enrich(pulls: Sequence[PullRef], *, reader_or_forge: PullSource, repository: str,
           since: str | None) -> tuple[dict[int, PullInfo], int]:  # fmt: skip
    """Title, labels, author, merge time, body and closed issues of each pull request in ``pulls``, and the
    number of API requests it took.

    ``since`` is the previous release's date (ISO 8601), None for a first release (the listing then runs until
    every number is found or the list ends). Numbers the forge does not know as pull requests (an issue number
    in a squash subject, a deleted pull request), and pull requests that are not the change the range's commit
    records (:func:`is_the_change`: unmerged, or merged as another commit), are left out of the answer: use
    ``git_only`` for them. Forge errors are ``ForgeError``: one line naming the request.
    """
    source = reader_or_forge
    before = source.requests
    refs: dict[int, list[PullRef]] = {}
    for ref in pulls:
        refs.setdefault(ref.number, []).append(ref)
    infos: dict[int, PullInfo] = {}
    if not refs:
        return infos, 0
    seen: set[int] = set()  # answered by the forge, whether or not it is the change

    def take(pull: PullSummary) -> None:
        seen.add(pull.number)
        if is_the_change(pull, refs[pull.number]):
            infos[pull.number] = _info(pull, repository)

    cutoff = _moment(since) - SLACK if since else None
    for page in source.pull_pages(repository, state="closed", sort="updated", direction="desc"):
        for pull in page:
            if pull.number in refs and pull.number not in seen:
                take(pull)
        if len(seen) == len(refs):
            break
        oldest = page[-1].updated_at if page else None
        if cutoff is not None and oldest is not None and _aware(oldest) < cutoff \
                and len(refs) - len(seen) <= FALLBACK_LIMIT:  # fmt: skip
            break  # everything older was merged before the previous release; stragglers come one by one
    for number in sorted(refs.keys() - seen):
        pull = source.pull_summary(repository, number)
        if pull is not None and pull.number == number:
            take(pull)
    return infos, source.requests - before


_SCP = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>(?!/)[^\s]+)$")  # git@github.com:owner/repo.git


def web_url(remote: str | None) -> str | None:
    """A repository's web address from a web URL or a git remote (``https://…``, ``ssh://git@host/o/r.git``,
    ``git@host:o/r.git``): ``https://host/o/r``; None when it names no host and path."""
    if not remote or not remote.strip():
        return None
    text = remote.strip()
    scp = _SCP.match(text)
    if scp and "://" not in text:
        host, path = scp["host"], scp["path"]
    else:
        match = re.match(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?:[^@/]*@)?(?P<host>[^/]+)(?P<path>/.*)?$", text, re.I)
        if not match or not (match["path"] or "").strip("/"):
            return None
        scheme = match["scheme"].lower()
        host, path = match["host"], match["path"]
        if scheme in ("http", "https"):
            return f"{scheme}://{host}/{path.strip('/').removesuffix('.git')}"
        host = host.rsplit(":", 1)[0] if scheme in ("ssh", "git") else host  # an ssh port is no web port
    path = path.strip("/").removesuffix(".git")
    return f"https://{host}/{path}" if path else None


def git_only(pulls: Sequence[PullRef], repo_url: str | None) -> dict[int, PullInfo]:
    """What git alone says about each pull request: the title from its commit, its body (for a merge commit, the
    lines after the title), the issues its closing keywords close (``Fixes #9``, ``closes org/repo#9`` of this
    repository), a link built from the repository's web address (``repo_url``; a git remote URL is turned into
    one; None: no links); no labels or authors."""
    base = web_url(repo_url)
    repository = "/".join(base.split("://", 1)[-1].split("/")[-2:]) if base and base.count("/") >= 3 else ""
    infos: dict[int, PullInfo] = {}
    for pull in pulls:
        if pull.number not in infos:
            # a squash commit's body is the PR's description: its closing keywords close issues as the forge's do
            body = pull.body if pull.kind == "squash" else "\n".join(pull.body.splitlines()[1:])
            closes = tuple(n for n in closing_issues(body, repository) if n != pull.number) if repository else ()
            infos[pull.number] = PullInfo(number=pull.number, title=pull.title, body=body, closes=closes,
                                          url=f"{base}/pull/{pull.number}" if base else None, branch=pull.branch,
                                          author=pull.author_name if pull.author_name.lower().endswith("[bot]")
                                          else None)  # a bot's git name is its login; a person's is not

    return infos

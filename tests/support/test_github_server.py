"""The GitHub REST stand-in, driven through real PyGithub over HTTP against a real bare git repository."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from github import Auth, BadCredentialsException, Github, GithubException, RateLimitExceededException
from github.GithubRetry import GithubRetry
from github.Repository import Repository

from tests.support.github_server import GitHubStandIn, commit_files, git

REPO = "acme/widgets"


def client(server: GitHubStandIn, token: str = "bot-token", *, base_url: str | None = None, **kw: Any) -> Github:
    # PyGithub throttles itself by default (0.25 s between requests, 1 s between writes); that is client
    # politeness toward github.com, not behaviour under test, and would make the 75-pull test take minutes.
    kw = {"seconds_between_requests": None, "seconds_between_writes": None, **kw}
    return Github(auth=Auth.Token(token), base_url=base_url or server.api_url, **kw)


def repo(server: GitHubStandIn, token: str = "bot-token", **kw: Any) -> Repository:
    return client(server, token, **kw).get_repo(REPO)


def raw(server: GitHubStandIn, method: str, path: str, body: bytes | None = None,
        token: str | None = "bot-token") -> tuple[int, dict[str, str], Any]:  # fmt: skip
    """One request with urllib, for shapes PyGithub hides (status codes, headers, error bodies)."""
    req = urllib.request.Request(server.web_url + path, data=body, method=method)
    if token:
        req.add_header("Authorization", f"token {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=10) as resp:
            status, headers, data = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        status, headers, data = exc.code, dict(exc.headers), exc.read()
    return status, headers, json.loads(data) if data else None


def push_branch(server: GitHubStandIn, tmp_path: Path, branch: str, text: str) -> str:
    """A real clone, commit and push to the bare repo, as the bot does; returns the pushed sha."""
    work = tmp_path / f"clone-{branch.replace('/', '-')}"
    git(None, "clone", "--quiet", str(server.bare), str(work))
    git(None, "config", "user.name", "nightcrew", cwd=work)
    git(None, "config", "user.email", "bot@nightcrew.test", cwd=work)
    git(None, "switch", "--quiet", "-c", branch, cwd=work)
    (work / "requirements.txt").write_text(text)
    git(None, "commit", "--quiet", "-am", f"Bump via {branch}", cwd=work)
    git(None, "push", "--quiet", "origin", branch, cwd=work)
    return git(None, "rev-parse", "HEAD", cwd=work).stdout.strip()


def test_create_pull_after_push(github: GitHubStandIn, tmp_path: Path) -> None:
    sha = push_branch(github, tmp_path, "nightcrew/requests-2.32.3", "requests==2.32.3\n")
    pr = repo(github).create_pull(base="main", head="nightcrew/requests-2.32.3", title="Bump requests", body="x")
    assert (pr.number, pr.state, pr.draft, pr.merged, pr.user.login) == (1, "open", False, False, "nightcrew-bot")
    assert pr.head.sha == sha and pr.head.ref == "nightcrew/requests-2.32.3" and pr.base.ref == "main"
    assert pr.head.label == "acme:nightcrew/requests-2.32.3" and pr.mergeable is True
    assert pr.html_url == f"{github.web_url}/acme/widgets/pull/1"
    assert pr.created_at.tzinfo is not None and pr.id and pr.node_id
    [commit] = list(pr.get_commits())
    assert commit.sha == sha and commit.commit.author.email == "bot@nightcrew.test"
    assert github.pull(1)["head_sha"] == sha and github.requests[-1].status == 200
    create = next(r for r in github.requests if r.method == "POST")
    assert (create.path, create.status, create.login, create.body["head"]) == (
        "/repos/acme/widgets/pulls", 201, "nightcrew-bot", "nightcrew/requests-2.32.3")
    # A later push moves the open pull's head live, as on GitHub.
    newer = commit_files(github.bare, "nightcrew/requests-2.32.3", {"requirements.txt": "requests==2.32.4\n"})
    assert repo(github).get_pull(1).head.sha == newer


def test_duplicate_and_invalid_heads_are_422(github: GitHubStandIn) -> None:
    commit_files(github.bare, "bump", {"requirements.txt": "requests==2.32.3\n"})
    r = repo(github)
    r.create_pull(base="main", head="acme:bump", title="Bump")
    with pytest.raises(GithubException) as dup:
        r.create_pull(base="main", head="bump", title="Bump again")
    assert dup.value.status == 422 and dup.value.data["message"] == "Validation Failed"
    assert dup.value.data["errors"] == [
        {"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for acme:bump."}]
    with pytest.raises(GithubException) as missing:
        r.create_pull(base="main", head="no-such-branch", title="Nope")
    assert missing.value.status == 422
    assert missing.value.data["errors"] == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
    git(github.bare, "update-ref", "refs/heads/empty", "refs/heads/main")
    with pytest.raises(GithubException) as empty:
        r.create_pull(base="main", head="empty", title="Empty")
    assert empty.value.data["errors"][0]["message"] == "No commits between main and empty"
    assert [p["number"] for p in github.pulls()] == [1]


def test_pagination_follows_link_headers(github: GitHubStandIn) -> None:
    sha = commit_files(github.bare, "seed-branch", {"requirements.txt": "requests==9\n"})
    refs = "".join(f"create refs/heads/bump-{i:02d} {sha}\n" for i in range(75))
    git(github.bare, "update-ref", "--stdin", input=refs)
    r = repo(github)
    for i in range(75):
        r.create_pull(base="main", head=f"bump-{i:02d}", title=f"Bump {i}")
    github.reset_log()
    pulls = list(r.get_pulls(state="open", sort="created", direction="asc"))
    assert [p.number for p in pulls] == list(range(1, 76))
    pages = [rec for rec in github.requests if rec.path == "/repos/acme/widgets/pulls"]
    assert [rec.query.get("page", "1") for rec in pages] == ["1", "2", "3"]
    assert all("Link" in rec.response_headers for rec in pages)
    base = f"{github.api_url}/repos/acme/widgets/pulls?{urlencode(pages[0].query)}"  # the client's own params
    assert pages[0].response_headers["Link"] == f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'
    assert 'rel="next"' not in pages[2].response_headers["Link"] and 'rel="first"' in pages[2].response_headers["Link"]
    # per_page caps at 100; head filters by owner:branch; the default order is newest first.
    status, headers, body = raw(github, "GET", "/api/v3/repos/acme/widgets/pulls?per_page=500")
    assert status == 200 and len(body) == 75 and "Link" not in headers and body[0]["number"] == 75
    assert [p.number for p in r.get_pulls(head="acme:bump-07")] == [8]


def test_labels_create_get_add_remove(github: GitHubStandIn) -> None:
    r = repo(github)
    made = r.create_label("dependencies", "0366d6", "Dependency bumps")
    assert (made.name, made.color, made.description) == ("dependencies", "0366d6", "Dependency bumps")
    assert r.get_label("Dependencies").name == "dependencies"  # case-insensitive, as on GitHub
    with pytest.raises(GithubException) as dup:
        r.create_label("dependencies", "ffffff")
    assert dup.value.status == 422 and dup.value.data["errors"][0]["code"] == "already_exists"
    with pytest.raises(GithubException) as missing:
        r.get_label("nope")
    assert missing.value.status == 404
    commit_files(github.bare, "bump", {"requirements.txt": "x==1\n"})
    pr = r.create_pull(base="main", head="bump", title="Bump")
    pr.add_to_labels("dependencies", "python")  # unknown labels are created on the fly
    assert github.issue_labels(1) == ["dependencies", "python"]
    status, _, body = raw(github, "POST", "/repos/acme/widgets/issues/1/labels", b'{"labels": ["security"]}')
    assert status == 200 and [lb["name"] for lb in body] == ["dependencies", "python", "security"]
    pr.remove_from_labels("python")
    assert [lb.name for lb in r.get_pull(1).labels] == ["dependencies", "security"]
    assert [lb.name for lb in r.get_labels()] == ["dependencies", "python", "security"]
    assert [i.number for i in r.get_issues(labels=["security"])] == [1]


def test_review_requests(github: GitHubStandIn) -> None:
    commit_files(github.bare, "bump", {"requirements.txt": "x==1\n"})
    pr = repo(github).create_pull(base="main", head="bump", title="Bump")
    pr.create_review_request(reviewers=["bob", "alice"], team_reviewers=["python"])
    got = repo(github).get_pull(1)
    assert [u.login for u in got.requested_reviewers] == ["bob", "alice"] and got.requested_teams[0].slug == "python"
    assert [r.status for r in github.requests if r.path.endswith("requested_reviewers")] == [201]
    with pytest.raises(GithubException) as outsider:
        pr.create_review_request(reviewers=["mallory"])
    assert outsider.value.status == 422 and "not a collaborator of the acme/widgets" in outsider.value.data["message"]
    with pytest.raises(GithubException) as author:
        pr.create_review_request(reviewers=["nightcrew-bot"])
    assert author.value.status == 422
    assert github.pull(1)["requested_reviewers"] == ["bob", "alice"]


def test_comments_and_plain_issues_share_numbers(github: GitHubStandIn) -> None:
    r = repo(github)
    issue = r.create_issue(title="Dependency dashboard", body="tracking")
    commit_files(github.bare, "bump", {"requirements.txt": "x==1\n"})
    pr = r.create_pull(base="main", head="bump", title="Bump")
    assert (issue.number, pr.number) == (1, 2)
    for i in range(35):
        pr.create_issue_comment(f"comment {i}")
    human = repo(github, "human-token").get_pull(2)
    human.create_issue_comment("looks good")
    comments = list(r.get_pull(2).get_issue_comments())
    assert [c.body for c in comments] == [f"comment {i}" for i in range(35)] + ["looks good"]
    last = comments[-1]
    assert last.user.login == "alice" and last.html_url.endswith(f"/pull/2#issuecomment-{last.id}")
    assert len(github.comments(2)) == 36 and github.comments(1) == []
    listed = {i.number: i for i in r.get_issues(state="all")}
    assert listed[2].pull_request is not None and listed[1].pull_request is None and listed[2].comments == 36


def test_human_closes_pull(github: GitHubStandIn) -> None:
    commit_files(github.bare, "bump", {"requirements.txt": "x==1\n"})
    repo(github).create_pull(base="main", head="bump", title="Bump")
    closed = repo(github, "human-token").get_pull(1)
    closed.edit(state="closed")
    assert closed.state == "closed" and closed.closed_at is not None and closed.merged is False
    assert github.requests[-1].login == "alice" and github.requests[-1].method == "PATCH"
    bot_view = repo(github).get_pull(1)
    assert bot_view.state == "closed" and bot_view.merged_at is None
    assert [p.number for p in repo(github).get_pulls(state="closed")] == [1] and not list(repo(github).get_pulls())
    # A closed pull no longer blocks a new one for the same head.
    assert repo(github).create_pull(base="main", head="bump", title="Bump again").number == 2


def test_merge_updates_bare_main(github: GitHubStandIn) -> None:
    main_before = github.ref_sha("main")
    head = commit_files(github.bare, "bump", {"requirements.txt": "requests==2.32.3\n"})
    pr = repo(github).create_pull(base="main", head="bump", title="Bump requests")
    status = pr.merge(merge_method="merge")
    assert status.merged and status.sha == github.ref_sha("main")
    parents = git(github.bare, "rev-list", "--parents", "-1", "main").stdout.split()[1:]
    assert parents == [main_before, head]
    assert git(github.bare, "show", "main:requirements.txt").stdout == "requests==2.32.3\n"
    merged = repo(github).get_pull(1)
    assert merged.merged and merged.state == "closed" and merged.merge_commit_sha == status.sha
    assert merged.merged_by.login == "nightcrew-bot"
    with pytest.raises(GithubException) as again:
        merged.merge()
    assert again.value.status == 405
    # Squash: one new commit on main with a single parent.
    commit_files(github.bare, "bump2", {"setup.cfg": "[x]\n"})
    pr2 = repo(github).create_pull(base="main", head="bump2", title="Bump two")
    squashed = pr2.merge(merge_method="squash")
    log = git(github.bare, "log", "-1", "--format=%P%n%s", "main").stdout.split("\n")
    assert squashed.sha == github.ref_sha("main") and log[0] == status.sha and log[1] == "Bump two (#2)"


def test_server_error_fault_is_retried_once(github: GitHubStandIn) -> None:
    github.fail("GET", r"/repos/acme/widgets", status=502)
    assert repo(github).full_name == REPO  # PyGithub's default GithubRetry retries 5xx
    assert [r.status for r in github.requests] == [502, 200]
    github.fail("*", r"/user", status=503, times=None, body={"message": "Service Unavailable"})
    with pytest.raises(GithubException) as exc:
        client(github, retry=None).get_user().login
    assert exc.value.status == 503
    github.clear_faults()
    assert client(github, retry=None).get_user().login == "nightcrew-bot"


def test_delay_fault_holds_the_answer(github: GitHubStandIn) -> None:
    github.delay("GET", r"/user", 0.3)
    gh = client(github, retry=None)
    started = time.monotonic()
    assert gh.get_user().login == "nightcrew-bot"
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    assert gh.get_user().login == "nightcrew-bot" and time.monotonic() - started < 0.3  # times=1: used up


def test_bad_token_is_401(github: GitHubStandIn) -> None:
    with pytest.raises(BadCredentialsException) as exc:
        client(github, "wrong").get_user().login
    assert exc.value.status == 401 and exc.value.data["message"] == "Bad credentials"
    status, headers, body = raw(github, "GET", "/api/v3/user", token=None)
    assert status == 401 and "documentation_url" in body and headers["X-RateLimit-Limit"] == "60"


def test_rate_limit_headers_and_exhaustion(github: GitHubStandIn) -> None:
    _, h1, _ = raw(github, "GET", "/api/v3/user")
    _, h2, _ = raw(github, "GET", "/api/v3/user")
    assert int(h1["X-RateLimit-Remaining"]) - int(h2["X-RateLimit-Remaining"]) == 1
    assert h2["X-RateLimit-Resource"] == "core" and h2["X-RateLimit-Used"] == "2" and h2["X-GitHub-Request-Id"]
    assert h2["Content-Type"] == "application/json; charset=utf-8"
    github.exhaust_rate_limit("bot-token")
    with pytest.raises(RateLimitExceededException) as exc:
        client(github, retry=None).get_user().login
    assert exc.value.status == 403 and exc.value.headers["x-ratelimit-remaining"] == "0"
    assert exc.value.data["message"] == "API rate limit exceeded for user ID 1."
    assert client(github, "human-token").get_user().login == "alice"  # limits are per token
    # PyGithub's default retry sleeps until X-RateLimit-Reset; the window really rolls over then.
    github.exhaust_rate_limit("bot-token", reset_in=1)
    assert client(github, retry=GithubRetry(total=3)).get_user().login == "nightcrew-bot"


def test_prefix_and_no_prefix(github: GitHubStandIn) -> None:
    plain = client(github, base_url=github.web_url).get_repo(REPO)
    prefixed = client(github).get_repo(REPO)
    # URLs in bodies keep the caller's style, so PyGithub's follow-up requests stay on it.
    assert plain.url == f"{github.web_url}/repos/acme/widgets"
    assert prefixed.url == f"{github.api_url}/repos/acme/widgets" and plain.default_branch == "main"
    assert plain.get_branch("main").commit.sha == github.ref_sha("main")
    assert [(r.path, r.prefixed) for r in github.requests] == [
        ("/repos/acme/widgets", False), ("/repos/acme/widgets", True), ("/repos/acme/widgets/branches/main", False)]
    assert raw(github, "GET", "/repos/acme/widgets/labels?per_page=1")[0] == 200
    with pytest.raises(GithubException) as exc:
        plain.get_branch("nope")
    assert exc.value.status == 404


def test_not_found_and_bad_json(github: GitHubStandIn) -> None:
    status, _, body = raw(github, "GET", "/api/v3/repos/acme/widgets/nonsense")
    assert (status, body) == (404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
    assert raw(github, "GET", "/repos/other/repo")[0] == 404
    status, _, body = raw(github, "POST", "/repos/acme/widgets/issues", b"{not json")
    assert status == 400 and body["message"] == "Problems parsing JSON"


def test_deleted_head_closes_pull_and_blocks_reopen(github: GitHubStandIn) -> None:
    commit_files(github.bare, "bump", {"requirements.txt": "x==1\n"})
    r = repo(github)
    pr = r.create_pull(base="main", head="bump", title="Bump")
    pr.delete_branch(force=True)  # DELETE /git/ref/heads/bump, as PyGithub sends it
    assert github.ref_sha("bump") is None and github.pull(1)["state"] == "closed"
    with pytest.raises(GithubException) as exc:
        r.get_pull(1).edit(state="open")
    assert exc.value.status == 422
    issue = r.create_issue(title="Flaky scan", labels=["bug"])
    repo(github, "human-token").get_issue(issue.number).edit(state="closed", state_reason="not_planned")
    assert github.issue(2)["state"] == "closed" and github.issue(2)["state_reason"] == "not_planned"
    assert github.issue(2)["labels"] == ["bug"]

"""The GitHub REST stand-in, driven through real PyGithub over HTTP against a real bare git repository."""

from __future__ import annotations

import base64
import json
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from github import (Auth, BadCredentialsException, Github, GithubException, RateLimitExceededException,
                    UnknownObjectException)
from github.GithubRetry import GithubRetry
from github.Repository import Repository

from tests.support.github_server import GitHubStandIn, commit_files, git, seed_bare_repo

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


# -- releases, contents, trees, more repositories ---------------------------------------------------------------


UPSTREAM = "encode/httpx"


def add_upstream(server: GitHubStandIn, tmp_path: Path, files: dict[str, str], **kw: Any) -> Path:
    bare = tmp_path / "upstream.git"
    seed_bare_repo(bare, files=files)
    server.add_repo(UPSTREAM, bare, **kw)
    return bare


def test_releases_create_list_get_and_publish(github: GitHubStandIn) -> None:
    r = repo(github)
    first = r.create_git_release("v1.0.0", name="One", message="First notes")
    assert (first.tag_name, first.name, first.body, first.draft, first.prerelease) == (
        "v1.0.0", "One", "First notes", False, False)
    assert first.html_url == f"{github.web_url}/{REPO}/releases/tag/v1.0.0" and first.published_at is not None
    # Publishing tags the default branch's tip in the bare repository, as GitHub does.
    assert git(github.bare, "rev-parse", "refs/tags/v1.0.0").stdout.strip() == github.ref_sha("main")
    draft = r.create_git_release("v1.1.0", name="Next", message="Draft notes", draft=True)
    assert draft.draft and draft.published_at is None and "untagged-" in draft.html_url
    assert git(github.bare, "rev-parse", "--verify", "--quiet", "refs/tags/v1.1.0", check=False).returncode != 0
    status, _, data = raw(github, "GET", f"/repos/{REPO}/releases")
    assert status == 200 and [d["tag_name"] for d in data] == ["v1.1.0", "v1.0.0"]  # newest first, drafts for pushers
    assert {"id", "tag_name", "name", "body", "draft", "prerelease", "html_url", "created_at", "published_at", "url",
            "assets_url", "upload_url", "tarball_url", "zipball_url", "author", "assets", "node_id",
            "target_commitish"} <= set(data[1])  # fmt: skip
    assert data[1]["target_commitish"] == "main" and data[1]["author"]["login"] == "nightcrew-bot"
    assert r.get_release("v1.0.0").id == first.id and r.get_latest_release().tag_name == "v1.0.0"
    assert raw(github, "GET", f"/repos/{REPO}/releases/tags/v1.1.0")[0] == 404  # drafts have no tag yet
    published = draft.update_release(name="Next", message="Final notes", draft=False)
    assert not published.draft and published.body == "Final notes" and published.published_at is not None
    assert r.get_release("v1.1.0").id == draft.id and github.ref_sha("main") == git(
        github.bare, "rev-parse", "refs/tags/v1.1.0").stdout.strip()
    status, _, body = raw(github, "POST", f"/repos/{REPO}/releases", json.dumps({"tag_name": "v1.0.0"}).encode())
    assert status == 422 and body["errors"][0] == {"resource": "Release", "code": "already_exists", "field": "tag_name"}
    status, _, body = raw(github, "POST", f"/repos/{REPO}/releases", b'{"name": "no tag"}')
    assert status == 422 and body["errors"][0]["code"] == "missing_field"
    body_ = json.dumps({"tag_name": "v3", "target_commitish": "nope"}).encode()
    assert raw(github, "POST", f"/repos/{REPO}/releases", body_)[2]["errors"][0]["field"] == "target_commitish"
    assert raw(github, "DELETE", f"/repos/{REPO}/releases/{first.id}")[0] == 204
    assert raw(github, "GET", f"/repos/{REPO}/releases/{first.id}")[0] == 404


def test_release_listing_pages_with_link_headers(github: GitHubStandIn) -> None:
    for i in range(5):
        github.add_release(f"v0.{i}", f"notes {i}")
    status, headers, page1 = raw(github, "GET", f"/api/v3/repos/{REPO}/releases?per_page=2")
    assert [d["tag_name"] for d in page1] == ["v0.4", "v0.3"]
    assert 'page=2>; rel="next"' in headers["Link"] and 'page=3>; rel="last"' in headers["Link"]
    _, headers, page3 = raw(github, "GET", f"/api/v3/repos/{REPO}/releases?per_page=2&page=3")
    assert [d["tag_name"] for d in page3] == ["v0.0"] and 'rel="next"' not in headers["Link"]
    assert [x.tag_name for x in repo(github, per_page=2).get_releases()] == ["v0.4", "v0.3", "v0.2", "v0.1", "v0.0"]


def test_contents_files_folders_and_refs(github: GitHubStandIn, tmp_path: Path) -> None:
    bare = add_upstream(github, tmp_path, {"CHANGELOG.md": "# Changes\n", "docs/changelog.rst": "Log\n===\n",
                                           "docs/api/index.rst": "API\n", "big.txt": "x" * (1024 * 1024 + 1)})
    upstream = client(github).get_repo(UPSTREAM)
    status, _, data = raw(github, "GET", f"/api/v3/repos/{UPSTREAM}/contents/CHANGELOG.md")
    sha = git(bare, "rev-parse", "main:CHANGELOG.md").stdout.strip()
    assert status == 200
    assert (data["type"], data["encoding"], data["path"], data["name"], data["size"], data["sha"]) == (
        "file", "base64", "CHANGELOG.md", "CHANGELOG.md", 10, sha)
    assert base64.b64decode(data["content"]) == b"# Changes\n"
    assert data["html_url"] == f"{github.web_url}/{UPSTREAM}/blob/main/CHANGELOG.md"
    assert data["download_url"].endswith(f"/{UPSTREAM}/main/CHANGELOG.md")
    assert data["_links"]["html"] == data["html_url"]
    assert upstream.get_contents("docs/changelog.rst").decoded_content == b"Log\n===\n"
    listing = upstream.get_contents("docs")
    assert sorted((c.path, c.type) for c in listing) == [("docs/api", "dir"), ("docs/changelog.rst", "file")]
    assert sorted(c.name for c in upstream.get_contents("")) == ["CHANGELOG.md", "big.txt", "docs"]
    big = upstream.get_contents("big.txt")
    assert (big.encoding, big.content, big.size) == ("none", "", 1024 * 1024 + 1)  # over 1 MB: no content
    # refs: a branch, a tag, a sha; a later commit on main is seen by default
    commit_files(bare, "main", {"CHANGELOG.md": "# Changes\n\n## 2.0\n"}, message="2.0")
    git(bare, "tag", "old", sha_ := git(bare, "rev-parse", "main~1").stdout.strip())
    assert upstream.get_contents("CHANGELOG.md").decoded_content == b"# Changes\n\n## 2.0\n"
    assert upstream.get_contents("CHANGELOG.md", ref="old").decoded_content == b"# Changes\n"
    assert upstream.get_contents("CHANGELOG.md", ref=sha_).html_url.endswith(f"/blob/{sha_}/CHANGELOG.md")
    status, _, body = raw(github, "GET", f"/repos/{UPSTREAM}/contents/nope.md")
    assert (status, body["message"]) == (404, "Not Found")
    status, _, body = raw(github, "GET", f"/repos/{UPSTREAM}/contents/CHANGELOG.md?ref=nope")
    assert (status, body["message"]) == (404, "No commit found for the ref nope")


def test_contents_symlink_reads_its_target(github: GitHubStandIn, tmp_path: Path) -> None:
    bare = add_upstream(github, tmp_path, {"docs/changes.md": "## 1.0\n"})
    with tempfile.TemporaryDirectory() as tmp:  # a symlink committed with plumbing: mode 120000
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(bare, "read-tree", "main", env=env)
        blob = git(bare, "hash-object", "-w", "--stdin", input="docs/changes.md").stdout.strip()
        git(bare, "update-index", "--add", "--cacheinfo", f"120000,{blob},CHANGES.md", env=env)
        tree = git(bare, "write-tree", env=env).stdout.strip()
        sha = git(bare, "commit-tree", tree, "-p", "main", "-m", "link", env={
            "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
            "GIT_COMMITTER_EMAIL": "a@x"}).stdout.strip()  # fmt: skip
        git(bare, "update-ref", "refs/heads/main", sha)
    entries = {e["name"]: e["type"] for e in raw(github, "GET", f"/repos/{UPSTREAM}/contents")[2]}
    assert entries == {"CHANGES.md": "symlink", "docs": "dir"}
    _, _, data = raw(github, "GET", f"/repos/{UPSTREAM}/contents/CHANGES.md")
    assert (data["type"], data["path"], base64.b64decode(data["content"])) == ("file", "docs/changes.md", b"## 1.0\n")


def test_git_trees(github: GitHubStandIn, tmp_path: Path) -> None:
    add_upstream(github, tmp_path, {"README.md": "x\n", "docs/changelog/1.0.md": "# 1.0\n"})
    tree = client(github).get_repo(UPSTREAM).get_git_tree("main", recursive=True)
    assert [(e.path, e.type) for e in tree.tree] == [
        ("README.md", "blob"), ("docs", "tree"), ("docs/changelog", "tree"), ("docs/changelog/1.0.md", "blob")]
    assert tree.tree[0].size == 2 and not tree.raw_data["truncated"]
    _, _, top = raw(github, "GET", f"/repos/{UPSTREAM}/git/trees/main")
    assert [e["path"] for e in top["tree"]] == ["README.md", "docs"]
    assert raw(github, "GET", f"/repos/{UPSTREAM}/git/trees/nope")[0] == 404


def test_added_repository_serves_reads_and_releases_only(github: GitHubStandIn, tmp_path: Path) -> None:
    add_upstream(github, tmp_path, {"README.md": "x\n"}, collaborators=["nightcrew-bot"])
    upstream = client(github).get_repo(UPSTREAM)
    assert (upstream.full_name, upstream.default_branch, upstream.private) == (UPSTREAM, "main", False)
    assert upstream.permissions.push and not client(github, "human-token").get_repo(UPSTREAM).permissions.push
    assert raw(github, "GET", f"/repos/{UPSTREAM}/pulls")[0] == 404  # pulls and issues stay the main repo's
    assert raw(github, "GET", "/repos/encode/other")[0] == 404
    upstream.create_git_release("0.1.0", name="0.1.0", message="notes", draft=True)
    assert [x.tag_name for x in upstream.get_releases()] == ["0.1.0"]
    # alice has no push access here: no drafts for her, and no release writes
    assert list(client(github, "human-token").get_repo(UPSTREAM).get_releases()) == []
    assert raw(github, "POST", f"/repos/{UPSTREAM}/releases", b'{"tag_name": "x"}', token="human-token")[0] == 403
    assert github.releases(UPSTREAM)[0]["draft"] is True and github.releases() == []
    with pytest.raises(ValueError):
        github.add_repo(UPSTREAM, tmp_path / "upstream.git")


def test_anonymous_reads_of_public_repositories(github: GitHubStandIn, tmp_path: Path) -> None:
    add_upstream(github, tmp_path, {"README.md": "x\n"})
    github.add_release("1.0", "notes", repo=UPSTREAM)
    status, headers, data = raw(github, "GET", f"/repos/{UPSTREAM}/releases", token=None)
    assert status == 200 and data[0]["tag_name"] == "1.0" and headers["X-RateLimit-Limit"] == "60"
    assert raw(github, "GET", f"/repos/{REPO}/contents/README.md", token=None)[0] == 200
    assert raw(github, "GET", f"/repos/{REPO}/pulls", token=None)[0] == 401  # only the read endpoints
    assert raw(github, "POST", f"/repos/{UPSTREAM}/releases", b'{"tag_name": "2"}', token=None)[0] == 401
    assert [r.login for r in github.requests][:2] == [None, None]
    github.exhaust_rate_limit("")
    status, _, body = raw(github, "GET", f"/repos/{UPSTREAM}/releases", token=None)
    assert status == 403 and body["message"].startswith("API rate limit exceeded for 127.0.0.1.")
    secret = tmp_path / "secret.git"
    seed_bare_repo(secret)
    github.add_repo("acme/secret", secret, private=True)
    assert raw(github, "GET", "/repos/acme/secret/contents", token="bot-token")[0] == 200
    github.restore_rate_limit()
    assert raw(github, "GET", "/repos/acme/secret/contents", token=None)[0] == 404  # private: not found


# -- GraphQL: draft state ----------------------------------------------------------------------------


def graphql(server: GitHubStandIn, query: str, variables: dict[str, Any] | None = None,
            token: str | None = "bot-token") -> tuple[int, dict[str, str], Any]:  # fmt: skip
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return raw(server, "POST", "/api/graphql", body, token)


def test_graphql_draft_mutations_through_pygithub(github: GitHubStandIn) -> None:
    commit_files(github.bare, "bump", {"requirements.txt": "requests==2.32.3\n"})
    pr = repo(github).create_pull(base="main", head="bump", title="Bump")
    github.reset_log()
    # PyGithub derives the endpoint from base_url: .../api/v3 -> .../api/graphql, as on GitHub Enterprise.
    answer = pr.convert_to_draft()
    assert answer == {"clientMutationId": None, "pullRequest": {"isDraft": True}} and pr.draft is True
    assert github.pull(1)["draft"] is True and repo(github).get_pull(1).draft is True
    [call] = [r for r in github.requests if r.method == "POST"]
    assert (call.path, call.prefixed, call.status, call.login) == ("/graphql", True, 200, "nightcrew-bot")
    assert call.body["variables"] == {"input": {"pullRequestId": pr.node_id}}
    assert call.response_headers["X-RateLimit-Resource"] == "graphql"  # GraphQL's points are counted apart
    with pytest.raises(GithubException) as draft_merge:
        pr.merge()
    assert draft_merge.value.status == 405
    assert pr.convert_to_draft()["pullRequest"]["isDraft"] is True  # already a draft: no error, as on GitHub
    # Without the prefix (api.github.com style) the endpoint is /graphql.
    plain = client(github, base_url=github.web_url).get_repo(REPO).get_pull(1)
    assert plain.mark_ready_for_review()["pullRequest"] == {"isDraft": False} and plain.draft is False
    assert (github.requests[-1].path, github.requests[-1].prefixed) == ("/graphql", False)
    assert github.pull(1)["draft"] is False and repo(github).get_pull(1).merge().merged


def test_graphql_selection_aliases_and_client_mutation_id(github: GitHubStandIn) -> None:
    commit_files(github.bare, "bump", {"requirements.txt": "x==1\n"})
    pr = repo(github).create_pull(base="main", head="bump", title="Bump")
    query = """mutation Draft($input: ConvertPullRequestToDraftInput!) {
      first: convertPullRequestToDraft(input: $input) { clientMutationId __typename
        pullRequest { id number isDraft title state url } }
    }"""
    status, _, body = graphql(github, query, {"input": {"pullRequestId": pr.node_id, "clientMutationId": "c1"}})
    assert status == 200 and body == {"data": {"first": {
        "clientMutationId": "c1", "__typename": "ConvertPullRequestToDraftPayload",
        "pullRequest": {"id": pr.node_id, "number": 1, "isDraft": True, "title": "Bump", "state": "OPEN",
                        "url": pr.html_url}}}}  # fmt: skip
    # An inline input object works as well as a variable.
    inline = f'mutation {{ markPullRequestReadyForReview(input: {{pullRequestId: "{pr.node_id}"}}) ' \
             "{ pullRequest { isDraft } } }"  # fmt: skip
    ready = {"markPullRequestReadyForReview": {"pullRequest": {"isDraft": False}}}
    assert graphql(github, inline)[2] == {"data": ready}


def test_graphql_errors_answer_200_with_errors(github: GitHubStandIn) -> None:
    commit_files(github.bare, "bump", {"requirements.txt": "x==1\n"})
    pr = repo(github).create_pull(base="main", head="bump", title="Bump")
    gh = client(github)
    # An unknown node: data null under the mutation, one NOT_FOUND error, which PyGithub raises as a 404.
    with pytest.raises(UnknownObjectException) as missing:
        gh.requester.graphql_named_mutation("convertPullRequestToDraft", {"pullRequestId": "PR_nope"},
                                            "pullRequest { isDraft }")  # fmt: skip
    assert missing.value.data["data"] == {"convertPullRequestToDraft": None}
    [error] = missing.value.data["errors"]
    assert error["type"] == "NOT_FOUND" and error["path"] == ["convertPullRequestToDraft"]
    assert error["message"] == "Could not resolve to a node with the global id of 'PR_nope'."
    # Queries, unknown mutations and unknown fields fail validation: only errors, nothing changed.
    for query in ("{ viewer { login } }", "query { repository(owner: \"acme\", name: \"widgets\") { id } }",
                  'mutation { mergePullRequest(input: {pullRequestId: "x"}) { clientMutationId } }',
                  "mutation($i: ConvertPullRequestToDraftInput!) { convertPullRequestToDraft(input: $i) "
                  "{ pullRequest { isDraft headRefName } } }",
                  "mutation($i: ConvertPullRequestToDraftInput!) { convertPullRequestToDraft(input: $i) "
                  "{ pullRequest } }",
                  "mutation { convertPullRequestToDraft(input: $missing) { clientMutationId } }",
                  "mutation { convertPullRequestToDraft { clientMutationId } }",
                  "mutation { convertPullRequestToDraft(input: {pullRequestId: 1}) { clientMutationId } }",
                  "mutation { convertPullRequestToDraft(input: $i) { ...F } }", "mutation {", "{ }", "]"):
        status, headers, body = graphql(github, query, {"i": {"pullRequestId": pr.node_id}})
        assert status == 200 and headers["Content-Type"].startswith("application/json"), query
        assert "data" not in body and len(body["errors"]) == 1 and body["errors"][0]["message"], query
    assert github.pull(1)["draft"] is False
    status, _, body = graphql(github, "{ viewer { login } }")
    assert "serves only the convertPullRequestToDraft and markPullRequestReadyForReview" in \
        body["errors"][0]["message"]
    status, _, body = raw(github, "POST", "/api/graphql", b'{"variables": {}}')
    assert status == 200
    assert body == {"errors": [{"message": "A query attribute must be specified and must be a string."}]}
    # PyGithub turns any other errors answer into a GithubException (status 400).
    with pytest.raises(GithubException) as invalid:
        gh.requester.graphql_query("{ viewer { login } }", {})
    assert invalid.value.status == 400 and "errors" in invalid.value.data


def test_graphql_auth_permissions_and_faults(github: GitHubStandIn) -> None:
    commit_files(github.bare, "bump", {"requirements.txt": "x==1\n"})
    pr = repo(github).create_pull(base="main", head="bump", title="Bump")
    status, _, body = graphql(github, "{ viewer { login } }", token=None)
    assert status == 401 and body["message"] == "This endpoint requires you to be authenticated."
    with pytest.raises(BadCredentialsException):
        client(github, "wrong").requester.graphql_query("{ viewer { login } }", {})
    status, _, body = raw(github, "POST", "/api/graphql", b"{not json")
    assert status == 400 and body["message"] == "Problems parsing JSON"
    # The author and users with push access may change the draft state; others get FORBIDDEN and nothing changes.
    github.collaborators = {"nightcrew-bot"}
    other = repo(github, "human-token").get_pull(1)
    with pytest.raises(GithubException) as forbidden:
        other.convert_to_draft()
    [error] = forbidden.value.data["errors"]
    assert error["type"] == "FORBIDDEN" and github.pull(1)["draft"] is False
    assert error["message"] == f"alice does not have permission to convert the pull request {pr.node_id} to draft."
    # Faults match the logged path /graphql, whichever style the client uses.
    github.fail("POST", "/graphql", status=502)
    with pytest.raises(GithubException) as fault:
        repo(github, retry=None).get_pull(1).convert_to_draft()
    assert fault.value.status == 502 and github.pull(1)["draft"] is False
    assert pr.convert_to_draft()["pullRequest"]["isDraft"] is True

"""The dependency dashboard as one GitHub issue, through PyGithub against the REST stand-in: created once, then
edited, never duplicated."""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from github import Auth, Github

from jobs.dashboard import MARKER
from tests.jobs.conftest import Project, project  # noqa: F401  (the fixture)
from tests.jobs.conftest import REPO, serve_github
from tests.jobs.conftest import run_updates as run
from tests.support.github_server import GitHubStandIn

TITLE = "Dependency Dashboard"

FORBIDDEN = {"message": "Resource not accessible by integration",
             "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user"}


@pytest.fixture
def hub(project: Project, monkeypatch: pytest.MonkeyPatch):
    yield from serve(project, monkeypatch, None)


@pytest.fixture
def app_hub(project: Project, monkeypatch: pytest.MonkeyPatch):
    """The token of a GitHub App installation (or Actions' GITHUB_TOKEN): it acts as a bot user, and GitHub
    answers 403 to its ``GET /user``."""
    for server in serve(project, monkeypatch, {"bot-token": "nightcrew-app[bot]", "human-token": "alice"}):
        server.fail("GET", "/user", status=403, times=None, body=FORBIDDEN)
        yield server


def serve(project: Project, monkeypatch: pytest.MonkeyPatch,
          tokens: dict[str, str] | None) -> Iterator[GitHubStandIn]:
    yield from serve_github(project, monkeypatch, tokens=tokens, extra_config="\n[dashboard]\nenabled = true\n")


def client(hub: GitHubStandIn, token: str):  # type: ignore[no-untyped-def]
    return Github(auth=Auth.Token(token), base_url=hub.api_url, seconds_between_requests=None,
                  seconds_between_writes=None).get_repo(REPO)


def issue_writes(hub: GitHubStandIn, *, paths: bool = False) -> list[tuple[str, int | str]]:
    """Issues created or edited: (method, status), or (method, path) with ``paths``."""
    return [(r.method, r.path if paths else r.status) for r in hub.requests
            if (r.method == "POST" and r.path.endswith("/issues")) or
            (r.method == "PATCH" and "/issues/" in r.path and "/comments" not in r.path)]


def dashboards(hub: GitHubStandIn) -> list:
    return [i for i in client(hub, "bot-token").get_issues(state="all") if i.pull_request is None
            and (i.body or "").startswith(MARKER)]


def test_issue_is_created_once_then_edited_never_duplicated(project: Project, hub: GitHubStandIn) -> None:
    # someone quotes the marker in an issue of their own: it is not the bot's dashboard
    client(hub, "human-token").create_issue(title="How does the dashboard work?", body=MARKER + "\nquoted")
    hub.reset_log()

    code, first, err = run(project)
    assert code == 0, err
    assert issue_writes(hub) == [("POST", 201)]
    [board] = [i for i in dashboards(hub) if i.user.login == "nightcrew-bot"]
    assert board.title == TITLE and board.state == "open"
    links = {c["branch"]: c["pr"]["url"] for c in first["changes"]}
    assert f"({links['nightcrew/mathlib-1.1.0']})" in board.body.split("## Open")[1].split("## Pending")[0]
    assert f"({links['nightcrew/mathlib-2.0.0']}) (tests failed)" in board.body.split("## Failing")[1]

    # the same state again: nothing to write
    hub.reset_log()
    run(project)
    assert issue_writes(hub) == []

    # a person closes the major bump: the one issue is edited to say so
    major = next(c["pr"]["number"] for c in first["changes"] if c["branch"] == "nightcrew/mathlib-2.0.0")
    client(hub, "human-token").get_pull(major).edit(state="closed")
    hub.reset_log()
    code, _, err = run(project)
    assert code == 0, err
    assert issue_writes(hub) == [("PATCH", 200)]
    edited = client(hub, "bot-token").get_issue(board.number)
    assert f"- **mathlib** 2.0.0 (major): [#{major}]({links['nightcrew/mathlib-2.0.0']})" in edited.body
    assert "## Failing\n\nNone." in edited.body
    assert [i.number for i in dashboards(hub) if i.user.login == "nightcrew-bot"] == [board.number]


def test_dashboard_on_a_later_page_of_open_issues_is_found(project: Project, hub: GitHubStandIn) -> None:
    run(project)
    [board] = [i for i in dashboards(hub) if i.user.login == "nightcrew-bot"]
    bot = client(hub, "bot-token")
    for n in range(105):  # newer issues of the bot's push the dashboard past the first page of 100
        bot.create_issue(title=f"note {n}", body="not a dashboard")
    client(hub, "human-token").get_pull(1).edit(state="closed")  # something for the dashboard to change
    hub.reset_log()
    run(project)
    listing = [r for r in hub.requests if r.method == "GET" and r.path.endswith("/issues")]
    assert len(listing) >= 2 and listing[0].query.get("creator") == "nightcrew-bot"
    assert listing[1].query.get("page") == "2"  # followed the Link header to the next page
    assert issue_writes(hub) == [("PATCH", 200)]
    assert [i.number for i in dashboards(hub) if i.user.login == "nightcrew-bot"] == [board.number]


def test_token_that_cannot_read_its_user_still_finds_the_dashboard(project: Project, app_hub: GitHubStandIn) -> None:
    # GET /user answers 403, so the bot looks through all open issues for its marker on an issue a bot opened
    run(project)
    client(app_hub, "human-token").get_pull(1).edit(state="closed")
    run(project)
    assert [m for m, _ in issue_writes(app_hub)] == ["POST", "PATCH"]
    [board] = dashboards(app_hub)
    assert board.user.login == "nightcrew-app[bot]" and board.user.type == "Bot"


def test_without_its_login_the_bot_edits_its_own_issue_never_a_persons_quoting_the_marker(
        project: Project, app_hub: GitHubStandIn) -> None:
    own = client(app_hub, "bot-token").create_issue(title=TITLE, body=MARKER + "\nthe last run's dashboard")
    # a person's issue quoting the marker, newer than the bot's and so listed first
    quoted = client(app_hub, "human-token").create_issue(title="Why is this here?", body=MARKER + "\nquoted")
    app_hub.reset_log()
    code, _, err = run(project)
    assert code == 0, err
    assert issue_writes(app_hub, paths=True) == [("PATCH", f"/repos/{REPO}/issues/{own.number}")]
    assert "## Open" in client(app_hub, "bot-token").get_issue(own.number).body
    untouched = client(app_hub, "human-token").get_issue(quoted.number)
    assert untouched.body == MARKER + "\nquoted" and untouched.title == "Why is this here?"


def test_without_its_login_and_without_a_bots_issue_the_bot_opens_its_own(project: Project,
                                                                          app_hub: GitHubStandIn) -> None:
    quoted = client(app_hub, "human-token").create_issue(title="Why is this here?", body=MARKER + "\nquoted")
    app_hub.reset_log()
    code, _, err = run(project)
    assert code == 0, err
    assert issue_writes(app_hub) == [("POST", 201)]
    [board] = [i for i in dashboards(app_hub) if i.number != quoted.number]
    assert board.user.type == "Bot" and board.title == TITLE
    assert client(app_hub, "human-token").get_issue(quoted.number).body == MARKER + "\nquoted"


def test_a_forge_error_on_the_dashboard_is_a_problem_and_the_prs_stand(project: Project, hub: GitHubStandIn) -> None:
    hub.fail("POST", rf"/repos/{REPO}/issues", status=500, times=None)
    code, data, err = run(project)
    assert code == 1
    assert {c["action"] for c in data["changes"]} == {"opened"}
    [error] = [e["message"] for e in data["errors"]]
    assert error.startswith("dependency dashboard not updated: ") and f"POST /repos/{REPO}/issues" in error
    assert "bot-token" not in err + json.dumps(data)

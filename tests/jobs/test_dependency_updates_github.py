"""The update job against the GitHub REST stand-in, through PyGithub: PRs, labels, reviewers, races and faults."""

from __future__ import annotations

import json

import pytest
from github import Auth, Github

from tests.jobs.conftest import REPO, Project, by_branch, git, serve_github
from tests.jobs.conftest import run_updates as run
from tests.support.github_server import GitHubStandIn


@pytest.fixture
def hub(project: Project, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The stand-in, with a reviewer requested on every PR."""
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace("[updates]\n", '[updates]\nreviewers = ["bob"]\n'))
    yield from serve_github(project, monkeypatch)


def posts(hub: GitHubStandIn, path_end: str) -> list:
    return [r for r in hub.requests if r.method == "POST" and r.path.endswith(path_end)]


def test_opens_prs_with_labels_reviewers_and_drafts(project: Project, hub: GitHubStandIn) -> None:
    code, data, err = run(project)
    assert code == 0, err
    changes = by_branch(data)
    minor, major = changes["nightcrew/mathlib-1.1.0"], changes["nightcrew/mathlib-2.0.0"]
    assert minor["action"] == major["action"] == "opened"
    pulls = {p["head"]: p for p in hub.pulls()}
    assert pulls["nightcrew/mathlib-1.1.0"]["title"] == "build(deps): bump mathlib from 1.0.0 to 1.1.0"
    assert pulls["nightcrew/mathlib-1.1.0"]["draft"] is False and pulls["nightcrew/mathlib-2.0.0"]["draft"] is True
    assert "`tests/test_math.py::test_add`" in pulls["nightcrew/mathlib-2.0.0"]["body"]
    assert pulls["nightcrew/mathlib-1.1.0"]["requested_reviewers"] == ["bob"]
    assert hub.issue_labels(major["pr"]["number"]) == ["dependencies", "tests-failing"]
    assert {label["name"] for label in hub.labels()} >= {"dependencies", "tests-failing"}
    assert minor["pr"]["url"] == f"{hub.web_url}/{REPO}/pull/{minor['pr']['number']}"
    # what was reported is what the forge holds: the run re-read each PR after creating it
    assert all(p["user"] == "nightcrew-bot" for p in hub.pulls())


def test_rerun_is_idempotent_over_the_api(project: Project, hub: GitHubStandIn) -> None:
    run(project)
    hub.reset_log()
    _, data, _ = run(project)
    assert {c["action"] for c in data["changes"]} == {"unchanged"}
    assert posts(hub, "/pulls") == [] and len(hub.pulls()) == 2


def test_human_closed_pr_stays_closed(project: Project, hub: GitHubStandIn) -> None:
    _, first, _ = run(project)
    number = by_branch(first)["nightcrew/mathlib-2.0.0"]["pr"]["number"]
    human = Github(auth=Auth.Token("human-token"), base_url=hub.api_url, seconds_between_requests=None,
                   seconds_between_writes=None)
    human.get_repo(REPO).get_pull(number).edit(state="closed")
    _, data, _ = run(project)
    assert "nightcrew/mathlib-2.0.0" not in by_branch(data)
    assert {"name": "mathlib", "version": "2.0.0", "file": "requirements.txt", "line": 2,
            "reason": f"#{number} was closed without merging: this version is not proposed again"} \
        in data["not_proposed"]
    assert hub.pull(number)["state"] == "closed" and len(hub.pulls()) == 2


def test_server_error_once_then_success_opens_exactly_one_pr(project: Project, hub: GitHubStandIn) -> None:
    hub.fail("POST", rf"/repos/{REPO}/pulls", status=502, times=1)
    _, data, _ = run(project, "--only", "mathlib")
    assert by_branch(data)["nightcrew/mathlib-1.1.0"]["action"] == "opened"
    assert [r.status for r in posts(hub, "/pulls")][:2] == [502, 201]
    assert len(hub.pulls()) == 2


def test_duplicate_pr_race_is_resolved_without_a_second_pr(project: Project, hub: GitHubStandIn) -> None:
    run(project)
    # a stale listing: the next three lookups (open PRs, closed PRs, then the first branch's) see none, so the
    # job tries to create the first PR again and GitHub answers 422
    hub.fail("GET", rf"/repos/{REPO}/pulls", status=200, times=3, body="[]",
             headers={"Content-Type": "application/json; charset=utf-8"})
    _, data, err = run(project)
    assert {c["action"] for c in data["changes"]} <= {"unchanged", "updated"}, err
    assert [r.status for r in posts(hub, "/pulls")].count(422) == 1
    assert len(hub.pulls()) == 2


def test_persistent_forge_error_fails_that_change_with_one_line(project: Project, hub: GitHubStandIn) -> None:
    hub.fail("POST", rf"/repos/{REPO}/pulls", status=500, times=None)
    code, data, err = run(project)
    assert code == 1
    failed = [c for c in data["changes"] if c["action"] == "failed"]
    assert len(failed) == 2
    assert failed[0]["reason"].startswith(f"POST /repos/{REPO}/pulls: ")
    assert "bot-token" not in err + json.dumps(data)
    for line in err.strip().splitlines():  # errors one line each (and notes, such as unknown release ages)
        assert line.startswith(("nightcrew: error: ", "nightcrew: note: "))


def test_token_never_reaches_git_urls_or_output(project: Project, hub: GitHubStandIn) -> None:
    _, data, err = run(project)
    remote_url = git(project.work, "remote", "get-url", "origin")
    assert "bot-token" not in remote_url + err + json.dumps(data)
    audit = (project.work / ".nightcrew" / "audit.jsonl").read_text()
    assert "bot-token" not in audit and '"action": "git.push"' in audit


def test_crash_between_push_and_pr_gives_one_pr_on_rerun(project: Project, hub: GitHubStandIn) -> None:
    hub.fail("POST", rf"/repos/{REPO}/pulls", status=500, times=None)
    code, first, _ = run(project, "--only", "mathlib")
    assert code == 1 and hub.pulls() == []
    assert hub.ref_sha("nightcrew/mathlib-1.1.0")  # the branch was pushed before the forge failed
    hub.clear_faults()
    _, data, err = run(project)
    assert by_branch(data)["nightcrew/mathlib-1.1.0"]["action"] == "opened", err
    assert sorted(p["head"] for p in hub.pulls()) == ["nightcrew/mathlib-1.1.0", "nightcrew/mathlib-2.0.0"]


def test_newer_version_supersedes_on_github(project: Project, hub: GitHubStandIn) -> None:
    from tests.jobs.conftest import V11

    _, first, _ = run(project)
    old = by_branch(first)["nightcrew/mathlib-1.1.0"]["pr"]["number"]
    project.publish("1.2.0", V11)
    _, data, _ = run(project)
    new = by_branch(data)["nightcrew/mathlib-1.2.0"]["pr"]["number"]
    assert by_branch(data)["nightcrew/mathlib-1.1.0"]["action"] == "superseded"
    assert hub.pull(old)["state"] == "closed"
    assert any(f"Superseded by #{new}" in c["body"] for c in hub.comments(old))
    _, again, _ = run(project)  # the bot's own close is not a human decision: 1.1.0 is simply outdated now
    assert not again["not_proposed"]


def test_foreign_commit_comment_is_posted_once_on_github(project: Project, hub: GitHubStandIn) -> None:
    from tests.support.github_server import commit_files

    run(project, "--only", "mathlib")
    commit_files(project.remote, "nightcrew/mathlib-1.1.0", {"NOTES.md": "human\n"}, message="human fix",
                 base="nightcrew/mathlib-1.1.0", author=("Maintainer", "maintainer@example.org"))
    for _ in range(3):
        _, data, _ = run(project)
        assert by_branch(data)["nightcrew/mathlib-1.1.0"]["action"] == "skipped"
    number = by_branch(data)["nightcrew/mathlib-1.1.0"]["pr"]["number"]
    assert sum("did not update this branch" in c["body"] for c in hub.comments(number)) == 1


def test_fixed_tests_take_the_major_pr_out_of_draft_on_github(project: Project, hub: GitHubStandIn) -> None:
    _, first, _ = run(project)
    number = by_branch(first)["nightcrew/mathlib-2.0.0"]["pr"]["number"]
    assert hub.pull(number)["draft"] is True and "tests-failing" in hub.issue_labels(number)
    fixed = "import mathlib\n\n\ndef test_add():\n    add = getattr(mathlib, 'add', None) or mathlib.plus\n" \
            "    assert add(1, 2) == 3\n"  # fmt: skip
    (project.work / "tests" / "test_math.py").write_text(fixed)
    git(project.work, "commit", "-qam", "tests work with 2.0")
    git(project.work, "push", "-q", "origin", "main")
    hub.reset_log()
    code, data, err = run(project)
    assert code == 0, err
    major = by_branch(data)["nightcrew/mathlib-2.0.0"]
    assert major["action"] == "updated" and major["tests"]["outcome"] == "passed", err
    assert major["pr"]["number"] == number
    # REST cannot change the draft state: the job marks the PR ready through GitHub's GraphQL mutation.
    assert hub.pull(number)["draft"] is False and "tests-failing" not in hub.issue_labels(number)
    [ready] = posts(hub, "/graphql")
    assert ready.status == 200 and "markPullRequestReadyForReview" in ready.body["query"]

"""Autonomous merges wait for the forge's verdict, through PyGithub against the GitHub stand-in: required and
other checks (commit statuses and check runs), requested changes, conflicts, unreadable protection, and the merge
method the repository allows. A pending check leaves the PR for the next run; a failure is a denial in the run
JSON and the audit, never retried in a loop; all green merges exactly once."""

from __future__ import annotations

import pytest

from tests.jobs.conftest import Project, git, run_updates
from tests.jobs.test_autonomous import actions, configure
from tests.support.github_server import GitHubStandIn

BRANCH = "nightcrew/mathlib-1.0.1"


def first_run(project: Project, hub: GitHubStandIn) -> tuple[dict, int, str]:
    """Open the PR (merging is held by a pending required check on this first run); its number and head."""
    configure(project)
    hub.protect("main", ["ci/test"])
    code, data, err = run_updates(project)
    assert code == 0, err
    assert actions(data) == [(BRANCH, "opened"), (BRANCH, "skipped")]
    number = data["changes"][0]["pr"]["number"]
    return data, number, hub.pull(number)["head_sha"]


def merge_denials(data: dict) -> list[tuple[str, str]]:
    return [(d["rule"], d["reason"]) for d in data["denials"] if d["action"] == "forge.merge"]


def test_a_pending_required_check_waits_and_merges_once_it_is_green(project: Project, hub: GitHubStandIn) -> None:
    data, number, head = first_run(project, hub)
    assert data["changes"][1]["reason"] == "waiting for checks: ci/test not reported"
    hub.set_status(head, "ci/test", "pending")
    again = run_updates(project)[1]
    assert [c["reason"] for c in again["changes"] if c["action"] == "skipped"] == ["waiting for checks: ci/test pending"]
    assert hub.pull(number)["state"] == "open"
    hub.set_status(head, "ci/test", "success")
    hub.add_check_run(head, "lint", conclusion="neutral")
    last = run_updates(project)[1]
    assert ("nightcrew/mathlib-1.0.1", "merged") in actions(last)
    assert hub.pull(number)["merged"] is True
    assert [r.status for r in hub.requests if r.method == "PUT" and r.path.endswith("/merge")] == [200]


@pytest.mark.parametrize(("setup", "rule", "reason"), [
    (lambda hub, n, h: (hub.set_status(h, "ci/test", "failure")), "checks-failed", "checks failed: ci/test"),
    (lambda hub, n, h: (hub.set_status(h, "ci/test", "success"), hub.add_check_run(h, "mypy", conclusion="failure")),
     "checks-failed", "checks failed: mypy"),
    (lambda hub, n, h: (hub.set_status(h, "ci/test", "success"), hub.add_review(n, "alice", "APPROVED"),
                        hub.add_review(n, "bob", "CHANGES_REQUESTED")),
     "review-changes-requested", "changes requested by bob"),
])
def test_failures_and_requested_changes_are_denials_never_merges(project: Project, hub: GitHubStandIn, setup,
                                                                 rule: str, reason: str) -> None:
    _, number, head = first_run(project, hub)
    setup(hub, number, head)
    data = run_updates(project)[1]
    assert (rule, reason) in merge_denials(data)
    assert hub.pull(number)["state"] == "open" and not [r for r in hub.requests if r.method == "PUT"]


def test_an_approval_after_requested_changes_lets_it_merge(project: Project, hub: GitHubStandIn) -> None:
    _, number, head = first_run(project, hub)
    hub.set_status(head, "ci/test", "success")
    hub.add_review(number, "bob", "CHANGES_REQUESTED")
    hub.add_review(number, "bob", "APPROVED")  # the latest review of each reviewer counts
    data = run_updates(project)[1]
    assert (BRANCH, "merged") in actions(data)


def test_unreadable_protection_is_a_denial_not_a_pass(project: Project, hub: GitHubStandIn) -> None:
    _, number, head = first_run(project, hub)
    hub.set_status(head, "ci/test", "success")
    hub.protection_readable = False
    data = run_updates(project)[1]
    assert ("checks-unverifiable", "cannot verify checks: HTTP 403 reading branch protection") in merge_denials(data)
    assert hub.pull(number)["state"] == "open"


def test_the_merge_method_is_one_the_repository_allows(project: Project, hub: GitHubStandIn) -> None:
    hub.merge_methods.update(squash=False)
    _, number, head = first_run(project, hub)
    hub.set_status(head, "ci/test", "success")
    data = run_updates(project)[1]
    assert (BRANCH, "merged") in actions(data)
    pull = hub.pull(number)
    assert git(project.remote, "rev-list", "--parents", "-n", "1", pull["merge_commit_sha"]).count(" ") == 2  # a merge

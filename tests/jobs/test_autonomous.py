"""Autonomous mode: what policy allows is merged (and the forge confirms it), everything else stays a proposal."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine

from jobs.config import load
from jobs.forges.base import ForgeError
from jobs.forges.local import LocalForge
from jobs.state.store import Store
from jobs.vcs import Git
from tests.jobs.conftest import REPO, V1, Project, git
from tests.jobs.conftest import run_updates as run
from tests.support.distbuild import build_wheel
from tests.support.github_server import GitHubStandIn

AUTONOMOUS = '\n[policy]\nmode = "autonomous"\nmax_merges_per_day = {limit}\n\n' \
             '[[policy.automerge]]\npackages = ["*"]\nkinds = ["patch"]\nmin_age_hours = {age}\n'


def configure(project: Project, *, patch_only: bool = True, age: float = 0, limit: int = 3) -> None:
    """Autonomous mode with one automerge rule; ``patch_only`` proposes only patch bumps (mathlib 1.0.1)."""
    project.publish("1.0.1", V1)
    config = project.work / "nightcrew.toml"
    text = config.read_text() + AUTONOMOUS.format(age=age, limit=limit)  # keeps the forge a fixture set up
    if patch_only:
        text = text.replace('kinds = ["patch", "minor", "major"]', 'kinds = ["patch"]')
    config.write_text(text)
    git(project.work, "commit", "-qam", "autonomous mode")
    git(project.work, "push", "-q", "origin", "main")


def actions(data: dict) -> list[tuple[str, str]]:
    return [(c["branch"], c["action"]) for c in data["changes"]]


def denials(data: dict) -> list[tuple[str, str]]:
    return [(d["target"], d["rule"]) for d in data["denials"] if d["action"] == "forge.merge"]


def remote_file(project: Project, ref: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", str(project.remote), "show", f"{ref}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def local_forge(project: Project) -> LocalForge:
    return LocalForge(Git(project.work), project.work / ".nightcrew" / "state.sqlite", project.work / ".nightcrew" / "prs")


def audit(project: Project, action: str) -> list[dict]:
    with Store.for_repo(load(None, repo=project.work), project.work) as store:
        return store.audit(action=action)


# -- the job, local forge -----------------------------------------------------------------------------


def test_autonomous_mode_merges_a_patch_bump_whose_tests_passed(project: Project) -> None:
    configure(project)
    main_before = git(project.remote, "rev-parse", "main")
    code, data, err = run(project)
    assert code == 0, err
    assert data["mode"] == "autonomous" and data["denials"] == []
    branch = "nightcrew/mathlib-1.0.1"
    assert actions(data) == [(branch, "opened"), (branch, "merged")]
    merged = data["changes"][1]
    assert merged["pr"]["state"] == "merged" and merged["reason"] == "merged by policy (patch, tests passed)"
    assert data["summary"]["merged"] == 1
    # the forge confirms it: the base branch on the remote really moved, to the tested commit (a fast-forward)
    tip = git(project.remote, "rev-parse", branch)
    assert git(project.remote, "rev-parse", "main") == tip != main_before
    assert "mathlib==1.0.1  # keep in step with docs" in remote_file(project, "main", "requirements.txt")
    assert local_forge(project).get_pull(merged["pr"]["number"]).state == "merged"
    # the person's checkout is left alone: their next pull brings the merge
    assert git(project.work, "rev-parse", "main") == main_before and git(project.work, "status", "--porcelain") == ""
    [record] = audit(project, "forge.merge")
    assert (record["outcome"], record["rule"], record["target"]) == ("ok", "mode-autonomous", f"#{merged['pr']['number']}")
    with Store.for_repo(load(None, repo=project.work), project.work) as store:
        [tracked] = store.tracked_pulls()
        assert (tracked["state"], tracked["merged_by"]) == ("merged", "nightcrew")
    # nothing left to do, and the merged branch is not proposed again
    code, again, _ = run(project)
    assert code == 0 and again["changes"] == [] and again["denials"] == []


def test_a_minor_bump_stays_a_proposal_and_a_failing_major_a_draft(project: Project) -> None:
    configure(project, patch_only=False)
    code, data, err = run(project)
    assert code == 0, err
    changes = {c["branch"]: c for c in data["changes"]}
    assert {b: c["action"] for b, c in changes.items()} == {"nightcrew/mathlib-1.1.0": "opened",
                                                           "nightcrew/mathlib-2.0.0": "opened"}
    minor, major = changes["nightcrew/mathlib-1.1.0"]["pr"], changes["nightcrew/mathlib-2.0.0"]["pr"]
    assert sorted(denials(data)) == sorted([(f"#{minor['number']}", "automerge-no-rule"),
                                            (f"#{major['number']}", "draft")])
    reasons = {d["target"]: d["reason"] for d in data["denials"]}
    assert "no [[policy.automerge]] rule covers mathlib (minor)" in reasons[f"#{minor['number']}"]
    assert git(project.remote, "rev-parse", "main") == git(project.work, "rev-parse", "main")
    assert {p.state for p in local_forge(project).all_pulls()} == {"open"}


def test_too_young_then_held_by_a_person_then_merged_once_the_hold_is_lifted(project: Project) -> None:
    configure(project, age=24)
    branch = "nightcrew/mathlib-1.0.1"
    _, first, _ = run(project)
    number = first["changes"][0]["pr"]["number"]
    assert actions(first) == [(branch, "opened")]
    assert denials(first) == [(f"#{number}", "too-young")]
    local_forge(project).add_labels(number, ["do-not-merge"])  # a person objects
    later = datetime.now(timezone.utc) + timedelta(hours=25)
    with time_machine.travel(later):
        _, second, _ = run(project)
        assert actions(second) == [(branch, "unchanged")]
        assert denials(second) == [(f"#{number}", "hold-label")]
        # propose mode never merges: not even asked
        _, proposing, _ = run(project, "--mode", "propose")
        assert proposing["mode"] == "propose" and denials(proposing) == []
        assert [r["run_id"] for r in audit(project, "forge.merge")] == [first["run_id"], second["run_id"]]
        local_forge(project).remove_label(number, "do-not-merge")
        _, third, _ = run(project)
    # no tests ran in this run: the outcome recorded for the same commit in the state store counts
    assert actions(third) == [(branch, "unchanged"), (branch, "merged")]
    assert third["changes"][1]["tests"] is None and "tests passed" in third["changes"][1]["reason"]
    assert git(project.remote, "rev-parse", "main") == git(project.remote, "rev-parse", branch)


def test_merges_per_day_limit_holds_across_runs(project: Project) -> None:
    project.index.add(build_wheel(project.dists, "strlib", "1.0.0", modules={"strlib/__init__.py": "X = 1\n"}))
    project.index.add(build_wheel(project.dists, "strlib", "1.0.1", modules={"strlib/__init__.py": "X = 1\n"}))
    (project.work / "requirements-extra.txt").write_text("strlib==1.0.0\n")
    git(project.work, "add", "requirements-extra.txt")
    git(project.work, "commit", "-qm", "strlib")
    configure(project, limit=1)
    code, data, err = run(project)
    assert code == 0, err
    merged = [c for c in data["changes"] if c["action"] == "merged"]
    opened = [c for c in data["changes"] if c["action"] == "opened"]
    assert len(merged) == 1 and len(opened) == 2
    held = next(c for c in opened if c["branch"] != merged[0]["branch"])
    assert denials(data) == [(f"#{held['pr']['number']}", "limit-merges-per-day")]
    assert "max_merges_per_day = 1 reached" in data["denials"][0]["reason"]
    _, again, _ = run(project)  # a new run: the day's count comes from the state store
    assert ("limit-merges-per-day" in {rule for _, rule in denials(again)})
    assert not any(c["action"] == "merged" for c in again["changes"])
    assert len(audit(project, "forge.merge")) == 3  # one merge, two denials
    assert sum(1 for p in local_forge(project).all_pulls() if p.state == "merged") == 1


# -- the job, GitHub stand-in -------------------------------------------------------------------------


def test_autonomous_merge_through_github_is_confirmed_by_the_forge(project: Project, hub: GitHubStandIn) -> None:
    configure(project)
    main_before = hub.ref_sha("main")
    code, data, err = run(project)
    assert code == 0, err
    branch = "nightcrew/mathlib-1.0.1"
    assert actions(data) == [(branch, "opened"), (branch, "merged")]
    number = data["changes"][1]["pr"]["number"]
    pull = hub.pull(number)
    assert pull["merged"] is True and pull["state"] == "closed" and data["changes"][1]["pr"]["state"] == "merged"
    # a squash merge: one new commit on main, on top of the old one, with the bump in it
    main_after = hub.ref_sha("main")
    assert main_after == pull["merge_commit_sha"] != main_before
    assert git(project.remote, "rev-parse", f"{main_after}^") == main_before
    assert "mathlib==1.0.1" in remote_file(project, "main", "requirements.txt")
    merges = [r for r in hub.requests if r.method == "PUT" and r.path.endswith(f"/pulls/{number}/merge")]
    assert [r.status for r in merges] == [200]
    assert "bot-token" not in json.dumps(data) + err


def test_a_failed_update_after_pushing_a_failing_commit_does_not_let_the_old_pass_merge_it(
        project: Project, hub: GitHubStandIn, tmp_path: Path) -> None:
    configure(project, age=24)
    branch = "nightcrew/mathlib-1.0.1"
    _, first, _ = run(project)  # commit A: tests pass; too young to merge
    number = first["changes"][0]["pr"]["number"]
    assert first["changes"][0]["tests"]["outcome"] == "passed" and denials(first) == [(f"#{number}", "too-young")]
    tested_a = hub.ref_sha(branch)
    # the base moves: a person adds a test that mathlib 1.0.1 fails
    clone = tmp_path / "person"
    git(tmp_path, "clone", "-q", str(project.remote), str(clone))
    (clone / "tests" / "test_mul.py").write_text("import mathlib\n\n\ndef test_mul():\n"
                                                 "    assert mathlib.mul(2, 3) == 6\n")
    git(clone, "add", ".")
    git(clone, "commit", "-qm", "test mul")
    git(clone, "push", "-q", "origin", "main")
    # the bot rebuilds on the new base (commit B), B's tests fail, B is pushed, then GitHub fails the PR update
    hub.fail("PATCH", rf"/repos/{REPO}/pulls/{number}", status=502, times=None)
    code, second, _ = run(project)
    assert code == 1 and actions(second) == [(branch, "failed")]
    tested_b = hub.ref_sha(branch)
    assert tested_b != tested_a and hub.pull(number)["head_sha"] == tested_b
    assert "tests-failing" not in hub.issue_labels(number) and hub.pull(number)["draft"] is False
    hub.clear_faults()
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(hours=25)):
        _, third, _ = run(project)
    # A's pass says nothing about B: B is not merged
    assert not any(action == "merged" for _, action in actions(third))
    # (B was retested and the PR became a draft, which the policy checks first)
    assert denials(third) == [(f"#{number}", "draft")]
    assert hub.pull(number)["state"] == "open" and not [r for r in hub.requests if r.method == "PUT"]
    # and the PR no longer shows A's results: B was tested again and the PR now says it fails
    assert actions(third) == [(branch, "updated")]
    assert "tests-failing" in hub.issue_labels(number) and hub.pull(number)["draft"] is True
    with Store.for_repo(load(None, repo=project.work), project.work) as store:
        [tracked] = store.tracked_pulls()
    assert (tracked["tests"], tracked["tests_sha"]) == ("failed", tested_b)  # what B's tests said, for B


def test_a_hold_label_on_github_keeps_the_pr_open(project: Project, hub: GitHubStandIn) -> None:
    configure(project, age=24)
    _, first, _ = run(project)
    number = first["changes"][0]["pr"]["number"]
    from github import Auth, Github

    human = Github(auth=Auth.Token("human-token"), base_url=hub.api_url, seconds_between_requests=None,
                   seconds_between_writes=None)
    human.get_repo(REPO).get_issue(number).add_to_labels("nightcrew:hold")
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(hours=25)):
        _, second, _ = run(project)
    assert denials(second) == [(f"#{number}", "hold-label")]
    assert hub.pull(number)["state"] == "open" and not [r for r in hub.requests if r.method == "PUT"]


# -- the local forge's merge, on its own ----------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    work = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "a.txt").write_text("one\ntwo\nthree\nfour\nfive\n")
    (work / "b.txt").write_text("b\n")
    git(work, "add", ".")
    git(work, "commit", "-qm", "initial")
    return work


def bot_branch(repo: Path, branch: str, path: str, text: str) -> str:
    git(repo, "checkout", "-q", "-b", branch)
    (repo / path).write_text(text)
    git(repo, "commit", "-qam", f"change {path}")
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    return sha


def open_pull(repo: Path, branch: str) -> LocalForge:
    forge = LocalForge(Git(repo), repo / ".nightcrew" / "state.sqlite", repo / ".nightcrew" / "prs")
    Git(repo).exclude(".nightcrew/")
    forge.create_pull(branch=branch, base="main", title=f"merge {branch}", body="", draft=False)
    return forge


def test_local_merge_fast_forwards_a_clean_checked_out_base(repo: Path) -> None:
    sha = bot_branch(repo, "nightcrew/a", "a.txt", "ONE\ntwo\nthree\nfour\nfive\n")
    forge = open_pull(repo, "nightcrew/a")
    merged = forge.merge_pull(1, sha=sha)
    assert merged.state == "merged" and forge.get_pull(1).state == "merged"
    assert git(repo, "rev-parse", "main") == sha
    assert (repo / "a.txt").read_text().startswith("ONE\n") and git(repo, "status", "--porcelain") == ""


def test_local_merge_makes_a_merge_commit_when_the_base_moved(repo: Path) -> None:
    sha = bot_branch(repo, "nightcrew/a", "a.txt", "ONE\ntwo\nthree\nfour\nfive\n")
    (repo / "b.txt").write_text("b, edited by a person\n")
    git(repo, "commit", "-qam", "a person's work")
    human = git(repo, "rev-parse", "main")
    forge = open_pull(repo, "nightcrew/a")
    forge.merge_pull(1, sha=sha)
    parents = git(repo, "rev-list", "--parents", "-n", "1", "main").split()[1:]
    assert parents == [human, sha]
    assert (repo / "a.txt").read_text().startswith("ONE\n")
    assert (repo / "b.txt").read_text() == "b, edited by a person\n"
    assert git(repo, "log", "-1", "--format=%s", "main") == "Merge pull request #1 from nightcrew/a"


@pytest.mark.parametrize("case", ["conflict", "moved-head", "dirty-checkout", "draft"])
def test_local_merge_refuses_and_leaves_everything_as_it_was(repo: Path, case: str) -> None:
    sha = bot_branch(repo, "nightcrew/a", "a.txt", "ONE\ntwo\nthree\nfour\nfive\n")
    forge = open_pull(repo, "nightcrew/a")
    expected = {"conflict": "conflicts with main: a person has to merge it",
                "moved-head": "review and merge again",
                "dirty-checkout": "with local changes: not merging into it",
                "draft": "is a draft"}[case]
    if case == "conflict":
        (repo / "a.txt").write_text("uno\ntwo\nthree\nfour\nfive\n")
        git(repo, "commit", "-qam", "a person's conflicting edit")
    elif case == "moved-head":
        sha = git(repo, "rev-parse", "main")  # not the branch's commit
    elif case == "dirty-checkout":
        (repo / "b.txt").write_text("unsaved work\n")
    else:
        forge.set_draft(1, True)
    main_before = git(repo, "rev-parse", "main")
    with pytest.raises(ForgeError) as refused:
        forge.merge_pull(1, sha=sha)
    assert expected in str(refused.value) and "\n" not in str(refused.value)
    assert git(repo, "rev-parse", "main") == main_before and forge.get_pull(1).state == "open"
    if case == "dirty-checkout":
        assert (repo / "b.txt").read_text() == "unsaved work\n"

"""`[[policy.rules]]` in real runs: each action is about its change's packages, kind and PR labels; a denial
skips that change and is listed in the run summary; closing a replaced PR never leaves it marked but open."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.forges.local import LocalForge
from jobs.render import read_marker
from jobs.vcs import Git
from tests.jobs.conftest import REPO, V11, Project, by_branch, git
from tests.jobs.conftest import run_updates as run
from tests.support.github_server import GitHubStandIn

MINOR, MAJOR = "nightcrew/mathlib-1.1.0", "nightcrew/mathlib-2.0.0"


def rule(name: str, actions: list[str], verdict: str, **more: list[str]) -> str:
    lines = [f'name = "{name}"', f"actions = {json.dumps(actions)}", f'verdict = "{verdict}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in more.items()]
    return "\n[[policy.rules]]\n" + "\n".join(lines) + "\n"


def denied(data: dict) -> list[tuple[str, str, str]]:
    return [(d["action"], d["target"], d["rule"]) for d in data["denials"]]


def remote_branches(project: Project) -> list[str]:
    return git(project.remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def local_forge(project: Project) -> LocalForge:
    return LocalForge(Git(project.work), project.work / ".nightcrew" / "state.sqlite",
                      project.work / ".nightcrew" / "prs")


def test_a_rule_denying_pushes_of_a_package_skips_its_changes_and_pushes_nothing(project: Project) -> None:
    project.write_config(rule("no-mathlib-pushes", ["git.push"], "deny", packages=["mathlib"]))
    code, data, err = run(project)
    assert code == 0, err
    changes = by_branch(data)
    assert {b: c["action"] for b, c in changes.items()} == {MINOR: "skipped", MAJOR: "skipped"}
    for change in changes.values():
        assert "git.push denied by policy (no-mathlib-pushes: rule 'no-mathlib-pushes' denies git.push)" \
            in change["reason"]
    assert sorted(denied(data)) == [("git.push", f"origin {MINOR}", "no-mathlib-pushes"),
                                    ("git.push", f"origin {MAJOR}", "no-mathlib-pushes")]
    assert remote_branches(project) == ["main"] and local_forge(project).all_pulls() == []


def test_a_rule_on_major_updates_holds_the_major_pr_and_leaves_the_minor_alone(project: Project) -> None:
    project.write_config(rule("majors-by-hand", ["forge.create_pull"], "deny", kinds=["major"]))
    code, data, err = run(project)
    assert code == 0, err
    changes = by_branch(data)
    assert changes[MINOR]["action"] == "opened" and changes[MINOR]["pr"]["state"] == "open"
    assert changes[MAJOR]["action"] == "skipped" and "majors-by-hand" in changes[MAJOR]["reason"]
    assert denied(data) == [("forge.create_pull", MAJOR, "majors-by-hand")]
    assert [p.branch for p in local_forge(project).all_pulls()] == [MINOR]


def test_the_approval_label_on_the_pr_lets_a_held_action_through(project: Project, tmp_path: Path) -> None:
    project.write_config(rule("ask-before-commenting", ["forge.comment"], "needs-approval", packages=["mathlib"]))
    _, first, _ = run(project)
    number = by_branch(first)[MINOR]["pr"]["number"]
    # a person pushes to the bot's branch: the bot wants to say on the PR why it leaves the branch alone
    clone = tmp_path / "person"
    git(tmp_path, "clone", "-q", "-b", MINOR, str(project.remote), str(clone))
    (clone / "NOTES.md").write_text("a maintainer's fix\n")
    git(clone, "add", "NOTES.md")
    git(clone, "commit", "-qm", "a maintainer's fix")
    git(clone, "push", "-q", "origin", MINOR)
    _, held, _ = run(project)
    assert by_branch(held)[MINOR]["action"] == "skipped"
    assert denied(held) == [("forge.comment", f"#{number}", "ask-before-commenting")]
    assert held["denials"][0]["verdict"] == "needs-approval"
    assert local_forge(project).comments(number) == []
    local_forge(project).add_labels(number, ["nightcrew:approved"])  # the person approves, on the PR
    _, approved, _ = run(project)
    assert denied(approved) == []
    assert by_branch(approved)[MINOR]["reason"].startswith(f"branch {MINOR} has commits by maintainer@example.org")
    [comment] = local_forge(project).comments(number)
    assert "nightcrew did not update this branch" in comment


def test_a_denied_close_of_a_replaced_pr_is_skipped_and_leaves_it_unmarked(project: Project) -> None:
    project.write_config(rule("keep-mathlib-prs", ["forge.close_pull"], "deny", packages=["mathlib"]))
    _, first, _ = run(project, "--only", "mathlib")
    old = by_branch(first)[MINOR]["pr"]["number"]
    project.publish("1.2.0", V11)
    code, data, err = run(project)
    assert code == 0, err
    changes = by_branch(data)
    assert changes["nightcrew/mathlib-1.2.0"]["action"] == "opened"
    assert changes[MINOR]["action"] == "skipped"
    assert changes[MINOR]["reason"].startswith(f"not closed: #{old}: forge.close_pull denied by policy "
                                               "(keep-mathlib-prs")
    assert ("forge.close_pull", f"#{old}", "keep-mathlib-prs") in denied(data)
    pull = local_forge(project).get_pull(old)
    # still open, and not marked as closed by the bot: a person closing it later is a person's decision
    marker = read_marker(pull.body)
    assert pull.state == "open" and marker is not None and "closed_by" not in marker


# -- GitHub stand-in ------------------------------------------------------------------------------------


def test_a_failed_comment_leaves_the_replaced_pr_open_and_unmarked_then_it_is_closed(
        project: Project, hub: GitHubStandIn) -> None:
    _, first, _ = run(project, "--only", "mathlib")
    old = by_branch(first)[MINOR]["pr"]["number"]
    project.publish("1.2.0", V11)
    hub.fail("POST", rf"/repos/{REPO}/issues/{old}/comments", status=502, times=None)
    code, data, _ = run(project)
    assert code == 1
    assert by_branch(data)[MINOR]["action"] == "failed"
    assert by_branch(data)[MINOR]["reason"].startswith(f"closing #{old}: ")
    pull = hub.pull(old)
    # nothing half done that matters: open, and without the mark that would make a person's close look like the bot's
    assert pull["state"] == "open" and "closed_by" not in read_marker(pull["body"])
    hub.clear_faults()
    _, again, err = run(project)
    assert by_branch(again)[MINOR]["action"] == "superseded", err
    pull = hub.pull(old)
    assert pull["state"] == "closed" and read_marker(pull["body"])["closed_by"] == "nightcrew"
    assert len([c for c in hub.comments(old) if "Superseded by #" in c["body"]]) == 1
    _, third, _ = run(project)  # the bot's own close: 1.1.0 is outdated, not rejected by a person
    assert third["not_proposed"] == []


def test_closing_marks_the_pr_only_after_github_closed_it(project: Project, hub: GitHubStandIn) -> None:
    _, first, _ = run(project, "--only", "mathlib")
    old = by_branch(first)[MINOR]["pr"]["number"]
    project.publish("1.2.0", V11)
    hub.reset_log()
    run(project)
    edits = [r.body for r in hub.requests
             if r.method == "PATCH" and r.path.endswith(f"/pulls/{old}")]
    assert [("state" in e, "body" in e) for e in edits] == [(True, False), (False, True)]  # close, then mark
    assert read_marker(edits[1]["body"])["closed_by"] == "nightcrew"

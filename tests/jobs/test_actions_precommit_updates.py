"""GitHub Actions and pre-commit hooks, updated end to end: tags read from real bare repositories (over file:// with
``git ls-remote``, and through the GitHub stand-in's tags API), byte-exact edits, upstream release notes, the
repository's own tests, idempotent runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.jobs.conftest import Project, by_branch, git, run_updates, serve_github
from tests.support.github_server import GitHubStandIn

WORKFLOW = """\
name: ci   # keep this comment
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/setup-thing@v1.0.0
      - name: pinned by commit
        uses: acme/setup-thing@{sha100}  #  v1.0.0
      - uses: "acme/setup-thing@v1"
      - uses: ./.github/actions/local
      - uses: docker://alpine:3.20
      - uses: acme/setup-thing@main
"""

PRE_COMMIT = """\
repos:
  - repo: {hooks_url}
    rev: v0.1.0   # the hooks
    hooks:
      - id: check
  - repo: local
    hooks:
      - id: mine
        name: mine
        entry: true
        language: system
"""


def make_upstream(root: Path, tags: list[tuple[str, bool]], days_ago: dict[str, int] | None = None,
                  ) -> tuple[Path, dict[str, str]]:
    """A bare repository at ``root`` whose commits carry ``tags`` in order (name, annotated); a major tag such as
    ``v1`` is moved to each newer commit of its major, as actions do. Each release is made ``days_ago`` days ago
    (default 30). Returns (bare path, tag -> commit)."""
    import os
    import time

    work = root.parent / (root.name + "-work")
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    shas: dict[str, str] = {}
    for number, (tag, annotated) in enumerate(tags):
        (work / "action.yml").write_text(f"name: thing\nruns:\n  using: node20\n  main: index{number}.js\n")
        when = f"@{int(time.time()) - 86400 * (days_ago or {}).get(tag, 30)} +0000"
        env = {**os.environ, "GIT_AUTHOR_NAME": "Up", "GIT_AUTHOR_EMAIL": "up@example.org", "GIT_COMMITTER_NAME": "Up",
               "GIT_COMMITTER_EMAIL": "up@example.org", "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
               "GIT_CONFIG_GLOBAL": "/dev/null"}

        def run(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=work, check=True, capture_output=True, text=True,
                                  env=env).stdout.strip()

        run("add", ".")
        run("commit", "-qm", f"release {tag}")
        if "." not in tag:  # a moving major tag
            run("tag", "-f", tag)
        elif annotated:
            run("tag", "-a", tag, "-m", tag)
        else:
            run("tag", tag)
        shas[tag] = run("rev-parse", "HEAD")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root)], check=True)
    return root, shas


@pytest.fixture
def upstreams(tmp_path: Path) -> dict:
    server = tmp_path / "gitserver"
    _, action = make_upstream(server / "acme" / "setup-thing", [
        ("v1.0.0", False), ("v1", False), ("v1.1.0", True), ("v1", False), ("v2.0.0", True), ("v2", False)])
    _, hooks = make_upstream(server / "hooks" / "checks", [("v0.1.0", False), ("v0.2.0", True), ("v0.3.0rc1", True)])
    return {"server": server, "action": action, "hooks": hooks}


def add_pins(project: Project, upstreams: dict, *, hooks_url: str | None = None, extra: str = "") -> tuple[str, str]:
    workflow = WORKFLOW.format(sha100=upstreams["action"]["v1.0.0"])
    pre_commit = PRE_COMMIT.format(hooks_url=hooks_url or (upstreams["server"] / "hooks" / "checks").as_uri())
    (project.work / ".github" / "workflows").mkdir(parents=True)
    (project.work / ".github" / "workflows" / "ci.yml").write_text(workflow)
    (project.work / ".pre-commit-config.yaml").write_text(pre_commit)
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text() + extra)
    git(project.work, "add", ".")
    git(project.work, "commit", "-qm", "workflows and hooks")
    git(project.work, "push", "-q", "origin", "main")
    return workflow, pre_commit


# the actions and hooks only: the project's own Python pin (mathlib) has its tests elsewhere
PINS_ONLY = ("--only", "acme/setup-thing,hooks/checks")


def file_on(project: Project, branch: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", str(project.remote), "show", f"{branch}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def test_actions_and_hooks_get_one_pr_per_update_with_byte_exact_edits(project: Project, upstreams: dict,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", upstreams["server"].as_uri())
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    workflow, pre_commit = add_pins(project, upstreams, extra="\n[updates.cooldown]\ndefault_days = 0\n")
    code, data, err = run_updates(project, *PINS_ONLY)
    assert code == 0, err
    changes = by_branch(data)
    action = upstreams["action"]

    # the tag pin and the SHA pin of the same action move together; the v1 pin keeps its depth and moves to v2
    minor = changes["nightcrew/acme-setup-thing-1.1.0"]
    assert minor["action"] == "opened" and minor["tests"]["outcome"] == "passed"
    expected = workflow.replace("acme/setup-thing@v1.0.0", "acme/setup-thing@v1.1.0").replace(
        f"{action['v1.0.0']}  #  v1.0.0", f"{action['v1.1.0']}  #  v1.1.0")
    assert file_on(project, "nightcrew/acme-setup-thing-1.1.0", ".github/workflows/ci.yml") == expected
    major = changes["nightcrew/acme-setup-thing-2"]
    assert file_on(project, "nightcrew/acme-setup-thing-2", ".github/workflows/ci.yml") == workflow.replace(
        '"acme/setup-thing@v1"', '"acme/setup-thing@v2"')
    assert major["action"] == "opened"
    assert "nightcrew/acme-setup-thing-2.0.0" in changes  # the v1.0.0 pins' major, at their depth
    # the hook moves to the newest final (the release candidate is not proposed), its comment kept
    hook_branch = next(b for b in changes if b.startswith("nightcrew/hooks-checks"))
    assert hook_branch == "nightcrew/hooks-checks-0.2.0"
    assert file_on(project, hook_branch, ".pre-commit-config.yaml") == pre_commit.replace(
        "rev: v0.1.0   # the hooks", "rev: v0.2.0   # the hooks")
    # nothing but the pinned text changed on any branch
    assert not any(b.startswith("nightcrew/mathlib") for b in changes)
    for branch in changes:
        files = subprocess.run(["git", "--git-dir", str(project.remote), "diff", "--name-only", "main", branch],
                               check=True, capture_output=True, text=True).stdout.split()
        assert files == ([".pre-commit-config.yaml"] if "hooks" in branch else [".github/workflows/ci.yml"])

    # what could not be checked says why
    scan = subprocess.run([*_cli(), "scan", "--repo", str(project.work), "--format", "json"], capture_output=True,
                          text=True, env=_env(upstreams), check=False)
    reasons = scan.stdout
    assert "a local action: nothing to update" in reasons
    assert "a Docker image: not updated by nightcrew" in reasons
    assert "ref 'main' is not a version tag" in reasons

    # a second run finds the same PRs and changes nothing
    code, again, err = run_updates(project, *PINS_ONLY)
    assert code == 0, err
    actions = {c["branch"]: c["action"] for c in again["changes"]}
    assert all(actions[b] == "unchanged" for b in changes), actions


def _cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "jobs"]


def _env(upstreams: dict) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    return {**env, "GITHUB_SERVER_URL": upstreams["server"].as_uri()}


def test_unreachable_hook_repository_is_one_line_and_the_rest_goes_on(project: Project, upstreams: dict,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", upstreams["server"].as_uri())
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    missing = (upstreams["server"] / "nobody" / "gone").as_uri()
    add_pins(project, upstreams, hooks_url=missing, extra="\n[updates.cooldown]\ndefault_days = 0\n")
    code, data, err = run_updates(project, "--only", "acme/setup-thing,nobody/gone")
    assert code == 1 and "nobody/gone" in err  # an error line: the run is partial, not failed
    problems = [p for p in data["errors"] if "nobody/gone" in p["message"]]
    assert len(problems) == 1 and "git ls-remote --tags" in problems[0]["message"]
    assert "\n" not in problems[0]["message"]
    assert (problems[0]["file"], problems[0]["line"]) == (".pre-commit-config.yaml", 3)
    assert "nightcrew/acme-setup-thing-1.1.0" in by_branch(data)  # the actions still got their PRs


def test_config_turns_ecosystems_off_and_pins_tags_to_shas(project: Project, upstreams: dict,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", upstreams["server"].as_uri())
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    workflow, _ = add_pins(project, upstreams, extra=(
        '\n[updates.cooldown]\ndefault_days = 0\n'
        '[[updates.groups]]\nname = "actions"\necosystem = "actions"\nkinds = ["patch", "minor"]\n'))
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace("[updates]\n", '[updates]\necosystems = ["actions"]\n'
                                                 'actions_pin = "sha"\n', 1))
    git(project.work, "commit", "-qam", "actions only, SHA pins")
    git(project.work, "push", "-q", "origin", "main")
    code, data, err = run_updates(project)
    assert code == 0, err
    branches = by_branch(data)
    assert not any(b.startswith(("nightcrew/mathlib", "nightcrew/hooks")) for b in branches), list(branches)
    group = next(b for b in branches if b.startswith("nightcrew/actions-"))
    action = upstreams["action"]
    assert file_on(project, group, ".github/workflows/ci.yml") == workflow.replace(
        "acme/setup-thing@v1.0.0\n", f"acme/setup-thing@{action['v1.1.0']} # v1.1.0\n").replace(
        f"{action['v1.0.0']}  #  v1.0.0", f"{action['v1.1.0']}  #  v1.1.0")


def test_github_tags_api_and_release_notes_in_the_pr(project: Project, upstreams: dict,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    hub_iter = serve_github(project, monkeypatch)
    hub: GitHubStandIn = next(hub_iter)
    try:
        hub.add_repo("acme/setup-thing", upstreams["server"] / "acme" / "setup-thing")
        hub.add_release("v1.1.0", "### Features\n\n- Cache the thing between runs (#41)\n", repo="acme/setup-thing")
        hub.add_release("v1.0.0", "First release\n", repo="acme/setup-thing")
        monkeypatch.setenv("GITHUB_SERVER_URL", hub.web_url)
        add_pins(project, upstreams, extra=(
            f'\n[updates.cooldown]\ndefault_days = 0\n[changelogs]\ngithub_api_url = "{hub.api_url}"\n'))
        config = project.work / "nightcrew.toml"
        config.write_text(config.read_text().replace("[updates]\n", '[updates]\necosystems = ["actions"]\n', 1))
        git(project.work, "commit", "-qam", "actions only")
        git(project.work, "push", "-q", "origin", "main")
        code, data, err = run_updates(project)
        assert code == 0, err
        change = by_branch(data)["nightcrew/acme-setup-thing-1.1.0"]
        assert change["action"] == "opened" and change["tests"]["outcome"] == "passed"
        body = hub.pull(change["pr"]["number"])["body"]
        assert "Cache the thing between runs" in body
        assert "1.0.0" in body and "1.1.0" in body
        tag_requests = [r for r in hub.requests if r.path.startswith("/repos/acme/setup-thing/tags")]
        assert tag_requests, "tags were read through the API"
        assert not any(r.path.startswith("/repos/acme/setup-thing/tags") and r.status != 200
                       for r in hub.requests)
    finally:
        next(hub_iter, None)



@pytest.mark.live
def test_live_tags_of_a_real_action() -> None:
    """Reaches github.com: the real tags of actions/checkout, read with git ls-remote, at a v4 pin's depth."""
    from jobs.index.tags import TagSource
    from jobs.manifests import actions
    from jobs.manifests.pins import at_depth

    dep = actions.parse_text("steps:\n  - uses: actions/checkout@v4\n", "w.yml").dependencies[0]
    page = TagSource(server="https://github.com").pages([dep])[dep.name]
    assert not isinstance(page, Exception), page
    versions = sorted(at_depth(dep, page).versions())
    assert [str(v) for v in versions][:4] == ["1", "2", "3", "4"]


def test_a_remote_that_refuses_workflow_changes_is_one_clear_skip(project: Project, upstreams: dict,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub refuses a push touching .github/workflows/ from a token without the `workflows` permission (the
    Actions GITHUB_TOKEN): the bare remote's pre-receive hook answers the same way."""
    monkeypatch.setenv("GITHUB_SERVER_URL", upstreams["server"].as_uri())
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    add_pins(project, upstreams, extra="\n[updates.cooldown]\ndefault_days = 0\n")
    hook = project.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do\n"
                    "  base=$old; case $old in *[!0]*) ;; *) base=refs/heads/main ;; esac\n"
                    "  if git diff --name-only \"$base\" \"$new\" 2>/dev/null | grep -q '^.github/workflows/'; then\n"
                    "    echo \"refusing to allow a GitHub App to create or update workflow "
                    "\\`.github/workflows/ci.yml\\` without \\`workflows\\` permission\" >&2; exit 1\n"
                    "  fi\ndone\nexit 0\n")
    hook.chmod(0o755)
    code, data, err = run_updates(project, *PINS_ONLY)
    changes = by_branch(data)
    action = changes["nightcrew/acme-setup-thing-1.1.0"]
    assert action["action"] == "skipped" and "`workflows`" in action["reason"], action["reason"]
    assert changes["nightcrew/hooks-checks-0.2.0"]["action"] == "opened"  # other files still go through
    assert code == 0, err


def test_a_tag_made_a_moment_ago_waits_out_the_cooldown(project: Project, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The default cooldown (3 days) holds a fresh tag as it holds a fresh upload: the tag's own date is read
    (one shallow fetch of the newest tags), so v1.2.0 made an hour ago waits and v1.1.0 from last month goes."""
    server = tmp_path / "gitserver"
    _, shas = make_upstream(server / "acme" / "setup-thing", [("v1.0.0", False), ("v1.1.0", True), ("v1.2.0", True)],
                            days_ago={"v1.0.0": 60, "v1.1.0": 30, "v1.2.0": 0})
    monkeypatch.setenv("GITHUB_SERVER_URL", server.as_uri())
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    (project.work / ".github" / "workflows").mkdir(parents=True)
    (project.work / ".github" / "workflows" / "ci.yml").write_text(
        "jobs:\n  t:\n    steps:\n      - uses: acme/setup-thing@v1.0.0\n")
    git(project.work, "add", ".")
    git(project.work, "commit", "-qm", "workflow")
    git(project.work, "push", "-q", "origin", "main")
    code, data, err = run_updates(project, "--only", "acme/setup-thing")
    assert code == 0, err
    assert list(by_branch(data)) == ["nightcrew/acme-setup-thing-1.1.0"]
    [waiting] = [w for w in data["waiting"] if w["name"] == "acme/setup-thing"]
    assert waiting["version"] == "1.2.0" and waiting["released"] is not None
    del shas

"""`nightcrew run dependency-updates` end to end with the local forge: real git, a bare remote, a loopback index,
real test runs in fresh environments, and every idempotency rule across consecutive runs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from jobs.cli import cli
from tests.jobs.conftest import REQUIREMENTS, V11, Project, by_branch, git
from tests.jobs.conftest import run_updates as run


def prs(project: Project) -> list[dict]:
    result = CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "--format", "json"])
    return json.loads(result.stdout)


def remote_file(project: Project, branch: str, path: str) -> bytes:
    import subprocess

    return subprocess.run(["git", "--git-dir", str(project.remote), "show", f"{branch}:{path}"],
                          check=True, capture_output=True).stdout


def test_first_run_opens_minor_and_draft_major_with_test_results(project: Project) -> None:
    code, data, err = run(project)
    assert code == 0, err
    changes = by_branch(data)
    minor, major = changes["nightcrew/mathlib-1.1.0"], changes["nightcrew/mathlib-2.0.0"]
    assert minor["action"] == "opened" and minor["pr"]["draft"] is False
    assert minor["tests"] == {"outcome": "passed", "passed": 2, "failed": 0, "skipped": 0, "failing": [],
                              "duration": minor["tests"]["duration"], "reason": None}
    assert major["action"] == "opened" and major["pr"]["draft"] is True
    assert major["tests"]["outcome"] == "failed"
    assert major["tests"]["failing"] == ["tests/test_math.py::test_add"]
    assert major["packages"] == [{"name": "mathlib", "from": "1.0.0", "to": "2.0.0", "file": "requirements.txt",
                                  "line": 2, "kind": "major"}]
    # the edit touched only the version text, on the remote branch
    assert remote_file(project, "nightcrew/mathlib-1.1.0", "requirements.txt") == \
        REQUIREMENTS.replace("1.0.0", "1.1.0").encode()
    # the PRs as the forge keeps them, and their bodies
    listed = {p["branch"]: p for p in prs(project)}
    assert listed["nightcrew/mathlib-1.1.0"]["title"] == "build(deps): bump mathlib from 1.0.0 to 1.1.0"
    major_body = Path(project.work / listed["nightcrew/mathlib-2.0.0"]["body_path"]).read_text()
    assert "`tests/test_math.py::test_add`" in major_body
    assert "| failed | 1 | 1 |" in major_body
    assert "tests-failing" in listed["nightcrew/mathlib-2.0.0"]["labels"]
    # the working copy of the user is untouched, and nightcrew's files stay out of git status
    assert (project.work / "requirements.txt").read_text() == REQUIREMENTS
    assert git(project.work, "status", "--porcelain") == ""


def test_second_run_changes_nothing_and_opens_no_duplicate(project: Project) -> None:
    run(project)
    before = prs(project)
    code, data, _ = run(project)
    assert code == 0
    assert {c["action"] for c in data["changes"]} == {"unchanged"}
    assert all(c["tests"] is None for c in data["changes"])  # nothing new to test
    assert prs(project) == before


def test_human_closed_version_is_not_proposed_again(project: Project) -> None:
    run(project)
    major = next(p for p in prs(project) if p["branch"] == "nightcrew/mathlib-2.0.0")
    CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "close", str(major["number"])])
    _, data, _ = run(project)
    assert "nightcrew/mathlib-2.0.0" not in by_branch(data)
    reasons = {(s["name"], s["version"]): s["reason"] for s in data["not_proposed"]}
    assert reasons[("mathlib", "2.0.0")] == \
        f"#{major['number']} was closed without merging: this version is not proposed again"
    assert len(prs(project)) == 2


def test_newer_version_supersedes_the_older_pr(project: Project) -> None:
    run(project)
    old = next(p for p in prs(project) if p["branch"] == "nightcrew/mathlib-1.1.0")
    project.publish("1.2.0", V11)
    _, data, _ = run(project)
    changes = by_branch(data)
    assert changes["nightcrew/mathlib-1.2.0"]["action"] == "opened"
    superseded = changes["nightcrew/mathlib-1.1.0"]
    assert superseded["action"] == "superseded"
    new_number = changes["nightcrew/mathlib-1.2.0"]["pr"]["number"]
    assert superseded["reason"].startswith(f"Superseded by #{new_number}")
    states = {p["branch"]: p["state"] for p in prs(project)}
    assert states["nightcrew/mathlib-1.1.0"] == "closed" and states["nightcrew/mathlib-1.2.0"] == "open"
    old_body = Path(project.work / old["body_path"]).read_text()
    assert f"Superseded by #{new_number}" in old_body


def test_branch_with_a_human_commit_is_never_overwritten(project: Project, tmp_path: Path) -> None:
    run(project)
    clone = tmp_path / "human"
    git(tmp_path, "clone", "-q", "-b", "nightcrew/mathlib-1.1.0", str(project.remote), str(clone))
    (clone / "NOTES.md").write_text("a maintainer's fix\n")
    git(clone, "add", "NOTES.md")
    git(clone, "commit", "-qm", "maintainer fix")
    git(clone, "push", "-q", "origin", "nightcrew/mathlib-1.1.0")
    human_tip = git(clone, "rev-parse", "HEAD")
    _, data, _ = run(project)
    change = by_branch(data)["nightcrew/mathlib-1.1.0"]
    assert change["action"] == "skipped"
    assert "has commits by maintainer@example.org" in change["reason"]
    assert git(project.remote, "rev-parse", "nightcrew/mathlib-1.1.0") == human_tip
    number = change["pr"]["number"]
    assert "did not update this branch" in Path(project.work / f".nightcrew/prs/{number}.md").read_text()
    run(project)  # and says so only once
    assert Path(project.work / f".nightcrew/prs/{number}.md").read_text().count("did not update this branch") == 1


def test_merged_branch_is_not_recreated(project: Project) -> None:
    run(project)
    git(project.work, "merge", "-q", "--ff-only", "nightcrew/mathlib-1.1.0")
    git(project.work, "push", "-q", "origin", "main")
    _, data, _ = run(project)
    states = {p["branch"]: p["state"] for p in prs(project)}
    assert states["nightcrew/mathlib-1.1.0"] == "merged"
    assert "nightcrew/mathlib-1.1.0" not in by_branch(data)


def test_crash_after_push_before_pr_gives_one_pr_on_rerun(project: Project) -> None:
    # the state a crash leaves: the bot's branch is on the remote, no PR was recorded
    run(project, "--only", "mathlib")
    state = project.work / ".nightcrew"
    import shutil

    shutil.rmtree(state)
    code, data, _ = run(project)
    assert code == 0
    changes = by_branch(data)
    assert changes["nightcrew/mathlib-1.1.0"]["action"] == "opened"
    assert len(prs(project)) == 2


def test_dry_run_changes_nothing_anywhere(project: Project) -> None:
    refs_before = git(project.remote, "for-each-ref")
    code, data, _ = run(project, "--dry-run")
    assert code == 0 and data["dry_run"] is True
    assert {c["action"] for c in data["changes"]} == {"opened"}
    assert all(c["reason"] == "dry run: nothing was changed" for c in data["changes"])
    diff = by_branch(data)["nightcrew/mathlib-1.1.0"]["diff"]
    assert "-mathlib==1.0.0  # keep in step with docs\n+mathlib==1.1.0  # keep in step with docs\n" in diff
    assert git(project.remote, "for-each-ref") == refs_before
    assert not (project.work / ".nightcrew").exists()
    assert git(project.work, "branch", "--list", "nightcrew/*") == ""


def test_push_rejected_is_one_failed_change_and_the_run_goes_on(project: Project) -> None:
    hook = project.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nwhile read old new ref; do\n  case $ref in *2.0.0) echo 'protected' >&2; exit 1;; esac\n"
                    "done\nexit 0\n")
    hook.chmod(0o755)
    code, data, err = run(project)
    assert code == 1
    changes = by_branch(data)
    assert changes["nightcrew/mathlib-2.0.0"]["action"] == "failed"
    assert changes["nightcrew/mathlib-2.0.0"]["reason"].startswith("git push:")
    # why the remote said no: its rejection status and the hook's own words, on the same line
    assert "remote: protected" in changes["nightcrew/mathlib-2.0.0"]["reason"]
    assert "pre-receive hook declined" in changes["nightcrew/mathlib-2.0.0"]["reason"]
    assert changes["nightcrew/mathlib-1.1.0"]["action"] == "opened"
    assert "nightcrew: error: nightcrew/mathlib-2.0.0: git push:" in err


def test_hanging_tests_time_out_and_the_pr_says_so(project: Project) -> None:
    (project.work / "tests" / "test_slow.py").write_text("import time\n\n\ndef test_hangs():\n    time.sleep(600)\n")
    git(project.work, "add", ".")
    git(project.work, "commit", "-qm", "slow test")
    git(project.work, "push", "-q", "origin", "main")
    (project.work / "nightcrew.toml").write_text((project.work / "nightcrew.toml").read_text()
                                                  .replace("timeout = 120", "timeout = 4"))
    git(project.work, "commit", "-qam", "short timeout")
    code, data, _ = run(project, "--only", "mathlib")
    change = by_branch(data)["nightcrew/mathlib-1.1.0"]
    assert change["tests"]["outcome"] == "timed_out"
    assert change["pr"]["draft"] is True


def test_hash_pinned_requirement_gets_the_new_wheels_hash(project: Project) -> None:
    from tests.support.distbuild import file_hashes

    wheels = {e.version: e for e in project.index.entries("mathlib")}
    old_hash, new_hash = wheels["1.0.0"].sha256, wheels["1.1.0"].sha256
    (project.work / "requirements.txt").write_text(f"mathlib==1.0.0 \\\n    --hash=sha256:{old_hash}\n")
    git(project.work, "commit", "-qam", "hash-pinned")
    git(project.work, "push", "-q", "origin", "main")
    code, data, err = run(project, "--only", "mathlib")
    change = by_branch(data)["nightcrew/mathlib-1.1.0"]
    assert change["action"] == "opened", err
    assert change["tests"]["outcome"] == "passed"  # pip installed 1.1.0 with --require-hashes semantics
    assert remote_file(project, "nightcrew/mathlib-1.1.0", "requirements.txt").decode() == \
        f"mathlib==1.1.0 \\\n    --hash=sha256:{new_hash}\n"
    assert file_hashes(wheels["1.1.0"].path)["sha256"] == new_hash


def test_limits_report_what_did_not_fit(project: Project) -> None:
    (project.work / "nightcrew.toml").write_text((project.work / "nightcrew.toml").read_text()
                                                  .replace('kinds = ["patch", "minor", "major"]\n',
                                                           'kinds = ["patch", "minor", "major"]\nmax_prs_per_run = 1\n'))
    git(project.work, "commit", "-qam", "limit")
    _, data, _ = run(project)
    changes = by_branch(data)
    assert changes["nightcrew/mathlib-1.1.0"]["action"] == "opened"
    assert changes["nightcrew/mathlib-2.0.0"]["action"] == "skipped"
    assert changes["nightcrew/mathlib-2.0.0"]["reason"] == "limit reached: max_prs_per_run = 1"
    assert len(prs(project)) == 1


def _with_group(project: Project) -> None:
    from tests.support.distbuild import build_wheel

    for version in ("0.1.0", "0.1.1"):
        project.index.add(build_wheel(project.dists, "textlib", version))
    (project.work / "requirements.txt").write_text(REQUIREMENTS + "textlib==0.1.0\n")
    (project.work / "nightcrew.toml").write_text((project.work / "nightcrew.toml").read_text() + (
        '\n[[updates.groups]]\nname = "routine"\npatterns = ["*"]\nkinds = ["patch", "minor"]\n'))
    git(project.work, "add", ".")
    git(project.work, "commit", "-qm", "group config")
    git(project.work, "push", "-q", "origin", "main")


def test_group_pr_carries_all_its_updates_in_one_commit(project: Project) -> None:
    _with_group(project)
    _, data, err = run(project)
    grouped = [c for c in data["changes"] if c["key"] == "group:routine"]
    assert len(grouped) == 1 and grouped[0]["action"] == "opened", err
    assert {(p["name"], p["to"]) for p in grouped[0]["packages"]} == {("mathlib", "1.1.0"), ("textlib", "0.1.1")}
    branch = grouped[0]["branch"]
    assert remote_file(project, branch, "requirements.txt").decode() == \
        REQUIREMENTS.replace("1.0.0", "1.1.0") + "textlib==0.1.1\n"
    message = git(project.remote, "log", "-1", "--format=%B", branch)
    assert message.splitlines()[0] == "build(deps): bump the routine group with 2 updates"
    assert git(project.remote, "log", "-1", "--format=%an <%ae>", branch) == \
        "nightcrew <nightcrew@users.noreply.localhost>"
    assert by_branch(data)["nightcrew/mathlib-2.0.0"]["action"] == "opened"  # the major stays on its own


def test_human_closed_group_versions_are_not_proposed_again(project: Project) -> None:
    from tests.support.distbuild import build_wheel

    _with_group(project)
    _, first, _ = run(project)
    group = next(c for c in first["changes"] if c["key"] == "group:routine")
    CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "close", str(group["pr"]["number"])])
    project.index.add(build_wheel(project.dists, "textlib", "0.1.2"))
    _, data, _ = run(project)
    regrouped = next(c for c in data["changes"] if c["key"] == "group:routine")
    assert [(p["name"], p["to"]) for p in regrouped["packages"]] == [("textlib", "0.1.2")]
    assert ("mathlib", "1.1.0") in {(s["name"], s["version"]) for s in data["not_proposed"]}


def test_the_bots_own_closes_do_not_count_as_human_decisions(project: Project) -> None:
    from tests.support.distbuild import build_wheel

    _with_group(project)
    run(project)
    project.index.add(build_wheel(project.dists, "textlib", "0.1.2"))
    _, partial, _ = run(project, "--only", "textlib")  # a narrower group replaces the first one
    assert "superseded" in {c["action"] for c in partial["changes"]}
    _, data, _ = run(project)
    regrouped = next(c for c in data["changes"] if c["key"] == "group:routine" and c["action"] == "opened")
    assert {(p["name"], p["to"]) for p in regrouped["packages"]} == {("mathlib", "1.1.0"), ("textlib", "0.1.2")}
    assert not data["not_proposed"]


def test_a_human_commit_on_the_local_bot_branch_is_kept(project: Project) -> None:
    run(project)
    git(project.work, "checkout", "-q", "nightcrew/mathlib-1.1.0")
    (project.work / "NOTES.md").write_text("local fix\n")
    git(project.work, "add", "NOTES.md")
    git(project.work, "commit", "-qm", "local maintainer fix")
    tip = git(project.work, "rev-parse", "HEAD")
    git(project.work, "checkout", "-q", "main")
    _, data, _ = run(project)
    change = by_branch(data)["nightcrew/mathlib-1.1.0"]
    assert change["action"] == "skipped" and "maintainer@example.org" in change["reason"]
    assert git(project.work, "rev-parse", "nightcrew/mathlib-1.1.0") == tip


def test_a_replacement_fits_under_max_open_prs(project: Project) -> None:
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace("[updates]\n", "[updates]\nmax_open_prs = 2\n"))
    run(project)
    project.publish("1.2.0", V11)
    _, data, _ = run(project)
    changes = by_branch(data)
    assert changes["nightcrew/mathlib-1.2.0"]["action"] == "opened"
    assert changes["nightcrew/mathlib-1.1.0"]["action"] == "superseded"


def test_draft_and_failing_label_follow_the_latest_test_result(project: Project) -> None:
    run(project)
    fixed = "import mathlib\n\n\ndef test_add():\n    add = getattr(mathlib, 'add', None) or mathlib.plus\n" \
            "    assert add(1, 2) == 3\n"
    (project.work / "tests" / "test_math.py").write_text(fixed)
    git(project.work, "commit", "-qam", "tests work with 2.0")
    git(project.work, "push", "-q", "origin", "main")
    _, data, _ = run(project)
    major = by_branch(data)["nightcrew/mathlib-2.0.0"]
    assert major["action"] == "updated" and major["tests"]["outcome"] == "passed"
    listed = {p["branch"]: p for p in prs(project)}["nightcrew/mathlib-2.0.0"]
    assert listed["draft"] is False and "tests-failing" not in listed["labels"]


def test_a_pr_whose_version_the_base_already_has_is_closed(project: Project) -> None:
    run(project)
    (project.work / "requirements.txt").write_text(REQUIREMENTS.replace("1.0.0", "1.1.0"))
    git(project.work, "commit", "-qam", "bump by hand")
    git(project.work, "push", "-q", "origin", "main")
    _, data, _ = run(project)
    closed = by_branch(data)["nightcrew/mathlib-1.1.0"]
    assert closed["action"] == "superseded"
    assert closed["reason"] == "No longer needed: the base branch already has mathlib 1.1.0."
    assert {p["branch"]: p["state"] for p in prs(project)}["nightcrew/mathlib-1.1.0"] == "closed"


def test_dry_run_says_what_a_real_run_would_do(project: Project) -> None:
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace("[updates]\n", "[updates]\nmax_prs_per_run = 1\n"))
    _, dry, _ = run(project, "--dry-run")
    _, real, _ = run(project)
    assert [(c["branch"], c["action"]) for c in dry["changes"]] == [(c["branch"], c["action"]) for c in real["changes"]]
    _, again, _ = run(project, "--dry-run")
    assert by_branch(again)["nightcrew/mathlib-1.1.0"]["action"] == "unchanged"


def test_usage_errors_exit_2_with_one_line(project: Project, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(project.work), "--only", "nosuch"])
    assert result.exit_code == 2 and "--only: names no dependency of this repository: nosuch" in result.stderr
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace('remote = "origin"\n', 'remote = "origin"\nbase = "mian"\n'))
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(project.work)])
    assert result.exit_code == 2 and "base branch 'mian' not found on remote 'origin'" in result.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(plain)])
    assert result.exit_code == 2 and "not a git repository" in result.stderr


def test_prs_command_errors_are_one_line(project: Project, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "close", "99"])
    assert result.exit_code == 2 and "no pull request #99" in result.stderr
    missing = tmp_path / "nope" / "repo"
    result = CliRunner().invoke(cli, ["prs", "--repo", str(missing)])
    assert result.exit_code == 2 and not missing.exists()


def test_pr_body_carries_the_upstream_changelog_slice(project: Project) -> None:
    from tests.support.distbuild import build_sdist

    changelog = ("# Changes\n\n## 1.1.0\n\n- Add `mul()` (#12), thanks @octocat\n- Deprecated the `legacy` flag\n\n"
                 "## 1.0.0\n\n- First release\n")
    for version in ("1.0.0", "1.1.0"):
        project.index.add(build_sdist(project.dists, "mathlib", version, extra_files={"CHANGELOG.md": changelog},
                                      project_urls={"Source": "https://github.com/math/mathlib"}))
    _, data, err = run(project, "--only", "mathlib")
    minor = by_branch(data)["nightcrew/mathlib-1.1.0"]
    body = Path(project.work / {p["branch"]: p for p in prs(project)}["nightcrew/mathlib-1.1.0"]["body_path"]).read_text()
    assert "<summary>1.1.0</summary>" in body
    assert "**deprecation** (1.1.0): Deprecated the `legacy` flag" in body
    assert "[#12](https://github.com/math/mathlib/issues/12)" in body  # upstream's issue, never ours
    assert "@octocat" not in body and "@<!-- -->octocat" in body
    assert "First release" not in body  # only the versions in between
    assert minor["action"] == "opened", err


def test_pr_body_carries_the_section_of_a_changelog_with_one_release_heading(project: Project) -> None:
    from tests.support.distbuild import build_sdist

    changelog = "# Changelog\n\nAll notable changes.\n\n## 1.1.0 - 2025-05-01\n\n- Add `mul()`\n"
    for version in ("1.0.0", "1.1.0"):
        project.index.add(build_sdist(project.dists, "mathlib", version, extra_files={"CHANGELOG.md": changelog}))
    code, data, err = run(project, "--only", "mathlib")
    assert code == 0, err
    assert by_branch(data)["nightcrew/mathlib-1.1.0"]["action"] == "opened"
    listed = {p["branch"]: p for p in prs(project)}
    text = Path(project.work / listed["nightcrew/mathlib-1.1.0"]["body_path"]).read_text()
    assert "<summary>1.1.0</summary>" in text and "- Add `mul()`" in text
    assert "No changelog found" not in text and "No changelog section" not in text

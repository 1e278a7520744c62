"""A new user's first run: a repository without the default remote, a remote named on purpose that is missing,
git's errors whole, `--only` as the README writes it, and one-line usage errors everywhere."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from jobs.vcs import Git, GitError
from tests.jobs.conftest import Project, by_branch, git, run_updates

ROOT = Path(__file__).resolve().parents[2]


def _without_origin(project: Project, *, config_names_remote: bool) -> None:
    """The project as a clone that never had a remote; its config names the remote or leaves the default."""
    git(project.work, "remote", "remove", "origin")
    config = project.work / "nightcrew.toml"
    text = config.read_text()
    if not config_names_remote:
        text = text.replace('remote = "origin"\n', "")
    config.write_text(text.replace('kinds = ["patch", "minor", "major"]', 'kinds = ["patch", "minor"]'))
    git(project.work, "commit", "-qam", "config")


def test_default_remote_missing_keeps_branches_local_and_says_so_once(project: Project) -> None:
    _without_origin(project, config_names_remote=False)
    code, data, err = run_updates(project)
    assert code == 0, err
    change = by_branch(data)["nightcrew/mathlib-1.1.0"]
    assert change["action"] == "opened" and change["tests"]["outcome"] == "passed"
    # the branch is in the local repository, with the bump
    assert git(project.work, "show", "nightcrew/mathlib-1.1.0:requirements.txt").count("mathlib==1.1.0") == 1
    notes = [line for line in err.splitlines() if line.startswith("nightcrew: note:") and "remote" in line]
    assert notes == ["nightcrew: note: no git remote 'origin' in this repository: branches stay in the local "
                     "repository (set [forge] remote to push them)"]  # once
    assert notes[0].removeprefix("nightcrew: note: ") in data["notices"]
    assert "error" not in err


def test_remote_named_in_config_that_does_not_exist_is_a_config_error(project: Project) -> None:
    _without_origin(project, config_names_remote=True)
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(project.work), "--format", "json"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "nightcrew: error: forge.remote: git remote 'origin' does not exist in this repository (its remotes: none)"]
    assert git(project.work, "branch", "--list", "nightcrew/*") == ""  # nothing was done


def test_remote_named_by_flag_that_does_not_exist_is_a_config_error(project: Project) -> None:
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(project.work), "--remote", "upstream",
                                      "--dry-run", "--format", "json"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "nightcrew: error: --remote: git remote 'upstream' does not exist in this repository (its remotes: 'origin')"]


def test_git_failures_carry_the_operation_and_gits_whole_error(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(GitError) as caught:
        Git(tmp_path).remote_sha("origin", "main")
    message = str(caught.value)
    assert message == ("git ls-remote: 'origin' does not appear to be a git repository; "
                       "Could not read from remote repository.")
    assert "\n" not in message


@pytest.mark.parametrize("only", [["--only", "mathlib,nosuch"], ["--only", "mathlib", "--only", "nosuch"],
                                  ["--only", "nosuch,mathlib", "--only", "nosuch"]])
def test_only_takes_names_comma_separated_and_repeated(project: Project, only: list[str]) -> None:
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(project.work), "--dry-run",
                                      "--format", "json", *only])
    # mathlib is known, nosuch is not: the error names only the unknown one, so both names were read
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "nightcrew: error: --only: names no dependency of this repository: nosuch"]


def test_only_with_several_names_limits_the_run(project: Project) -> None:
    code, data, err = run_updates(project, "--dry-run", "--only", "mathlib,MathLib")
    assert code == 0, err
    assert {p["name"] for c in data["changes"] for p in c["packages"]} == {"mathlib"}


@pytest.mark.parametrize("args", [
    ["scan", "--bogus"],
    ["run", "dependency-updates", "--only", "a", "b"],
    ["run", "dependency-updates", "--only", "a,,b"],
    ["run", "release-notes"],
    ["run", "dependency-updates", "--format", "yaml"],
    ["no-such-command"],
    ["notes", "score", "--draft", "/nonexistent/draft.md"],
    ["prs", "frobnicate"],
])
def test_usage_errors_are_one_error_line_and_one_hint(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("nightcrew: error: ") and lines[1].startswith("hint: ")
    assert "Usage:" not in result.stderr and "Try '" not in result.stderr
    assert result.stdout == ""


def test_readme_and_help_agree_on_only() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    usage = re.search(r"nightcrew run dependency-updates \[.*?```", readme, re.S)
    assert usage is not None and "[--only PKG[,PKG...]]" in usage.group(0)
    assert "PKG ...]" not in readme
    help_text = CliRunner().invoke(cli, ["run", "dependency-updates", "--help"]).stdout
    assert "--only PKG[,PKG...]" in help_text and "comma-separated" in help_text

"""`nightcrew run release-notes` end to end: a real repository with merge and squash commits and tags, the GitHub
stand-in through PyGithub, the draft rules, git-only mode, and the draft score."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from github import Auth, Github

from jobs.cli import cli
from tests.support.github_server import GitHubStandIn

REPO = "acme/widgets"


def git(cwd: Path, *args: str, author: str = "Alice", email: str = "alice@example.org") -> str:
    env = {"GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": author,
           "GIT_COMMITTER_EMAIL": email, "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


def commit(repo: Path, name: str, message: str, **who: str) -> None:
    (repo / name).write_text(message + "\n")
    git(repo, "add", name, **who)
    git(repo, "commit", "-qm", message, **who)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    remote = tmp_path / "widgets.git"
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    commit(work, "README", "initial")
    git(work, "tag", "v1.0.0")
    commit(work, "retry.py", "feat: add retries to the client (#1)")
    # a merge commit, as GitHub writes it, from a first-time contributor's branch
    git(work, "checkout", "-q", "-b", "fix-timeout")
    commit(work, "timeout.py", "Fix the timeout", author="Bob", email="bob@example.org")
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "fix-timeout", "-m", "Merge pull request #2 from bob/fix-timeout",
        "-m", "Fix the timeout when the server is slow")
    git(work, "tag", "v1.1.0-rc.1")
    commit(work, "deps.txt", "build(deps): bump mathlib from 1.0.0 to 1.1.0 (#3)",
           author="nightcrew", email="nightcrew@users.noreply.localhost")
    commit(work, "docs.md", "docs: fix a typo (#4)")
    commit(work, "tweak.py", "Tweak the default port")
    git(work, "tag", "v1.1.0")
    git(work, "tag", "pkg-a/v0.1.0")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main", "--tags")
    (work / ".git" / "info" / "exclude").write_text("nightcrew.toml\n")  # the test config, not nightcrew's files
    return work


@pytest.fixture
def hub(history: Path, monkeypatch: pytest.MonkeyPatch):
    server = GitHubStandIn(history.parent / "widgets.git", full_name=REPO)
    server.start()
    server.add_merged_pull("feat: add retries to the client", "Fixes #10 and mentions #11.", number=1,
                           labels=["enhancement"], author="alice")
    server.add_merged_pull("Fix the timeout when the server is slow", "closes acme/widgets#12", number=2,
                           labels=["bug"], author="bob")
    server.add_merged_pull("build(deps): bump mathlib from 1.0.0 to 1.1.0", "", number=3, labels=["dependencies"],
                           author="nightcrew-bot", head="nightcrew/mathlib-1.1.0")
    server.add_merged_pull("docs: fix a typo", "", number=4, labels=["ignore-for-release"], author="alice")
    (history / "nightcrew.toml").write_text(
        f'[forge]\nkind = "github"\napi_url = "{server.api_url}"\nrepository = "{REPO}"\nthrottle = false\n'
        f'web_url = "{server.web_url}/{REPO}"\n\n'
        '[release_notes]\nexclude_labels = ["ignore-for-release"]\n')
    monkeypatch.setenv("GITHUB_TOKEN", "bot-token")
    yield server
    server.stop()


def run(repo: Path, *args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["run", "release-notes", "--repo", str(repo), "--format", "json", *args])
    assert result.stdout, result.stderr or result.exception
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_github_draft_release_with_every_item_linked(history: Path, hub: GitHubStandIn) -> None:
    code, data, err = run(history, "--tag", "v1.1.0")
    assert code == 0, err
    assert data["previous_tag"] == "v1.0.0"  # the pre-release tag in between is skipped for a final release
    items = {item["pr"]: item for item in data["items"] if item["pr"]}
    assert items[1]["category"] == "Features" and items[1]["issues"] == [10] and items[1]["author"] == "alice"
    assert items[2]["issues"] == [12] and items[2]["author"] == "bob"
    assert data["excluded"] == [{"pr": 4, "rule": data["excluded"][0]["rule"]}]
    assert "ignore-for-release" in data["excluded"][0]["rule"]
    assert "bob" in " ".join(data["new_contributors"]) and "alice" not in " ".join(data["new_contributors"])
    assert len(data["direct_commits"]) == 1 and data["complete"] is True
    assert data["api_requests"] <= 6
    text = data["text"]
    base = f"{hub.web_url}/{REPO}"
    for link in (f"{base}/pull/1", f"{base}/pull/2", f"{base}/pull/3", f"{base}/issues/10", f"{base}/issues/12",
                 f"{base}/compare/v1.0.0...v1.1.0"):
        assert link in text, link
    assert f"{base}/issues/11" not in text  # a mention is not a closing keyword
    assert "/pull/4" not in text
    assert "by @alice in" in text and "<!-- -->" not in text  # GitHub's own credit form
    drafts = [r for r in hub.releases() if r["tag_name"] == "v1.1.0"]
    assert len(drafts) == 1 and drafts[0]["draft"] is True
    assert data["draft"]["action"] == "created" and data["draft"]["url"]
    from jobs.releases.drafts import with_marker

    assert drafts[0]["body"] == with_marker(text)  # exactly the notes the run reported
    assert text.index("Features") < text.index("/pull/2") and "mathlib" in text


def test_a_human_edited_draft_is_never_overwritten(history: Path, hub: GitHubStandIn) -> None:
    run(history, "--tag", "v1.1.0")
    human = Github(auth=Auth.Token("human-token"), base_url=hub.api_url, seconds_between_requests=None,
                   seconds_between_writes=None)
    release = next(r for r in human.get_repo(REPO).get_releases() if r.tag_name == "v1.1.0")
    edited = "## Highlights\n\nHand-written intro.\n\n" + release.body
    release.update_release(name=release.name or "v1.1.0", message=edited, draft=True)
    code, data, _ = run(history, "--tag", "v1.1.0")
    assert data["draft"]["action"] == "kept-human-edits"
    bodies = {r["name"]: r["body"] for r in hub.releases() if r["tag_name"] == "v1.1.0"}
    assert edited in bodies.values()  # the person's text is intact
    assert any(name and name.endswith("(nightcrew draft)") for name in bodies)
    assert all(r["draft"] for r in hub.releases() if r["tag_name"] == "v1.1.0")  # nothing was published


def test_git_only_mode_writes_a_local_draft(history: Path) -> None:
    (history / "nightcrew.toml").write_text('[forge]\nweb_url = "https://git.example.org/acme/widgets"\n')
    code, data, err = run(history, "--tag", "v1.1.0", "--forge", "local")
    assert code == 0, err
    assert data["api_requests"] == 0 and data["previous_tag"] == "v1.0.0"
    assert {item["pr"] for item in data["items"] if item["pr"]} == {1, 2, 3, 4}  # git alone knows no labels
    path = Path(data["draft"]["path"])
    assert path.is_file() and "https://git.example.org/acme/widgets/pull/1" in path.read_text()
    again = run(history, "--tag", "v1.1.0", "--forge", "local")[1]
    assert again["draft"]["action"] == "updated" and again["draft"]["path"] == data["draft"]["path"]
    assert git(history, "status", "--porcelain") == ""  # nightcrew's files stay out of git status
    path.write_text(path.read_text() + "\n- Thanks to the beta testers\n")
    kept = run(history, "--tag", "v1.1.0", "--forge", "local")[1]
    assert kept["draft"]["action"] == "kept-human-edits"
    assert path.read_text().endswith("- Thanks to the beta testers\n")
    score = CliRunner().invoke(cli, ["notes", "score", "--tag", "v1.1.0", "--repo", str(history), "--forge", "local",
                                     "--format", "json"])
    assert score.exit_code == 0, score.stderr
    result = json.loads(score.stdout)
    assert result["added"] == ["Thanks to the beta testers"] and 0 < result["distance"] < 0.2


def test_first_release_covers_the_whole_history(history: Path) -> None:
    (history / "nightcrew.toml").write_text('[forge]\nweb_url = "https://git.example.org/acme/widgets"\n')
    code, data, _ = run(history, "--tag", "v1.0.0", "--forge", "local", "--dry-run")
    assert code == 0 and data["previous_tag"] is None and data["draft"] is None
    assert [item["title"] for item in data["items"]] == ["Initial"] and len(data["direct_commits"]) == 1


def test_unknown_tag_is_one_line_and_nothing_is_written(history: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "release-notes", "--repo", str(history), "--tag", "v9.9.9",
                                      "--forge", "local"])
    assert result.exit_code != 0 and result.stderr.count("\n") == 1 and "v9.9.9" in result.stderr
    assert not (history / ".nightcrew" / "releases").exists()


def test_optional_changelog_pull_request_prepends_the_notes_once(history: Path) -> None:
    (history / "CHANGELOG.md").write_text("# Changelog\n\nAll notable changes.\n\n## v1.0.0\n\n- First release\n")
    git(history, "add", "CHANGELOG.md")
    git(history, "commit", "-qm", "changelog")
    git(history, "push", "-q", "origin", "main")
    (history / "nightcrew.toml").write_text('[forge]\nweb_url = "https://git.example.org/acme/widgets"\n\n'
                                            '[release_notes]\nchangelog_file = "CHANGELOG.md"\n')
    code, data, err = run(history, "--tag", "v1.1.0", "--forge", "local")
    assert code == 0, err
    assert data["changelog_pr"]["action"] == "opened"
    branch = data["changelog_pr"]["branch"]
    text = subprocess.run(["git", "--git-dir", str(history.parent / "widgets.git"), "show", f"{branch}:CHANGELOG.md"],
                          capture_output=True, text=True, check=True).stdout
    assert text.startswith("# Changelog\n\nAll notable changes.\n\n<!-- nightcrew:release-notes v1.1.0 -->\n## v1.1.0\n")
    assert text.endswith("## v1.0.0\n\n- First release\n")
    assert "https://git.example.org/acme/widgets/pull/1" in text
    again = run(history, "--tag", "v1.1.0", "--forge", "local")[1]
    assert again["changelog_pr"]["action"] == "unchanged"
    listed = json.loads(CliRunner().invoke(cli, ["prs", "--repo", str(history), "--format", "json"]).stdout)
    assert [p["title"] for p in listed] == ["docs: release notes for v1.1.0"]


def test_changelog_blocks_for_several_tags_never_swallow_each_other() -> None:
    from jobs.release_notes import with_notes

    start = "# Changelog\n\nIntro.\n\n## v1.0.0\n\n- First\n"
    first = with_notes(start, "v1.1.0", "## What's changed\n\n- A\n")
    second = with_notes(first, "v1.2.0", "## What's changed\n\n- B\n")
    assert second.index("release-notes v1.2.0") < second.index("release-notes v1.1.0") < second.index("## v1.0.0")
    again = with_notes(second, "v1.1.0", "## What's changed\n\n- A reworded\n")
    assert "- B" in again and "- A reworded" in again and "- First" in again and "\n- A\n" not in again
    assert "### What's changed" in again and "\n## What's changed" not in again  # demoted below the release


def test_github_forge_without_token_says_it_wrote_locally(history: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    (history / "nightcrew.toml").write_text('[forge]\nkind = "github"\nweb_url = "https://git.example.org/a/b"\n')
    code, data, err = run(history, "--tag", "v1.1.0")
    assert code == 0 and "path" in data["draft"]
    assert any("no token in GITHUB_TOKEN" in n for n in data["notices"]) and "nightcrew: note:" in err

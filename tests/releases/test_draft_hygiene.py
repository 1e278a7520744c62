"""Release drafts a release manager can publish as they are: the right people credited (PR authors and co-authors,
never whoever pressed "merge"), plain @login credits, markdown that reads as written, one line for every
dependency bot's bumps, and no release chores; against a repository with merge commits through the GitHub
stand-in, and in git-only mode."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from jobs.cli import cli
from tests.support.github_server import GitHubStandIn

REPO = "acme/widgets"
MONA = ("Mona Maintainer", "mona@example.org")
PEOPLE = {"alice": ("Alice", "alice@example.org"), "bob": ("Bob", "bob@example.org"),
          "dependabot[bot]": ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
          "renovate[bot]": ("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com"),
          "pre-commit-ci[bot]": ("pre-commit-ci[bot]", "66853113+pre-commit-ci[bot]@users.noreply.github.com"),
          "mona": MONA}
# (number, title, author, head branch, extra message lines)
PULLS = [
    (1, "Add `retry()` & <timeout> handling to *all* clients", "alice", "alice/retries", ""),
    (2, "Fix the [x] | y parser for snake_case_names", "bob", "bob/parser",
     "Co-authored-by: Carol Coder <carol@example.org>"),
    (3, "Bump requests from 2.31.0 to 2.32.0", "dependabot[bot]", "dependabot/pip/requests-2.32.0", ""),
    (4, "Update dependency ruff to v0.6.0", "renovate[bot]", "renovate/ruff-0.x", ""),
    (5, "[pre-commit.ci] pre-commit autoupdate", "pre-commit-ci[bot]", "pre-commit-ci-update-config", ""),
    (6, "Release 2.0.0", "mona", "mona/release-2.0.0", ""),
]


def git(cwd: Path, *args: str, who: tuple[str, str] = MONA) -> str:
    env = {"GIT_AUTHOR_NAME": who[0], "GIT_AUTHOR_EMAIL": who[1], "GIT_COMMITTER_NAME": who[0],
           "GIT_COMMITTER_EMAIL": who[1], "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    remote, work = tmp_path / "widgets.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "README").write_text("widgets\n")
    git(work, "add", "README")
    git(work, "commit", "-qm", "initial")
    git(work, "tag", "v1.0.0")
    for number, title, author, branch, extra in PULLS:
        git(work, "checkout", "-q", "-b", branch)
        (work / f"change{number}.txt").write_text(title + "\n")
        git(work, "add", ".", who=PEOPLE[author])
        git(work, "commit", "-qm", title + (f"\n\n{extra}" if extra else ""), who=PEOPLE[author])
        git(work, "checkout", "-q", "main")
        owner = "acme" if author.endswith("[bot]") else author  # bots push to the repository itself
        git(work, "merge", "-q", "--no-ff", branch, "-m", f"Merge pull request #{number} from {owner}/{branch}",
            "-m", title)  # Mona presses the button every time
    git(work, "tag", "v2.0.0")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main", "--tags")
    (work / ".git" / "info" / "exclude").write_text("nightcrew.toml\n")
    return work


def draft(repo: Path) -> dict:
    result = CliRunner().invoke(cli, ["run", "release-notes", "--repo", str(repo), "--tag", "v2.0.0", "--dry-run",
                                      "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def check(data: dict, authors: dict[int, str | None]) -> None:
    text = data["text"]
    assert data["complete"] is True
    # credited: the PR authors and the co-author, never Mona (she only merged) and never a bot
    assert data["contributors"] == [authors[1], authors[2], "Carol Coder"]
    assert "<!-- -->" not in text and "&amp;" not in text
    # the markdown reads as the titles do
    md = MarkdownIt("commonmark")
    items = [t.content for t in md.parseInline(text.split("### ", 2)[-1]) if t.type == "inline"]
    shown = "".join(c.content for token in md.parse(text) if token.type == "inline" for c in token.children or []
                    if c.type in ("text", "code_inline"))
    assert "Add retry() & <timeout> handling to *all* clients" in shown
    assert "Fix the [x] | y parser for snake_case_names" in shown
    assert items
    # one line for every dependency bot's bumps, each linked
    bump_lines = [line for line in text.splitlines() if line.startswith("- Bumped")]
    assert len(bump_lines) == 1
    for number in (3, 4, 5):
        assert f"#{number}" in bump_lines[0]
    assert "requests 2.31.0 → 2.32.0" in bump_lines[0] and "ruff to v0.6.0" in bump_lines[0]
    # the release chore is left out by a named rule the JSON lists
    assert data["excluded"] == [{"pr": 6, "rule": "release chore: the release itself (version bump, changelog update)"}]
    assert "Release 2.0.0" not in text


def test_git_only_draft_of_merge_commits(repo: Path) -> None:
    check(draft(repo), {1: "Alice", 2: "Bob"})


def test_github_draft_credits_pr_authors_as_plain_handles(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with GitHubStandIn(repo.parent / "widgets.git", full_name=REPO) as hub:
        for number, title, author, branch, _extra in PULLS:
            hub.add_merged_pull(title, "", number=number, author=author, head=branch, merged_by="mona")
        (repo / "nightcrew.toml").write_text(
            f'[forge]\nkind = "github"\napi_url = "{hub.api_url}"\nrepository = "{REPO}"\nthrottle = false\n'
            f'web_url = "{hub.web_url}/{REPO}"\n')
        monkeypatch.setenv("GITHUB_TOKEN", "bot-token")
        data = draft(repo)
    check(data, {1: "alice", 2: "bob"})
    assert "by @alice in" in data["text"] and "@alice, @bob, Carol Coder" in data["text"]
    assert "mona" not in data["text"].lower()


def test_bots_can_be_credited_apart(repo: Path) -> None:
    (repo / "nightcrew.toml").write_text("[release_notes]\ncredit_bots = true\n")
    data = draft(repo)
    assert "Automated contributions: @dependabot[bot], @renovate[bot], @pre-commit-ci[bot]" in data["text"]
    assert data["contributors"] == ["Alice", "Bob", "Carol Coder"]

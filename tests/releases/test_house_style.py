"""Release notes in the project's own voice: the house style learned from the notes file (Markdown and
reStructuredText), categories learned from history, curated text first, news fragments, and the job end to end on
real git repositories."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from jobs.releases import style as house_style
from jobs.releases.house import plain_rst

STARLETTE_LIKE = """\
---
toc_depth: 2
---

## 1.2.1 (May 31, 2026)

#### Fixed

* Use `httpx2` for type checking in the `testclient` module [#3304](https://github.com/acme/web/pull/3304).
* Add assert error for `requires()` [#3298](https://github.com/acme/web/pull/3298).

## 1.2.0 (May 28, 2026)

#### Added

* Support httpx2 in the test client [#3291](https://github.com/acme/web/pull/3291).
* Add the `full` extra [#3280](https://github.com/acme/web/pull/3280).

#### Fixed

* Only dispatch standard HTTP verbs in `HTTPEndpoint` [#3286](https://github.com/acme/web/pull/3286).
* Reject absolute paths in `StaticFiles.lookup_path` [#3287](https://github.com/acme/web/pull/3287).
* Fix the content length of streamed responses [#3270](https://github.com/acme/web/pull/3270).

## 1.1.0 (May 23, 2026)

#### Removed

* Remove the deprecated `on_startup` argument [#3200](https://github.com/acme/web/pull/3200).
"""

TOWNCRIER_RST = """\
Release history
===============

.. towncrier release notes start

Web 0.31.0 (2025-09-09)
-----------------------

Features
~~~~~~~~

- Allow pickling ``Cancelled``. (`#3007 <https://github.com/acme/web/issues/3007>`__)

Bugfixes
~~~~~~~~

- Fix the REPL on Windows. (`#3010 <https://github.com/acme/web/issues/3010>`__)
- Make ctrl+c work in more places. (`#3012 <https://github.com/acme/web/issues/3012>`__)


Web 0.30.0 (2025-04-20)
-----------------------

Bugfixes
~~~~~~~~

- Fix a leak. (`#2990 <https://github.com/acme/web/issues/2990>`__)
- Fix a hang. (`#2995 <https://github.com/acme/web/issues/2995>`__)
"""


def test_markdown_house_style_is_learned() -> None:
    style = house_style.learn(STARLETTE_LIKE, "docs/release-notes.md")
    assert style is not None
    assert (style.markup, style.heading, style.heading_level, style.category_level) == \
        ("markdown", "{version} ({date})", 2, 4)
    assert style.bullet == "*"
    assert style.ref == " [#{n}]({url})" and style.ref_url == "https://github.com/acme/web/pull/{n}"
    assert style.period_after_ref and not style.period_before_ref
    titles = [c.title for c in style.categories]
    assert set(titles) == {"Added", "Fixed", "Removed"} and titles.index("Added") < titles.index("Fixed")
    assert style.order == "descending"  # the items of each heading go down in PR number
    item = house_style.item_text(style, {"title": "Clamp oversized ranges", "pr": 3307, "url": None})
    assert item == "Clamp oversized ranges [#3307](https://github.com/acme/web/pull/3307)."


def test_rst_towncrier_style_is_learned_and_rendered() -> None:
    style = house_style.learn(TOWNCRIER_RST, "docs/source/history.rst")
    assert style is not None
    assert (style.markup, style.heading, style.heading_rule, style.category_rule) == \
        ("rst", "Web {version} ({date})", "-", "~")
    assert style.ref == " (`#{n} <{url}>`__)" and style.period_before_ref
    assert style.order == "ascending"
    text = house_style.render(style, version="0.32.0", previous="0.31.0", day=date(2025, 10, 31), categories=[
        ("Bugfixes", [{"title": "Fix the parser", "pr": 3321, "url": None}])])
    assert text == ("Web 0.32.0 (2025-10-31)\n-----------------------\n\nBugfixes\n~~~~~~~~\n\n"
                    "- Fix the parser. (`#3321 <https://github.com/acme/web/issues/3321>`__)\n")


@pytest.mark.parametrize(("title", "expected"), [
    ("Fix the timeout (#3)", "Fixed"),
    ("Add `httpx2` to the full extra", "Added"),
    ("Remove the legacy router", "Removed"),
    ("fix(client): handle empty bodies", "Fixed"),
    ("🐛 repair the cache", "Fixed"),
    ("feat: support HTTP/3", "Added"),
])
def test_prs_land_under_the_heading_the_house_uses(title: str, expected: str) -> None:
    style = house_style.learn(STARLETTE_LIKE, "docs/release-notes.md")
    assert house_style.classify(title, style)[0] == expected


@pytest.mark.parametrize(("title", "kind"), [
    ("ci: run the tests on 3.14", "internal"),
    ("Fix flaky test of the reloader", "internal"),
    ("chore(deps): bump the python-packages group with 2 updates", "deps"),
    ("[pre-commit.ci] pre-commit autoupdate", "deps"),
    ("docs: fix TestClient examples", "docs"),
    ("Version 1.3.0", "release"),
    ("Bump v8.2.8", "release"),
    ("Prepare release 9.0.2", "release"),
    ("Update CHANGELOG.md", "release"),
    ("Bump version and update changelog", "release"),
])
def test_changes_the_house_never_lists_are_left_out_by_a_named_rule(title: str, kind: str) -> None:
    style = house_style.learn(STARLETTE_LIKE, "docs/release-notes.md")
    category, found = house_style.classify(title, style)
    assert (category, found) == (None, kind)
    assert house_style.RULES[kind]


def test_a_testclient_change_is_not_internal() -> None:
    assert house_style.kind_of("Adjust testclient typing and warnings") != "internal"


@pytest.mark.parametrize(("text", "expected"), [
    ("Use `x` for *all* things", "Use ``x`` for \\*all\\* things"),
    ("Support the pipe | operator", "Support the pipe \\| operator"),
    ("- looks like a list", "\\- looks like a list"),
    ("Rename foo_ to bar", "Rename foo\\_ to bar"),
    (".. raw:: html", "\\.. raw:: html"),
])
def test_rst_escaping_leaves_text_as_written(text: str, expected: str) -> None:
    assert plain_rst(text) == expected


# -- the job end to end -----------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.org", "GIT_COMMITTER_NAME": "Alice",
           "GIT_COMMITTER_EMAIL": "alice@example.org", "GIT_AUTHOR_DATE": "2026-06-11T10:00:00Z",
           "GIT_COMMITTER_DATE": "2026-06-11T10:00:00Z", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


def commit(repo: Path, message: str, files: dict[str, str] | None = None) -> None:
    for name, text in (files or {"log.txt": message}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
        git(repo, "add", name)
    git(repo, "commit", "-qm", message)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    work = tmp_path / "web"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    commit(work, "initial", {"docs/release-notes.md": STARLETTE_LIKE})
    git(work, "tag", "1.2.1")
    git(work, "remote", "add", "origin", "https://github.com/acme/web.git")
    commit(work, "Clamp oversized suffix ranges in `FileResponse` (#3307)")
    commit(work, "Add `httpx2` to the `full` extra (#3323)")
    commit(work, "chore(deps): bump the python-packages group with 2 updates (#3314)")
    commit(work, "docs: fix TestClient examples (#3319)")
    commit(work, "Fix `IndexError` in `URL.replace()` & friends (#3317)")
    commit(work, "Tidy the release script")  # a direct commit
    commit(work, "Version 1.3.0 (#3327)")
    git(work, "tag", "1.3.0")
    (work / ".git" / "info" / "exclude").write_text("nightcrew.toml\n")
    return work


def notes(repo: Path, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["run", "release-notes", "--repo", str(repo), "--tag", "1.3.0", "--dry-run",
                                      "--format", "json", *args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_draft_is_written_in_the_house_style(project: Path) -> None:
    data = notes(project)
    assert data["source"] == "house-style" and data["complete"] is True
    assert data["text"] == (
        "## 1.3.0 (June 11, 2026)\n\n"
        "#### Added\n\n"
        "* Add `httpx2` to the `full` extra [#3323](https://github.com/acme/web/pull/3323).\n\n"
        "#### Fixed\n\n"
        "* Fix `IndexError` in `URL.replace()` & friends [#3317](https://github.com/acme/web/pull/3317).\n"
        "* Clamp oversized suffix ranges in `FileResponse` [#3307](https://github.com/acme/web/pull/3307).\n")
    rules = {e["pr"]: e["rule"] for e in data["excluded"]}
    assert set(rules) == {3314, 3319, 3327}
    assert rules[3327].startswith("release chore")
    assert [c["rule"] for c in data["excluded_commits"]] == [house_style.DIRECT_RULE]
    assert data["style"]["source"] == "docs/release-notes.md"


def test_style_default_keeps_nightcrews_own_layout(project: Path) -> None:
    (project / "nightcrew.toml").write_text('[release_notes]\nstyle = "default"\n')
    data = notes(project)
    assert data["source"] == "default" and data["text"].startswith("## What's changed")


def test_a_pinned_heading_and_order_win_over_the_learned_ones(project: Path) -> None:
    (project / "nightcrew.toml").write_text('[release_notes]\nheading = "Release {version}"\n'
                                            'item_order = "ascending"\n')
    text = notes(project)["text"]
    assert text.startswith("## Release 1.3.0\n")
    assert text.index("#3307") < text.index("#3317")


def test_a_section_written_for_the_release_is_the_draft(project: Path) -> None:
    section = ("## 1.3.0 (June 11, 2026)\n\n#### Fixed\n\n* Clamp ranges properly "
               "[#3307](https://github.com/acme/web/pull/3307).\n\n")
    notes_file = project / "docs" / "release-notes.md"
    notes_file.write_text(notes_file.read_text().replace("## 1.2.1", section + "## 1.2.1", 1))
    git(project, "commit", "-qam", "Write the notes for 1.3.0")
    git(project, "tag", "-f", "1.3.0")
    data = notes(project)
    assert data["source"] == "curated-section" and data["complete"] is True
    assert data["text"].startswith(section.rstrip("\n") + "\n")
    assert data["not_in_notes"] == [3323, 3314, 3319, 3317, 3327]
    assert "<!-- not in the notes: #3323, #3314, #3319, #3317, #3327 -->" in data["text"]


def test_news_fragments_are_the_draft(project: Path) -> None:
    commit(project, "Add fragments", {"changelog.d/3307.bugfix.md": "Clamp oversized ranges.\n",
                                      "changelog.d/3323.feature.md": "Add the `httpx2` extra.\n"})
    git(project, "tag", "-f", "1.3.0")
    data = notes(project)
    assert data["source"] == "news-fragments"
    text = data["text"]
    assert "#### Added\n\n* Add the `httpx2` extra. [#3323](https://github.com/acme/web/pull/3323)." in text
    assert "#### Fixed\n\n* Clamp oversized ranges. [#3307](https://github.com/acme/web/pull/3307)." in text
    assert 3317 in data["not_in_notes"]


GITHUB_STYLE = """\
# Changelog

## v2.1.0

### Fixed

- Fix the parser by @alice in [#41](https://github.com/acme/web/pull/41)
- Handle empty input by @bob in [#40](https://github.com/acme/web/pull/40)

## v2.0.0

### Added

- Add the CLI by @carol in [#30](https://github.com/acme/web/pull/30)
"""

TOWNCRIER_CREDITS = """\
## v7.6.0

### Bug fixes

- Fixed the index URLs -- by {user}`sirosen` ({issue}`1669`)
- Added a missing dependency -- by {user}`webknjaz` ({issue}`1670`)
"""


@pytest.mark.parametrize(("notes", "expected"), [
    (GITHUB_STYLE, "Fix the timeout by @dave in [#50](https://github.com/acme/web/pull/50)"),
    (TOWNCRIER_CREDITS, "Fix the timeout -- by {user}`dave` ({issue}`50`)"),
])
def test_credits_take_the_notes_files_form(notes: str, expected: str) -> None:
    style = house_style.learn(notes, "CHANGELOG.md")
    assert house_style.item_text(style, {"title": "Fix the timeout", "pr": 50, "url": None, "author": "dave"}) == \
        expected
    # a bot is never credited, and an author without a login is not either
    assert "@" not in house_style.item_text(style, {"title": "X", "pr": 51, "url": None, "author": "renovate[bot]"})
    assert house_style.item_text(style, {"title": "X", "pr": 52, "url": None, "author": None}).startswith("X ")

"""Release-note categories: GitHub's release.yml shape (from YAML or a dict), exclusions, catch-all, and the
conventional-commit fallback with breaking changes first."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.models import PullInfo
from jobs.releases import history
from jobs.releases.compose import check_complete, compose
from jobs.releases.enrich import git_only
from tests.releases.gitrepo import ALICE, Repo
from jobs.releases.categories import (CategoryConfig, CategoryError, categorize, config_from_dict, find_release_yml,
                                      load_release_yml, parse_conventional)

RELEASE_YML = """\
# https://docs.github.com/en/repositories/releasing-projects-on-github/automatically-generated-release-notes
changelog:
  exclude:
    labels:
      - ignore-for-release
    authors:
      - octocat
      - dependabot
  categories:
    - title: "🛠 Breaking Changes"
      labels:
        - breaking-change
    - title: Exciting New Features 🎉
      labels:
        - enhancement
        - feature
      exclude:
        labels: [wip]
    - title: "🐛 Bug Fixes"
      labels: [bug]
      exclude:
        authors: [legacy-bot]
    - title: Other Changes
      labels:
        - "*"
"""


def pr(title: str, *labels: str, author: str | None = "alice", body: str = "", number: int = 1) -> PullInfo:
    return PullInfo(number=number, title=title, labels=labels, author=author, body=body)


@pytest.fixture
def yml(tmp_path: Path) -> CategoryConfig:
    path = tmp_path / ".github" / "release.yml"
    path.parent.mkdir()
    path.write_text(RELEASE_YML, encoding="utf-8")
    assert find_release_yml(tmp_path) == path
    config = load_release_yml(path)
    assert config is not None
    return config


def test_release_yml_is_read(yml: CategoryConfig) -> None:
    assert [c.title for c in yml.categories] == [
        "🛠 Breaking Changes", "Exciting New Features 🎉", "🐛 Bug Fixes", "Other Changes"]
    assert yml.exclude_labels == ("ignore-for-release",)
    assert yml.exclude_authors == ("octocat", "dependabot")
    assert yml.categories[1].exclude_labels == ("wip",)
    assert yml.categories[3].catch_all
    assert yml.breaking_category == "🛠 Breaking Changes"
    assert yml.order()[0] == "🛠 Breaking Changes" and yml.order()[-2:] == ["Other Changes", "Other changes"]


def test_labels_pick_the_first_matching_category(yml: CategoryConfig) -> None:
    assert categorize(pr("Add export", "feature"), yml) == ("Exciting New Features 🎉", "label: feature", False)
    assert categorize(pr("Fix crash", "BUG"), yml).category == "🐛 Bug Fixes"  # labels compare case-insensitively
    assert categorize(pr("Both", "bug", "enhancement"), yml).category == "Exciting New Features 🎉"


def test_exclusions_by_label_and_author_are_named(yml: CategoryConfig) -> None:
    assert categorize(pr("Chore", "ignore-for-release"), yml) == (None,
                                                                   "changelog.exclude.labels: ignore-for-release",
                                                                   False)  # fmt: skip
    assert categorize(pr("Hi", "bug", author="octocat"), yml)[:2] == (None, "changelog.exclude.authors: octocat")
    # "dependabot" in release.yml covers the app's login "dependabot[bot]"
    assert categorize(pr("Bump x", author="dependabot[bot]"), yml).rule == "changelog.exclude.authors: dependabot[bot]"


def test_category_exclusions_fall_through_to_the_catch_all(yml: CategoryConfig) -> None:
    assert categorize(pr("Half done", "feature", "wip"), yml) == ("Other Changes", "catch-all *", False)
    assert categorize(pr("Fix", "bug", author="legacy-bot"), yml).category == "Other Changes"
    assert categorize(pr("Unlabelled prose title", "question"), yml).category == "Other Changes"


def test_a_category_exclusion_with_nowhere_else_to_go_excludes_by_that_rule() -> None:
    config = config_from_dict({"changelog": {"categories": [
        {"title": "Contributions", "labels": ["*"], "exclude": {"labels": ["no-release-note"]}}]}})
    assert categorize(pr("Internal", "no-release-note"), config)[:2] == (
        None, "categories[Contributions].exclude.labels: no-release-note")
    assert categorize(pr("Visible", "x"), config).category == "Contributions"


def test_breaking_changes_go_first_whatever_their_labels(yml: CategoryConfig) -> None:
    assert categorize(pr("Drop API", "breaking-change"), yml) == (
        "🛠 Breaking Changes", "breaking: label breaking-change", True)
    assert categorize(pr("feat(api)!: new auth", "feature"), yml).category == "🛠 Breaking Changes"
    body = "Reworks config.\n\nBREAKING CHANGE: the `path` key is gone."
    assert categorize(pr("Rework config", "bug", body=body), yml).breaking
    # a PR template's unchecked box or prose in lower case is not a breaking marker
    assert not categorize(pr("Fix", "bug", body="- [ ] BREAKING CHANGE\nno breaking change here"), yml).breaking


PR_TEMPLATE = """## What this changes

<!-- Describe the change. If it breaks users, add a footer like:
BREAKING CHANGE: what breaks, and how to migrate
-->

## Breaking changes

BREAKING CHANGE: none
"""


@pytest.mark.parametrize("body", [
    PR_TEMPLATE,
    "Documents the footer:\n\n```\nfeat!: drop x\n\nBREAKING CHANGE: x is gone\n```\n",
    "~~~text\nBREAKING CHANGE: in a tilde fence\n~~~",
    "<!-- BREAKING CHANGE: an unclosed comment hides the rest\n\nBREAKING CHANGE: hidden too",
    "BREAKING CHANGE: N/A", "BREAKING CHANGES: n/a.", "**BREAKING CHANGE**: No", "BREAKING CHANGE - nothing",
    "> BREAKING-CHANGE: none",
])  # fmt: skip
def test_breaking_markers_github_hides_or_that_say_none_are_not_breaking(body: str) -> None:
    assert categorize(pr("Tidy the docs", body=body)) == ("Other changes", "no category matched", False)


@pytest.mark.parametrize("body", [
    PR_TEMPLATE.replace("BREAKING CHANGE: none", "BREAKING CHANGE: the `path` key is gone"),
    "```\nexample\n```\nBREAKING CHANGE: the config moves",
    "BREAKING CHANGE: no longer reads ~/.widgets",
    "<!-- template -->\nBREAKING CHANGE: drops Python 3.8",
])  # fmt: skip
def test_breaking_markers_in_prose_still_count(body: str) -> None:
    assert categorize(pr("Tidy the docs", body=body)) == ("Breaking changes", "breaking: BREAKING CHANGE", True)


def test_a_direct_commits_hidden_breaking_marker_is_not_breaking(tmp_path: Path) -> None:
    r = Repo(tmp_path / "repo")
    r.commit("Initial commit", ALICE)
    r.tag("v1.0.0")
    r.commit("docs: show the footer\n\n```\nBREAKING CHANGE: example\n```\n\nBREAKING CHANGE: none\n", ALICE)
    r.commit("refactor: move the config\n\nBREAKING CHANGE: config.toml moves to .widgets/\n", ALICE)
    r.tag("v1.1.0")
    range_ = history.find_range(r.path, "v1.1.0")
    note = compose(range_, git_only(range_.pulls, None), repo_url=None)
    assert check_complete(range_, note) == []
    assert [(title, [i.title for i in items]) for title, items in note.categories] == [
        ("Breaking changes", ["Move the config"]), ("Documentation", ["Show the footer"])]


def test_unlabelled_prs_fall_back_to_conventional_types_and_find_release_yml_categories(yml: CategoryConfig) -> None:
    assert categorize(pr("fix(io): close files"), yml) == ("🐛 Bug Fixes", "conventional: fix", False)
    assert categorize(pr("feat: export"), yml).category == "Exciting New Features 🎉"
    assert categorize(pr("docs: typo"), yml).category == "Documentation"  # no such category: the mapped title
    assert categorize(pr("Plain title"), yml).category == "Other Changes"


def test_conventional_defaults_without_any_config() -> None:
    config = CategoryConfig()
    cases = {
        "feat: a": "Features", "fix: b": "Bug fixes", "perf(db): c": "Performance", "docs: d": "Documentation",
        "refactor: e": "Refactoring", "test: f": "Tests", "build: g": "Maintenance", "ci: h": "Maintenance",
        "chore: i": "Maintenance", "build(deps): bump x from 1 to 2": "Dependencies", "deps: j": "Dependencies",
        "Revert \"feat: a\"": "Other changes", "Something": "Other changes", "feat!: k": "Breaking changes",
        "FEAT: loud": "Features",
    }  # fmt: skip
    for title, expected in cases.items():
        assert categorize(pr(title, author=None), config).category == expected, title
    assert categorize(pr("chore: x", body="BREAKING-CHANGE: y"), config) == ("Breaking changes",
                                                                             "breaking: BREAKING CHANGE", True)
    assert config.order()[:3] == ["Breaking changes", "Features", "Bug fixes"]


def test_labelled_prs_without_label_categories_still_use_the_title_type() -> None:
    assert categorize(pr("fix: x", "triage")).category == "Bug fixes"


def test_categories_from_a_flat_config_dict() -> None:
    config = config_from_dict({
        "categories": [{"title": "Features", "labels": ["feature"], "exclude_labels": ["wip"]},
                       {"title": "Everything else", "labels": ["*"], "exclude_authors": ["bot"]}],
        "exclude_labels": ["skip"], "exclude_authors": ["ghost"],
        "conventional": {"perf": "Speed", "chore": ""}, "breaking_title": "⚠️ Breaking",
        "tag_pattern": "ignored",
    })  # fmt: skip
    assert config.source == "config"
    assert config.categories[0].exclude_labels == ("wip",) and config.categories[1].exclude_authors == ("bot",)
    assert categorize(pr("x", "skip"), config).rule == "changelog.exclude.labels: skip"
    assert categorize(pr("x", author="ghost"), config).rule == "changelog.exclude.authors: ghost"
    assert categorize(pr("x", "feature"), config).category == "Features"
    assert categorize(pr("refactor!: y"), config).category == "⚠️ Breaking"
    # unlabelled: conventional first; the map is merged over the defaults, "" drops a type
    assert categorize(pr("perf: z"), config).category == "Speed"
    assert categorize(pr("feat: z"), config).category == "Features"  # a category with the type's usual label wins
    assert categorize(pr("chore: z"), config).category == "Everything else"
    assert categorize(pr("chore: z", author="bot"), config)[:2] == (
        None, "categories[Everything else].exclude.authors: bot")
    assert dict(config.conventional)["fix"] == "Bug fixes"


def test_bad_or_missing_release_yml(tmp_path: Path) -> None:
    assert load_release_yml(tmp_path / "nope.yml") is None
    (tmp_path / "empty.yml").write_text("# nothing\n")
    assert load_release_yml(tmp_path / "empty.yml") is None
    (tmp_path / "other.yml").write_text("something: else\n")
    assert load_release_yml(tmp_path / "other.yml") is None
    (tmp_path / "bad.yml").write_text("changelog:\n  categories: [\n")
    with pytest.raises(CategoryError, match="bad.yml:.*not valid YAML"):
        load_release_yml(tmp_path / "bad.yml")
    (tmp_path / "wrong.yml").write_text("changelog:\n  categories:\n    - labels: [x]\n")
    with pytest.raises(CategoryError, match=r"categories\[0\].title"):
        load_release_yml(tmp_path / "wrong.yml")
    (tmp_path / "one.yml").write_text("changelog:\n  categories:\n    - title: Fixes\n      labels: bug\n")
    assert load_release_yml(tmp_path / "one.yml").categories[0].labels == ("bug",)  # type: ignore[union-attr]


def test_parse_conventional_only_for_known_types() -> None:
    assert parse_conventional("feat(ui)!: dark mode") is not None
    parsed = parse_conventional("feat(ui)!: dark mode")
    assert parsed is not None and (parsed.type, parsed.scope, parsed.breaking, parsed.description) == (
        "feat", "ui", True, "dark mode")
    assert parse_conventional("Note: prose", {"feat", "fix"}) is None

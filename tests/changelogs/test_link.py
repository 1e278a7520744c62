"""The changelog link from the package's Project-URLs, under the labels people use."""

from __future__ import annotations

import pytest
from packaging.version import Version

from jobs.changelogs.base import ChangelogRequest
from jobs.changelogs.link import LinkSource, normalize_label
from jobs.models import ChangelogOrigin


def fetch(urls: dict[str, str]) -> list:
    return LinkSource().fetch(ChangelogRequest("acme", Version("1.0"), Version("1.1"), project_urls=urls))


@pytest.mark.parametrize("label", ["Changelog", "changelog", "Change Log", "CHANGE-LOG", "Changes", "Release notes",
                                   "Release Notes", "release_notes", "History", "What's new", "Whats New"])
def test_changelog_labels(label: str) -> None:
    found = fetch({"Homepage": "https://acme.example", label: "https://acme.example/log"})
    assert len(found) == 1
    assert found[0].origin == ChangelogOrigin("link", url="https://acme.example/log") and found[0].texts == {}


@pytest.mark.parametrize("label", ["Homepage", "Source", "Documentation", "Issues", "Changelog archive", "News"])
def test_other_labels_are_not_changelogs(label: str) -> None:
    assert fetch({label: "https://acme.example/x"}) == []


def test_best_label_first_duplicates_once_and_only_web_links() -> None:
    found = fetch({"History": "https://acme.example/history", "Changes": "https://acme.example/log",
                   "Changelog": "https://acme.example/log", "Release notes": "ftp://acme.example/notes",
                   "What's New": "https://user:token@acme.example/new"})
    assert [f.origin.url for f in found] == ["https://acme.example/log", "https://acme.example/history",
                                             "https://user:***@acme.example/new"]


def test_label_normalization_follows_pep_753() -> None:
    assert normalize_label("What's New?") == "whatsnew"
    assert normalize_label(" Release-Notes ") == "releasenotes"


def test_no_project_urls() -> None:
    assert fetch({}) == []

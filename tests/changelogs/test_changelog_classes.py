"""Classes of real-world changelogs the reader used to miss, each in texts written in that shape (not copies of
upstream files), read end to end: real sdists on a loopback index, the finder picks the source and cuts the slice.

1. bare-line headings ("6.0.2 (2024-08-06)") above underlined old ones, in an extension-less ``CHANGES``;
2. one file per release whose own title is prose ("Acme 5.1.2 release notes"), beside index and security files;
3. notes split by series: the top-level file holds the current series, ``doc/changes/<series>.rst`` the older;
4. release markers that are not headings: Sphinx ``releases`` bullets, and ``= X.Y.Z (YYYYMMDD) =`` lines;
5. a changelog file with a single release heading.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from packaging.version import Version

from jobs.changelogs.finder import ChangelogFinder
from jobs.changelogs.parse import find_releases, looks_like_changelog
from jobs.index.client import IndexClient
from jobs.index.locate import IndexLocation
from jobs.tools import Gate
from tests.support.distbuild import build_sdist


def find(index, tmp_path: Path, files_by_version: dict[str, dict[str, str]] | None, old: str, new: str):
    """The changelog of acme from ``old`` to ``new``, after publishing ``files_by_version`` (None: as published)."""
    dest = tmp_path / "dists"
    dest.mkdir(parents=True, exist_ok=True)
    for version, files in (files_by_version or {}).items():
        index.add(build_sdist(dest, "acme", version, extra_files=files))
    client = IndexClient(IndexLocation(index.url, (), "config"), cache_dir=tmp_path / "cache", retries=1,
                         backoff=0.01)
    chain = ChangelogFinder(client, Gate(run_id=uuid.uuid4().hex[:8], job="test"))
    with client:
        return chain.find("acme", Version(old), Version(new), client.project("acme"))


def versions_of(changelog) -> list[str]:
    return [s.version for s in changelog.sections]


# -- 1. bare-line headings over underlined old ones --------------------------------------------------------

BARE_CHANGES = """\
For a complete changelog, see the commit log.

2.4.1 (2025-06-02)

* Fix a crash on empty input -- #812

2.4.0 (2025-03-11)

* Support the new loader -- #790
* Drop the old one -- #771

2.3.0 (2024-10-01)

* Faster scanner -- #700

2.2 (2023-01-15)
----------------

* Last release with underlined headings

2.1 (2022-05-30)
----------------

* Older entry
"""


def test_bare_line_headings_above_underlined_ones(static_index, tmp_path: Path) -> None:
    versions = {v: {"CHANGES": BARE_CHANGES} for v in ("2.2", "2.3.0", "2.4.0", "2.4.1")}
    found = find(static_index, tmp_path, versions, "2.3.0", "2.4.1")
    assert found.origin.path == "CHANGES"
    assert versions_of(found) == ["2.4.1", "2.4.0"]
    assert found.sections[1].text == ("2.4.0 (2025-03-11)\n\n* Support the new loader -- #790\n"
                                      "* Drop the old one -- #771")
    assert found.missing_versions == ()
    # across the change of style: the underlined era is still read
    found = find(static_index, tmp_path / "across", None, "2.1", "2.3.0")
    assert versions_of(found) == ["2.3.0", "2.2"]
    assert found.sections[0].text == "2.3.0 (2024-10-01)\n\n* Faster scanner -- #700"


def test_a_stray_bold_version_line_in_a_headed_changelog_is_still_emphasis() -> None:
    text = ("Changelog\n=========\n\n**2.0** is coming; read the plan.\n\n1.1.0\n-----\n\n- b\n\n"
            "1.0.0\n-----\n\n- a\n")
    assert [r.versions for r in find_releases(text, "CHANGES.rst")] == [("1.1.0",), ("1.0.0",)]


# -- 2. one file per release, titled in prose ---------------------------------------------------------------

def per_release(version: str, date: str) -> str:
    title = f"Acme {version} release notes"
    rule = "=" * len(title)
    return (f"{rule}\n{title}\n{rule}\n\n*{date}*\n\nAcme {version} fixes several bugs in {version[:3]}.\n\n"
            f"Bugfixes\n========\n\n* Fixed a regression in {version} (:ticket:`35{version[-1]}00`).\n")


def test_one_file_per_release_with_its_own_title(static_index, tmp_path: Path) -> None:
    files = {f"docs/releases/{v}.txt": per_release(v, d) for v, d in
             (("5.0", "December 4, 2023"), ("5.0.1", "January 2, 2024"), ("5.0.2", "February 6, 2024"),
              ("5.0.3", "March 4, 2024"), ("5.1", "August 7, 2024"))}
    files["docs/releases/index.txt"] = "=============\nRelease notes\n=============\n\n.. toctree::\n\n   5.1\n"
    files["docs/releases/security.txt"] = "=================\nSecurity archive\n=================\n\nNone yet.\n"
    # a numbered notes file beside the others, as NumPy names them, after a directive line
    files["docs/releases/5.0.4-notes.txt"] = ".. currentmodule:: acme\n\n" + per_release("5.0.4", "May 1, 2024")
    found = find(static_index, tmp_path, {"5.0.1": files, "5.1": files}, "5.0.1", "5.1")
    assert found.origin.path == "docs/releases"
    assert versions_of(found) == ["5.1", "5.0.4", "5.0.3", "5.0.2"]
    assert [s.heading for s in found.sections] == ["Acme 5.1 release notes", "Acme 5.0.4 release notes",
                                                   "Acme 5.0.3 release notes", "Acme 5.0.2 release notes"]
    assert [s.file for s in found.sections] == ["docs/releases/5.1.txt", "docs/releases/5.0.4-notes.txt",
                                                "docs/releases/5.0.3.txt", "docs/releases/5.0.2.txt"]
    assert found.sections[0].text == per_release("5.1", "August 7, 2024").rstrip("\n")
    assert found.sections[1].text.startswith("=====") and ".. currentmodule" not in found.sections[1].text


# -- 3. notes split by series -------------------------------------------------------------------------------

TOP_SERIES = """\
========
Changes
========

Release 9.1.1 (released Jan 10, 2026)
=====================================

Bugs fixed
----------

* #13001: Fix the builder.

Release 9.1.0 (released Jan 02, 2026)
=====================================

Features added
--------------

* #12950: A new option.
"""

OLD_SERIES = """\
==========
Sphinx 9.0
==========

Release 9.0.4 (released Dec 20, 2025)
=====================================

* #12990: Fix a crash.

Release 9.0.3 (released Dec 01, 2025)
=====================================

* #12900: Fix the parser.

Release 9.0.0 (released Nov 10, 2025)
=====================================

* First of the series.
"""

OLDER_SERIES = OLD_SERIES.replace("9.0", "8.2")


def test_an_upgrade_across_a_series_boundary_reads_both_files(static_index, tmp_path: Path) -> None:
    files = {"CHANGES.rst": TOP_SERIES, "doc/changes/9.0.rst": OLD_SERIES, "doc/changes/8.2.rst": OLDER_SERIES,
             "doc/changes/index.rst": "Changelog\n=========\n\n.. toctree::\n\n   9.0\n   8.2\n"}
    versions = {v: files for v in ("9.0.3", "9.0.4", "9.1.0", "9.1.1")}
    found = find(static_index, tmp_path, versions, "9.0.3", "9.1.1")
    assert versions_of(found) == ["9.1.1", "9.1.0", "9.0.4"]
    assert [s.file for s in found.sections] == ["CHANGES.rst", "CHANGES.rst", "doc/changes/9.0.rst"]
    assert found.missing_versions == ()
    assert found.sections[2].text == ("Release 9.0.4 (released Dec 20, 2025)\n"
                                      "=====================================\n\n* #12990: Fix a crash.")
    # within the current series, the top-level file alone
    found = find(static_index, tmp_path / "within", None, "9.1.0", "9.1.1")
    assert versions_of(found) == ["9.1.1"] and found.sections[0].file is None


# -- 4. release markers that are not headings ---------------------------------------------------------------

RELEASES_EXT = """\
=========
Changelog
=========

- :bug:`2301` Not released yet: a fix waiting for the next release.
- :release:`3.5.1 <2025-02-03>`
- :bug:`2290` Fix the key loader on empty files.
- :support:`2288` Document the agent.
- :release:`3.5.0 <2024-09-15>`
- :feature:`2270` Add the new transport option. Thanks to
  a contributor for the patch.
- :bug:`2265 major` Fix the timeout.
- :release:`3.4.1 <2024-08-11>`
- :bug:`2250` Fix a leak.
"""


def test_sphinx_releases_markers_in_a_docs_site_folder(static_index, tmp_path: Path) -> None:
    files = {"sites/www/changelog.rst": RELEASES_EXT, "sites/www/index.rst": "Welcome\n=======\n"}
    found = find(static_index, tmp_path, {v: files for v in ("3.4.1", "3.5.0", "3.5.1")}, "3.4.1", "3.5.1")
    assert found.origin.path == "sites/www/changelog.rst"
    assert versions_of(found) == ["3.5.1", "3.5.0"]
    assert [s.heading for s in found.sections] == ["- :release:`3.5.1 <2025-02-03>`",
                                                   "- :release:`3.5.0 <2024-09-15>`"]
    assert found.sections[0].text == ("- :release:`3.5.1 <2025-02-03>`\n- :bug:`2290` Fix the key loader on empty "
                                      "files.\n- :support:`2288` Document the agent.")
    assert found.sections[1].text.endswith("- :bug:`2265 major` Fix the timeout.")


WIKI = """\
= 4.2.0 (20250310)

- New option for the parser.

= 4.1.1 (20241105)

- Fix the tokenizer.

= 4.1.0 (20240720) =

- Older style, closed heading.

= 4.0.0 (20240101) =

- Major.
"""


def test_equals_sign_headings_in_a_plain_text_file(static_index, tmp_path: Path) -> None:
    found = find(static_index, tmp_path, {v: {"CHANGES.txt": WIKI} for v in ("4.0.0", "4.1.0", "4.1.1", "4.2.0")},
                 "4.0.0", "4.2.0")
    assert found.origin.path == "CHANGES.txt"
    assert versions_of(found) == ["4.2.0", "4.1.1", "4.1.0"]
    assert found.sections[2].text == "= 4.1.0 (20240720) =\n\n- Older style, closed heading."


# -- 5. one release heading ---------------------------------------------------------------------------------

SINGLE = "# Changelog\n\nAll notable changes.\n\n## [2.0.0] - 2025-05-01\n\n- Rewritten from scratch.\n"


def test_a_changelog_file_with_one_release_heading(static_index, tmp_path: Path) -> None:
    found = find(static_index, tmp_path, {v: {"CHANGELOG.md": SINGLE} for v in ("1.4.0", "2.0.0")}, "1.4.0", "2.0.0")
    assert found.origin.path == "CHANGELOG.md"
    assert versions_of(found) == ["2.0.0"]
    assert found.sections[0].text == "## [2.0.0] - 2025-05-01\n\n- Rewritten from scratch."


@pytest.mark.parametrize(("name", "named", "expected"), [("CHANGELOG.md", True, True), ("README.md", False, False)])
def test_one_heading_counts_only_when_the_name_says_changelog(name: str, named: bool, expected: bool) -> None:
    assert looks_like_changelog(SINGLE, name, named=named) is expected


# -- more shapes of the same classes ------------------------------------------------------------------------

def test_bracketed_bare_lines_with_entries_right_below() -> None:
    text = ("[0.18.17, 2025-12-17]:\n- load the C functions first.\n\n[0.18.16, 2025-10-22]:\n- indent scalars\n"
            "  by two spaces.\n\n[0.18.15, 2025-08-19]:\n- no duplicate merge keys.\n")
    releases = find_releases(text, "CHANGES")
    assert [r.versions for r in releases] == [("0.18.17",), ("0.18.16",), ("0.18.15",)]
    assert [r.heading for r in releases][:1] == ["[0.18.17, 2025-12-17]:"]


def test_a_category_heading_written_at_release_level_stays_in_its_release() -> None:
    from jobs.changelogs.slicing import slice_releases

    text = ("# Changelog\n\n## [1.2.0] - 2025-07-01\n\n### Added\n\n- a thing\n\n## Fixed\n\n- a bug\n\n"
            "## [1.1.0] - 2025-06-01\n\n- older\n")
    [section] = slice_releases({"CHANGELOG.md": text}, Version("1.1.0"), Version("1.2.0")).sections
    assert section.text == "## [1.2.0] - 2025-07-01\n\n### Added\n\n- a thing\n\n## Fixed\n\n- a bug"


def test_release_notes_folder_wins_over_a_contributor_listing_folder(static_index, tmp_path: Path) -> None:
    files = {}
    for v in ("2.5.3", "2.5.4"):
        title = f"Acme {v} Release Notes"
        files[f"doc/source/release/{v}-notes.rst"] = f"{'=' * len(title)}\n{title}\n{'=' * len(title)}\n\nFixes.\n"
        files[f"doc/changelog/{v}-changelog.rst"] = "\nContributors\n============\n\n* Someone\n"
    found = find(static_index, tmp_path, {"2.5.3": files, "2.5.4": files}, "2.5.3", "2.5.4")
    assert found.origin.path == "doc/source/release"
    assert [s.heading for s in found.sections] == ["Acme 2.5.4 Release Notes"]


def test_older_series_found_by_the_gap_even_when_the_index_lists_no_release_between(static_index,
                                                                                     tmp_path: Path) -> None:
    # only the two ends of the upgrade are on this index: the main file not reaching back to 9.0.3 is the signal
    files = {"CHANGES.rst": TOP_SERIES, "doc/changes/9.0.rst": OLD_SERIES, "doc/changes/8.2.rst": OLDER_SERIES}
    found = find(static_index, tmp_path, {"9.0.3": files, "9.1.1": files}, "9.0.3", "9.1.1")
    assert versions_of(found) == ["9.1.1", "9.1.0", "9.0.4"]


def test_a_heading_still_marked_unreleased_counts_for_the_release_that_shipped_it() -> None:
    from jobs.changelogs.slicing import slice_releases

    text = ("Changelog\n=========\n\n3.0.0 - unreleased\n------------------\n\n- shipped anyway\n\n"
            "2.0.0 - 2024-04-17\n------------------\n\n- b\n\n1.0.0 - 2023-01-01\n------------------\n\n- a\n")
    sliced = slice_releases({"docs/news.rst": text}, Version("1.0.0"), Version("3.0.0"))
    assert [s.version for s in sliced.sections] == ["3.0.0", "2.0.0"]
    # short of it, the unreleased section stays out
    assert [s.version for s in slice_releases({"docs/news.rst": text}, Version("1.0.0"), Version("99")).sections] \
        == ["2.0.0"]


def test_a_project_name_that_heads_only_the_newer_releases_is_an_era_of_its_own() -> None:
    text = ("Changes\n=======\n\nH11 0.16.0 (2025-04-23)\n-----------------------\n\n- c\n\n"
            "H11 0.15.0 (2025-04-20)\n-----------------------\n\n- b\n\n"
            "v0.14.0 (2022-09-25)\n--------------------\n\n- a\n\nv0.13.0 (2022-01-19)\n--------------------\n\n- z\n"
            "\nv0.12.0 (2021-01-01)\n--------------------\n\n- y\n")
    assert [r.versions[0] for r in find_releases(text, "docs/changes.rst")] == [
        "0.16.0", "0.15.0", "0.14.0", "0.13.0", "0.12.0"]


def test_notes_split_by_year_files_are_read_across_the_boundary(static_index, tmp_path: Path) -> None:
    news = "News\n====\n\n22.0.0 - 2024-04-17\n===================\n\n- current year\n"
    older = "2023\n====\n\n21.2.0 - 2023-07-19\n===================\n\n- older\n\n21.1.0 - 2023-07-18\n" \
            "===================\n\n- oldest in range\n\n21.0.1 - 2023-07-01\n===================\n\n- out\n"
    files = {"docs/source/news.rst": news, "docs/source/2023-news.rst": older}
    found = find(static_index, tmp_path, {"21.0.1": files, "22.0.0": files}, "21.0.1", "22.0.0")
    assert versions_of(found) == ["22.0.0", "21.2.0", "21.1.0"]
    assert [s.file for s in found.sections] == ["docs/source/news.rst", "docs/source/2023-news.rst",
                                                "docs/source/2023-news.rst"]

"""The slice between two versions: range, order, nesting, pre-releases, several files, missing versions."""

from __future__ import annotations

import pytest
from packaging.version import Version

from jobs.changelogs.slicing import missing_versions, slice_releases
from jobs.models import ChangelogSection

V = Version


def doc(*lines: str) -> str:
    return "\n".join(lines) + "\n"


NEWEST_FIRST = doc(
    "# Changelog",               # 1
    "",
    "## Unreleased",             # 3
    "",
    "- in the works",
    "",
    "## 1.2.0 - 2024-03-01",     # 7
    "",
    "- Added `thing`.",
    "",
    "",
    "## 1.1.1 - 2024-02-01",     # 12
    "",
    "- Fixed 1.1.0 regression.",
    "",
    "## 1.1.0 - 2024-01-15",     # 16
    "",
    "### Added",
    "",
    "- More.",                   # 20
    "",
    "## 1.0.0 - 2024-01-01",     # 22
    "",
    "- First.",
)


def test_newest_first_slice_is_old_exclusive_new_inclusive_with_exact_texts() -> None:
    result = slice_releases({"CHANGELOG.md": NEWEST_FIRST}, V("1.0.0"), V("1.2.0"))
    assert result.sections == (
        ChangelogSection("1.2.0", "## 1.2.0 - 2024-03-01", "## 1.2.0 - 2024-03-01\n\n- Added `thing`.", 7),
        ChangelogSection("1.1.1", "## 1.1.1 - 2024-02-01", "## 1.1.1 - 2024-02-01\n\n- Fixed 1.1.0 regression.", 12),
        ChangelogSection("1.1.0", "## 1.1.0 - 2024-01-15", "## 1.1.0 - 2024-01-15\n\n### Added\n\n- More.", 16),
    )
    assert result.found_versions == (V("1.0.0"), V("1.1.0"), V("1.1.1"), V("1.2.0"))
    assert result.spans == (("CHANGELOG.md", 7, 9), ("CHANGELOG.md", 12, 14), ("CHANGELOG.md", 16, 20))


def test_unreleased_section_on_top_is_never_sliced_even_up_to_the_newest_release() -> None:
    result = slice_releases({"CHANGELOG.md": NEWEST_FIRST}, V("1.1.1"), V("99"))
    assert [s.version for s in result.sections] == ["1.2.0"]
    assert "in the works" not in result.sections[0].text


def test_oldest_first_changelog_keeps_its_own_order() -> None:
    text = doc(
        "1.0.0 (2024-01-01)",    # 1
        "==================",
        "",
        "- First.",
        "",
        "1.1.0 (2024-02-01)",    # 6
        "==================",
        "",
        "- Second.",
        "",
        "1.2.0 (2024-03-01)",    # 11
        "==================",
        "",
        "- Third.",
    )
    result = slice_releases({"CHANGES.rst": text}, V("1.0.0"), V("1.2.0"))
    assert [(s.version, s.line, s.text) for s in result.sections] == [
        ("1.1.0", 6, "1.1.0 (2024-02-01)\n==================\n\n- Second."),
        ("1.2.0", 11, "1.2.0 (2024-03-01)\n==================\n\n- Third."),
    ]


def test_rst_label_before_the_next_title_stays_out_of_the_section() -> None:
    text = doc(
        ".. _v1-2-3:",
        "",
        "1.2.3",
        "-----",
        "",
        "- fix",
        "",
        ".. _v1-2-2:",
        "",
        "1.2.2",
        "-----",
        "",
        "- older",
    )
    result = slice_releases({"CHANGES.rst": text}, V("1.2.2"), V("1.2.3"))
    assert [s.text for s in result.sections] == ["1.2.3\n-----\n\n- fix"]
    assert result.spans == (("CHANGES.rst", 3, 6),)


PRERELEASES = doc(
    "# Release 2.0.0 (May 23, 2024)",               # 1
    "",
    "- final",
    "",
    "# Release 2.0.0rc1 (May 16, 2024)",            # 5
    "",
    "- candidate",
    "",
    "# Release 2.0.0b1 and 2.0.0b2 (May 10, 2024)",  # 9
    "",
    "- betas",
    "",
    "# Release 1.9.0 (April 5, 2024)",              # 13
    "",
    "- old",
)


def versions(old: str, new: str, mode: str = "auto") -> list[str]:
    result = slice_releases({"CHANGELOG.md": PRERELEASES}, V(old), V(new), prereleases=mode)
    return [s.version for s in result.sections]


def test_prereleases_skipped_over_on_the_way_to_a_final_are_included() -> None:
    assert versions("1.9.0", "2.0.0") == ["2.0.0", "2.0.0rc1", "2.0.0b1 2.0.0b2"]


def test_prereleases_are_included_when_the_target_is_one() -> None:
    assert versions("1.9.0", "2.0.0rc1") == ["2.0.0rc1", "2.0.0b1 2.0.0b2"]


def test_never_drops_prereleases_but_keeps_the_target_itself() -> None:
    assert versions("1.9.0", "2.0.0", "never") == ["2.0.0"]
    assert versions("1.9.0", "2.0.0rc1", "never") == ["2.0.0rc1"]


def test_always_matches_auto_when_every_prerelease_leads_to_a_final_in_range() -> None:
    assert versions("1.9.0", "2.0.0", "always") == versions("1.9.0", "2.0.0")


def test_from_a_prerelease_only_the_later_ones_count() -> None:
    assert versions("2.0.0b2", "2.0.0") == ["2.0.0", "2.0.0rc1"]


def test_a_heading_naming_two_versions_is_in_range_when_either_is() -> None:
    assert versions("2.0.0b1", "2.0.0b2") == ["2.0.0b1 2.0.0b2"]


def test_auto_leaves_out_a_development_build_whose_final_is_not_past_old() -> None:
    text = doc("## 1.1.0", "", "- next", "", "## 1.0.0.post1.dev1", "", "- rebuild", "", "## 1.0.0", "", "- first")
    auto = slice_releases({"CHANGELOG.md": text}, V("1.0.0"), V("1.1.0"))
    always = slice_releases({"CHANGELOG.md": text}, V("1.0.0"), V("1.1.0"), prereleases="always")
    assert [s.version for s in auto.sections] == ["1.1.0"]
    assert [s.version for s in always.sections] == ["1.1.0", "1.0.0.post1.dev1"]


def test_unknown_prerelease_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="prereleases"):
        slice_releases({"CHANGELOG.md": PRERELEASES}, V("1.0"), V("2.0"), prereleases="sometimes")


NESTED = doc(
    "# Mypy Release Notes",            # 1
    "",
    "## Next Release",                 # 3
    "",
    "- soon",
    "",
    "## Mypy 1.20",                    # 7
    "",
    "Intro.",
    "",
    "### Drop Support for Python 3.9",  # 11
    "",
    "Text.",                           # 13
    "",
    "### Mypy 1.20.1",                 # 15
    "",
    "- fix a",
    "",
    "### Mypy 1.20.2",                 # 19
    "",
    "- fix b",
    "",
    "### Acknowledgements",            # 23
    "",
    "Thanks.",                         # 25
    "",
    "## Mypy 1.19",                    # 27
    "",
    "- old",
)


def test_nested_patch_sections_stand_alone_and_the_minor_keeps_only_its_own_text() -> None:
    result = slice_releases({"CHANGELOG.md": NESTED}, V("1.19"), V("1.20.2"))
    assert [(s.version, s.line, s.text) for s in result.sections] == [
        ("1.20", 7, "## Mypy 1.20\n\nIntro.\n\n### Drop Support for Python 3.9\n\nText.\n\n"
                    "### Acknowledgements\n\nThanks."),
        ("1.20.1", 15, "### Mypy 1.20.1\n\n- fix a"),
        ("1.20.2", 19, "### Mypy 1.20.2\n\n- fix b"),
    ]
    assert result.spans == (("CHANGELOG.md", 7, 25), ("CHANGELOG.md", 15, 17), ("CHANGELOG.md", 19, 21))


def test_patch_upgrade_within_a_minor_takes_only_the_nested_sections() -> None:
    result = slice_releases({"CHANGELOG.md": NESTED}, V("1.20"), V("1.20.2"))
    assert [s.heading for s in result.sections] == ["### Mypy 1.20.1", "### Mypy 1.20.2"]


def test_a_release_titled_in_a_different_rst_style_does_not_swallow_the_next() -> None:
    text = doc("2.0.0", "=====", "", "- big", "", "=====", "1.9.0", "=====", "", "- small")
    result = slice_releases({"CHANGES.rst": text}, V("1.0"), V("2.0.0"))
    assert [s.text for s in result.sections] == ["2.0.0\n=====\n\n- big", "=====\n1.9.0\n=====\n\n- small"]


def test_notes_split_one_file_per_release_come_newest_first_with_their_file() -> None:
    texts = {
        "changes/1.1.0.md": doc("# 1.1.0", "", "- middle"),
        "changes/README.md": doc("# Release notes", "", "One file per release."),
        "changes/1.2.0.md": doc("# 1.2.0", "", "- newest"),
        "changes/1.0.0.md": doc("# 1.0.0", "", "- first"),
    }
    result = slice_releases(texts, V("1.0.0"), V("1.2.0"))
    assert [(s.version, s.file, s.text) for s in result.sections] == [
        ("1.2.0", "changes/1.2.0.md", "# 1.2.0\n\n- newest"),
        ("1.1.0", "changes/1.1.0.md", "# 1.1.0\n\n- middle"),
    ]


def test_notes_split_per_series_keep_the_files_own_oldest_first_order() -> None:
    texts = {
        "changelog_2.rst": doc("2.0.0", "-----", "", "- a", "", "2.1.0", "-----", "", "- b"),
        "changelog_1.rst": doc("1.0.0", "-----", "", "- c", "", "1.1.0", "-----", "", "- d"),
    }
    result = slice_releases(texts, V("1.0.0"), V("2.1.0"))
    assert [(s.version, s.file, s.line) for s in result.sections] == [
        ("1.1.0", "changelog_1.rst", 6),
        ("2.0.0", "changelog_2.rst", 1),
        ("2.1.0", "changelog_2.rst", 6),
    ]


def test_nothing_in_range_gives_no_sections_but_still_the_versions_found() -> None:
    result = slice_releases({"CHANGELOG.md": NEWEST_FIRST}, V("1.2.0"), V("1.3.0"))
    assert result.sections == ()
    assert result.found_versions[-1] == V("1.2.0")


def test_missing_versions_lists_finals_without_a_section() -> None:
    sections = [ChangelogSection("1.2.0", "## 1.2.0", "## 1.2.0", 1), ChangelogSection("1.1.0", "## 1.1.0", "", 5)]
    index = [V("1.0.0"), V("1.1.0"), V("1.1.1"), V("1.2.0.dev1"), V("1.2.0rc1"), V("1.2.0"), V("1.3.0")]
    assert missing_versions(index, sections, V("1.0.0"), V("1.2.0")) == ("1.1.1",)


def test_missing_versions_counts_prereleases_when_the_target_is_one_and_reads_two_version_headings() -> None:
    sections = [ChangelogSection("2.0.0a1 2.0.0a2", "# Release 2.0.0a1 and 2.0.0a2", "", 1)]
    index = ["1.9.0", "2.0.0a2", "2.0.0b1", "not a version"]
    assert missing_versions(index, sections, V("1.9.0"), V("2.0.0b1")) == ("2.0.0b1",)


def test_post_and_dev_releases_are_missing_only_when_the_changelog_gives_them_sections() -> None:
    text = doc("## 1.3.0", "", "- c", "", "## 1.2.3", "", "- b", "", "## 1.2.0", "", "- a")
    index = ["1.2.0", "1.2.3", "1.2.3.post1", "1.2.4.dev1", "1.2.4", "1.3.0", "1.3.0.post1", "1.3.0.post2"]
    cut = slice_releases({"CHANGELOG.md": text}, V("1.2.0"), V("1.3.0.post2"))
    assert missing_versions(index, cut.sections, V("1.2.0"), V("1.3.0.post2")) == ("1.2.4",)
    # a changelog that writes sections for post-releases: the one without a section is missing
    posts = doc("## 1.3.0.post2", "", "- packaging", "", "## 1.3.0", "", "- c")
    cut = slice_releases({"CHANGELOG.md": posts}, V("1.2.4"), V("1.3.0.post2"))
    assert missing_versions(index, cut.sections, V("1.2.4"), V("1.3.0.post2")) == ("1.3.0.post1",)


def test_a_hostile_heading_is_not_a_release_and_crashes_nothing() -> None:
    text = doc("## 1." + "9" * 5000, "", "- x", "", "## 1.1.0", "", "- y", "", "## 1.0.0", "", "- z")
    cut = slice_releases({"CHANGELOG.md": text}, V("1.0.0"), V("2.0.0"))
    assert [s.version for s in cut.sections] == ["1.1.0"]
    assert missing_versions(["1." + "9" * 5000, "1.1.0", "1." * 40 + "1"], cut.sections, V("1.0.0"), V("2.0.0")) == ()

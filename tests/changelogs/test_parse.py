"""Release headings found in changelogs written in every shape the survey saw, and the traps around them."""

from __future__ import annotations

from packaging.version import Version

from jobs.changelogs.parse import Release, find_releases, looks_like_changelog, parse_version, split_lines


def doc(*lines: str) -> str:
    """A changelog text, one argument per line, so expected line numbers can be read off the call."""
    return "\n".join(lines) + "\n"


def summary(releases: list[Release]) -> list[tuple[str, tuple[str, ...], int, int, int, int]]:
    return [(r.heading, r.versions, r.line, r.start, r.end, r.level) for r in releases]


def test_keep_a_changelog_skips_unreleased_and_leaves_link_definitions_out_of_the_last_section() -> None:
    text = doc(
        "# Changelog",                      # 1
        "",                                 # 2
        "## [Unreleased]",                  # 3
        "",                                 # 4
        "- nothing yet",                    # 5
        "",                                 # 6
        "## [1.2.3] - 2024-05-01",          # 7
        "",                                 # 8
        "### Fixed",                        # 9
        "",                                 # 10
        "- a bug",                          # 11
        "",                                 # 12
        "## [1.2.2] - 2024-04-01",          # 13
        "",                                 # 14
        "- another",                        # 15
        "",                                 # 16
        "[Unreleased]: https://example.invalid/compare/v1.2.3...HEAD",
        "[1.2.3]: https://example.invalid/compare/v1.2.2...v1.2.3",
    )
    assert summary(find_releases(text, "CHANGELOG.md")) == [
        ("## [1.2.3] - 2024-05-01", ("1.2.3",), 7, 6, 11, 2),
        ("## [1.2.2] - 2024-04-01", ("1.2.2",), 13, 12, 15, 2),
    ]


def test_atx_heading_with_a_link_inside_keeps_its_markup() -> None:
    text = doc(
        "# Changelog",
        "",
        "<!-- towncrier release notes start -->",
        "",
        "## [25.3.0](https://example.invalid/tree/25.3.0) - 2025-03-13",  # 5
        "",
        "### Changes",
        "",
        "- Restore support.",                                              # 9
        "",
        "",
        "## [25.2.0](https://example.invalid/tree/25.2.0) - 2025-03-12",  # 12
        "",
        "- Faster.",
    )
    releases = find_releases(text, "CHANGELOG.md")
    assert [(r.heading, r.versions, r.line, r.end) for r in releases] == [
        ("## [25.3.0](https://example.invalid/tree/25.3.0) - 2025-03-13", ("25.3.0",), 5, 9),
        ("## [25.2.0](https://example.invalid/tree/25.2.0) - 2025-03-12", ("25.2.0",), 12, 14),
    ]
    assert releases[0].parsed == (Version("25.3.0"),)


def test_release_prefix_and_one_heading_naming_two_versions() -> None:
    text = doc(
        "# Release 4.12.0 (May 23, 2024)",               # 1
        "",
        "- final",
        "",
        "# Release 4.12.0rc1 (May 16, 2024)",            # 5
        "",
        "- candidate",
        "",
        "# Release 4.12.0a1 and 4.12.0a2 (May 16, 2024)",  # 9
        "",
        "These releases test the workflow.",
        "",
        "# Release 4.11.0 (April 5, 2024)",              # 13
    )
    releases = find_releases(text, "CHANGELOG.md")
    assert [(r.versions, r.line, r.level) for r in releases] == [
        (("4.12.0",), 1, 1),
        (("4.12.0rc1",), 5, 1),
        (("4.12.0a1", "4.12.0a2"), 9, 1),
        (("4.11.0",), 13, 1),
    ]
    assert releases[2].parsed == (Version("4.12.0a1"), Version("4.12.0a2"))
    assert releases[2].heading == "# Release 4.12.0a1 and 4.12.0a2 (May 16, 2024)"


def test_nested_patch_headings_get_a_deeper_level_and_the_minor_spans_its_subtree() -> None:
    text = doc(
        "# Mypy Release Notes",                  # 1
        "",
        "## Next Release",                       # 3
        "",
        "## Mypy 1.20",                          # 5
        "",
        "### Drop Support for Python 3.9",       # 7
        "",
        "### Mypy 1.20.1",                       # 9
        "",
        "- fix a",                               # 11
        "",
        "### Acknowledgements",                  # 13
        "",
        "Thanks.",                               # 15
        "",
        "## Mypy 1.19",                          # 17
        "",
        "- old",                                 # 19
    )
    assert summary(find_releases(text, "CHANGELOG.md")) == [
        ("## Mypy 1.20", ("1.20",), 5, 4, 15, 2),
        ("### Mypy 1.20.1", ("1.20.1",), 9, 8, 11, 3),
        ("## Mypy 1.19", ("1.19",), 17, 16, 19, 2),
    ]


def test_setext_headings_in_markdown_with_a_dev_section_on_top() -> None:
    text = doc(
        "Release History",        # 1
        "===============",
        "",
        "dev",                    # 4
        "---",
        "",
        "- \\[Short description.\\]",
        "",
        "",
        "2.34.2 (2026-05-14)",    # 10
        "-------------------",
        "- Moved `headers` back.",  # 12
        "",
        "",
        "2.34.1 (2026-05-13)",    # 15
        "-------------------",
        "",
        "**Bugfixes**",
        "- Widened `json`.",      # 19
    )
    assert summary(find_releases(text, "HISTORY.md")) == [
        ("2.34.2 (2026-05-14)", ("2.34.2",), 10, 9, 12, 2),
        ("2.34.1 (2026-05-13)", ("2.34.1",), 15, 14, 19, 2),
    ]


def test_rst_underlined_version_titles_pallets_style() -> None:
    text = doc(
        "Version 3.1.1",          # 1
        "-------------",
        "",
        "Released 2025-05-13",
        "",
        "-   Fix signing key selection order.",  # 6
        "",
        "",
        "Version 3.1.0",          # 9
        "-------------",
        "",
        "Released 2024-11-13",
        "",
        "-   Drop support for Python 3.8.",
        "-   Update minimum dependency versions: Werkzeug >= 3.1.",  # 15
    )
    assert summary(find_releases(text, "CHANGES.rst")) == [
        ("Version 3.1.1", ("3.1.1",), 1, 0, 6, 1),
        ("Version 3.1.0", ("3.1.0",), 9, 8, 15, 1),
    ]


def test_rst_towncrier_v_prefix_with_subsection_titles() -> None:
    text = doc(
        "v84.1.0",        # 1
        "=======",
        "",
        "Features",       # 4
        "--------",
        "",
        "- New ``UnsafeMember`` exception.",  # 7
        "",
        "",
        "v84.0.0",        # 10
        "=======",
        "",
        "Bugfixes",
        "--------",
        "",
        "- Fixed.",       # 16
    )
    assert summary(find_releases(text, "NEWS.rst")) == [
        ("v84.1.0", ("84.1.0",), 1, 0, 7, 1),
        ("v84.0.0", ("84.0.0",), 10, 9, 16, 1),
    ]


def test_rst_overlined_title_then_project_named_releases_and_labels_left_to_the_next_section() -> None:
    text = doc(
        "=========",                      # 1
        "Changelog",
        "=========",
        "",
        ".. _v8-1-0:",                    # 5
        "",
        "pytest 8.1.0 (2024-03-03)",      # 7
        "=========================",
        "",
        "- Example::",                    # 10
        "",
        "    Version 9.9.9",              # a title inside a literal block is not a heading
        "    =============",              # 13
        "",
        ".. _v8-0-2:",
        "",
        "pytest 8.0.2 (2024-02-20)",      # 17
        "=========================",
        "",
        "- fix",                          # 20
    )
    assert summary(find_releases(text, "changelog.rst")) == [
        ("pytest 8.1.0 (2024-03-03)", ("8.1.0",), 7, 6, 13, 2),
        ("pytest 8.0.2 (2024-02-20)", ("8.0.2",), 17, 16, 20, 2),
    ]


def test_rst_overline_and_underline_release_titles() -> None:
    text = doc(
        "=====================================",
        "Release 2.0.0 (released Jan 02, 2024)",  # 2
        "=====================================",
        "",
        "- big",                                  # 5
        "",
        "==================",
        "1.9.0 - 2023-12-01",                     # 8
        "==================",
        "",
        "- small",                                # 11
    )
    assert summary(find_releases(text, "CHANGES.rst")) == [
        ("Release 2.0.0 (released Jan 02, 2024)", ("2.0.0",), 2, 0, 5, 1),
        ("1.9.0 - 2023-12-01", ("1.9.0",), 8, 6, 11, 1),
    ]


def test_rst_ranks_follow_the_order_adornment_styles_first_appear() -> None:
    text = doc("2.0.0", "=====", "", "- big", "", "=====", "1.9.0", "=====", "", "- small")
    assert [(r.versions, r.level, r.end) for r in find_releases(text, "CHANGES.rst")] == [
        (("2.0.0",), 1, 10),
        (("1.9.0",), 2, 10),
    ]


def test_bold_lines_mark_releases_and_keep_their_markup() -> None:
    text = doc(
        "Changelog",
        "=========",
        "",
        "**1.2.3** (2024-01-01)",   # 4
        "",
        "- requires foo 1.2.3",
        "",
        "**1.2.2**",                # 8
        "",
        "- x",                      # 10
    )
    assert summary(find_releases(text, "CHANGES.rst")) == [
        ("**1.2.3** (2024-01-01)", ("1.2.3",), 4, 3, 6, 2),
        ("**1.2.2**", ("1.2.2",), 8, 7, 10, 2),
    ]


def test_plain_lines_with_no_markup_in_a_file_without_extension() -> None:
    text = doc(
        "History",
        "",
        "1.2.3 (2024-01-01)",   # 3
        "- a",
        "",
        "v1.2.2 - 2023-12-01",  # 6
        "- b",
        "",
        "1.2.1",                # 9
        "",
        "- c",                  # 11
    )
    assert [(r.heading, r.versions, r.line, r.end) for r in find_releases(text, "HISTORY")] == [
        ("1.2.3 (2024-01-01)", ("1.2.3",), 3, 4),
        ("v1.2.2 - 2023-12-01", ("1.2.2",), 6, 7),
        ("1.2.1", ("1.2.1",), 9, 11),
    ]


def test_sphinx_changelog_directives_with_an_unreleased_one_on_top() -> None:
    text = doc(
        "=============",
        "2.0 Changelog",               # a series title, not a release
        "=============",
        "",
        ".. changelog::",              # 5
        "    :version: 2.0.32",
        "    :include_notes_from: unreleased_20",
        "",
        ".. changelog::",              # 9
        "    :version: 2.0.31",        # 10
        "    :released: June 18, 2024",
        "",
        "    .. change::",
        "        :tags: bug",
        "",
        "        Fixed a thing in 1.4.3.",  # 16
        "",
        ".. changelog::",              # 18
        "    :version: 2.0.30",        # 19
        "    :released: May 5, 2024",
        "",
        "    .. change::",
        "        :tags: bug",
        "",
        "        Fixed.",              # 25
    )
    assert summary(find_releases(text, "changelog_20.rst")) == [
        (":version: 2.0.31", ("2.0.31",), 10, 8, 16, 2),
        (":version: 2.0.30", ("2.0.30",), 19, 17, 25, 2),
    ]


def test_names_with_dates_only_are_calendar_versions() -> None:
    text = doc(
        "# Changes",
        "",
        "## 2024-05-01",   # 3
        "",
        "- new data",
        "",
        "## 2024-03-15",   # 7
        "",
        "- older data",
    )
    releases = find_releases(text, "CHANGES.md")
    assert [(r.versions, r.parsed, r.line) for r in releases] == [
        (("2024-05-01",), (Version("2024.5.1"),), 3),
        (("2024-03-15",), (Version("2024.3.15"),), 7),
    ]


def test_versions_in_bullets_code_tables_and_topic_headings_are_not_releases() -> None:
    text = doc(
        "# Changelog",
        "",
        "## 2.0.0",                          # 3
        "",
        "- Bumped foo to 1.5.0",
        "- 1.9.9",
        "",
        "### Python 3.12",                   # topic headings that mention a version
        "",
        "### Drop support for Python 3.8",
        "",
        "### 2.0 migration guide",
        "",
        "```",
        "## 1.9.0",                          # fenced code
        "```",
        "",
        "    ## 1.8.0",                      # indented code
        "",
        "| package | version |",
        "|---------|---------|",
        "| foo     | 1.2.3   |",
        "",
        "requires bar 3.4.5",
        "",
        "> ## 1.7.0",                        # quoted
        "",
        "## 1.0.0",                          # 28
        "",
        "- first",
    )
    releases = find_releases(text, "CHANGELOG.md")
    assert [(r.versions, r.line) for r in releases] == [(("2.0.0",), 3), (("1.0.0",), 28)]
    # the 2.0.0 section runs over its subsections up to the next release
    assert releases[0].end == 26


def test_a_list_of_tools_with_versions_is_not_a_changelog() -> None:
    text = doc(
        "# Development dependencies",
        "",
        "### pytest 9.0.2",
        "",
        "- Docs: https://example.invalid/pytest",
        "",
        "### Black 26.1.0",
        "",
        "- Formatter",
    )
    assert find_releases(text, "DEPENDENCIES.md") == []
    assert not looks_like_changelog(text, "DEPENDENCIES.md")


def test_a_project_name_prefix_counts_when_it_recurs() -> None:
    text = doc("## attrs 23.2.0", "", "- a", "", "## attrs 23.1.0", "", "- b")
    assert [r.versions for r in find_releases(text, "CHANGELOG.md")] == [("23.2.0",), ("23.1.0",)]


def test_unreleased_version_headings_and_series_headings_are_not_releases() -> None:
    text = doc(
        "## 1.3.0 (unreleased)",
        "",
        "- soon",
        "",
        "## 1.2.x",
        "",
        "## 1.2.1 (TBD)",
        "",
        "## 1.2.0 (2024-01-01)",   # 9
        "",
        "- done",
    )
    assert [(r.versions, r.line) for r in find_releases(text, "CHANGELOG.md")] == [(("1.2.0",), 9)]


def test_unknown_extension_is_read_as_markdown_when_that_finds_more() -> None:
    text = doc(
        "The README comes first.",
        "",
        "## Change log",
        "",
        "See below.",
        "",
        "# Change Log",
        "",
        "## 25.12.0",   # 9
        "",
        "- a",
        "",
        "## 25.11.0",   # 13
        "",
        "- b",
    )
    assert [(r.heading, r.line, r.level) for r in find_releases(text, "description")] == [
        ("## 25.12.0", 9, 2),
        ("## 25.11.0", 13, 2),
    ]


def test_crlf_text_gives_the_same_lines() -> None:
    text = doc("1.0.1", "=====", "", "- fix", "", "1.0.0", "=====", "", "- first")
    crlf = text.replace("\n", "\r\n")
    assert summary(find_releases(crlf, "CHANGES.rst")) == summary(find_releases(text, "CHANGES.rst"))
    assert split_lines(crlf)[0] == "1.0.1"


def test_looks_like_changelog_needs_two_release_headings() -> None:
    stub = doc("Changelog", "=========", "", ".. include:: docs/changelog.rst")
    one = doc("## 1.0.0", "", "- first")
    two = doc("## 1.0.1", "", "- fix", "", "## 1.0.0", "", "- first")
    assert not looks_like_changelog(stub, "CHANGES.rst")
    assert not looks_like_changelog(one, "CHANGELOG.md")
    assert looks_like_changelog(two, "CHANGELOG.md")


def test_parse_version_accepts_v_prefix_and_dates_and_refuses_junk() -> None:
    assert parse_version("v1.2.3") == Version("1.2.3")
    assert parse_version("4.12.0a1") == Version("4.12.0a1")
    assert parse_version("2024-05-01") == Version("2024.5.1")
    assert parse_version("1.2.x") is None


def test_version_texts_too_long_or_too_big_to_convert_are_no_versions() -> None:
    assert parse_version("1." + "9" * 5000) is None  # int() refuses more than 4300 digits
    assert parse_version("v" + ".".join(["1"] * 40)) is None and parse_version("1.2.3") == Version("1.2.3")
    text = doc("# Changes", "", "## 1." + "9" * 5000, "", "- x", "", "## 1.0.0", "", "- y")
    assert [r.versions for r in find_releases(text, "CHANGES.md")] == [("1.0.0",)]

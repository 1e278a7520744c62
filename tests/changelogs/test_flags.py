"""Flags on changelog items: breaking, removal, deprecation, security; sub-headings count for their items."""

from __future__ import annotations

from jobs.changelogs.flags import flag_sections
from jobs.models import ChangelogSection


def section(version: str, body: str) -> ChangelogSection:
    return ChangelogSection(version=version, heading=f"## {version}", text=f"## {version}\n\n{body}", line=1)


def kinds(*sections: ChangelogSection) -> list[tuple[str, str, str]]:
    return [(f.kind, f.version, f.text) for f in flag_sections(sections)]


def test_keywords_conventional_markers_and_ids() -> None:
    found = kinds(section("2.0.0", (
        "- BREAKING: the `connect()` timeout is now in seconds\n"
        "- feat(api)!: drop the v1 client\n"
        "- Fix CVE-2024-12345 in header parsing\n"
        "- Patched GHSA-abcd-1234-wxyz\n"
        "- Deprecated `Client.fetch`; use `Client.get`\n"
        "- Removed the `legacy` extra\n"
        "- Improved docs for the cache\n"
    )))
    assert found == [
        ("security", "2.0.0", "Fix CVE-2024-12345 in header parsing"),
        ("security", "2.0.0", "Patched GHSA-abcd-1234-wxyz"),
        ("breaking", "2.0.0", "BREAKING: the `connect()` timeout is now in seconds"),
        ("breaking", "2.0.0", "feat(api)!: drop the v1 client"),
        ("removal", "2.0.0", "Removed the `legacy` extra"),
        ("deprecation", "2.0.0", "Deprecated `Client.fetch`; use `Client.get`"),
    ]


def test_items_under_a_flagging_subheading_are_flagged() -> None:
    rst = ChangelogSection(version="69.0.0", heading="v69.0.0", line=1, text=(
        "v69.0.0\n=======\n\nDeprecations and Removals\n-------------------------\n\n"
        "- Setuptools no longer accepts the old flag. (#4000)\n\nFeatures\n--------\n\n- A new feature. (#4001)\n"))
    md = section("1.1.0", "### Breaking changes\n\n- Config keys are now case sensitive.\n\n### Fixed\n\n- A bug.\n")
    assert kinds(rst, md) == [
        ("breaking", "1.1.0", "Config keys are now case sensitive."),
        ("removal", "69.0.0", "Setuptools no longer accepts the old flag. (#4000)"),
    ]


def test_plain_sections_raise_no_flags() -> None:
    assert kinds(section("1.0.1", "- Fix a typo in the README.\n- Faster startup.\n")) == []


def test_wrapped_items_are_one_flag_each_with_their_whole_text() -> None:
    md = section("2.0.0", (
        "- The `legacy` and `compat` modules, deprecated since 1.4,\n"
        "  are removed.\n"
        "- This is a breaking\n"
        "  change to the configuration format.\n"
        "- Fixed a bug in\n  the parser.\n"
    ))
    rst = ChangelogSection(version="3.0.0", heading="3.0.0", line=1, text=(
        "3.0.0\n-----\n\n"
        "-   Deprecate the ``__version__`` attribute. Use feature detection, or\n"
        "    ``importlib.metadata.version(\"flask\")``, instead. :issue:`5230`\n"
        "*   Lazy continuation\nof a removed option.\n"))
    assert kinds(md, rst) == [
        ("breaking", "2.0.0", "This is a breaking change to the configuration format."),
        ("removal", "2.0.0", "The `legacy` and `compat` modules, deprecated since 1.4, are removed."),
        ("removal", "3.0.0", "Lazy continuation of a removed option."),
        ("deprecation", "3.0.0", "Deprecate the ``__version__`` attribute. Use feature detection, or "
                                 "``importlib.metadata.version(\"flask\")``, instead. :issue:`5230`"),
    ]


def test_plain_paragraphs_are_items_and_code_is_not() -> None:
    found = kinds(section("2.0.0", (
        "Removed the legacy API\n\n"
        "```python\nclient.fetch()  # deprecated, removed in 3.0\n```\n\n"
        "    legacy = True  # removed\n\n"
        "Use the new loader::\n\n    load(security=False)  # deprecated\n\n"
        "- Faster startup.\n\n"
        "Deprecations and Removals\n\n- `old()` is gone.\n"
    )))
    assert found == [("removal", "2.0.0", "Removed the legacy API"), ("removal", "2.0.0", "`old()` is gone.")]

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

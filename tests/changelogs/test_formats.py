"""The changelog as the PR body and the terminal get it: which markup a section is in, and nothing that drives a
terminal."""

from __future__ import annotations

from packaging.version import Version

from jobs.changelogs.slicing import slice_releases
from jobs.formats.changelog import pr_entry, to_text
from jobs.models import Changelog, ChangelogOrigin

UPSTREAM = "https://github.com/acme/widget"


def entry(path: str, text: str, kind: str = "sdist") -> dict:
    cut = slice_releases({path: text}, Version("1.0"), Version("2.0"))
    changelog = Changelog("widget", "1.0", "2.0", ChangelogOrigin(kind, path=path), cut.sections,
                          repository=UPSTREAM)
    return pr_entry(changelog)


def test_markdown_with_underlined_headings_is_rendered_and_links_upstream() -> None:
    text = "Changes\n=======\n\n1.2.0\n-----\n\n- Fixed the parser (#12), thanks @bob\n\n1.0.0\n-----\n\n- First\n"
    for path in ("description", "CHANGES", "HISTORY.txt"):
        [section] = entry(path, text)["sections"]
        assert section["text"].startswith("1.2.0\n-----") and "```" not in section["text"]
        assert f"[#12]({UPSTREAM}/issues/12)" in section["text"] and "@<!-- -->bob" in section["text"]


def test_restructuredtext_is_fenced_with_its_references_listed_under_it() -> None:
    text = ("1.2.0\n-----\n\n- Fixed ``parse()`` (:issue:`12`), see :pr:`14`\n\n.. note:: Also #15.\n\n"
            "1.0.0\n-----\n\n- First\n")
    for path in ("CHANGES.rst", "CHANGES", "description"):
        [section] = entry(path, text)["sections"]
        assert section["text"].startswith("```rst\n1.2.0\n-----"), path
        assert section["text"].endswith(f"```\n\nUpstream references: [#12]({UPSTREAM}/issues/12), "
                                        f"[#14]({UPSTREAM}/issues/14), [#15]({UPSTREAM}/issues/15)")


def test_text_output_carries_no_terminal_escapes() -> None:
    changelog = Changelog("widget", "1.0", "2.0", ChangelogOrigin("github-release", url="https://x.example/r"),
                          slice_releases({"releases.md": "## 2.0\n\n- Fixed\x1b[2J\x1b]0;owned\x07 it\x9b\r\n"},
                                         Version("1.0"), Version("2.0")).sections, note="n\x07ote")  # fmt: skip
    out = to_text(changelog)
    assert out == "widget 1.0 -> 2.0\nsource: github-release https://x.example/r\nnote: note\n\n## 2.0\n\n- Fixed it\n"

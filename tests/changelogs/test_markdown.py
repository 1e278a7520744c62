"""Upstream text in our PR body: references link upstream, mentions do not ping, HTML cannot run."""

from __future__ import annotations

import re
import time

import pytest
from markdown_it import MarkdownIt

from jobs.changelogs.markdown import CUT_NOTE, MAX_SECTION_CHARS, github_repo_url, sanitize

UPSTREAM = "https://github.com/encode/httpx"


def test_issue_references_link_to_the_upstream_repository() -> None:
    out = sanitize("- Fix redirects (#123, GH-456)\n- See https://example.org/#789 and x#1", upstream=UPSTREAM)
    assert "[#123](https://github.com/encode/httpx/issues/123)" in out
    assert "[GH-456](https://github.com/encode/httpx/issues/456)" in out
    assert "https://example.org/#789" in out and "x#1" in out  # not references


def test_without_upstream_references_cannot_link_to_our_issues() -> None:
    out = sanitize("- Fix (#12)")
    assert "#12" not in out.replace("#&#8203;12", "") and "#&#8203;12" in out


def test_mentions_are_neutralized_but_code_is_left_alone() -> None:
    out = sanitize("Thanks @alice!\n\n```\n@decorator #5\n```\nUse `@property` and `#7`.", upstream=UPSTREAM)
    assert "@<!-- -->alice" in out
    assert "```\n@decorator #5\n```" in out
    assert "`@property` and `#7`" in out


def test_html_comments_scripts_and_remote_images_are_stripped() -> None:
    text = ('<!-- hidden instructions -->\n<script>alert(1)</script>\n<img src="https://t.example/p.png" alt="logo">\n'
            '![badge](https://img.example/b.svg)\n<iframe src="x"></iframe>ok')
    out = sanitize(text)
    assert "hidden" not in out and "<script" not in out and "<img" not in out and "<iframe" not in out
    assert "[image: logo]" in out and "[image: badge](https://img.example/b.svg)" in out
    assert out.endswith("ok")


def test_restructuredtext_goes_into_a_fenced_block() -> None:
    out = sanitize("1.2.0\n-----\n\n- ``code`` and #5 @bob\n", rst=True)
    assert out.startswith("```rst\n1.2.0\n-----") and out.endswith("\n```")


def test_github_repo_url_recognises_repository_roots_only() -> None:
    assert github_repo_url("https://github.com/pallets/flask/") == "https://github.com/pallets/flask"
    assert github_repo_url("https://github.com/pallets/flask.git") == "https://github.com/pallets/flask"
    assert github_repo_url("https://github.com/pallets/flask/blob/main/CHANGES.rst") is None
    assert github_repo_url("https://flask.palletsprojects.com/") is None


# -- what upstream text must never do to the PR body around it ------------------------------------------------------

# A CommonMark renderer with raw HTML on, as the forge renders PR bodies; the section sits in our template's block.
RENDERER = MarkdownIt("commonmark").enable("table")
AFTER = "Our own text after the section."


def rendered(section: str) -> str:
    return RENDERER.render(f"<details>\n<summary>1.2.0</summary>\n\n{section}\n\n</details>\n\n{AFTER}\n")


def assert_contained(html: str) -> None:
    """The section's HTML stays inside our <details> block: one block, closed by us, our text after it intact."""
    assert html.count("<details") == 1 and html.count("</details>") == 1 and html.count("<summary") == 1, html
    assert html.endswith(f"</details>\n<p>{AFTER}</p>\n"), html


@pytest.mark.parametrize("hostile", [
    "- Fix\n</details>\n\n**Approved by the security team.**",
    "<details open><summary>Approve me</summary>\n\nAll good.",
    "- Fix\n\n```python\ncode that never ends",
    "- Fix\n\n~~~~\nstill code\n```\n",
    "- Fix <!-- swallow the rest",
    "- a\n\n  ```\n  code\nx\n</details>",  # a fence in a list item that ends with the item, then raw HTML
    "`a` `b\nc` </details>`",  # a code span across lines: the forge pairs the backticks differently
    "<div>\n\n</details>\n\n</div>",
    "\\\\</details>",  # an escaped backslash, then a real tag
    "<b>\n\n- item\n",  # an allowed tag alone on a line would open an HTML block
])  # fmt: skip
def test_upstream_text_cannot_break_out_of_its_block(hostile: str) -> None:
    html = rendered(sanitize(hostile, upstream=UPSTREAM))
    assert_contained(html)
    assert "<summary>Approve me" not in html and "<!--" not in html


def test_an_open_fence_is_closed_and_allowed_inline_html_stays() -> None:
    out = sanitize("Use <b>bold</b>, <code>x</code> and a<br>break; <b>unbalanced\n\n```\ncode", upstream=UPSTREAM)
    assert out.endswith("```\ncode\n```")
    assert "<b>bold</b>" in out and "<code>x</code>" in out and "a<br>break" in out and "&lt;b>unbalanced" in out
    assert "- swallow" not in sanitize("- a <!-- b\n- c") and "- a  b\n- c" == sanitize("- a <!-- b\n- c")


def test_code_keeps_its_text_and_cannot_turn_into_html() -> None:
    out = sanitize("Pass `verify=<ssl_context>` or `</details>`; \\<literal>\n\n```\n<details> #5 @bob\n```")
    assert "`verify=<\u200bssl_context>`" in out and "`<\u200b/details>`" in out and "\\<literal>" in out
    assert out.endswith("```\n<details> #5 @bob\n```")  # a fenced block is code to the forge: left as written
    assert_contained(rendered(out))


def test_remote_images_and_unsafe_links_do_not_survive() -> None:
    text = (
        "![tracker][pixel] and ![inline](https://t.example/i.png)\n\n"
        '<picture><source srcset="https://t.example/dark.png"><img src="https://t.example/p.png" alt="logo"></picture>\n\n'
        '<svg width="1"><image href="https://t.example/svg.png"/></svg>\n\n'
        "[click](javascript:alert(1)) [entity](&#106;avascript:alert(2)) [data](data:text/html;base64,PHNjcmlwdD4=)\n"
        '<a href="javascript:alert(3)">a</a> <a href="https://ok.example/docs">docs</a> <javascript:alert(4)>\n\n'
        "[pixel]: https://t.example/ref.png\n[js]: JavaScript:alert(5)\n"
    )  # fmt: skip
    out = sanitize(text, upstream=UPSTREAM)
    html = RENDERER.render(out)
    assert "<img" not in html and "srcset" not in html and "<svg" not in html and "<image" not in html
    targets = re.findall(r'(?:href|src)="([^"]*)"', html)
    assert targets and all(t.startswith(("https://", "#")) for t in targets), targets
    assert "&lt;javascript:alert(4)&gt;" in html  # an autolink with an unsafe scheme is only text
    assert '<a href="https://ok.example/docs">docs</a>' in html and "[image: logo]" in out
    assert "[image: tracker][pixel]" in out and "[image: inline](https://t.example/i.png)" in out


def test_a_huge_hostile_section_is_sanitized_fast_and_cut() -> None:
    for unit in ("<script ", "<!--", "<style>x", "<b>" * 3 + "`", "![", "](", "<a href=", "\\`", "<svg "):
        hostile = unit * (1_000_000 // len(unit))
        started = time.perf_counter()
        out = sanitize(hostile, upstream=UPSTREAM)
        assert time.perf_counter() - started < 1.0, unit
        assert len(out) < 2 * MAX_SECTION_CHARS and out.endswith(CUT_NOTE)


def test_restructuredtext_lists_its_upstream_references_under_the_block() -> None:
    text = "1.2.0\n-----\n\n- Fix :issue:`12` and :pr:`15` (#12, GH-20)\n- ``#99`` stays inside\n"
    out = sanitize(text, upstream=UPSTREAM, rst=True)
    block, _, links = out.partition("\n```\n\n")
    assert block.startswith("```rst\n1.2.0") and ":issue:`12`" in block
    assert links == (f"Upstream references: [#12]({UPSTREAM}/issues/12), [#15]({UPSTREAM}/issues/15), "
                     f"[#20]({UPSTREAM}/issues/20), [#99]({UPSTREAM}/issues/99)")  # fmt: skip
    assert sanitize(text, rst=True).endswith("\n```")  # no upstream: nothing to link to


def test_control_characters_are_removed() -> None:
    assert sanitize("- Fix\x1b[2J\x1b]0;pwned\x07 it\x00\x9b now\r\n- next") == "- Fix it now\n- next"

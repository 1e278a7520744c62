"""Upstream text in our PR body: references link upstream, mentions do not ping, HTML cannot run."""

from __future__ import annotations

from jobs.changelogs.markdown import github_repo_url, sanitize

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

"""PR texts from the templates: titles, commit messages, bodies within GitHub's limit, no pings."""

from __future__ import annotations

from packaging.version import Version

from jobs.models import Dependency, ProposedChange, TestReport, Update
from jobs.render import BODY_LIMIT, Renderer, neutralize_mentions, read_marker


def change(*names: str) -> ProposedChange:
    updates = tuple(
        Update(Dependency(name=n, raw_name=n, specifier="==1.0.0", file="requirements.txt", line=i + 1,
                          section="requirements"), Version("1.0.0"), Version("1.1.0"), "minor", "==1.1.0")
        for i, n in enumerate(names))
    return ProposedChange(key=names[0] if len(names) == 1 else "group:libs", updates=updates,
                          branch="nightcrew/x-1.1.0")


def test_single_and_group_titles_and_commit_messages() -> None:
    r = Renderer()
    assert r.title(change("httpx"), None) == "build(deps): bump httpx from 1.0.0 to 1.1.0"
    assert r.title(change("a", "b"), "libs") == "build(deps): bump the libs group with 2 updates"
    message = r.commit_message(change("a", "b"), "libs")
    assert message.splitlines()[0] == "build(deps): bump the libs group with 2 updates"
    assert "- a 1.0.0 -> 1.1.0 (minor) in requirements.txt" in message


def test_body_has_table_test_results_footer_and_marker() -> None:
    tests = TestReport(outcome="failed", passed=3, failed=1, skipped=2, failing=("tests/test_x.py::test_y",),
                       duration=4.25, output_tail="E   assert 1 == 2", python_version="3.11.7",
                       command="python -m pytest", reason="1 failed, 0 errors")
    body = Renderer().body(change("httpx"), None, tests)
    assert "| httpx | 1.0.0 | 1.1.0 | minor | `requirements.txt` |" in body
    assert "| failed | 3 | 1 | 2 | 4.2 s | 3.11.7 |" in body
    assert "- `tests/test_x.py::test_y`" in body
    assert "[!WARNING]" in body and "**failed** (1 failed, 0 errors)" in body
    assert 'package = "httpx"' in body
    assert read_marker(body) == {"key": "httpx", "updates": {"httpx": "1.1.0"}}


def test_passing_tests_have_no_warning_and_not_run_says_so() -> None:
    passed = Renderer().body(change("httpx"), None, TestReport(outcome="passed", passed=5))
    assert "[!WARNING]" not in passed
    assert "_The tests were not run._" in Renderer().body(change("httpx"), None, None)


def test_body_fits_the_limit_cutting_changelog_first_then_output() -> None:
    huge_log = "line of output\n" * 20_000
    tests = TestReport(outcome="failed", failed=1, output_tail=huge_log)
    changelog = [{"name": "httpx", "old": "1.0.0", "new": "1.1.0", "source_kind": "sdist",
                  "source_url": "https://example.invalid/changes", "source_path": "CHANGELOG.md", "flags": [],
                  "sections": [{"version": "1.1.0", "heading": "## 1.1.0", "text": "- a change\n" * 20_000}],
                  "missing": [], "note": None, "summary": None}]
    body = Renderer().body(change("httpx"), None, tests, changelog=changelog)
    assert len(body) <= BODY_LIMIT
    assert "cut short to fit" in body and "shortened" in body
    assert read_marker(body) is not None  # the marker survives truncation
    small = Renderer().body(change("httpx"), None, tests, changelog=changelog[:0])
    assert len(small) <= BODY_LIMIT


def test_mentions_in_third_party_text_do_not_ping() -> None:
    tests = TestReport(outcome="failed", output_tail="blame @octocat and @some-team for this")
    body = Renderer().body(change("httpx"), None, tests)
    assert "@octocat" not in body and "@<!-- -->octocat" in body
    assert neutralize_mentions("mail me at a@b.org, cc @dev") == "mail me at a@b.org, cc @<!-- -->dev"


def test_huge_failure_lists_are_capped_and_the_marker_and_footer_survive() -> None:
    failing = tuple(f"tests/test_big.py::test_case_{n}" for n in range(3000))
    body = Renderer().body(change("httpx"), None, TestReport(outcome="failed", failed=3000, failing=failing,
                                                            output_tail="x\n" * 40_000))
    assert len(body) <= BODY_LIMIT
    assert "… and 2950 more" in body
    assert read_marker(body) == {"key": "httpx", "updates": {"httpx": "1.1.0"}}
    assert 'package = "httpx"' in body  # the footer


def test_a_marker_inside_third_party_output_is_not_believed() -> None:
    fake = '<!-- nightcrew:{"key": "evil", "updates": {}} -->'
    assert read_marker("Some text\n" + fake) is None
    body = Renderer().body(change("httpx"), None, TestReport(outcome="failed", output_tail=fake))
    assert read_marker(body)["key"] == "httpx"


def test_hundreds_of_sections_and_flags_keep_tests_and_footer() -> None:
    sections = [{"version": f"1.{n}.0", "heading": f"## 1.{n}.0", "text": f"## 1.{n}.0\n\n- Removed thing {n}\n"}
                for n in range(600, 0, -1)]
    flags = [{"kind": "removal", "version": s["version"], "text": f"Removed thing {n}"} for n, s in enumerate(sections)]
    changelog = [{"name": "httpx", "old": "1.0.0", "new": "1.600.0", "source_kind": "sdist",
                  "source_url": "https://example.invalid/changes", "source_path": "CHANGES.md", "flags": flags,
                  "sections": sections, "missing": [], "note": None, "summary": None}]
    tests = TestReport(outcome="passed", passed=3, output_tail="ok\n" * 10)
    body = Renderer().body(change("httpx"), None, tests, changelog=changelog, limit=20_000)
    assert len(body) <= 20_000
    assert "### Tests" in body and 'package = "httpx"' in body and read_marker(body) is not None
    assert "… and 585 more flagged items" in body
    assert "left out to fit: [full text](https://example.invalid/changes)" in body
    assert "<summary>1.600.0</summary>" in body  # the newest sections stay


def test_cut_sections_never_leave_a_fence_open() -> None:
    from jobs.render import _close_fences

    assert _close_fences("a\n~~~~python\nx = 1") == "a\n~~~~python\nx = 1\n~~~~"
    assert _close_fences("```\ncode\n```\nafter") == "```\ncode\n```\nafter"


def test_versions_without_a_section_are_named_with_the_file_that_was_read() -> None:
    entry = {"name": "httpx", "old": "1.0.0", "new": "1.3.0", "source_kind": "sdist",
             "source_url": "https://example.invalid/httpx-1.3.0.tar.gz", "source_path": "docs/releases", "flags": [],
             "sections": [{"version": "1.3.0", "heading": "1.3.0", "text": "1.3.0\n\n- c"}],
             "missing": ["1.1.0", "1.2.0"], "note": None, "summary": None}
    body = Renderer().body(change("httpx"), None, None, changelog=[entry])
    assert ("_No changelog section for: 1.1.0, 1.2.0 in "
            "[`docs/releases`](https://example.invalid/httpx-1.3.0.tar.gz)._") in body
    described = Renderer().body(change("httpx"), None, None, changelog=[{**entry, "source_path": "description"}])
    assert ("_No changelog section for: 1.1.0, 1.2.0 in the "
            "[text that was read](https://example.invalid/httpx-1.3.0.tar.gz)._") in described

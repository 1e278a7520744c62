"""The report as JSON, a table and one self-contained HTML page; hostile names stay text everywhere."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from jobs.formats.report import SCHEMA, render_table, to_html, to_json
from jobs.report import compute
from jobs.state.store import Store
from tests.report.seed import NOW, REPO, audit, change, close, draft, override, pull, reopen, run

HOSTILE = "<script>alert(1)</script>"
MARKUP = "[bold]quiet[/bold]"  # rich's markup, in a rule name


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, name, value) for name, value in attrs]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def report(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    pull(store, 1, "11-02 00:00", packages={"httpx": "0.28.1"})
    close(store, 1, "11-03 00:00", merged=True)
    pull(store, 2, "11-09 00:00", packages={HOSTILE: "6.6.6"}, key=HOSTILE)
    close(store, 2, "11-10 00:00", merged=False)
    reopen(store, 2, "11-11 00:00")
    close(store, 2, "11-12 00:00", merged=False)
    pull(store, 3, "11-20 00:00", url="javascript:alert(3)")
    override(store, "closed-unmerged", 2, {HOSTILE: "6.6.6"}, "major", "11-10 00:00")
    run(store, "r1", "11-02 01:00")
    change(store, "r1", "httpx", "opened", "11-02 01:00", tests="passed")
    change(store, "r1", "lxml", "opened", "11-10 01:00", tests="failed")
    audit(store, "r1", "forge.create_pull", "denied", "11-02 02:00", rule=MARKUP)
    draft(store, "v1.0", "11-01 00:00", "11-03 00:00", 0.25)
    figures = compute(store, since=NOW - timedelta(days=30), repository=REPO, now=NOW)
    store.close()
    return figures


def test_json_has_the_schema_and_the_figures(report) -> None:
    data = json.loads(json.dumps(to_json(report)))
    assert data["schema"] == SCHEMA == "nightcrew.report/1"
    assert list(data) == ["schema", "repository", "since", "until", "pulls", "acceptance_rate",
                          "median_hours_to_merge", "median_hours_to_merge_by", "overrides", "tests", "releases",
                          "denials", "runs", "alerts", "weeks", "pull_requests", "merges_held", "security"]
    # 1 merged by a person, 2 closed by a person: 1 of 2 decided
    assert data["pulls"] == {"proposed": 3, "merged": 1, "closed_by_human": 1, "closed_by_nightcrew": 0, "open": 1,
                             "merged_by_human": 1, "merged_by_nightcrew": 0}
    assert data["acceptance_rate"] == 0.5 and data["median_hours_to_merge"] == 24.0
    assert data["median_hours_to_merge_by"] == {"human": 24.0, "nightcrew": None}
    assert data["tests"] == {"passed": 1, "total": 2, "pass_rate": 0.5, "not_run": 0}
    assert [p["merged_by"] for p in data["pull_requests"]] == ["human", None, None]
    assert data["overrides"]["by_package"] == [{"name": HOSTILE, "count": 1}]
    assert [a["kind"] for a in data["alerts"]] == ["reopened-closed"]
    assert data["since"] == "2026-10-31T12:00:00.000+00:00" and data["until"] == "2026-11-30T12:00:00.000+00:00"


def test_html_is_one_self_contained_page_with_charts(report) -> None:
    page = to_html(report)
    parsed = Page()
    parsed.feed(page)
    parsed.close()
    assert parsed.tags.count("html") == 1 and parsed.tags.count("body") == 1
    assert parsed.tags.count("svg") >= 3 and "rect" in parsed.tags and "polyline" in parsed.tags
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(parsed.tags)
    assert not [a for a in parsed.attrs if a[1] == "src" or a[1].startswith("on")]
    # the only web addresses are the links to the pull requests; a javascript: URL is shown as no link at all
    hrefs = [value for tag, name, value in parsed.attrs if name == "href"]
    assert hrefs == [f"https://github.com/{REPO}/pull/1", f"https://github.com/{REPO}/pull/2"]
    assert sorted(re.findall(r"https?://[^\s\"'<>]+", page)) == sorted(hrefs)
    assert "javascript:" not in page


def test_html_escapes_hostile_names(report) -> None:
    page = to_html(report)
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parsed = Page()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert any(HOSTILE in text for text in parsed.text)  # shown as the text it is


def test_table_shows_the_figures_and_keeps_markup_as_text(report) -> None:
    out = io.StringIO()
    render_table(report, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert re.search(r"acceptance rate\s+50\.0%", text) and re.search(r"median time to merge\s+24\.0 h", text)
    assert MARKUP in text and HOSTILE in text  # rich markup in a name is printed, not interpreted
    assert "1 alert" in text and "reopened-closed" in text

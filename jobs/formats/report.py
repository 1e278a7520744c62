"""Render a report: a rich table, JSON (schema ``nightcrew.report/1``) or one self-contained HTML page.

JSON keys are only ever added within a schema version::

    {
      "schema": "nightcrew.report/1",
      "repository": "acme/widgets",                 // null: every repository in the store
      "since": "2026-10-26T07:00:00.000+00:00", "until": "2026-11-25T07:00:00.000+00:00",
      "pulls": {"proposed": 12, "merged": 8,        // merged: by anyone, = merged_by_human + merged_by_nightcrew
                "merged_by_human": 6, "merged_by_nightcrew": 2,
                "closed_by_human": 2, "closed_by_nightcrew": 1, "open": 3},
      "acceptance_rate": 0.75,                      // merged_by_human / (merged_by_human + closed_by_human): what
                                                    // people accepted; the bot's own merges are left out.
                                                    // null: people decided nothing
      "median_hours_to_merge": 20.5,                // over every merge; null: nothing merged
      "median_hours_to_merge_by": {"human": 30.0, "nightcrew": 2.5},  // null where that one merged nothing
      "overrides": {"count": 3, "frequency": 0.25,  // per PR proposed; null: nothing proposed
                    "by_package": [{"name": "httpx", "count": 2}], "by_update_kind": [...], "by_kind": [...]},
      "tests": {"passed": 9, "total": 10,           // total: runs that ran tests (failed, error, timed_out: not
                "pass_rate": 0.9, "not_run": 2},    // passed); not_run (no tests collected) is outside the rate
      "releases": [{"tag": "v1.2.0", "distance": 0.12, "final_at": "..."}],
      "denials": {"count": 4, "by_rule": [{"name": "quiet-hours", "count": 4}], "by_action": [...]},
      "runs": {"count": 30, "by_outcome": [{"name": "ok", "count": 28}, ...]},
      "alerts": [{"kind": "repeated-failure | retry-loop | reopened-closed", "subject": "git.push", "count": 3,
                  "runs": ["3f2a9c1d7e4b", ...], "message": "git.push failed in 3 dependency-updates runs in a row"}],
      "weeks": [{"week": "2026-W44", "start": "2026-10-26", "opened": 3, "merged": 2, "closed_by_human": 0,
                 "tests_passed": 3, "tests_total": 4, "pass_rate": 0.75}],
      "pull_requests": [{"repository": "acme/widgets", "number": 12, "url": "...", "key": "httpx", "packages": {"httpx": "0.28.1"},
                         "kind": "minor", "state": "merged", "opened_at": "...", "merged_at": "...",
                         "closed_at": null, "closed_by": null, "hours_to_merge": 20.5, "tests": "passed",
                         "reopened": 0, "merged_by": "human"}]     // merged_by: human | nightcrew | null
    }
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jinja2
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jobs.report import Count, Report
from jobs.resources import data_dir
from jobs.state.store import stamp

SCHEMA = "nightcrew.report/1"


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _counts(counts: Sequence[Count]) -> list[dict[str, Any]]:
    return [{"name": c.name, "count": c.count} for c in counts]


def to_json(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "repository": report.repository,
        "since": stamp(report.since),
        "until": stamp(report.until),
        "pulls": {"proposed": report.pulls.proposed, "merged": report.pulls.merged,
                  "closed_by_human": report.pulls.closed_by_human,
                  "closed_by_nightcrew": report.pulls.closed_by_nightcrew, "open": report.pulls.open,
                  "merged_by_human": report.pulls.merged_by_human,
                  "merged_by_nightcrew": report.pulls.merged_by_nightcrew},
        "acceptance_rate": _rate(report.acceptance_rate),
        "median_hours_to_merge": _rate(report.median_hours_to_merge),
        "median_hours_to_merge_by": {"human": _rate(report.median_hours_to_merge_by_human),
                                     "nightcrew": _rate(report.median_hours_to_merge_by_nightcrew)},
        "overrides": {"count": report.overrides.count, "frequency": _rate(report.overrides.frequency),
                      "by_package": _counts(report.overrides.by_package),
                      "by_update_kind": _counts(report.overrides.by_update_kind),
                      "by_kind": _counts(report.overrides.by_kind)},
        "tests": {"passed": report.tests.passed, "total": report.tests.total,
                  "pass_rate": _rate(report.tests.pass_rate), "not_run": report.tests.not_run},
        "releases": [{"tag": r.tag, "distance": round(r.distance, 4), "final_at": r.final_at}
                     for r in report.releases],
        "denials": {"count": report.denials.count, "by_rule": _counts(report.denials.by_rule),
                    "by_action": _counts(report.denials.by_action)},
        "runs": {"count": report.run_count, "by_outcome": _counts(report.runs)},
        "alerts": [{"kind": a.kind, "subject": a.subject, "count": a.count, "runs": list(a.runs),
                    "message": a.message} for a in report.alerts],
        "weeks": [{"week": w.week, "start": w.start, "opened": w.opened, "merged": w.merged,
                   "closed_by_human": w.closed_by_human, "tests_passed": w.tests_passed,
                   "tests_total": w.tests_total, "pass_rate": _rate(w.pass_rate)} for w in report.weeks],
        "pull_requests": [{"repository": p.repository, "number": p.number, "url": p.url, "key": p.key, "packages": dict(p.packages),
                           "kind": p.kind, "state": p.state, "opened_at": p.opened_at, "merged_at": p.merged_at,
                           "closed_at": p.closed_at, "closed_by": p.closed_by,
                           "hours_to_merge": _rate(p.hours_to_merge), "tests": p.tests, "reopened": p.reopened,
                           "merged_by": p.merged_by if p.state == "merged" else None}
                          for p in report.pull_requests],
        "merges_held": _counts(report.merges_held),  # added in schema 1: keys only come after the old ones
        "security": {"open_advisories": [{"repository": a.repository, "package": a.package, "ids": list(a.ids),
                                          "fix_version": a.fix_version, "first_seen": a.first_seen}
                                         for a in report.security.open],
                     "fixed": report.security.fixed,
                     "median_hours_to_fix": _rate(report.security.median_hours_to_fix)},
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _number(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


def _joined(counts: Sequence[Count], limit: int = 5) -> str:
    shown = ", ".join(f"{c.name} {c.count}" for c in counts[:limit])
    more = len(counts) - limit
    return (shown + (f", {more} more" if more > 0 else "")) or "none"


def render_table(report: Report, console: Console) -> None:
    """The figures as two columns, then the alerts; every value from the store is escaped (names are untrusted)."""
    where = report.repository or "every repository"
    console.print(f"[bold]nightcrew report[/bold] {escape(where)}: "
                  f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC")
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("figure", style="bold")
    table.add_column("value", overflow="fold")
    p = report.pulls
    rows = [
        ("PRs proposed", str(p.proposed)),
        ("merged by a person", str(p.merged_by_human)),
        ("merged by nightcrew", str(p.merged_by_nightcrew)),
        ("closed by a person", str(p.closed_by_human)),
        ("closed by nightcrew", str(p.closed_by_nightcrew)),
        ("still open", str(p.open)),
        ("acceptance rate", f"{_percent(report.acceptance_rate)} (merged by a person, of those people decided)"),
        ("median time to merge", f"{_number(report.median_hours_to_merge, ' h')} "
                                 f"(by a person {_number(report.median_hours_to_merge_by_human, ' h')}, "
                                 f"by nightcrew {_number(report.median_hours_to_merge_by_nightcrew, ' h')})"),
        ("overrides", f"{report.overrides.count} ({_number(report.overrides.frequency)} per PR proposed)"),
        ("  by package", _joined(report.overrides.by_package)),
        ("  by update kind", _joined(report.overrides.by_update_kind)),
        ("  by override", _joined(report.overrides.by_kind)),
        ("test pass rate", f"{_percent(report.tests.pass_rate)} ({report.tests.passed} of {report.tests.total}; "
                           f"{report.tests.not_run} without tests to run)"),
        ("release-note edits", ", ".join(f"{r.tag} {r.distance:.2f}" for r in report.releases) or "none"),
        ("policy denials", f"{report.denials.count}"),
        ("  by rule", _joined(report.denials.by_rule)),
        ("  by action", _joined(report.denials.by_action)),
        ("merges held back", _joined(report.merges_held)),
        ("open advisories", f"{sum(len(a.ids) for a in report.security.open)}"
                            + "".join(f"{'; ' if i else ' ('}{a.package} {', '.join(a.ids)}"
                                      for i, a in enumerate(report.security.open[:5]))
                            + (")" if report.security.open else "")),
        ("advisory seen to fix merged", f"{_number(report.security.median_hours_to_fix, ' h')} median over "
                                        f"{report.security.fixed} fixed"),
        ("runs", f"{report.run_count} ({_joined(report.runs)})"),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    console.print(table)
    if report.alerts:
        console.print(f"[bold red]{len(report.alerts)} alert{'s' if len(report.alerts) != 1 else ''}[/bold red]")
        for alert in report.alerts:
            console.print(f"  [red]{alert.kind}[/red] {escape(alert.message)}")
    else:
        console.print("no alerts")


# -- the HTML page ---------------------------------------------------------------------------------------------

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 200, 36, 28, 12


def _label_step(n: int) -> int:
    return max(1, math.ceil(n / 12))  # at most about a dozen labels under a chart, whatever the period


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], *,
              top: float | None = None, fmt: str = "{:g}") -> dict[str, Any]:
    """Geometry for grouped bars: ``series`` is (name, values per label, css class). Numbers only, the template
    draws them (and escapes every label)."""
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    top = top or _nice_max(max((v for _, values, _ in series for v in values), default=0))
    n = max(len(labels), 1)
    slot = plot_w / n
    bar_w = min(max(slot * 0.8 / max(len(series), 1), 1), 40)  # one release must not make one huge bar
    group_w = bar_w * len(series)
    bars, texts = [], []
    for i, label in enumerate(labels):
        for j, (name, values, css) in enumerate(series):
            value = values[i]
            h = plot_h * min(value, top) / top
            x = LEFT + i * slot + (slot - group_w) / 2 + j * bar_w
            bars.append({"x": round(x, 2), "y": round(TOP + plot_h - h, 2),
                         "w": round(bar_w, 2), "h": round(h, 2), "css": css,
                         "title": f"{label}: {name} {fmt.format(value)}"})
        if i % _label_step(n) == 0:
            texts.append({"x": round(LEFT + i * slot + slot / 2, 2), "y": HEIGHT - BOTTOM + 14, "text": label})
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "labels": texts, "axis": _axis(top, fmt),
            "legend": [{"name": name, "css": css} for name, _, css in series], "base": TOP + plot_h,
            "left": LEFT, "right": WIDTH - 8}


def line_chart(labels: Sequence[str], values: Sequence[float | None], *, top: float = 1.0,
               fmt: str = "{:.0%}") -> dict[str, Any]:
    """Geometry for one line; a label without a value leaves a gap, not a drop to zero."""
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    n = max(len(labels), 1)
    slot = plot_w / n
    segments: list[list[str]] = [[]]
    dots, texts = [], []
    for i, (label, value) in enumerate(zip(labels, values)):
        x = round(LEFT + i * slot + slot / 2, 2)
        if value is None:
            if segments[-1]:
                segments.append([])
        else:
            y = round(TOP + plot_h - plot_h * min(value, top) / top, 2)
            segments[-1].append(f"{x},{y}")
            dots.append({"x": x, "y": y, "title": f"{label}: {fmt.format(value)}"})
        if i % _label_step(n) == 0:
            texts.append({"x": x, "y": HEIGHT - BOTTOM + 14, "text": label})
    return {"width": WIDTH, "height": HEIGHT, "lines": [" ".join(s) for s in segments if s], "dots": dots,
            "labels": texts, "axis": _axis(top, fmt), "base": TOP + plot_h, "left": LEFT, "right": WIDTH - 8}


def _axis(top: float, fmt: str) -> list[dict[str, Any]]:
    plot_h = HEIGHT - BOTTOM - TOP
    return [{"y": round(TOP + plot_h - plot_h * f, 2), "text": fmt.format(top * f)} for f in (0, 0.5, 1)]


def _link(url: str | None) -> str | None:
    """Only web links become links: a local forge's path means nothing to a browser opening the page elsewhere,
    and anything else (``javascript:``) is not followed."""
    return url if url and url.startswith(("https://", "http://")) else None


def html_context(report: Report) -> dict[str, Any]:
    weeks = [w.week for w in report.weeks]
    data = to_json(report)
    return {
        "report": data,
        "where": report.repository or "every repository",
        "failures_in_a_row": report.failures_in_a_row,
        "since": f"{report.since:%Y-%m-%d %H:%M}",
        "until": f"{report.until:%Y-%m-%d %H:%M}",
        "acceptance": _percent(report.acceptance_rate),
        "median": _number(report.median_hours_to_merge, " h"),
        "median_by_human": _number(report.median_hours_to_merge_by_human, " h"),
        "median_by_nightcrew": _number(report.median_hours_to_merge_by_nightcrew, " h"),
        "frequency": _number(report.overrides.frequency),
        "pass_rate": _percent(report.tests.pass_rate),
        "pulls_chart": bar_chart(weeks, [
            ("opened", [w.opened for w in report.weeks], "opened"),
            ("merged", [w.merged for w in report.weeks], "merged"),
            ("closed by a person", [w.closed_by_human for w in report.weeks], "closed")]),
        "tests_chart": line_chart(weeks, [w.pass_rate for w in report.weeks]),
        "edits_chart": bar_chart([r.tag for r in report.releases], [
            ("edit distance", [r.distance for r in report.releases], "edits")], top=1.0, fmt="{:.2f}"),
        "pulls": [{**p, "link": _link(p["url"]),
                   "packages_text": ", ".join(f"{n} {v}" for n, v in p["packages"].items())}
                  for p in data["pull_requests"]],
    }


def to_html(report: Report) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        autoescape=True,  # package names, keys and messages come from upstream and from people: never markup
        keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2").render(**html_context(report))

"""Render the texts people read (commit messages, PR titles and bodies) from the Jinja templates."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import jinja2

from jobs.models import ProposedChange, TestReport
from jobs.resources import data_dir

BODY_LIMIT = 65_536  # GitHub's limit on a pull-request body, in characters
MARKER_PREFIX = "<!-- nightcrew:"
_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9][A-Za-z0-9-]*)")
_MARKER = re.compile(r"\s*<!-- nightcrew:(\{.*?\}) -->")
MAX_FAILING_LISTED = 50
MAX_FLAGS_LISTED = 15  # per package: the rest is in the sections below


_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _close_fences(text: str) -> str:
    """``text`` with a fenced code block it leaves open closed again (a cut must not swallow what follows)."""
    opened: str | None = None
    for line in text.split("\n"):
        found = _FENCE_LINE.match(line)
        if not found:
            continue
        fence = found.group(1)
        if opened is None:
            opened = fence
        elif fence[0] == opened[0] and len(fence) >= len(opened) and not line.strip()[len(fence):].strip():
            opened = None
    return text + f"\n{opened}" if opened else text


def neutralize_mentions(text: str) -> str:
    """Stop third-party text from pinging people: ``@name`` becomes ``@<!-- -->name`` (renders the same)."""
    return _MENTION.sub("@<!-- -->", text)


def environment(folder: Path | None = None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in ([folder] if folder else []) + [data_dir("templates")]]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # markdown and plain text, not HTML
    )
    env.filters["neutralize_mentions"] = neutralize_mentions
    return env


def change_context(change: ProposedChange, group: str | None) -> dict[str, Any]:
    by_package: dict[tuple[str, str], dict[str, Any]] = {}
    for update in change.updates:
        key = (update.dependency.name, str(update.new))
        entry = by_package.setdefault(key, {
            "name": update.dependency.name, "old": str(update.old) if update.old else "?",
            "new": str(update.new), "kind": update.kind, "files": [],
        })
        if update.dependency.file not in entry["files"]:
            entry["files"].append(update.dependency.file)
    security = [{"id": a.id, "url": a.url, "aliases": list(a.aliases), "severity": a.severity,
                 "summary": _cell(a.summary), "fixed": list(a.fixed)} for a in change.security]
    return {"key": change.key, "is_group": group is not None, "group": group, "updates": list(by_package.values()),
            "security": security, "yanked": None if change.yanked is None else _cell(change.yanked)}


def _cell(text: str) -> str:
    """Advisory text (third-party) as one markdown table cell: one line, pipes escaped, no pings, no HTML."""
    text = " ".join(str(text or "").split()).replace("|", "\\|").replace("<", "&lt;")
    return neutralize_mentions(text)


def marker(change: ProposedChange, **more: object) -> str:
    """A hidden comment, first in the body, that lets a later run know what the PR proposes."""
    data = {"key": change.key, "updates": {u.dependency.name: str(u.new) for u in change.updates}, **more}
    released = {u.dependency.name: u.released.isoformat(timespec="seconds") for u in change.updates if u.released}
    if released:  # the automerge rules' minimum release age is checked against these on a later run
        data["released"] = released
    return f"{MARKER_PREFIX}{json.dumps(data, sort_keys=True)} -->"


def with_marker(body: str, **more: object) -> str:
    """``body`` with fields added to its marker (e.g. who closed it); unchanged when it has none."""
    found = _MARKER.match(body or "")
    data = read_marker(body)
    if not found or data is None:
        return body
    data.update(more)
    return f"{MARKER_PREFIX}{json.dumps(data, sort_keys=True)} -->" + body[found.end():]


def read_marker(body: str) -> dict[str, Any] | None:
    """The marker, read only at the very start of the body: text further down may come from third parties."""
    found = _MARKER.match(body or "")
    if not found:
        return None
    try:
        return json.loads(found.group(1))
    except ValueError:
        return None


MAX_LOCK_ROWS = 60  # locked packages listed per lockfile in a PR body; the rest are counted


class Renderer:
    def __init__(self, folder: Path | None = None, config_file: str = "nightcrew.toml") -> None:
        self.env = environment(folder)
        self.config_file = config_file

    def commit_message(self, change: ProposedChange, group: str | None) -> str:
        text = self.env.get_template("commit_message.j2").render(change=change_context(change, group))
        return text.strip() + "\n"

    def title(self, change: ProposedChange, group: str | None) -> str:
        return " ".join(self.env.get_template("pr_title.j2").render(change=change_context(change, group)).split())

    def body(self, change: ProposedChange, group: str | None, tests: TestReport | None,
             changelog: list[dict[str, Any]] | None = None, limit: int = BODY_LIMIT,
             locks: list[dict[str, Any]] | None = None, publishers: list[dict[str, Any]] | None = None) -> str:
        """The PR body, under ``limit``: the changelog is cut first, then the test output."""
        changelog = [dict(e, sections=[dict(section) for section in e.get("sections", [])],
                          flags=list(e.get("flags", []))[:MAX_FLAGS_LISTED],
                          flags_more=max(0, len(e.get("flags", [])) - MAX_FLAGS_LISTED), sections_more=0)
                     for e in (changelog or [])]
        test_data = asdict(tests) if tests else None
        failing_more = 0
        if test_data:
            test_data["output_tail"] = neutralize_mentions(test_data["output_tail"])
            failing_more = max(0, len(test_data["failing"]) - MAX_FAILING_LISTED)
            test_data["failing"] = test_data["failing"][:MAX_FAILING_LISTED]
        context = {
            "change": change_context(change, group), "changelog": changelog, "changelog_truncated": False,
            "tests": test_data, "tests_truncated": False, "marker": marker(change), "config_file": self.config_file,
            "failing_more": failing_more,
            "locks": [dict(lock, changes=lock["changes"][:MAX_LOCK_ROWS],
                           more=max(0, len(lock["changes"]) - MAX_LOCK_ROWS)) for lock in (locks or [])],
            "publishers": [{k: (_cell(v) if isinstance(v, str) else v) for k, v in c.items()}
                           for c in (publishers or [])],
        }
        template = self.env.get_template("pr_body.md.j2")
        text = template.render(**context)
        for field in ("changelog", "tests"):
            while len(text) > limit and self._shorten(context, field):
                text = template.render(**context)
        return text if len(text) <= limit else text[: limit - 40] + "\n\n_(shortened to fit)_\n"

    @staticmethod
    def _shorten(context: dict[str, Any], field: str) -> bool:
        """Halve the longest text of ``field``; False when nothing is left to cut."""
        if field == "changelog":
            sections = [s for e in context["changelog"] for s in e["sections"] if len(s["text"]) > 200]
            if not sections:
                # many short sections: drop the oldest of the package with the most, and say how many went
                fullest = max(context["changelog"], key=lambda e: len(e["sections"]), default=None)
                if fullest is None or len(fullest["sections"]) <= 1:
                    return False
                fullest["sections"].pop()
                fullest["sections_more"] += 1
                context["changelog_truncated"] = True
                return True
            longest = max(sections, key=lambda s: len(s["text"]))
            text = _close_fences(longest["text"][: len(longest["text"]) // 2].rstrip())
            longest["text"] = text + "\n\n…"
            context["changelog_truncated"] = True
            return True
        tests = context["tests"]
        if not tests or len(tests["output_tail"]) <= 200:
            return False
        tail = tests["output_tail"]
        tests["output_tail"] = "…\n" + tail[len(tail) // 2:]
        context["tests_truncated"] = True
        return True

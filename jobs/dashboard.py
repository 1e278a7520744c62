"""The dependency dashboard, like Renovate's: every update nightcrew knows of (pending, open, ignored, failing) in one
issue (GitHub) or one markdown file (local forge), rewritten after each dependency-update run."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from jobs.config import Config
from jobs.errors import NightcrewError
from jobs.forges.base import DashboardResult, Forge
from jobs.models import Problem
from jobs.render import environment, neutralize_mentions, read_marker
from jobs.state.record import change_kind
from jobs.state.store import Store
from jobs.tools.gate import Denied, Stopped
from jobs.tools.redact import redact

if TYPE_CHECKING:
    from jobs.dependency_updates import ChangeResult, UpdateRun
    from jobs.planner import Skip
    from jobs.tools.gate import Gate

MARKER = "<!-- nightcrew:dashboard -->"
# Skips that leave nothing to do: the update is in already.
_DONE = ("already merged", "the manifests already allow")
_REJECTED = "closed without merging"
MAX_CLOSED_LISTED = 20


@dataclass(frozen=True)
class Item:
    """One update (or group of updates) as the dashboard lists it."""

    key: str
    packages: tuple[tuple[str, str | None, str], ...]  # (name, from, to); from is None when only the PR tells
    kind: str | None = None
    reason: str | None = None
    pull_number: int | None = None
    pull_url: str | None = None
    tests: str | None = None
    branch: str | None = None

    @property
    def versions(self) -> frozenset[tuple[str, str]]:
        return frozenset((name, new) for name, _, new in self.packages)

    def same_update(self, other: "Item") -> bool:
        """The same update seen twice: one pull request, one branch, or the same packages at the same versions."""
        if self.pull_number is not None and self.pull_number == other.pull_number:
            return True
        if self.branch and self.branch == other.branch:
            return True
        return bool(self.versions) and self.versions == other.versions


@dataclass(frozen=True)
class Dashboard:
    pending: tuple[Item, ...]  # chosen, not proposed yet: a limit, a policy denial, a stopped run, someone's commits
    open: tuple[Item, ...]  # an open pull request whose tests passed (or did not run)
    ignored: tuple[Item, ...]  # closed without merging by a person: not proposed again
    failing: tuple[Item, ...]  # tests failed, or the change could not be made
    ignore_rules: tuple[str, ...]  # [updates] ignore, as people wrote them
    closed_more: int = 0  # closed-without-merging PRs not listed (the list is capped)
    security: tuple[Item, ...] = ()  # known vulnerabilities: their security updates, and the ones left unfixed


def _change_item(result: "ChangeResult", *, reason: str | None = None, tests: str | None = None) -> Item:
    if result.change is not None:
        packages = tuple(dict.fromkeys((u.dependency.name, str(u.old) if u.old else None, str(u.new))
                                       for u in result.change.updates))
        kind = change_kind(u.kind for u in result.change.updates)
    else:
        updates = ((read_marker(result.pull.body) or {}).get("updates") or {}) if result.pull else {}
        packages = tuple((name, None, str(version)) for name, version in sorted(updates.items()))
        kind = None
    pull = result.pull
    return Item(result.key, packages, kind, reason if reason is not None else result.reason,
                pull.number if pull else None, pull.url if pull else None, tests, result.branch or None)


def _tracked_item(row: dict, reason: str | None = None) -> Item:
    packages = json.loads(row["packages"] or "{}")
    return Item(row["key"] or ", ".join(sorted(packages)), tuple((n, None, v) for n, v in sorted(packages.items())),
                row["kind"], reason, row["number"], row["url"], row["tests"], row["branch"] or None)


def _skip_item(skip: "Skip") -> Item:
    return Item(skip.name, ((skip.name, None, skip.version or "?"),), None, skip.reason)


def _rule(rule: object) -> str:
    parts = [f"`{getattr(rule, 'package')}`"]
    if getattr(rule, "versions", ""):
        parts.append(f"versions `{getattr(rule, 'versions')}`")
    if getattr(rule, "kinds", ()):
        parts.append("kinds " + ", ".join(getattr(rule, "kinds")))
    return " ".join(parts)


def build(result: "UpdateRun", *, store: Store | None, repository: str, config: Config) -> Dashboard:
    """Sort the run's changes and skips, and the store's record of the bot's PRs, into the four sections.

    Each update appears once (the same pull request, branch, or packages at the same versions): failing wins over
    open, open over pending.
    """
    pending: list[Item] = []
    opened: list[Item] = []
    ignored: list[Item] = []
    failing: list[Item] = []
    tracked = {row["number"]: row for row in store.tracked_pulls(repository)} if store is not None else {}
    for r in result.changes:
        tests = r.tests.outcome if r.tests is not None else None
        if r.action in ("superseded", "merged"):
            continue
        if r.action == "failed":
            failing.append(_change_item(r, tests=tests))
        elif r.action in ("opened", "updated", "unchanged"):
            if tests is None and r.pull is not None and r.pull.number in tracked:
                tests = tracked[r.pull.number]["tests"]  # not re-run this time: the last result stands
            if tests is not None and tests != "passed":
                failing.append(_change_item(r, reason=f"tests {tests.replace('_', ' ')}", tests=tests))
            else:
                opened.append(_change_item(r, reason=None, tests=tests))
        elif _REJECTED in (r.reason or ""):
            ignored.append(_change_item(r))
        elif (r.reason or "").startswith(_DONE):
            continue
        elif tests is not None and tests != "passed":
            failing.append(_change_item(r, tests=tests))
        elif r.pull is not None and r.pull.state == "open":
            opened.append(_change_item(r, tests=tests))  # e.g. someone else committed to its branch
        else:
            pending.append(_change_item(r))
    for wait in getattr(result, "waiting", ()):  # the cooldown holds these back until a date
        until = f"until {wait.eligible_from:%Y-%m-%d}" if wait.eligible_from else "until the index gives its age"
        pending.append(Item(key=f"{wait.name}@cooldown", packages=((wait.name, None, wait.version),),
                            reason=f"cooldown: waits {until} ({wait.rule})"))
    security: list[Item] = []
    for r in result.changes:
        if r.change is not None and r.change.security:
            ids = ", ".join(a.id for a in r.change.security)
            security.append(replace(_change_item(r), reason=f"fixes {ids}"))
    for skip in result.skipped:
        if skip.reason.startswith("vulnerable ("):  # ignored by a rule, or no release fixes it yet
            security.append(_skip_item(skip))
            continue
        (ignored if _REJECTED in skip.reason else failing).append(_skip_item(skip))

    listed = {i.pull_number for i in (*opened, *failing) if i.pull_number is not None}
    for number, row in sorted(tracked.items()):
        if row["state"] != "open" or number in listed:
            continue
        if row["tests"] and row["tests"] != "passed":
            failing.append(_tracked_item(row, f"tests {row['tests'].replace('_', ' ')}"))
        else:
            opened.append(_tracked_item(row))
    # e.g. a change held back by a limit or the policy this run, whose PR from an earlier run is open
    opened = [i for i in opened if not any(i.same_update(f) for f in failing)]
    pending = [i for i in pending if not any(i.same_update(o) for o in (*failing, *opened))]
    closed = [row for row in tracked.values() if row["state"] == "closed" and row["closed_by"] == "human"]
    closed.sort(key=lambda row: row["closed_at"] or "", reverse=True)
    closed_items = [_tracked_item(row) for row in closed]
    by_versions = {item.versions: item for item in reversed(closed_items)}  # the newest close wins
    # the section says why; what a reader wants from each is the pull request that was closed
    ignored = [replace(by_versions.get(i.versions, i), reason=None) for i in ignored]
    listed_versions = {i.versions for i in ignored}
    closed_items = [i for i in closed_items if i.versions not in listed_versions]
    ignored += closed_items[:MAX_CLOSED_LISTED]
    return Dashboard(tuple(pending), tuple(opened), tuple(ignored), tuple(failing),
                     tuple(_rule(rule) for rule in config.updates.ignore),
                     max(0, len(closed_items) - MAX_CLOSED_LISTED), tuple(security))


_ONE_LINE = re.compile(r"\s+")
_MARKUP = re.compile(r"([\\`*_\[\]<>|])")
# What GitHub turns into a link by itself: web addresses (scheme, www.), e-mail addresses, and references to
# issues and pull requests ("#12", "owner/repo#12", "GH-12"), which also leave a "mentioned this" note on the
# issue referred to. An empty HTML comment inside each breaks the match and renders as nothing, as for mentions.
_AUTOLINK = re.compile(r"(?i)(?:https?|ftp)(?=://)|www(?=\.)|\bgh(?=-\d)|#(?=\d)|(?<=\w)@(?=\w)")


def _break_autolink(found: re.Match) -> str:
    return found.group(0) + "<!-- -->"


def plain(text: object) -> str:
    """Untrusted text (error messages, upstream names) as one line of markdown that renders as itself: no links
    (not even the ones GitHub makes of bare addresses and issue references), no HTML, no mentions."""
    line = _ONE_LINE.sub(" ", str(text)).strip()[:300]
    return neutralize_mentions(_AUTOLINK.sub(_break_autolink, _MARKUP.sub(r"\\\1", line)))


def render(dashboard: Dashboard, *, config: Config, links_from: Path | None = None) -> str:
    """The markdown body, marker first. ``links_from``: the folder of a local dashboard file, to which the local
    forge's PR files are linked relatively."""

    def link(url: str | None) -> str | None:
        if not url:
            return None
        if url.startswith(("https://", "http://")):
            return url
        if links_from is not None and os.path.isabs(url):
            return Path(os.path.relpath(url, links_from)).as_posix()
        return None

    def view(items: Iterable[Item]) -> list[dict]:
        return [{"key": i.key, "kind": i.kind, "reason": i.reason, "number": i.pull_number, "url": link(i.pull_url),
                 "tests": i.tests, "packages": [{"name": n, "old": o, "new": v} for n, o, v in i.packages]}
                for i in items]

    env = environment()
    env.filters["plain"] = plain
    return env.get_template("dashboard.md.j2").render(
        marker=MARKER, pending=view(dashboard.pending), open=view(dashboard.open), ignored=view(dashboard.ignored),
        failing=view(dashboard.failing), ignore_rules=list(dashboard.ignore_rules), closed_more=dashboard.closed_more,
        security=view(dashboard.security),
        config_file=Path(config.source).name if config.source else "nightcrew.toml",
    )


def update(repo: Path, config: Config, *, forge: Forge, gate: "Gate", store: Store | None, repository: str,
           result: "UpdateRun") -> tuple[DashboardResult | None, Problem | None]:
    """Build, render and write the dashboard through the gate (action ``forge.dashboard``).

    Whatever goes wrong is returned as a problem for the run's summary: the dashboard never costs the run. A policy
    denial is no problem (advisory mode, quiet hours: the gate audited it and the run lists it with its denials);
    ``Stopped`` (kill switch, shutdown) propagates, so that the caller records the run as stopped.
    """
    file = Path(config.dashboard.file)
    file = file if file.is_absolute() else repo / file
    try:
        dashboard = build(result, store=store, repository=repository, config=config)
        body = render(dashboard, config=config, links_from=file.parent if forge.kind == "local" else None)
        target = config.dashboard.file if forge.kind == "local" else f"issue {config.dashboard.title!r}"
        written = gate.run("forge.dashboard", target, lambda: forge.upsert_dashboard(
            title=config.dashboard.title, body=body, marker=MARKER, file=file))
        return written, None
    except Stopped:
        raise
    except Denied:
        return None, None
    except NightcrewError as exc:  # the forge refused, the file could not be written
        return None, Problem(None, None, f"dependency dashboard not updated: {exc}")
    except Exception as exc:  # a surprise in the dashboard must not turn a finished run into a crash
        reason = redact(f"{type(exc).__name__}: {exc}", gate.secrets).splitlines()[0][:300]
        return None, Problem(None, None, f"dependency dashboard not updated: internal error: {reason}")

"""The report job: figures from the state store that show whether the bot earns its keep, and alerts when it misbehaves.

``compute`` reads the store and returns a ``Report`` (frozen records); ``jobs.formats.report`` renders it as a
table, JSON or one HTML page; ``run_job`` is the scheduled entry that writes report.json and report.html.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import select

from jobs.config import Config
from jobs.state import schema
from jobs.state.store import Store, now as store_now, parse_stamp, stamp

# Runs that stopped before doing their work neither continue nor break a run of failures.
_FINISHED = ("ok", "partial", "failed")
# The same action on the same target erroring this often within one run is a retry loop, whatever N is.
RETRIES_IN_ONE_RUN = 5


@dataclass(frozen=True)
class Count:
    name: str
    count: int


@dataclass(frozen=True)
class Pulls:
    proposed: int  # opened in the period
    merged: int  # merged in the period, by anyone
    closed_by_human: int  # closed without merging by a person in the period
    closed_by_nightcrew: int  # superseded or no longer needed, in the period
    open: int  # open at the end of the period
    merged_by_human: int = 0  # of ``merged``: a person merged it
    merged_by_nightcrew: int = 0  # of ``merged``: nightcrew merged it itself (autonomous mode)


@dataclass(frozen=True)
class Overrides:
    count: int
    frequency: float | None  # overrides per PR proposed; None when nothing was proposed
    by_package: tuple[Count, ...]
    by_update_kind: tuple[Count, ...]
    by_kind: tuple[Count, ...]  # closed-unmerged, edited, branch-pushed, reopened


@dataclass(frozen=True)
class Tests:
    """Test runs on bump branches. ``total`` counts the runs that ran tests: ``failed``, ``error`` and
    ``timed_out`` did not pass; ``not_run`` (no tests collected, a repository without tests) is counted apart,
    or such a repository would show a pass rate of 0%."""

    passed: int
    total: int  # passed + not passed
    not_run: int = 0

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.total if self.total else None


@dataclass(frozen=True)
class ReleaseEdit:
    tag: str
    distance: float  # 0 = published as drafted, 1 = nothing of the draft left
    final_at: str | None


@dataclass(frozen=True)
class Denials:
    count: int
    by_rule: tuple[Count, ...]
    by_action: tuple[Count, ...]


@dataclass(frozen=True)
class Alert:
    kind: str  # repeated-failure | retry-loop | reopened-closed | publisher-changed | security-pr-waiting
    subject: str  # the action, the change key, "action target", or "#number"
    count: int  # runs in a row, errors in the run, or times reopened
    runs: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class OpenAdvisory:
    """A known vulnerability of a dependency, as the latest dependency-update run that checked saw it."""

    repository: str
    package: str
    ids: tuple[str, ...]
    fix_version: str | None
    first_seen: str  # the start of the first run (of the streak up to now) that saw it


@dataclass(frozen=True)
class Security:
    open: tuple[OpenAdvisory, ...]  # as of the latest run that checked, per repository
    fixed: int  # advisories gone in the period after a PR moving their package was merged
    median_hours_to_fix: float | None  # first seen -> that merge


@dataclass(frozen=True)
class Week:
    week: str  # ISO week, "2026-W48"
    start: str  # its Monday, "2026-11-23"
    opened: int
    merged: int
    closed_by_human: int
    tests_passed: int
    tests_total: int

    @property
    def pass_rate(self) -> float | None:
        return self.tests_passed / self.tests_total if self.tests_total else None


@dataclass(frozen=True)
class PullRecord:
    repository: str
    number: int
    url: str | None
    key: str | None
    packages: tuple[tuple[str, str], ...]  # (name, version)
    kind: str | None
    state: str
    opened_at: str
    merged_at: str | None
    closed_at: str | None
    closed_by: str | None
    tests: str | None
    reopened: int
    merged_by: str | None = None  # human | nightcrew, when merged

    @property
    def merged_by_nightcrew(self) -> bool:
        # a merge recorded without a merger predates autonomous merges: a person's
        return self.state == "merged" and self.merged_by == "nightcrew"

    @property
    def hours_to_merge(self) -> float | None:
        if not self.merged_at:
            return None
        return (parse_stamp(self.merged_at) - parse_stamp(self.opened_at)).total_seconds() / 3600


@dataclass(frozen=True)
class Report:
    repository: str | None
    since: datetime
    until: datetime
    pulls: Pulls
    # merged by a person / (merged by a person + closed by a person); None when people decided nothing. The bot's
    # own merges are left out: they say what the policy allowed, not what people accepted.
    acceptance_rate: float | None
    median_hours_to_merge: float | None  # over every merge
    overrides: Overrides
    tests: Tests
    releases: tuple[ReleaseEdit, ...]
    denials: Denials
    runs: tuple[Count, ...]  # by outcome
    alerts: tuple[Alert, ...]
    weeks: tuple[Week, ...]
    pull_requests: tuple[PullRecord, ...]  # every PR opened, merged or closed in the period, or open at its end
    failures_in_a_row: int
    median_hours_to_merge_by_human: float | None = None
    median_hours_to_merge_by_nightcrew: float | None = None
    merges_held: tuple[Count, ...] = ()  # autonomous merges held back, by rule (a pending check, a failed one...)
    security: Security = Security((), 0, None)

    @property
    def run_count(self) -> int:
        return sum(c.count for c in self.runs)


def _counts(counter: Counter) -> tuple[Count, ...]:
    """Most first, then by name, so that equal counts always come out in the same order."""
    return tuple(Count(str(name), n) for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def _in(value: str | None, since: datetime, until: datetime) -> bool:
    return bool(value) and since <= parse_stamp(value) <= until  # type: ignore[arg-type]


def _week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _rows(store: Store, query: Any) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _pull_record(row: dict) -> PullRecord:
    packages = json.loads(row["packages"] or "{}")
    return PullRecord(
        repository=row["repository"], number=row["number"], url=row["url"], key=row["key"], packages=tuple(sorted(packages.items())),
        kind=row["kind"], state=row["state"], opened_at=row["opened_at"], merged_at=row["merged_at"],
        closed_at=row["closed_at"], closed_by=row["closed_by"], tests=row["tests"], reopened=row["reopened"] or 0,
        merged_by=row["merged_by"])


def _streaks(ordered: list[dict], hits: dict[str, set[str]]) -> dict[str, tuple[str, ...]]:
    """For each thing in ``hits`` (run id -> things that failed in it), its longest run of consecutive runs.

    A finished run without the failure breaks the streak; a run that stopped early (paused, interrupted,
    abandoned, still running) did not get the chance to fail, so it neither breaks nor extends it.
    """
    best: dict[str, tuple[str, ...]] = {}
    current: dict[str, list[str]] = {}
    for run in ordered:
        present = hits.get(run["id"], set())
        for thing in list(current):
            if thing not in present and run["outcome"] in _FINISHED:
                found = current.pop(thing)
                if len(found) > len(best.get(thing, ())):
                    best[thing] = tuple(found)
        for thing in present:
            current.setdefault(thing, []).append(run["id"])
    for thing, found in current.items():
        if len(found) > len(best.get(thing, ())):
            best[thing] = tuple(found)
    return best


def _alerts(store: Store, runs: list[dict], since: datetime, until: datetime, n: int, *,
            every_repository: bool = False) -> list[Alert]:
    alerts: list[Alert] = []
    # A streak is consecutive runs of one job on one repository: another repository's runs neither break nor
    # extend it, even in a report over every repository.
    by_job: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        by_job.setdefault((run["repository"], run["job"]), []).append(run)
    run_ids = {r["id"] for r in runs}
    audit = schema.audit
    errors = [r for r in _rows(store, select(audit.c.run_id, audit.c.action, audit.c.target).where(
        audit.c.outcome == "error", audit.c.time >= stamp(since), audit.c.time <= stamp(until))
        .order_by(audit.c.time, audit.c.id)) if r["run_id"] in run_ids]
    failed_actions: dict[str, set[str]] = {}
    per_target: Counter = Counter()
    for row in errors:
        failed_actions.setdefault(row["run_id"], set()).add(row["action"])
        per_target[(row["run_id"], row["action"], row["target"])] += 1
    changes = schema.changes
    failed_keys: dict[str, set[str]] = {}
    for row in _rows(store, select(changes.c.run_id, changes.c.key).where(
            changes.c.action == "failed", changes.c.at >= stamp(since), changes.c.at <= stamp(until))):
        if row["run_id"] in run_ids:
            failed_keys.setdefault(row["run_id"], set()).add(row["key"])
    for (repository, job), ordered in sorted(by_job.items()):
        where = f" on {repository}" if every_repository else ""
        for action, streak in sorted(_streaks(ordered, failed_actions).items()):
            if len(streak) >= n:
                alerts.append(Alert("repeated-failure", action, len(streak), streak,
                                    f"{action} failed in {len(streak)} {job} runs in a row{where}"))
        for key, streak in sorted(_streaks(ordered, failed_keys).items()):
            if len(streak) >= n:
                alerts.append(Alert("retry-loop", key, len(streak), streak,
                                    f"change {key} failed in {len(streak)} {job} runs in a row{where}"))
    for (run_id, action, target), count in sorted(per_target.items()):
        if count >= RETRIES_IN_ONE_RUN:
            alerts.append(Alert("retry-loop", f"{action} {target}", count, (run_id,),
                                f"{action} on {target} failed {count} times in run {run_id}"))
    # a release published differently than the one before it (PEP 740): once per package version
    flagged: dict[str, list[dict]] = {}
    for row in _rows(store, select(audit.c.run_id, audit.c.target, audit.c.detail).where(
            audit.c.outcome == "flagged", audit.c.rule == "publisher-changed", audit.c.time >= stamp(since),
            audit.c.time <= stamp(until)).order_by(audit.c.time, audit.c.id)):
        if row["run_id"] in run_ids:
            flagged.setdefault(row["target"], []).append(row)
    for target, rows in sorted(flagged.items()):
        alerts.append(Alert("publisher-changed", target, len(rows), tuple(dict.fromkeys(r["run_id"] for r in rows)),
                            f"{rows[-1]['detail'] or target} (a person reviews it; never merged by the bot)"))
    return alerts


def _recorded(summary: str | None) -> tuple[dict[str, tuple[tuple[str, ...], str | None]], set[str]] | None:
    """A run summary's advisories, {name: (ids, fix)}, and the names it could not check; None when the run did
    not check (or its record is not what the job writes: the store is a file people can edit)."""
    try:
        data = json.loads(summary or "{}")
    except ValueError:
        return None
    seen = data.get("advisories") if isinstance(data, dict) else None
    if not isinstance(seen, dict):
        return None
    found: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for name, entry in seen.items():
        ids = entry.get("ids") if isinstance(entry, dict) else None
        if isinstance(ids, list) and ids:
            fix = entry.get("fix")
            found[str(name)] = (tuple(str(i) for i in ids), str(fix) if isinstance(fix, str) and fix else None)
    unchecked = data.get("advisories_unchecked")
    return found, {str(n) for n in unchecked} if isinstance(unchecked, list) else set()


def _reaches(version: str | None, fix: str | None) -> bool:
    """Whether a PR's version reaches the release that fixes an advisory (no fix known: nothing reaches it)."""
    if version is None or fix is None:
        return False
    try:
        return Version(version) >= Version(fix)
    except InvalidVersion:
        return False


def _security(runs: list[dict], pulls: list[PullRecord], since: datetime, until: datetime,
              security_pr_days: float) -> tuple[Security, list[Alert]]:
    """Advisories followed from run to run (each dependency-update run records what it knew to be vulnerable),
    the time from first seeing one to merging the PR that moved its package to the fix, and security PRs left
    waiting. A package a run could not check keeps its advisories open; one gone without a merge that reaches
    the fix (withdrawn, fixed by hand, the dependency dropped) is not counted as fixed."""
    checked = [r for r in runs if r["job"] == "dependency-updates" and parse_stamp(r["started_at"]) <= until]
    open_now: list[OpenAdvisory] = []
    hours: list[float] = []
    for repo in sorted({r["repository"] for r in checked}):
        active: dict[tuple[str, str], tuple[str, str | None]] = {}  # (package, id) -> (first seen, fix)
        for run in (r for r in checked if r["repository"] == repo):
            recorded = _recorded(run["summary"])
            if recorded is None:
                continue  # that run did not check
            seen, unchecked = recorded
            now_keys = {(name, i): fix for name, (ids, fix) in seen.items() for i in ids}
            for key, fix in now_keys.items():
                first = active[key][0] if key in active else run["started_at"]
                active[key] = (first, fix)
            for key in [k for k in active if k not in now_keys and k[0] not in unchecked]:
                first_text, fix = active.pop(key)
                first, gone = parse_stamp(first_text), parse_stamp(run["started_at"])
                merges = sorted(parse_stamp(p.merged_at) for p in pulls if p.repository == repo
                                and p.state == "merged" and p.merged_at
                                and _reaches(dict(p.packages).get(key[0]), fix)
                                and first <= parse_stamp(p.merged_at) <= gone)
                if merges and since <= merges[0] <= until:
                    hours.append((merges[0] - first).total_seconds() / 3600)
        by_package: dict[str, list[str]] = {}
        for name, ident in sorted(active):
            by_package.setdefault(name, []).append(ident)
        for name, ids in by_package.items():
            open_now.append(OpenAdvisory(repo, name, tuple(ids), active[(name, ids[0])][1],
                                         min(active[(name, i)][0] for i in ids)))
    alerts: dict[tuple[str, int], list[str]] = {}
    cutoff = until - timedelta(days=security_pr_days)
    ages: dict[tuple[str, int], float] = {}
    for advisory in open_now:
        for p in pulls:
            if (p.repository == advisory.repository and p.state == "open" and parse_stamp(p.opened_at) <= cutoff
                    and _reaches(dict(p.packages).get(advisory.package), advisory.fix_version)):
                alerts.setdefault((p.repository, p.number), []).append(
                    f"{', '.join(advisory.ids)} in {advisory.package}")
                ages[(p.repository, p.number)] = (until - parse_stamp(p.opened_at)).total_seconds() / 86400
    waiting = [Alert("security-pr-waiting", f"#{number}", 1, (),
                     f"#{number} fixes {'; '.join(fixes)} and has waited {ages[(repo, number)]:.0f} days unmerged")
               for (repo, number), fixes in sorted(alerts.items())]
    return Security(tuple(open_now), len(hours), statistics.median(hours) if hours else None), waiting


def compute(store: Store, *, since: datetime, repository: str | None = None, now: datetime | None = None,
            failures_in_a_row: int = 3, security_pr_days: float = 7) -> Report:
    """The figures for the period from ``since`` to ``now`` (default: the current time), for one repository
    (None: every repository in the store)."""
    until = now or store_now()
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("since and now must be aware datetimes")
    since, until = since.astimezone(timezone.utc), until.astimezone(timezone.utc)

    def mine(table: Any) -> Any:
        return select(table) if repository is None else select(table).where(table.c.repository == repository)

    # -- pull requests ---------------------------------------------------------------------------
    pulls = [_pull_record(r) for r in _rows(store, mine(schema.pulls).order_by(schema.pulls.c.opened_at,
                                                                                 schema.pulls.c.number))]
    pulls = [p for p in pulls if parse_stamp(p.opened_at) <= until]
    proposed = [p for p in pulls if _in(p.opened_at, since, until)]
    merged = [p for p in pulls if p.state == "merged" and _in(p.merged_at, since, until)]
    merged_by_bot = [p for p in merged if p.merged_by_nightcrew]
    merged_by_human = [p for p in merged if not p.merged_by_nightcrew]
    human = [p for p in pulls if p.state == "closed" and p.closed_by == "human" and _in(p.closed_at, since, until)]
    by_bot = [p for p in pulls if p.state == "closed" and p.closed_by != "human" and _in(p.closed_at, since, until)]
    still_open = [p for p in pulls if p.state == "open"]
    decided = len(merged_by_human) + len(human)

    def median_hours(merges: list[PullRecord]) -> float | None:
        hours = [p.hours_to_merge for p in merges if p.hours_to_merge is not None]
        return statistics.median(hours) if hours else None
    relevant = {(p.repository, p.number): p for p in (*proposed, *merged, *human, *by_bot, *still_open)}

    # -- overrides -------------------------------------------------------------------------------
    overrides = [r for r in _rows(store, mine(schema.overrides).order_by(schema.overrides.c.at))
                 if _in(r["at"], since, until)]
    by_package: Counter = Counter()
    for row in overrides:
        by_package.update(json.loads(row["packages"] or "{}").keys())

    # -- tests on bump branches ------------------------------------------------------------------
    changes = [r for r in _rows(store, mine(schema.changes).where(schema.changes.c.tests.is_not(None)))
               if _in(r["at"], since, until)]
    ran = [r for r in changes if r["tests"] != "not_run"]

    # -- release notes ---------------------------------------------------------------------------
    drafts = schema.release_drafts
    query = select(drafts).where(drafts.c.distance.is_not(None)).order_by(drafts.c.id)
    if repository is not None:
        query = query.where((drafts.c.repository == repository) | drafts.c.repository.is_(None))
    finals: dict[str, ReleaseEdit] = {}
    for row in _rows(store, query):
        when = row["final_at"] or row["created_at"]
        if _in(when, since, until):
            finals.pop(row["tag"], None)  # the newest final text of a tag counts, in the order it came
            finals[row["tag"]] = ReleaseEdit(row["tag"], float(row["distance"]), row["final_at"])

    # -- policy, runs, alerts --------------------------------------------------------------------
    audit = schema.audit
    query = select(audit.c.action, audit.c.rule, audit.c.outcome).where(
        audit.c.outcome.in_(("denied", "needs-approval", "waiting")), audit.c.time >= stamp(since),
        audit.c.time <= stamp(until))
    if repository is not None:
        query = query.where(audit.c.repository == repository)
    held = _rows(store, query)
    denied = [r for r in held if r["outcome"] != "waiting"]
    # merges held back: by the policy, or by the forge's verdict (checks, reviews, conflicts, a changed publisher)
    merges_held = _counts(Counter(r["rule"] for r in held if r["action"] == "forge.merge"))
    every_run = _rows(store, mine(schema.runs).order_by(schema.runs.c.started_at, schema.runs.c.id))
    runs = [r for r in every_run if _in(r["started_at"], since, until)]
    security, security_alerts = _security(every_run, pulls, since, until, security_pr_days)

    # -- by week, for the charts -----------------------------------------------------------------
    weeks: dict[str, dict[str, Any]] = {}
    monday = since.date() - timedelta(days=since.date().weekday())
    while monday <= until.date():
        weeks[_week_of(monday)] = {"start": monday.isoformat(), "opened": 0, "merged": 0, "closed_by_human": 0,
                                   "tests_passed": 0, "tests_total": 0}
        monday += timedelta(days=7)

    def bump(when: str | None, field: str, by: int = 1) -> None:
        if when:
            weeks[_week_of(parse_stamp(when).date())][field] += by

    for p in proposed:
        bump(p.opened_at, "opened")
    for p in merged:
        bump(p.merged_at, "merged")
    for p in human:
        bump(p.closed_at, "closed_by_human")
    for row in ran:
        bump(row["at"], "tests_total")
        bump(row["at"], "tests_passed", int(row["tests"] == "passed"))

    reopened_closed = [
        Alert("reopened-closed", f"#{p.number}", p.reopened, (),
              f"#{p.number} ({p.key or ', '.join(n for n, _ in p.packages)})"
              + (f" on {p.repository}" if repository is None else "") + " was reopened and closed again")
        for p in pulls if p.reopened > 0 and p.state == "closed" and _in(p.closed_at, since, until)]

    return Report(
        repository=repository, since=since, until=until,
        pulls=Pulls(len(proposed), len(merged), len(human), len(by_bot), len(still_open),
                    merged_by_human=len(merged_by_human), merged_by_nightcrew=len(merged_by_bot)),
        acceptance_rate=len(merged_by_human) / decided if decided else None,
        median_hours_to_merge=median_hours(merged),
        median_hours_to_merge_by_human=median_hours(merged_by_human),
        median_hours_to_merge_by_nightcrew=median_hours(merged_by_bot),
        overrides=Overrides(
            count=len(overrides), frequency=len(overrides) / len(proposed) if proposed else None,
            by_package=_counts(by_package),
            by_update_kind=_counts(Counter(r["update_kind"] or "unknown" for r in overrides)),
            by_kind=_counts(Counter(r["kind"] for r in overrides))),
        tests=Tests(sum(1 for r in ran if r["tests"] == "passed"), len(ran), len(changes) - len(ran)),
        releases=tuple(finals.values()),
        denials=Denials(len(denied), _counts(Counter(r["rule"] for r in denied)),
                        _counts(Counter(r["action"] for r in denied))),
        merges_held=merges_held,
        security=security,
        runs=_counts(Counter(r["outcome"] for r in runs)),
        alerts=tuple(_alerts(store, runs, since, until, failures_in_a_row, every_repository=repository is None)
                     + reopened_closed + security_alerts),
        weeks=tuple(Week(week, **values) for week, values in weeks.items()),
        pull_requests=tuple(sorted(relevant.values(), key=lambda p: (p.number, p.repository))),
        failures_in_a_row=failures_in_a_row,
    )


def write_atomic(path: Path, text: str) -> None:
    """Readers (a web server, a CI artifact upload) see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def run_job(repo: Path, config: Config, *, shutdown: threading.Event | None = None) -> Path:
    """The scheduled report: report.json and report.html for the last ``[report] since_days`` days, written into
    ``[report] folder``; returns that folder."""
    from jobs.formats.report import to_html, to_json
    from jobs.runs import JobRun

    folder = Path(config.report.folder)
    folder = folder if folder.is_absolute() else repo / folder
    with JobRun(repo, config, "report", shutdown=shutdown) as job:
        job.gate.check_stop("report")
        assert job.store is not None  # not a dry run: JobRun opened the store
        until = store_now()
        report = compute(job.store, since=until - timedelta(days=config.report.since_days),
                         repository=job.repository, now=until, failures_in_a_row=config.report.failures_in_a_row,
                         security_pr_days=config.report.security_pr_days)
        write_atomic(folder / "report.json", json.dumps(to_json(report), indent=2) + "\n")
        write_atomic(folder / "report.html", to_html(report))
        job.finish("ok", {"alerts": len(report.alerts), "pulls": report.pulls.proposed})
    return folder

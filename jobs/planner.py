"""Choose the updates policy allows and group them into pull requests (the update checker of the pipeline)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from typing import Iterable, Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from jobs.config import Cooldown, PackageRule, UpdateSettings
from jobs.index.versions import candidate_versions, supports_python, update_kind
from jobs.manifests.pins import at_depth, new_pin_text, pin_tag, tag_depth
from jobs.manifests.strategy import new_specifier
from jobs.models import DependencyStatus, ProjectPage, ProposedChange, Update

KIND_ORDER = {"patch": 0, "minor": 1, "prerelease": 2, "major": 3}


@dataclass(frozen=True)
class Skip:
    """An update that was considered and not proposed, and why (reported in the run summary)."""

    name: str
    version: str | None
    reason: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Planned:
    """A change to propose, with the group it belongs to (None: one package)."""

    change: ProposedChange
    group: str | None
    lane: str  # "major" or "minor" (everything within the current major)


def matches(name: str, pattern: str) -> bool:
    """Shell-style match of a normalized package name against a pattern normalized the same way (PEP 503)."""
    return fnmatchcase(name, re.sub(r"[-_.]+", "-", pattern).lower())


def _package_rule(name: str, rules: Sequence[PackageRule], ecosystem: str = "python") -> PackageRule | None:
    return next((r for r in rules if r.ecosystem in ("", ecosystem) and any(matches(name, p) for p in r.patterns)),
                None)


def _ignored(name: str, version: Version, kind: str, settings: UpdateSettings) -> bool:
    for rule in settings.ignore:
        if not matches(name, rule.package):
            continue
        if rule.versions and not SpecifierSet(rule.versions).contains(version, prereleases=True):
            continue
        if rule.kinds and kind not in rule.kinds:
            continue
        return True
    return False


def _hashes(page: ProjectPage, version: Version) -> tuple[str, ...] | None:
    """``sha256:…`` of every live file of ``version``; None when any file lacks a sha256."""
    files = [f for f in page.files if f.version == version and not f.yanked]
    digests = [dict(f.hashes).get("sha256") for f in files]
    if not files or not all(digests):
        return None
    return tuple(sorted(f"sha256:{d}" for d in set(digests)))  # type: ignore[misc]


def lower_bound(status: DependencyStatus) -> Version | None:
    """The version a range starts from (its ``>=``/``>``/``~=``/``==`` floor), for strategies that move it."""
    floors = []
    for spec in status.dependency.specifier_set:
        if spec.operator in (">=", ">", "~=", "==", "===") and not spec.version.endswith(".*"):
            try:
                floors.append(Version(spec.version))
            except ValueError:
                continue
    return max(floors) if floors else None


@dataclass(frozen=True)
class Waiting:
    """A release held back by the cooldown: when it came out, when it may be proposed, and the rule that says so
    (``released`` and ``eligible_from`` None: the index gives no upload time and the cooldown holds such ones)."""

    name: str
    version: str
    released: datetime | None
    eligible_from: datetime | None
    rule: str
    file: str | None = None
    line: int | None = None


def cooldown_days(name: str, kind: str, cooldown: Cooldown) -> tuple[int, str]:
    """(days, rule) of the cooldown for an update of ``name`` of ``kind`` (0: none)."""
    if cooldown.include and not any(matches(name, g) for g in cooldown.include):
        return 0, "updates.cooldown.include"
    if any(matches(name, g) for g in cooldown.exclude):
        return 0, "updates.cooldown.exclude"
    for rule in cooldown.packages:
        if any(matches(name, p) for p in rule.patterns):
            return rule.days, f"updates.cooldown.packages {list(rule.patterns)}"
    specific = {"major": cooldown.major_days, "minor": cooldown.minor_days, "patch": cooldown.patch_days}.get(kind)
    if specific is not None:
        return specific, f"updates.cooldown.{kind}_days = {specific}"
    return cooldown.default_days, f"updates.cooldown.default_days = {cooldown.default_days}"


def _held(name: str, version: Version, kind: str, page: ProjectPage, cooldown: Cooldown,
          now: datetime) -> Waiting | None:
    """Why ``version`` waits (a ``Waiting``), or None when it is old enough (or the cooldown is off for it)."""
    days, rule = cooldown_days(name, kind, cooldown)
    if days <= 0:
        return None
    released = page.released(version)
    if released is None:
        if cooldown.unknown_age == "hold":
            return Waiting(name, str(version), None, None, f"{rule}; the index gives no upload time "
                                                           "(updates.cooldown.unknown_age = \"hold\")")
        return None
    eligible = released + timedelta(days=days)
    return Waiting(name, str(version), released, eligible, rule) if now < eligible else None


def targets(status: DependencyStatus, page: ProjectPage, *, python: Version | None, kinds: Sequence[str],
            prereleases: bool, settings: UpdateSettings, current: Version | None = None,
            now: datetime | None = None, waiting: list[Waiting] | None = None) -> dict[str, Version]:
    """The newest allowed version in each lane: ``minor`` (same major) and ``major``, above ``current``.

    Versions are those of ``candidate_versions`` (the one pre-release rule); a pre-release target has the kind of
    its version jump and ``kinds`` filter it like any other, so a major lane exists only when majors are allowed.
    ``"prerelease"`` in ``kinds`` opts in to pre-releases, like ``prereleases``.
    """
    current = current or status.current
    assert current is not None
    live = {version: tuple(f for f in files if not f.yanked) for version, files in page.versions().items()}
    live = {version: files for version, files in live.items() if files}
    best: dict[str, Version] = {}
    held: dict[str, Waiting] = {}
    now = now or datetime.now(timezone.utc)
    for version in candidate_versions(live, current=current, opted_in=prereleases or "prerelease" in kinds):
        if version <= current or not supports_python(live[version], python):
            continue
        kind = update_kind(current, version) or "patch"
        if kind not in kinds or _ignored(status.dependency.name, version, kind, settings):
            continue
        lane = "major" if kind == "major" else "minor"
        wait = _held(status.dependency.name, version, kind, page, settings.cooldown, now)
        if wait is not None:  # too young: the newest release old enough is proposed instead
            if lane not in held or Version(held[lane].version) < version:
                held[lane] = wait
            continue
        if lane not in best or version > best[lane]:
            best[lane] = version
    if waiting is not None:  # what waits: the newest held release of each lane that is newer than its target
        dep = status.dependency
        waiting += [replace(w, file=dep.file, line=dep.line) for lane, w in sorted(held.items())
                    if lane not in best or Version(w.version) > best[lane]]
    return best


def choose(statuses: Iterable[DependencyStatus], pages: dict[str, ProjectPage], settings: UpdateSettings, *,
           python: Version | None, prereleases: bool, strategy_override: str | None = None,
           only: Sequence[str] = (), rejected: dict[tuple[str, str], int] | None = None,
           waiting: list[Waiting] | None = None, now: datetime | None = None,
           ) -> tuple[list[tuple[Update, str]], list[Skip]]:
    """(update, lane) pairs policy allows, and what was considered but not proposed.

    ``rejected`` maps (package, version) to the pull request a human closed without merging: that
    version is not proposed again, alone or in a group. ``waiting`` collects the releases the cooldown holds
    back. A pin to a yanked release gets an update to the nearest release that is not (lane ``yanked``), whatever
    the kinds say.
    """
    rejected = rejected or {}
    chosen: list[tuple[Update, str]] = []
    skipped: list[Skip] = []
    for status in statuses:
        dep = status.dependency
        if status.skipped_reason or status.current is None or dep.name not in pages:
            continue
        if only and dep.name not in only:
            continue
        if not dep.direct and not settings.transitive:  # a lockfile's transitive package: only when asked for
            continue
        rule = _package_rule(dep.name, settings.packages, dep.ecosystem)
        kinds = rule.kinds if rule and rule.kinds is not None else settings.kinds
        pre = rule.prereleases if rule and rule.prereleases is not None else prereleases
        strategy = strategy_override or (rule.range_strategy if rule and rule.range_strategy else settings.range_strategy)
        # "bump" and "pin" move a range's floor even when the range already admits newer releases
        start = status.current
        if strategy in ("bump", "pin") and dep.pinned_version is None and dep.locked is None:
            start = lower_bound(status) or status.current
        assert start is not None
        page = pages[dep.name]
        if dep.ecosystem != "python":  # a ref of another repository: tags as deep as the pin's
            page = at_depth(dep, page)
        lanes = targets(status, page, python=None if dep.ecosystem != "python" else python, kinds=kinds,
                        prereleases=pre, settings=settings, current=start, now=now, waiting=waiting)
        if status.yanked and dep.pinned_version is not None:
            nearest = _unyanked(pages[dep.name], dep.pinned_version, python)
            if nearest is not None:
                lanes = {lane: v for lane, v in lanes.items() if v != nearest}
                lanes["yanked"] = nearest
        for lane, version in sorted(lanes.items()):
            kind = update_kind(start, version) or "patch"
            if (dep.name, str(version)) in rejected:
                number = rejected[(dep.name, str(version))]
                skipped.append(Skip(dep.name, str(version), f"#{number} was closed without merging: this version "
                                    "is not proposed again", dep.file, dep.line))
                continue
            try:
                if dep.ecosystem != "python":
                    text = new_pin_text(dep, version, page, to_sha=settings.actions_pin == "sha")
                else:
                    text = new_specifier(dep, version, strategy)
            except ValueError as exc:
                skipped.append(Skip(dep.name, str(version), f"cannot write the new specifier: {exc}", dep.file, dep.line))
                continue
            if text is None and dep.lockfile is None:
                continue  # the specifier already admits it: nothing to propose
            # (a locked dependency the range admits: the lockfile alone moves, as Renovate's update-lockfile)
            hashes: tuple[str, ...] = ()
            if dep.hashes:
                found = _hashes(pages[dep.name], version)
                if found is None:
                    skipped.append(Skip(dep.name, str(version), "the index gives no sha256 for every file of this "
                                        "version, and the requirement is hash-pinned", dep.file, dep.line))
                    continue
                hashes = found
            chosen.append((Update(dep, start, version, kind, text, hashes), lane))
    return chosen, skipped


def _unyanked(page: ProjectPage, pinned: Version, python: Version | None) -> Version | None:
    """The release nearest a yanked pin that is not yanked: the lowest newer final, else the newest older one."""
    live = [v for v, files in page.versions().items() if any(not f.yanked for f in files)
            and supports_python(tuple(f for f in files if not f.yanked), python) and not v.is_prerelease]
    newer = sorted(v for v in live if v > pinned)
    if newer:
        return newer[0]
    older = sorted(v for v in live if v < pinned)
    return older[-1] if older else None


SEVERITY_ORDER = ("LOW", "MODERATE", "HIGH", "CRITICAL")


def security_updates(statuses: Iterable[DependencyStatus], settings: UpdateSettings, *, min_severity: str = "LOW",
                     strategy_override: str | None = None, only: Sequence[str] = (),
                     ) -> tuple[list[tuple[Update, tuple]], list[Skip]]:
    """A security update per vulnerable dependency: to the lowest release fixing every advisory of its current
    version (not the newest), whatever ``kinds`` say; ignore rules still apply, and an ignored vulnerable
    dependency is reported as such. Advisories below ``min_severity`` (a known severity) make no update."""
    floor = SEVERITY_ORDER.index(min_severity) if min_severity in SEVERITY_ORDER else 0
    chosen: list[tuple[Update, tuple]] = []
    skipped: list[Skip] = []
    for status in statuses:
        dep = status.dependency
        if not status.advisories or status.current is None or (only and dep.name not in only):
            continue
        advisories = tuple(a for a in status.advisories
                           if a.severity not in SEVERITY_ORDER or SEVERITY_ORDER.index(a.severity) >= floor)
        if not advisories:
            continue
        ids = ", ".join(a.id for a in advisories)
        fix = status.fix_version
        if fix is None:
            skipped.append(Skip(dep.name, None, f"vulnerable ({ids}): no release fixes it yet", dep.file, dep.line))
            continue
        kind = update_kind(status.current, fix) or "patch"
        rule = next((r for r in settings.ignore if matches(dep.name, r.package)
                     and (not r.versions or SpecifierSet(r.versions).contains(fix, prereleases=True))
                     and (not r.kinds or kind in r.kinds)), None)
        if rule is not None:
            skipped.append(Skip(dep.name, str(fix), f"vulnerable ({ids}), ignored by rule "
                                f"package = {rule.package!r}" + (f", versions = {rule.versions!r}" if rule.versions
                                                                 else ""), dep.file, dep.line))
            continue
        package_rule = _package_rule(dep.name, settings.packages, dep.ecosystem)
        strategy = strategy_override or (package_rule.range_strategy if package_rule and package_rule.range_strategy
                                         else settings.range_strategy)
        try:
            text = new_specifier(dep, fix, strategy)
        except ValueError as exc:
            skipped.append(Skip(dep.name, str(fix), f"vulnerable ({ids}): cannot write the new specifier: {exc}",
                                dep.file, dep.line))
            continue
        if text is None and dep.lockfile is None:
            continue
        chosen.append((Update(dep, status.current, fix, kind, text), advisories))
    return chosen, skipped


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "update"


def group(chosen: Sequence[tuple[Update, str]], settings: UpdateSettings, prefix: str) -> list[Planned]:
    """One change per group, and one per (package, version) for what no group takes; majors stay alone
    unless a group names the ``major`` kind."""
    grouped: dict[str, list[Update]] = {}
    single: dict[tuple[str, str, str], list[Update]] = {}
    for update, lane in chosen:
        rule = None if lane == "yanked" else next((g for g in settings.groups  # a yanked pin's fix goes alone
                     if any(matches(update.dependency.name, p) for p in g.patterns)
                     and g.ecosystem in ("", update.dependency.ecosystem)
                     and ((update.kind in g.kinds) if g.kinds else update.kind != "major")), None)
        if rule is not None:
            grouped.setdefault(rule.name, []).append(update)
        else:
            single.setdefault((update.dependency.name, str(update.new), lane), []).append(update)
    planned: list[Planned] = []
    for name, updates in grouped.items():
        # one dependency moves once per change: when a group takes both lanes, the newer version wins
        newest: dict[tuple[str, int, str], Update] = {}
        for u in updates:
            where = (u.dependency.file, u.dependency.line, u.dependency.name)
            if where not in newest or u.new > newest[where].new:
                newest[where] = u
        updates = list(newest.values())
        digest = hashlib.sha1(
            ",".join(sorted({f"{u.dependency.name}=={u.new}" for u in updates})).encode()).hexdigest()[:8]
        change = ProposedChange(key=f"group:{name}", updates=tuple(updates), branch=f"{prefix}{_slug(name)}-{digest}")
        planned.append(Planned(change, name, "minor"))
    for (package, version, lane), updates in single.items():
        # the same package pinned apart in two manifests moves on two tracks: the places are part of the key
        places = "+".join(sorted({u.dependency.file for u in updates}))
        # a ref pinned at two depths (v1 and v1.0.0) moves on two tracks too
        depths = sorted({tag_depth(pin_tag(u.dependency) or "") for u in updates if u.dependency.ecosystem != "python"})
        depth = f":depth{depths[0]}" if depths else ""
        key = f"{package}{':major' if lane == 'major' else ':yanked' if lane == 'yanked' else ''}{depth}@{places}"
        change = ProposedChange(key=key, updates=tuple(updates), branch=f"{prefix}{_slug(package)}-{version}",
                                yanked="" if lane == "yanked" else None)
        planned.append(Planned(change, None, lane))
    planned.sort(key=lambda p: (max(KIND_ORDER.get(u.kind, 9) for u in p.change.updates), p.change.key))
    return planned

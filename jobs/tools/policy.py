"""The policy: allow, deny or needs-approval for one action, from the mode, the rules, the clock and the counters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from fnmatch import fnmatchcase
from typing import Any, Callable
from zoneinfo import ZoneInfo

from packaging.utils import canonicalize_name

# Every action nightcrew may take, and whether it changes anything outside this process.
ACTIONS: dict[str, bool] = {
    "index.fetch": False,
    "advisories.fetch": False,  # the advisory database (OSV): reads only
    "git.branch": True,  # a local branch or worktree in the user's repository
    "git.fetch": False,
    "git.push": True,
    "forge.read": False,
    "forge.create_pull": True,
    "forge.update_pull": True,
    "forge.close_pull": True,
    "forge.comment": True,
    "forge.label": True,
    "forge.request_review": True,
    "forge.merge": True,
    "forge.draft_release": True,  # a draft for people to edit: never published by the bot
    "forge.dashboard": True,  # the dependency dashboard (an issue, or a markdown file)
    "tests.run": True,  # runs freshly bumped third-party code
    "lock.update": True,  # runs the project's lock tool (uv, pip-compile, poetry) in the change's worktree
    "llm.call": False,
    "state.lock": False,  # the run lock in nightcrew's own state store
}
MODES = ("advisory", "propose", "autonomous")
ALLOW, DENY, NEEDS_APPROVAL = "allow", "deny", "needs-approval"


@dataclass(frozen=True)
class Subject:
    """What an action is about, as far as the policy needs to know."""

    repository: str = ""
    packages: tuple[str, ...] = ()
    kind: str | None = None  # patch, minor, major, prerelease (the largest in the change)
    labels: tuple[str, ...] = ()  # the PR's labels: approval and hold labels
    tests: str | None = None  # the PR's test outcome: passed, failed, timed_out, error
    age_hours: float | None = None  # how long the PR has been open
    release_age_hours: float | None = None  # how old the youngest release it moves to is (None: unknown)
    draft: bool = False


@dataclass(frozen=True)
class Decision:
    verdict: str  # allow | deny | needs-approval
    rule: str  # the rule that decided, e.g. "mode-advisory", "quiet-hours", "limit-prs-per-run", a rule's name
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict == ALLOW


@dataclass
class Counters:
    """Successful actions so far in this run, by action name."""

    done: dict[str, int] = field(default_factory=dict)

    def add(self, action: str) -> None:
        self.done[action] = self.done.get(action, 0) + 1

    def __getitem__(self, action: str) -> int:
        return self.done.get(action, 0)


def _in_window(now: time, window: str) -> bool:
    start_text, end_text = window.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # across midnight, e.g. 22:00-06:00


def _matches(patterns: tuple[str, ...], value: str) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def normalize_pattern(pattern: str) -> str:
    """A package glob normalised as PEP 503 normalises names (lower case, each run of "-", "_", "." one "-"), so
    that ``zope.*`` matches zope.interface and ``types_*`` types-requests; bracket expressions are kept as written."""
    return re.sub(r"(\[[^\]]*\])|[-_.]+", lambda m: m.group(1) or "-", pattern.lower())


def _names_match(patterns: tuple[str, ...], names: tuple[str, ...]) -> bool:
    wanted = tuple(normalize_pattern(p) for p in patterns)
    return bool(names) and all(_matches(wanted, canonicalize_name(n)) for n in names)


class Policy:
    """Decides one action at a time. ``settings`` is the ``[policy]`` section (None: built-in propose policy).

    ``clock`` gives the current time (tests move it); ``merges_today`` counts merges in the last 24 hours
    across runs (from the state store).
    """

    def __init__(self, settings: object | None = None, *, mode: str | None = None, dry_run: bool = False,
                 clock: Callable[[], datetime] | None = None, merges_today: Callable[[], int] | None = None) -> None:
        self.settings = settings
        self.mode = mode or (getattr(settings, "mode", None) or "propose")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")
        self.dry_run = dry_run
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.merges_today = merges_today or (lambda: 0)

    def _get(self, name: str, default: object) -> object:
        return getattr(self.settings, name, default) if self.settings is not None else default

    def decide(self, action: str, subject: Subject | None = None, counters: Counters | None = None) -> Decision:
        subject = subject or Subject()
        counters = counters or Counters()
        if action not in ACTIONS:
            return Decision(DENY, "unknown-action", f"{action} is not an action nightcrew knows")
        mutating = ACTIONS[action]
        if mutating and self.dry_run:
            return Decision(DENY, "dry-run", "dry run: nothing is changed")
        if mutating and self.mode == "advisory":
            return Decision(DENY, "mode-advisory", "advisory mode: report only")
        if mutating and (window := self._quiet_window()):
            return Decision(DENY, "quiet-hours", f"quiet hours {window} ({self._get('timezone', 'UTC')})")
        if action == "forge.merge" and self.mode != "autonomous":
            return Decision(DENY, "merge-needs-autonomous", f"{self.mode} mode never merges")
        rule = self._rule(action, subject)
        if rule is not None:
            name, verdict = rule
            if verdict == DENY:
                return Decision(DENY, name, f"rule {name!r} denies {action}")
            if verdict == NEEDS_APPROVAL:
                label = str(self._get("approval_label", ""))
                if not (label and label in subject.labels):
                    return Decision(NEEDS_APPROVAL, name, f"rule {name!r}: needs a person's approval"
                                    + (f" (label {label!r})" if label else ""))
        if action == "forge.merge":
            refused = self._merge_refusal(subject)
            if refused is not None:
                return refused
        limits = {"forge.create_pull": ("max_prs_per_run", "limit-prs-per-run"),
                  "git.push": ("max_pushes_per_run", "limit-pushes-per-run")}
        if action in limits:
            key, name = limits[action]
            limit = self._get(key, None)
            if isinstance(limit, int) and counters[action] >= limit:
                return Decision(DENY, name, f"{key} = {limit} reached")
        if rule is not None:
            return Decision(ALLOW, rule[0] if rule[1] == ALLOW else f"approved:{rule[0]}")
        return Decision(ALLOW, f"mode-{self.mode}")

    def _quiet_window(self) -> str | None:
        windows = self._get("quiet_hours", ())
        if not windows:
            return None
        local = self.clock().astimezone(ZoneInfo(str(self._get("timezone", "UTC")))).time()
        return next((w for w in windows if _in_window(local, w)), None)  # type: ignore[union-attr]

    def _rule(self, action: str, subject: Subject) -> tuple[str, str] | None:
        for rule in self._get("rules", ()):  # type: ignore[union-attr]
            if not _matches(rule.actions, action):
                continue
            if rule.packages and not _names_match(rule.packages, subject.packages):
                continue
            if rule.kinds and subject.kind not in rule.kinds:
                continue
            if rule.repositories and not _matches(rule.repositories, subject.repository):
                continue
            return rule.name, rule.verdict
        return None

    def _merge_refusal(self, subject: Subject) -> Decision | None:
        """Why an autonomous merge may not happen, or None when an automerge rule allows it."""
        holds = [label for label in self._get("hold_labels", ()) if label in subject.labels]  # type: ignore[union-attr]
        if holds:
            return Decision(DENY, "hold-label", f"a person put {holds[0]!r} on it")
        if subject.draft:
            return Decision(DENY, "draft", "the pull request is a draft")
        if subject.tests != "passed":
            return Decision(DENY, "tests-not-passed", f"tests {subject.tests or 'not run'}")
        matching = [r for r in self._get("automerge", ())  # type: ignore[union-attr]
                    if _names_match(r.packages, subject.packages)
                    and subject.kind in r.kinds
                    and (not r.repositories or _matches(r.repositories, subject.repository))]
        if not matching:
            return Decision(DENY, "automerge-no-rule", "no [[policy.automerge]] rule covers "
                            f"{', '.join(subject.packages) or 'it'} ({subject.kind or 'unknown kind'})")
        refusals = [_too_young(rule, subject) for rule in matching]
        if all(refusals):  # every rule that covers it still waits: say why for the most lenient
            return min(refusals, key=lambda d: d[1])[0]  # type: ignore[index]
        limit = self._get("max_merges_per_day", None)
        if isinstance(limit, int) and self.merges_today() >= limit:
            return Decision(DENY, "limit-merges-per-day", f"max_merges_per_day = {limit} reached")
        return None


def _too_young(rule: Any, subject: Subject) -> tuple[Decision, float] | None:
    """Why ``rule`` does not let the merge happen yet and how many hours it still asks for (the longer of its two
    waits, which is also the reason given), or None when it does: the PR must have been open ``min_age_hours``
    and the releases it moves to out ``min_release_age_days``."""
    waits: list[tuple[float, Decision]] = []
    if subject.age_hours is None or subject.age_hours < rule.min_age_hours:
        age = "unknown" if subject.age_hours is None else f"{subject.age_hours:.1f} h"
        waits.append((rule.min_age_hours - (subject.age_hours or 0.0),
                      Decision(DENY, "too-young", f"open {age}, needs {rule.min_age_hours:g} h")))
    days = getattr(rule, "min_release_age_days", 0) or 0
    if days > 0 and subject.release_age_hours is None:
        waits.append((float("inf"), Decision(DENY, "release-too-young", "the release's age is unknown (the index "
                                             f"gives no upload time), and the automerge rule needs {days:g} days")))
    elif days > 0 and subject.release_age_hours is not None and subject.release_age_hours < days * 24:
        waits.append((days * 24 - subject.release_age_hours, Decision(
            DENY, "release-too-young", f"released {subject.release_age_hours / 24:.1f} days ago, the automerge "
            f"rule needs {days:g}")))
    if not waits:
        return None
    wait, decision = max(waits, key=lambda w: w[0])
    return decision, wait

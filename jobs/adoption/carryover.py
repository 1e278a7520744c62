"""Carry an existing Dependabot or Renovate configuration over to nightcrew's settings.

``carry_over(root)`` reads the first bot configuration ``find_config`` finds in a repository and returns the
nightcrew settings it maps onto (tables shaped like nightcrew.toml), one line per thing carried over and one line
per setting left behind with the reason. Only what the file says is carried, plus the update kinds: both bots
propose majors where nightcrew, by default, does not, so ``[updates] kinds`` is set to keep what the maintainer had.
Every value is checked the way nightcrew's loader checks it (specifiers, cron expressions, time zones, group
names), so the settings laid over the defaults always load.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from jobs.resources import default_config_path

DEPENDABOT_FILES = (".github/dependabot.yml", ".github/dependabot.yaml")
# Renovate's documented search order (package.json's "renovate" section, deprecated, is not read).
RENOVATE_FILES = ("renovate.json", "renovate.json5", ".github/renovate.json", ".github/renovate.json5",
                  ".gitlab/renovate.json", ".gitlab/renovate.json5", ".renovaterc", ".renovaterc.json",
                  ".renovaterc.json5")

ALL_KINDS = ("patch", "minor", "major")
ECOSYSTEMS = ("python", "actions", "pre-commit")
_GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_AUTONOMOUS = 'merges only in [policy] mode = "autonomous", which is not set here'


@dataclass(frozen=True)
class CarriedOver:
    source: str                      # the file read, relative to the repository root
    settings: dict                   # nightcrew config tables, shaped like nightcrew.toml
    translated: tuple[str, ...]      # one short line per thing carried over
    untranslated: tuple[str, ...]    # one short line per setting not carried over, and why


def find_config(root: Path) -> Path | None:
    """The bot configuration nightcrew would carry over: Dependabot's file first, then Renovate's in its order."""
    for name in DEPENDABOT_FILES + RENOVATE_FILES:
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def carry_over(root: Path) -> CarriedOver | None:
    """The nightcrew settings the repository's Dependabot or Renovate file maps onto; None without such a file."""
    path = find_config(root)
    if path is None:
        return None
    source = path.relative_to(root).as_posix()
    try:
        data = _read(path, source)
    except _Unreadable as exc:
        return CarriedOver(source, {}, (), (_line(str(exc)),))
    out = _Out()
    if source in DEPENDABOT_FILES:
        _Dependabot(out).carry(data)
    else:
        _Renovate(out).carry(data)
    return out.result(source)


# --------------------------------------------------------------------------- shared plumbing


class _Unreadable(Exception):
    """The file cannot be parsed; the message names the file and the line."""


class _Skip(Exception):
    """One value cannot be carried over; the message says why."""


class _Out:
    """The settings being built and the two lists of lines."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}
        self.translated: list[str] = []
        self.untranslated: list[str] = []

    def table(self, dotted: str) -> dict[str, Any]:
        table = self.settings
        for part in dotted.split("."):
            table = table.setdefault(part, {})
        return table

    def set(self, dotted: str, value: Any) -> None:
        table, _, key = dotted.rpartition(".")
        self.table(table)[key] = value

    def append(self, dotted: str, item: dict[str, Any]) -> None:
        table, _, key = dotted.rpartition(".")
        self.table(table).setdefault(key, []).append(item)

    def done(self, text: str) -> None:
        self.translated.append(_line(text))

    def left(self, text: str) -> None:
        self.untranslated.append(_line(text))

    def result(self, source: str) -> CarriedOver:
        return CarriedOver(source, self.settings, tuple(dict.fromkeys(self.translated)),
                           tuple(dict.fromkeys(self.untranslated)))


def _line(text: str) -> str:
    return " ".join(text.split())


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _strings(value: Any) -> list[str] | None:
    """A string or a list of strings, as a list; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _ordered_kinds(kinds: set[str] | list[str] | tuple[str, ...]) -> list[str]:
    return [kind for kind in ALL_KINDS if kind in kinds]


def _ordered_ecosystems(ecosystems: set[str]) -> list[str]:
    return [ecosystem for ecosystem in ECOSYSTEMS if ecosystem in ecosystems]


def _group_name(name: str) -> str:
    """A group name nightcrew accepts: runs of other characters become "-", leading punctuation goes."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip())
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned).rstrip("-")
    return cleaned or "group"


def _check_timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise _Skip(f"time zone {_show(value)} is not a name")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Skip(f"unknown time zone {value!r}") from None
    return value


def _check_cron(expression: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise _Skip(f"{expression!r} is not a cron expression nightcrew reads ({exc})") from None
    return expression


@lru_cache(maxsize=1)
def _default_time() -> tuple[int, int]:
    """(minute, hour) of nightcrew's default dependency-update run, used when the old file names no time."""
    with default_config_path().open("rb") as handle:
        cron = tomllib.load(handle)["schedule"]["dependency_updates"]
    minute, hour = cron.split()[:2]
    return (int(minute), int(hour)) if minute.isdigit() and hour.isdigit() else (0, 3)


# Day-of-week names, not numbers: standard cron counts from Sunday = 0, APScheduler (which runs nightcrew's
# schedule) from Monday = 0; the names mean the same to both.
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_days(field_text: str) -> str:
    """A day-of-week cron field with numbers written as names (ranges over Sunday spelt out)."""
    if field_text == "*":
        return field_text
    parts: list[str] = []
    for part in field_text.lower().split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(re.fullmatch(r"[0-7]|sun|mon|tue|wed|thu|fri|sat", end) for end in ends):
            raise _Skip(f"day-of-week field {field_text!r} is not a list of days and day ranges")
        if len(ends) == 2 and all(end.isdigit() for end in ends):
            first, last = int(ends[0]), int(ends[1])
            if first > last:
                raise _Skip(f"day-of-week range {part!r} runs backwards")
            if first == 0 or last == 7:  # over Sunday: spell the days out
                parts.extend(_CRON_DAYS[day] for day in range(first, last + 1))
                continue
        parts.append("-".join(_CRON_DAYS[int(end)] if end.isdigit() else end for end in ends))
    return ",".join(dict.fromkeys(parts))


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|months?)\s*$",
                  re.IGNORECASE)
_AGE_DAYS = {"m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7}


def _age_days(value: Any) -> float:
    """Renovate's duration text ("3 days", "12 hours") in days."""
    match = _AGE.match(value) if isinstance(value, str) else None
    if match is None:
        raise _Skip(f"{_show(value)} is not a duration nightcrew reads")
    unit = match[2].lower()
    per_day = 30 if unit.startswith("mo") else _AGE_DAYS[unit[0]]
    return float(match[1]) * per_day


def _whole_days(days: float) -> tuple[int, str]:
    """Cooldowns count whole days: a part day rounds up, and the line says so."""
    whole = math.ceil(days - 1e-9)
    return whole, "" if whole == days else f" (rounded up from {days:g} days)"


def _number(days: float) -> int | float:
    return int(days) if days == int(days) else round(days, 4)


# --------------------------------------------------------------------------- reading the files


def _read(path: Path, source: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unreadable(f"{source}: cannot be read ({exc}); nothing carried over") from None
    if source in DEPENDABOT_FILES:
        data = _read_yaml(text, source)
    else:
        data = _read_json(text, source, json5=source.endswith(".json5"))
    if not isinstance(data, dict):
        raise _Unreadable(f"{source}:1: not a mapping of options; nothing carried over")
    return data


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise _Unreadable(f"{where}: not valid YAML ({problem}); nothing carried over") from None


def _read_json(text: str, source: str, *, json5: bool) -> Any:
    kind = "JSON5" if json5 else "JSON"
    try:
        return json.loads(_json5_to_json(text) if json5 else text)
    except _Json5Error as exc:
        raise _Unreadable(f"{source}:{exc.line}: not valid {kind} ({exc.message}); nothing carried over") from None
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"{source}:{exc.lineno}: not valid {kind} ({exc.msg}); nothing carried over") from None


class _Json5Error(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def _json5_to_json(text: str) -> str:
    """JSON5, as Renovate files use it, rewritten as JSON.

    The ``json5`` package is not installed in nightcrew's environment (and not a dependency), so this covers
    the subset renovate.json5 files use: ``//`` and ``/* */`` comments (outside strings: a URL's ``//`` stays)
    become blanks so line numbers hold, trailing commas go, bare keys and single-quoted strings get double
    quotes. Anything else JSON5 allows (hex numbers, multi-line strings...) is left for ``json`` to reject with
    its line.
    """
    out: list[str] = []
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if char in "\"'":
            end = _string_end(text, i)
            out.append(text[i:end] if char == '"' else _double_quoted(text[i + 1:end - 1]))
            i = end
        elif text.startswith("//", i):
            newline = text.find("\n", i)
            i = size if newline < 0 else newline
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                raise _Json5Error(text.count("\n", 0, i) + 1, "comment never closed")
            out.append(re.sub(r"[^\n]", " ", text[i:close + 2]))
            i = close + 2
        elif char in "]}":
            _drop_trailing_comma(out)
            out.append(char)
            i += 1
        elif (match := _IDENTIFIER.match(text, i)) is not None:
            word = match.group()
            rest = text[match.end():].lstrip(" \t\r\n")
            out.append(_show(word) if rest.startswith(":") else word)
            i = match.end()
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == quote:
            return i + 1
        elif text[i] == "\n":
            break
        else:
            i += 1
    raise _Json5Error(text.count("\n", 0, start) + 1, "string never closed")


def _double_quoted(body: str) -> str:
    """The inside of a single-quoted JSON5 string as a JSON string."""
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\":
            escaped = body[i + 1:i + 2]
            out.append("'" if escaped == "'" else "\\" + escaped)
            i += 2
        else:
            out.append('\\"' if body[i] == '"' else body[i])
            i += 1
    return '"' + "".join(out) + '"'


def _drop_trailing_comma(out: list[str]) -> None:
    i = len(out) - 1
    while i >= 0 and not out[i].strip():
        i -= 1
    if i >= 0 and out[i] == ",":
        out[i] = " "


# --------------------------------------------------------------------------- values both bots share


_INTERVAL_RANGE = re.compile(r"^([\[(])\s*([^,\s]*)\s*,\s*([^,\s\])]*)\s*([\])])$")
_WILDCARD = re.compile(r"^v?(\d+(?:\.\d+)*)\.(?:x|\*)$")
_TWIDDLE = re.compile(r"^~>\s*(\S+)$")
_OPERATOR_GAP = re.compile(r"(===|~=|==|!=|<=|>=|<|>)\s+")


def _pep440(text: str) -> str:
    """A version range as Dependabot writes it (PEP 440, ``4.x``, ``[1.1,)``, ``~> 2.0``) as a PEP 440 specifier."""
    text = text.strip()
    if match := _INTERVAL_RANGE.match(text):
        opening, lower, upper, closing = match.groups()
        clauses = ([(">=" if opening == "[" else ">") + lower] if lower else []) + \
                  ([("<=" if closing == "]" else "<") + upper] if upper else [])
        spec = ",".join(clauses)
    elif match := _WILDCARD.match(text):
        spec = f"=={match[1]}.*"
    elif match := _TWIDDLE.match(text):
        spec = f"~={match[1]}"
    else:
        clauses = [c for c in re.split(r"[,\s]+", _OPERATOR_GAP.sub(r"\1", text)) if c]
        spec = ",".join(c if re.match(r"[<>=!~]", c) else f"=={c}" for c in clauses)
    if not spec:
        raise _Skip(f"{text!r} is not a version range")
    try:
        SpecifierSet(spec)
    except InvalidSpecifier:
        raise _Skip(f"{text!r} is not a version range nightcrew reads (PEP 440)") from None
    return spec


def _most_frequent(found: list[tuple[str, str, Any]]) -> Any:
    """The value most entries give (the first on a tie); ``found`` holds (label, shown, value)."""
    counts = Counter(_show(value) for _, _, value in found)
    best = max(counts.values())
    return next(value for _, _, value in found if counts[_show(value)] == best)


def _one_per_repository(out: _Out, option: str, found: list[tuple[str, str, Any]],
                        apply: Callable[[str, Any], None]) -> None:
    """nightcrew has one value where the old bot had one per entry: the most frequent wins, the rest are listed."""
    if not found:
        return
    chosen = _most_frequent(found)
    shown = next(text for _, text, value in found if value == chosen)
    apply(shown, chosen)
    for label, text, value in found:
        if value != chosen:
            out.left(f"{label}: {option} {text} differs from the {shown} carried over: nightcrew has one "
                     f"{option} per repository")


# --------------------------------------------------------------------------- Dependabot


_DEPENDABOT_ECOSYSTEMS = {"pip": "python", "uv": "python", "github-actions": "actions", "pre-commit": "pre-commit"}
_DEPENDABOT_LIMIT = 5  # Dependabot's open-pull-requests-limit when an entry sets none
_SEMVER = {"version-update:semver-major": "major", "version-update:semver-minor": "minor",
           "version-update:semver-patch": "patch"}
_VERSIONING = {"auto": "auto", "increase": "bump", "increase-if-necessary": "auto", "widen": "widen"}
_VERSIONING_REASONS = {
    "lockfile-only": "nightcrew has no lockfile-only mode (it changes only the lockfile when the range already "
                     "admits the new version, and edits the range otherwise)",
}
_WEEKDAYS = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
             "saturday": "sat", "sunday": "sun"}
_CALENDAR = {  # interval: (day of month, month, day of week)
    "daily": ("*", "*", "mon-fri"),  # Dependabot's "daily" runs Monday to Friday
    "monthly": ("1", "*", "*"),
    "quarterly": ("1", "1,4,7,10", "*"),
    "semiannually": ("1", "1,7", "*"),
    "yearly": ("1", "1", "*"),
}
_DEPENDABOT_TOP_REASONS = {
    "registries": "private registries are configured in [index] and the environment",
    "enable-beta-ecosystems": "not in use by Dependabot; nightcrew has no beta ecosystems",
    "multi-ecosystem-groups": "nightcrew groups take one ecosystem or all of them ([[updates.groups]] ecosystem)",
}
_DEPENDABOT_ENTRY_REASONS = {
    "assignees": "nightcrew has no assignee setting",
    "commit-message": "nightcrew writes its own commit messages and pull request titles",
    "pull-request-branch-name": "nightcrew names branches <[forge] branch_prefix><package>-<version>; the "
                                "separator is fixed",
    "rebase-strategy": "nightcrew has no rebase setting",
    "vendor": "nightcrew does not update vendored dependencies",
    "insecure-external-code-execution": "nightcrew has no such switch",
    "registries": "private registries are configured in [index] and the environment",
    "milestone": "nightcrew sets no milestones",
    "exclude-paths": "nightcrew finds manifests with the [manifests] globs and has no exclude list",
    "multi-ecosystem-group": "nightcrew groups take one ecosystem or all of them ([[updates.groups]] ecosystem)",
}
_GROUP_LIMITS = {
    "exclude-patterns": "nightcrew groups have no exclude list, so the group takes those packages too",
    "dependency-type": "nightcrew groups do not tell production from development dependencies, so the group "
                       "takes both",
}
_DEPENDABOT_HANDLED = {"package-ecosystem", "directory", "directories", "schedule", "ignore", "groups",
                       "open-pull-requests-limit", "labels", "reviewers", "cooldown", "versioning-strategy",
                       "allow", "target-branch"}


@dataclass
class _Entry:
    label: str          # how lines name the entry: "pip", or "pip /docs" when pip has several entries
    package_ecosystem: str
    ecosystem: str      # nightcrew's name
    data: dict[str, Any]


class _Dependabot:
    def __init__(self, out: _Out) -> None:
        self.out = out

    def carry(self, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key == "version":
                if value != 2:
                    self.out.left(f"version {_show(value)}: only version 2 files are documented; read as version 2")
            elif key != "updates":
                self.out.left(f"{key}: {_DEPENDABOT_TOP_REASONS.get(key, 'not a Dependabot option nightcrew knows')}")
        entries = self._entries(data.get("updates"))
        if not entries:
            return
        self._ecosystems(entries)
        for entry in entries:
            self._directories(entry)
        self._schedule(entries)
        self._limits(entries)
        self._labels(entries)
        self._reviewers(entries)
        self._versioning(entries)
        self._cooldown(entries)
        self._target_branch(entries)
        self._ignores(entries)
        self._groups(entries)
        self._allow(entries)
        for entry in entries:
            self._leftovers(entry)

    # ---- entries and ecosystems

    def _entries(self, updates: Any) -> list[_Entry]:
        if not isinstance(updates, list):
            self.out.left("updates: missing or not a list; nothing carried over")
            return []
        raw: list[tuple[str, str, dict[str, Any]]] = []
        for index, item in enumerate(updates):
            name = item.get("package-ecosystem") if isinstance(item, dict) else None
            if not isinstance(name, str):
                self.out.left(f"updates[{index}]: no package-ecosystem; entry not carried over")
            elif name not in _DEPENDABOT_ECOSYSTEMS:
                self.out.left(f"{name}: nightcrew does not update {name} packages")
            else:
                raw.append((name, _DEPENDABOT_ECOSYSTEMS[name], item))
        per_name = Counter(name for name, _, _ in raw)
        return [_Entry(name if per_name[name] == 1 else f"{name} {', '.join(_directories(item)) or '?'}",
                       name, ecosystem, item) for name, ecosystem, item in raw]

    def _ecosystems(self, entries: list[_Entry]) -> None:
        ecosystems = _ordered_ecosystems({entry.ecosystem for entry in entries})
        names = ", ".join(dict.fromkeys(entry.package_ecosystem for entry in entries))
        self.out.set("updates.ecosystems", ecosystems)
        self.out.done(f"package-ecosystem {names} -> [updates] ecosystems = {_show(ecosystems)}")
        self.out.set("updates.kinds", list(ALL_KINDS))
        self.out.done(f"Dependabot proposes patch, minor and major updates -> [updates] kinds = "
                      f"{_show(list(ALL_KINDS))} (nightcrew's default leaves majors out)")

    def _directories(self, entry: _Entry) -> None:
        directories = _directories(entry.data)
        if directories:
            self.out.done(f"{entry.label}: directories {', '.join(directories)}: found by discovery ([manifests] "
                          "globs), no setting needed")

    # ---- one value per repository

    def _schedule(self, entries: list[_Entry]) -> None:
        found: list[tuple[str, str, Any]] = []
        for entry in entries:
            if "schedule" not in entry.data:
                continue
            try:
                cron, zone, text = _dependabot_schedule(entry.data["schedule"])
            except _Skip as exc:
                self.out.left(f"{entry.label}: schedule: {exc}")
                continue
            found.append((entry.label, text, [cron, zone]))

        def apply(text: str, value: list[Any]) -> None:
            cron, zone = value
            self.out.set("schedule.dependency_updates", cron)
            line = f"schedule {text} -> [schedule] dependency_updates = {_show(cron)}"
            if zone is not None:
                self.out.set("schedule.timezone", zone)
                line += f", timezone = {_show(zone)}"
            self.out.done(line)

        _one_per_repository(self.out, "schedule", found, apply)

    def _labels(self, entries: list[_Entry]) -> None:
        found = self._lists(entries, "labels")
        def apply(text: str, value: list[str]) -> None:
            self.out.set("updates.labels", value)
            self.out.done(f"labels {text} -> [updates] labels = {_show(value)}")

        _one_per_repository(self.out, "labels", found, apply)

    def _reviewers(self, entries: list[_Entry]) -> None:
        found: list[tuple[str, str, Any]] = []
        for label, text, value in self._lists(entries, "reviewers"):
            teams = [name for name in value if "/" in name]
            if teams:
                self.out.left(f"{label}: reviewers {', '.join(teams)}: nightcrew requests reviews from people "
                              "(logins), not teams")
            found.append((label, text, [name for name in value if "/" not in name]))
        def apply(text: str, value: list[str]) -> None:
            self.out.set("updates.reviewers", value)
            self.out.done(f"reviewers {text} -> [updates] reviewers = {_show(value)}")

        _one_per_repository(self.out, "reviewers", found, apply)

    def _lists(self, entries: list[_Entry], option: str) -> list[tuple[str, str, Any]]:
        found: list[tuple[str, str, Any]] = []
        for entry in entries:
            if option in entry.data:
                value = _strings(entry.data[option])
                if value is None:
                    self.out.left(f"{entry.label}: {option}: not a list of names")
                else:
                    found.append((entry.label, _show(value), value))
        return found

    def _versioning(self, entries: list[_Entry]) -> None:
        found: list[tuple[str, str, Any]] = []
        for entry in entries:
            value = entry.data.get("versioning-strategy")
            if value is None:
                continue
            if value in _VERSIONING:
                found.append((entry.label, str(value), _VERSIONING[value]))
            else:
                reason = _VERSIONING_REASONS.get(value, "not a Dependabot strategy")
                self.out.left(f"{entry.label}: versioning-strategy {_show(value)}: {reason}")
        def apply(text: str, value: str) -> None:
            self.out.set("updates.range_strategy", value)
            self.out.done(f"versioning-strategy {text} -> [updates] range_strategy = {_show(value)}")

        _one_per_repository(self.out, "versioning-strategy", found, apply)

    def _cooldown(self, entries: list[_Entry]) -> None:
        found: list[tuple[str, str, Any]] = []
        for entry in entries:
            if "cooldown" in entry.data:
                try:
                    found.append((entry.label, _show(entry.data["cooldown"]),
                                  _dependabot_cooldown(entry.data["cooldown"])))
                except _Skip as exc:
                    self.out.left(f"{entry.label}: cooldown: {exc}")

        def apply(text: str, value: dict[str, Any]) -> None:
            self.out.table("updates.cooldown").update(value)
            shown = ", ".join(f"{key} = {_show(item)}" for key, item in value.items())
            self.out.done(f"cooldown -> [updates.cooldown] {shown}")
            if value["default_days"] == 0 and "default-days" not in text:
                self.out.done("cooldown without default-days: other updates wait 0 days, as in Dependabot")

        _one_per_repository(self.out, "cooldown", found, apply)

    def _target_branch(self, entries: list[_Entry]) -> None:
        found: list[tuple[str, str, Any]] = []
        for entry in entries:
            value = entry.data.get("target-branch")
            if isinstance(value, str) and value:
                found.append((entry.label, value, value))
            elif value is not None:
                self.out.left(f"{entry.label}: target-branch: not a branch name")
        def apply(text: str, value: str) -> None:
            self.out.set("forge.base", value)
            self.out.done(f"target-branch {text} -> [forge] base = {_show(value)}")

        _one_per_repository(self.out, "target-branch", found, apply)

    def _limits(self, entries: list[_Entry]) -> None:
        """Dependabot limits open version-update PRs per entry (0: version updates off); nightcrew per repository."""
        if not any("open-pull-requests-limit" in entry.data for entry in entries):
            return
        limits: dict[str, int] = {}
        for entry in entries:
            value = entry.data.get("open-pull-requests-limit", _DEPENDABOT_LIMIT)
            if _count(value) is None:
                self.out.left(f"{entry.label}: open-pull-requests-limit: not a whole number")
                value = _DEPENDABOT_LIMIT
            limits[entry.label] = value
        if not any(limits.values()):
            self.out.set("updates.max_open_prs", 0)
            self.out.done("open-pull-requests-limit 0 (version updates off) -> [updates] max_open_prs = 0: only "
                          "security updates, which pass the pull request limits")
            return
        counted = self._off_ecosystems(entries, limits)
        total = sum(limits[entry.label] for entry in counted)
        self.out.set("updates.max_open_prs", total)
        if len(counted) == 1:
            self.out.done(f"open-pull-requests-limit {total} -> [updates] max_open_prs = {total}")
        else:
            parts = " + ".join(f"{limits[e.label]} ({e.label}"
                               + ("" if "open-pull-requests-limit" in e.data else ", Dependabot's default") + ")"
                               for e in counted)
            self.out.done(f"open-pull-requests-limit {parts} -> [updates] max_open_prs = {total} (Dependabot "
                          "counts per entry, nightcrew per repository)")

    def _off_ecosystems(self, entries: list[_Entry], limits: dict[str, int]) -> list[_Entry]:
        """Ecosystems whose every entry has limit 0 get security updates only; the entries that still count."""
        counted: list[_Entry] = []
        for ecosystem in _ordered_ecosystems({entry.ecosystem for entry in entries}):
            own = [entry for entry in entries if entry.ecosystem == ecosystem]
            if all(limits[entry.label] == 0 for entry in own):
                self.out.append("updates.packages", {"ecosystem": ecosystem, "kinds": []})
                self.out.done(f"{', '.join(e.label for e in own)}: open-pull-requests-limit 0 (version updates off) "
                              f"-> [[updates.packages]] ecosystem = {_show(ecosystem)}, kinds = []: security "
                              "updates only")
                continue
            for entry in own:
                if limits[entry.label] == 0:
                    self.out.left(f"{entry.label}: open-pull-requests-limit 0 for this entry only: nightcrew's "
                                  "limits are per repository")
                else:
                    counted.append(entry)
        return counted

    # ---- rules, per entry

    def _ignores(self, entries: list[_Entry]) -> None:
        for entry in entries:
            rules = entry.data.get("ignore", [])
            if not isinstance(rules, list):
                self.out.left(f"{entry.label}: ignore: not a list")
                continue
            for rule in rules:
                self._ignore(entry, rule)

    def _ignore(self, entry: _Entry, rule: Any) -> None:
        name = rule.get("dependency-name") if isinstance(rule, dict) else None
        if not isinstance(name, str) or not name:
            self.out.left(f"{entry.label}: ignore {_show(rule)}: no dependency-name")
            return
        versions = _strings(rule.get("versions", []))
        types = _strings(rule.get("update-types", []))
        if versions is None or types is None:
            self.out.left(f"{entry.label}: ignore {name}: versions and update-types must be lists")
            return
        if not versions and not types:
            self.out.append("updates.ignore", {"package": name})
            self.out.done(f"ignore {name} (every version) -> [[updates.ignore]] package = {_show(name)}")
        # Dependabot ignores what any of the ranges or update types names: one nightcrew rule for each
        for text in versions:
            try:
                spec = _pep440(text)
            except _Skip as exc:
                self.out.left(f"{entry.label}: ignore {name} versions {text!r}: {exc}")
                continue
            self.out.append("updates.ignore", {"package": name, "versions": spec})
            self.out.done(f"ignore {name} {text} -> [[updates.ignore]] versions = {_show(spec)}")
        kinds = _ordered_kinds([_SEMVER[t] for t in types if t in _SEMVER])
        unknown = [t for t in types if t not in _SEMVER]
        if unknown:
            self.out.left(f"{entry.label}: ignore {name} update-types {', '.join(unknown)}: not a Dependabot "
                          "update type")
        if kinds:
            self.out.append("updates.ignore", {"package": name, "kinds": kinds})
            self.out.done(f"ignore {name} {', '.join(types)} -> [[updates.ignore]] kinds = {_show(kinds)}")

    def _groups(self, entries: list[_Entry]) -> None:
        taken: dict[str, str] = {}  # group name -> ecosystem: one name per ecosystem, as Dependabot's PRs are
        for entry in entries:
            groups = entry.data.get("groups", {})
            if not isinstance(groups, dict):
                self.out.left(f"{entry.label}: groups: not a mapping of group names")
                continue
            for name, rule in groups.items():
                self._group(entry, str(name), rule, taken)

    def _group(self, entry: _Entry, name: str, rule: Any, taken: dict[str, str]) -> None:
        where = f"{entry.label}: group {name}"
        if not isinstance(rule, dict):
            self.out.left(f"{where}: not a mapping")
            return
        if rule.get("applies-to", "version-updates") != "version-updates":
            self.out.left(f"{where}: applies-to {rule.get('applies-to')}: nightcrew makes one security pull "
                          "request per package; group not carried over")
            return
        patterns = _strings(rule.get("patterns", ["*"]))
        types = _strings(rule.get("update-types", list(ALL_KINDS)))
        if not patterns or types is None:
            self.out.left(f"{where}: patterns and update-types must be lists of names")
            return
        kinds = _ordered_kinds(types)
        if not kinds:
            self.out.left(f"{where}: update-types {', '.join(types)}: none of patch, minor, major")
            return
        new_name = self._free_name(_group_name(name), entry.ecosystem, taken)
        group = {"name": new_name, "patterns": patterns, "kinds": kinds, "ecosystem": entry.ecosystem}
        self.out.append("updates.groups", group)
        renamed = " (renamed: group names are letters, digits and . _ -, one per ecosystem)" \
            if new_name != name else ""
        self.out.done(f"group {name} -> [[updates.groups]] name = {_show(new_name)}, patterns = {_show(patterns)}, "
                      f"kinds = {_show(kinds)}, ecosystem = {_show(entry.ecosystem)}{renamed}")
        for option, reason in _GROUP_LIMITS.items():
            if option in rule:
                self.out.left(f"{where}: {option} {_show(rule[option])}: {reason}")

    @staticmethod
    def _free_name(name: str, ecosystem: str, taken: dict[str, str]) -> str:
        if taken.get(name, ecosystem) != ecosystem:
            name = f"{name}-{ecosystem}"
        taken.setdefault(name, ecosystem)
        return name

    def _allow(self, entries: list[_Entry]) -> None:
        for entry in entries:
            items = entry.data.get("allow")
            if items is None:
                continue
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                self.out.left(f"{entry.label}: allow: not a list of mappings")
                continue
            names: list[str] = []
            for item in items:
                names.extend(self._allowed(entry, item))
            if names:
                self.out.append("updates.packages", {"patterns": names, "ecosystem": entry.ecosystem})
                self.out.append("updates.packages", {"patterns": ["*"], "ecosystem": entry.ecosystem, "kinds": []})
                self.out.done(f"{entry.label}: allow {', '.join(names)} -> [[updates.packages]] patterns = "
                              f"{_show(names)}, then patterns = [\"*\"], kinds = [] for the rest of "
                              f"{entry.ecosystem} (security updates still pass)")

    def _allowed(self, entry: _Entry, item: dict[str, Any]) -> list[str]:
        """The names an allow item lets through; a dependency type is carried over where it maps."""
        name, kind = item.get("dependency-name"), item.get("dependency-type")
        if name is not None and kind not in (None, "direct", "all"):
            self.out.left(f"{entry.label}: allow {_show(item)}: nightcrew cannot limit names to a dependency type")
            return []
        if name is not None:
            if isinstance(name, str) and name:
                return [name]
            self.out.left(f"{entry.label}: allow dependency-name {_show(name)}: not a name")
            return []
        if kind == "direct":
            self.out.done(f"{entry.label}: allow dependency-type direct: nightcrew updates direct dependencies by "
                          "default, no setting needed")
        elif kind == "all" and entry.ecosystem == "python":
            self.out.set("updates.transitive", True)
            self.out.done(f"{entry.label}: allow dependency-type all -> [updates] transitive = true")
        else:
            self.out.left(f"{entry.label}: allow dependency-type {_show(kind)}: nightcrew updates direct "
                          "dependencies, and with [updates] transitive a lockfile's others too; no other types")
        return []

    def _leftovers(self, entry: _Entry) -> None:
        for key in entry.data:
            if key in _DEPENDABOT_HANDLED:
                continue
            reason = _DEPENDABOT_ENTRY_REASONS.get(key, "not a Dependabot option nightcrew knows")
            self.out.left(f"{entry.label}: {key}: {reason}")


def _directories(item: dict[str, Any]) -> list[str]:
    value = item.get("directories", item.get("directory"))
    return _strings(value) or []


def _dependabot_schedule(value: Any) -> tuple[str, str | None, str]:
    """(cron, time zone or None, how the line shows it) for one entry's ``schedule``."""
    if not isinstance(value, dict):
        raise _Skip("not a mapping")
    zone = _check_timezone(value["timezone"]) if "timezone" in value else None
    interval = value.get("interval")
    if interval == "cron":
        cronjob = value.get("cronjob")
        fields = cronjob.split() if isinstance(cronjob, str) else []
        if len(fields) != 5:
            raise _Skip(f"cronjob {_show(cronjob)}: only 5-field cron expressions are carried over")
        cron = _check_cron(" ".join(fields[:4] + [_cron_days(fields[4])]))
        return cron, zone, f"cronjob {cronjob!r}"
    minute, hour, at = _dependabot_time(value.get("time"))
    if interval == "weekly":
        day = str(value.get("day", "monday")).lower()
        if day not in _WEEKDAYS:
            raise _Skip(f"day {_show(value.get('day'))}: not a day of the week")
        dom, month, dow, text = "*", "*", _WEEKDAYS[day], f"weekly on {day}"
    elif interval in _CALENDAR:
        (dom, month, dow), text = _CALENDAR[interval], str(interval)
    else:
        raise _Skip(f"interval {_show(interval)}: not a Dependabot interval")
    return _check_cron(f"{minute} {hour} {dom} {month} {dow}"), zone, f"{text} {at}"


def _dependabot_time(value: Any) -> tuple[int, int, str]:
    """(minute, hour, how the line shows it); no time: Dependabot picks one at random, nightcrew keeps its own."""
    if value is None:
        minute, hour = _default_time()
        return minute, hour, f"(no time: Dependabot picks one at random; nightcrew's {hour:02d}:{minute:02d} kept)"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        hour, minute = divmod(value, 60)  # YAML 1.1 reads an unquoted 09:00 as the sexagesimal number 540
    elif isinstance(value, str) and (match := re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())):
        hour, minute = int(match[1]), int(match[2])
    else:
        raise _Skip(f"time {_show(value)}: not hh:mm")
    return minute, hour, f"at {hour:02d}:{minute:02d}"


def _dependabot_cooldown(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Skip("not a mapping")
    # a cooldown block describes the whole cooldown: days it leaves out are 0, as in Dependabot
    cooldown: dict[str, Any] = {"default_days": 0}
    for option, key in (("default-days", "default_days"), ("semver-major-days", "major_days"),
                        ("semver-minor-days", "minor_days"), ("semver-patch-days", "patch_days")):
        if option in value:
            days = _count(value[option])
            if days is None:
                raise _Skip(f"{option} {_show(value[option])}: not a whole number of days")
            cooldown[key] = days
    for option in ("include", "exclude"):
        if option in value:
            names = _strings(value[option])
            if names is None:
                raise _Skip(f"{option}: not a list of names")
            cooldown[option] = names
    unknown = [key for key in value if key not in ("default-days", "semver-major-days", "semver-minor-days",
                                                   "semver-patch-days", "include", "exclude")]
    if unknown:
        raise _Skip(f"{', '.join(unknown)}: not cooldown options")
    return cooldown


# --------------------------------------------------------------------------- Renovate


_PYTHON_MANAGERS = ("pip_requirements", "pip_setup", "pip-compile", "pipenv", "pep621", "pep723", "poetry",
                    "setup-cfg")
_MANAGERS: dict[str, tuple[str, ...]] = {**dict.fromkeys(_PYTHON_MANAGERS, ("python",)),
                                         "github-actions": ("actions",), "pre-commit": ("pre-commit",)}
_DATASOURCES: dict[str, tuple[str, ...]] = {"pypi": ("python",), "github-tags": ("actions", "pre-commit"),
                                            "git-tags": ("actions", "pre-commit"),
                                            "github-releases": ("actions", "pre-commit"),
                                            "github-digest": ("actions", "pre-commit")}
_RANGE = {"auto": "auto", "pin": "pin", "bump": "bump", "widen": "widen", "update-lockfile": "auto"}
_RANGE_REASONS = {
    "replace": "nightcrew has no strategy that replaces a range only when it excludes the new version (the "
               "nearest, \"auto\", widens it)",
    "in-range-only": "nightcrew has no strategy that leaves out-of-range updates out",
}
_SOME_PYTHON = ("nightcrew turns Python updates off as a whole ([updates] ecosystems), not per Renovate manager "
                "(to skip a manifest format, leave it out of [manifests] formats)")
_MERGE = {"auto": "", "squash": "squash", "merge-commit": "merge", "rebase": "rebase"}
_RENOVATE_SILENT = {"$schema", "description"}
_RENOVATE_REASONS = {
    "assignees": "nightcrew has no assignee setting",
    "ignorePaths": "nightcrew finds manifests with the [manifests] globs and has no exclude list",
    "includePaths": "nightcrew finds manifests with the [manifests] globs",
    "separateMajorMinor": "nightcrew always proposes majors apart",
    "separateMinorPatch": "nightcrew proposes one update per package within the major",
    "semanticCommits": "nightcrew writes its own commit messages and pull request titles",
    "commitMessagePrefix": "nightcrew writes its own commit messages and pull request titles",
    "rebaseWhen": "nightcrew has no rebase setting",
    "platformAutomerge": "nightcrew merges itself, after its own checks ([policy])",
    "hostRules": "private registries are configured in [index] and the environment",
    "registryUrls": "private registries are configured in [index] and the environment",
    "branchConcurrentLimit": "nightcrew limits pull requests, not branches ([updates] max_open_prs)",
    "onboarding": "nightcrew has no onboarding pull request",
    "configMigration": "nightcrew has no config migration pull request",
}
_RULE_REASONS = {
    "labels": "nightcrew puts the same [updates] labels on every pull request",
    "addLabels": "nightcrew puts the same [updates] labels on every pull request",
    "schedule": "nightcrew has one schedule per repository",
    "reviewers": "nightcrew requests the same [updates] reviewers on every pull request",
    "groupSlug": "branch names follow the group name",
    "prPriority": "nightcrew orders pull requests itself",
    "automergeType": "nightcrew merges pull requests",
}
_SCOPE_KEYS = {"matchPackageNames", "matchDepNames", "matchPackagePrefixes", "matchPackagePatterns",
               "matchManagers", "matchDatasources", "matchUpdateTypes"}
_RULE_QUIET = _SCOPE_KEYS | {"description", "separateMajorMinor"}


@dataclass(frozen=True)
class _Scope:
    """What a packageRules item matches, in nightcrew's terms; empty: no limit."""

    names: tuple[str, ...]
    ecosystems: tuple[str, ...]
    kinds: tuple[str, ...]
    some_python: bool = False  # matchManagers names some of the Python managers, not all: part of "python"

    def describe(self) -> str:
        parts = [", ".join(self.names) or "every package"]
        if self.ecosystems:
            parts.append(f"({', '.join(self.ecosystems)})")
        if self.kinds:
            parts.append(f"{'/'.join(self.kinds)} updates")
        return " ".join(parts)


@dataclass
class _RenovateState:
    enabled_managers: set[str] | None = None
    pre_commit: bool = False
    off: set[str] = field(default_factory=set)       # ecosystems a rule or manager object switched off
    kinds: list[str] = field(default_factory=lambda: list(ALL_KINDS))
    kinds_note: list[str] = field(default_factory=list)
    labels: list[str] | None = None
    add_labels: list[str] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    cooldown_rules: list[dict[str, Any]] = field(default_factory=list)
    automerge: list[dict[str, Any]] = field(default_factory=list)
    no_automerge: list[tuple[str, _Scope]] = field(default_factory=list)


class _Renovate:
    def __init__(self, out: _Out) -> None:
        self.out = out
        self.state = _RenovateState()

    def carry(self, data: dict[str, Any]) -> None:
        handlers: dict[str, Callable[[Any], None]] = {
            "extends": self._extends, "enabled": self._enabled, "schedule": self._schedule,
            "timezone": self._timezone, "prConcurrentLimit": self._pr_concurrent_limit,
            "prHourlyLimit": self._pr_hourly_limit, "minimumReleaseAge": self._minimum_release_age,
            "ignoreDeps": self._ignore_deps, "rangeStrategy": self._range_strategy, "labels": self._labels,
            "addLabels": self._add_labels, "reviewers": self._reviewers, "automerge": self._automerge,
            "automergeStrategy": self._automerge_strategy, "enabledManagers": self._enabled_managers,
            "lockFileMaintenance": self._lock_file_maintenance, "packageRules": self._package_rules,
            "baseBranches": self._base_branches, "branchPrefix": self._branch_prefix,
            "dependencyDashboard": self._dashboard, "ignoreUnstable": self._ignore_unstable,
            "vulnerabilityAlerts": self._vulnerability_alerts,
        }
        for key, value in data.items():
            if key in handlers:
                handlers[key](value)
            elif key in ALL_KINDS:
                self._kind_object(key, value)
            elif key in _MANAGERS:
                self._manager_object(key, value)
            elif key not in _RENOVATE_SILENT:
                self.out.left(f"{key}: {_RENOVATE_REASONS.get(key, 'no nightcrew equivalent')}")
        self._finish()

    # ---- top-level options

    def _extends(self, value: Any) -> None:
        for preset in _strings(value) or [_show(value)]:
            self.out.left(f"extends {preset}: Renovate presets are not expanded; set what you rely on from it in "
                          "nightcrew.toml")

    def _enabled(self, value: Any) -> None:
        if value is False:
            self.out.left("enabled false: Renovate is off for this repository; nightcrew has no such switch in "
                          'nightcrew.toml (use [policy] mode = "advisory", the pause file, or do not schedule it)')

    def _schedule(self, value: Any) -> None:
        try:
            cron, text = _renovate_cron(value, self.out)
        except _Skip as exc:
            self.out.left(f"schedule: {exc}")
            return
        if cron:
            self.out.set("schedule.dependency_updates", cron)
            self.out.done(f"schedule {text} -> [schedule] dependency_updates = {_show(cron)}")

    def _timezone(self, value: Any) -> None:
        try:
            zone = _check_timezone(value)
        except _Skip as exc:
            self.out.left(f"timezone: {exc}")
            return
        self.out.set("schedule.timezone", zone)
        self.out.done(f"timezone {zone} -> [schedule] timezone = {_show(zone)}")

    def _pr_concurrent_limit(self, value: Any) -> None:
        limit = _count(value)
        if limit is None:
            self.out.left(f"prConcurrentLimit {_show(value)}: not a whole number")
        elif limit == 0:
            self.out.left("prConcurrentLimit 0 (no limit): nightcrew always has one; [updates] max_open_prs keeps "
                          "its default")
        else:
            self.out.set("updates.max_open_prs", limit)
            self.out.done(f"prConcurrentLimit {limit} -> [updates] max_open_prs = {limit}")

    def _pr_hourly_limit(self, value: Any) -> None:
        limit = _count(value)
        if limit is None:
            self.out.left(f"prHourlyLimit {_show(value)}: not a whole number")
        elif limit == 0:
            self.out.left("prHourlyLimit 0 (no limit): nightcrew always has one; [updates] max_prs_per_run keeps "
                          "its default")
        else:
            self.out.set("updates.max_prs_per_run", limit)
            self.out.done(f"prHourlyLimit {limit} -> [updates] max_prs_per_run = {limit} (per run: nightcrew runs "
                          "on its schedule, not hourly)")

    def _minimum_release_age(self, value: Any) -> None:
        try:
            days, note = _whole_days(_age_days(value))
        except _Skip as exc:
            self.out.left(f"minimumReleaseAge: {exc}")
            return
        self.out.set("updates.cooldown.default_days", days)
        self.out.done(f"minimumReleaseAge {_show(value)} -> [updates.cooldown] default_days = {days}{note}")

    def _ignore_deps(self, value: Any) -> None:
        names = _strings(value)
        if names is None:
            self.out.left("ignoreDeps: not a list of names")
            return
        for name in names:
            self.out.append("updates.ignore", {"package": name})
            self.out.done(f"ignoreDeps {name} -> [[updates.ignore]] package = {_show(name)}")

    def _range_strategy(self, value: Any) -> None:
        if value in _RANGE:
            self.out.set("updates.range_strategy", _RANGE[value])
            self.out.done(f"rangeStrategy {value} -> [updates] range_strategy = {_show(_RANGE[value])}")
        else:
            self.out.left(f"rangeStrategy {_show(value)}: {_RANGE_REASONS.get(value, 'not a Renovate strategy')}")

    def _labels(self, value: Any) -> None:
        self.state.labels = _strings(value)
        if self.state.labels is None:
            self.out.left("labels: not a list of names")

    def _add_labels(self, value: Any) -> None:
        names = _strings(value)
        if names is None:
            self.out.left("addLabels: not a list of names")
        else:
            self.state.add_labels.extend(names)

    def _reviewers(self, value: Any) -> None:
        names = _strings(value)
        if names is None:
            self.out.left("reviewers: not a list of names")
            return
        teams = [name for name in names if name.startswith("team:") or "/" in name]
        if teams:
            self.out.left(f"reviewers {', '.join(teams)}: nightcrew requests reviews from people (logins), not teams")
        people = [name for name in names if name not in teams]
        self.out.set("updates.reviewers", people)
        self.out.done(f"reviewers {_show(names)} -> [updates] reviewers = {_show(people)}")

    def _automerge(self, value: Any) -> None:
        if value is True:
            self._automerge_rule("top level", _Scope((), (), ()), None)

    def _automerge_strategy(self, value: Any) -> None:
        if value in _MERGE:
            self.out.set("policy.merge_method", _MERGE[value])
            self.out.done(f"automergeStrategy {value} -> [policy] merge_method = {_show(_MERGE[value])}")
        else:
            self.out.left(f"automergeStrategy {_show(value)}: nightcrew merges with squash, merge or rebase")

    def _enabled_managers(self, value: Any) -> None:
        names = _strings(value)
        if names is None:
            self.out.left("enabledManagers: not a list of names")
            return
        self.state.enabled_managers = {eco for name in names for eco in _MANAGERS.get(name, ())}
        for name in names:
            if name not in _MANAGERS:
                self.out.left(f"enabledManagers {name}: nightcrew does not update {name} dependencies")

    def _lock_file_maintenance(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.out.left("lockFileMaintenance: not a mapping")
            return
        for key, item in value.items():
            if key == "enabled" and isinstance(item, bool):
                self.out.set("updates.lock_maintenance.enabled", item)
                self.out.done(f"lockFileMaintenance enabled {_show(item)} -> [updates.lock_maintenance] "
                              f"enabled = {_show(item)}")
            elif key == "schedule":
                self._lock_schedule(item)
            else:
                self.out.left(f"lockFileMaintenance {key}: no nightcrew equivalent")

    def _lock_schedule(self, value: Any) -> None:
        try:
            days = _renovate_interval_days(value)
        except _Skip as exc:
            self.out.left(f"lockFileMaintenance schedule: {exc}")
            return
        if days is not None:
            self.out.set("updates.lock_maintenance.interval_days", days)
            self.out.done(f"lockFileMaintenance schedule {_show(value)} -> [updates.lock_maintenance] "
                          f"interval_days = {days}")

    def _base_branches(self, value: Any) -> None:
        names = _strings(value)
        if names and len(names) == 1 and not names[0].startswith(("/", "!", "$")):
            self.out.set("forge.base", names[0])
            self.out.done(f"baseBranches {names[0]} -> [forge] base = {_show(names[0])}")
        else:
            self.out.left(f"baseBranches {_show(value)}: nightcrew targets one base branch ([forge] base)")

    def _branch_prefix(self, value: Any) -> None:
        if isinstance(value, str) and value:
            self.out.set("forge.branch_prefix", value)
            self.out.done(f"branchPrefix {value} -> [forge] branch_prefix = {_show(value)}")
        else:
            self.out.left(f"branchPrefix {_show(value)}: not a prefix")

    def _dashboard(self, value: Any) -> None:
        if isinstance(value, bool):
            self.out.set("dashboard.enabled", value)
            self.out.done(f"dependencyDashboard {_show(value)} -> [dashboard] enabled = {_show(value)}")
        else:
            self.out.left(f"dependencyDashboard {_show(value)}: not true or false")

    def _ignore_unstable(self, value: Any) -> None:
        if value is False:
            self.state.kinds.append("prerelease")
            self.state.kinds_note.append('ignoreUnstable false adds "prerelease"')
        elif value is not True:
            self.out.left(f"ignoreUnstable {_show(value)}: not true or false")

    def _vulnerability_alerts(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.out.left("vulnerabilityAlerts: not a mapping")
            return
        for key, item in value.items():
            labels = _strings(item) if key == "labels" else None
            if key == "enabled" and isinstance(item, bool):
                self.out.set("security.enabled", item)
                self.out.done(f"vulnerabilityAlerts enabled {_show(item)} -> [security] enabled = {_show(item)}")
            elif labels is not None and len(labels) == 1:
                self.out.set("security.label", labels[0])
                self.out.done(f"vulnerabilityAlerts labels {_show(labels)} -> [security] label = {_show(labels[0])}")
            else:
                self.out.left(f"vulnerabilityAlerts {key}: nightcrew's security updates are set in [security] "
                              "(enabled, one label, min_severity)")

    def _kind_object(self, kind: str, value: Any) -> None:
        """``"major": {"enabled": false}``: no updates of that kind."""
        if isinstance(value, dict) and value.get("enabled") is False:
            self.state.kinds = [k for k in self.state.kinds if k != kind]
            self.state.kinds_note.append(f"{kind} enabled false leaves out {kind}")
        others = [key for key in (value if isinstance(value, dict) else {"": value}) if key != "enabled"]
        if others:
            self.out.left(f"{kind} {', '.join(others) or _show(value)}: no nightcrew equivalent for {kind} updates")

    def _manager_object(self, manager: str, value: Any) -> None:
        if not isinstance(value, dict):
            self.out.left(f"{manager}: not a mapping")
            return
        for key, item in value.items():
            if key == "enabled" and item is True and manager == "pre-commit":
                self.state.pre_commit = True
            elif key == "enabled" and item is False and manager in _PYTHON_MANAGERS:
                self.out.left(f"{manager} enabled false: {_SOME_PYTHON}")
            elif key == "enabled" and item is False:
                self.state.off.update(_MANAGERS[manager])
                self.out.done(f"{manager} enabled false -> [updates] ecosystems without "
                              f"{', '.join(_MANAGERS[manager])}")
            elif key != "enabled":
                self.out.left(f"{manager} {key}: nightcrew finds manifests with the [manifests] globs; "
                              "no per-manager settings")

    # ---- packageRules

    def _package_rules(self, value: Any) -> None:
        if not isinstance(value, list):
            self.out.left("packageRules: not a list")
            return
        for index, rule in enumerate(value):
            where = f"packageRules[{index}]"
            if not isinstance(rule, dict):
                self.out.left(f"{where}: not a mapping")
                continue
            scope = self._scope(where, rule)
            if scope is not None:
                self._rule(where, rule, scope)

    def _scope(self, where: str, rule: dict[str, Any]) -> _Scope | None:
        """What the rule matches, or None (and a line) when nightcrew cannot match the same things."""
        odd = [key for key in rule if key.startswith(("match", "exclude")) and key not in _SCOPE_KEYS]
        if odd:
            self.out.left(f"{where}: {', '.join(odd)}: nightcrew cannot limit a rule that way; rule not carried over")
            return None
        try:
            names = self._scope_names(where, rule)
            ecosystems = _scope_ecosystems(rule)
            kinds = self._scope_kinds(where, rule)
        except _Skip as exc:
            self.out.left(f"{where}: {exc}; rule not carried over")
            return None
        managers = _strings(rule.get("matchManagers", [])) or []
        python = {name for name in managers if name in _PYTHON_MANAGERS}
        return _Scope(tuple(names), tuple(ecosystems), tuple(kinds),
                      some_python="python" in ecosystems and bool(python) and python != set(_PYTHON_MANAGERS))

    def _scope_names(self, where: str, rule: dict[str, Any]) -> list[str]:
        names: list[str] = []
        regexes: list[str] = []
        for key in ("matchPackageNames", "matchDepNames", "matchPackagePrefixes", "matchPackagePatterns"):
            values = _strings(rule.get(key, []))
            if values is None:
                raise _Skip(f"{key}: not a list of names")
            for value in values:
                if key == "matchPackagePatterns" or (len(value) > 2 and value.startswith("/")
                                                     and value.rstrip("i").endswith("/")):
                    regexes.append(value)
                elif value.startswith("!"):
                    raise _Skip(f"{key} {value}: nightcrew rules cannot leave names out")
                else:
                    names.append(value + "*" if key == "matchPackagePrefixes" else value)
        if regexes and not names:
            raise _Skip(f"regular expressions {', '.join(regexes)}: nightcrew matches names with globs")
        if regexes:
            self.out.left(f"{where}: regular expressions {', '.join(regexes)}: nightcrew matches names with globs; "
                          f"the rule keeps {', '.join(names)}")
        return names

    def _scope_kinds(self, where: str, rule: dict[str, Any]) -> list[str]:
        if "matchUpdateTypes" not in rule:
            return []
        types = _strings(rule["matchUpdateTypes"])
        if types is None:
            raise _Skip("matchUpdateTypes: not a list")
        kinds = _ordered_kinds(types)
        others = [name for name in types if name not in ALL_KINDS]
        if others and not kinds:
            raise _Skip(f"matchUpdateTypes {', '.join(others)}: nightcrew has no such update kinds")
        if others:
            self.out.left(f"{where}: matchUpdateTypes {', '.join(others)}: nightcrew has no such update kinds; "
                          f"the rule keeps {', '.join(kinds)}")
        return kinds

    def _rule(self, where: str, rule: dict[str, Any], scope: _Scope) -> None:
        package: dict[str, Any] = {}  # what this rule sets in one [[updates.packages]] entry
        for key, value in rule.items():
            if key in _RULE_QUIET:
                continue
            try:
                if key == "enabled":
                    self._rule_enabled(where, value, scope, package)
                elif key == "automerge":
                    self._rule_automerge(where, value, scope, rule.get("minimumReleaseAge"))
                elif key == "groupName":
                    self._rule_group(where, value, scope, rule.get("separateMajorMinor") is False)
                elif key == "minimumReleaseAge":
                    self._rule_release_age(where, value, scope)
                elif key == "rangeStrategy":
                    package["range_strategy"] = _rule_range(value)
                elif key == "ignoreUnstable" and isinstance(value, bool):
                    package["prereleases"] = not value
                elif key == "allowedVersions":
                    self._rule_allowed_versions(where, value, scope)
                else:
                    self.out.left(f"{where}: {key}: {_RULE_REASONS.get(key, 'no nightcrew equivalent')}")
            except _Skip as exc:
                self.out.left(f"{where}: {key}: {exc}")
        if package:
            self._rule_package(where, scope, package)

    def _rule_enabled(self, where: str, value: Any, scope: _Scope, package: dict[str, Any]) -> None:
        if value is not False:
            raise _Skip("nightcrew has no rule that undoes an ignore rule")
        kinds = list(scope.kinds)
        if scope.names or not scope.ecosystems:
            for name in scope.names or ("*",):
                self.out.append("updates.ignore", {"package": name, **({"kinds": kinds} if kinds else {})})
                self.out.done(f"{where}: enabled false for {scope.describe()} -> [[updates.ignore]] package = "
                              f"{_show(name)}" + (f", kinds = {_show(kinds)}" if kinds else ""))
        elif scope.some_python:
            raise _Skip(_SOME_PYTHON)
        elif not kinds:
            self.state.off.update(scope.ecosystems)
            self.out.done(f"{where}: enabled false for {scope.describe()} -> [updates] ecosystems without "
                          f"{', '.join(scope.ecosystems)}")
        else:  # a setting for the ecosystem, not a filter: every kind but these
            package["kinds"] = [kind for kind in ALL_KINDS if kind not in kinds]

    def _rule_automerge(self, where: str, value: Any, scope: _Scope, age: Any) -> None:
        if value is True:
            if scope.ecosystems and not scope.names:
                raise _Skip(f"automerge for {', '.join(scope.ecosystems)} only: [[policy.automerge]] rules "
                            "cannot be limited to an ecosystem")
            self._automerge_rule(where, scope, age)
        elif value is False:
            self.state.no_automerge.append((where, scope))
        else:
            raise _Skip("not true or false")

    def _automerge_rule(self, where: str, scope: _Scope, age: Any) -> None:
        rule: dict[str, Any] = {"packages": list(scope.names) or ["*"], "kinds": list(scope.kinds or ALL_KINDS)}
        if age is not None:
            with contextlib.suppress(_Skip):  # the minimumReleaseAge line says why
                rule["min_release_age_days"] = _number(_age_days(age))
        self.state.automerge.append(rule)
        shown = ", ".join(f"{key} = {_show(value)}" for key, value in rule.items())
        self.out.done(f"{where}: automerge {scope.describe()} -> [[policy.automerge]] {shown} ({_AUTONOMOUS})")

    def _rule_group(self, where: str, value: Any, scope: _Scope, majors_too: bool) -> None:
        if not isinstance(value, str) or not value.strip():
            raise _Skip("not a name")
        name = _group_name(value)
        kinds = list(scope.kinds) or (list(ALL_KINDS) if majors_too else [])
        for ecosystem in scope.ecosystems or ("",):
            group: dict[str, Any] = {"name": f"{name}-{ecosystem}" if len(scope.ecosystems) > 1 else name,
                                     "patterns": list(scope.names) or ["*"]}
            if kinds:
                group["kinds"] = kinds
            if ecosystem:
                group["ecosystem"] = ecosystem
            self.state.groups.append(group)
            renamed = " (renamed: group names are letters, digits and . _ -)" if group["name"] != value else ""
            self.out.done(f"{where}: groupName {value} -> [[updates.groups]] name = {_show(group['name'])}, "
                          f"patterns = {_show(group['patterns'])}{renamed}")

    def _rule_release_age(self, where: str, value: Any, scope: _Scope) -> None:
        days, note = _whole_days(_age_days(value))
        if scope.names and not scope.kinds:
            self.state.cooldown_rules.append({"patterns": list(scope.names), "days": days})
            self.out.done(f"{where}: minimumReleaseAge {_show(value)} for {scope.describe()} -> "
                          f"[updates.cooldown] packages = [{{patterns = {_show(list(scope.names))}, days = {days}}}]"
                          f"{note}")
        elif scope.kinds and not scope.names and not scope.ecosystems:
            for kind in scope.kinds:
                self.out.set(f"updates.cooldown.{kind}_days", days)
            keys = ", ".join(f"{kind}_days = {days}" for kind in scope.kinds)
            self.out.done(f"{where}: minimumReleaseAge {_show(value)} for {scope.describe()} -> "
                          f"[updates.cooldown] {keys}{note}")
        else:
            raise _Skip(f"{_show(value)} for {scope.describe()}: nightcrew cooldowns go by package name or by "
                        "update kind, not both, nor by ecosystem")

    def _rule_allowed_versions(self, where: str, value: Any, scope: _Scope) -> None:
        match = re.fullmatch(r"\s*(<=?)\s*(\S+)\s*", value) if isinstance(value, str) else None
        if match is None or scope.ecosystems and not scope.names:
            raise _Skip(f"{_show(value)}: only an upper bound (\"<2\") for named packages is carried over")
        spec = (">=" if match[1] == "<" else ">") + match[2]
        _pep440(spec)
        for name in scope.names or ("*",):
            self.out.append("updates.ignore", {"package": name, "versions": spec})
        self.out.done(f"{where}: allowedVersions {value} for {scope.describe()} -> [[updates.ignore]] "
                      f"versions = {_show(spec)}")

    def _rule_package(self, where: str, scope: _Scope, package: dict[str, Any]) -> None:
        filtered = [key for key in package if key != "kinds"]  # "kinds" here came from enabled false
        if scope.kinds and filtered:
            self.out.left(f"{where}: {', '.join(filtered)} for {'/'.join(scope.kinds)} updates only: "
                          "[[updates.packages]] rules apply to every update kind")
            package = {key: value for key, value in package.items() if key == "kinds"}
            if not package:
                return
        for ecosystem in scope.ecosystems or ("",):
            rule = {"patterns": list(scope.names) or ["*"], **({"ecosystem": ecosystem} if ecosystem else {}),
                    **package}
            self.state.packages.append(rule)
        shown = ", ".join(f"{key} = {_show(value)}" for key, value in package.items())
        self.out.done(f"{where}: {scope.describe()} -> [[updates.packages]] {shown}")

    # ---- the end: what depends on the whole file

    def _finish(self) -> None:
        state = self.state
        self._ecosystems()
        self.out.set("updates.kinds", state.kinds)
        notes = "; ".join(state.kinds_note)
        self.out.done(f"Renovate proposes patch, minor and major updates -> [updates] kinds = {_show(state.kinds)}"
                      + (f" ({notes})" if notes else " (nightcrew's default leaves majors out)"))
        if state.labels is not None or state.add_labels:
            labels = list(dict.fromkeys((state.labels or []) + state.add_labels))
            self.out.set("updates.labels", labels)
            self.out.done(f"labels {_show(labels)} -> [updates] labels = {_show(labels)}")
        # Renovate applies every matching rule, the last one winning; nightcrew takes the first match
        for dotted, items in (("updates.groups", state.groups), ("updates.packages", state.packages),
                              ("updates.cooldown.packages", state.cooldown_rules)):
            for item in reversed(items):
                self.out.append(dotted, item)
        for rule in state.automerge:
            self.out.append("policy.automerge", rule)
        self._no_automerge()

    def _ecosystems(self) -> None:
        state = self.state
        if state.enabled_managers is not None:
            base, why = state.enabled_managers, "enabledManagers"
        else:
            base = {"python", "actions"} | ({"pre-commit"} if state.pre_commit else set())
            why = "Renovate's managers" + (" with pre-commit enabled" if state.pre_commit
                                           else " (pre-commit is opt-in and not enabled)")
        ecosystems = _ordered_ecosystems(base - state.off)
        self.out.set("updates.ecosystems", ecosystems)
        self.out.done(f"{why} -> [updates] ecosystems = {_show(ecosystems)}")

    def _no_automerge(self) -> None:
        for number, (where, scope) in enumerate(self.state.no_automerge, start=1):
            if not self.state.automerge:
                self.out.done(f"{where}: automerge false: nightcrew merges nothing unless a [[policy.automerge]] "
                              "rule allows it, no setting needed")
            elif scope.ecosystems and not scope.names:
                self.out.left(f"{where}: automerge false for {', '.join(scope.ecosystems)}: policy rules cannot be "
                              "limited to an ecosystem")
            else:
                rule = {"name": f"renovate-no-automerge-{number}", "verdict": "deny", "actions": ["forge.merge"],
                        "packages": list(scope.names), "kinds": list(scope.kinds)}
                self.out.append("policy.rules", rule)
                self.out.done(f"{where}: automerge false for {scope.describe()} -> [[policy.rules]] "
                              f"name = {_show(rule['name'])}, verdict = \"deny\", actions = [\"forge.merge\"]")


def _scope_ecosystems(rule: dict[str, Any]) -> list[str]:
    """The ecosystems matchManagers and matchDatasources leave (both: the ones in both); [] for any."""
    found: list[set[str]] = []
    foreign: list[str] = []
    for key, table in (("matchManagers", _MANAGERS), ("matchDatasources", _DATASOURCES)):
        if key not in rule:
            continue
        values = _strings(rule[key])
        if values is None:
            raise _Skip(f"{key}: not a list")
        found.append({ecosystem for value in values for ecosystem in table.get(value, ())})
        foreign.extend(value for value in values if value not in table)
    if not found:
        return []
    ecosystems = set.intersection(*found)
    if not ecosystems:
        raise _Skip(f"applies to {', '.join(foreign)} only: nightcrew does not update those")
    return [] if ecosystems == set(ECOSYSTEMS) else _ordered_ecosystems(ecosystems)


def _rule_range(value: Any) -> str:
    if value in _RANGE:
        return _RANGE[value]
    raise _Skip(f"{_show(value)}: {_RANGE_REASONS.get(value, 'not a Renovate strategy')}")


# ---- Renovate schedules: when Renovate may work, as windows; nightcrew starts one run at a time of day


@dataclass(frozen=True)
class _Window:
    hours: frozenset[int] | None  # None: any hour
    dom: str = "*"
    month: str = "*"
    dow: str = "*"


def _renovate_cron(value: Any, out: _Out) -> tuple[str | None, str]:
    """One cron expression for Renovate's ``schedule`` (its first window; the others are listed); None: any time."""
    texts = _strings(value)
    if not texts:
        raise _Skip(f"{_show(value)}: not a list of schedules")
    window = _window(texts[0])
    for other in texts[1:]:
        out.left(f"schedule {other!r}: nightcrew starts one run at one time; only the first window, "
                 f"{texts[0]!r}, is carried over")
    if window is None:
        return None, texts[0]
    default_minute, default_hour = _default_time()
    if window.hours is None or default_hour in window.hours:
        minute, hour = default_minute, default_hour
    else:
        minute, hour = 0, min(window.hours)
    cron = _check_cron(f"{minute} {hour} {window.dom} {window.month} {window.dow}")
    return cron, repr(texts[0])


def _renovate_interval_days(value: Any) -> int | None:
    """Days between lock-maintenance runs for a Renovate schedule: one weekday 7, monthly 30, any day 1."""
    texts = _strings(value)
    if not texts or len(texts) > 1:
        raise _Skip(f"{_show(value)}: only one window is carried over")
    window = _window(texts[0])
    if window is None or window.dom == window.dow == "*" and window.month == "*":
        return 1
    if window.month == "*" and window.dom == "*" and re.fullmatch(r"[a-z]{3}", window.dow):
        return 7
    if window.month == "*" and window.dom == "1" and window.dow == "*":
        return 30
    raise _Skip(f"{texts[0]!r}: not daily, weekly or monthly")


def _window(text: str) -> _Window | None:
    """A Renovate schedule (5-field cron, or the later.js text Renovate reads) as a window; None: any time."""
    text = " ".join(text.lower().split())
    if text in ("at any time", ""):
        return None
    fields = text.split()
    if len(fields) == 5 and fields[0][0] in "*0123456789" and all(re.fullmatch(r"[\d*,/-]+|[a-z,-]+", f)
                                                                for f in fields):
        return _Window(_cron_hours(fields[1]), fields[2], fields[3], _cron_days(fields[4]))
    return _later_window(text)


def _cron_hours(field_text: str) -> frozenset[int] | None:
    if field_text == "*":
        return None
    hours: set[int] = set()
    for part in field_text.split(","):
        match = re.fullmatch(r"(\d{1,2})(?:-(\d{1,2}))?", part)
        if match is None or int(match[2] or match[1]) > 23:
            raise _Skip(f"hour field {field_text!r}: not a list of hours and hour ranges")
        hours.update(range(int(match[1]), int(match[2] or match[1]) + 1))
    return frozenset(hours)


_DAY_WORD = r"(?:sun|mon|tues|wednes|thurs|fri|satur)days?"
_LATER_TIME = re.compile(r"\b(before|after) (\d{1,2})(?::(\d{2}))? ?(am|pm)?(?=\s|$)")
_LATER_DAYS = re.compile(rf"\b(?:on|every) ({_DAY_WORD}(?:(?: ?,| and| or) {_DAY_WORD})*)\b")
_LATER_WEEKDAY = re.compile(r"\bevery weekday\b")
_LATER_WEEKEND = re.compile(r"\bevery weekend\b")
_LATER_FIRST = re.compile(r"\b(?:on )?the first day of the month\b")
_LATER_EVERY_DAY = re.compile(r"\bevery day\b")


def _later_window(text: str) -> _Window:
    """The common later.js shapes: before/after a time, on days, every weekday/weekend, the first of the month."""
    rest = text
    hours: frozenset[int] | None = None
    bounds: dict[str, int] = {}
    for match in _LATER_TIME.finditer(text):
        bounds[match[1]] = _hour_bound(match)
    rest = _LATER_TIME.sub(" ", rest)
    if bounds:
        before = set(range(bounds["before"])) if "before" in bounds else None
        after = set(range(bounds["after"], 24)) if "after" in bounds else None
        if before is not None and after is not None:
            hours = frozenset(before & after if bounds["after"] < bounds["before"] else before | after)
        else:
            hours = frozenset(before if before is not None else after or set())
        if not hours:
            raise _Skip(f"{text!r}: the window holds no hour")
    dow, dom = "*", "*"
    if _LATER_WEEKDAY.search(rest):
        dow, rest = "mon-fri", _LATER_WEEKDAY.sub(" ", rest)
    elif _LATER_WEEKEND.search(rest):
        dow, rest = "sat,sun", _LATER_WEEKEND.sub(" ", rest)
    elif match := _LATER_DAYS.search(rest):
        days = re.findall(_DAY_WORD, match[1])
        dow = ",".join(dict.fromkeys(day[:3] for day in days))
        rest = rest[:match.start()] + " " + rest[match.end():]
    if _LATER_FIRST.search(rest):
        dom, rest = "1", _LATER_FIRST.sub(" ", rest)
    rest = _LATER_EVERY_DAY.sub(" ", rest)
    if re.sub(r"\b(and|,)\b|,", " ", rest).strip():
        raise _Skip(f"{text!r}: not a schedule shape nightcrew translates")
    return _Window(hours, dom, "*", dow)


def _hour_bound(match: re.Match[str]) -> int:
    """The hour a before/after bound starts the excluded or included part at (before 5:30 keeps hour 5)."""
    hour, minute, half = int(match[2]), int(match[3] or 0), match[4]
    if half:
        if not 1 <= hour <= 12:
            raise _Skip(f"{match[0]!r}: not a time")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise _Skip(f"{match[0]!r}: not a time")
    return hour + 1 if match[1] == "before" and minute else hour

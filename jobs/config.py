"""Load and validate the TOML configuration into one frozen object; errors name the file and the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, ValidationInfo, field_validator
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from urllib.parse import urlsplit

from jobs import toml_errors
from jobs.index.locate import redact_url
from jobs.tools.redact import redact
from jobs.errors import ConfigError
from jobs.resources import default_config_path

CONFIG_FILE_NAME = "nightcrew.toml"

# TOML arrays arrive as lists; the frozen config keeps tuples. Scalars stay strict (no "16" -> 16).
Strings = Annotated[tuple[str, ...], Strict(False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ManifestSettings(_Section):
    formats: Strings
    # find requirements files and pyproject.toml anywhere in the repository (jobs/manifests/discover.py)
    discover: bool = True
    # globs of files never read (relative to the repository; "**" crosses folders)
    exclude: Strings = ()
    requirements: Strings
    pyproject: Strings
    actions: Strings = (".github/workflows/*.yml", ".github/workflows/*.yaml", "action.yml", "action.yaml",
                        ".github/actions/**/action.yml", ".github/actions/**/action.yaml")
    pre_commit: Strings = (".pre-commit-config.yaml", ".pre-commit-config.yml")

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: Strings) -> Strings:
        from jobs.manifests import NAMES

        unknown = [name for name in value if name not in NAMES]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r} (known: {', '.join(NAMES)})")
        return value

    def globs(self, format_name: str) -> Strings:
        return getattr(self, format_name.replace("-", "_"))


class IndexSettings(_Section):
    url: str
    extra_urls: Strings
    timeout: float = Field(gt=0)
    retries: int = Field(ge=0, le=10)
    backoff: float = Field(ge=0)
    workers: int = Field(ge=1, le=64)
    cache_dir: str
    prereleases: bool
    python_version: str

    @field_validator("url", "extra_urls")
    @classmethod
    def _valid_urls(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for url in (value,) if isinstance(value, str) else value:
            if url and urlsplit(url).scheme not in ("http", "https", "file"):
                raise ValueError(f"not an http(s) or file URL: {redact_url(url)!r}")
        return value

    @field_validator("python_version")
    @classmethod
    def _valid_python(cls, value: str) -> str:
        if value:
            try:
                Version(value)
            except InvalidVersion:
                raise ValueError(f"not a version: {value!r}") from None
        return value


UpdateKind = Literal["patch", "minor", "major", "prerelease"]
Kinds = Annotated[tuple[UpdateKind, ...], Strict(False)]
Strategy = Literal["auto", "pin", "bump", "widen"]


def _valid_specifier(value: str) -> str:
    if value:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(f"not a PEP 440 specifier: {value!r}") from None
    return value


class ForgeSettings(_Section):
    kind: Literal["local", "github"]
    remote: str
    base: str
    branch_prefix: str = Field(min_length=1)
    state_file: str
    pr_folder: str
    api_url: str
    web_url: str
    repository: str
    token_env: str
    throttle: bool
    author_name: str
    author_email: str


class GroupRule(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    patterns: Strings = ("*",)
    kinds: Kinds = ()
    # only updates of this ecosystem ("python", "actions", "pre-commit"); empty: any
    ecosystem: Literal["", "python", "actions", "pre-commit"] = ""


class IgnoreRule(_Section):
    package: str = Field(min_length=1)
    versions: str = ""
    kinds: Kinds = ()

    @field_validator("versions")
    @classmethod
    def _valid_versions(cls, value: str) -> str:
        return _valid_specifier(value)


class PackageRule(_Section):
    patterns: Strings = ("*",)
    # only dependencies of this ecosystem ("python", "actions", "pre-commit"); empty: any
    ecosystem: Literal["", "python", "actions", "pre-commit"] = ""
    kinds: Kinds | None = None
    range_strategy: Strategy | None = None
    prereleases: bool | None = None


class SecuritySettings(_Section):
    enabled: bool = True
    osv_url: str = "https://api.osv.dev"
    timeout: float = Field(default=10, gt=0)
    label: str = "security"
    min_severity: Literal["LOW", "MODERATE", "HIGH", "CRITICAL"] = "LOW"


class LockfileSettings(_Section):
    enabled: bool = True
    formats: Strings = ("uv", "poetry", "pip-tools")
    timeout: float = Field(default=600, gt=0)
    uv: str = ""
    poetry: str = ""
    pip_compile: str = ""


class CooldownRule(_Section):
    patterns: Strings
    days: int = Field(ge=0)


class Cooldown(_Section):
    default_days: int = Field(default=3, ge=0)
    major_days: int | None = Field(default=None, ge=0)
    minor_days: int | None = Field(default=None, ge=0)
    patch_days: int | None = Field(default=None, ge=0)
    include: Strings = ()
    exclude: Strings = ()
    packages: Annotated[tuple[CooldownRule, ...], Strict(False)] = ()
    unknown_age: Literal["propose", "hold"] = "propose"


class LockMaintenance(_Section):
    enabled: bool = False
    interval_days: int = Field(default=7, ge=1)


class UpdateSettings(_Section):
    # which ecosystems are read and updated: Python packages, GitHub Actions, pre-commit hook revisions
    ecosystems: Annotated[tuple[Literal["python", "actions", "pre-commit"], ...], Strict(False)] = (
        "python", "actions", "pre-commit")
    # "sha": a GitHub Actions tag pin moves to the new tag's commit SHA with the tag in a comment
    actions_pin: Literal["keep", "sha"] = "keep"
    transitive: bool = False
    lock_maintenance: LockMaintenance = LockMaintenance()
    cooldown: Cooldown = Cooldown()
    yanked_label: str = "yanked"
    kinds: Kinds
    range_strategy: Strategy
    max_open_prs: int = Field(ge=0)
    max_prs_per_run: int = Field(ge=0)
    on_test_failure: Literal["draft", "skip"]
    labels: Strings
    failing_label: str
    reviewers: Strings
    groups: Annotated[tuple[GroupRule, ...], Strict(False)]
    ignore: Annotated[tuple[IgnoreRule, ...], Strict(False)]
    packages: Annotated[tuple[PackageRule, ...], Strict(False)]


class TestSettings(_Section):
    __test__ = False  # not a pytest test class

    setup: Strings
    command: str = Field(min_length=1)
    timeout: float = Field(gt=0)
    system_site_packages: bool
    secret_env: Strings


class LLMSettings(_Section):
    enabled: bool
    model: str
    base_url: str
    api_key_env: str
    timeout: float = Field(gt=0)
    retries: int = Field(ge=0, le=10)
    max_output_tokens: int = Field(ge=16, le=32_000)


class ChangelogSettings(_Section):
    enabled: bool
    github: bool
    github_api_url: str
    prereleases: Literal["auto", "always", "never"]
    max_sdist_bytes: int = Field(ge=1024)


class CategoryRule(_Section):
    title: str = Field(min_length=1)
    labels: Strings
    exclude_labels: Strings = ()
    exclude_authors: Strings = ()


class ReleaseNoteSettings(_Section):
    tag_pattern: str
    skip_prereleases: bool
    include_direct_commits: bool
    folder: str
    neutralize_handles: bool
    categories: Annotated[tuple[CategoryRule, ...], Strict(False)]
    exclude_labels: Strings
    exclude_authors: Strings
    changelog_file: str
    bot_authors: Strings
    bot_branches: Strings = ()
    credit_bots: bool = False
    style: Literal["auto", "default"] = "auto"
    notes_file: str = ""
    heading: str = ""
    item_order: Literal["", "ascending", "descending", "merged"] = ""
    curated: bool = True

    @field_validator("tag_pattern")
    @classmethod
    def _valid_pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if "version" not in compiled.groupindex:
            raise ValueError("needs a (?P<version>...) group")
        return value


Verdict = Literal["allow", "deny", "needs-approval"]
_CRON_FIELDS = 5


def _valid_cron(value: str) -> str:
    if value:
        if len(value.split()) != _CRON_FIELDS:
            raise ValueError(f"not a 5-field cron expression: {value!r}")
        from jobs.scheduler import cron_trigger

        try:
            cron_trigger(value, "UTC")
        except ValueError as exc:
            raise ValueError(f"not a cron expression: {value!r} ({exc})") from None
    return value


def _valid_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


class StateSettings(_Section):
    url: str
    path: str
    audit_log: str
    stale_lock_minutes: float = Field(gt=0)

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if value:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(value)
            except ArgumentError:
                raise ValueError("not a SQLAlchemy database URL") from None
        return value


# What a needs-approval rule may hold back: actions on a PR that exists, where a person can put the approval
# label. Anything earlier (branch, tests, push, creating the PR, reads) has no PR to label, so it would wait forever.
APPROVABLE_ACTIONS = ("forge.update_pull", "forge.close_pull", "forge.comment", "forge.label", "forge.request_review",
                      "forge.merge")


class PolicyRule(_Section):
    name: str = Field(min_length=1)
    verdict: Verdict  # before actions: the actions are checked against it
    actions: Strings
    packages: Strings = ()
    kinds: Kinds = ()
    repositories: Strings = ()

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, value: Strings, info: ValidationInfo) -> Strings:
        from fnmatch import fnmatchcase

        from jobs.tools.policy import ACTIONS

        if not value:
            raise ValueError("names no action")
        for glob in value:
            matched = [action for action in ACTIONS if fnmatchcase(action, glob)]
            if not matched:
                raise ValueError(f"{glob!r} matches no action (known: {', '.join(ACTIONS)})")
            waiting = [action for action in matched if action not in APPROVABLE_ACTIONS]
            if info.data.get("verdict") == "needs-approval" and waiting:
                raise ValueError(f"needs-approval cannot apply to {', '.join(waiting)} ({glob!r}): the approval is a "
                                 "label on an existing pull request; only " + ", ".join(APPROVABLE_ACTIONS)
                                 + " can wait for one")
        return value


class AutomergeRule(_Section):
    packages: Strings
    kinds: Kinds = ("patch",)
    repositories: Strings = ()
    min_age_hours: float = Field(ge=0, default=24)
    min_release_age_days: float = Field(ge=0, default=0)  # Renovate's minimumReleaseAge, for merging


class PolicySettings(_Section):
    mode: Literal["advisory", "propose", "autonomous"]
    timezone: str
    quiet_hours: Strings
    max_prs_per_run: int = Field(ge=0)
    max_pushes_per_run: int = Field(ge=0)
    max_merges_per_day: int = Field(ge=0)
    pause_file: str
    pause_env: str
    approval_label: str
    hold_labels: Strings
    rules: Annotated[tuple[PolicyRule, ...], Strict(False)]
    automerge: Annotated[tuple[AutomergeRule, ...], Strict(False)]
    require_all_checks: bool = True
    merge_method: Literal["", "squash", "merge", "rebase"] = ""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _valid_timezone(value)

    @field_validator("quiet_hours")
    @classmethod
    def _windows(cls, value: Strings) -> Strings:
        for window in value:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", window):
                raise ValueError(f"not a HH:MM-HH:MM window: {window!r}")
        return value


class ScheduleSettings(_Section):
    timezone: str
    dependency_updates: str
    release_watch: str
    report: str
    misfire_grace_minutes: float = Field(gt=0)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _valid_timezone(value)

    @field_validator("dependency_updates", "release_watch", "report")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _valid_cron(value)


class ReportSettings(_Section):
    since_days: int = Field(ge=1)
    failures_in_a_row: int = Field(ge=2)
    folder: str
    security_pr_days: float = Field(ge=0, default=7)


class DashboardSettings(_Section):
    enabled: bool
    title: str = Field(min_length=1)
    file: str


FleetJob = Literal["dependency-updates", "release-watch", "report"]


class FleetRepository(_Section):
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    jobs: Annotated[tuple[FleetJob, ...], Strict(False)] = ("dependency-updates",)
    config: str = ""
    mode: Literal["advisory", "propose", "autonomous", ""] = ""


class FleetSettings(_Section):
    repositories: Annotated[tuple[FleetRepository, ...], Strict(False)]


class Config(_Section):
    """The whole validated configuration, and the file it came from (None: defaults only)."""

    manifests: ManifestSettings
    index: IndexSettings
    forge: ForgeSettings
    updates: UpdateSettings
    tests: TestSettings
    llm: LLMSettings
    changelogs: ChangelogSettings
    release_notes: ReleaseNoteSettings
    state: StateSettings
    policy: PolicySettings
    schedule: ScheduleSettings
    report: ReportSettings
    dashboard: DashboardSettings
    fleet: FleetSettings
    lockfiles: LockfileSettings = LockfileSettings()
    security: SecuritySettings = SecuritySettings()
    source: str | None = None
    # dotted keys the configuration file sets itself ("forge.remote"): a default may be bent, an explicit value not
    explicit: frozenset[str] = frozenset()

    def is_explicit(self, key: str) -> bool:
        return key in self.explicit


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration: {exc.strerror}", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        line, message = toml_errors.describe(exc)
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"invalid TOML: {message}", where) from None


def _overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` laid over ``base``: tables merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def _dotted_keys(table: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Every key a TOML document sets, as ``section.key`` (tables are walked, arrays of tables are not)."""
    for key, value in table.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from _dotted_keys(value, f"{prefix}{key}.")


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts)


def _line_of(path: Path, loc: tuple[Any, ...]) -> int | None:
    """Best effort: the line where the offending key is written (its table header, then the key)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    names = [str(part) for part in loc if not isinstance(part, int)]
    if not names:
        return None
    start, table = 0, names[:-1]
    if table:
        header = re.compile(r"^\s*\[\[?\s*" + r"\s*\.\s*".join(re.escape(t) for t in table) + r"\s*\]\]?\s*(#.*)?$")
        start = next((n for n, line in enumerate(lines) if header.match(line)), 0)
    key = re.compile(r"^\s*[\"']?" + re.escape(names[-1]) + r"[\"']?\s*=")
    found = next((n for n in range(start, len(lines)) if key.match(lines[n])), None)
    if found is None and table:
        return start + 1 if start or lines and re.match(r"^\s*\[", lines[0]) else None
    return None if found is None else found + 1


def load(path: Path | None = None, *, repo: Path | None = None) -> Config:
    """The configuration from ``path``, else ``<repo>/nightcrew.toml`` if present, else the defaults.

    An explicit ``path`` that does not exist is an error; a missing ``nightcrew.toml`` is not.
    """
    defaults = _read_toml(default_config_path())
    user: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        source = path
    elif repo is not None and (repo / CONFIG_FILE_NAME).is_file():
        source = repo / CONFIG_FILE_NAME
    if source is not None:
        if not source.is_file():
            raise ConfigError("configuration file not found", str(source))
        user = _read_toml(source)
    for reserved in ("source", "explicit"):
        if reserved in user:
            raise ConfigError(f"unknown key '{reserved}'", str(source))
    try:
        return Config.model_validate({**_overlay(defaults, user), "source": str(source) if source else None,
                                      "explicit": frozenset(_dotted_keys(user))})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _key_path(first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"unknown key '{key}'"
        else:
            message = f"'{key}': {first['msg'].removeprefix('Value error, ')}"
            if "input" in first and not isinstance(first["input"], dict):
                message += f" (got {first['input']!r})"
        where = source or default_config_path()
        line = _line_of(where, tuple(first["loc"]))
        message = redact(message)  # a URL value may carry credentials
        raise ConfigError(message, f"{where}:{line}" if line else str(where)) from None

"""The changelog job: one package's changelog between two versions, for `nightcrew changelog` and the bump PRs."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jobs.changelogs.base import ChangelogSource
from jobs.changelogs.finder import ChangelogFinder
from jobs.config import Config
from jobs.errors import ConfigError
from jobs.index.client import IndexClient
from jobs.index.locate import IndexLocation, locate
from jobs.models import Changelog, Problem
from jobs.scan import cache_dir
from jobs.tools import Gate
from jobs.tools.redact import secrets_from_environment


PUBLIC_API = "https://api.github.com"


def upstream_reader(config: Config, gate: Gate | None = None):  # type: ignore[no-untyped-def]
    """A GitHub reader for upstream repositories (changelogs, tags of actions and hooks), or None without a token.

    Upstream projects live on public GitHub. A token made for a GitHub Enterprise forge is never sent there:
    it is used for upstream repositories only when ``[changelogs] github_api_url`` names where to use it,
    or when the forge's own API is public GitHub.
    """
    token = os.environ.get(config.forge.token_env, "")
    if not token:
        return None
    forge_api = (config.forge.api_url or os.environ.get("GITHUB_API_URL") or PUBLIC_API).rstrip("/")
    if not config.changelogs.github_api_url and forge_api != PUBLIC_API:
        return None
    from jobs.forges.github import GitHubReader

    return GitHubReader(token=token, api_url=config.changelogs.github_api_url or None, gate=gate,
                        throttle=config.forge.throttle)


def github_sources(config: Config, gate: Gate) -> list[ChangelogSource]:
    """The GitHub changelog sources, when enabled and a token is set (never without one: rate limits)."""
    reader = upstream_reader(config, gate) if config.changelogs.github else None
    if reader is None:
        return []
    from jobs.changelogs.github import GitHubFileSource, GitHubReleasesSource

    return [GitHubReleasesSource(reader), GitHubFileSource(reader)]


def index_client(config: Config, location: IndexLocation) -> IndexClient:
    folder, _ = cache_dir(config)
    return IndexClient(location, cache_dir=folder, timeout=config.index.timeout, retries=config.index.retries,
                       backoff=config.index.backoff, workers=config.index.workers)


def make_finder(config: Config, client: IndexClient, gate: Gate) -> ChangelogFinder:
    return ChangelogFinder(client, gate, github_sources=github_sources(config, gate),
                           prereleases=config.changelogs.prereleases,
                           max_sdist_bytes=config.changelogs.max_sdist_bytes)


@dataclass(frozen=True)
class ChangelogReport:
    changelog: Changelog
    summary: object | None = None
    problems: tuple[Problem, ...] = field(default_factory=tuple)


def run(package: str, old: str, new: str, config: Config, *, audit_path=None) -> ChangelogReport:  # type: ignore[no-untyped-def]
    """The changelog of ``package`` from ``old`` to ``new``, with its flags and, when enabled, an LLM summary."""
    try:
        old_v, new_v = Version(old), Version(new)
    except InvalidVersion as exc:
        raise ConfigError(str(exc), "changelog") from None
    if new_v <= old_v:
        raise ConfigError(f"{new} is not newer than {old}", "changelog")
    secrets = secrets_from_environment()
    gate = Gate(run_id=uuid.uuid4().hex[:12], job="changelog", mode="advisory", secrets=secrets, audit_path=audit_path)
    location = locate(config.index.url, config.index.extra_urls)
    name = canonicalize_name(package)
    with index_client(config, location) as client:
        page = gate.run("index.fetch", name, lambda: client.project(name))
        finder = make_finder(config, client, gate)
        changelog = finder.find(name, old_v, new_v, page)
        summary = None
        if config.llm.enabled and changelog.sections:
            from jobs.changelogs.summary import summarize
            from jobs.llm.client import LLMError, build_llm

            try:
                llm = build_llm(config.llm, gate)
            except LLMError as exc:
                finder.problems.append(Problem(None, None, str(exc)))
            else:
                summary = summarize(changelog, llm)
        return ChangelogReport(changelog, summary, tuple(finder.problems))

"""The one interface every changelog source implements, and what a source is given and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from packaging.version import Version

from jobs.models import ChangelogOrigin


@dataclass(frozen=True)
class ChangelogRequest:
    """What the chain knows about one upgrade when it asks the sources.

    ``project_urls`` are the package metadata's ``Project-URL`` entries (label -> URL) of the new version
    (or the newest release); ``index_versions`` are the releases the index lists, ascending.
    """

    package: str
    old: Version
    new: Version
    project_urls: dict[str, str] = field(default_factory=dict)
    index_versions: tuple[Version, ...] = ()


@dataclass(frozen=True)
class SourceText:
    """A candidate changelog: one or more texts (path -> text; several when notes are split per release)."""

    origin: ChangelogOrigin
    texts: dict[str, str]


class ChangelogSource(Protocol):
    """One place a changelog may live. ``fetch`` returns candidates, best first, or an empty list; it never
    raises for a missing or unreadable changelog (a network failure is a ``NightcrewError`` the chain reports
    and steps over)."""

    kind: str

    def fetch(self, request: ChangelogRequest) -> list[SourceText]: ...

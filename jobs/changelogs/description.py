"""The package description as a changelog: the new version's PKG-INFO body, else the index's JSON metadata."""

from __future__ import annotations

from typing import Protocol

from packaging.version import InvalidVersion, Version

from jobs.changelogs.base import ChangelogRequest, SourceText
from jobs.changelogs.metadata import description, parse_pkg_info
from jobs.changelogs.parse import looks_like_changelog
from jobs.changelogs.sdist import SdistCache, sdist_for
from jobs.errors import PackageIndexError
from jobs.index.locate import redact_url
from jobs.models import ChangelogOrigin, DistributionFile, ProjectPage

# Description-Content-Type -> the extension that tells the parser which markup it reads.
_EXTENSIONS = {"text/markdown": ".md", "text/x-rst": ".rst", "text/plain": ".txt"}


class _Client(Protocol):
    def download(self, file: DistributionFile, *, max_bytes: int) -> bytes: ...

    def project_json(self, name: str) -> dict[str, object] | None: ...


def _key(content_type: object) -> str:
    """The texts key: ``description`` plus the extension of its markup, when the metadata names one."""
    kind = str(content_type or "").split(";", 1)[0].strip().lower()
    return "description" + _EXTENSIONS.get(kind, "")


class DescriptionSource:
    """Many packages keep their release history in the description. The new version's own description is
    the body of PKG-INFO in its sdist; the index's JSON metadata has one too, but only for the newest
    release, so it is used only when that release is the new version (wheel-only releases)."""

    kind = "description"

    def __init__(self, client: _Client, page: ProjectPage, *, cache: SdistCache | None = None) -> None:
        """``cache``: the one the ``SdistSource`` of the same run uses, so the sdist is downloaded once."""
        self.client = client
        self.page = page
        self.cache = cache or SdistCache(client)

    def fetch(self, request: ChangelogRequest) -> list[SourceText]:
        found = self._from_sdist(request)
        if found is None:
            found = self._from_json(request)
        if found is None:
            return []
        origin, key, text = found
        return [SourceText(origin, {key: text})] if looks_like_changelog(text, key) else []

    def _from_sdist(self, request: ChangelogRequest) -> tuple[ChangelogOrigin, str, str] | None:
        file = sdist_for(self.page, request.new)
        if file is None:
            return None
        try:
            archive = self.cache.archive(file)
        except PackageIndexError:
            return None  # the sdist source reports the failed download; the JSON may still answer
        raw = archive.read("PKG-INFO") if archive is not None else None
        if raw is None:
            return None
        msg = parse_pkg_info(raw)
        text = description(msg)
        if not text.strip():
            return None
        origin = ChangelogOrigin("description", url=redact_url(file.url), path="description")
        return origin, _key(msg.get("Description-Content-Type")), text

    def _from_json(self, request: ChangelogRequest) -> tuple[ChangelogOrigin, str, str] | None:
        data = self.client.project_json(request.package)
        info = data.get("info") if data is not None else None
        if not isinstance(info, dict):
            return None
        try:
            if Version(str(info.get("version"))) != request.new:
                return None  # the JSON describes the newest release only, and that is another one
        except InvalidVersion:
            return None
        text = info.get("description")
        if not isinstance(text, str) or not text.strip():
            return None
        # Show people the release's page (PyPI's release_url), not the JSON document.
        url = info.get("release_url")
        url = redact_url(url) if isinstance(url, str) and url.startswith(("https://", "http://")) else None
        origin = ChangelogOrigin("description", url=url, path="description")
        return origin, _key(info.get("description_content_type")), text.replace("\r\n", "\n").replace("\r", "\n")

"""The chain of changelog sources: first hit wins; cut the slice, find what is missing, flag what breaks."""

from __future__ import annotations

from typing import Sequence

from packaging.version import Version

from jobs.changelogs.base import ChangelogRequest, ChangelogSource, SourceText
from jobs.changelogs.description import DescriptionSource
from jobs.changelogs.flags import flag_sections
from jobs.changelogs.link import LinkSource
from jobs.changelogs.github import upstream_repository
from jobs.changelogs.metadata import parse_pkg_info, project_urls
from jobs.changelogs.sdist import SdistCache, SdistSource, sdist_for
from jobs.changelogs.parse import parse_version
from jobs.changelogs.slicing import missing_versions, slice_releases
from jobs.errors import NightcrewError, PackageIndexError
from jobs.index.client import IndexClient
from jobs.models import Changelog, ProjectPage, Problem
from jobs.tools import Gate, Stopped

# Which gate action each source's requests are (the GitHub sources go through the forge layer).
ACTION = {"github-release": "forge.read", "github-file": "forge.read", "sdist": "index.fetch",
          "description": "index.fetch", "link": "index.fetch"}


class ChangelogFinder:
    """Finds changelogs for one run: GitHub sources first (when given), then the index-only ones."""

    def __init__(self, client: IndexClient, gate: Gate, *, github_sources: Sequence[ChangelogSource] = (),
                 prereleases: str = "auto", max_sdist_bytes: int = 64 << 20) -> None:
        self.client = client
        self.gate = gate
        self.github_sources = tuple(github_sources)
        self.prereleases = prereleases
        self.cache = SdistCache(client, max_bytes=max_sdist_bytes)
        self.problems: list[Problem] = []
        self._found: dict[tuple[str, str, str], Changelog] = {}

    def project_urls(self, page: ProjectPage, new: Version) -> dict[str, str]:
        """The ``Project-URL`` entries of the new version's sdist, else of the index's JSON (newest release)."""
        file = sdist_for(page, new)
        if file is not None:
            try:
                archive = self.cache.archive(file)
            except PackageIndexError as exc:
                archive = None
                self.problems.append(Problem(None, None, f"{page.name}: {exc}"))
            raw = archive.read("PKG-INFO") if archive is not None else None
            if raw is not None:
                return project_urls(parse_pkg_info(raw))
        try:
            data = self.client.project_json(page.name) or {}
        except PackageIndexError:
            return {}
        info = data.get("info") if isinstance(data, dict) else None
        urls = info.get("project_urls") if isinstance(info, dict) else None
        return {str(k): str(v) for k, v in urls.items() if isinstance(v, str)} if isinstance(urls, dict) else {}

    def find(self, package: str, old: Version, new: Version, page: ProjectPage, *,
             repository_url: str | None = None) -> Changelog:
        """The changelog of ``package`` from ``old`` to ``new``. With ``repository_url`` (a GitHub Action or a
        pre-commit hook: no package on the index) only that repository's GitHub sources are asked."""
        key = (package, str(old), str(new))
        if key not in self._found:
            self._found[key] = self._find(package, old, new, page, repository_url)
        return self._found[key]

    def _find(self, package: str, old: Version, new: Version, page: ProjectPage,
              repository_url: str | None = None) -> Changelog:
        versions = tuple(sorted(v for v, files in page.versions().items() if any(not f.yanked for f in files)))
        urls = {"Source": repository_url} if repository_url else self.project_urls(page, new)
        request = ChangelogRequest(package, old, new, urls, versions)
        upstream = upstream_repository(request.project_urls)
        repository = upstream.url if upstream is not None else None
        sources: list[ChangelogSource] = [*self.github_sources] if repository_url else [
            *self.github_sources, SdistSource(self.client, page, cache=self.cache),
            DescriptionSource(self.client, page, cache=self.cache), LinkSource()]
        link: SourceText | None = None
        without_range: SourceText | None = None
        for source in sources:
            try:
                candidates = self.gate.run(ACTION.get(source.kind, "index.fetch"), f"{source.kind} {package}",
                                           lambda source=source: source.fetch(request))
            except Stopped:  # the kill switch stops the run, it is not a source being down
                raise
            except NightcrewError as exc:  # one source down is not the end: the next may answer
                self.problems.append(Problem(None, None, f"{package} changelog ({source.kind}): {exc}"))
                continue
            except Exception as exc:  # noqa: BLE001 - upstream data that breaks a source must not end the run
                self.problems.append(Problem(None, None, f"{package} changelog ({source.kind}): {_one_line(exc)}"))
                continue
            for position, candidate in enumerate(candidates):
                if source.kind == "link":
                    link = link or candidate
                    continue
                try:
                    texts = candidate.texts
                    sliced = slice_releases(texts, old, new, prereleases=self.prereleases)
                    missing = missing_versions(versions, sliced.sections, old, new)
                    if sliced.sections and (missing or min(sliced.found_versions) > old):
                        texts = _with_older_series(texts, sliced.found_versions, missing, candidates[position + 1:],
                                                   old, new)
                        if texts is not candidate.texts:
                            sliced = slice_releases(texts, old, new, prereleases=self.prereleases)
                            missing = missing_versions(versions, sliced.sections, old, new)
                    found = Changelog(
                        package, str(old), str(new), candidate.origin, sliced.sections, missing,
                        flag_sections(sliced.sections), repository=repository,
                    ) if sliced.sections else None
                except Exception as exc:  # noqa: BLE001 - a hostile changelog: report it, try the next candidate
                    where = candidate.origin.url or candidate.origin.path or ""
                    self.problems.append(Problem(None, None, f"{package} changelog ({source.kind}"
                                                             f"{' ' + where if where else ''}): {_one_line(exc)}"))
                    continue
                if found is not None:
                    return found
                without_range = without_range or candidate
        in_range = missing_versions(versions, (), old, new)
        if without_range is not None:
            return Changelog(package, str(old), str(new), without_range.origin, (), in_range,
                             note=f"the changelog has no section for the versions after {old} up to {new}",
                             repository=repository)
        if link is not None:
            return Changelog(package, str(old), str(new), link.origin, (), in_range,
                             note="no changelog text found; the project links its changelog", repository=repository)
        return Changelog(package, str(old), str(new), None, (), in_range, note="no changelog found",
                         repository=repository)


def _with_older_series(texts: dict[str, str], found: Sequence[Version], missing: Sequence[str],
                       others: Sequence[SourceText], old: Version, new: Version) -> dict[str, str]:
    """Notes split by series: the main changelog holds the current series only and older series live in files of
    their own (``doc/changes/9.0.rst``). A version is wanted when the index lists it in range without a section
    (``missing``), or when it lies between ``old`` and the oldest release the main changelog names at all (the
    file does not reach back that far). Files of the later candidates whose in-range sections are all wanted
    versions are added to ``texts``."""
    floor = min(found, default=new)
    wanted_missing = {v for v in (parse_version(m) for m in missing) if v is not None}
    covered: set[Version] = set()

    def wanted(version: Version) -> bool:
        return version not in covered and (version in wanted_missing or old < version < floor)

    added: dict[str, str] = {}
    for other in others:
        for path, text in other.texts.items():
            if path in texts or path in added:
                continue
            sections = slice_releases({path: text}, old, new, prereleases="never").sections
            named = {v for s in sections for word in s.version.split() if (v := parse_version(word)) is not None}
            if named and all(wanted(v) for v in named):
                added[path] = text
                covered.update(named)
    return {**texts, **added} if added else texts


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """An unexpected exception as one short line: its type and message, whitespace collapsed."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

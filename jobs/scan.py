"""The scan job: manifests -> index -> version choice, one row per dependency, failures as values."""

from __future__ import annotations

import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from packaging.version import Version

from jobs import manifests
from jobs.config import Config
from jobs.errors import PackageIndexError
from jobs.index.client import IndexClient
from jobs.index.locate import IndexLocation, locate, redact_url
from jobs.index.versions import assess, lowest_python
from jobs.models import Dependency, DependencyStatus, ParsedManifests, Problem, ProjectPage


_UNSET: list[str] = []  # "list the repository's files here" (None: discovery is off)


@dataclass(frozen=True)
class ScanReport:
    """Everything one scan found, ready for a renderer."""

    repository: str
    index_url: str
    index_origin: str
    python: str | None
    files: tuple[str, ...]
    statuses: tuple[DependencyStatus, ...]
    problems: tuple[Problem, ...]
    requests: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # For the jobs that build on a scan: the index actually used (credentials intact) and its pages.
    location: IndexLocation | None = field(default=None, repr=False, compare=False)
    pages: dict[str, ProjectPage] = field(default_factory=dict, repr=False, compare=False)
    locked_projects: tuple = field(default=(), repr=False, compare=False)  # jobs.lockfiles.LockedProject
    # True: the advisory database answered for every dependency; False: it could not be asked (never read that
    # as "none found"); None: the check is off
    vulnerabilities_checked: bool | None = None

    @property
    def vulnerable(self) -> tuple[DependencyStatus, ...]:
        return tuple(s for s in self.statuses if s.advisories)

    @property
    def outdated(self) -> tuple[DependencyStatus, ...]:
        return tuple(s for s in self.statuses if s.update_kind is not None)

    @property
    def not_checked(self) -> tuple[DependencyStatus, ...]:
        return tuple(s for s in self.statuses if s.skipped_reason is not None)


def cache_dir(config: Config) -> tuple[Path | None, Problem | None]:
    """The HTTP cache folder, made if needed; (None, problem) when it cannot be written (the scan runs uncached)."""
    if config.index.cache_dir:
        folder = Path(config.index.cache_dir).expanduser()
    else:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("nightcrew")) / "http"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        return None, Problem(str(folder), None, f"cache folder not writable ({exc.strerror}): running without a cache")
    return folder, None


def own_files(repo: Path, config: Config) -> list[str] | None:
    """The repository's files that may be its own manifests and lockfiles (``[manifests] discover``), or None
    when discovery is off (the configured globs alone are read)."""
    if not config.manifests.discover:
        return None
    from jobs.manifests.discover import excluded, not_own, repository_files, virtualenvs

    files = repository_files(repo)
    venvs = virtualenvs(files)
    return [f for f in files if not_own(f, venvs) is None and not excluded(f, config.manifests.exclude)]



def read_manifests(repo: Path, config: Config, listing: list[str] | None = _UNSET) -> ParsedManifests:
    """Every configured format's files, parsed and merged (problems kept, nothing raised)."""
    files: list[str] = []
    deps: list[Dependency] = []
    problems: list[Problem] = []
    index_url: str | None = None
    extra: list[str] = []
    requires_python: str | None = None
    listing = own_files(repo, config) if listing is _UNSET else listing
    for name in config.manifests.formats:
        if manifests.ECOSYSTEMS.get(name, "python") not in config.updates.ecosystems:
            continue
        fmt = manifests.get(name)
        paths = fmt.find(repo, config.manifests.globs(name))
        if listing is not None:
            from jobs.manifests.discover import discover, excluded
            from jobs.manifests.base import relative

            found = set(paths) | set(discover(repo, name, listing, config.manifests.exclude))
            paths = sorted(p for p in found if not excluded(relative(repo, p), config.manifests.exclude))
        parsed = fmt.parse(repo, paths)
        files.extend(f for f in parsed.files if f not in files)
        deps.extend(parsed.dependencies)
        problems.extend(parsed.problems)
        index_url = index_url or parsed.index_url
        extra.extend(u for u in parsed.extra_index_urls if u not in extra)
        requires_python = requires_python or parsed.requires_python
    return ParsedManifests(tuple(files), tuple(deps), tuple(problems), index_url, tuple(extra), requires_python)


def _publishers(client: IndexClient, statuses: list[DependencyStatus], pages: dict,
                problems: list[Problem]) -> list[DependencyStatus]:
    """PEP 740 publisher continuity of each outdated dependency's newest release against its current one, where
    the index has provenance for them (a fetch failure is a problem line; the rest goes on)."""
    from dataclasses import replace as copy

    from jobs.index import provenance

    result = []
    for status in statuses:
        page = pages.get(status.dependency.name)
        if (status.update_kind is None or status.current is None or status.latest is None
                or not isinstance(page, ProjectPage) or not any(f.provenance for f in page.files)):
            result.append(status)
            continue
        try:
            found = provenance.check(client, page, status.current, status.latest)
        except PackageIndexError as exc:
            problems.append(Problem(status.dependency.file, status.dependency.line,
                                    f"{status.dependency.name}: publisher not checked: {exc}"))
            found = None
        result.append(copy(status, publisher=found) if found is not None else status)
    return result


def check_advisories(statuses: list[DependencyStatus], pages: dict, config: Config, cache: Path | None,
                     gate: object | None = None) -> tuple[list[DependencyStatus], bool, Problem | None, int]:
    """Every dependency's current version asked of the advisory database in one batched round trip, then the
    details of the advisories found; each status gets its advisories and the lowest release fixing them all.
    (statuses, checked, problem, requests): a failure leaves the statuses as they were and says so."""
    from dataclasses import replace as copy

    from jobs.advisories import AdvisoryError, OsvClient, fix_version, to_advisory
    from jobs.advisories.osv import osv_url

    url = osv_url(config.security.osv_url)
    pairs = list(dict.fromkeys((s.dependency.name, str(s.current)) for s in statuses
                               if s.current is not None and s.skipped_reason is None
                               and s.dependency.ecosystem == "python"))
    if not pairs:
        return statuses, True, None, 0
    client = OsvClient(url, cache_dir=cache / "osv" if cache else None, timeout=config.security.timeout)

    def ask() -> tuple[dict, dict]:
        found = client.query(pairs)
        ids = {vuln_id: modified for vulns in found.values() for vuln_id, modified in vulns.items()}
        return found, client.details(ids)

    try:
        if gate is not None:
            found, records = gate.run("advisories.fetch", url, ask)  # type: ignore[attr-defined]
        else:
            found, records = ask()
    except AdvisoryError as exc:
        return statuses, False, Problem(None, None, f"vulnerabilities not checked: {exc}"), client.requests
    finally:
        client.close()
    result = []
    for status in statuses:
        vulns = found.get((status.dependency.name, str(status.current)), {}) if status.current else {}
        live = [records[i] for i in sorted(vulns) if i in records and not records[i].get("withdrawn")]
        if not live:
            result.append(status)
            continue
        page = pages.get(status.dependency.name)
        releases = [v for v, files in page.versions().items() if any(not f.yanked for f in files)] \
            if isinstance(page, ProjectPage) else []
        fix = fix_version(live, status.dependency.name, status.current, releases)  # type: ignore[arg-type]
        result.append(copy(status, advisories=tuple(to_advisory(r, status.dependency.name) for r in live),
                           fix_version=fix))
    return result, True, None, client.requests


def apply_locks(repo: Path, parsed: ParsedManifests, config: Config,
                listing: list[str] | None = _UNSET) -> tuple[ParsedManifests, list]:
    """The manifests as their lockfiles pin them: each direct dependency of a locked project carries its locked
    version (what runs) beside the specifier, the lockfile's other packages are added as transitive entries
    (``direct`` False, section ``lock``), and a pip-compile output gives way to its ``.in`` source (the file people
    edit; the output is the lockfile). A lockfile that cannot be read is a problem, not an end."""
    from dataclasses import replace as copy

    from jobs import lockfiles

    if not config.lockfiles.enabled:
        return parsed, []
    listing = own_files(repo, config) if listing is _UNSET else listing
    projects = lockfiles.detect(repo, tuple(config.lockfiles.formats), listing)
    if listing is not None:  # only the projects whose manifests discovery kept (not a test input's lock)
        projects = [p for p in projects if p.manifest in parsed.files or p.lockfile in parsed.files]
    deps = list(parsed.dependencies)
    files = list(parsed.files)
    problems = list(parsed.problems)
    used = []
    for project in projects:
        try:
            locked = lockfiles.get(project.kind).read(repo, project)
        except lockfiles.LockError as exc:
            problems.append(Problem(project.lockfile, None, exc.message))
            continue
        used.append(project)
        if project.kind == "pip-tools":  # the compiled file is the lock: its source is the manifest
            deps = [d for d in deps if d.file != project.lockfile]
            source = manifests.get("requirements").parse(repo, [repo / project.manifest])
            deps += list(source.dependencies)
            problems += list(source.problems)
            files += [f for f in source.files if f not in files]
        named: set[str] = set()
        manifests_of = {project.manifest, *project.members}
        if project.members:  # a workspace: its members depend on each other from the tree, not from the index
            own = _project_names(repo, manifests_of)
            deps = [copy(d, skipped_reason="a member of the workspace") if d.file in manifests_of and d.name in own
                    else d for d in deps]
        for number, dep in enumerate(deps):
            if dep.file in manifests_of and dep.name in locked:
                deps[number] = copy(dep, locked=locked[dep.name].version, lockfile=project.lockfile)
                named.add(dep.name)
        lines = _lock_lines(repo, project)
        for name, package in sorted(locked.items()):
            if name in named or package.direct:
                continue
            deps.append(Dependency(name=name, raw_name=name, specifier="", file=project.lockfile,
                                   line=lines.get(name, 0), section="lock", locked=package.version,
                                   lockfile=project.lockfile, direct=False))
        if project.lockfile not in files:
            files.append(project.lockfile)
    return copy(parsed, files=tuple(files), dependencies=tuple(deps), problems=tuple(problems)), used


def _project_names(repo: Path, manifests_of: set[str]) -> set[str]:
    """The ``[project] name`` of each manifest, normalized (PEP 503)."""
    import tomllib

    from packaging.utils import canonicalize_name

    names = set()
    for manifest in manifests_of:
        try:
            name = tomllib.loads((repo / manifest).read_text(encoding="utf-8")).get("project", {}).get("name")
        except (OSError, tomllib.TOMLDecodeError, AttributeError):
            continue
        if isinstance(name, str):
            names.add(canonicalize_name(name))
    return names


def _lock_lines(repo: Path, project) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The line where each package appears in the lockfile (its name entry), for the scan's file:line."""
    import re

    from packaging.utils import canonicalize_name

    lines: dict[str, int] = {}
    try:
        text = (repo / project.lockfile).read_text(encoding="utf-8")
    except OSError:
        return lines
    pattern = re.compile(r'^(?:name = "(?P<toml>[^"]+)"|(?P<req>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==)')
    for number, line in enumerate(text.splitlines(), start=1):
        found = pattern.match(line)
        if found:
            lines.setdefault(canonicalize_name(found["toml"] or found["req"]), number)
    return lines


def _tag_pages(deps: list[Dependency], config: Config, gate: object | None) -> dict:
    """The tag pages of GitHub Actions and pre-commit hooks (see ``jobs.index.tags``)."""
    if not deps:
        return {}
    from jobs.changelog import upstream_reader
    from jobs.index.tags import TagSource
    from jobs.tools.redact import secrets_from_environment

    reader = upstream_reader(config, gate if hasattr(gate, "run") else None)  # type: ignore[arg-type]
    source = TagSource(reader=reader, timeout=config.index.timeout, secrets=secrets_from_environment())
    return dict(source.pages(deps))


def project_python(parsed: ParsedManifests, config: Config) -> Version:
    """The oldest Python the project supports: its requires-python, else config, else the running interpreter."""
    declared = lowest_python(parsed.requires_python)
    if declared is not None:
        return declared
    if config.index.python_version:
        return Version(config.index.python_version)
    return Version(".".join(platform.python_version_tuple()[:2]))


def scan(
    repo: Path,
    config: Config,
    *,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[str], None] | None = None,
    gate: object | None = None,
) -> ScanReport:
    started = time.perf_counter()
    listing = own_files(repo, config)  # one walk of the repository for the manifests and the lockfiles
    parsed = read_manifests(repo, config, listing)
    parsed, projects = apply_locks(repo, parsed, config, listing)
    where = locate(config.index.url, config.index.extra_urls, parsed.index_url, parsed.extra_index_urls)
    python = project_python(parsed, config)
    checkable = [d for d in parsed.dependencies if d.skipped_reason is None and d.ecosystem == "python"]
    pinned = [d for d in parsed.dependencies if d.skipped_reason is None and d.ecosystem != "python"]
    problems = list(parsed.problems)
    cache, cache_problem = cache_dir(config)
    if cache_problem:
        problems.append(cache_problem)
    statuses: list[DependencyStatus] = []
    with IndexClient(
        where,
        cache_dir=cache,
        timeout=config.index.timeout,
        retries=config.index.retries,
        backoff=config.index.backoff,
        workers=config.index.workers,
    ) as client:
        names = list(dict.fromkeys(d.name for d in checkable))
        if on_start:
            on_start(len(names))
        pages = dict(client.projects(names, on_done=on_done)) if names else {}
        pages.update(_tag_pages(pinned, config, gate))
        reported: set[str] = set()
        for dep in parsed.dependencies:
            if dep.skipped_reason is not None:
                statuses.append(DependencyStatus(dep, skipped_reason=dep.skipped_reason))
                continue
            page = pages[dep.name]
            if isinstance(page, PackageIndexError):
                statuses.append(DependencyStatus(dep, skipped_reason=f"not checked: {page.message}"))
                if dep.name not in reported:  # one error per package, at its first place of use
                    reported.add(dep.name)
                    problems.append(Problem(dep.file, dep.line, f"{dep.name}: {page}"))
                continue
            if dep.ecosystem != "python":
                from jobs.manifests.pins import at_depth, sha_mismatch

                mismatch = sha_mismatch(dep, page)
                if mismatch:
                    statuses.append(DependencyStatus(dep, skipped_reason=mismatch))
                    problems.append(Problem(dep.file, dep.line, f"{dep.raw_name}: {mismatch}"))
                    continue
                statuses.append(assess(dep, at_depth(dep, page), python=None,
                                       allow_prereleases=config.index.prereleases))
                continue
            statuses.append(assess(dep, page, python=python, allow_prereleases=config.index.prereleases))
        statuses = _publishers(client, statuses, pages, problems)
        stats = client.stats.as_dict()
    checked = None
    if config.security.enabled:
        statuses, checked, problem, osv_requests = check_advisories(statuses, pages, config, cache, gate)
        stats["advisory_requests"] = osv_requests
        if problem is not None:
            problems.append(problem)
    return ScanReport(
        repository=str(repo),
        index_url=redact_url(where.url),
        index_origin=where.origin,
        python=str(python),
        files=parsed.files,
        statuses=tuple(statuses),
        problems=tuple(problems),
        requests=stats,
        seconds=time.perf_counter() - started,
        location=where,
        pages={name: page for name, page in pages.items() if isinstance(page, ProjectPage)},
        locked_projects=tuple(projects),
        vulnerabilities_checked=checked,
    )

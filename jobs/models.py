"""The records that flow between stages: small, frozen, typed."""

from __future__ import annotations

from datetime import datetime
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class Span:
    """Character offsets ``[start, end)`` into a file's text read with ``newline=""`` (CRLF kept)."""

    start: int
    end: int


@dataclass(frozen=True)
class Dependency:
    """One requirement as written in one manifest.

    ``specifier`` is the version text exactly as written (``==1.2.3``, ``>=1,<2``, Poetry's ``^1.2``),
    and ``span`` says where that text sits in the file, so an edit can replace just those characters.
    ``pep440`` is the same constraint as a PEP 440 specifier string (Poetry's caret and tilde converted);
    for PEP 508 formats it is an equivalent of ``specifier``. A requirement nightcrew cannot check (URL, VCS, local path,
    editable) carries ``skipped_reason`` and is reported, never dropped.
    """

    name: str
    raw_name: str
    specifier: str
    file: str
    line: int
    section: str
    span: Span | None = None
    pep440: str | None = None
    extras: tuple[str, ...] = ()
    marker: str | None = None
    hashes: tuple[str, ...] = ()
    skipped_reason: str | None = None
    # a locked project: the version its lockfile pins (what runs), the lockfile, and whether the manifest names it
    locked: str | None = None
    lockfile: str | None = None
    direct: bool = True
    # which ecosystem: "python" (the index), or a ref of another git repository: "actions", "pre-commit"
    # (``source`` is then where its tags live: a git URL, or ``owner/repo`` on the GitHub server)
    ecosystem: str = "python"
    source: str | None = None

    @property
    def specifier_set(self) -> SpecifierSet:
        text = self.specifier if self.pep440 is None else self.pep440
        try:
            return SpecifierSet(text)
        except InvalidSpecifier:
            return SpecifierSet()

    @property
    def pinned_version(self) -> Version | None:
        """The version of an exact pin (``==1.2.3`` or ``===1.2.3``, no wildcard), else None."""
        specs = list(self.specifier_set)
        if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
            return None
        try:
            return Version(specs[0].version)
        except InvalidVersion:
            return None


@dataclass(frozen=True)
class Problem:
    """Something in the input that could not be used: one line, naming the file and line or the URL."""

    file: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file or ""
        if self.file and self.line:
            where = f"{self.file}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class ParsedManifests:
    """What one manifest format found in a repository."""

    files: tuple[str, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    problems: tuple[Problem, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    requires_python: str | None = None


@dataclass(frozen=True)
class DistributionFile:
    """One file of one release, as the index lists it (PEP 691 / PEP 503)."""

    filename: str
    url: str
    version: Version
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    hashes: tuple[tuple[str, str], ...] = ()
    upload_time: datetime | None = None  # PEP 700 (JSON pages only): when the file was uploaded
    provenance: str | None = None  # PEP 740: the URL of the file's provenance object, when the index has one


@dataclass(frozen=True)
class ProjectPage:
    """Every release the index offers for one project."""

    name: str
    url: str
    files: tuple[DistributionFile, ...] = field(default_factory=tuple)

    def released(self, version: Version) -> datetime | None:
        """When ``version`` was released: the upload time of its earliest file (None when the index gives none)."""
        times = [f.upload_time for f in self.files if f.version == version and f.upload_time is not None]
        return min(times) if times else None

    def versions(self) -> dict[Version, tuple[DistributionFile, ...]]:
        by_version: dict[Version, list[DistributionFile]] = {}
        for f in self.files:
            by_version.setdefault(f.version, []).append(f)
        return {v: tuple(fs) for v, fs in by_version.items()}


@dataclass(frozen=True)
class Advisory:
    """A known vulnerability of a package version (from OSV): what a person needs to judge it and its fix."""

    id: str
    aliases: tuple[str, ...] = ()  # CVE ids and the like
    summary: str = ""
    severity: str = "UNKNOWN"  # LOW, MODERATE, HIGH, CRITICAL, or UNKNOWN
    fixed: tuple[str, ...] = ()  # the versions the advisory names as fixing it
    url: str = ""
    modified: str = ""


@dataclass(frozen=True)
class DependencyStatus:
    """Where one dependency stands against the index: the scan's row."""

    dependency: Dependency
    current: Version | None = None
    latest_allowed: Version | None = None
    latest: Version | None = None
    latest_compatible: Version | None = None
    update_kind: str | None = None
    python_compatible: bool | None = None
    skipped_reason: str | None = None
    advisories: tuple[Advisory, ...] = ()  # known vulnerabilities of ``current``
    fix_version: Version | None = None  # the lowest release that fixes every one of them, if any
    yanked: bool = False  # PEP 592: the pinned release was yanked from the index after it was chosen
    yanked_reason: str | None = None
    publisher: object | None = None  # jobs.index.provenance.PublisherCheck of ``latest`` against ``current``

    @property
    def vulnerable(self) -> bool:
        return bool(self.advisories)


@dataclass(frozen=True)
class Update:
    """One dependency moving to one new version, and the text that will say so in its manifest.

    ``new_specifier`` is in the manifest's own syntax (Poetry's caret stays a caret); ``None`` means the
    current specifier already admits ``new`` and the file needs no edit (range strategy ``auto``).
    ``hashes`` are the ``algo:hex`` values to write when the requirement carries ``--hash`` options.
    ``released`` is when ``new`` appeared on the index (PEP 700 upload time), None when the index does not say.
    """

    dependency: Dependency
    old: Version | None
    new: Version
    kind: str
    new_specifier: str | None
    hashes: tuple[str, ...] = ()
    released: datetime | None = None


@dataclass(frozen=True)
class FileEdit:
    """A manifest's text before and after a set of updates; written only after it has been verified."""

    file: str
    before: str
    after: str


@dataclass(frozen=True)
class TestReport:
    """What the repository's own tests said on a bump branch. ``outcome`` is only what the runner reported.

    outcome: ``passed``, ``failed``, ``error`` (set-up or runner failure), ``timed_out``, ``not_run``.
    """

    __test__ = False  # not a pytest test class

    outcome: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    failing: tuple[str, ...] = ()
    duration: float = 0.0
    output_tail: str = ""
    python_version: str | None = None
    command: str = ""
    reason: str | None = None


@dataclass(frozen=True)
class ProposedChange:
    """One pull request's worth of work: a group (or one package), its updates, branch and texts."""

    key: str
    updates: tuple[Update, ...]
    branch: str
    title: str = ""
    body: str = ""
    commit_message: str = ""
    edits: tuple[FileEdit, ...] = ()
    tests: TestReport | None = None
    security: tuple[Advisory, ...] = ()  # the known vulnerabilities this change fixes (a security update)
    yanked: str | None = None  # the change replaces a yanked pin: why it was yanked ("" when the index says not)


@dataclass(frozen=True)
class ChangelogSection:
    """One release's section of a changelog, as written.

    ``version`` is the version text the heading names (space-separated when one heading names two);
    ``heading`` is the heading line (markup kept for Markdown ATX and bold lines; for underlined or
    overlined headings, the title line, stripped); ``text`` runs from the heading to the last line
    before the next release heading; ``line`` is the 1-based line of the heading's title (for Sphinx
    directives, the ``:version:`` line); ``file`` names the file when notes are split over several.
    """

    version: str
    heading: str
    text: str
    line: int
    file: str | None = None


@dataclass(frozen=True)
class ChangelogFlag:
    """A line that announces something a reviewer must not miss: ``breaking``, ``removal``,
    ``deprecation`` or ``security``."""

    kind: str
    version: str
    text: str


@dataclass(frozen=True)
class ChangelogOrigin:
    """Where a changelog text came from: ``github-release``, ``github-file``, ``sdist``, ``description``
    or ``link``; ``url`` to show people, ``path`` inside the repository or the sdist."""

    kind: str
    url: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Changelog:
    """The part of a package's changelog between two versions, with its origin and flags.

    ``sections`` are in the changelog's own order; ``missing_versions`` are releases in (old, new] the
    index lists that have no section; ``origin`` is None when nothing was found (``note`` says so);
    ``repository`` is the upstream repository's web address when the metadata names one (issue and PR
    references in the text point there).
    """

    package: str
    old: str
    new: str
    origin: ChangelogOrigin | None = None
    sections: tuple[ChangelogSection, ...] = ()
    missing_versions: tuple[str, ...] = ()
    flags: tuple[ChangelogFlag, ...] = ()
    note: str | None = None
    repository: str | None = None


@dataclass(frozen=True)
class Commit:
    """One commit of a release range, as git has it."""

    sha: str
    subject: str
    body: str = ""
    author_name: str = ""
    author_email: str = ""
    date: str = ""  # ISO 8601


@dataclass(frozen=True)
class PullRef:
    """A pull request found in git history: a merge commit (``Merge pull request #N from …``) or a squash
    subject (``Title (#N)``)."""

    number: int
    sha: str
    title: str
    kind: str  # "merge" | "squash"
    author_email: str = ""
    body: str = ""  # the commit message's body (closing keywords; a squash keeps the PR's description there)
    coauthors: tuple[str, ...] = ()  # "Name <email>" of the Co-authored-by trailers of the PR's commits
    author_name: str = ""  # the git name of that author ("dependabot[bot]")
    branch: str | None = None  # the head branch, when the merge subject names it ("owner/dependabot/pip/x")


@dataclass(frozen=True)
class ReleaseRange:
    """What changed between two tags: the first-parent history ``previous..tag``."""

    tag: str
    previous_tag: str | None
    tag_sha: str
    previous_sha: str | None
    pulls: tuple[PullRef, ...] = ()
    direct_commits: tuple[Commit, ...] = ()
    contributors: tuple[str, ...] = ()  # git authors (name <email>) in the range, first appearance order
    new_contributors: tuple[str, ...] = ()  # of those, the ones with no commit before the range


@dataclass(frozen=True)
class PullInfo:
    """A pull request as the forge describes it (or as git alone can: title from the subject, no labels)."""

    number: int
    title: str
    url: str | None = None
    labels: tuple[str, ...] = ()
    author: str | None = None  # forge handle
    merged_at: str | None = None
    body: str = ""
    closes: tuple[int, ...] = ()  # issues it closes (closing keywords, linked issues)
    branch: str | None = None  # the head branch, when the forge says (how the bot's own PRs are recognised)


@dataclass(frozen=True)
class ReleaseItem:
    """One line of the release notes."""

    pr: int | None
    title: str
    category: str
    url: str | None = None
    issues: tuple[int, ...] = ()
    author: str | None = None
    breaking: bool = False
    sha: str | None = None  # for a direct commit
    # A dependency bump the bot itself made: (package, from, to) per package ("" when a version is unknown).
    # Such items stay one per PR here; the draft collapses them into a single "Dependencies" line.
    bumps: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class ReleaseNote:
    """The drafted release notes: categories of items, what was left out and why, who contributed."""

    tag: str
    previous_tag: str | None
    categories: tuple[tuple[str, tuple[ReleaseItem, ...]], ...] = ()
    excluded: tuple[tuple[int, str], ...] = ()  # (PR number, rule that left it out)
    direct_commits: tuple[str, ...] = ()
    excluded_commits: tuple[tuple[str, str], ...] = ()  # (direct commit sha, rule that left it out)
    contributors: tuple[str, ...] = ()
    new_contributors: tuple[str, ...] = ()
    compare_url: str | None = None
    text: str = ""
    bots: tuple[str, ...] = ()  # bot accounts whose PRs are in the notes, credited apart (credit_bots)

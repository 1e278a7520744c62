"""Choose versions: what a dependency resolves to now, the newest it allows, the newest there is, and the kind of jump."""

from __future__ import annotations

from typing import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from jobs.models import Dependency, DependencyStatus, DistributionFile, ProjectPage

UPDATE_KINDS = ("patch", "minor", "major", "prerelease")


def update_kind(old: Version, new: Version) -> str | None:
    """``patch``, ``minor`` or ``major`` for a move from ``old`` to ``new`` (None if not newer): the size of the
    version jump, for pre-releases too (``21.6b0 -> 21.12b0`` is a minor, ``1.0rc1 -> 1.0`` a patch)."""
    if new <= old:
        return None
    if new.epoch != old.epoch:
        return "major"
    a = old.release + (0,) * (3 - len(old.release))
    b = new.release + (0,) * (3 - len(new.release))
    if a[0] != b[0]:
        return "major"
    if a[1] != b[1]:
        return "minor"
    return "patch"


def prereleases_wanted(current: Version | None, finals: Iterable[Version], *, opted_in: bool) -> bool:
    """Whether pre-releases may be proposed at all: the user opted in, or the current pin is itself a
    pre-release and no final release is newer than it (``2.0b3`` while 2.0 is not out yet)."""
    if opted_in:
        return True
    return current is not None and current.is_prerelease and not any(v > current for v in finals)


def candidate_versions(versions: Iterable[Version], *, current: Version | None, opted_in: bool) -> list[Version]:
    """The one rule for pre-releases, used by the scan, the planner and the changelog range: final releases are
    always candidates; a pre-release is one only when pre-releases are wanted (``prereleases_wanted``) and it is
    newer than every final release, so an alpha never beats a final that is at least as new."""
    versions = list(versions)
    finals = [v for v in versions if not v.is_prerelease]
    if not prereleases_wanted(current, finals, opted_in=opted_in):
        return finals
    newest_final = max(finals, default=None)
    return finals + [v for v in versions if v.is_prerelease and (newest_final is None or v > newest_final)]


def lowest_python(requires_python: str | None) -> Version | None:
    """The oldest Python that a project's ``requires-python`` admits (minor versions, plus any it names)."""
    if not requires_python:
        return None
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return None
    candidates = {Version(f"3.{minor}") for minor in range(0, 30)} | {Version("2.7")}
    candidates |= {Version(s.version) for s in spec if not s.version.endswith(".*")}
    admitted = sorted(v for v in candidates if spec.contains(v, prereleases=True))
    return admitted[0] if admitted else None


def supports_python(files: tuple[DistributionFile, ...], python: Version | None) -> bool:
    """Whether any of a release's files may be installed on ``python`` (an invalid marker counts as yes, as in pip)."""
    if python is None:
        return True
    for f in files:
        if not f.requires_python:
            return True
        try:
            if SpecifierSet(f.requires_python).contains(python, prereleases=True):
                return True
        except InvalidSpecifier:
            return True
    return False


def assess(
    dependency: Dependency, page: ProjectPage, *, python: Version | None, allow_prereleases: bool = False
) -> DependencyStatus:
    """Where ``dependency`` stands against the releases on ``page``, for a project running on ``python``.

    PEP 592: a release whose files are all yanked is ignored, except by an exact pin to it.
    Pre-releases follow ``candidate_versions`` (opting in: config, or a specifier that names one).
    """
    spec = dependency.specifier_set
    pinned = dependency.pinned_version
    if dependency.locked is not None:  # a lockfile says what runs: that is the current version
        try:
            pinned = Version(dependency.locked)
        except ValueError:
            pass
    opted_in = allow_prereleases or bool(spec.prereleases and not (pinned and pinned.is_prerelease))

    releases: dict[Version, tuple[DistributionFile, ...]] = {}
    for version, files in page.versions().items():
        live = tuple(f for f in files if not f.yanked)
        if live:
            releases[version] = live
        elif version == pinned:
            releases[version] = files
    candidates = candidate_versions(releases, current=pinned, opted_in=opted_in)
    pre = any(v.is_prerelease for v in candidates)
    if not candidates:
        return DependencyStatus(dependency, current=pinned, skipped_reason="no usable release on the index")

    latest = max(candidates)
    compatible = [v for v in candidates if supports_python(releases[v], python)]
    latest_compatible = max(compatible) if compatible else None
    # an exact pin to a pre-release admits that release, though it is no longer a candidate to move to
    pool = compatible + ([pinned] if pinned in releases and pinned not in compatible else [])
    allowed = [v for v in pool if spec.contains(v, prereleases=pre or v == pinned)]
    latest_allowed = max(allowed) if allowed else None
    current = pinned if pinned is not None else latest_allowed
    reason = None
    yanked_files = page.versions().get(pinned, ()) if pinned is not None else ()
    yanked = bool(yanked_files) and all(f.yanked for f in yanked_files) and dependency.locked is None
    yanked_reason = next((f.yanked_reason for f in yanked_files if f.yanked_reason), None) if yanked else None
    if current is None:
        reason = f"no release satisfies '{dependency.specifier}'"
    elif pinned is not None and pinned not in releases and pinned not in page.versions():
        reason = f"the pinned version {pinned} is not on the index"
    return DependencyStatus(
        dependency,
        current=current,
        latest_allowed=latest_allowed,
        latest=latest,
        latest_compatible=latest_compatible,
        update_kind=update_kind(current, latest) if current is not None else None,
        python_compatible=supports_python(releases[latest], python),
        skipped_reason=reason,
        yanked=yanked,
        yanked_reason=yanked_reason,
    )

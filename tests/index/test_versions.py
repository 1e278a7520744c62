"""Version choice: current, newest allowed, newest, update kind, yanked, requires-python, pre-releases."""

from __future__ import annotations

import pytest
from packaging.version import Version

from jobs.index.versions import assess, lowest_python, update_kind
from jobs.models import Dependency, DistributionFile, ProjectPage


def dep(specifier: str, name: str = "alpha") -> Dependency:
    return Dependency(name=name, raw_name=name, specifier=specifier, file="requirements.txt", line=1,
                      section="requirements")


def page(*entries: tuple[str, dict]) -> ProjectPage:
    files = []
    for version, extra in entries:
        files.append(DistributionFile(filename=f"alpha-{version}.tar.gz", url=f"http://x/alpha-{version}.tar.gz",
                                      version=Version(version), **extra))
    return ProjectPage("alpha", "http://x/simple/alpha/", tuple(files))


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("1.2.3", "1.2.4", "patch"),
        ("1.2.3", "1.3.0", "minor"),
        ("1.2.3", "2.0.0", "major"),
        ("1.2", "1.2.1", "patch"),
        ("1", "1.1", "minor"),
        ("1.2.3", "1.3.0rc1", "minor"),  # a pre-release has the kind of its version jump
        ("21.6b0", "21.12b0", "minor"),
        ("1.0rc1", "1.0", "patch"),
        ("1.0rc1", "1.0rc2", "patch"),
        ("1.2.3", "1.2.3", None),
        ("1.2.3", "1.2.2", None),
        ("2024.1.1", "2025.1.0", "major"),
        ("1.0", "1!0.1", "major"),
        ("1.2.3", "1.2.3.post1", "patch"),
    ],
)
def test_update_kind_compares_release_segments(old: str, new: str, kind: str | None) -> None:
    assert update_kind(Version(old), Version(new)) == kind


def test_pin_is_current_and_latest_is_newest_final() -> None:
    status = assess(dep("==1.0.0"), page(("1.0.0", {}), ("1.1.0", {}), ("2.0.0", {}), ("2.1.0rc1", {})),
                    python=Version("3.11"))
    assert (str(status.current), str(status.latest_allowed), str(status.latest)) == ("1.0.0", "1.0.0", "2.0.0")
    assert status.update_kind == "major"
    assert status.python_compatible is True


def test_range_resolves_to_newest_it_admits() -> None:
    status = assess(dep(">=1.0,<2"), page(("1.0.0", {}), ("1.1.0", {}), ("2.0.0", {})), python=Version("3.11"))
    assert str(status.current) == "1.1.0"
    assert str(status.latest_allowed) == "1.1.0"
    assert status.update_kind == "major"


def test_up_to_date_range_has_no_update_kind() -> None:
    status = assess(dep(">=1.0"), page(("1.0.0", {}), ("2.0.0", {})), python=Version("3.11"))
    assert str(status.current) == "2.0.0"
    assert status.update_kind is None


def test_yanked_release_is_ignored_unless_pinned_exactly() -> None:
    releases = page(("1.0.0", {}), ("1.1.0", {"yanked": True, "yanked_reason": "broken"}))
    ranged = assess(dep(">=1.0"), releases, python=Version("3.11"))
    assert str(ranged.latest) == "1.0.0"
    pinned = assess(dep("==1.1.0"), releases, python=Version("3.11"))
    assert str(pinned.current) == "1.1.0"
    assert str(pinned.latest) == "1.1.0"
    assert pinned.update_kind is None


def test_requires_python_limits_allowed_but_not_latest() -> None:
    releases = page(("1.0.0", {}), ("1.1.0", {}), ("2.0.0", {"requires_python": ">=3.12"}))
    status = assess(dep(">=1.0"), releases, python=Version("3.9"))
    assert str(status.latest) == "2.0.0"
    assert status.python_compatible is False
    assert str(status.latest_allowed) == "1.1.0"
    assert str(status.latest_compatible) == "1.1.0"


def test_prereleases_only_when_current_is_one_or_config_allows() -> None:
    releases = page(("1.0.0", {}), ("1.1.0rc1", {}))
    assert str(assess(dep("==1.0.0"), releases, python=None).latest) == "1.0.0"
    assert str(assess(dep("==1.0.0"), releases, python=None, allow_prereleases=True).latest) == "1.1.0rc1"
    on_pre = assess(dep("==1.1.0rc1"), page(("1.1.0rc1", {}), ("1.1.0rc2", {})), python=None)
    assert str(on_pre.latest) == "1.1.0rc2"
    assert on_pre.update_kind == "patch"


def test_range_no_release_satisfies_is_a_skip_reason() -> None:
    status = assess(dep("<1"), page(("1.0.0", {})), python=None)
    assert status.current is None
    assert status.skipped_reason == "no release satisfies '<1'"


def test_only_yanked_releases_means_nothing_usable() -> None:
    status = assess(dep(">=1"), page(("1.0.0", {"yanked": True})), python=None)
    assert status.skipped_reason == "no usable release on the index"


@pytest.mark.parametrize(
    ("spec", "lowest"),
    [(">=3.8", "3.8"), (">=3.8.1", "3.8.1"), ("~=3.10", "3.10"), (">=2.7,!=3.0.*,!=3.1.*", "2.7"), ("", None)],
)
def test_lowest_python_of_requires_python(spec: str, lowest: str | None) -> None:
    found = lowest_python(spec)
    assert (str(found) if found else None) == lowest

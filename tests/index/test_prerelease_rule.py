"""One pre-release rule for the scan and the planner, on real version histories.

Finals are preferred; a pre-release is a candidate only when it is newer than every final release, and only
when the user opted in or the current pin is itself a pre-release with no final release newer than it. A
pre-release target has the kind of its version jump, and the kinds filter it like any other.

The histories are real release lists of the package index (copied here, not fetched):
* black: betas only until 22.1.0, then finals with an alpha before some majors (24.1a1, 26.1a1);
* django: as on 2025-11-20, rc/beta/alpha of 6.0 after the newest final 5.2.8;
* python-dateutil: the newest release is a post-release (2.9.0.post0), as on 2025-01-01.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from jobs import config as config_module
from jobs.index.versions import assess
from jobs.models import Dependency, DistributionFile, ProjectPage
from jobs.planner import choose

BLACK = ("26.10.1 26.10.0 26.5.1 26.5.0 26.3.1 26.3.0 26.1.0 26.1a1 25.12.0 25.11.0 25.9.0 25.1.0 24.10.0 24.8.0 "
         "24.4.2 24.4.1 24.4.0 24.3.0 24.2.0 24.1.1 24.1.0 24.1a1 23.12.1 23.12.0 23.11.0 23.10.1 23.10.0 23.9.1 "
         "23.9.0 23.7.0 23.3.0 23.1.0 23.1a1 22.12.0 22.10.0 22.8.0 22.6.0 22.3.0 22.1.0 21.12b0 21.11b1 21.10b0 "
         "21.9b0 21.8b0 21.7b0 21.6b0 21.5b2 21.5b1 21.5b0 21.4b2 21.4b1 21.4b0 20.8b1 20.8b0 19.10b0 19.3b0 "
         "18.9b0 18.6b4").split()
# black as it stood in December 2021: betas only, no final yet
BLACK_2021 = [v for v in BLACK if Version(v) <= Version("21.12b0")]
DJANGO = ("6.0rc1 6.0b1 6.0a1 5.2.8 5.2.7 5.2.6 5.2.5 5.2.4 5.2.3 5.2.2 5.2.1 5.2 5.2rc1 5.2b1 5.2a1 5.1.14 "
          "5.1.13 5.1.12 5.1 5.0.14 5.0 4.2.26 4.2.25 4.2").split()
DATEUTIL = "2.9.0.post0 2.9.0 2.8.2 2.8.1 2.8.0 2.7.5 2.7.0 2.6.1 2.6.0 2.5.3 2.4.2 2.4.1.post1 2.4.1".split()

ALL_KINDS = ["patch", "minor", "major"]


def page(name: str, versions: list[str]) -> ProjectPage:
    files = tuple(DistributionFile(f"{name}-{v}.tar.gz", f"http://127.0.0.1/{name}-{v}.tar.gz", Version(v),
                                   hashes=(("sha256", "0" * 64),)) for v in versions)
    return ProjectPage(name, f"http://127.0.0.1/simple/{name}/", files)


def dep(name: str, spec: str) -> Dependency:
    return Dependency(name=name, raw_name=name, specifier=spec, file="requirements.txt", line=1,
                      section="requirements")


CASES = [
    # id, package, history, specifier, kinds, prereleases opt-in -> scan latest, scan kind, proposed (lane, version)
    ("black-beta-pin-minor-only", "black", BLACK, "==21.6b0", ["patch", "minor"], False,
     "26.10.1", "major", []),
    ("black-beta-pin-all-kinds", "black", BLACK, "==21.6b0", ALL_KINDS, False,
     "26.10.1", "major", [("major", "26.10.1")]),
    ("black-beta-pin-opted-in", "black", BLACK, "==21.6b0", ALL_KINDS, True,
     "26.10.1", "major", [("major", "26.10.1")]),  # no alpha is newer than every final: finals win
    ("black-2021-beta-pin-no-final-yet", "black", BLACK_2021, "==21.6b0", ["patch", "minor"], False,
     "21.12b0", "minor", [("minor", "21.12b0")]),
    ("black-final-pin-skips-alpha", "black", BLACK, "==24.1.0", ALL_KINDS, True,
     "26.10.1", "major", [("minor", "24.10.0"), ("major", "26.10.1")]),
    ("django-final-pin-no-opt-in", "django", DJANGO, "==5.2.6", ALL_KINDS, False,
     "5.2.8", "patch", [("minor", "5.2.8")]),
    ("django-final-pin-opted-in-majors-off", "django", DJANGO, "==5.2.6", ["patch", "minor"], True,
     "6.0rc1", "major", [("minor", "5.2.8")]),
    ("django-final-pin-opted-in", "django", DJANGO, "==5.2.6", ALL_KINDS, True,
     "6.0rc1", "major", [("minor", "5.2.8"), ("major", "6.0rc1")]),
    ("django-rc-pin-moves-to-final", "django", DJANGO, "==5.2rc1", ALL_KINDS, False,
     "5.2.8", "patch", [("minor", "5.2.8")]),  # 5.2 final exists: the rc pin is not a reason to stay on rcs
    ("django-beta-pin-no-final-newer", "django", DJANGO, "==6.0b1", ["patch", "minor"], False,
     "6.0rc1", "patch", [("minor", "6.0rc1")]),
    ("dateutil-post-is-a-patch", "python-dateutil", DATEUTIL, "==2.8.2", ["patch", "minor"], False,
     "2.9.0.post0", "minor", [("minor", "2.9.0.post0")]),
    ("dateutil-post-from-its-final", "python-dateutil", DATEUTIL, "==2.9.0", ["patch"], False,
     "2.9.0.post0", "patch", [("minor", "2.9.0.post0")]),
]


@pytest.mark.parametrize(("name", "history", "spec", "kinds", "opted_in", "latest", "kind", "proposed"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_rule_for_scan_and_planner(tmp_path: Path, name: str, history: list[str], spec: str, kinds: list[str],
                                       opted_in: bool, latest: str, kind: str, proposed: list[tuple[str, str]]) -> None:
    (tmp_path / "nightcrew.toml").write_text(f"[updates]\nkinds = {kinds!r}\n".replace("'", '"'))
    settings = config_module.load(repo=tmp_path).updates
    releases = page(name, history)
    status = assess(dep(name, spec), releases, python=None, allow_prereleases=opted_in)
    assert (str(status.latest), status.update_kind) == (latest, kind)
    chosen, _ = choose([status], {name: releases}, settings, python=None, prereleases=opted_in)
    assert sorted((lane, str(u.new)) for u, lane in chosen) == sorted(proposed)
    # at most one in-major and one major proposal per manifest entry, the major only when majors are allowed
    lanes = [lane for _, lane in chosen]
    assert len(lanes) == len(set(lanes))
    assert "major" not in lanes or "major" in kinds
    # never a pre-release when a final at least as new is on the index
    finals = [Version(v) for v in history if not Version(v).is_prerelease]
    for update, _ in chosen:
        assert not update.new.is_prerelease or all(update.new > f for f in finals)


def test_candidates_never_put_an_alpha_above_a_newer_final() -> None:
    from jobs.index.versions import candidate_versions

    versions = [Version(v) for v in BLACK]
    for current in (Version("21.6b0"), Version("24.1.0")):
        chosen = candidate_versions(versions, current=current, opted_in=True)
        assert Version("24.1a1") not in chosen and Version("26.1a1") not in chosen
        assert Version("26.10.1") in chosen


def test_a_per_package_rule_opts_in(tmp_path: Path) -> None:
    (tmp_path / "nightcrew.toml").write_text(
        '[updates]\nkinds = ["patch", "minor", "major"]\n'
        '[[updates.packages]]\npatterns = ["django"]\nprereleases = true\n')
    settings = config_module.load(repo=tmp_path).updates
    releases = page("django", DJANGO)
    status = assess(dep("django", "==5.2.6"), releases, python=None)
    chosen, _ = choose([status], {"django": releases}, settings, python=None, prereleases=False)
    assert sorted((lane, str(u.new)) for u, lane in chosen) == [("major", "6.0rc1"), ("minor", "5.2.8")]

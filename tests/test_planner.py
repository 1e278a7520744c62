"""Choosing updates and grouping them: kinds, majors apart, ignore rules, per-package rules, groups, hashes."""

from __future__ import annotations

from pathlib import Path

from packaging.version import Version

from jobs import config as config_module
from jobs.index.versions import assess
from jobs.models import Dependency, DistributionFile, ProjectPage
from jobs.planner import choose, group


def settings(tmp_path: Path, text: str = ""):
    (tmp_path / "nightcrew.toml").write_text(text)
    return config_module.load(repo=tmp_path).updates


def page(name: str, *versions: str, sha: bool = True, python: dict[str, str] | None = None) -> ProjectPage:
    files = tuple(
        DistributionFile(f"{name}-{v}.tar.gz", f"http://127.0.0.1/{name}-{v}.tar.gz", Version(v),
                         requires_python=(python or {}).get(v), hashes=(("sha256", f"{v}".ljust(8, "0")),) if sha else ())
        for v in versions)
    return ProjectPage(name, f"http://127.0.0.1/simple/{name}/", files)


def dep(name: str, spec: str, *, hashes: tuple[str, ...] = (), line: int = 1) -> Dependency:
    return Dependency(name=name, raw_name=name, specifier=spec, file="requirements.txt", line=line,
                      section="requirements", hashes=hashes)


def plan(tmp_path: Path, text: str, deps_pages: list[tuple[Dependency, ProjectPage]]):
    rules = settings(tmp_path, text)
    statuses = [assess(d, p, python=Version("3.11")) for d, p in deps_pages]
    pages = {p.name: p for _, p in deps_pages}
    return choose(statuses, pages, rules, python=Version("3.11"), prereleases=False), rules


def summary(chosen) -> list[tuple[str, str, str, str]]:
    return [(u.dependency.name, str(u.new), lane, u.new_specifier or "") for u, lane in chosen]


def test_default_kinds_take_newest_minor_and_leave_majors(tmp_path: Path) -> None:
    (chosen, skipped), _ = plan(tmp_path, "", [(dep("alpha", "==1.0.0"), page("alpha", "1.0.0", "1.0.1", "1.2.0", "2.0.0"))])
    assert summary(chosen) == [("alpha", "1.2.0", "minor", "==1.2.0")]
    assert skipped == []


def test_major_kind_gives_a_second_separate_update(tmp_path: Path) -> None:
    (chosen, _), rules = plan(tmp_path, '[updates]\nkinds = ["patch", "minor", "major"]\n',
                              [(dep("alpha", "==1.0.0"), page("alpha", "1.0.0", "1.2.0", "2.0.0", "3.1.0"))])
    assert summary(chosen) == [("alpha", "3.1.0", "major", "==3.1.0"), ("alpha", "1.2.0", "minor", "==1.2.0")]
    branches = [p.change.branch for p in group(chosen, rules, "nightcrew/")]
    assert branches == ["nightcrew/alpha-1.2.0", "nightcrew/alpha-3.1.0"]  # minor first, major on its own


def test_ignore_rule_by_versions_and_kinds(tmp_path: Path) -> None:
    text = ('[updates]\nkinds = ["patch", "minor", "major"]\n'
            '[[updates.ignore]]\npackage = "alp*"\nversions = ">=1.2"\nkinds = ["minor"]\n')
    (chosen, _), _ = plan(tmp_path, text, [(dep("alpha", "==1.0.0"), page("alpha", "1.0.0", "1.0.5", "1.2.0", "2.0.0"))])
    assert summary(chosen) == [("alpha", "2.0.0", "major", "==2.0.0"), ("alpha", "1.0.5", "minor", "==1.0.5")]


def test_per_package_rule_first_match_wins(tmp_path: Path) -> None:
    text = ('[[updates.packages]]\npatterns = ["beta"]\nkinds = ["patch"]\nrange_strategy = "bump"\n'
            '[[updates.packages]]\npatterns = ["*"]\nkinds = ["major"]\n')
    (chosen, _), _ = plan(tmp_path, text, [
        (dep("beta", ">=1.0,<1.0.2"), page("beta", "1.0.0", "1.0.1", "1.0.3", "1.4.0")),
        (dep("gamma", "==1.0"), page("gamma", "1.0", "1.1", "2.0")),
    ])
    (beta, beta_lane), (gamma, gamma_lane) = chosen
    assert (str(beta.old), str(beta.new), beta_lane) == ("1.0", "1.0.3", "minor")  # patch only, from the floor
    assert beta.new_specifier.startswith(">=1.0.3")  # bump: the lower bound follows
    assert (str(gamma.new), gamma_lane, gamma.new_specifier) == ("2.0", "major", "==2.0")


def test_auto_strategy_leaves_ranges_that_already_admit_the_version(tmp_path: Path) -> None:
    (chosen, skipped), _ = plan(tmp_path, "", [(dep("alpha", ">=1.0,<2"), page("alpha", "1.0.0", "1.5.0"))])
    assert chosen == [] and skipped == []


def test_python_incompatible_versions_are_not_proposed(tmp_path: Path) -> None:
    (chosen, _), _ = plan(tmp_path, "", [(dep("alpha", "==1.0.0"),
                                          page("alpha", "1.0.0", "1.1.0", "1.2.0", python={"1.2.0": ">=3.13"}))])
    assert summary(chosen) == [("alpha", "1.1.0", "minor", "==1.1.0")]


def test_hash_pinned_requirement_gets_the_new_versions_hashes_or_is_skipped(tmp_path: Path) -> None:
    (chosen, _), _ = plan(tmp_path, "", [(dep("alpha", "==1.0.0", hashes=("sha256:aa",)), page("alpha", "1.0.0", "1.1.0"))])
    assert chosen[0][0].hashes == ("sha256:1.1.0000",)
    (chosen, skipped), _ = plan(tmp_path, "", [(dep("alpha", "==1.0.0", hashes=("sha256:aa",)),
                                                page("alpha", "1.0.0", "1.1.0", sha=False))])
    assert chosen == []
    assert skipped[0].reason.startswith("the index gives no sha256") and skipped[0].file == "requirements.txt"


def test_groups_collect_matching_updates_into_one_change(tmp_path: Path) -> None:
    text = ('[updates]\nkinds = ["patch", "minor", "major"]\n'
            '[[updates.groups]]\nname = "patches"\npatterns = ["*"]\nkinds = ["patch"]\n')
    (chosen, _), rules = plan(tmp_path, text, [
        (dep("alpha", "==1.0.0"), page("alpha", "1.0.0", "1.0.1")),
        (dep("beta", "==2.0.0", line=2), page("beta", "2.0.0", "2.0.4")),
        (dep("gamma", "==1.0", line=3), page("gamma", "1.0", "1.1")),
    ])
    planned = group(chosen, rules, "nightcrew/")
    grouped = [p for p in planned if p.group == "patches"]
    assert len(grouped) == 1
    assert {u.dependency.name for u in grouped[0].change.updates} == {"alpha", "beta"}
    assert grouped[0].change.branch.startswith("nightcrew/patches-") and grouped[0].change.key == "group:patches"
    assert [p.change.branch for p in planned if p.group is None] == ["nightcrew/gamma-1.1"]
    again = group(chosen, rules, "nightcrew/")  # the same updates always give the same branch
    assert [p.change.branch for p in again] == [p.change.branch for p in planned]


def test_bump_strategy_raises_the_floor_of_a_range_that_admits_newer_releases(tmp_path: Path) -> None:
    (chosen, _), _ = plan(tmp_path, '[updates]\nrange_strategy = "bump"\n',
                          [(dep("alpha", ">=1.0"), page("alpha", "1.0.0", "1.5.0"))])
    assert summary(chosen) == [("alpha", "1.5.0", "minor", ">=1.5.0")]
    (chosen, _), _ = plan(tmp_path, '[updates]\nrange_strategy = "auto"\n',
                          [(dep("alpha", ">=1.0"), page("alpha", "1.0.0", "1.5.0"))])
    assert chosen == []  # auto leaves a range that admits the release alone


def test_prereleases_enabled_for_a_package_are_proposed(tmp_path: Path) -> None:
    text = '[[updates.packages]]\npatterns = ["Alpha"]\nprereleases = true\n'
    (chosen, _), _ = plan(tmp_path, text, [(dep("alpha", "==1.0.0"), page("alpha", "1.0.0", "1.1.0rc1"))])
    assert summary(chosen) == [("alpha", "1.1.0rc1", "minor", "==1.1.0rc1")]
    (chosen, _), _ = plan(tmp_path, "", [(dep("alpha", "==1.1.0rc1"), page("alpha", "1.1.0rc1", "1.1.0rc2"))])
    assert summary(chosen) == [("alpha", "1.1.0rc2", "minor", "==1.1.0rc2")]  # on a pre-release already


def test_rejected_versions_are_not_proposed_even_in_a_group(tmp_path: Path) -> None:
    text = '[[updates.groups]]\nname = "all"\npatterns = ["*"]\n'
    rules = settings(tmp_path, text)
    deps_pages = [(dep("alpha", "==1.0.0"), page("alpha", "1.0.0", "1.1.0")),
                  (dep("beta", "==1.0.0", line=2), page("beta", "1.0.0", "1.0.1"))]
    statuses = [assess(d, p, python=Version("3.11")) for d, p in deps_pages]
    chosen, skipped = choose(statuses, {p.name: p for _, p in deps_pages}, rules, python=Version("3.11"),
                             prereleases=False, rejected={("alpha", "1.1.0"): 7})
    assert summary(chosen) == [("beta", "1.0.1", "minor", "==1.0.1")]
    assert skipped[0].reason == "#7 was closed without merging: this version is not proposed again"


def test_patterns_match_normalized_names(tmp_path: Path) -> None:
    text = '[[updates.ignore]]\npackage = "Zope_Interface"\n'
    (chosen, _), _ = plan(tmp_path, text, [(dep("zope-interface", "==1.0"), page("zope-interface", "1.0", "1.1"))])
    assert chosen == []

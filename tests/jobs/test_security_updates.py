"""Security updates end to end: a vulnerable pin gets one PR to the lowest fixing release past the kind filters and
the PR limits, labelled, with the advisories on top; ignore rules still apply and say so; a planned update that
reaches the fix carries the advisories instead of a second PR. The OSV stand-in serves the advisories."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from jobs.cli import cli
from tests.support.osv_server import OsvStandIn, advisory



def test_a_vulnerable_pin_gets_one_security_pr_to_the_lowest_fix_past_kinds_and_limits(
        osv: OsvStandIn, project, tmp_path: Path) -> None:
    from tests.jobs.conftest import V11, by_branch, run_updates

    osv.add(advisory("GHSA-math-0001", "mathlib", fixed=["1.1.0"], aliases=("CVE-2026-0001",), severity="CRITICAL",
                     summary="Integer | overflow in add() reported by @mallory"))
    project.publish("1.2.0", V11)
    config = project.work / "nightcrew.toml"
    # no kind allowed and no room for a PR: only a security update may still go through
    config.write_text(config.read_text().replace('kinds = ["patch", "minor", "major"]',
                                                 "kinds = []\nmax_prs_per_run = 0\nmax_open_prs = 0"))
    from tests.jobs.conftest import git

    git(project.work, "commit", "-qam", "strict")
    git(project.work, "push", "-q", "origin", "main")
    code, data, err = run_updates(project)
    assert code == 0, err
    changes = by_branch(data)
    assert list(changes) == ["nightcrew/mathlib-1.1.0"]  # the lowest fixing release, not 1.2.0 or 2.0.0
    change = changes["nightcrew/mathlib-1.1.0"]
    assert change["action"] == "opened" and change["tests"]["outcome"] == "passed"
    assert change["security"] == [{"id": "GHSA-math-0001", "aliases": ["CVE-2026-0001"], "severity": "CRITICAL"}]
    listed = CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "--format", "json"])
    [pr] = json.loads(listed.stdout)
    assert "security" in pr["labels"]
    body = (project.work / pr["body_path"]).read_text()
    assert body.index("[!CAUTION]") < body.index("| package | from | to |")
    assert "| [GHSA-math-0001](https://github.com/advisories/GHSA-math-0001) | CVE-2026-0001 | CRITICAL | " \
           "Integer \\| overflow in add() reported by @<!-- -->mallory | 1.1.0 |" in body
    # a second run finds the same PR: no duplicate
    code, data, _ = run_updates(project)
    assert [c["action"] for c in data["changes"]] == ["unchanged"]
    # the report follows the advisory from the runs' records: open, its fix proposed, not merged yet
    shown = CliRunner().invoke(cli, ["report", "--repo", str(project.work), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    security = json.loads(shown.stdout)["security"]
    assert [(a["package"], a["ids"], a["fix_version"]) for a in security["open_advisories"]] == [
        ("mathlib", ["GHSA-math-0001"], "1.1.0")]
    assert (security["fixed"], security["median_hours_to_fix"]) == (0, None)


def test_an_ignored_vulnerable_dependency_is_reported_as_such(osv: OsvStandIn, project) -> None:
    from tests.jobs.conftest import git, run_updates

    osv.add(advisory("GHSA-math-0002", "mathlib", fixed=["1.1.0"]))
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text() + '\n[[updates.ignore]]\npackage = "mathlib"\n')
    git(project.work, "commit", "-qam", "ignore mathlib")
    git(project.work, "push", "-q", "origin", "main")
    code, data, _ = run_updates(project, "--dry-run")
    assert data["changes"] == []
    [skip] = [s for s in data["not_proposed"] if s["name"] == "mathlib"]
    assert skip["reason"] == "vulnerable (GHSA-math-0002), ignored by rule package = 'mathlib'"


def test_a_planned_update_that_reaches_the_fix_carries_the_advisories_instead_of_a_second_pr(
        osv: OsvStandIn, project) -> None:
    from tests.jobs.conftest import by_branch, run_updates

    osv.add(advisory("GHSA-math-0003", "mathlib", fixed=["1.1.0"], severity="LOW"))
    code, data, err = run_updates(project, "--dry-run")
    changes = by_branch(data)
    assert set(changes) == {"nightcrew/mathlib-1.1.0", "nightcrew/mathlib-2.0.0"}
    assert [a["id"] for a in changes["nightcrew/mathlib-1.1.0"]["security"]] == ["GHSA-math-0003"]
    assert changes["nightcrew/mathlib-2.0.0"]["security"] == []  # the major lane is no security fix of its own
    assert data["changes"][0]["branch"] == "nightcrew/mathlib-1.1.0"  # security first


def test_the_dashboard_lists_security_updates_and_ignored_vulnerabilities(osv: OsvStandIn, project) -> None:
    from tests.jobs.conftest import git, run_updates

    osv.add(advisory("GHSA-math-0004", "mathlib", fixed=["1.1.0"]))
    osv.add(advisory("GHSA-math-0005", "mathlib", fixed=["2.0.0"], introduced="1.0.0"))
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text() + '\n[dashboard]\nenabled = true\n\n[[updates.ignore]]\n'
                      'package = "mathlib"\nversions = ">=2"\n')
    git(project.work, "commit", "-qam", "dashboard, ignore 2.x")
    git(project.work, "push", "-q", "origin", "main")
    code, data, err = run_updates(project)
    assert code == 0, err
    dashboard = next((project.work / ".nightcrew").glob("dashboard*.md")).read_text()
    section = dashboard.split("## Security", 1)[1].split("## Failing", 1)[0]
    # 1.1.0 fixes 0004 but not 0005 (fixed in 2.0.0): the lowest release fixing both is 2.0.0, which is ignored
    assert "vulnerable (GHSA-math-0004, GHSA-math-0005), ignored by rule" in section

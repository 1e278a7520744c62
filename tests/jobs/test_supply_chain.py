"""Supply-chain guards end to end: releases younger than their cooldown wait (the newest release old enough is
proposed instead, what waits is listed with its date), security fixes are exempt, an index without upload times
is said once, and a yanked pin is replaced whatever the kinds say. The loopback index serves PEP 700 upload
times and PEP 592 yanks; the clock is controlled with time-machine."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import time_machine
from click.testing import CliRunner

from jobs.cli import cli
from tests.jobs.conftest import V1, V11, Project, by_branch, git, run_updates
from tests.support.distbuild import build_wheel
from tests.support.osv_server import OsvStandIn, advisory

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def day(n: int) -> datetime:
    """``n`` days before NOW."""
    return datetime.fromtimestamp(NOW.timestamp() - n * 86400, tz=timezone.utc)


def republish(project: Project, releases: dict[str, tuple[str, datetime | None, bool | str]]) -> None:
    """mathlib's releases afresh: version -> (source, upload time, yanked)."""
    for version, (source, uploaded, yanked) in releases.items():
        wheel = build_wheel(project.dists, "mathlib", version, modules={"mathlib/__init__.py": source})
        project.index.add(wheel, upload_time=uploaded, yanked=yanked)


def configure(project: Project, extra: str) -> None:
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace('kinds = ["patch", "minor", "major"]',
                                                 'kinds = ["patch", "minor"]') + extra)
    git(project.work, "commit", "-qam", "config")
    git(project.work, "push", "-q", "origin", "main")


@time_machine.travel(NOW, tick=False)
def test_a_release_inside_its_cooldown_waits_and_the_newest_old_enough_is_proposed(project: Project) -> None:
    republish(project, {"1.0.0": (V1, day(60), False), "1.1.0": (V11, day(10), False),
                        "1.2.0": (V11, day(1), False)})
    configure(project, "\n[updates.cooldown]\ndefault_days = 3\nminor_days = 5\n")
    code, data, err = run_updates(project, "--dry-run")
    assert code == 0, err
    assert list(by_branch(data)) == ["nightcrew/mathlib-1.1.0"]  # 1.2.0 is one day old
    assert data["waiting"] == [{"name": "mathlib", "version": "1.2.0", "released": "2026-12-06T12:00:00Z",
                                "eligible_from": "2026-12-11T12:00:00Z", "rule": "updates.cooldown.minor_days = 5",
                                "file": "requirements.txt", "line": 2}]


@time_machine.travel(NOW, tick=False)
def test_security_fixes_skip_the_cooldown(project: Project, osv: OsvStandIn) -> None:
    republish(project, {"1.0.0": (V1, day(60), False), "1.1.0": (V11, day(0), False)})
    osv.add(advisory("GHSA-cool-0001", "mathlib", fixed=["1.1.0"]))
    configure(project, "\n[updates.cooldown]\ndefault_days = 7\n")
    code, data, err = run_updates(project, "--dry-run")
    assert code == 0, err
    changes = by_branch(data)
    assert list(changes) == ["nightcrew/mathlib-1.1.0"]
    assert [a["id"] for a in changes["nightcrew/mathlib-1.1.0"]["security"]] == ["GHSA-cool-0001"]


@time_machine.travel(NOW, tick=False)
def test_an_index_without_upload_times_is_said_once_and_can_hold(project: Project) -> None:
    configure(project, "\n[updates.cooldown]\ndefault_days = 3\nunknown_age = \"hold\"\n")
    code, data, err = run_updates(project, "--dry-run")
    assert data["changes"] == []
    assert [w["version"] for w in data["waiting"]] == ["1.1.0"]
    assert data["waiting"][0]["released"] is None and "no upload time" in data["waiting"][0]["rule"]
    notices = [n for n in data["notices"] if "upload times" in n]
    assert notices == ["the index gives no upload times (PEP 700): release ages are unknown and new releases are "
                       "held (updates.cooldown.unknown_age = \"hold\")"]


def test_a_yanked_pin_is_replaced_whatever_the_kinds_say(project: Project) -> None:
    republish(project, {"1.0.0": (V1, None, "broken wheel metadata"), "1.0.1": (V1, None, False)})
    configure(project, "")
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace('kinds = ["patch", "minor"]', "kinds = []"))
    git(project.work, "commit", "-qam", "no kinds")
    git(project.work, "push", "-q", "origin", "main")
    scan = CliRunner().invoke(cli, ["scan", "--repo", str(project.work), "--format", "json"])
    [row] = json.loads(scan.stdout)["dependencies"]
    assert (row["yanked"], row["yanked_reason"]) == (True, "broken wheel metadata")
    code, data, err = run_updates(project)
    assert code == 0, err
    change = by_branch(data)["nightcrew/mathlib-1.0.1"]  # the nearest release that is not yanked
    assert change["action"] == "opened"
    listed = json.loads(CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "--format", "json"]).stdout)
    [pr] = [p for p in listed if p["branch"] == "nightcrew/mathlib-1.0.1"]
    assert "yanked" in pr["labels"]
    body = (project.work / pr["body_path"]).read_text()
    assert 'was yanked from the package index: "broken wheel metadata"' in body


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_lists_what_waits_and_until_when(project: Project) -> None:
    republish(project, {"1.0.0": (V1, day(60), False), "1.1.0": (V11, day(1), False)})
    configure(project, "\n[updates.cooldown]\ndefault_days = 3\n\n[dashboard]\nenabled = true\n")
    code, data, err = run_updates(project)
    assert code == 0 and data["changes"] == [], err
    dashboard = (project.work / ".nightcrew" / "dashboard.md").read_text()
    pending = dashboard.split("## Pending", 1)[1].split("## ", 1)[0]
    assert "**mathlib** 1.1.0 (cooldown: waits until 2026-12-09 (updates.cooldown.default\\_days = 3))" in pending


# -- publisher continuity (PEP 740) ---------------------------------------------------------------------------

def publish_with_provenance(project: Project, old: dict | None, new: dict | None) -> None:
    from tests.jobs.conftest import V1

    project.index.add(build_wheel(project.dists, "mathlib", "1.0.0", modules={"mathlib/__init__.py": V1}),
                      provenance=old)
    project.index.add(build_wheel(project.dists, "mathlib", "1.0.1", modules={"mathlib/__init__.py": V1}),
                      provenance=new)


AUTONOMOUS = ('\n[policy]\nmode = "autonomous"\n\n[[policy.automerge]]\npackages = ["*"]\nkinds = ["patch"]\n'
              'min_age_hours = 0\n')


def test_a_changed_publisher_is_flagged_and_never_merged(project: Project) -> None:
    from tests.support.indexserver import provenance

    publish_with_provenance(project, provenance("math/mathlib"), provenance("someone-else/mathlib", "publish.yml"))
    configure(project, "")
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace('kinds = ["patch", "minor"]', 'kinds = ["patch"]') + AUTONOMOUS)
    git(project.work, "commit", "-qam", "autonomous")
    git(project.work, "push", "-q", "origin", "main")
    code, data, err = run_updates(project)
    assert code == 0, err
    assert [(c["branch"], c["action"]) for c in data["changes"]] == [("nightcrew/mathlib-1.0.1", "opened")]
    listed = json.loads(CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "--format", "json"]).stdout)
    [pr] = listed
    assert pr["state"] == "open" and "publisher-changed" in pr["labels"]
    body = (project.work / pr["body_path"]).read_text()
    assert ("**mathlib 1.0.1 was published differently than 1.0.0**: its publisher changed from GitHub "
            "math/mathlib (release.yml) to GitHub someone-else/mathlib (publish.yml).") in body
    assert "the attestation signatures were not verified" in body
    # ... and the report raises it as an alert, once for the release
    again = CliRunner().invoke(cli, ["report", "--repo", str(project.work), "--format", "json"])
    assert again.exit_code == 0, again.output
    alerts = [a for a in json.loads(again.stdout)["alerts"] if a["kind"] == "publisher-changed"]
    assert [(a["subject"], a["count"]) for a in alerts] == [("mathlib 1.0.1", 1)]
    assert alerts[0]["message"].startswith("mathlib 1.0.0 -> 1.0.1: publisher changed from GitHub math/mathlib "
                                           "(release.yml) to GitHub someone-else/mathlib (publish.yml)")


def test_dropped_attestations_are_flagged(project: Project) -> None:
    from tests.support.indexserver import provenance

    publish_with_provenance(project, provenance("math/mathlib"), None)
    configure(project, "")
    code, data, err = run_updates(project, "--only", "mathlib")
    assert code == 0, err
    listed = json.loads(CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "--format", "json"]).stdout)
    flagged = {p["branch"]: p for p in listed}
    body = (project.work / flagged["nightcrew/mathlib-1.1.0"]["body_path"]).read_text()
    assert "it has no attestations, where 1.0.0 had them (GitHub math/mathlib (release.yml))" in body
    assert "publisher-changed" in flagged["nightcrew/mathlib-1.1.0"]["labels"]


def test_the_same_publisher_or_a_first_attestation_is_no_flag() -> None:
    from jobs.index.provenance import Publisher, PublisherCheck

    same = Publisher("GitHub", "Math/Mathlib", "release.yml")
    assert not PublisherCheck("m", "1", "2", same, Publisher("GitHub", "math/mathlib", "release.yml"), True,
                              True).flagged
    assert not PublisherCheck("m", "1", "2", None, same, False, True).flagged  # attestations gained: fine
    moved = PublisherCheck("m", "1", "2", same, Publisher("GitHub", "math/mathlib", "other.yml"), True, True)
    assert moved.publisher_changed and moved.to_json()["verified"] is False


def test_the_scan_says_whether_the_newest_release_changed_publisher(project: Project) -> None:
    from tests.support.indexserver import provenance

    project.index.add(build_wheel(project.dists, "mathlib", "1.0.0", modules={"mathlib/__init__.py": V1}),
                      provenance=provenance("math/mathlib"))
    project.index.add(build_wheel(project.dists, "mathlib", "2.0.0", modules={"mathlib/__init__.py": V1}),
                      provenance=provenance("evil/mathlib"))
    scan = CliRunner().invoke(cli, ["scan", "--repo", str(project.work), "--format", "json"])
    [row] = json.loads(scan.stdout)["dependencies"]
    assert (row["latest"], row["publisher_changed"], row["attestations_dropped"]) == ("2.0.0", True, False)


# -- automerge: a minimum release age of its own ------------------------------------------------------------------

def test_an_automerge_rule_waits_for_its_minimum_release_age(project: Project) -> None:
    # the default cooldown (3 days) lets it be proposed; the rule asks a week before merging it
    republish(project, {"1.0.0": (V1, day(60), False), "1.0.1": (V1, day(4), False)})
    # a second dependency with nothing newer: a run limited to it plans nothing for mathlib
    project.index.add(build_wheel(project.dists, "othermath", "1.0.0", modules={"othermath/__init__.py": ""}),
                      upload_time=day(90))
    requirements = project.work / "requirements.txt"
    requirements.write_text(requirements.read_text() + "othermath==1.0.0\n")
    configure(project, "")
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace('kinds = ["patch", "minor"]', 'kinds = ["patch"]') + AUTONOMOUS
                      + "min_release_age_days = 7\n")
    git(project.work, "commit", "-qam", "autonomous")
    git(project.work, "push", "-q", "origin", "main")
    branch = "nightcrew/mathlib-1.0.1"
    with time_machine.travel(NOW, tick=False):
        code, first, err = run_updates(project)
    assert code == 0, err
    assert [(c["branch"], c["action"]) for c in first["changes"]] == [(branch, "opened")]
    [held] = [d for d in first["denials"] if d["action"] == "forge.merge"]
    assert held["rule"] == "release-too-young"
    assert held["reason"] == "released 4.0 days ago, the automerge rule needs 7"
    # the PR's marker keeps the release time, so a later run knows the age without the plan
    listed = json.loads(CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "--format", "json"]).stdout)
    body = (project.work / listed[0]["body_path"]).read_text()
    assert '"released": {"mathlib": "' + day(4).isoformat(timespec="seconds") + '"}' in body
    with time_machine.travel(day(-3), tick=False):  # a week after the release, from the PR's marker alone
        code, second, err = run_updates(project, "--only", "othermath")
    assert code == 0, err
    assert [(c["branch"], c["action"]) for c in second["changes"]] == [(branch, "merged")]


def test_a_release_of_unknown_age_never_passes_a_minimum_release_age() -> None:
    from jobs.config import AutomergeRule
    from jobs.tools.policy import Subject, _too_young

    rule = AutomergeRule(packages=("*",), min_age_hours=0, min_release_age_days=2)
    unknown = _too_young(rule, Subject(packages=("m",), kind="patch", tests="passed", age_hours=5))
    assert unknown is not None and unknown[0].rule == "release-too-young" and "unknown" in unknown[0].reason
    old_enough = Subject(packages=("m",), kind="patch", tests="passed", age_hours=5, release_age_hours=48)
    assert _too_young(rule, old_enough) is None
    no_rule_age = AutomergeRule(packages=("*",), min_age_hours=0)
    assert _too_young(no_rule_age, Subject(packages=("m",), kind="patch", tests="passed", age_hours=5)) is None

"""Report figures computed from a seeded state store; every expected number is derived by hand in the comments."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from jobs.report import Count, compute
from jobs.state.store import Store
from tests.report.seed import NOW, OTHER, REPO, audit, change, close, draft, override, pull, reopen, run

SINCE = NOW - timedelta(days=30)  # 2026-10-31 12:00 UTC, a Saturday in ISO week 2026-W44


@pytest.fixture
def store(tmp_path: Path):
    opened = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture
def seeded(store: Store) -> Store:
    # Pull requests (the period is 10-31 12:00 .. 11-30 12:00):
    pull(store, 1, "11-02 00:00")
    close(store, 1, "11-02 10:00", merged=True)  # merged after 10 h
    pull(store, 2, "11-03 00:00")
    close(store, 2, "11-04 06:00", merged=True)  # 30 h
    pull(store, 3, "11-10 00:00")
    close(store, 3, "11-10 20:00", merged=True)  # 20 h
    pull(store, 4, "11-11 00:00")
    close(store, 4, "11-12 00:00", merged=False)  # closed by a person
    pull(store, 5, "11-20 00:00")
    close(store, 5, "11-21 00:00", merged=False, by="nightcrew")  # superseded: neither accepted nor rejected
    pull(store, 6, "11-25 00:00")  # still open
    pull(store, 7, "10-01 00:00")  # opened before the period ...
    close(store, 7, "11-05 00:00", merged=True)  # ... merged in it: 35 days = 840 h
    pull(store, 8, "10-01 00:00")
    close(store, 8, "10-15 00:00", merged=False)  # all before the period: counts nowhere
    pull(store, 9, "11-15 00:00")
    close(store, 9, "11-16 00:00", merged=False)
    reopen(store, 9, "11-17 00:00")
    close(store, 9, "11-18 00:00", merged=False)  # reopened, then closed again: an alert
    pull(store, 10, "11-15 00:00")
    close(store, 10, "11-16 00:00", merged=False)
    reopen(store, 10, "11-17 00:00")  # reopened and still open: no alert
    pull(store, 1, "11-02 00:00", repository=OTHER)
    close(store, 1, "11-03 00:00", merged=False, repository=OTHER)  # another repository: counts nowhere

    override(store, "edited", 2, {"requests": "2.32.3"}, "minor", "11-03 12:00")
    override(store, "closed-unmerged", 4, {"httpx": "0.28.1"}, "minor", "11-12 00:00")
    override(store, "closed-unmerged", 9, {"httpx": "0.28.2"}, "patch", "11-16 00:00")
    override(store, "reopened", 9, {"httpx": "0.28.2"}, "patch", "11-17 00:00")
    override(store, "closed-unmerged", 9, {"httpx": "0.28.2"}, "patch", "11-18 00:00")
    override(store, "branch-pushed", 6, {"requests": "2.33.0", "urllib3": "2.3.0"}, "minor", "11-26 00:00")
    override(store, "closed-unmerged", 8, {"lxml": "5.3.0"}, "major", "10-15 00:00")  # before the period
    override(store, "edited", 1, {"lxml": "5.3.0"}, "major", "11-03 00:00", repository=OTHER)

    # Test outcomes on bump branches, by ISO week:
    change(store, "a", "pkg1", "opened", "11-02 01:00", tests="passed")  # W45
    change(store, "a", "pkg2", "opened", "11-03 01:00", tests="passed")  # W45
    change(store, "b", "pkg2", "updated", "11-04 01:00", tests="failed")  # W45: 2 of 3
    change(store, "c", "pkg3", "opened", "11-10 01:00", tests="passed")  # W46
    change(store, "c", "pkg4", "opened", "11-11 01:00", tests="failed")  # W46: 1 of 2
    change(store, "d", "pkg6", "opened", "11-25 01:00", tests="timed_out")  # W48: 0 of 1
    change(store, "d", "pkg5", "unchanged", "11-25 01:00")  # no tests ran: not counted
    change(store, "z", "pkg8", "opened", "10-01 01:00", tests="passed")  # before the period
    change(store, "o", "pkg1", "opened", "11-02 01:00", tests="failed", repository=OTHER)

    draft(store, "v1.0", "11-01 00:00", "11-03 00:00", 0.25)
    draft(store, "v1.1", "11-20 00:00", "11-22 00:00", 0.1)
    draft(store, "v0.9", "10-05 00:00", "10-10 00:00", 0.9)  # published before the period
    draft(store, "v1.2", "11-28 00:00", None, 0.0)  # not published yet

    for minute in range(3):
        audit(store, "a", "forge.create_pull", "denied", f"11-02 02:0{minute}", rule="quiet-hours")
    audit(store, "b", "forge.merge", "needs-approval", "11-04 02:00", rule="majors-need-approval")
    audit(store, "c", "git.push", "denied", "11-10 02:00", rule="mode-advisory")
    audit(store, "c", "git.push", "ok", "11-10 02:01")
    audit(store, "c", "git.push", "error", "11-10 02:02")
    audit(store, "z", "git.push", "denied", "10-01 02:00", rule="quiet-hours")  # before the period
    audit(store, "o", "git.push", "denied", "11-02 02:00", rule="quiet-hours", repository=OTHER)

    run(store, "a", "11-02 01:00")
    run(store, "b", "11-04 01:00", "partial")
    run(store, "c", "11-10 01:00")
    run(store, "d", "11-25 01:00")
    run(store, "e", "11-26 01:00", "paused")
    run(store, "z", "10-01 01:00")  # before the period
    run(store, "o", "11-02 01:00", repository=OTHER)
    return store


def test_pull_request_figures_acceptance_and_median(seeded: Store) -> None:
    report = compute(seeded, since=SINCE, repository=REPO, now=NOW)
    # proposed in the period: 1 2 3 4 5 6 9 10 -> 8; merged in it: 1 2 3 7 -> 4; closed by a person: 4 9 -> 2
    # (10 was closed, then reopened: open); closed by nightcrew: 5; open now: 6 10
    assert (report.pulls.proposed, report.pulls.merged, report.pulls.closed_by_human,
            report.pulls.closed_by_nightcrew, report.pulls.open) == (8, 4, 2, 1, 2)
    # 4 merged of 4 + 2 decided
    assert report.acceptance_rate == pytest.approx(4 / 6)
    # hours to merge 10, 30, 20, 840 -> sorted 10 20 30 840 -> (20 + 30) / 2
    assert report.median_hours_to_merge == pytest.approx(25.0)
    assert [p.number for p in report.pull_requests] == [1, 2, 3, 4, 5, 6, 7, 9, 10]


def test_overrides_frequency_and_where_they_concentrate(seeded: Store) -> None:
    report = compute(seeded, since=SINCE, repository=REPO, now=NOW)
    o = report.overrides
    # six in the period and repository (the lxml ones are before it, or elsewhere); 6 per 8 proposed
    assert o.count == 6 and o.frequency == pytest.approx(0.75)
    # httpx in 4 (one close of #4, three on #9), requests in 2 (edited #2, the group on #6), urllib3 in 1
    assert o.by_package == (Count("httpx", 4), Count("requests", 2), Count("urllib3", 1))
    # minor: edited, #4 closed, branch pushed; patch: #9's three. Equal counts come in name order.
    assert o.by_update_kind == (Count("minor", 3), Count("patch", 3))
    assert o.by_kind == (Count("closed-unmerged", 3), Count("branch-pushed", 1), Count("edited", 1),
                         Count("reopened", 1))


def test_test_pass_rate_release_edits_denials_and_runs(seeded: Store) -> None:
    report = compute(seeded, since=SINCE, repository=REPO, now=NOW)
    # outcomes in the period: passed, passed, failed, passed, failed, timed_out -> 3 of 6
    assert (report.tests.passed, report.tests.total, report.tests.pass_rate) == (3, 6, 0.5)
    # v1.0 and v1.1 were published in the period; v0.9 before it, v1.2 not yet
    assert [(r.tag, r.distance) for r in report.releases] == [("v1.0", 0.25), ("v1.1", 0.1)]
    # three quiet-hours denials, one approval wait, one advisory denial; the ok and error records are no denials
    assert report.denials.count == 5
    assert report.denials.by_rule == (Count("quiet-hours", 3), Count("majors-need-approval", 1),
                                      Count("mode-advisory", 1))
    assert report.denials.by_action == (Count("forge.create_pull", 3), Count("forge.merge", 1), Count("git.push", 1))
    # runs a c d ok, b partial, e paused (z before the period, o elsewhere)
    assert report.runs == (Count("ok", 3), Count("partial", 1), Count("paused", 1)) and report.run_count == 5


def test_weeks_cover_the_whole_period_for_the_charts(seeded: Store) -> None:
    report = compute(seeded, since=SINCE, repository=REPO, now=NOW)
    # 10-31 is in W44 and 11-30 starts W49: six weeks, empty ones included
    rows = [(w.week, w.start, w.opened, w.merged, w.closed_by_human, w.tests_passed, w.tests_total)
            for w in report.weeks]
    assert rows == [
        ("2026-W44", "2026-10-26", 0, 0, 0, 0, 0),
        ("2026-W45", "2026-11-02", 2, 3, 0, 2, 3),  # opened 1 2; merged 1 2 7
        ("2026-W46", "2026-11-09", 4, 1, 1, 1, 2),  # opened 3 4 9 10 (11-15 is a Sunday); merged 3; closed 4
        ("2026-W47", "2026-11-16", 1, 0, 1, 0, 0),  # opened 5; closed 9 (11-18)
        ("2026-W48", "2026-11-23", 1, 0, 0, 0, 1),  # opened 6; the timed-out run
        ("2026-W49", "2026-11-30", 0, 0, 0, 0, 0),
    ]
    assert report.weeks[1].pass_rate == pytest.approx(2 / 3) and report.weeks[0].pass_rate is None


def test_pull_reopened_and_closed_again_is_an_alert_but_still_open_is_not(seeded: Store) -> None:
    report = compute(seeded, since=SINCE, repository=REPO, now=NOW)
    reopened = [a for a in report.alerts if a.kind == "reopened-closed"]
    assert [(a.subject, a.count) for a in reopened] == [("#9", 1)]  # 10 was reopened but is open
    # git.push errored in one run only, well short of three in a row
    assert [a.kind for a in report.alerts] == ["reopened-closed"]


def test_nothing_decided_gives_no_rates(store: Store) -> None:
    pull(store, 1, "11-20 00:00")
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    assert report.pulls.proposed == 1 and report.pulls.open == 1
    assert report.acceptance_rate is None and report.median_hours_to_merge is None
    assert report.tests.pass_rate is None and report.overrides.frequency == 0


def test_every_repository_when_none_is_named(seeded: Store) -> None:
    report = compute(seeded, since=SINCE, now=NOW)
    # the other repository's PR was opened (11-02) and closed by a person (11-03) in the period
    assert (report.pulls.proposed, report.pulls.closed_by_human) == (9, 3)
    assert report.overrides.by_package == (Count("httpx", 4), Count("requests", 2), Count("lxml", 1),
                                           Count("urllib3", 1))
    # both repositories' #1 are listed
    assert [(p.repository, p.number) for p in report.pull_requests][:2] == [(OTHER, 1), (REPO, 1)]


# -- alerts for bad autonomy patterns ---------------------------------------------------------------------------


def four_runs(store: Store, outcomes: tuple[str, ...] = ("ok", "ok", "ok", "ok")) -> None:
    for day, outcome in zip((21, 22, 23, 24), outcomes):
        run(store, f"r{day}", f"11-{day} 03:00", outcome)


def alerts(store: Store, n: int = 3) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(a.kind, a.subject, a.runs) for a in compute(store, since=SINCE, repository=REPO, now=NOW,
                                                         failures_in_a_row=n).alerts]


def test_same_action_failing_in_n_runs_in_a_row_is_an_alert(store: Store) -> None:
    four_runs(store)
    for day in (21, 22, 23):
        audit(store, f"r{day}", "git.push", "error", f"11-{day} 03:05")
    for day in (21, 22, 24):  # r23 pushed its comments fine: two, then one
        audit(store, f"r{day}", "forge.comment", "error", f"11-{day} 03:06")
    assert alerts(store) == [("repeated-failure", "git.push", ("r21", "r22", "r23"))]
    assert alerts(store, n=4) == []  # three in a row is not four


def test_a_paused_run_neither_breaks_nor_extends_a_run_of_failures(store: Store) -> None:
    four_runs(store, ("ok", "ok", "paused", "partial"))
    for day in (21, 22, 24):  # the paused r23 stopped before it pushed anything
        audit(store, f"r{day}", "git.push", "error", f"11-{day} 03:05")
    assert alerts(store) == [("repeated-failure", "git.push", ("r21", "r22", "r24"))]


def test_failures_in_runs_of_another_job_do_not_count(store: Store) -> None:
    four_runs(store)
    run(store, "n1", "11-21 04:00", job="release-notes")
    for run_id, day in (("r21", 21), ("n1", 21), ("r22", 22)):
        audit(store, run_id, "forge.read", "error", f"11-{day} 04:05")
    assert alerts(store) == []  # two dependency-updates runs, one release-notes run


def test_same_change_failing_in_n_runs_in_a_row_is_a_retry_loop(store: Store) -> None:
    four_runs(store)
    for day in (21, 22, 23):
        change(store, f"r{day}", "httpx", "failed", f"11-{day} 03:10")
    for day, action in ((21, "failed"), (22, "failed"), (23, "opened"), (24, "failed")):
        change(store, f"r{day}", "lxml", action, f"11-{day} 03:11")
    assert alerts(store) == [("retry-loop", "httpx", ("r21", "r22", "r23"))]


def test_same_action_and_target_erroring_five_times_in_one_run_is_a_retry_loop(store: Store) -> None:
    four_runs(store)
    for attempt in range(5):
        audit(store, "r21", "forge.update_pull", "error", f"11-21 03:1{attempt}", target="#12")
    for attempt in range(4):  # four times: a near miss
        audit(store, "r22", "forge.update_pull", "error", f"11-22 03:1{attempt}", target="#13")
    assert alerts(store) == [("retry-loop", "forge.update_pull #12", ("r21",))]


def test_alerts_over_every_repository_count_runs_in_a_row_per_repository(store: Store) -> None:
    # widgets fails on 11-21 and 11-23, the other repository in between: two in a row on neither, not three
    run(store, "w21", "11-21 03:00")
    run(store, "o22", "11-22 03:00", repository=OTHER)
    run(store, "w23", "11-23 03:00")
    for run_id, day, repository in (("w21", 21, REPO), ("o22", 22, OTHER), ("w23", 23, REPO)):
        audit(store, run_id, "git.push", "error", f"11-{day} 03:05", repository=repository)
    # and the other repository's clean run on 11-24 does not break widgets' streak of 11-23, 11-25, 11-26
    run(store, "o24", "11-24 03:00", repository=OTHER)
    for run_id, day in (("w25", 25), ("w26", 26)):
        run(store, run_id, f"11-{day} 03:00")
        audit(store, run_id, "forge.comment", "error", f"11-{day} 03:05")
    audit(store, "w23", "forge.comment", "error", "11-23 03:06")
    found = [(a.kind, a.subject, a.runs, a.message) for a in compute(store, since=SINCE, now=NOW).alerts]
    assert found == [("repeated-failure", "forge.comment", ("w23", "w25", "w26"),
                      f"forge.comment failed in 3 dependency-updates runs in a row on {REPO}")]


# -- who merged, and tests that did not run --------------------------------------------------------------------


def test_acceptance_counts_what_people_merged_and_the_bots_merges_are_shown_apart(store: Store) -> None:
    pull(store, 1, "11-02 00:00")
    close(store, 1, "11-02 10:00", merged=True)  # a person merged it after 10 h
    pull(store, 2, "11-03 00:00")
    close(store, 2, "11-03 02:00", merged=True, by="nightcrew")  # autonomous merge after 2 h
    pull(store, 3, "11-04 00:00")
    close(store, 3, "11-04 04:00", merged=True, by="nightcrew")  # 4 h
    pull(store, 4, "11-05 00:00")
    close(store, 4, "11-06 00:00", merged=False)  # a person closed it
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    p = report.pulls
    assert (p.merged, p.merged_by_human, p.merged_by_nightcrew, p.closed_by_human) == (3, 1, 2, 1)
    # one merged by a person of two that people decided; the bot's own two merges are no acceptance
    assert report.acceptance_rate == pytest.approx(0.5)
    # every merge: 10, 2, 4 -> 4; a person's: 10; nightcrew's: 2, 4 -> 3
    assert report.median_hours_to_merge == pytest.approx(4.0)
    assert report.median_hours_to_merge_by_human == pytest.approx(10.0)
    assert report.median_hours_to_merge_by_nightcrew == pytest.approx(3.0)
    assert [(r.number, r.merged_by) for r in report.pull_requests if r.state == "merged"] == [
        (1, "human"), (2, "nightcrew"), (3, "nightcrew")]


def test_only_the_bots_merges_leave_acceptance_unknown(store: Store) -> None:
    pull(store, 1, "11-02 00:00")
    close(store, 1, "11-02 01:00", merged=True, by="nightcrew")
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    assert report.acceptance_rate is None and report.median_hours_to_merge == pytest.approx(1.0)


def test_a_repository_without_tests_has_no_pass_rate_rather_than_zero(store: Store) -> None:
    change(store, "a", "pkg1", "opened", "11-02 01:00", tests="not_run")
    change(store, "a", "pkg2", "opened", "11-02 01:00", tests="not_run")
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    assert (report.tests.passed, report.tests.total, report.tests.not_run) == (0, 0, 2)
    assert report.tests.pass_rate is None
    # with runs that did run: error and timed_out did not pass, not_run is outside the rate
    change(store, "b", "pkg1", "updated", "11-03 01:00", tests="passed")
    change(store, "b", "pkg2", "updated", "11-03 01:00", tests="error")
    change(store, "b", "pkg3", "opened", "11-03 01:00", tests="timed_out")
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    assert (report.tests.passed, report.tests.total, report.tests.not_run) == (1, 3, 2)
    assert report.tests.pass_rate == pytest.approx(1 / 3)
    week = next(w for w in report.weeks if w.week == "2026-W45")
    assert (week.tests_passed, week.tests_total) == (1, 3)


def test_merges_held_back_are_counted_per_reason(store: Store) -> None:
    from tests.report.seed import audit

    audit(store, "r1", "forge.merge", "waiting", "11-10 10:00", rule="checks-pending")
    audit(store, "r2", "forge.merge", "waiting", "11-11 10:00", rule="checks-pending")
    audit(store, "r2", "forge.merge", "denied", "11-11 10:01", rule="review-changes-requested")
    audit(store, "r3", "forge.merge", "ok", "11-12 10:00")
    audit(store, "r3", "forge.create_pull", "denied", "11-12 10:00", rule="quiet-hours")
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    assert report.merges_held == (Count("checks-pending", 2), Count("review-changes-requested", 1))
    assert report.denials.count == 2  # waiting is no denial


def checked_run(store: Store, run_id: str, when: str, advisories: dict, *, repository: str = REPO) -> None:
    """A dependency-update run that recorded what it knew to be vulnerable (as the job's summary does)."""
    from tests.report.seed import clock, t

    with clock(t(when)):
        store.start_run(run_id, repository, "dependency-updates", "propose")
        store.end_run(run_id, "ok", {"changes": {}, "advisories": advisories})


def test_advisories_are_followed_from_run_to_run(store: Store) -> None:
    vulnerable = {"pkg1": {"ids": ["GHSA-aaaa"], "fix": "1.0"}, "pkg2": {"ids": ["GHSA-bbbb", "PYSEC-1"],
                                                                        "fix": "2.5"}}
    checked_run(store, "r1", "11-10 00:00", vulnerable)
    pull(store, 1, "11-10 01:00", packages={"pkg1": "1.0"})
    close(store, 1, "11-11 12:00", merged=True)  # the fix merged 36 h after the advisory was first seen
    checked_run(store, "r2", "11-12 00:00", {"pkg2": vulnerable["pkg2"]})  # pkg1's advisory is gone
    pull(store, 2, "11-12 01:00", packages={"pkg2": "2.5"})  # reaches the fix, left open ...
    pull(store, 3, "11-28 01:00", packages={"pkg2": "2.6"})  # ... and one too recent to alert on
    run(store, "r3", "11-20 00:00")  # a run that did not check says nothing about advisories
    checked_run(store, "r4", "11-29 00:00", {"pkg2": vulnerable["pkg2"]})
    report = compute(store, since=SINCE, repository=REPO, now=NOW, security_pr_days=7)
    [still] = report.security.open
    assert (still.package, still.ids, still.fix_version) == ("pkg2", ("GHSA-bbbb", "PYSEC-1"), "2.5")
    assert still.first_seen.startswith("2026-11-10T00:00")  # the streak began with r1
    assert (report.security.fixed, report.security.median_hours_to_fix) == (1, 36.0)
    waiting = [a for a in report.alerts if a.kind == "security-pr-waiting"]
    assert [(a.subject, a.message) for a in waiting] == [
        ("#2", "#2 fixes GHSA-bbbb, PYSEC-1 in pkg2 and has waited 18 days unmerged")]


def test_an_advisory_gone_without_a_merged_pr_is_not_counted_as_fixed(store: Store) -> None:
    checked_run(store, "r1", "11-10 00:00", {"pkg1": {"ids": ["GHSA-aaaa"], "fix": None}})
    checked_run(store, "r2", "11-12 00:00", {})  # withdrawn, or fixed by hand: no merge to time
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    assert (report.security.open, report.security.fixed, report.security.median_hours_to_fix) == ((), 0, None)


def test_a_merge_short_of_the_fix_or_an_unchecked_package_fixes_nothing(store: Store) -> None:
    checked_run(store, "r1", "11-10 00:00", {"pkg1": {"ids": ["GHSA-aaaa"], "fix": "2.0"},
                                             "pkg2": {"ids": ["GHSA-cccc"], "fix": None}})
    pull(store, 1, "11-10 01:00", packages={"pkg1": "1.5"})  # moves pkg1, but not to the fix
    close(store, 1, "11-10 05:00", merged=True)
    pull(store, 2, "11-10 02:00", packages={"pkg2": "9.0"})  # no fixing release exists: nothing reaches it
    from tests.report.seed import clock, t

    with clock(t("11-11 00:00")):  # the index failed for both: the check could not look at them
        store.start_run("r2", REPO, "dependency-updates", "propose")
        store.end_run("r2", "partial", {"advisories": {}, "advisories_unchecked": ["pkg1", "pkg2"]})
    checked_run(store, "r3", "11-12 00:00", {})  # gone without a merge that reaches the fix
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    assert (report.security.fixed, report.security.median_hours_to_fix, report.security.open) == (0, None, ())
    assert not [a for a in report.alerts if a.kind == "security-pr-waiting"]  # #2 reaches no fix
    # r2 alone: both advisories are still open, first seen in r1
    midway = compute(store, since=SINCE, repository=REPO, now=NOW.replace(day=11, hour=12))
    assert [(a.package, a.first_seen[:16]) for a in midway.security.open] == [
        ("pkg1", "2026-11-10T00:00"), ("pkg2", "2026-11-10T00:00")]


@pytest.mark.parametrize("summary", [["not", "a", "dict"], {"advisories": ["pkg1"]},
                                     {"advisories": {"pkg1": ["GHSA-aaaa"]}},
                                     {"advisories": {"pkg1": {"ids": "GHSA-aaaa", "fix": 3}}}])
def test_a_hand_edited_run_record_is_skipped_not_a_crash(store: Store, summary: object) -> None:
    from tests.report.seed import clock, t

    with clock(t("11-10 00:00")):
        store.start_run("r1", REPO, "dependency-updates", "propose")
        store.end_run("r1", "ok", summary)  # type: ignore[arg-type]
    report = compute(store, since=SINCE, repository=REPO, now=NOW)
    assert report.security.open == () and report.run_count == 1

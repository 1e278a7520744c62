"""The policy, decision by decision: modes, quiet hours in a real time zone, rules, approvals, limits, automerge."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from jobs.config import load
from jobs.errors import ConfigError
from jobs.tools.policy import Counters, Policy, Subject

MERGEABLE = Subject(repository="acme/api", packages=("requests",), kind="patch", tests="passed", age_hours=30.0)


def settings(tmp_path: Path, text: str = ""):  # type: ignore[no-untyped-def]
    """The [policy] section as nightcrew loads it from a real nightcrew.toml."""
    path = tmp_path / "nightcrew.toml"
    path.write_text("[policy]\n" + text)
    return load(path).policy


AUTOMERGE = '[[policy.automerge]]\npackages = ["*"]\nkinds = ["patch"]\nmin_age_hours = 24\n'

# mode x action class: read-only, mutating, merge (a subject every automerge condition allows)
TABLE = [
    ("advisory", "forge.read", "allow", "mode-advisory"),
    ("advisory", "index.fetch", "allow", "mode-advisory"),
    ("advisory", "forge.create_pull", "deny", "mode-advisory"),
    ("advisory", "git.push", "deny", "mode-advisory"),
    ("advisory", "forge.merge", "deny", "mode-advisory"),
    ("propose", "forge.read", "allow", "mode-propose"),
    ("propose", "forge.create_pull", "allow", "mode-propose"),
    ("propose", "git.push", "allow", "mode-propose"),
    ("propose", "forge.merge", "deny", "merge-needs-autonomous"),
    ("autonomous", "forge.read", "allow", "mode-autonomous"),
    ("autonomous", "forge.create_pull", "allow", "mode-autonomous"),
    ("autonomous", "tests.run", "allow", "mode-autonomous"),
    ("autonomous", "forge.merge", "allow", "mode-autonomous"),
]


@pytest.mark.parametrize(("mode", "action", "verdict", "rule"), TABLE)
def test_mode_decides_each_action_class(tmp_path: Path, mode: str, action: str, verdict: str, rule: str) -> None:
    policy = Policy(settings(tmp_path, AUTOMERGE), mode=mode)
    decision = policy.decide(action, MERGEABLE, Counters())
    assert (decision.verdict, decision.rule) == (verdict, rule)


@pytest.mark.parametrize("mode", ["advisory", "propose", "autonomous"])
def test_dry_run_denies_every_change_and_allows_reads(tmp_path: Path, mode: str) -> None:
    policy = Policy(settings(tmp_path, AUTOMERGE), mode=mode, dry_run=True)
    assert policy.decide("forge.read", MERGEABLE).allowed
    for action in ("git.push", "forge.create_pull", "forge.comment", "forge.merge", "tests.run"):
        decision = policy.decide(action, MERGEABLE)
        assert (decision.verdict, decision.rule) == ("deny", "dry-run"), action


def test_unknown_action_is_denied(tmp_path: Path) -> None:
    decision = Policy(settings(tmp_path)).decide("shell.exec", Subject())
    assert (decision.verdict, decision.rule) == ("deny", "unknown-action")


BERLIN = 'timezone = "Europe/Berlin"\nquiet_hours = ["22:00-06:00"]\n'


@pytest.mark.parametrize(("utc", "quiet"), [
    ("2026-01-15T20:59:00", False),  # 21:59 in Berlin (CET, UTC+1)
    ("2026-01-15T21:00:00", True),  # 22:00: the window opens
    ("2026-01-15T23:30:00", True),  # 00:30 the next day: across midnight
    ("2026-01-16T04:59:00", True),  # 05:59
    ("2026-01-16T05:00:00", False),  # 06:00: the window has closed
    ("2026-07-15T20:30:00", True),  # 22:30 in summer (CEST, UTC+2): the zone's rules, not a fixed offset
    ("2026-07-15T19:30:00", False),  # 21:30 in summer
])
def test_quiet_hours_across_midnight_in_the_configured_time_zone(tmp_path: Path, utc: str, quiet: bool) -> None:
    when = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc)
    policy = Policy(settings(tmp_path, BERLIN), mode="propose", clock=lambda: when)
    decision = policy.decide("git.push", Subject())
    assert (decision.rule == "quiet-hours") is quiet
    assert decision.allowed is not quiet
    if quiet:
        assert "22:00-06:00 (Europe/Berlin)" in decision.reason
    assert policy.decide("forge.read", Subject()).allowed  # reads go on in quiet hours


RULES = '''
[[policy.rules]]
name = "no-django-pushes"
actions = ["git.push", "forge.*"]
packages = ["django*"]
verdict = "deny"

[[policy.rules]]
name = "majors-need-a-person"
actions = ["forge.update_pull"]
kinds = ["major"]
verdict = "needs-approval"

[[policy.rules]]
name = "frozen-org"
actions = ["*"]
repositories = ["frozen/*"]
verdict = "deny"

[[policy.rules]]
name = "forge-ok"
actions = ["forge.*"]
verdict = "allow"
'''


@pytest.mark.parametrize(("action", "subject", "verdict", "rule"), [
    # the first matching rule wins, even when a later one would allow
    ("forge.create_pull", Subject(packages=("Django_Extensions",), kind="major"), "deny", "no-django-pushes"),
    ("git.push", Subject(packages=("django",)), "deny", "no-django-pushes"),
    # a rule's packages must cover every package of the change
    ("forge.create_pull", Subject(packages=("django", "requests"), kind="minor"), "allow", "forge-ok"),
    ("forge.update_pull", Subject(packages=("requests",), kind="major"), "needs-approval", "majors-need-a-person"),
    ("forge.update_pull", Subject(packages=("requests",), kind="minor"), "allow", "forge-ok"),
    ("tests.run", Subject(repository="frozen/api", packages=("requests",)), "deny", "frozen-org"),
    ("tests.run", Subject(repository="acme/api", packages=("requests",)), "allow", "mode-propose"),
    ("forge.comment", Subject(repository="acme/api"), "allow", "forge-ok"),
])
def test_rules_first_match_with_package_kind_and_repository_globs(tmp_path: Path, action: str, subject: Subject,
                                                                 verdict: str, rule: str) -> None:
    decision = Policy(settings(tmp_path, RULES), mode="propose").decide(action, subject)
    assert (decision.verdict, decision.rule) == (verdict, rule)


def test_needs_approval_lets_the_action_through_once_the_approval_label_is_on(tmp_path: Path) -> None:
    policy = Policy(settings(tmp_path, RULES), mode="propose")
    major = Subject(packages=("requests",), kind="major")
    waiting = policy.decide("forge.update_pull", major)
    assert (waiting.verdict, waiting.allowed) == ("needs-approval", False)
    assert "'nightcrew:approved'" in waiting.reason
    approved = policy.decide("forge.update_pull", Subject(packages=("requests",), kind="major",
                                                          labels=("nightcrew:approved",)))
    assert (approved.verdict, approved.rule) == ("allow", "approved:majors-need-a-person")
    other = policy.decide("forge.update_pull", Subject(packages=("requests",), kind="major", labels=("lgtm",)))
    assert other.verdict == "needs-approval"


@pytest.mark.parametrize(("pattern", "name", "matches"), [
    ("zope.*", "zope.interface", True),  # a dot in the pattern, a dot in the name
    ("zope.*", "Zope_Interface", True),
    ("types_*", "types-requests", True),  # an underscore in the pattern, a hyphen in the name
    ("types_*", "typesrequests", False),
    ("Django_Extensions", "django.extensions", True),  # no glob: compared as normalised names
    ("backports.[tz]*", "backports-zoneinfo", True),  # a bracket expression stays a bracket expression
    ("backports.[tz]*", "backports.ssl-match", False),
])
def test_package_globs_match_names_the_way_the_index_normalises_them(tmp_path: Path, pattern: str, name: str,
                                                                    matches: bool) -> None:
    rule = f'[[policy.rules]]\nname = "r"\nactions = ["git.push"]\npackages = ["{pattern}"]\nverdict = "deny"\n'
    decision = Policy(settings(tmp_path, rule), mode="propose").decide("git.push", Subject(packages=(name,)))
    assert (decision.rule == "r") is matches


@pytest.mark.parametrize(("actions", "rejected"), [
    ('["git.push"]', "git.push"),
    ('["tests.run", "forge.merge"]', "tests.run"),
    ('["forge.create_pull"]', "forge.create_pull"),
    ('["forge.*"]', "forge.read, forge.create_pull, forge.draft_release, forge.dashboard"),  # a glob: all it covers
    ('["*"]', "index.fetch, advisories.fetch, git.branch"),
])
def test_needs_approval_for_an_action_before_a_pr_exists_is_a_config_error(tmp_path: Path, actions: str,
                                                                           rejected: str) -> None:
    rule = f'[[policy.rules]]\nname = "r"\nactions = {actions}\nverdict = "needs-approval"\n'
    with pytest.raises(ConfigError) as error:
        settings(tmp_path, rule)
    message = str(error.value)
    assert "'policy.rules[0].actions': needs-approval cannot apply to " + rejected in message
    assert "nightcrew.toml:" in message and "\n" not in message


def test_needs_approval_is_accepted_for_actions_on_an_existing_pr(tmp_path: Path) -> None:
    rule = '[[policy.rules]]\nname = "r"\nactions = ["forge.merge", "forge.comment", "forge.*_pull"]\n' \
           'verdict = "needs-approval"\n'
    with pytest.raises(ConfigError, match="forge.create_pull"):  # "forge.*_pull" also covers creating the PR
        settings(tmp_path, rule)
    [accepted] = settings(tmp_path, rule.replace('"forge.*_pull"', '"forge.update_pull"')).rules
    assert accepted.actions == ("forge.merge", "forge.comment", "forge.update_pull")


def test_a_rule_whose_action_glob_matches_nothing_is_a_config_error(tmp_path: Path) -> None:
    rule = '[[policy.rules]]\nname = "typo"\nactions = ["forge.merg"]\nverdict = "deny"\n'
    with pytest.raises(ConfigError, match=r"'policy.rules\[0\].actions': 'forge.merg' matches no action"):
        settings(tmp_path, rule)


def test_limits_per_run_count_this_runs_actions(tmp_path: Path) -> None:
    policy = Policy(settings(tmp_path, "max_prs_per_run = 2\nmax_pushes_per_run = 1\n"), mode="propose")
    counters = Counters()
    assert policy.decide("forge.create_pull", Subject(), counters).allowed
    counters.add("forge.create_pull")
    assert policy.decide("forge.create_pull", Subject(), counters).allowed
    counters.add("forge.create_pull")
    full = policy.decide("forge.create_pull", Subject(), counters)
    assert (full.verdict, full.rule, full.reason) == ("deny", "limit-prs-per-run", "max_prs_per_run = 2 reached")
    assert policy.decide("git.push", Subject(), counters).allowed
    counters.add("git.push")
    assert policy.decide("git.push", Subject(), counters).rule == "limit-pushes-per-run"
    assert policy.decide("forge.update_pull", Subject(), counters).allowed  # no limit on updates


def test_merges_per_day_counts_across_runs(tmp_path: Path) -> None:
    merged = [0]
    policy = Policy(settings(tmp_path, "max_merges_per_day = 2\n" + AUTOMERGE),
                    mode="autonomous", merges_today=lambda: merged[0])
    assert policy.decide("forge.merge", MERGEABLE).allowed
    merged[0] = 2
    decision = policy.decide("forge.merge", MERGEABLE)
    assert (decision.verdict, decision.rule) == ("deny", "limit-merges-per-day")


@pytest.mark.parametrize(("subject", "rule"), [
    (Subject(packages=("requests",), kind="patch", tests="passed", age_hours=30, labels=("do-not-merge",)),
     "hold-label"),
    (Subject(packages=("requests",), kind="patch", tests="passed", age_hours=30, labels=("nightcrew:hold",),
             draft=True), "hold-label"),
    (Subject(packages=("requests",), kind="patch", tests="passed", age_hours=30, draft=True), "draft"),
    (Subject(packages=("requests",), kind="patch", tests="failed", age_hours=30), "tests-not-passed"),
    (Subject(packages=("requests",), kind="patch", tests="timed_out", age_hours=30), "tests-not-passed"),
    (Subject(packages=("requests",), kind="patch", tests=None, age_hours=30), "tests-not-passed"),
    (Subject(packages=("requests",), kind="minor", tests="passed", age_hours=30), "automerge-no-rule"),
    (Subject(packages=("requests",), kind=None, tests="passed", age_hours=30), "automerge-no-rule"),
    (Subject(packages=("requests",), kind="patch", tests="passed", age_hours=23.5), "too-young"),
    (Subject(packages=("requests",), kind="patch", tests="passed", age_hours=None), "too-young"),
])
def test_automerge_refuses_unless_every_condition_holds(tmp_path: Path, subject: Subject, rule: str) -> None:
    decision = Policy(settings(tmp_path, AUTOMERGE), mode="autonomous").decide("forge.merge", subject)
    assert (decision.verdict, decision.rule) == ("deny", rule)


def test_automerge_allows_what_a_rule_covers(tmp_path: Path) -> None:
    text = ('[[policy.automerge]]\npackages = ["req*"]\nkinds = ["patch", "minor"]\nrepositories = ["acme/*"]\n'
            "min_age_hours = 0\n")
    policy = Policy(settings(tmp_path, text), mode="autonomous")
    ok = Subject(repository="acme/api", packages=("requests",), kind="minor", tests="passed", age_hours=0.0)
    assert policy.decide("forge.merge", ok).allowed
    elsewhere = Subject(repository="other/api", packages=("requests",), kind="minor", tests="passed", age_hours=0.0)
    assert policy.decide("forge.merge", elsewhere).rule == "automerge-no-rule"
    mixed = Subject(repository="acme/api", packages=("requests", "urllib3"), kind="patch", tests="passed",
                    age_hours=1.0)
    assert policy.decide("forge.merge", mixed).rule == "automerge-no-rule"  # every package must be covered


def test_no_automerge_rule_means_nothing_is_merged(tmp_path: Path) -> None:
    decision = Policy(settings(tmp_path), mode="autonomous").decide("forge.merge", MERGEABLE)
    assert (decision.verdict, decision.rule) == ("deny", "automerge-no-rule")


def test_the_rule_that_lets_a_merge_happen_soonest_gives_the_reason(tmp_path: Path) -> None:
    rules = ('[[policy.automerge]]\npackages = ["*"]\nkinds = ["patch"]\nmin_age_hours = 1\nmin_release_age_days = 30\n'
             '\n[[policy.automerge]]\npackages = ["*"]\nkinds = ["patch"]\nmin_age_hours = 48\n')
    policy = Policy(settings(tmp_path, rules), mode="autonomous")
    young = Subject(packages=("m",), kind="patch", tests="passed", age_hours=0.5, release_age_hours=24)
    decision = policy.decide("forge.merge", young)
    # the first rule waits 29 more days for the release, the second 47.5 hours for the PR: the second says why
    assert (decision.verdict, decision.rule, decision.reason) == ("deny", "too-young", "open 0.5 h, needs 48 h")
    old_pr = Subject(packages=("m",), kind="patch", tests="passed", age_hours=50, release_age_hours=24)
    assert policy.decide("forge.merge", old_pr).allowed  # the second rule is met
    only_first = Policy(settings(tmp_path, rules.split("\n\n")[0] + "\n"), mode="autonomous")
    late = only_first.decide("forge.merge", old_pr)
    assert (late.rule, late.reason) == ("release-too-young", "released 1.0 days ago, the automerge rule needs 30")

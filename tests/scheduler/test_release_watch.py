"""The release watch on real repositories: the first look only records what is there, each new tag is drafted
once, in version order, a failed draft is tried again (three attempts in all), a tag only the remote has is
fetched first, a tag the policy holds back waits without using up attempts, a tag is drafted once by name, and
`nightcrew run release-watch` reports it all with the run commands' exit codes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner
from sqlalchemy import event
from sqlalchemy.engine import Engine

from jobs import config as config_module
from jobs import release_watch
from jobs.cli import cli
from jobs.state.store import Store, repository_id
from tests.jobs.conftest import git

DRAFTS = ".nightcrew/releases"


def load(work: Path) -> config_module.Config:
    return config_module.load(work / "nightcrew.toml", repo=work)


def seen(work: Path) -> dict[str, tuple[str, int]]:
    """{tag: (outcome, attempts)} as the state file has them."""
    with sqlite3.connect(work / ".nightcrew" / "state.sqlite") as db:
        return {tag: (outcome, attempts) for tag, outcome, attempts in
                db.execute("SELECT tag, outcome, attempts FROM seen_tags")}


def notes_runs(work: Path) -> list[dict]:
    config = load(work)
    with Store.for_repo(config, work) as store:
        return store.runs(repository=repository_id(config, work), job="release-notes")


@pytest.fixture(autouse=True)
def not_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NIGHTCREW_PAUSE", raising=False)


def test_first_watch_records_existing_tags_as_baseline_and_drafts_nothing(tagged) -> None:
    result = release_watch.run_job(tagged.work, load(tagged.work))

    assert result.baseline == ("v1.0.0", "v1.1.0")  # "not-a-release" does not match the tag pattern
    assert result.drafted == () and result.failed == () and result.stopped is None
    assert seen(tagged.work) == {"v1.0.0": ("baseline", 0), "v1.1.0": ("baseline", 0)}
    assert not (tagged.work / DRAFTS).exists()
    assert notes_runs(tagged.work) == []


def test_a_new_tag_is_drafted_once_then_never_again(tagged) -> None:
    config = load(tagged.work)
    release_watch.run_job(tagged.work, config)
    tagged.commit("fix: the timeout (#2)")
    tagged.tag("v1.1.1")

    second = release_watch.run_job(tagged.work, config)
    third = release_watch.run_job(tagged.work, config)

    assert second.drafted == ("v1.1.1",) and second.baseline == ()
    draft = tagged.work / DRAFTS / "v1.1.1.md"
    assert "- The timeout in #2" in draft.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tagged.work / DRAFTS).iterdir()) == ["v1.1.1.md"]
    assert seen(tagged.work)["v1.1.1"] == ("drafted", 1)
    assert third.drafted == () and third.failed == ()
    runs = notes_runs(tagged.work)
    assert [(json.loads(r["summary"])["tag"], r["outcome"]) for r in runs] == [("v1.1.1", "ok")]


def test_new_tags_are_drafted_in_version_order_not_name_order(tagged) -> None:
    config = load(tagged.work)
    release_watch.run_job(tagged.work, config)
    tagged.commit("feat: one (#3)")
    tagged.tag("v1.2.0")
    tagged.commit("feat: two (#4)")
    tagged.tag("v1.10.0")  # sorts before v1.2.0 as text

    result = release_watch.run_job(tagged.work, config)

    assert result.drafted == ("v1.2.0", "v1.10.0")
    assert [json.loads(r["summary"])["tag"] for r in notes_runs(tagged.work)] == ["v1.2.0", "v1.10.0"]


def test_a_failed_draft_is_tried_on_the_next_watches_then_given_up_after_three_attempts(tagged) -> None:
    tagged.config('[release_notes]\nfolder = "drafts"\n')
    (tagged.work / "drafts").write_text("a file where the drafts folder should be\n")  # the draft cannot be written
    config = load(tagged.work)
    release_watch.run_job(tagged.work, config)
    tagged.commit("fix: one (#5)")
    tagged.tag("v1.1.1")

    results = [release_watch.run_job(tagged.work, config) for _ in range(4)]

    assert [r.failed for r in results] == [("v1.1.1",), ("v1.1.1",), (), ()]
    assert [r.gave_up for r in results] == [(), (), ("v1.1.1",), ()]
    assert "Not a directory" in results[0].problems[0] and "attempt 1 of 3" in results[0].problems[0]
    assert seen(tagged.work)["v1.1.1"] == ("gave-up", 3)
    assert [r["outcome"] for r in notes_runs(tagged.work)] == ["failed"] * 3  # the fourth watch did not try


def test_a_draft_that_failed_once_is_drafted_when_the_cause_is_gone(tagged) -> None:
    tagged.config('[release_notes]\nfolder = "drafts"\n')
    blocker = tagged.work / "drafts"
    blocker.write_text("in the way\n")
    config = load(tagged.work)
    release_watch.run_job(tagged.work, config)
    tagged.tag("v1.1.1")

    first = release_watch.run_job(tagged.work, config)
    blocker.unlink()
    second = release_watch.run_job(tagged.work, config)

    assert first.failed == ("v1.1.1",) and second.drafted == ("v1.1.1",)
    assert (blocker / "v1.1.1.md").is_file()
    assert seen(tagged.work)["v1.1.1"] == ("drafted", 2)


def test_a_tag_only_on_the_remote_is_fetched_then_drafted(tagged, tmp_path: Path) -> None:
    config = load(tagged.work)
    release_watch.run_job(tagged.work, config)
    other = tmp_path / "colleague"
    subprocess.run(["git", "clone", "-q", str(tagged.remote), str(other)], check=True)
    (other / "fix.txt").write_text("fixed\n")
    git(other, "add", "fix.txt")
    git(other, "commit", "-qm", "fix: from a colleague (#6)")
    git(other, "tag", "v1.1.2")
    git(other, "push", "-q", "origin", "main", "v1.1.2")
    assert git(tagged.work, "tag", "--list", "v1.1.2") == ""

    result = release_watch.run_job(tagged.work, config)

    assert result.drafted == ("v1.1.2",)
    assert git(tagged.work, "tag", "--list", "v1.1.2") == "v1.1.2"
    assert "- From a colleague in #6" in (tagged.work / DRAFTS / "v1.1.2.md").read_text(encoding="utf-8")
    with Store.for_repo(config, tagged.work) as store:
        fetches = [(r["target"], r["outcome"]) for r in store.audit(run_id=result.run_id, action="git.fetch")]
    assert fetches == [("origin tags", "ok"), ("origin tag v1.1.2", "ok")]


def test_the_first_tag_of_a_repository_watched_while_it_had_none_is_drafted(tmp_path: Path) -> None:
    work = tmp_path / "fresh"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "a.txt").write_text("a\n")
    git(work, "add", "a.txt")
    git(work, "commit", "-qm", "feat: first (#1)")
    config = config_module.load(None, repo=work)

    empty = release_watch.run_job(work, config)
    git(work, "tag", "v0.1.0")
    later = release_watch.run_job(work, config)

    assert empty.baseline == () and empty.drafted == ()
    assert later.baseline == () and later.drafted == ("v0.1.0",)


def test_a_paused_watch_stops_before_drafting_and_leaves_the_tag_for_later(tagged) -> None:
    config = load(tagged.work)
    release_watch.run_job(tagged.work, config)
    tagged.tag("v1.1.1")
    (tagged.work / ".nightcrew-pause").write_text("release freeze\n")

    paused = release_watch.run_job(tagged.work, config)
    (tagged.work / ".nightcrew-pause").unlink()
    resumed = release_watch.run_job(tagged.work, config)

    assert paused.stopped and "release freeze" in paused.stopped and paused.drafted == ()
    assert resumed.drafted == ("v1.1.1",)
    with Store.for_repo(config, tagged.work) as store:
        outcomes = [r["outcome"] for r in store.runs(job="release-watch")]
    assert outcomes == ["ok", "paused", "ok"]


def test_run_release_watch_prints_json_and_exits_1_when_a_draft_failed(tagged) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["run", "release-watch", "--repo", str(tagged.work), "--format", "json"])
    tagged.config('[release_notes]\nfolder = "drafts"\n')
    (tagged.work / "drafts").write_text("in the way\n")
    tagged.tag("v1.1.1")
    failing = runner.invoke(cli, ["run", "release-watch", "--repo", str(tagged.work), "--format", "json"])
    (tagged.work / "drafts").unlink()
    table = runner.invoke(cli, ["run", "release-watch", "--repo", str(tagged.work), "--format", "table"])

    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["baseline"] == ["v1.0.0", "v1.1.0"]
    assert json.loads(first.stdout)["schema"] == "nightcrew.release-watch/1"
    assert failing.exit_code == 1
    assert json.loads(failing.stdout)["failed"] == ["v1.1.1"]
    assert "nightcrew: error: v1.1.1: release notes failed (attempt 1 of 3)" in failing.stderr
    assert table.exit_code == 0 and table.stdout.strip() == "drafted: v1.1.1"


def test_with_the_github_forge_a_new_tag_becomes_a_draft_release(tagged, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.github_server import GitHubStandIn

    hub = GitHubStandIn(tagged.remote, full_name="acme/widgets")
    hub.start()
    try:
        hub.add_merged_pull("Fix the timeout", "", number=2, labels=["bug"], author="bob")
        tagged.config(f'[forge]\nkind = "github"\napi_url = "{hub.api_url}"\nrepository = "acme/widgets"\n'
                      'throttle = false\nremote = "origin"\n')
        monkeypatch.setenv("GITHUB_TOKEN", "bot-token")
        config = load(tagged.work)
        release_watch.run_job(tagged.work, config)
        tagged.commit("Fix the timeout (#2)")
        tagged.tag("v1.1.1", push=True)

        result = release_watch.run_job(tagged.work, config)
        again = release_watch.run_job(tagged.work, config)
        drafts = [r for r in hub.releases() if r["tag_name"] == "v1.1.1"]
    finally:
        hub.stop()

    assert result.drafted == ("v1.1.1",) and again.drafted == ()
    assert len(drafts) == 1 and drafts[0]["draft"] is True and "/pull/2" in drafts[0]["body"]
    assert not (tagged.work / DRAFTS).exists()
    with Store.for_repo(config, tagged.work) as store:
        assert store.seen_tags("acme/widgets")["v1.1.1"] == "drafted"


def test_a_first_watch_that_cannot_list_the_remote_records_nothing_so_no_old_tag_is_drafted_later(
        tagged, tmp_path: Path) -> None:
    config = load(tagged.work)
    git(tagged.work, "push", "-q", "origin", "HEAD:refs/tags/v0.9.0")  # an old release only the remote has
    git(tagged.work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))

    offline = release_watch.run_job(tagged.work, config)
    git(tagged.work, "remote", "set-url", "origin", str(tagged.remote))
    online = release_watch.run_job(tagged.work, config)

    assert offline.baseline == () and offline.drafted == ()
    assert "remote tags not listed" in offline.problems[0] and "nothing recorded" in offline.problems[1]
    assert online.baseline == ("v0.9.0", "v1.0.0", "v1.1.0") and online.drafted == ()


QUIET_ALL_DAY = '[policy]\ntimezone = "Asia/Tokyo"\nquiet_hours = ["00:00-23:59"]\n'
NOON_IN_TOKYO = datetime(2026, 3, 2, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


@pytest.mark.parametrize("policy", [QUIET_ALL_DAY, '[policy]\nmode = "advisory"\n'], ids=["quiet-hours", "advisory"])
def test_a_tag_the_policy_holds_back_waits_without_using_attempts_then_is_drafted_once_allowed(tagged,
                                                                                            policy) -> None:
    tagged.config(policy)
    held = load(tagged.work)
    with time_machine.travel(NOON_IN_TOKYO, tick=True):  # inside the quiet hours where they are configured
        release_watch.run_job(tagged.work, held)
        tagged.commit("fix: the clock (#8)")
        tagged.tag("v1.1.1")
        waiting = [release_watch.run_job(tagged.work, held) for _ in range(4)]  # more than MAX_ATTEMPTS
        assert "v1.1.1" not in seen(tagged.work)
        tagged.config("")  # the quiet hours are over / the mode is "propose" again
        allowed = load(tagged.work)
        drafted = release_watch.run_job(tagged.work, allowed)
        after = release_watch.run_job(tagged.work, allowed)

    assert [r.waiting for r in waiting] == [("v1.1.1",)] * 4
    assert all(r.failed == () and r.gave_up == () and r.drafted == () and r.problems == () for r in waiting)
    assert "the policy said no" in waiting[0].notices[0] and "forge.draft_release denied" in waiting[0].notices[0]
    assert drafted.drafted == ("v1.1.1",) and after.drafted == () and after.waiting == ()
    assert seen(tagged.work)["v1.1.1"] == ("drafted", 1)
    assert "- The clock in #8" in (tagged.work / DRAFTS / "v1.1.1.md").read_text(encoding="utf-8")
    with Store.for_repo(allowed, tagged.work) as store:
        assert [r["outcome"] for r in store.runs(job="release-watch")] == ["ok"] * 7  # waiting is not an error


def test_run_release_watch_exits_0_while_the_policy_holds_a_tag_back(tagged) -> None:
    tagged.config(QUIET_ALL_DAY)
    runner = CliRunner()
    with time_machine.travel(NOON_IN_TOKYO, tick=True):
        runner.invoke(cli, ["run", "release-watch", "--repo", str(tagged.work)])
        tagged.tag("v1.1.1")
        quiet = runner.invoke(cli, ["run", "release-watch", "--repo", str(tagged.work), "--format", "table"])

    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout.strip() == "waiting (tried again next watch): v1.1.1"
    assert "nightcrew: note: v1.1.1: waiting, the policy said no" in quiet.stderr and "quiet-hours" in quiet.stderr


def test_whether_a_repository_was_watched_before_is_one_row_not_every_watch_run(tmp_path: Path) -> None:
    work = tmp_path / "untagged"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "a.txt").write_text("a\n")
    git(work, "add", "a.txt")
    git(work, "commit", "-qm", "feat: first (#1)")
    config = config_module.load(None, repo=work)
    release_watch.run_job(work, config)  # no tags: nothing recorded but the run itself
    with Store.for_repo(config, work) as store:  # a year of watches every few minutes, in short
        for n in range(50):
            store.start_run(f"old-{n}", repository_id(config, work), "release-watch", "propose")
            store.end_run(f"old-{n}", "ok")
    git(work, "tag", "v0.1.0")
    statements: list[str] = []

    def seen_statement(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", seen_statement)
    try:
        result = release_watch.run_job(work, config)
    finally:
        event.remove(Engine, "before_cursor_execute", seen_statement)

    assert result.drafted == ("v0.1.0",) and result.baseline == ()  # it knew it had watched before
    reads = [s for s in statements if s.startswith("SELECT") and " FROM runs" in s]
    assert reads, "the watch asks whether it watched before"
    # every read of the runs table asks for one row (or one per job): none loads the watch's history
    assert all("EXISTS" in s or "LIMIT" in s or "GROUP BY" in s for s in reads), reads


def test_a_tag_moved_after_its_draft_was_written_is_not_drafted_again(tagged) -> None:
    config = load(tagged.work)
    release_watch.run_job(tagged.work, config)
    tagged.tag("v1.1.1")
    first = release_watch.run_job(tagged.work, config)
    tagged.commit("fix: after the release (#9)")
    git(tagged.work, "tag", "-f", "v1.1.1")  # moved to the new commit

    moved = release_watch.run_job(tagged.work, config)

    assert first.drafted == ("v1.1.1",) and moved.drafted == () and moved.waiting == ()
    assert "#9" not in (tagged.work / DRAFTS / "v1.1.1.md").read_text(encoding="utf-8")


def test_run_release_watch_help_says_a_tag_is_drafted_once_and_how_to_redraft_it() -> None:
    result = CliRunner().invoke(cli, ["run", "release-watch", "--help"])

    text = " ".join(result.output.split())
    assert result.exit_code == 0
    assert "A tag is drafted once" in text
    assert "deleted and created again" in text and "nightcrew run release-notes --tag TAG" in text

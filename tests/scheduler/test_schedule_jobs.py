"""Scheduled runs are the real jobs: a scheduled release watch baselines, then drafts a newly pushed tag once;
a scheduled dependency-update run still in its test step keeps the next trigger from starting a second one."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import time_machine
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor

from jobs import config as config_module
from jobs.scheduler import build_scheduler
from jobs.state.store import Store, repository_id
from tests.jobs.conftest import git

UTC = timezone.utc


@pytest.fixture(autouse=True)
def not_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NIGHTCREW_PAUSE", raising=False)


def wait_for(path: Path, seconds: float) -> None:
    """Poll for a file a real process writes (not a schedule: the clock the scheduler sees is frozen)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear within {seconds} s"
        time.sleep(0.05)


def test_a_scheduled_watch_baselines_then_drafts_a_pushed_tag_exactly_once(tagged, manual_scheduler, tmp_path,
                                                                           log_lines) -> None:
    path = tagged.config('[schedule]\ndependency_updates = ""\nrelease_watch = "*/10 * * * *"\nreport = ""\n')
    config = config_module.load(path, repo=tagged.work)
    with time_machine.travel(datetime(2026, 3, 2, 9, 55, tzinfo=UTC), tick=False) as clock:
        scheduler = build_scheduler(tagged.work, config, path, scheduler_class=manual_scheduler,
                                    executors={"default": DebugExecutor()})
        scheduler.start()
        try:
            clock.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
            scheduler.tick()  # first watch: what is there is the baseline
            colleague = tmp_path / "colleague"
            subprocess.run(["git", "clone", "-q", str(tagged.remote), str(colleague)], check=True)
            (colleague / "fix.txt").write_text("fixed\n")
            git(colleague, "add", "fix.txt")
            git(colleague, "commit", "-qm", "fix: the retry loop (#7)")
            git(colleague, "tag", "v1.1.1")
            git(colleague, "push", "-q", "origin", "main", "v1.1.1")
            for minute in (10, 20):
                clock.move_to(datetime(2026, 3, 2, 10, minute, tzinfo=UTC))
                scheduler.tick()
        finally:
            scheduler.shutdown()

    drafts = tagged.work / ".nightcrew" / "releases"
    assert sorted(p.name for p in drafts.iterdir()) == ["v1.1.1.md"]
    assert "- The retry loop in #7" in (drafts / "v1.1.1.md").read_text(encoding="utf-8")
    with Store.for_repo(config, tagged.work) as store:
        repository = repository_id(config, tagged.work)
        assert store.seen_tags(repository) == {"v1.0.0": "baseline", "v1.1.0": "baseline", "v1.1.1": "drafted"}
        assert [r["outcome"] for r in store.runs(repository=repository, job="release-watch")] == ["ok"] * 3
        assert [json.loads(r["summary"])["tag"] for r in store.runs(repository=repository, job="release-notes")] \
            == ["v1.1.1"]
        assert [d["tag"] for d in store.drafts(repository=repository)] == ["v1.1.1"]
    done = [r["detail"] for r in log_lines.all() if r["job"] == "release-watch" and r["event"] == "done"]
    assert [d.split(": ", 1)[1] for d in done] == ["baseline v1.0.0, v1.1.0", "drafted v1.1.1", "no new tags"]


def test_while_a_run_is_in_its_test_step_the_next_trigger_does_not_start_another(project, tmp_path,
                                                                                manual_scheduler, log_lines) -> None:
    inside, go_on = tmp_path / "inside-tests", tmp_path / "go-on"
    # the repository's "tests": say they started, then wait (bounded) until the test lets them finish
    command = (f"python -c \"import pathlib, time; pathlib.Path(r'{inside}').write_text('x'); "
               f"[time.sleep(0.05) for _ in range(600) if not pathlib.Path(r'{go_on}').exists()]\"")
    project.write_config(f"command = {json.dumps(command)}\n\n[schedule]\ndependency_updates = \"*/5 * * * *\"\n"
                         "release_watch = \"\"\nreport = \"\"\n")
    path = project.work / "nightcrew.toml"
    config = config_module.load(path, repo=project.work)
    with time_machine.travel(datetime(2026, 3, 2, 10, 4, tzinfo=UTC), tick=False) as clock:
        scheduler = build_scheduler(project.work, config, path, scheduler_class=manual_scheduler,
                                    executors={"default": ThreadPoolExecutor(max_workers=2)})
        scheduler.start()
        try:
            clock.move_to(datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
            scheduler.tick()
            wait_for(inside, 90)
            clock.move_to(datetime(2026, 3, 2, 10, 10, tzinfo=UTC))
            scheduler.tick()  # due again while the first run is still in its tests
            skipped = [r for r in log_lines.all() if r["event"] == "skipped"]
        finally:
            go_on.write_text("go on\n")
            scheduler.shutdown(wait=True)

    assert [r["job"] for r in skipped] == ["dependency-updates"]
    assert "2026-03-02T10:10:00+00:00" in skipped[0]["detail"]
    assert log_lines.events("dependency-updates") == ["start", "skipped", "done"]
    with Store.for_repo(config, project.work) as store:
        runs = store.runs(job="dependency-updates")
    assert [r["outcome"] for r in runs] == ["ok"]

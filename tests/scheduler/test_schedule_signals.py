"""`nightcrew schedule` in a real subprocess: SIGTERM while a dependency-update run is in its test step lets the
step finish, stops the run before its next step (no half-made pull request, no stray worktree) and exits 0;
SIGINT on an idle scheduler exits 0 at once and keeps the schedule; a second scheduler on the same state file
exits 75; the lock of a scheduler whose process is gone, or that stopped renewing it, is taken over."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import time_machine

from jobs import config as config_module
from jobs.scheduler import SchedulerLock
from jobs.state.store import Locked, Store
from tests.jobs.conftest import git


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("NIGHTCREW_PAUSE", "GITHUB_TOKEN", "CI")}


def schedule(repo: Path, log: Path, *args: str) -> subprocess.Popen:
    with log.open("w") as err:
        return subprocess.Popen([sys.executable, "-m", "jobs", "schedule", "--repo", str(repo), *args], cwd=repo,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=environment())


def wait_until(done, what: str, proc: subprocess.Popen, seconds: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not done():
        assert proc.poll() is None, f"the scheduler exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.05)


def log_records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def stop(proc: subprocess.Popen, sig: int, seconds: float) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=seconds)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_lets_the_test_step_finish_then_stops_the_run_and_exits_0(project, tmp_path: Path) -> None:
    inside = tmp_path / "inside-tests"
    command = f"python -c \"import pathlib, time; pathlib.Path(r'{inside}').write_text('x'); time.sleep(3)\""
    project.write_config(f"command = {json.dumps(command)}\n\n[schedule]\ndependency_updates = \"17 3 * * *\"\n"
                         "release_watch = \"\"\nreport = \"\"\n")
    log = tmp_path / "scheduler.log"
    proc = schedule(project.work, log, "--run-now", "dependency-updates")
    try:
        wait_until(inside.exists, "test step", proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    signalled = time.monotonic()
    code = stop(proc, signal.SIGTERM, 60)
    waited = time.monotonic() - signalled

    assert code == 0, log.read_text()
    assert waited < 30
    records = log_records(log)
    assert [r["event"] for r in records if r["job"] == "scheduler"][-2:] == ["stopping", "stopped"]
    assert records[-1]["detail"] == "stopped on SIGTERM"
    (ended,) = [r for r in records if r["job"] == "dependency-updates" and r["event"] not in ("scheduled", "start")]
    assert ended["event"] == "stopped" and "SIGTERM" in ended["detail"]

    config = config_module.load(project.work / "nightcrew.toml", repo=project.work)
    with Store.for_repo(config, project.work) as store:
        (run,) = store.runs(job="dependency-updates")
        actions = [(a["action"], a["outcome"]) for a in store.audit(run_id=run["id"])]
    assert run["outcome"] == "interrupted"
    assert ("tests.run", "ok") in actions, "the test step ran to its end"
    assert actions[-1][0] == "run.stop" and actions[-1][1] == "stopped"
    assert "tests.run" not in [a for a, _ in actions[actions.index(("tests.run", "ok")) + 1:]]
    audit_file = (project.work / ".nightcrew" / "audit.jsonl").read_text().splitlines()
    assert json.loads(audit_file[-1])["action"] == "run.stop"
    # nothing half-made: no branch pushed or kept without its pull request, no pull request at all
    with sqlite3.connect(project.work / ".nightcrew" / "state.sqlite") as db:
        assert db.execute("SELECT count(*) FROM pulls").fetchone() == (0,)
    assert git(project.work, "ls-remote", "--heads", str(project.remote)).split()[1::2] == ["refs/heads/main"]
    assert git(project.work, "branch", "--list", "--format=%(refname:short)").split() == ["main"]
    worktrees = [line for line in git(project.work, "worktree", "list", "--porcelain").splitlines()
                 if line.startswith("worktree ")]
    assert worktrees == [f"worktree {project.work}"]


def test_sigint_on_an_idle_scheduler_exits_0_and_keeps_the_schedule(tagged, tmp_path: Path) -> None:
    tagged.config('[schedule]\ndependency_updates = ""\nrelease_watch = "0 0 1 1 *"\nreport = ""\n')
    log = tmp_path / "scheduler.log"
    proc = schedule(tagged.work, log)
    wait_until(lambda: any(r["event"] == "started" for r in log_records(log)), "start line", proc, 30)

    code = stop(proc, signal.SIGINT, 15)

    assert code == 0, log.read_text()
    records = log_records(log)
    assert [(r["job"], r["event"]) for r in records] == [
        ("dependency-updates", "off"), ("release-watch", "scheduled"), ("report", "off"),
        ("scheduler", "started"), ("scheduler", "stopping"), ("scheduler", "stopped")]
    assert "next run 20" in records[1]["detail"] and records[-1]["detail"] == "stopped on SIGINT"
    with sqlite3.connect(tagged.work / ".nightcrew" / "state.sqlite") as db:
        assert [row[0] for row in db.execute("SELECT id FROM apscheduler_jobs")] == ["release-watch"]
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_a_second_scheduler_on_the_same_state_file_exits_75_and_leaves_the_first_alone(tagged, tmp_path: Path) -> None:
    tagged.config('[schedule]\ndependency_updates = ""\nrelease_watch = "0 0 1 1 *"\nreport = ""\n')
    first_log = tmp_path / "first.log"
    first = schedule(tagged.work, first_log)
    try:
        wait_until(lambda: any(r["event"] == "started" for r in log_records(first_log)), "start line", first, 30)
        tagged.config('[schedule]\ndependency_updates = ""\nrelease_watch = ""\nreport = ""\n')  # would remove it
        second = subprocess.run([sys.executable, "-m", "jobs", "schedule", "--repo", str(tagged.work)], cwd=tagged.work,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, env=environment(),
                                timeout=30)
        assert first.poll() is None, "the first scheduler is still running"
    finally:
        code = stop(first, signal.SIGINT, 15)

    assert second.returncode == 75, second.stderr
    (line,) = second.stderr.splitlines()
    assert line.startswith("nightcrew: error: ") and "scheduler is already running" in line
    assert f"process {first.pid}" in line
    assert code == 0, first_log.read_text()
    with sqlite3.connect(tagged.work / ".nightcrew" / "state.sqlite") as db:
        assert [row[0] for row in db.execute("SELECT id FROM apscheduler_jobs")] == ["release-watch"]
        assert db.execute("SELECT count(*) FROM locks").fetchone() == (0,), "released on shutdown"


def test_a_scheduler_lock_left_by_a_process_that_is_gone_is_taken_over(tagged, tmp_path: Path) -> None:
    tagged.config('[schedule]\ndependency_updates = ""\nrelease_watch = "0 0 1 1 *"\nreport = ""\n')
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    config = config_module.load(tagged.work / "nightcrew.toml", repo=tagged.work)
    with Store.for_repo(config, tagged.work) as store:
        held = store.acquire("*", "scheduler", "crashed", stale_after=timedelta(hours=2))
        assert held.took_over is None
        store.engine.dispose()
    with sqlite3.connect(tagged.work / ".nightcrew" / "state.sqlite") as db:  # as if that process held it
        db.execute("UPDATE locks SET pid = ? WHERE run_id = 'crashed'", (gone.pid,))
    log = tmp_path / "scheduler.log"
    proc = schedule(tagged.work, log)
    try:
        wait_until(lambda: any(r["event"] == "started" for r in log_records(log)), "start line", proc, 30)
    finally:
        code = stop(proc, signal.SIGINT, 15)

    assert code == 0, log.read_text()
    (took,) = [r for r in log_records(log) if r["event"] == "took-over"]
    assert "run crashed" in took["detail"] and f"process {gone.pid}" in took["detail"]


def test_a_scheduler_lock_kept_alive_by_its_heartbeat_is_not_taken_over_from_another_host(tagged) -> None:
    config = config_module.load(tagged.work / "nightcrew.toml", repo=tagged.work)  # stale after 120 minutes
    state = tagged.work / ".nightcrew" / "state.sqlite"
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc), tick=False) as clock:
        with SchedulerLock(config, tagged.work) as lock:
            with sqlite3.connect(state) as db:  # as if it ran on another host: only its silence can free it
                db.execute("UPDATE locks SET host = 'elsewhere', pid = 1 WHERE job = 'scheduler'")
            clock.move_to(datetime(2026, 3, 2, 11, 50, tzinfo=timezone.utc))
            lock.renew()
            clock.move_to(datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc))  # 70 min after the last beat
            try:
                with SchedulerLock(config, tagged.work):
                    raise AssertionError("a live scheduler's lock was taken over")
            except Locked as exc:
                assert "already running" in str(exc)
            clock.move_to(datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc))  # 130 min: silent too long
            with SchedulerLock(config, tagged.work) as other:
                with sqlite3.connect(state) as db:
                    assert db.execute("SELECT run_id FROM locks").fetchall() == [(other.run_id,)]
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT count(*) FROM locks").fetchone() == (0,)

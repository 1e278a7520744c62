"""`nightcrew schedule` in a real subprocess: SIGTERM while a dependency-update run is in its test step lets the
step finish, stops the run before its next step (no half-made pull request, no stray worktree) and exits 0;
SIGINT on an idle scheduler exits 0 at once and keeps the schedule."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from jobs import config as config_module
from jobs.state.store import Store
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

"""The run lock as a run sees it: a run whose lock was taken over stops at its next step; a lock left under this
process's own pid by a run this process does not have (a restarted container is pid 1 again) is taken over."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from jobs import config as config_module
from jobs.runs import JobRun
from jobs.state import schema
from jobs.state.store import Locked, Store, stamp
from jobs.tools import Stopped


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "repo").mkdir()
    return tmp_path / "repo"


def test_a_run_whose_lock_was_taken_over_stops_before_its_next_action(repo: Path) -> None:
    config = config_module.load(repo=repo)
    with JobRun(repo, config, "dependency-updates") as run:
        run.gate.run("forge.read", "first", lambda: None)
        # another run decided this one looked stale and took the lock
        with run.store.transaction() as conn:
            conn.execute(update(schema.locks).where(schema.locks.c.run_id == run.run_id).values(run_id="usurper"))
        run.gate.run("forge.read", "second", lambda: None)  # this record is where the loss is noticed
        with pytest.raises(Stopped, match="another run took over this run's lock"):
            run.gate.run("git.push", "origin main", lambda: pytest.fail("must not push without the lock"))
        run.finish("ok")
    store = Store.for_repo(config, repo)
    assert store.lock_holder(run.repository, "dependency-updates").run_id == "usurper"  # not released by the loser
    assert [r["outcome"] for r in store.audit(action="run.stop")] == ["stopped"]
    store.close()


def test_a_lock_under_our_own_pid_but_no_run_of_ours_is_taken_over(repo: Path) -> None:
    config = config_module.load(repo=repo)
    store = Store.for_repo(config, repo)
    from jobs.state.store import repository_id

    repository = repository_id(config, repo)
    with store.transaction() as conn:
        conn.execute(insert(schema.locks).values(repository=repository, job="dependency-updates", run_id="before-restart",
                                                 pid=os.getpid(), host=socket.gethostname(), acquired_at=stamp(),
                                                 heartbeat_at=stamp()))
    with JobRun(repo, config, "dependency-updates", store=store) as run:
        [note] = store.audit(run_id=run.run_id, action="state.lock")
        assert "before-restart" in note["detail"] and "pid reused" in note["detail"]
        # while this run holds it, a second taker in the same process is refused: the pid is alive and the run is ours
        with pytest.raises(Locked):
            store.acquire(repository, "dependency-updates", "second", stale_after=timedelta(hours=2))
        run.finish("ok")
    store.close()


def test_status_marks_a_lock_whose_process_is_gone_as_stale(repo: Path) -> None:
    import json
    import subprocess
    import sys

    from click.testing import CliRunner

    from jobs.cli import cli
    from jobs.state.store import repository_id

    config = config_module.load(repo=repo)
    store = Store.for_repo(config, repo)
    repository = repository_id(config, repo)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with store.transaction() as conn:
        for job, pid in (("dependency-updates", gone.pid), ("release-watch", os.getppid())):
            conn.execute(insert(schema.locks).values(repository=repository, job=job, run_id=f"run-{job}", pid=pid,
                                                     host=socket.gethostname(), acquired_at=stamp(),
                                                     heartbeat_at=stamp()))
    store.close()
    result = CliRunner().invoke(cli, ["status", "--repo", str(repo), "--format", "json"])
    locks = {lock["job"]: lock["stale"] for lock in json.loads(result.stdout)["locks"]}
    assert locks["dependency-updates"] == f"process {gone.pid} on {socket.gethostname()} is gone"
    assert locks["release-watch"] is None  # a live process (pytest's parent) holds it

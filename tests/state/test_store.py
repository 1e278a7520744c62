"""The state store on real SQLite files: migrations, transactions, crash safety, run locks and their takeover."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine

from jobs.config import load
from jobs.runs import JobRun
from jobs.state import schema
from jobs.state.store import Locked, StateError, Store, repository_id, stamp

ROOT = Path(__file__).resolve().parents[2]

# The release_drafts table as nightcrew 0.1 created it (git show 4c1baf8~1:jobs/state/drafts.py).
V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS release_drafts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tag          TEXT NOT NULL,
    generated    TEXT NOT NULL,
    text_hash    TEXT NOT NULL,
    location     TEXT NOT NULL,
    action       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS release_drafts_tag ON release_drafts (tag, id);
"""


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def old_file(path: Path, *, version_table: bool) -> None:
    db = sqlite3.connect(path)
    with db:
        db.executescript(V1_SCHEMA)
        db.execute("INSERT INTO release_drafts (tag, generated, text_hash, location, action, created_at) "
                   "VALUES ('v1.0.0', '## Notes', 'abc123', 'RELEASE_NOTES.md', 'created', '2025-01-02T03:04:05+00:00')")
        if version_table:
            db.execute("CREATE TABLE nightcrew_schema (version INTEGER NOT NULL)")
            db.execute("INSERT INTO nightcrew_schema VALUES (1)")
    db.close()


@pytest.mark.parametrize("version_table", [False, True], ids=["0.1-file-without-version", "version-1"])
def test_an_old_file_is_migrated_to_the_latest_version_keeping_its_rows(tmp_path: Path, version_table: bool) -> None:
    path = tmp_path / "state.sqlite"
    old_file(path, version_table=version_table)
    with Store(url(path)) as store:
        assert store.version() == schema.LATEST
        [draft] = store.drafts()
        assert (draft["tag"], draft["generated"], draft["action"]) == ("v1.0.0", "## Notes", "created")
        assert draft["final_text"] is None and draft["repository"] is None  # the columns version 2 added
        store.set_final(draft["id"], "## Notes, edited", 0.2)  # and they work
        store.start_run("r1", "acme/api", "report", "propose")  # so do the new tables
        assert store.drafts()[0]["final_text"] == "## Notes, edited"
    with Store(url(path)) as again:  # opening a migrated file migrates nothing
        assert again.version() == schema.LATEST and len(again.drafts()) == 1


def test_a_newer_schema_than_this_nightcrew_knows_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    Store(url(path)).close()
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE nightcrew_schema SET version = ?", (schema.LATEST + 1,))
    db.close()
    with pytest.raises(StateError) as error:
        Store(url(path))
    message = str(error.value)
    assert f"schema version {schema.LATEST + 1}, newer than this nightcrew ({schema.LATEST}): upgrade" in message
    assert "state.sqlite" in message and "\n" not in message


def test_a_failing_transaction_leaves_the_previous_state(tmp_path: Path) -> None:
    with Store(url(tmp_path / "state.sqlite")) as store:
        store.set_control("acme/api", "paused", "before")
        with pytest.raises(RuntimeError, match="halfway"):
            with store.transaction() as conn:
                conn.execute(schema.controls.delete())
                conn.execute(schema.runs.insert().values(id="r1", repository="acme/api", job="report", mode="propose",
                                                         started_at=stamp(), outcome="running"))
                raise RuntimeError("halfway")
        assert store.control("acme/api", "paused")["value"] == "before"
        assert store.runs() == []


def _child(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)


def _kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def test_a_process_killed_before_commit_leaves_the_previous_state(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with Store(url(path)) as store:
        store.set_control("acme/api", "paused", "before")
    child = _child(f"""
        import sys, time
        from jobs.state import schema
        from jobs.state.store import Store
        store = Store({url(path)!r})
        with store.transaction() as conn:
            conn.execute(schema.controls.delete())
            conn.execute(schema.runs.insert().values(id="r1", repository="acme/api", job="report", mode="propose",
                                                     started_at="2026-01-01T00:00:00.000+00:00", outcome="running"))
            print("written", flush=True)
            time.sleep(120)  # killed here, before the commit
    """)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "written"
    finally:
        _kill(child)
    with Store(url(path)) as store:
        assert store.control("acme/api", "paused")["value"] == "before"
        assert store.runs() == []
        store.set_control("acme/api", "paused", "after")  # and the file is writable again
        assert store.control("acme/api", "paused")["value"] == "after"


def test_a_second_acquire_of_a_held_lock_raises_locked(tmp_path: Path) -> None:
    with Store(url(tmp_path / "state.sqlite")) as store:
        assert store.acquire("acme/api", "report", "run-a", stale_after=timedelta(hours=2)).took_over is None
        with pytest.raises(Locked, match=r"report is already running \(run run-a, process"):
            store.acquire("acme/api", "report", "run-b", stale_after=timedelta(hours=2))
        assert store.acquire("acme/api", "dependency-updates", "run-c", stale_after=timedelta(hours=2))  # other job
        store.release("acme/api", "report", "run-a")
        assert store.acquire("acme/api", "report", "run-b", stale_after=timedelta(hours=2)).took_over is None


def test_the_lock_of_a_killed_run_is_taken_over_and_the_audit_says_so(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    child = _child(f"""
        import time
        from pathlib import Path
        from jobs.config import load
        from jobs.runs import JobRun
        repo = Path({str(repo)!r})
        with JobRun(repo, load(None, repo=repo), "dependency-updates") as run:
            print(run.run_id, flush=True)
            time.sleep(120)  # killed while holding the lock
    """)
    try:
        assert child.stdout is not None
        dead = child.stdout.readline().strip()
    finally:
        _kill(child)
    assert len(dead) == 12
    config = load(None, repo=repo)
    with JobRun(repo, config, "dependency-updates") as run:
        holder = run.store.lock_holder(run.repository, "dependency-updates")
        assert holder is not None and holder.run_id == run.run_id
        run.finish("ok")
    with Store.for_repo(config, repo) as store:
        [takeover] = store.audit(action="state.lock")
        assert (takeover["outcome"], takeover["rule"], takeover["run_id"]) == ("took-over", "stale-lock", run.run_id)
        assert f"took over the lock of run {dead}" in takeover["detail"] and "is gone" in takeover["detail"]
        outcomes = {r["id"]: r["outcome"] for r in store.runs()}
        assert outcomes == {dead: "abandoned", run.run_id: "ok"}
        assert store.lock_holder(repository_id(config, repo), "dependency-updates") is None  # released
    assert '"took-over"' in (repo / ".nightcrew" / "audit.jsonl").read_text()


def test_a_silent_lock_from_another_host_is_taken_over_only_after_stale_lock_minutes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "nightcrew.toml").write_text("[state]\nstale_lock_minutes = 30\n")
    config = load(None, repo=repo)
    start = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        with Store.for_repo(config, repo) as store:
            with store.transaction() as conn:
                conn.execute(schema.locks.insert().values(
                    repository=repository_id(config, repo), job="dependency-updates", run_id="elsewhere01",
                    pid=4242, host="build-host-7.example", acquired_at=stamp(), heartbeat_at=stamp()))
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        with pytest.raises(Locked, match="run elsewhere01, process 4242 on build-host-7.example"):
            with JobRun(repo, config, "dependency-updates"):
                pass
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        with JobRun(repo, config, "dependency-updates") as run:
            run.finish("ok")
    with Store.for_repo(config, repo) as store:
        [takeover] = store.audit(action="state.lock")
        assert "took over the lock of run elsewhere01" in takeover["detail"]
        assert "no sign of life from process 4242 on build-host-7.example for 1860 s" in takeover["detail"]

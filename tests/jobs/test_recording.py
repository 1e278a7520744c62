"""What a real dependency-update run leaves in the state store: the run, each change, the bot's PRs and their fate,
and the overrides people make (closing, editing, pushing to a bot branch); and the run lock as the CLI sees it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from jobs import config as config_module
from jobs.cli import EXIT_LOCKED, cli
from jobs.forges.local import LocalForge
from jobs.state.store import Store, repository_id
from jobs.vcs import Git
from tests.jobs.conftest import Project, git


def run(project: Project, *args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(project.work), "--format", "json",
                                      *args])
    return result.exit_code, json.loads(result.stdout) if result.stdout else {}, result.stderr


def store_of(project: Project) -> tuple[Store, str]:
    config = config_module.load(repo=project.work)
    return Store.for_repo(config, project.work), repository_id(config, project.work)


def test_a_run_records_itself_its_changes_and_its_pulls(project: Project) -> None:
    code, data, err = run(project)
    assert code == 0, err
    store, repository = store_of(project)
    [row] = store.runs(repository=repository, job="dependency-updates")
    assert row["id"] == data["run_id"] and row["outcome"] == "ok" and row["ended_at"] is not None
    assert json.loads(row["summary"])["changes"] == {"opened": 2}
    pulls = {p["branch"]: p for p in store.tracked_pulls(repository)}
    minor, major = pulls["nightcrew/mathlib-1.1.0"], pulls["nightcrew/mathlib-2.0.0"]
    assert (minor["kind"], minor["tests"], minor["state"]) == ("minor", "passed", "open")
    assert (major["kind"], major["tests"], major["state"]) == ("major", "failed", "open")
    assert json.loads(major["packages"]) == {"mathlib": "2.0.0"}
    # every audit record of the run is in the store as well as in the JSON Lines file
    audit_file = (project.work / ".nightcrew" / "audit.jsonl").read_text().splitlines()
    stored = store.audit(run_id=data["run_id"])
    assert len(stored) == len(audit_file) > 0
    assert {r["action"] for r in stored} >= {"index.fetch", "tests.run", "git.push", "forge.create_pull"}
    assert store.lock_holder(repository, "dependency-updates") is None  # released
    store.close()


def test_overrides_closed_edited_and_pushed_are_recorded_once(project: Project, tmp_path: Path) -> None:
    run(project)
    store, repository = store_of(project)
    pulls = {p["branch"]: p for p in store.tracked_pulls(repository)}
    major, minor = pulls["nightcrew/mathlib-2.0.0"], pulls["nightcrew/mathlib-1.1.0"]
    # a person closes the major bump, edits the minor one's text, and pushes a commit to its branch
    CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "close", str(major["number"])])
    forge = LocalForge(Git(project.work), project.work / ".nightcrew/state.sqlite", project.work / ".nightcrew/prs")
    current = forge.get_pull(minor["number"])
    forge.update_pull(minor["number"], title=current.title, body=current.body + "\n\nLooks fine to me.")
    forge.close()
    clone = tmp_path / "human"
    git(tmp_path, "clone", "-q", "-b", "nightcrew/mathlib-1.1.0", str(project.remote), str(clone))
    (clone / "NOTES.md").write_text("a maintainer's fix\n")
    git(clone, "add", "NOTES.md")
    git(clone, "commit", "-qm", "maintainer fix")
    git(clone, "push", "-q", "origin", "nightcrew/mathlib-1.1.0")

    run(project)
    run(project)  # a second look records nothing twice
    overrides = sorted((o["kind"], o["pull_number"], json.loads(o["packages"]), o["update_kind"])
                       for o in _overrides(store))
    assert overrides == sorted([
        ("closed-unmerged", major["number"], {"mathlib": "2.0.0"}, "major"),
        ("edited", minor["number"], {"mathlib": "1.1.0"}, "minor"),
        ("branch-pushed", minor["number"], {"mathlib": "1.1.0"}, "minor"),
    ])
    closed = store.tracked_pull(repository, major["number"])
    assert (closed["state"], closed["closed_by"]) == ("closed", "human")
    store.close()


def _overrides(store: Store) -> list[dict]:
    from sqlalchemy import select

    from jobs.state import schema

    return store._rows(select(schema.overrides))


def test_a_live_run_holding_the_lock_makes_the_next_exit_75_and_do_nothing(project: Project) -> None:
    store, repository = store_of(project)
    store.acquire(repository, "dependency-updates", "live-run", stale_after=timedelta(hours=2))  # this process: alive
    code, data, err = run(project)
    assert code == EXIT_LOCKED
    assert "dependency-updates is already running (run live-run" in err
    assert data == {}
    assert git(project.remote, "branch", "--list", "nightcrew/*") == ""  # nothing pushed
    store.release(repository, "dependency-updates", "live-run")
    code, _, err = run(project, "--only", "mathlib")
    assert code == 0, err
    store.close()


def test_a_dead_process_lock_is_taken_over_and_the_audit_says_so(project: Project) -> None:
    store, repository = store_of(project)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is now free: the holder is gone
    store.start_run("dead-run", repository, "dependency-updates", "propose")
    with store.engine.begin() as conn:
        from sqlalchemy import insert

        from jobs.state import schema
        from jobs.state.store import stamp

        import socket

        conn.execute(insert(schema.locks).values(repository=repository, job="dependency-updates", run_id="dead-run",
                                                 pid=dead.pid, host=socket.gethostname(), acquired_at=stamp(),
                                                 heartbeat_at=stamp()))
    code, data, err = run(project, "--dry-run")  # a dry run takes no lock at all
    assert code == 0, err
    assert store.lock_holder(repository, "dependency-updates").run_id == "dead-run"
    code, data, err = run(project)
    assert code == 0, err
    [note] = store.audit(run_id=data["run_id"], action="state.lock")
    assert note["outcome"] == "took-over" and "dead-run" in note["detail"] and str(dead.pid) in note["detail"]
    outcomes = {r["id"]: r["outcome"] for r in store.runs(repository=repository)}
    assert outcomes == {"dead-run": "abandoned", data["run_id"]: "ok"}
    store.close()

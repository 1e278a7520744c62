"""The one-shot `nightcrew run dependency-updates` stopped by a signal (a cancelled CI job, systemd stopping the
service): the step in progress finishes, the run stops before the next, prints its JSON, records itself as
interrupted, releases its lock and exits 0. And the PR limit is asked before anything is pushed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from jobs import config as config_module
from jobs.cli import cli
from jobs.state.store import Store, repository_id
from tests.jobs.conftest import Project, git


def test_sigterm_during_the_test_step_stops_the_one_shot_run_cleanly(project: Project, tmp_path: Path) -> None:
    inside = tmp_path / "inside-tests"
    command = f"python -c \"import pathlib, time; pathlib.Path(r'{inside}').write_text('x'); time.sleep(3)\""
    project.write_config(f"command = {json.dumps(command)}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("NIGHTCREW_PAUSE", "GITHUB_TOKEN", "CI")}
    proc = subprocess.Popen([sys.executable, "-m", "jobs", "run", "dependency-updates", "--repo", str(project.work),
                             "--format", "json"], cwd=project.work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    deadline = time.monotonic() + 90
    while not inside.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the test step never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    data = json.loads(out)
    assert data["stopped"].startswith("stopped before") and "shutdown" in data["stopped"]
    assert "SIGTERM: stopping after the current step" in err
    # the first change's tests finished; it was pushed or opened no further, the other change never started
    assert {c["action"] for c in data["changes"]} == {"skipped"}
    assert git(project.remote, "branch", "--list", "nightcrew/*") == ""
    config = config_module.load(repo=project.work)
    with Store.for_repo(config, project.work) as store:
        repository = repository_id(config, project.work)
        [run] = store.runs(repository=repository)
        assert run["outcome"] == "interrupted"
        assert store.lock_holder(repository, "dependency-updates") is None
        assert [r["outcome"] for r in store.audit(action="tests.run")] == ["ok"]
    assert git(project.work, "worktree", "list").count("\n") == 0  # no stray worktree


def test_the_pr_limit_is_asked_before_any_branch_test_or_push(project: Project) -> None:
    project.write_config("\n[policy]\nmax_prs_per_run = 1\n")
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(project.work), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    actions = sorted(c["action"] for c in data["changes"])
    assert actions == ["opened", "skipped"]
    [denial] = data["denials"]
    assert (denial["action"], denial["rule"]) == ("forge.create_pull", "limit-prs-per-run")
    skipped = next(c for c in data["changes"] if c["action"] == "skipped")
    # nothing of the refused change reached the remote, and its tests never ran
    assert git(project.remote, "branch", "--list", skipped["branch"]) == ""
    assert skipped["tests"] is None


def test_changing_actions_carry_a_digest_of_their_inputs(project: Project) -> None:
    CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(project.work), "--format", "json"])
    records = [json.loads(line) for line in (project.work / ".nightcrew" / "audit.jsonl").read_text().splitlines()]
    changing = [r for r in records if r["outcome"] == "ok" and r["action"] in (
        "git.branch", "tests.run", "git.push", "forge.create_pull")]
    assert {r["action"] for r in changing} == {"git.branch", "tests.run", "git.push", "forge.create_pull"}
    for record in changing:
        assert record["inputs_digest"] and len(record["inputs_digest"]) == 16, record

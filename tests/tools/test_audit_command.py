"""`nightcrew audit`: records from the state store, filtered by run id prefix, action prefix and time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner

from jobs.cli import cli
from jobs.config import load
from jobs.state.store import Store, repository_id
from jobs.tools import Denied, Gate

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose store holds two runs: one three days ago, one an hour ago."""
    config = load(None, repo=tmp_path)
    with Store.for_repo(config, tmp_path) as store:
        for run_id, when, mode in (("aaa111old", NOW - timedelta(days=3), "propose"),
                                   ("bbb222new", NOW - timedelta(hours=1), "advisory")):
            with time_machine.travel(when, tick=False):
                gate = Gate(run_id=run_id, job="dependency-updates", mode=mode, store=store,
                            repository=repository_id(config, tmp_path))
                gate.run("forge.read", "open pulls", lambda: None)
                try:
                    gate.run("forge.create_pull", "nightcrew/x-1.0", lambda: None)
                except Denied:
                    pass
                gate.run("git.fetch", "origin main", lambda: None)
        other = Gate(run_id="ccc333else", job="report", store=store, repository="acme/elsewhere")
        with time_machine.travel(NOW - timedelta(minutes=5), tick=False):
            other.run("forge.read", "elsewhere", lambda: None)
    return tmp_path


def audit(repo: Path, *args: str) -> tuple[int, str, str]:
    with time_machine.travel(NOW, tick=False):
        result = CliRunner().invoke(cli, ["audit", "--repo", str(repo), *args])
    return result.exit_code, result.stdout, result.stderr


def records(repo: Path, *args: str) -> list[dict]:
    code, out, err = audit(repo, "--format", "json", *args)
    assert code == 0, err
    data = json.loads(out)
    assert data["schema"] == "nightcrew.audit/1"
    return data["records"]


def test_run_id_prefix_selects_one_run(repo: Path) -> None:
    found = records(repo, "--run", "bbb")
    assert {r["run_id"] for r in found} == {"bbb222new"} and len(found) == 3


def test_action_prefix_and_exact_action(repo: Path) -> None:
    assert [r["action"] for r in records(repo, "--action", "forge.*")] == ["forge.read", "forge.create_pull"] * 2
    denied = records(repo, "--action", "forge.create_pull")
    assert [(r["run_id"], r["outcome"], r["rule"]) for r in denied] == [("aaa111old", "ok", "mode-propose"),
                                                                       ("bbb222new", "denied", "mode-advisory")]


@pytest.mark.parametrize(("since", "runs"), [("48h", {"bbb222new"}), ("7d", {"aaa111old", "bbb222new"}),
                                             ("2026-05-19", {"bbb222new"}), ("2026-05-17T00:00:00Z",
                                                                             {"aaa111old", "bbb222new"})])
def test_since_takes_a_span_or_an_iso_time(repo: Path, since: str, runs: set[str]) -> None:
    assert {r["run_id"] for r in records(repo, "--since", since)} == runs


def test_other_repositories_only_when_asked(repo: Path) -> None:
    assert "ccc333else" not in {r["run_id"] for r in records(repo)}
    assert "ccc333else" in {r["run_id"] for r in records(repo, "--all-repositories")}


def test_jsonl_is_one_record_per_line_and_table_is_readable(repo: Path) -> None:
    code, out, _ = audit(repo, "--format", "jsonl", "--run", "aaa")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["action"] for r in lines] == ["forge.read", "forge.create_pull", "git.fetch"]
    code, out, _ = audit(repo, "--format", "table", "--run", "bbb")
    assert code == 0 and "mode-advisory" in out and out.rstrip().endswith("3 records")


def test_a_bad_since_is_a_usage_error_on_one_line(repo: Path) -> None:
    code, _, err = audit(repo, "--since", "last tuesday")
    assert code == 2 and "--since" in err and "7d, 48h" in err


def test_no_state_store_means_no_records_and_none_is_created(tmp_path: Path) -> None:
    assert records(tmp_path) == []
    assert not (tmp_path / ".nightcrew").exists()

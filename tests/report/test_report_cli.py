"""``nightcrew report`` on a seeded repository, its --since parsing, and the scheduled job that writes the files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs import config as config_module
from jobs.cli import cli
from jobs.commands.report import parse_since
from jobs.report import run_job
from jobs.state.store import Store, repository_id
from tests.report.seed import NOW, clock, close, pull


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository folder whose state store holds two PRs of the last month: one merged, one closed by a person."""
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "nightcrew.toml").write_text("[report]\nsince_days = 14\nfolder = \"out/report\"\n")
    config = config_module.load(repo=folder)
    store = Store.for_repo(config, folder)
    here = repository_id(config, folder)
    pull(store, 1, "11-20 00:00", repository=here)
    close(store, 1, "11-20 12:00", merged=True, repository=here)  # 12 h
    pull(store, 2, "11-05 00:00", repository=here)
    close(store, 2, "11-06 00:00", merged=False, repository=here)  # 25 days before NOW: outside 14 days
    store.close()
    return folder


def report(repo: Path, *args: str) -> tuple[int, str, str]:
    with clock(NOW):
        result = CliRunner().invoke(cli, ["report", "--repo", str(repo), *args])
    return result.exit_code, result.stdout, result.stderr


def test_report_json_on_a_seeded_repository(repo: Path) -> None:
    code, out, err = report(repo, "--format", "json", "--since", "30d")
    assert code == 0, err
    data = json.loads(out)
    assert data["schema"] == "nightcrew.report/1" and data["repository"] == str(repo.resolve())
    # both PRs in 30 days: 1 merged of 2 decided
    assert data["pulls"]["proposed"] == 2 and data["acceptance_rate"] == 0.5 and data["median_hours_to_merge"] == 12


def test_period_defaults_to_since_days_and_json_off_a_terminal(repo: Path) -> None:
    code, out, err = report(repo)
    assert code == 0, err
    data = json.loads(out)  # not a terminal: JSON
    # [report] since_days = 14: only PR 1 (11-20) is in it
    assert data["since"] == "2026-11-16T12:00:00.000+00:00"
    assert data["pulls"]["proposed"] == 1 and data["acceptance_rate"] == 1.0


def test_html_to_a_file_and_table(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "page" / "report.html"
    code, out, err = report(repo, "--format", "html", "--output", str(target))
    assert code == 0 and out == "", err
    assert target.read_text().startswith("<!doctype html>") and "<svg" in target.read_text()
    code, out, _ = report(repo, "--format", "table", "--since", "2026-11-01")
    assert code == 0 and "PRs proposed" in out and "acceptance rate" in out


def test_a_repository_without_state_gets_an_empty_report_and_no_store(tmp_path: Path) -> None:
    code, out, err = report(tmp_path, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["pulls"]["proposed"] == 0
    assert not (tmp_path / ".nightcrew").exists()  # looking creates nothing


@pytest.mark.parametrize("text", ["3x", "30", "d30", "0d", "2026-13-01", "2026-12-25", "yesterday", ""])
def test_bad_since_is_a_one_line_usage_error(repo: Path, text: str) -> None:
    code, out, err = report(repo, "--since", text)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("nightcrew: error: --since: ")


def test_since_accepts_periods_and_iso_dates() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    assert parse_since("30m", now) == now - timedelta(minutes=30)
    assert parse_since("30d", now) == now - timedelta(days=30)
    assert parse_since("2w", now) == now - timedelta(days=14)
    assert parse_since("48h", now) == now - timedelta(hours=48)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert parse_since("2026-11-01T08:00+02:00", now) == datetime(2026, 11, 1, 6, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="in the future"):
        parse_since("2026-12-01", now)


def test_since_in_minutes_counts_only_the_last_minutes(repo: Path) -> None:
    config = config_module.load(repo=repo)
    with Store.for_repo(config, repo) as store:
        pull(store, 3, "11-30 11:45", repository=repository_id(config, repo))  # 15 minutes before NOW
        pull(store, 4, "11-30 11:00", repository=repository_id(config, repo))  # an hour before

    recent = report(repo, "--format", "json", "--since", "30m")
    hours = report(repo, "--format", "json", "--since", "2h")

    assert recent[0] == 0, recent[2]
    assert json.loads(recent[1])["since"] == "2026-11-30T11:30:00.000+00:00"
    assert json.loads(recent[1])["pulls"]["proposed"] == 1 and json.loads(hours[1])["pulls"]["proposed"] == 2


@pytest.mark.parametrize("text", ["30m", "48h", "7d", "2w", "2026-11-01", "2026-11-01T08:00+02:00",
                                  "2026-11-01T08:00:00Z"])
def test_report_and_audit_accept_the_same_since(repo: Path, text: str) -> None:
    with clock(NOW):
        runner = CliRunner()
        reported = runner.invoke(cli, ["report", "--repo", str(repo), "--format", "json", "--since", text])
        audited = runner.invoke(cli, ["audit", "--repo", str(repo), "--format", "json", "--since", text])

    assert reported.exit_code == 0, reported.stderr
    assert audited.exit_code == 0, audited.stderr


@pytest.mark.parametrize("text", ["30", "3x", "0m", "yesterday"])
def test_report_and_audit_refuse_the_same_since(repo: Path, text: str) -> None:
    with clock(NOW):
        runner = CliRunner()
        reported = runner.invoke(cli, ["report", "--repo", str(repo), "--since", text])
        audited = runner.invoke(cli, ["audit", "--repo", str(repo), "--since", text])

    assert reported.exit_code == 2 and audited.exit_code == 2
    assert "--since" in reported.stderr and "--since" in audited.stderr


def test_scheduled_job_writes_json_and_html_atomically_and_records_its_run(repo: Path) -> None:
    config = config_module.load(repo=repo)
    with clock(NOW):
        folder = run_job(repo, config)
    assert folder == repo / "out" / "report"
    assert sorted(p.name for p in folder.iterdir()) == ["report.html", "report.json"]  # no temporary file left
    data = json.loads((folder / "report.json").read_text())
    assert data["since"] == "2026-11-16T12:00:00.000+00:00" and data["pulls"]["merged"] == 1
    with Store.for_repo(config, repo) as store:
        [row] = store.runs(job="report")
    assert row["outcome"] == "ok" and row["ended_at"] is not None


@pytest.fixture
def ci_repo(tmp_path: Path) -> Path:
    """A checkout whose store the update job filled on GitHub Actions (``--forge github``): its PRs are recorded
    under GITHUB_REPOSITORY, not under the folder."""
    folder = tmp_path / "widgets"
    folder.mkdir()
    store = Store.for_repo(config_module.load(repo=folder), folder)
    pull(store, 1, "11-20 00:00", repository="acme/widgets")
    close(store, 1, "11-21 00:00", merged=True, repository="acme/widgets")
    pull(store, 2, "11-22 00:00", repository="acme/widgets")
    pull(store, 7, "11-22 00:00", repository="acme/other")
    store.close()
    return folder


def report_env(repo: Path, env: dict[str, str], *args: str) -> dict:
    with clock(NOW):
        result = CliRunner(env=env).invoke(cli, ["report", "--repo", str(repo), "--format", "json", *args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_report_with_forge_github_reads_the_repository_the_update_job_recorded(ci_repo: Path) -> None:
    data = report_env(ci_repo, {"GITHUB_REPOSITORY": "acme/widgets"}, "--forge", "github")
    assert data["repository"] == "acme/widgets"
    assert (data["pulls"]["proposed"], data["pulls"]["merged"], data["pulls"]["open"]) == (2, 1, 1)
    # without --forge the local forge's name is the folder, where nothing was recorded
    local = report_env(ci_repo, {"GITHUB_REPOSITORY": "acme/widgets"})
    assert local["repository"] == str(ci_repo.resolve()) and local["pulls"]["proposed"] == 0


def test_report_on_a_named_repository_or_all_of_them(ci_repo: Path) -> None:
    other = report_env(ci_repo, {}, "--repository", "acme/other")
    assert other["repository"] == "acme/other" and other["pulls"]["proposed"] == 1
    every = report_env(ci_repo, {}, "--repository", "all")
    assert every["repository"] is None and every["pulls"]["proposed"] == 3
    with clock(NOW):
        empty = CliRunner().invoke(cli, ["report", "--repo", str(ci_repo), "--repository", " "])
    assert empty.exit_code == 2 and empty.stderr.startswith("nightcrew: error: --repository: ")

"""The dependency dashboard as a markdown file, after real runs of the update job over the ``project`` fixture."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from jobs.cli import cli
from jobs.dashboard import MARKER
from tests.jobs.conftest import Project, project  # noqa: F401  (the fixture)
from tests.jobs.conftest import run_updates as run

DASHBOARD = ".nightcrew/dashboard.md"


def section(text: str, title: str) -> str:
    found = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert found, text
    return found.group(1).strip()


def dashboard_audit(project: Project) -> list[dict]:
    lines = (project.work / ".nightcrew" / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["action"] == "forge.dashboard"]


def test_dashboard_file_lists_open_pending_failing_and_ignored_and_is_rewritten(project: Project) -> None:
    project.write_config("\n[dashboard]\nenabled = true\n")
    config = project.work / "nightcrew.toml"  # the working copy's config is the one read
    config.write_text(config.read_text().replace("[updates]\n", "[updates]\nmax_prs_per_run = 1\n"))
    file = project.work / DASHBOARD

    # 1: one PR per run: 1.1.0 (tests pass) is opened, 2.0.0 waits for the next run
    code, first, err = run(project)
    assert code == 0, err
    actions = {c["branch"]: c["action"] for c in first["changes"]}
    assert actions == {"nightcrew/mathlib-1.1.0": "opened", "nightcrew/mathlib-2.0.0": "skipped"}
    minor = next(c["pr"]["number"] for c in first["changes"] if c["action"] == "opened")
    text = file.read_text()
    assert text.startswith(f"# Dependency Dashboard\n\n{MARKER}\n")
    assert section(text, "Open") == f"- **mathlib** 1.0.0 → 1.1.0 (minor): [#{minor}](prs/{minor}.md)"
    assert "**mathlib** 1.0.0 → 2.0.0 (major) (limit reached: max\\_prs\\_per\\_run = 1)" in section(text, "Pending")
    assert section(text, "Failing") == "None."
    assert section(text, "Ignored") == "No pull request was closed without merging."
    assert (project.work / ".nightcrew" / "prs" / f"{minor}.md").is_file()  # the link leads somewhere

    # 2: the major bump is opened as a draft (its tests fail): Failing, not Pending; the same file is rewritten
    code, second, err = run(project)
    major = next(c["pr"]["number"] for c in second["changes"] if c["action"] == "opened")
    text = file.read_text()
    assert f"**mathlib** 1.0.0 → 2.0.0 (major): [#{major}](prs/{major}.md) (tests failed)" in section(text, "Failing")
    assert section(text, "Open") == f"- **mathlib** 1.0.0 → 1.1.0 (minor): [#{minor}](prs/{minor}.md)"
    assert section(text, "Pending") == "None."
    assert sorted(p.name for p in file.parent.glob("dashboard*")) == ["dashboard.md"]
    assert [r["outcome"] for r in dashboard_audit(project)] == ["ok", "ok"]

    # 3: a person closes the major PR: ignored from now on, and said so
    CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "close", str(major)])
    run(project)
    text = file.read_text()
    assert section(text, "Failing") == "None."
    assert section(text, "Ignored") == ("Closed without merging: these versions will not be proposed again. A newer "
                                        f"version will be.\n\n- **mathlib** 2.0.0 (major): [#{major}](prs/{major}.md)")
    assert text.count(MARKER) == 1


def test_dry_run_and_only_runs_leave_the_dashboard_alone(project: Project) -> None:
    project.write_config("\n[dashboard]\nenabled = true\n")
    run(project, "--dry-run")
    assert not (project.work / DASHBOARD).exists()
    run(project, "--only", "mathlib")
    assert not (project.work / DASHBOARD).exists()


def test_disabled_dashboard_is_not_written(project: Project) -> None:
    code, _, err = run(project)
    assert code == 0, err
    assert not (project.work / DASHBOARD).exists() and dashboard_audit(project) == []


def test_a_dashboard_that_cannot_be_written_is_a_problem_not_a_crash(project: Project) -> None:
    project.write_config('\n[dashboard]\nenabled = true\nfile = "blocked/dashboard.md"\n')
    (project.work / "blocked").write_text("a file where the dashboard's folder would be\n")
    code, data, err = run(project)
    assert code == 1  # partial: the PRs were made, the dashboard was not
    assert {c["action"] for c in data["changes"]} == {"opened"}
    [error] = [e["message"] for e in data["errors"]]
    assert error.startswith("dependency dashboard not updated: ") and "blocked/dashboard.md" in error
    assert "nightcrew: error: dependency dashboard not updated: " in err
    assert [r["outcome"] for r in dashboard_audit(project)] == ["error"]


def test_advisory_mode_with_the_dashboard_on_is_no_failure_and_lists_the_denial(project: Project) -> None:
    project.write_config("\n[dashboard]\nenabled = true\n")
    code, data, err = run(project, "--mode", "advisory")
    assert code == 0, err
    assert data["errors"] == [] and "dependency dashboard not updated" not in err
    assert {"action": "forge.dashboard", "rule": "mode-advisory"}.items() <= next(
        d for d in data["denials"] if d["action"] == "forge.dashboard").items()
    assert not (project.work / DASHBOARD).exists()
    assert [r["outcome"] for r in dashboard_audit(project)] == ["denied"]

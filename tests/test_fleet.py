"""The fleet plan: [fleet] repositories as a GitHub Actions matrix, its checks, its chunks, and `nightcrew plan`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import config as config_module
from jobs.errors import ConfigError
from jobs.fleet import MATRIX_LIMIT, plan

FLEET = """\
[[fleet.repositories]]
repository = "acme/web"
jobs = ["report", "dependency-updates"]

[[fleet.repositories]]
repository = "acme/api"
jobs = ["release-watch", "dependency-updates", "report"]
config = ".github/nightcrew.toml"
mode = "advisory"

[[fleet.repositories]]
repository = "Beta/tools"
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "nightcrew.toml").write_text(text, encoding="utf-8")
    return config_module.load(repo=tmp_path)


def many(count: int) -> str:
    return "".join(f'[[fleet.repositories]]\nrepository = "org/repo-{n:04d}"\n\n' for n in range(count))


def nightcrew(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("GITHUB_REPOSITORY", "CI")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "jobs", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120)


# ------------------------------------------------------------------------------------------------- the plan


def test_plan_is_every_repository_times_its_jobs_sorted_by_repository_then_job(tmp_path: Path) -> None:
    result = plan(load(tmp_path, FLEET), environ={})
    assert result.matrix() == {"include": [
        {"repository": "acme/api", "job": "dependency-updates", "config": ".github/nightcrew.toml",
         "mode": "advisory", "concurrency_key": "nightcrew-dependency-updates-acme/api"},
        {"repository": "acme/api", "job": "release-watch", "config": ".github/nightcrew.toml",
         "mode": "advisory", "concurrency_key": "nightcrew-release-watch-acme/api"},
        {"repository": "acme/api", "job": "report", "config": ".github/nightcrew.toml",
         "mode": "advisory", "concurrency_key": "nightcrew-report-acme/api"},
        {"repository": "acme/web", "job": "dependency-updates", "config": "", "mode": "",
         "concurrency_key": "nightcrew-dependency-updates-acme/web"},
        {"repository": "acme/web", "job": "report", "config": "", "mode": "",
         "concurrency_key": "nightcrew-report-acme/web"},
        {"repository": "Beta/tools", "job": "dependency-updates", "config": "", "mode": "",
         "concurrency_key": "nightcrew-dependency-updates-beta/tools"},
    ]}
    assert result.total == 6 and result.repositories == 3 and not result.fallback


def test_an_entry_without_jobs_config_or_mode_gets_the_defaults(tmp_path: Path) -> None:
    (entry,) = plan(load(tmp_path, '[[fleet.repositories]]\nrepository = "acme/one"\n'), environ={}).entries
    assert (entry.job, entry.config, entry.mode) == ("dependency-updates", "", "")


def test_the_order_does_not_depend_on_the_order_in_the_file(tmp_path: Path) -> None:
    blocks = FLEET.split("\n\n")
    reordered = "\n\n".join(reversed(blocks)) + "\n"
    first = plan(load(tmp_path, FLEET), environ={}).to_json()
    assert plan(load(tmp_path, reordered), environ={}).to_json() == first


def test_job_and_repository_filters_narrow_the_plan(tmp_path: Path) -> None:
    config = load(tmp_path, FLEET)
    assert [(e.repository, e.job) for e in plan(config, jobs=("report",), environ={}).entries] == [
        ("acme/api", "report"), ("acme/web", "report")]
    only = plan(config, repositories=("BETA/TOOLS", "acme/web"), jobs=("dependency-updates",), environ={})
    assert [(e.repository, e.job) for e in only.entries] == [("acme/web", "dependency-updates"),
                                                             ("Beta/tools", "dependency-updates")]
    with pytest.raises(ConfigError, match="not in the plan: acme/nope"):
        plan(config, repositories=("acme/nope",), environ={})


def test_a_repository_listed_twice_is_a_config_error_naming_the_key_and_line(tmp_path: Path) -> None:
    config = load(tmp_path, FLEET + '\n[[fleet.repositories]]\nrepository = "ACME/Web"\njobs = ["release-watch"]\n')
    with pytest.raises(ConfigError) as caught:
        plan(config, environ={})
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'nightcrew.toml'}:14: 'fleet.repositories[3].repository'")
    assert "ACME/Web is listed twice (first as fleet.repositories[0])" in message


def test_an_entry_with_no_jobs_or_a_config_outside_the_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'fleet.repositories\[0\].jobs': empty"):
        plan(load(tmp_path, '[[fleet.repositories]]\nrepository = "a/b"\njobs = []\n'), environ={})
    for path in ("../other/nightcrew.toml", "/etc/nightcrew.toml"):
        text = f'[[fleet.repositories]]\nrepository = "a/b"\nconfig = "{path}"\n'
        with pytest.raises(ConfigError, match=r"'fleet.repositories\[0\].config'"):
            plan(load(tmp_path, text), environ={})


def test_an_unknown_job_in_the_fleet_is_refused_when_the_config_loads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fleet\.repositories\[0\]\.jobs\[0\]"):
        load(tmp_path, '[[fleet.repositories]]\nrepository = "a/b"\njobs = ["release-notes"]\n')


# --------------------------------------------------------------------------------------- one repository alone


def test_without_a_fleet_the_plan_is_the_current_repository_from_the_environment(tmp_path: Path) -> None:
    result = plan(load(tmp_path, ""), environ={"GITHUB_REPOSITORY": "solo/repo"})
    assert result.fallback
    assert result.matrix() == {"include": [
        {"repository": "solo/repo", "job": "dependency-updates", "config": "", "mode": "",
         "concurrency_key": "nightcrew-dependency-updates-solo/repo"}]}


def test_without_a_fleet_the_forge_repository_wins_and_job_filters_choose_its_jobs(tmp_path: Path) -> None:
    config = load(tmp_path, '[forge]\nrepository = "from/config"\n')
    result = plan(config, jobs=("release-watch", "dependency-updates"), environ={"GITHUB_REPOSITORY": "from/env"})
    assert [(e.repository, e.job) for e in result.entries] == [("from/config", "dependency-updates"),
                                                               ("from/config", "release-watch")]


def test_without_a_fleet_or_any_repository_name_the_error_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[\[fleet.repositories\]\], or set \[forge\] repository or GITHUB_REP"):
        plan(load(tmp_path, ""), environ={})


# ---------------------------------------------------------------------------------------------------- chunks


def test_a_plan_over_the_matrix_limit_must_be_chunked_and_says_how(tmp_path: Path) -> None:
    big = plan(load(tmp_path, many(MATRIX_LIMIT + 1)), environ={})
    assert big.total == 257
    with pytest.raises(ConfigError, match="257 jobs and GitHub runs at most 256 .* --chunks 2"):
        big.split()
    assert len(plan(load(tmp_path, many(MATRIX_LIMIT)), environ={}).split().entries) == MATRIX_LIMIT


def test_chunks_are_contiguous_near_equal_and_cover_the_plan_once(tmp_path: Path) -> None:
    whole = plan(load(tmp_path, many(600)), environ={})
    parts = [whole.split(k, 3) for k in (1, 2, 3)]
    assert [len(p.entries) for p in parts] == [200, 200, 200]
    assert tuple(e for p in parts for e in p.entries) == whole.entries
    uneven = plan(load(tmp_path, many(7)), environ={})
    assert [len(uneven.split(k, 3).entries) for k in (1, 2, 3)] == [3, 2, 2]
    with pytest.raises(ConfigError, match="chunk 1 of 2 has 300 jobs"):
        whole.split(1, 2)
    with pytest.raises(ConfigError, match="1 <= --chunk <= --chunks"):
        whole.split(4, 3)


# ----------------------------------------------------------------------------------------- nightcrew plan


def test_cli_json_is_one_line_that_parses_to_the_matrix(tmp_path: Path) -> None:
    (tmp_path / "nightcrew.toml").write_text(FLEET, encoding="utf-8")
    done = nightcrew("plan", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and done.stdout.endswith("\n")
    assert json.loads(done.stdout) == plan(config_module.load(repo=tmp_path), environ={}).matrix()
    # What the workflow writes to $GITHUB_OUTPUT: one key=value line.
    assert len(f"matrix={done.stdout.strip()}".splitlines()) == 1


def test_cli_without_a_fleet_plans_the_repository_named_by_github(tmp_path: Path) -> None:
    done = nightcrew("plan", "--format", "json", "--job", "report", cwd=tmp_path,
                     env={"GITHUB_REPOSITORY": "solo/repo"})
    assert done.returncode == 0, done.stderr
    assert [(e["repository"], e["job"]) for e in json.loads(done.stdout)["include"]] == [("solo/repo", "report")]


def test_cli_exits_2_on_a_config_error_with_one_line_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "nightcrew.toml").write_text(FLEET + '[[fleet.repositories]]\nrepository = "acme/api"\n',
                                             encoding="utf-8")
    done = nightcrew("plan", "--format", "json", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "'fleet.repositories[3].repository'" in done.stderr


def test_cli_refuses_a_plan_too_big_for_one_matrix_and_prints_a_chunk(tmp_path: Path) -> None:
    (tmp_path / "nightcrew.toml").write_text(many(300), encoding="utf-8")
    refused = nightcrew("plan", "--format", "json", cwd=tmp_path)
    assert refused.returncode == 2 and "--chunks 2" in refused.stderr and refused.stdout == ""
    second = nightcrew("plan", "--format", "json", "--chunk", "2", "--chunks", "2", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    names = [e["repository"] for e in json.loads(second.stdout)["include"]]
    assert names == [f"org/repo-{n:04d}" for n in range(150, 300)]
    alone = nightcrew("plan", "--format", "json", "--chunk", "2", cwd=tmp_path)
    assert alone.returncode == 2 and "--chunk K and --chunks N together" in alone.stderr


def test_cli_table_lists_each_entry_for_people(tmp_path: Path) -> None:
    (tmp_path / "nightcrew.toml").write_text(FLEET, encoding="utf-8")
    done = nightcrew("plan", "--format", "table", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["repository", "job", "config", "mode", "concurrency"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["acme/api", "dependency-updates"], ["acme/api", "release-watch"], ["acme/api", "report"],
        ["acme/web", "dependency-updates"], ["acme/web", "report"], ["Beta/tools", "dependency-updates"]]
    assert "6 jobs on 3 repositories, from [fleet] repositories" in done.stderr

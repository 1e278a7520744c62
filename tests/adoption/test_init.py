"""`nightcrew init`: the config nightcrew accepts, the workflow the cron/ tests accept, and the onboarding PR on the
local forge and the GitHub stand-in: opened once, updated rather than duplicated, never reopened after a close,
never overwriting a person's push, never committed to the base branch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from jobs.cli import cli
from jobs.config import load
from tests.cron import test_cron_files as cron
from tests.jobs.conftest import V1, V2, V11, git
from tests.support.distbuild import build_wheel
from tests.support.github_server import GitHubStandIn
from tests.support.indexserver import StaticIndex

PYPROJECT = '[project]\nname = "calc"\nversion = "0.1.0"\nrequires-python = ">=3.12"\ndependencies = []\n'
UV_LOCK = 'version = 1\nrequires-python = ">=3.12"\n\n[[package]]\nname = "calc"\nversion = "0.1.0"\n' \
          'source = { editable = "." }\n'
DEPENDABOT = """\
version: 2
updates:
  - package-ecosystem: "pip"
    directory: "/"
    schedule:
      interval: "weekly"
      day: "tuesday"
      time: "04:30"
    open-pull-requests-limit: 3
    labels: ["deps"]
    ignore:
      - dependency-name: "mathlib"
        update-types: ["version-update:semver-major"]
  - package-ecosystem: "npm"
    directory: "/web"
    schedule:
      interval: "daily"
"""


def make_repo(tmp_path: Path, index: StaticIndex | None = None, extra: dict[str, str] | None = None) -> tuple[Path, Path]:
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    files = {"requirements.txt": "mathlib==1.0.0\n", "pyproject.toml": PYPROJECT, "uv.lock": UV_LOCK,
             ".github/dependabot.yml": DEPENDABOT, "tests/test_ok.py": "def test_ok():\n    assert True\n",
             **(extra or {})}
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-qm", "initial")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    if index is not None:
        dists = tmp_path / "dists"
        dists.mkdir()
        for version, source in (("1.0.0", V1), ("1.1.0", V11), ("2.0.0", V2)):
            index.add(build_wheel(dists, "mathlib", version, modules={"mathlib/__init__.py": source}))
    return work, remote


def init(work: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    result = CliRunner(env=env).invoke(cli, ["init", "--repo", str(work), "--format", "json", *args])
    assert result.stdout, result.stderr or result.exception
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_init_writes_a_config_nightcrew_accepts_and_a_workflow_the_cron_tests_accept(tmp_path: Path) -> None:
    work, _ = make_repo(tmp_path)
    code, data, err = init(work)
    assert code == 0, err
    assert data["files"] == ["nightcrew.toml", ".github/workflows/nightcrew.yml"]
    assert data["found"]["python"] == "3.12" and data["found"]["lockfiles"] == ["uv.lock (uv)"]
    config = load(work / "nightcrew.toml")
    # carried over from dependabot.yml
    assert config.updates.max_open_prs == 3 and config.updates.labels == ("deps",)
    assert [(r.package, r.kinds) for r in config.updates.ignore] == [("mathlib", ("major",))]
    assert config.schedule.dependency_updates == "30 4 * * tue"
    assert any("npm" in line for line in data["carried_over"]["untranslated"])
    text = (work / "nightcrew.toml").read_text()
    assert "# Carried over from .github/dependabot.yml:" in text
    assert "max_open_prs = 3" in text and text.count("\n[updates]") == 1

    workflow = work / ".github" / "workflows" / "nightcrew.yml"
    for check in (cron.test_workflow_has_the_required_keys, cron.test_top_level_permissions_are_empty_and_every_job_names_its_own,
                  cron.test_every_action_is_pinned, cron.test_checkout_keeps_no_credentials, cron.test_runs_never_overlap,
                  cron.test_no_expression_is_pasted_into_a_script, cron.test_nightcrew_is_installed_from_the_spec_variable,
                  cron.test_the_token_is_given_only_to_the_nightcrew_step,
                  cron.test_the_json_summary_is_uploaded_whatever_the_outcome,
                  cron.test_every_nightcrew_call_parses_with_the_real_command_line,
                  cron.test_no_secret_is_pasted_into_a_script):
        check(workflow)
    steps = cron.steps(yaml.safe_load(workflow.read_text()))
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert python["with"]["python-version"] == "3.12" and checkout["with"]["ref"] == "main"
    assert install["run"].rstrip().endswith('"$NIGHTCREW_SPEC" "uv"')

    # files already there are never overwritten without --force
    result = CliRunner().invoke(cli, ["init", "--repo", str(work), "--format", "json"])
    assert result.exit_code == 2 and "already there: not overwritten" in result.stderr


def test_a_repository_without_a_bot_gets_a_comment_only_config(tmp_path: Path) -> None:
    work, _ = make_repo(tmp_path)
    (work / ".github" / "dependabot.yml").unlink()
    (work / "pyproject.toml").write_text(PYPROJECT.replace(">=3.12", ">=3.8"))
    code, data, err = init(work)
    assert code == 0, err
    assert data["carried_over"] is None and data["found"]["python"] == "3.11"
    text = (work / "nightcrew.toml").read_text()
    assert all(line.startswith("#") or not line.strip() for line in text.splitlines()), text
    load(work / "nightcrew.toml")


@pytest.fixture
def env(static_index: StaticIndex, tmp_path: Path) -> dict[str, str]:
    return {"PIP_INDEX_URL": static_index.url, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}


def remote_sha(remote: Path, ref: str) -> str:
    return subprocess.run(["git", "--git-dir", str(remote), "rev-parse", ref], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_onboarding_pr_on_the_local_forge(static_index: StaticIndex, tmp_path: Path, env: dict[str, str]) -> None:
    work, remote = make_repo(tmp_path, static_index)
    base_before = remote_sha(remote, "main")
    code, data, err = init(work, "--pr", "--forge", "local", env=env)
    assert code == 0, err
    assert data["action"] == "opened" and data["branch"] == "nightcrew/onboarding" and data["base"] == "main"
    assert any(line.startswith("mathlib 1.0.0 → 1.1.0") for line in data["preview"]), data["preview"]
    assert remote_sha(remote, "main") == base_before  # never committed to the base branch
    files = subprocess.run(["git", "--git-dir", str(remote), "diff", "--name-only", "main", "nightcrew/onboarding"],
                           check=True, capture_output=True, text=True).stdout.split()
    assert files == [".github/workflows/nightcrew.yml", "nightcrew.toml"]
    proposed = tmp_path / "proposed.toml"  # the config on the branch is one nightcrew accepts
    proposed.write_text(subprocess.run(["git", "--git-dir", str(remote), "show", "nightcrew/onboarding:nightcrew.toml"],
                                       check=True, capture_output=True, text=True).stdout)
    assert load(proposed).updates.max_open_prs == 3
    number = data["pr"]["number"]
    listing = json.loads(CliRunner().invoke(cli, ["prs", "--repo", str(work), "--format", "json"]).stdout)
    assert [(p["number"], p["state"], p["title"]) for p in listing] == [(number, "open", "Configure nightcrew")]
    shown = CliRunner().invoke(cli, ["prs", "show", str(number), "--repo", str(work), "--format", "table"]).stdout
    for text in ("### What nightcrew found", "mathlib 1.0.0 → 1.1.0", "Carried over from `.github/dependabot.yml`",
                 "npm", "delete it in this pull request"):
        assert text in shown, text

    code, again, err = init(work, "--pr", "--forge", "local", env=env)
    assert (code, again["action"], again["pr"]["number"]) == (0, "unchanged", number), err

    # the base branch moves: the same PR is brought up to date
    (work / "docs").mkdir()
    (work / "docs" / "requirements.txt").write_text("mathlib==1.0.0\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "docs")
    git(work, "push", "-q", "origin", "main")
    code, third, err = init(work, "--pr", "--forge", "local", env=env)
    assert (code, third["action"], third["pr"]["number"]) == (0, "updated", number), err
    assert "docs/requirements.txt" in third["found"]["files"]["python"]

    # a person closes it: it is not opened again
    assert CliRunner().invoke(cli, ["prs", "close", str(number), "--repo", str(work)]).exit_code == 0
    code, fourth, err = init(work, "--pr", "--forge", "local", env=env)
    assert (code, fourth["action"]) == (0, "skipped") and "closed without merging" in fourth["reason"]
    listing = json.loads(CliRunner().invoke(cli, ["prs", "--repo", str(work), "--format", "json"]).stdout)
    assert len(listing) == 1


def test_onboarding_pr_on_github(static_index: StaticIndex, tmp_path: Path, env: dict[str, str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    work, remote = make_repo(tmp_path, static_index)
    hub = GitHubStandIn(remote, full_name="acme/widgets")
    hub.start()
    try:
        github_env = {**env, "GITHUB_TOKEN": "bot-token", "GITHUB_API_URL": hub.api_url,
                      "GITHUB_REPOSITORY": "acme/widgets"}
        base_config = tmp_path / "base.toml"  # outside the repository: PyGithub's request spacing off for a test
        base_config.write_text("[forge]\nthrottle = false\n")
        monkeypatch.chdir(tmp_path)
        code, data, err = init(work, "--pr", "--forge", "github", "--config", str(base_config), env=github_env)
        assert code == 0, err
        assert data["action"] == "opened"
        [pull] = hub.pulls()
        assert pull["title"] == "Configure nightcrew" and pull["head"] == "nightcrew/onboarding" and pull["base"] == "main"
        assert "### What the first run would propose" in pull["body"] and "mathlib 1.0.0 → 1.1.0" in pull["body"]
        code, again, err = init(work, "--pr", "--forge", "github", "--config", str(base_config), env=github_env)
        assert (code, again["action"]) == (0, "unchanged") and len(hub.pulls()) == 1

        # a person pushes to the onboarding branch: nightcrew leaves it alone
        other = tmp_path / "human"
        subprocess.run(["git", "clone", "-q", "-b", "nightcrew/onboarding", str(remote), str(other)], check=True)
        (other / "nightcrew.toml").write_text((other / "nightcrew.toml").read_text() + "\n# reviewed\n")
        git(other, "commit", "-qam", "tweak")
        git(other, "push", "-q", "origin", "nightcrew/onboarding")
        (work / "extra-requirements.txt").write_text("mathlib==1.0.0\n")
        git(work, "add", "-A")
        git(work, "commit", "-qm", "more")
        git(work, "push", "-q", "origin", "main")
        code, third, err = init(work, "--pr", "--forge", "github", "--config", str(base_config), env=github_env)
        assert (code, third["action"]) == (0, "skipped") and "has commits by" in third["reason"]
        assert remote_sha(remote, "nightcrew/onboarding") == remote_sha(Path(other / ".git"), "HEAD")
    finally:
        hub.stop()


def test_onboarding_leaves_a_workflow_people_wrote(static_index: StaticIndex, tmp_path: Path,
                                                   env: dict[str, str]) -> None:
    mine = "name: nightcrew\non: workflow_dispatch\njobs: {}\n"
    work, remote = make_repo(tmp_path, static_index, {".github/workflows/nightcrew.yml": mine})
    code, data, err = init(work, "--pr", "--forge", "local", env=env)
    assert (code, data["action"]) == (0, "opened"), err
    files = subprocess.run(["git", "--git-dir", str(remote), "diff", "--name-only", "main", "nightcrew/onboarding"],
                           check=True, capture_output=True, text=True).stdout.split()
    assert files == ["nightcrew.toml"]
    shown = CliRunner().invoke(cli, ["prs", "show", str(data["pr"]["number"]), "--repo", str(work), "--format",
                                     "table"]).stdout
    assert "`.github/workflows/nightcrew.yml` is already there: left as it is" in shown

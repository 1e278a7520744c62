"""Manifests found anywhere in the repository, but only the project's own: requirements files in subfolders, a uv
workspace's members, one PR per package across files; test fixtures, data, vendored code, virtual environments,
node_modules and what git ignores left out."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from tests.jobs.conftest import Project, by_branch, git, run_updates
from tests.jobs.test_lockfiles import commit_all, make_repo, publish, tool_env
from tests.support.indexserver import StaticIndex

UV = shutil.which("uv")

NOT_OWN = {
    "tests/fixtures/requirements.txt": "mathlib==1.0.0\n",
    "src/calc/data/requirements.txt": "mathlib==1.0.0\n",
    "vendor/thing/pyproject.toml": '[project]\nname = "thing"\nversion = "1"\ndependencies = ["mathlib==1.0.0"]\n',
    "node_modules/pkg/requirements.txt": "mathlib==1.0.0\n",
    # a test-input project with its own lock: neither its manifest nor its lock is the project's
    "tests/demo_pkg/pyproject.toml": '[project]\nname = "demo"\nversion = "1"\ndependencies = ["mathlib"]\n',
    "tests/demo_pkg/uv.lock": 'version = 1\n\n[[package]]\nname = "helper"\nversion = "1.0.0"\n',
    "oldenv/requirements.txt": "mathlib==1.0.0\n",
    "oldenv/pyvenv.cfg": "home = /usr/bin\n",
    ".tox/py312/requirements.txt": "mathlib==1.0.0\n",
}


def scan(work: Path) -> dict:
    result = CliRunner().invoke(cli, ["scan", "--repo", str(work), "--format", "json"])
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_subfolder_manifests_are_found_and_moved_in_one_pr(project: Project) -> None:
    files = {"docs/requirements.txt": "# docs\nmathlib==1.0.0  # docs build\n",
             ".github/ci/requirements-ci.txt": "mathlib==1.0.0\n",
             "tools/dev-requirements.txt": "-r ../requirements.txt\n", **NOT_OWN}
    for name, text in files.items():
        (project.work / name).parent.mkdir(parents=True, exist_ok=True)
        (project.work / name).write_text(text)
    (project.work / ".gitignore").write_text("scratch/\n")
    (project.work / "scratch").mkdir()
    (project.work / "scratch" / "requirements.txt").write_text("mathlib==1.0.0\n")
    git(project.work, "add", "-A")
    git(project.work, "commit", "-qm", "more manifests")
    git(project.work, "push", "-q", "origin", "main")

    data = scan(project.work)
    read = sorted(data["files"])
    assert read == [".github/ci/requirements-ci.txt", "docs/requirements.txt", "requirements.txt",
                    "tools/dev-requirements.txt"], read
    rows = [(d["file"], d["name"]) for d in data["dependencies"]]
    assert ("docs/requirements.txt", "mathlib") in rows and ("tests/fixtures/requirements.txt", "mathlib") not in rows
    assert not any(file.startswith("tests/demo_pkg/") for file, _ in rows), rows

    code, result, err = run_updates(project, "--only", "mathlib")
    assert code == 0, err
    changes = by_branch(result)
    minor = changes["nightcrew/mathlib-1.1.0"]
    assert minor["action"] == "opened", minor
    changed = subprocess.run(["git", "--git-dir", str(project.remote), "diff", "--name-only", "main",
                              "nightcrew/mathlib-1.1.0"], check=True, capture_output=True, text=True).stdout.split()
    assert changed == [".github/ci/requirements-ci.txt", "docs/requirements.txt", "requirements.txt"]
    docs = subprocess.run(["git", "--git-dir", str(project.remote), "show",
                           "nightcrew/mathlib-1.1.0:docs/requirements.txt"], check=True, capture_output=True,
                          text=True).stdout
    assert docs == "# docs\nmathlib==1.1.0  # docs build\n"
    assert len([b for b in changes if b.startswith("nightcrew/mathlib-1.1.0")]) == 1


def test_exclude_globs_and_discovery_off(project: Project) -> None:
    (project.work / "docs").mkdir()
    (project.work / "docs" / "requirements.txt").write_text("mathlib==1.0.0\n")
    (project.work / "examples" / "a").mkdir(parents=True)
    (project.work / "examples" / "a" / "requirements.txt").write_text("mathlib==1.0.0\n")
    project.write_config('\n[manifests]\nexclude = ["examples/**"]\n')
    assert sorted(scan(project.work)["files"]) == ["docs/requirements.txt", "requirements.txt"]
    project.write_config('\n[manifests]\ndiscover = false\n')
    assert scan(project.work)["files"] == ["requirements.txt"]


WORKSPACE_ROOT = """\
[project]
name = "calc-workspace"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["calc-core"]

[tool.uv.sources]
calc-core = { workspace = true }

[tool.uv.workspace]
members = ["packages/*"]
exclude = ["packages/legacy"]
"""
MEMBER = """\
[project]
name = "calc-core"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["mathlib>=1.0,<2"]
"""


@pytest.mark.skipif(UV is None, reason="uv is a test extra")
def test_uv_workspace_is_one_project_with_members(static_index: StaticIndex, tmp_path: Path) -> None:
    publish(static_index, tmp_path / "dists")
    work = make_repo(tmp_path, static_index, {
        "pyproject.toml": WORKSPACE_ROOT, "packages/core/pyproject.toml": MEMBER,
        "packages/core/src/calc_core/__init__.py": "", "packages/legacy/pyproject.toml": MEMBER.replace(
            "calc-core", "calc-legacy").replace("mathlib>=1.0,<2", "mathlib==1.0.0"),
        "tests/fixtures/broken/pyproject.toml": "[project\n"})
    env = tool_env(static_index, tmp_path)
    proc = subprocess.run([UV, "lock", "--upgrade-package", "mathlib==1.0.0", "--upgrade-package", "helper==1.0.0"],
                          cwd=work, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    commit_all(work)

    data = scan(work)
    rows = {(d["file"], d["name"]): d for d in data["dependencies"]}
    core = rows[("packages/core/pyproject.toml", "mathlib")]
    assert (core["locked"], core["lockfile"], core["current"]) == ("1.0.0", "uv.lock", "1.0.0")
    assert rows[("pyproject.toml", "calc-core")]["skipped_reason"] == "a member of the workspace"
    assert not any("fixtures" in (e["file"] or "") for e in data["errors"]), data["errors"]

    result = CliRunner(env=env).invoke(cli, ["run", "dependency-updates", "--repo", str(work), "--format", "json"])
    out = json.loads(result.stdout)
    changes = by_branch(out)
    change = changes["nightcrew/mathlib-1.1.0"]
    assert change["action"] == "opened" and change["tests"]["outcome"] == "passed", change
    # one PR moves the member's lock entry and the excluded folder's own pin (a separate project) together
    changed = git(work, "diff", "--name-only", "main", "nightcrew/mathlib-1.1.0").split()
    assert changed == ["packages/legacy/pyproject.toml", "uv.lock"], changed
    check = tmp_path / "check"
    git(work, "worktree", "add", "-q", str(check), "nightcrew/mathlib-1.1.0")
    assert subprocess.run([UV, "lock", "--check"], cwd=check, capture_output=True, env=env).returncode == 0

"""Locked projects end to end with the real tools (uv and pip-tools, installed from the index as test extras)
against a loopback index: the scan reports locked versions and transitive packages, bump PRs and lockfile-only
PRs carry a lockfile the tool itself accepts, the tests run against the locked set, and the PR body lists what
moved. A tool failure leaves nothing committed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from tests.support.distbuild import build_wheel
from tests.support.indexserver import StaticIndex

UV = shutil.which("uv")
PIP_COMPILE = shutil.which("pip-compile")

TEST_FILE = "import mathlib\n\n\ndef test_add():\n    assert mathlib.add(1, 2) == 3\n"


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Maintainer", "GIT_AUTHOR_EMAIL": "m@example.org", "GIT_COMMITTER_NAME": "Maintainer",
           "GIT_COMMITTER_EMAIL": "m@example.org", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


def publish(index: StaticIndex, dists: Path) -> None:
    """mathlib 1.0.0, 1.1.0 (needs helper>=1.1), 2.0.0; helper 1.0.0, 1.1.0: helper is the transitive one."""
    for version in ("1.0.0", "1.1.0"):
        index.add(build_wheel(dists, "helper", version, modules={"helper/__init__.py": f"V = {version!r}\n"}))
    source = "def add(a, b):\n    return a + b\n"
    index.add(build_wheel(dists, "mathlib", "1.0.0", modules={"mathlib/__init__.py": source},
                          requires_dist=["helper>=1.0"]))
    index.add(build_wheel(dists, "mathlib", "1.1.0", modules={"mathlib/__init__.py": source},
                          requires_dist=["helper>=1.1"]))
    index.add(build_wheel(dists, "mathlib", "2.0.0", modules={"mathlib/__init__.py": "def plus(a, b):\n    "
                                                                                      "return a + b\n"},
                          requires_dist=["helper>=1.1"]))


def make_repo(tmp_path: Path, index: StaticIndex, files: dict[str, str]) -> Path:
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    for name, text in {**files, "tests/test_math.py": TEST_FILE}.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    cache = (tmp_path / "cache").as_posix()
    (work / "nightcrew.toml").write_text(
        f'[index]\nurl = "{index.url}"\ncache_dir = "{cache}"\nretries = 1\nbackoff = 0.01\n\n'
        '[forge]\nkind = "local"\nremote = "origin"\n\n[updates]\nkinds = ["patch", "minor"]\n\n'
        '[tests]\nsystem_site_packages = true\ntimeout = 180\n')
    git(work, "remote", "add", "origin", str(remote))
    return work


def commit_all(work: Path) -> None:
    git(work, "add", "-A")
    git(work, "commit", "-qm", "project")
    git(work, "push", "-q", "origin", "main")


def tool_env(index: StaticIndex, tmp_path: Path) -> dict[str, str]:
    import os

    return {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}, "UV_DEFAULT_INDEX": index.url,
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_PYTHON_DOWNLOADS": "never"}


def run(work: Path, *args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["run", "dependency-updates", "--repo", str(work), "--format", "json", *args])
    assert result.stdout, result.stderr or result.exception
    return result.exit_code, json.loads(result.stdout), result.stderr


def scan(work: Path) -> dict:
    result = CliRunner().invoke(cli, ["scan", "--repo", str(work), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


PYPROJECT = """\
[project]
name = "calc"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [
    "mathlib>=1.0,<2",  # keep below 2: the API changed
]
"""


@pytest.mark.skipif(UV is None, reason="uv is a test extra")
def test_uv_project_gets_a_lockfile_only_pr_uv_accepts(static_index: StaticIndex, tmp_path: Path) -> None:
    publish(static_index, tmp_path / "dists")
    work = make_repo(tmp_path, static_index, {"pyproject.toml": PYPROJECT})
    env = tool_env(static_index, tmp_path)
    subprocess.run([UV, "lock", "--upgrade-package", "mathlib==1.0.0", "--upgrade-package", "helper==1.0.0"],
                   cwd=work, check=True, capture_output=True, env=env)
    commit_all(work)

    data = scan(work)
    rows = {d["name"]: d for d in data["dependencies"]}
    assert (rows["mathlib"]["current"], rows["mathlib"]["specifier"], rows["mathlib"]["locked"]) == \
        ("1.0.0", ">=1.0,<2", "1.0.0")
    assert rows["mathlib"]["update_kind"] == "major" and rows["mathlib"]["latest_allowed"] == "1.1.0"
    assert (rows["helper"]["direct"], rows["helper"]["file"], rows["helper"]["locked"]) == (False, "uv.lock", "1.0.0")

    code, data, err = run(work)
    assert code == 0, err
    [change] = data["changes"]
    assert change["branch"] == "nightcrew/mathlib-1.1.0" and change["action"] == "opened", change
    assert change["tests"]["outcome"] == "passed", json.dumps(change["tests"])
    moved = {(c["name"], c["from"], c["to"], c["direct"]) for c in change["lockfile_changes"]}
    assert moved == {("mathlib", "1.0.0", "1.1.0", True), ("helper", "1.0.0", "1.1.0", False)}
    # the branch changes the lockfile only (the range admits 1.1.0), and uv itself accepts it
    changed = git(work, "diff", "--name-only", "main", "nightcrew/mathlib-1.1.0").split()
    assert changed == ["uv.lock"]
    check = tmp_path / "check"
    git(work, "worktree", "add", "-q", str(check), "nightcrew/mathlib-1.1.0")
    proc = subprocess.run([UV, "lock", "--check"], cwd=check, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    body = (work / ".nightcrew" / "prs").glob("*.md")
    text = next(iter(body)).read_text()
    assert "### Lockfile `uv.lock`" in text
    assert "| mathlib | 1.0.0 | 1.1.0 | direct |" in text and "| helper | 1.0.0 | 1.1.0 | transitive |" in text


def relock_after(static_index: StaticIndex, tmp_path: Path, tool_uv: str) -> tuple[Path, int, dict, str]:
    """A uv project locked at mathlib 1.0.0, then given a ``[tool.uv]`` table, and the update run on it."""
    publish(static_index, tmp_path / "dists")
    work = make_repo(tmp_path, static_index, {"pyproject.toml": PYPROJECT})
    subprocess.run([UV, "lock", "--upgrade-package", "mathlib==1.0.0"], cwd=work, check=True, capture_output=True,
                   env=tool_env(static_index, tmp_path))
    (work / "pyproject.toml").write_text(PYPROJECT + "\n[tool.uv]\n" + tool_uv)
    commit_all(work)
    return (work, *run(work))


@pytest.mark.skipif(UV is None, reason="uv is a test extra")
def test_a_lock_tool_failure_commits_nothing_and_says_why(static_index: StaticIndex, tmp_path: Path) -> None:
    # a constraint uv cannot meet appears in the project after the lock was made
    work, code, data, err = relock_after(static_index, tmp_path, 'constraint-dependencies = ["helper<1.1"]\n')
    assert code == 1
    [change] = data["changes"]
    assert change["action"] == "failed"
    assert change["reason"].startswith("uv lock (uv.lock): ") and "helper" in change["reason"]
    assert git(work, "branch", "--list", "nightcrew/*") == ""  # nothing committed
    assert "nightcrew: error: nightcrew/mathlib-1.1.0: uv lock (uv.lock):" in err


@pytest.mark.skipif(UV is None, reason="uv is a test extra")
def test_a_project_pinning_another_uv_version_is_not_relocked_by_this_one(static_index: StaticIndex,
                                                                          tmp_path: Path) -> None:
    # the project asks for a uv this machine does not have: its lockfile format is that uv's, not ours to churn
    work, code, data, _ = relock_after(static_index, tmp_path, 'required-version = "<0.1"\n')
    assert code == 1
    [change] = data["changes"]
    assert change["action"] == "failed"
    assert change["reason"].startswith("uv lock (uv.lock): ") and "Required uv version" in change["reason"]
    assert git(work, "branch", "--list", "nightcrew/*") == ""


@pytest.mark.skipif(PIP_COMPILE is None, reason="pip-tools is a test extra")
def test_pip_tools_project_edits_the_in_file_and_recompiles(static_index: StaticIndex, tmp_path: Path) -> None:
    publish(static_index, tmp_path / "dists")
    work = make_repo(tmp_path, static_index, {"requirements.in": "mathlib==1.0.0  # pinned on purpose\n"})
    proc = subprocess.run([PIP_COMPILE, "--quiet", f"--index-url={static_index.url}", "--no-emit-index-url",
                           "--output-file=requirements.txt", "requirements.in"], cwd=work, capture_output=True,
                          text=True, env={**tool_env(static_index, tmp_path),
                                          "CUSTOM_COMPILE_COMMAND": "pip-compile requirements.in"})
    assert proc.returncode == 0, proc.stderr
    header = (work / "requirements.txt").read_text().splitlines()[:8]
    commit_all(work)

    rows = {d["name"]: d for d in scan(work)["dependencies"]}
    assert (rows["mathlib"]["file"], rows["mathlib"]["locked"], rows["mathlib"]["direct"]) == \
        ("requirements.in", "1.0.0", True)
    assert (rows["helper"]["file"], rows["helper"]["direct"]) == ("requirements.txt", False)

    code, data, err = run(work)
    assert code == 0, err
    [change] = data["changes"]
    assert change["action"] == "opened" and change["tests"]["outcome"] == "passed", change
    assert sorted(git(work, "diff", "--name-only", "main", "nightcrew/mathlib-1.1.0").split()) == \
        ["requirements.in", "requirements.txt"]
    assert git(work, "show", "nightcrew/mathlib-1.1.0:requirements.in") == "mathlib==1.1.0  # pinned on purpose"
    compiled = git(work, "show", "nightcrew/mathlib-1.1.0:requirements.txt")
    assert "mathlib==1.1.0" in compiled and "helper==1.1.0" in compiled
    assert compiled.splitlines()[:8] == header  # the header people's command, unchanged
    assert "127.0.0.1" not in compiled  # no index address written into their file
    # re-running pip-compile on the branch gives no diff
    check = tmp_path / "check"
    git(work, "worktree", "add", "-q", str(check), "nightcrew/mathlib-1.1.0")
    subprocess.run([PIP_COMPILE, "--quiet", f"--index-url={static_index.url}", "--no-emit-index-url",
                    "--output-file=requirements.txt", "requirements.in"], cwd=check, check=True, capture_output=True,
                   env={**tool_env(static_index, tmp_path), "CUSTOM_COMPILE_COMMAND": "pip-compile requirements.in"})
    assert (check / "requirements.txt").read_text() == compiled + "\n"


POETRY = shutil.which("poetry")


def poetry_project(static_index: StaticIndex, tmp_path: Path, mathlib: str) -> tuple[Path, str, dict[str, str]]:
    """A Poetry project (package mode off, the loopback index as its only source) needing ``mathlib``; returns
    the work tree, its pyproject text and the environment to run poetry in."""
    publish(static_index, tmp_path / "dists")
    pyproject = (
        '[tool.poetry]\nname = "calc"\nversion = "0.1.0"\ndescription = ""\nauthors = ["m <m@example.org>"]\n'
        f'package-mode = false\n\n[tool.poetry.dependencies]\npython = "^3.8"\nmathlib = "{mathlib}"\n\n'
        f'[[tool.poetry.source]]\nname = "ours"\nurl = "{static_index.url}"\npriority = "primary"\n')
    work = make_repo(tmp_path, static_index, {"pyproject.toml": pyproject})
    return work, pyproject, {**tool_env(static_index, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "poetry-cache")}


@pytest.mark.skipif(POETRY is None, reason="poetry is a test extra")
def test_poetry_project_gets_a_lockfile_poetry_accepts(static_index: StaticIndex, tmp_path: Path) -> None:
    work, pyproject, env = poetry_project(static_index, tmp_path, "^1.0")
    # lock at the old versions: pin them for the first lock, then restore the caret range
    (work / "pyproject.toml").write_text(pyproject.replace('mathlib = "^1.0"', 'mathlib = "1.0.0"\nhelper = "1.0.0"'))
    subprocess.run([POETRY, "lock", "--no-interaction"], cwd=work, check=True, capture_output=True, env=env)
    (work / "pyproject.toml").write_text(pyproject)
    subprocess.run([POETRY, "lock", "--no-interaction"], cwd=work, check=True, capture_output=True, env=env)
    assert 'name = "mathlib"\nversion = "1.0.0"' in (work / "poetry.lock").read_text()
    commit_all(work)

    rows = {d["name"]: d for d in scan(work)["dependencies"]}
    assert (rows["mathlib"]["locked"], rows["mathlib"]["specifier"]) == ("1.0.0", "^1.0")
    assert rows["helper"]["direct"] is False

    code, data, err = run(work)
    assert code == 0, err
    [change] = data["changes"]
    assert change["action"] == "opened" and change["tests"]["outcome"] == "passed", json.dumps(change)
    assert git(work, "diff", "--name-only", "main", "nightcrew/mathlib-1.1.0").split() == ["poetry.lock"]
    check = tmp_path / "check"
    git(work, "worktree", "add", "-q", str(check), "nightcrew/mathlib-1.1.0")
    proc = subprocess.run([POETRY, "check", "--lock"], cwd=check, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    moved = {(c["name"], c["from"], c["to"]) for c in change["lockfile_changes"]}
    assert ("mathlib", "1.0.0", "1.1.0") in moved and ("helper", "1.0.0", "1.1.0") in moved


@pytest.mark.skipif(UV is None, reason="uv is a test extra")
def test_uv_major_bump_edits_the_range_and_relocks(static_index: StaticIndex, tmp_path: Path) -> None:
    publish(static_index, tmp_path / "dists")
    work = make_repo(tmp_path, static_index, {"pyproject.toml": PYPROJECT})
    env = tool_env(static_index, tmp_path)
    subprocess.run([UV, "lock", "--upgrade-package", "mathlib==1.1.0"], cwd=work, check=True, capture_output=True,
                   env=env)
    config = work / "nightcrew.toml"
    config.write_text(config.read_text().replace('kinds = ["patch", "minor"]', 'kinds = ["major"]'))
    commit_all(work)
    code, data, err = run(work)
    [change] = data["changes"]
    assert change["branch"] == "nightcrew/mathlib-2.0.0" and change["action"] == "opened", change
    assert change["tests"]["outcome"] == "failed"  # 2.0 renamed add(): the locked set is what was tested
    assert sorted(git(work, "diff", "--name-only", "main", "nightcrew/mathlib-2.0.0").split()) == \
        ["pyproject.toml", "uv.lock"]
    assert '"mathlib>=1.0,<3",  # keep below 2: the API changed' in \
        git(work, "show", "nightcrew/mathlib-2.0.0:pyproject.toml")
    check = tmp_path / "check"
    git(work, "worktree", "add", "-q", str(check), "nightcrew/mathlib-2.0.0")
    assert subprocess.run([UV, "lock", "--check"], cwd=check, capture_output=True, env=env).returncode == 0


@pytest.mark.skipif(PIP_COMPILE is None, reason="pip-tools is a test extra")
def test_pip_tools_range_that_admits_the_version_recompiles_only(static_index: StaticIndex, tmp_path: Path) -> None:
    publish(static_index, tmp_path / "dists")
    work = make_repo(tmp_path, static_index, {"requirements.in": "mathlib>=1.0,<2\n",
                                              "constraints.txt": "mathlib==1.0.0\nhelper==1.0.0\n"})
    env = {**tool_env(static_index, tmp_path), "CUSTOM_COMPILE_COMMAND": "pip-compile requirements.in"}
    subprocess.run([PIP_COMPILE, "--quiet", f"--index-url={static_index.url}", "--no-emit-index-url", "-c",
                    "constraints.txt", "--output-file=requirements.txt", "requirements.in"], cwd=work, check=True,
                   capture_output=True, env=env)
    (work / "constraints.txt").unlink()
    commit_all(work)
    code, data, err = run(work)
    assert code == 0, err
    [change] = data["changes"]
    assert change["action"] == "opened", change
    assert git(work, "diff", "--name-only", "main", "nightcrew/mathlib-1.1.0").split() == ["requirements.txt"]
    moved = {(c["name"], c["from"], c["to"]) for c in change["lockfile_changes"]}
    assert moved == {("mathlib", "1.0.0", "1.1.0"), ("helper", "1.0.0", "1.1.0")}


@pytest.mark.skipif(UV is None, reason="uv is a test extra")
def test_lock_maintenance_refreshes_every_lockfile_once_per_interval(static_index: StaticIndex,
                                                                    tmp_path: Path) -> None:
    publish(static_index, tmp_path / "dists")
    work = make_repo(tmp_path, static_index, {"pyproject.toml": PYPROJECT})
    env = tool_env(static_index, tmp_path)
    subprocess.run([UV, "lock", "--upgrade-package", "mathlib==1.0.0", "--upgrade-package", "helper==1.0.0"],
                   cwd=work, check=True, capture_output=True, env=env)
    config = work / "nightcrew.toml"
    config.write_text(config.read_text().replace('kinds = ["patch", "minor"]', 'kinds = ["patch"]')
                      + "\n[updates.lock_maintenance]\nenabled = true\n")
    commit_all(work)
    code, data, err = run(work)
    assert code == 0, err
    [change] = data["changes"]  # no patch release to propose: only the maintenance PR, which moves everything
    assert (change["branch"], change["action"]) == ("nightcrew/lock-maintenance", "opened"), change
    assert {(c["name"], c["from"], c["to"], c["direct"]) for c in change["lockfile_changes"]} == \
        {("mathlib", "1.0.0", "1.1.0", True), ("helper", "1.0.0", "1.1.0", False)}
    assert change["tests"]["outcome"] == "passed"
    body = next((work / ".nightcrew" / "prs").glob("*.md")).read_text()
    assert "build(deps): refresh the lockfiles" in git(work, "log", "-1", "--format=%s", "nightcrew/lock-maintenance")
    assert "Refreshes the lockfiles" in body and "| helper | 1.0.0 | 1.1.0 | transitive |" in body
    # within the interval, the next run leaves it alone
    code, data, err = run(work)
    assert code == 0 and data["changes"] == [], data


@pytest.mark.skipif(POETRY is None, reason="poetry is a test extra")
def test_poetry_major_bump_edits_the_constraint_and_relocks(static_index: StaticIndex, tmp_path: Path) -> None:
    work, pyproject, env = poetry_project(static_index, tmp_path, "^1.1")
    subprocess.run([POETRY, "lock", "--no-interaction"], cwd=work, check=True, capture_output=True, env=env)
    config = work / "nightcrew.toml"
    config.write_text(config.read_text().replace('kinds = ["patch", "minor"]', 'kinds = ["major"]'))
    commit_all(work)
    code, data, err = run(work)
    [change] = data["changes"]
    assert change["branch"] == "nightcrew/mathlib-2.0.0" and change["action"] == "opened", json.dumps(change)
    assert sorted(git(work, "diff", "--name-only", "main", "nightcrew/mathlib-2.0.0").split()) == \
        ["poetry.lock", "pyproject.toml"]
    edited = git(work, "show", "nightcrew/mathlib-2.0.0:pyproject.toml")
    assert 'mathlib = ">=1.1,<3.0"' in edited, edited  # the caret widened (strategy auto)
    check = tmp_path / "check"
    git(work, "worktree", "add", "-q", str(check), "nightcrew/mathlib-2.0.0")
    proc = subprocess.run([POETRY, "check", "--lock"], cwd=check, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("mathlib", "1.1.0", "2.0.0") in {(c["name"], c["from"], c["to"]) for c in change["lockfile_changes"]}


@pytest.mark.skipif(UV is None, reason="uv is a test extra")
def test_a_vulnerable_transitive_package_gets_a_lockfile_only_security_pr(static_index: StaticIndex, osv,
                                                                          tmp_path: Path) -> None:
    from tests.support.osv_server import advisory

    publish(static_index, tmp_path / "dists")
    osv.add(advisory("GHSA-help-0001", "helper", fixed=["1.1.0"], severity="HIGH"))
    work = make_repo(tmp_path, static_index, {"pyproject.toml": PYPROJECT})
    subprocess.run([UV, "lock", "--upgrade-package", "mathlib==1.0.0", "--upgrade-package", "helper==1.0.0"],
                   cwd=work, check=True, capture_output=True, env=tool_env(static_index, tmp_path))
    config = work / "nightcrew.toml"
    config.write_text(config.read_text().replace('kinds = ["patch", "minor"]', "kinds = []"))
    commit_all(work)
    code, data, err = run(work)
    assert code == 0, err
    [change] = data["changes"]
    assert (change["branch"], change["action"]) == ("nightcrew/helper-1.1.0", "opened"), change
    assert [a["id"] for a in change["security"]] == ["GHSA-help-0001"]
    assert {(c["name"], c["from"], c["to"], c["direct"]) for c in change["lockfile_changes"]} == \
        {("helper", "1.0.0", "1.1.0", False)}
    assert git(work, "diff", "--name-only", "main", "nightcrew/helper-1.1.0").split() == ["uv.lock"]

"""Fixtures for the update job: a real repository with a bare remote, and a loopback index with a real package."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from tests.support.distbuild import build_wheel
from tests.support.github_server import GitHubStandIn
from tests.support.indexserver import StaticIndex

REPO = "acme/widgets"  # the repository the GitHub stand-in serves

V1 = "def add(a, b):\n    return a + b\n"
V11 = V1 + "\ndef mul(a, b):\n    return a * b\n"
V2 = "def plus(a, b):  # 2.0 renamed add()\n    return a + b\n"

REQUIREMENTS = "# runtime\nmathlib==1.0.0  # keep in step with docs\n"
TEST_FILE = "import mathlib\n\n\ndef test_add():\n    assert mathlib.add(1, 2) == 3\n\n\ndef test_truth():\n    assert True\n"


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Maintainer", "GIT_AUTHOR_EMAIL": "maintainer@example.org",
           "GIT_COMMITTER_NAME": "Maintainer", "GIT_COMMITTER_EMAIL": "maintainer@example.org",
           "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


@dataclass
class Project:
    work: Path
    remote: Path
    index: StaticIndex
    dists: Path

    def publish(self, version: str, source: str) -> None:
        self.index.add(build_wheel(self.dists, "mathlib", version, modules={"mathlib/__init__.py": source}))

    def write_config(self, extra: str = "") -> None:
        cache = (self.work.parent / "cache").as_posix()
        (self.work / "nightcrew.toml").write_text(
            f'[index]\nurl = "{self.index.url}"\ncache_dir = "{cache}"\nretries = 1\nbackoff = 0.01\n\n'
            '[forge]\nkind = "local"\nremote = "origin"\n\n'
            '[updates]\nkinds = ["patch", "minor", "major"]\n\n'
            '[tests]\nsystem_site_packages = true\ntimeout = 120\n' + extra
        )
        git(self.work, "add", "nightcrew.toml")
        git(self.work, "commit", "-qm", "nightcrew config")
        git(self.work, "push", "-q", "origin", "main")


@pytest.fixture
def project(tmp_path: Path, static_index: StaticIndex) -> Project:
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "requirements.txt").write_text(REQUIREMENTS)
    (work / "tests").mkdir()
    (work / "tests" / "test_math.py").write_text(TEST_FILE)
    git(work, "add", ".")
    git(work, "commit", "-qm", "initial")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    dists = tmp_path / "dists"
    dists.mkdir()
    proj = Project(work, remote, static_index, dists)
    for version, source in (("1.0.0", V1), ("1.1.0", V11), ("2.0.0", V2)):
        proj.publish(version, source)
    proj.write_config()
    return proj


def run_updates(project: Project, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    """`nightcrew run dependency-updates --format json` on the project: exit code, parsed JSON, standard error."""
    from jobs.cli import cli

    result = CliRunner(env=env).invoke(cli, ["run", "dependency-updates", "--repo", str(project.work), "--format",
                                             "json", *args])
    assert result.stdout, result.stderr or result.exception
    return result.exit_code, json.loads(result.stdout), result.stderr


def by_branch(data: dict) -> dict[str, dict]:
    return {c["branch"]: c for c in data["changes"]}


def serve_github(project: Project, monkeypatch: pytest.MonkeyPatch, *, tokens: dict[str, str] | None = None,
                 extra_config: str = "") -> Iterator[GitHubStandIn]:
    """The GitHub stand-in over the project's bare remote, and the project's config switched to the github forge."""
    server = GitHubStandIn(project.remote, full_name=REPO, tokens=tokens)
    server.start()
    config = project.work / "nightcrew.toml"
    config.write_text(config.read_text().replace(
        '[forge]\nkind = "local"\nremote = "origin"\n',
        f'[forge]\nkind = "github"\nremote = "origin"\napi_url = "{server.api_url}"\nrepository = "{REPO}"\n'
        'throttle = false\n',
    ) + extra_config)
    git(project.work, "commit", "-qam", "github forge")
    git(project.work, "push", "-q", "origin", "main")
    monkeypatch.setenv("GITHUB_TOKEN", "bot-token")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hub(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    yield from serve_github(project, monkeypatch)

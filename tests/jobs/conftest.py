"""Fixtures for the update job: a real repository with a bare remote, and a loopback index with a real package."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.distbuild import build_wheel
from tests.support.indexserver import StaticIndex

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

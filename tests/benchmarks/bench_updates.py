"""Dependency-update benchmark: ten pinned packages, one minor update each, local forge, real test runs.

A generated repository (with a bare remote as ``origin``) pins pkg00..pkg09 at 1.0.0; a loopback index serves
real wheels of 1.0.0 and 1.1.0 for each. The job runs in-process twice: the first run opens ten PRs (one fresh
test environment each), the second finds them all unchanged. For each run: wall time, time in test runs,
the bot's own overhead (wall minus tests) and the changes per action.

Run: python tests/benchmarks/bench_updates.py   (target: bot overhead under 5 s for ten updates)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jobs import config as config_module  # noqa: E402
from jobs.dependency_updates import ACTIONS, UpdateRun  # noqa: E402
from tests.support.distbuild import build_wheel  # noqa: E402
from tests.support.indexserver import StaticIndex  # noqa: E402

PACKAGES = 10
OLD, NEW = "1.0.0", "1.1.0"
TARGET_OVERHEAD = 5.0  # seconds of bot overhead (everything but the test runs) for ten updates


def names() -> list[str]:
    return [f"pkg{p:02d}" for p in range(PACKAGES)]


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Maintainer", "GIT_AUTHOR_EMAIL": "maintainer@example.org",
           "GIT_COMMITTER_NAME": "Maintainer", "GIT_COMMITTER_EMAIL": "maintainer@example.org",
           "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout.strip()


def build_index(index: StaticIndex, dists: Path) -> None:
    for name in names():
        for version in (OLD, NEW):
            index.add(build_wheel(dists, name, version))


def write_repo(base: Path, index_url: str) -> Path:
    remote, work, cache = base / "remote.git", base / "work", base / "cache"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "requirements.txt").write_text("".join(f"{name}=={OLD}\n" for name in names()))
    (work / "tests").mkdir()
    for name in names():
        (work / "tests" / f"test_{name}.py").write_text(
            f"import {name}\n\n\ndef test_{name}_imports():\n    assert {name}.__version__\n")
    (work / "nightcrew.toml").write_text(
        f'[index]\nurl = "{index_url}"\ncache_dir = "{cache.as_posix()}"\nretries = 1\nbackoff = 0.01\n\n'
        '[forge]\nkind = "local"\nremote = "origin"\n\n'
        # the defaults (max_prs_per_run = 5) would hold back half of the ten updates
        f'[updates]\nkinds = ["patch", "minor"]\nmax_prs_per_run = {PACKAGES}\nmax_open_prs = {PACKAGES}\n\n'
        '[tests]\nsystem_site_packages = true\ntimeout = 120\n\n[security]\nenabled = false\n'
    )
    git(work, "add", ".")
    git(work, "commit", "-qm", "initial")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    return work


def run_job(repo: Path) -> tuple[UpdateRun, float]:
    """The job as `nightcrew run dependency-updates` runs it: run lock, state store, recorder, policy, audit."""
    from jobs.dependency_updates import run_job as one_shot

    started = time.perf_counter()
    config = config_module.load(repo=repo)
    result = one_shot(repo, config)
    return result, time.perf_counter() - started


def report(label: str, result: UpdateRun, wall: float) -> float:
    overhead = wall - result.test_seconds
    actions = Counter(c.action for c in result.changes)
    counts = ", ".join(f"{a} {actions[a]}" for a in ACTIONS if actions[a])
    updates = max(len(result.changes), 1)
    print(f"{label:<22} wall {wall:6.2f} s (job {result.seconds:6.2f} s)  tests {result.test_seconds:6.2f} s  "
          f"overhead {overhead:5.2f} s ({overhead / updates:.3f} s per update)  changes: {counts or 'none'}")
    if result.problems or result.skipped or result.failed:
        for change in result.changes:
            if change.action in ("failed", "skipped"):
                print(f"    {change.branch}: {change.action}: {change.reason}")
        for problem in result.problems:
            print(f"    problem: {problem}")
        for skip in result.skipped:
            print(f"    not chosen: {skip}")
    return overhead


def main() -> None:
    with StaticIndex() as index, tempfile.TemporaryDirectory(prefix="nightcrew-bench-") as tmp:
        base = Path(tmp)
        build_index(index, base / "dists")
        repo = write_repo(base, index.url)
        print(f"update benchmark: {PACKAGES} pinned packages, one minor update each ({OLD} -> {NEW}), "
              "local forge with a bare remote, loopback index, real test runs")
        first, first_wall = run_job(repo)
        first_overhead = report("first run (opens PRs)", first, first_wall)
        second, second_wall = run_job(repo)
        report("second run (no change)", second, second_wall)
        opened = sum(c.action == "opened" for c in first.changes)
        unchanged = sum(c.action == "unchanged" for c in second.changes)
        if opened != PACKAGES or unchanged != PACKAGES:
            print(f"WARNING: expected {PACKAGES} opened then {PACKAGES} unchanged, "
                  f"got {opened} opened then {unchanged} unchanged")
        per_update = first_overhead / max(len(first.changes), 1)
        print(f"target: bot overhead < {TARGET_OVERHEAD:.1f} s for ten updates -> "
              f"{'met' if first_overhead < TARGET_OVERHEAD else 'MISSED'} "
              f"(first run {first_overhead:.2f} s, {per_update:.3f} s per update; "
              f"tests took {first.test_seconds:.2f} s of {first_wall:.2f} s)")


if __name__ == "__main__":
    main()

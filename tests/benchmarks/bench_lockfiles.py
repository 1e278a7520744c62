"""Locked-update benchmark: a uv project, a Poetry project and a pip-tools project, each locking five packages
at 1.0.0 (each with a transitive dependency), and one minor update (1.0.0 -> 1.1.0) per package; the real lock
tools, a loopback index, local forge, real test runs.

Per project: wall time, time in the lock tool (from the audit records of ``lock.update``), time in the tests,
and the bot's own overhead per locked update (wall minus lock tool minus tests).

Run: python tests/benchmarks/bench_lockfiles.py   (needs uv, poetry and pip-compile on PATH: the test extras)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jobs import config as config_module  # noqa: E402
from tests.support.distbuild import build_wheel  # noqa: E402
from tests.support.indexserver import StaticIndex  # noqa: E402

PACKAGES = 5
OLD, NEW = "1.0.0", "1.1.0"


def names() -> list[str]:
    return [f"pkg{p:02d}" for p in range(PACKAGES)]


def git(cwd: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "M", "GIT_AUTHOR_EMAIL": "m@example.org", "GIT_COMMITTER_NAME": "M",
           "GIT_COMMITTER_EMAIL": "m@example.org", "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd)}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def build_index(index: StaticIndex, dists: Path) -> None:
    for name in names():
        for version in (OLD, NEW):
            index.add(build_wheel(dists, f"{name}-dep", version))
            index.add(build_wheel(dists, name, version, requires_dist=[f"{name}-dep>={version}"]))


def project(base: Path, kind: str, index_url: str) -> Path:
    work = base / kind
    remote = base / f"{kind}.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "tests").mkdir()
    (work / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin:" + str(Path(sys.executable).parent), "HOME": str(base),
           "UV_DEFAULT_INDEX": index_url, "POETRY_CACHE_DIR": str(base / "poetry-cache"), "UV_CACHE_DIR": str(base / "uv-cache")}
    pins = [f"{n}=={OLD}" for n in names()] + [f"{n}-dep=={OLD}" for n in names()]
    if kind == "uv":
        deps = ", ".join(f'"{n}>=1.0,<2"' for n in names())
        (work / "pyproject.toml").write_text(f'[project]\nname = "demo"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                             f"dependencies = [{deps}]\n")
        cmd = [shutil.which("uv") or "uv", "lock"] + [a for p in pins for a in ("--upgrade-package", p)]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env)
        if proc.returncode:
            raise SystemExit(f"uv lock failed: {proc.stderr}")
    elif kind == "poetry":
        head = ('[tool.poetry]\nname = "demo"\nversion = "0"\ndescription = ""\nauthors = ["m <m@example.org>"]\n'
                'package-mode = false\n\n[tool.poetry.dependencies]\npython = "^3.8"\n')
        source = f'\n[[tool.poetry.source]]\nname = "ours"\nurl = "{index_url}"\npriority = "primary"\n'
        pinned = "".join(f'{p.split("==")[0]} = "{OLD}"\n' for p in pins)
        (work / "pyproject.toml").write_text(head + pinned + source)
        subprocess.run([shutil.which("poetry") or "poetry", "lock"], cwd=work, check=True, capture_output=True,
                       env=env)
        (work / "pyproject.toml").write_text(head + "".join(f'{n} = "^1.0"\n' for n in names()) + source)
        subprocess.run([shutil.which("poetry") or "poetry", "lock"], cwd=work, check=True, capture_output=True,
                       env=env)
    else:
        (work / "requirements.in").write_text("".join(f"{n}>=1.0,<2\n" for n in names()))
        (work / "constraints.txt").write_text("\n".join(pins) + "\n")
        subprocess.run([shutil.which("pip-compile") or "pip-compile", "--quiet", f"--index-url={index_url}",
                        "--no-emit-index-url", "-c", "constraints.txt", "--output-file=requirements.txt",
                        "requirements.in"], cwd=work, check=True, capture_output=True,
                       env={**env, "CUSTOM_COMPILE_COMMAND": "pip-compile requirements.in"})
        (work / "constraints.txt").unlink()
    (work / "nightcrew.toml").write_text(
        f'[index]\nurl = "{index_url}"\ncache_dir = "{(base / "cache").as_posix()}"\nretries = 1\n\n'
        '[forge]\nkind = "local"\nremote = "origin"\n\n'
        f'[updates]\nkinds = ["patch", "minor"]\nmax_prs_per_run = {PACKAGES}\nmax_open_prs = {PACKAGES}\n\n'
        '[tests]\nsystem_site_packages = true\ntimeout = 120\n\n[security]\nenabled = false\n')
    git(work, "add", "-A")
    git(work, "commit", "-qm", "initial")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    return work


def main() -> int:
    missing = [tool for tool in ("uv", "poetry", "pip-compile") if shutil.which(tool) is None]
    if missing:
        print(f"skipped: {', '.join(missing)} not on PATH (pip install '.[test]')")
        return 0
    from jobs.dependency_updates import run_job

    print(f"locked-update benchmark: {PACKAGES} locked packages per project (each with a transitive one), one minor "
          f"update each ({OLD} -> {NEW}); real lock tools, loopback index, local forge, real test runs")
    with StaticIndex() as index, tempfile.TemporaryDirectory(prefix="nightcrew-bench-lock-") as tmp:
        base = Path(tmp)
        build_index(index, base / "dists")
        for kind in ("uv", "poetry", "pip-tools"):
            repo = project(base, kind, index.url)
            started = time.perf_counter()
            result = run_job(repo, config_module.load(repo=repo))
            wall = time.perf_counter() - started
            tool = sum(r.duration for r in result.audit if r.action == "lock.update")
            updates = max(len(result.changes), 1)
            overhead = wall - tool - result.test_seconds
            actions = sorted({c.action for c in result.changes})
            print(f"{kind:<10} {len(result.changes)} updates ({', '.join(actions)})  wall {wall:6.2f} s  "
                  f"lock tool {tool:6.2f} s ({tool / updates:.2f} s per update)  tests {result.test_seconds:6.2f} s  "
                  f"bot overhead {overhead:5.2f} s ({overhead / updates:.3f} s per update)")
            for change in result.changes:
                if change.action != "opened":
                    print(f"    {change.branch}: {change.action}: {change.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

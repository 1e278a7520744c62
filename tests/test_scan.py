"""`nightcrew scan` end to end: a real repository on disk, a real index on loopback, the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from tests.support.indexserver import StaticIndex

REQUIREMENTS = """\
# pinned, with a comment
alpha==1.0.0  # inline comment
beta>=0.9,<1.0
-r requirements/dev.txt
gamma===2.0
not-a-real-package==1.0
broken-line==
./local/path
"""

DEV = """\
delta~=1.1
"""

PYPROJECT = """\
[project]
name = "example"
version = "0.1"
requires-python = ">=3.9"
dependencies = [
    "alpha>=1.0",
    "epsilon==3.0.0",
]

[build-system]
requires = ["hatchling>=1.0"]
build-backend = "hatchling.build"
"""


@pytest.fixture
def index(static_index: StaticIndex, make_dists) -> StaticIndex:
    for path in make_dists("alpha", ["1.0.0", "1.0.1", "1.1.0", "2.0.0"]):
        static_index.add(path)
    static_index.add_file_entry("alpha", "alpha-2.1.0rc1.tar.gz")
    static_index.add_file_entry("beta", "beta-0.9.tar.gz")
    static_index.add_file_entry("beta", "beta-0.9.5.tar.gz")
    static_index.add_file_entry("beta", "beta-1.0.tar.gz")
    static_index.add_file_entry("gamma", "gamma-2.0.tar.gz")
    static_index.add_file_entry("delta", "delta-1.1.0.tar.gz")
    static_index.add_file_entry("delta", "delta-1.2.0.tar.gz")
    static_index.add_file_entry("delta", "delta-1.3.0.tar.gz", yanked="bad release")
    static_index.add_file_entry("epsilon", "epsilon-3.0.0.tar.gz")
    static_index.add_file_entry("epsilon", "epsilon-3.0.1.tar.gz", requires_python=">=3.12")
    static_index.add_file_entry("hatchling", "hatchling-1.0.tar.gz")
    static_index.add_file_entry("hatchling", "hatchling-1.27.0.tar.gz")
    return static_index


def make_repo(root: Path, index_url: str, cache: Path, **overrides: str) -> Path:
    (root / "requirements").mkdir(parents=True)
    (root / "requirements.txt").write_text(overrides.get("requirements", REQUIREMENTS))
    (root / "requirements" / "dev.txt").write_text(DEV)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "nightcrew.toml").write_text(
        f'[index]\nurl = "{index_url}"\ncache_dir = "{cache.as_posix()}"\nretries = 1\nbackoff = 0.01\ntimeout = 2.0\n'
    )
    return root


def run_scan(repo: Path, *args: str) -> tuple[int, dict | str, str]:
    result = CliRunner().invoke(cli, ["scan", "--repo", str(repo), *args])
    out = result.stdout
    try:
        data: dict | str = json.loads(out)
    except ValueError:
        data = out
    return result.exit_code, data, result.stderr


def rows(data: dict) -> dict[tuple[str, str], dict]:
    return {(d["name"], d["file"]): d for d in data["dependencies"]}


def test_scan_reports_every_dependency_with_where_and_how_far(index: StaticIndex, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", index.url, tmp_path / "cache")
    code, data, err = run_scan(repo, "--format", "json")
    assert code == 0, err
    found = rows(data)
    alpha = found[("alpha", "requirements.txt")]
    assert (alpha["line"], alpha["specifier"], alpha["current"]) == (2, "==1.0.0", "1.0.0")
    assert (alpha["latest_allowed"], alpha["latest"], alpha["update_kind"]) == ("1.0.0", "2.0.0", "major")
    assert alpha["python_compatible"] is True and alpha["skipped_reason"] is None
    beta = found[("beta", "requirements.txt")]
    assert (beta["current"], beta["latest_allowed"], beta["latest"], beta["update_kind"]) == ("0.9.5", "0.9.5", "1.0", "major")
    assert found[("gamma", "requirements.txt")]["update_kind"] is None
    delta = found[("delta", "requirements/dev.txt")]  # followed through -r; yanked 1.3.0 ignored
    assert (delta["line"], delta["current"], delta["latest"], delta["update_kind"]) == (1, "1.2.0", "1.2.0", None)
    epsilon = found[("epsilon", "pyproject.toml")]  # 3.0.1 needs Python 3.12, the project supports 3.9
    assert (epsilon["latest"], epsilon["latest_compatible"], epsilon["python_compatible"]) == ("3.0.1", "3.0.0", False)
    assert epsilon["update_kind"] == "patch"
    assert found[("alpha", "pyproject.toml")]["update_kind"] is None
    assert found[("hatchling", "pyproject.toml")]["current"] == "1.27.0"
    assert data["python"] == "3.9"


def test_scan_bad_input_is_reported_and_the_rest_still_scanned(index: StaticIndex, tmp_path: Path) -> None:
    index.fail("alpha", status=503, times=None)
    repo = make_repo(tmp_path / "repo", index.url, tmp_path / "cache")
    code, data, err = run_scan(repo, "--format", "json")
    assert code == 0
    errors = {(e["file"], e["line"]): e["message"] for e in data["errors"]}
    assert "==" in errors[("requirements.txt", 7)]  # the malformed line, named by file and line
    assert "not found on the index (HTTP 404)" in errors[("requirements.txt", 6)]
    assert f"GET {index.url}not-a-real-package/" in errors[("requirements.txt", 6)]
    assert "HTTP 503" in errors[("requirements.txt", 2)] and f"GET {index.url}alpha/" in errors[("requirements.txt", 2)]
    assert len([e for e in data["errors"] if "alpha" in e["message"]]) == 1  # one error per package
    found = rows(data)
    assert found[("alpha", "pyproject.toml")]["skipped_reason"].startswith("not checked: HTTP 503")
    assert found[("beta", "requirements.txt")]["update_kind"] == "major"  # others still scanned
    skipped = [d for d in data["dependencies"] if d["skipped_reason"] == "local path requirement"]
    assert len(skipped) == 1
    assert data["summary"]["not_checked"] == 4  # alpha twice, the unknown package, the local path
    for line in err.strip().splitlines():
        assert line.startswith("nightcrew: error: ")


def test_warm_scan_makes_only_conditional_requests(index: StaticIndex, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", index.url, tmp_path / "cache")
    assert run_scan(repo, "--format", "json")[0] == 0
    index.reset_log()
    code, data, _ = run_scan(repo, "--format", "json")
    pages = [r for r in index.requests if r.path.startswith("/simple/")]
    assert pages and all(r.conditional for r in pages if r.status != 404)
    assert data["requests"]["bytes_downloaded"] == sum(r.bytes_sent for r in pages)


def test_fail_on_outdated_exit_code(index: StaticIndex, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", index.url, tmp_path / "cache")
    assert run_scan(repo, "--format", "json", "--fail-on-outdated")[0] == 1
    (repo / "requirements.txt").write_text("gamma==2.0\n")
    (repo / "requirements" / "dev.txt").write_text("")
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\ndependencies = ["alpha>=1"]\n')
    assert run_scan(repo, "--format", "json", "--fail-on-outdated")[0] == 0


def test_invalid_config_exits_2_with_one_line_naming_file_and_line(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "nightcrew.toml").write_text("[index]\nurl = 'x'\nworkers = [\n")
    code, _, err = run_scan(repo)
    assert code == 2
    assert err.count("\n") == 1 and f"{repo / 'nightcrew.toml'}:" in err and "invalid TOML" in err


def test_unknown_config_key_exits_2(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "nightcrew.toml").write_text("[index]\nurll = 'x'\n")
    code, _, err = run_scan(repo)
    assert code == 2 and "unknown key 'index.urll'" in err


def test_table_lists_outdated_rows_and_summary(index: StaticIndex, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", index.url, tmp_path / "cache")
    code, out, _ = run_scan(repo, "--format", "table")
    assert code == 0
    assert isinstance(out, str)
    assert "requirements.txt:2" in out and "major" in out
    assert "gamma" not in out  # up to date: only with --all
    assert "3 outdated, 4 up to date, 2 not checked" in " ".join(out.split())
    assert "gamma" in run_scan(repo, "--format", "table", "--all")[1]


def test_credentials_never_appear_in_output(tmp_path: Path, make_dists) -> None:
    with StaticIndex(auth=("ci", "hunter2-token")) as index:
        index.add_file_entry("beta", "beta-1.0.tar.gz")
        url = index.url.replace("http://", "http://ci:hunter2-token@")
        repo = make_repo(tmp_path / "repo", url, tmp_path / "cache", requirements="beta==0.9\nmissing-pkg==1\n")
        code, data, err = run_scan(repo, "--format", "json")
    assert code == 0
    text = json.dumps(data) + err
    assert "hunter2-token" not in text
    assert rows(data)[("beta", "requirements.txt")]["update_kind"] == "major"


def test_python_dash_m_jobs_is_the_same_command(index: StaticIndex, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", index.url, tmp_path / "cache")
    proc = subprocess.run([sys.executable, "-m", "jobs", "scan", "--repo", str(repo)], capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "CI": "true"} | _pythonpath())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema"] == "nightcrew.scan/1"  # not a terminal: JSON by default
    assert "\x1b[" not in proc.stderr  # no progress bar outside a terminal


def _pythonpath() -> dict[str, str]:
    import os

    root = str(Path(__file__).resolve().parent.parent)
    return {"PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p),
            "HOME": os.environ.get("HOME", "/tmp")}


def test_scan_against_pypiserver(pypiserver_index, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("alpha==1.0.0\nbeta==0.9\n")
    (repo / "nightcrew.toml").write_text(
        f'[index]\nurl = "{pypiserver_index.url}"\ncache_dir = "{(tmp_path / "cache").as_posix()}"\n')
    code, data, err = run_scan(repo, "--format", "json")
    assert code == 0, err
    found = {d["name"]: d for d in data["dependencies"]}
    assert (found["alpha"]["latest"], found["alpha"]["update_kind"]) == ("2.0.0", "major")  # 2.1.0rc1 ignored
    assert (found["beta"]["latest"], found["beta"]["update_kind"]) == ("1.0", "major")


def _stderr_on_a_terminal(repo: Path, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run the scan with standard error on a pseudo-terminal; return exit code, stdout, what the terminal saw."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "jobs", "scan", "--repo", str(repo), "--format", "json"],
                              stdout=subprocess.PIPE, stderr=slave, env=env, timeout=120)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    return proc.returncode, proc.stdout, seen


def test_progress_bar_on_a_terminal_but_not_in_ci(index: StaticIndex, tmp_path: Path) -> None:
    import os

    repo = make_repo(tmp_path / "repo", index.url, tmp_path / "cache")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | _pythonpath() | {"TERM": "xterm"}
    code, out, terminal = _stderr_on_a_terminal(repo, env)
    assert code == 0
    assert b"asking the index" in terminal
    json.loads(out)  # the bar never mixes into standard output
    code, _, terminal = _stderr_on_a_terminal(repo, env | {"CI": "true"})
    assert code == 0 and b"asking the index" not in terminal

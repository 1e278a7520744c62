"""run_tests end to end: real venvs, real installs from a loopback index, the fixture repository's own tests."""

from __future__ import annotations

import json
import os
import platform
import re
import textwrap
import time
from pathlib import Path

import pytest

from jobs.index.locate import IndexLocation
from jobs.testing import RunSpec, child_env, run_tests
from jobs.testing.runner import _setup_steps, _Venv
from tests.support.distbuild import build_wheel
from tests.support.indexserver import StaticIndex

# system_site_packages: pytest comes from the host; the project's dependencies come from the loopback index.
SPEC = RunSpec(system_site_packages=True, timeout=60)

MATHLIB = {
    "1.0": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
    "2.0": "def mul(a, b):\n    return a * b\n",  # the breaking release: add() is gone
}

MATH_TESTS = """\
import pytest

import mathlib


def test_add():
    assert mathlib.add(2, 3) == 5


def test_mul():
    assert mathlib.mul(2, 3) == 6


class TestOps:
    def test_add_again(self):
        assert mathlib.add(1, 1) == 2


@pytest.mark.skip(reason="not today")
def test_later():
    pass
"""


@pytest.fixture
def index(static_index: StaticIndex, make_dists, tmp_path_factory: pytest.TempPathFactory) -> IndexLocation:
    """The loopback index with mathlib 1.0 and 2.0 (real code) and helper 1.0."""
    dest = tmp_path_factory.mktemp("wheels")
    for version, code in MATHLIB.items():
        static_index.add(build_wheel(dest, "mathlib", version, modules={"mathlib/__init__.py": code}))
    for path in make_dists("helper", ["1.0"], sdist=False):
        static_index.add(path)
    return IndexLocation(static_index.url, (), "test")


def make_repo(root: Path, tests: dict[str, str], requirements: str | None = None) -> Path:
    """A fixture repository: no build system, an optional requirements.txt and the given test files."""
    repo = root / "repo"
    for name, text in tests.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(textwrap.dedent(text))
    (repo / "tests").mkdir(parents=True, exist_ok=True)
    if requirements is not None:
        (repo / "requirements.txt").write_text(requirements)
    return repo


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no procfs: fall back to signal 0
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_dead(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def junit_dir(command: str) -> Path:
    match = re.search(r"--junitxml=(\S+)", command)
    assert match, command
    return Path(match.group(1)).parent


def test_passing_run_counts_come_from_junit(tmp_path: Path, index: IndexLocation) -> None:
    tests = {
        "tests/test_math.py": MATH_TESTS,
        "tests/test_helper.py": "import helper\n\ndef test_helper():\n    assert helper.__version__ == '1.0'\n",
    }
    repo = make_repo(tmp_path, tests, "mathlib==1.0\nhelper==1.0\n")
    report = run_tests(repo, SPEC, index=index, requirement_files=["requirements.txt"])
    assert report.outcome == "passed", report.output_tail
    assert (report.passed, report.failed, report.skipped, report.errors) == (4, 0, 1, 0)
    assert report.failing == () and report.reason is None
    assert report.python_version == platform.python_version()
    assert report.command.startswith("python -m pytest --junitxml=") and "-p no:cacheprovider" in report.command
    assert 0 < report.duration < 60
    assert "4 passed, 1 skipped" in report.output_tail
    assert not junit_dir(report.command).exists()  # the temp dir (venv, junit) is gone
    assert not list(repo.rglob("pyvenv.cfg")) and not (repo / ".pytest_cache").exists()  # no venv, no cache


def test_breaking_version_fails_and_names_the_tests(tmp_path: Path, index: IndexLocation) -> None:
    repo = make_repo(tmp_path, {"tests/test_math.py": MATH_TESTS}, "mathlib==2.0\n")
    # A repository's own pip set-up command runs through nightcrew's installer, with the run's index.
    spec = RunSpec(setup=("python -m pip install -r requirements.txt",), system_site_packages=True, timeout=60)
    report = run_tests(repo, spec, index=index)
    assert report.outcome == "failed", report.output_tail
    assert (report.passed, report.failed, report.skipped, report.errors) == (1, 2, 1, 0)
    assert report.failing == ("tests/test_math.py::test_add", "tests/test_math.py::TestOps::test_add_again")
    assert report.reason == "2 failed, 0 errors"
    assert "AttributeError" in report.output_tail


def test_hanging_test_is_killed_with_its_process_group(tmp_path: Path, index: IndexLocation) -> None:
    pid_file = tmp_path / "child.pid"
    hang = f"""\
        import subprocess, sys, time
        from pathlib import Path

        def test_hang():
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
            Path({str(pid_file)!r}).write_text(str(child.pid))
            time.sleep(300)
    """
    repo = make_repo(tmp_path, {"tests/test_hang.py": hang})
    started = time.monotonic()
    report = run_tests(repo, RunSpec(system_site_packages=True, timeout=3), index=index)
    assert report.outcome == "timed_out" and report.reason == "timed out after 3s"
    assert 3 <= report.duration < 5 and time.monotonic() - started < 20
    assert "tests/test_hang.py" in report.output_tail
    assert wait_dead(int(pid_file.read_text())), "the test's own child survived the timeout"


def test_processes_left_behind_by_a_finished_run_are_killed(tmp_path: Path, index: IndexLocation) -> None:
    pid_file = tmp_path / "child.pid"
    leave = f"""\
        import subprocess, sys
        from pathlib import Path

        def test_leaves_a_child():
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
            Path({str(pid_file)!r}).write_text(str(child.pid))
    """
    repo = make_repo(tmp_path, {"tests/test_leave.py": leave})
    report = run_tests(repo, SPEC, index=index)
    assert report.outcome == "passed", report.output_tail
    assert wait_dead(int(pid_file.read_text()))


def test_setup_failure_is_an_error_naming_the_step_with_credentials_redacted(tmp_path: Path, make_dists) -> None:
    with StaticIndex(auth=("nightcrew", "s3cr3t-pw")) as private:
        for path in make_dists("helper", ["1.0"], sdist=False):
            private.add(path)
        url = f"http://nightcrew:s3cr3t-pw@127.0.0.1:{private.port}/simple/"
        repo = make_repo(tmp_path, {"tests/test_x.py": "def test_x():\n    pass\n"}, "helper==1.0\nnosuchpkg==1.0\n")
        report = run_tests(repo, SPEC, index=IndexLocation(url, (), "config"), requirement_files=["requirements.txt"])
        asked = [r.path for r in private.requests if r.authorization]
    assert report.outcome == "error"
    assert report.reason is not None and report.reason.startswith("set-up failed: pip install -r requirements.txt")
    assert report.reason.endswith(" exited 1") and "http://nightcrew:***@127.0.0.1" in report.reason
    assert "nosuchpkg" in report.output_tail
    for text in (report.reason, report.command, report.output_tail):
        assert "s3cr3t-pw" not in text
    assert "/simple/nosuchpkg/" in asked  # the given index was used, with its credentials...
    # ...and nothing else: the host's pip configuration (extra indexes, find-links) did not leak in. (pip names
    # the indexes it looks in; uv, the installer when it is on PATH, names none but the one it was given)
    assert "Looking in links" not in report.output_tail
    looking = [line for line in report.output_tail.splitlines() if line.startswith("Looking in indexes:")]
    assert all(line.count("://") == 1 for line in looking), looking
    assert looking or "Using Python" in report.output_tail  # pip's line, or uv's


def test_environment_is_scrubbed_and_secrets_redacted(
    tmp_path: Path, index: IndexLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_TOKEN", "OPENAI_API_KEY", "FOO_TOKEN", "NIGHTCREW_TOKEN_FILE", "DB_PASSWORD", "MY_CUSTOM"):
        monkeypatch.setenv(name, f"value-of-{name}")
    monkeypatch.setenv("DATABASE_URL", "postgres://app:hunter2-xyz@db/app")  # holds a secret: goes too
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("KEEP_ME", "1")
    env_file = tmp_path / "env.json"
    dump = f"""\
        import json, os, sys
        from pathlib import Path

        def test_env():
            Path({str(env_file)!r}).write_text(json.dumps({{"env": dict(os.environ), "prefix": sys.prefix}}))
            print("the password is hunter2-xyz")
            assert False, "hunter2-xyz"
    """
    repo = make_repo(tmp_path, {"tests/test_env.py": dump})
    spec = RunSpec(system_site_packages=True, timeout=60, secret_env=("MY_CUSTOM",))
    report = run_tests(repo, spec, index=index, secrets=["hunter2-xyz"])
    assert report.outcome == "failed" and report.failing == ("tests/test_env.py::test_env",)
    seen = json.loads(env_file.read_text())
    env = seen["env"]
    for name in ("GITHUB_TOKEN", "OPENAI_API_KEY", "FOO_TOKEN", "NIGHTCREW_TOKEN_FILE", "DB_PASSWORD", "MY_CUSTOM",
                 "DATABASE_URL", "PIP_FIND_LINKS"):  # fmt: skip
        assert name not in env, name
    assert env["KEEP_ME"] == "1" and env["HOME"] == os.environ["HOME"]
    assert env["PIP_CONFIG_FILE"] == os.devnull
    venv = Path(env["VIRTUAL_ENV"])
    assert seen["prefix"] == str(venv) and env["PATH"].split(os.pathsep)[0] == str(venv / "bin")
    assert repo not in venv.parents and not venv.exists()  # outside the worktree, and removed
    assert "hunter2-xyz" not in report.output_tail and "the password is ***" in report.output_tail


def test_no_tests_collected_is_not_run(tmp_path: Path, index: IndexLocation) -> None:
    repo = make_repo(tmp_path, {"tests/helpers.py": "VALUE = 1\n"})
    report = run_tests(repo, SPEC, index=index)
    assert report.outcome == "not_run" and report.reason == "no tests were collected"
    assert report.passed == report.failed == 0


@pytest.mark.parametrize(("assertion", "outcome"), [("self.assertEqual(1, 1)", "passed"), ("self.fail()", "error")])
def test_unittest_command_is_judged_by_exit_code(
    tmp_path: Path, index: IndexLocation, assertion: str, outcome: str
) -> None:
    test = f"import unittest\n\nclass T(unittest.TestCase):\n    def test_it(self):\n        {assertion}\n"
    repo = make_repo(tmp_path, {"tests/test_u.py": test})
    spec = RunSpec(command="python -m unittest discover -s tests", system_site_packages=True, timeout=60)
    report = run_tests(repo, spec, index=index)
    assert report.outcome == outcome, report.output_tail
    assert report.command == "python -m unittest discover -s tests"  # no pytest options added
    assert (report.passed, report.failed, report.failing) == (0, 0, ())
    if outcome == "error":
        assert report.reason == "python -m unittest discover -s tests exited 1"
        assert "FAILED (failures=1)" in report.output_tail


def test_pytest_behind_a_wrapper_is_read_from_its_summary_line(tmp_path: Path, index: IndexLocation) -> None:
    wrapper = "import sys\n\nimport pytest\n\nsys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests']))\n"
    tests = {"run.py": wrapper, "tests/test_s.py": "def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2\n"}
    spec = RunSpec(command="python run.py", system_site_packages=True)
    report = run_tests(make_repo(tmp_path, tests), spec, index=index)
    assert report.outcome == "failed"
    assert (report.passed, report.failed, report.failing) == (1, 1, ("tests/test_s.py::test_bad",))


def test_setup_step_timeout_kills_it_and_names_it(tmp_path: Path, index: IndexLocation) -> None:
    repo = make_repo(tmp_path, {"tests/test_x.py": "def test_x():\n    pass\n"})
    spec = RunSpec(setup=("python -c 'import time; time.sleep(60)'",), timeout=1)
    started = time.monotonic()
    report = run_tests(repo, spec, index=index)
    assert report.outcome == "timed_out" and time.monotonic() - started < 10
    assert report.reason == "timed out after 1s (set-up: python -c 'import time; time.sleep(60)')"


def test_unparseable_command_is_an_error_before_any_venv(tmp_path: Path, index: IndexLocation) -> None:
    report = run_tests(tmp_path, RunSpec(command="python -m pytest -k 'unbalanced"), index=index)
    assert report.outcome == "error" and report.reason is not None
    assert report.reason.startswith("cannot parse the commands:")


def test_missing_command_is_an_error_and_a_relative_path_is_the_worktrees(tmp_path: Path, index: IndexLocation) -> None:
    repo = make_repo(tmp_path, {"check.sh": "#!/bin/sh\nexit 0\n"})
    report = run_tests(repo, RunSpec(command="no-such-runner-xyz --all"), index=index)
    assert report.outcome == "error" and report.reason == "command not found: no-such-runner-xyz"
    (repo / "check.sh").chmod(0o755)
    report = run_tests(repo, RunSpec(command="./check.sh"), index=index)
    assert report.outcome == "passed" and report.command == "./check.sh"


def test_child_env_rules() -> None:
    host = {
        "PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8", "TMPDIR": "/tmp", "SSL_CERT_FILE": "/ca.pem",
        "REQUESTS_CA_BUNDLE": "/ca.pem", "PIP_CERT": "/ca.pem", "PIP_INDEX_URL": "http://x/", "UV_INDEX": "x",
        "GH_TOKEN": "t", "GITHUB_PAT": "t", "api_token": "t", "PASSWORD": "p", "SECRET": "s", "APP_SECRET": "s",
        "SMTP_PASSWORD": "p", "X_API_KEY": "k", "NIGHTCREW_GITHUB_TOKEN": "t", "EXTRA": "e", "PYTHONHOME": "/py",
        "TOKEN_COUNT": "3", "NOTE": "contains sekrit-1 inside", "PYTEST_ADDOPTS": "-x", "PYTHONPATH": "/src",
        "SHORT": "has ab in it",
    }  # fmt: skip
    # A short secret is only redacted: matching values against it would take PATH and friends along.
    env = child_env(host, secret_env=("extra",), secrets=["sekrit-1", "", "ab"])
    assert set(env) == {
        "PATH", "HOME", "LANG", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "TOKEN_COUNT", "SHORT",
        "PIP_CONFIG_FILE", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_INPUT",
    }  # fmt: skip


def test_default_setup_is_one_install_and_uv_gets_python_after_the_subcommand(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["hatchling"]\n')
    index = IndexLocation("http://127.0.0.1:1/simple/", ("http://127.0.0.1:2/simple/",), "test")
    venv = _Venv(tmp_path / "venv", "/usr/bin/uv")
    steps = _setup_steps(tmp_path, SPEC, venv, index, ["requirements.txt", "dev.txt"])
    assert [s.label for s in steps] == [
        "pip install -e . -r requirements.txt -r dev.txt --index-url http://127.0.0.1:1/simple/ "
        "--extra-index-url http://127.0.0.1:2/simple/ --no-build-isolation"
    ]
    assert steps[0].argv[:6] == ["/usr/bin/uv", "pip", "install", "--python", str(venv.python), "--no-config"]
    plain = _setup_steps(tmp_path, RunSpec(), _Venv(tmp_path / "venv", None), index, [])
    extra = index.extra_urls[0]
    assert plain[0].argv[-7:] == ["install", "-e", ".", "--index-url", index.url, "--extra-index-url", extra]
    assert plain[0].argv[3:5] == ["--python", str(tmp_path / "venv" / "bin" / "python")]


def test_default_setup_installs_the_projects_test_extra(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\n\n[project]\nname = "x"\nversion = "1"\n\n'
        '[project.optional-dependencies]\ndocs = ["sphinx"]\ntests = ["pytest"]\n')
    index = IndexLocation("http://127.0.0.1:1/simple/", (), "test")
    steps = _setup_steps(tmp_path, RunSpec(), _Venv(tmp_path / "venv", None), index, [])
    assert steps[0].label.startswith("pip install -e '.[tests]' --index-url")


def test_hash_pinned_files_are_installed_on_their_own(tmp_path: Path) -> None:
    (tmp_path / "locked.txt").write_text("alpha==1.0 --hash=sha256:" + "0" * 64 + "\n")
    (tmp_path / "dev.txt").write_text("beta==2.0\n")
    index = IndexLocation("http://127.0.0.1:1/simple/", (), "test")
    steps = _setup_steps(tmp_path, RunSpec(), _Venv(tmp_path / "venv", None), index, ["locked.txt", "dev.txt"])
    assert [s.label.split(" --index-url")[0] for s in steps] == ["pip install -r locked.txt", "pip install -r dev.txt"]

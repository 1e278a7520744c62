"""Run a repository's own tests in a fresh virtual environment and report what they said."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from jobs.index.locate import IndexLocation
from jobs.models import TestReport
from jobs.testing.junit import Results, parse_summary, read_junit
from jobs.tools.redact import is_secret_name, redact


@dataclass(frozen=True)
class RunSpec:
    """How to run one repository's tests.

    ``setup``: shell-free commands run in the venv (in the worktree) before the tests; empty means the default:
    install the project (when it has a build system; with its ``test``/``tests``/``testing`` extra when it
    declares one) and every requirements file in one installer call.
    A set-up command starting with ``pip`` or ``python -m pip`` is run by nightcrew's installer (the venv has
    no pip of its own), and a ``pip install`` gets the run's index options, so it uses exactly that index.
    ``system_site_packages``: the venv also sees the host's packages (e.g. pytest). Installs then use
    ``--no-build-isolation``, so the project is built with the host's build backend instead of one fetched
    from the index (which need not carry setuptools or hatchling).
    ``secret_env``: more environment variable names to keep from every child process.
    """

    setup: tuple[str, ...] = ()
    command: str = "python -m pytest"
    timeout: float = 900
    system_site_packages: bool = False
    secret_env: tuple[str, ...] = ()
    tail_lines: int = 60


# The host's installer settings would add indexes or find-links: only TLS trust (and uv's cache) survive.
# Its test-runner and interpreter settings are nightcrew's own, not the repository's: they go too.
_HOST_PREFIXES = ("PIP_", "UV_", "PYTEST_", "COV_CORE_")
_HOST_NAMES = frozenset({"PYTHONHOME", "PYTHONPATH"})
_KEEP_HOST_VARS = frozenset({"PIP_CERT", "PIP_CLIENT_CERT", "UV_NATIVE_TLS", "UV_CACHE_DIR"})
_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for a timed-out process group
_READ_LIMIT = 1 << 20  # only the end of a command's output is ever reported or parsed
_MIN_VALUE_MATCH = 8  # shorter secrets are still redacted, but would take PATH and friends out of the environment


def child_env(
    environ: Mapping[str, str], *, secret_env: Sequence[str] = (), secrets: Sequence[str] = ()
) -> dict[str, str]:
    """The environment for set-up and test processes: secrets and the host's pip/uv/pytest settings removed.

    A variable whose value contains one of ``secrets`` (of 8 characters or more) goes too, whatever its name.
    """
    values = [s for s in secrets if len(s) >= _MIN_VALUE_MATCH]
    env: dict[str, str] = {}
    for name, value in environ.items():
        upper = name.upper()
        if is_secret_name(name, secret_env) or any(s in value for s in values):
            continue
        if (upper.startswith(_HOST_PREFIXES) or upper in _HOST_NAMES) and upper not in _KEEP_HOST_VARS:
            continue
        env[name] = value
    # os.devnull as PIP_CONFIG_FILE makes pip skip every configuration file (global, user and site).
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def _index_credentials(index: IndexLocation) -> list[str]:
    """Passwords (or tokens used as user names) in the index URLs, as written and percent-decoded."""
    found: list[str] = []
    for url in (index.url, *index.extra_urls):
        parts = urlsplit(url)
        secret = parts.password if parts.password is not None else parts.username
        if secret:
            found += [secret, unquote(secret)]
    return found


Redact = Callable[[str], str]


def _redactor(secrets: Sequence[str]) -> Redact:
    """A function replacing every secret (and any URL credential) by ``***``: the project's one redaction rule."""
    hidden = tuple(secrets)
    return lambda text: redact(text, hidden)


@dataclass(frozen=True)
class _Ran:
    """How one child process ended: ``returncode`` is None when it timed out or could not start."""

    returncode: int | None
    output: str = ""
    duration: float = 0.0
    timed_out: bool = False
    missing: bool = False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_unreaped(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` exits, without reaping it: while it is a zombie its process group id cannot be
    reused, so signalling the group afterwards cannot hit an unrelated process."""
    deadline, delay = time.monotonic() + timeout, 0.001
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)


def _read_output(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(max(0, fh.seek(0, os.SEEK_END) - _READ_LIMIT))
        return fh.read().decode("utf-8", "replace")


def _run(argv: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float, log: Path) -> _Ran:
    """Run ``argv`` in its own session (so its process group is ours to kill), output to ``log``.

    Output goes to a file, not a pipe: a grandchild that keeps the pipe open could otherwise hang us.
    """
    program = argv[0]  # a path (./run.sh) is the worktree's; a bare name is looked up on the child's PATH
    if not ((cwd / program).is_file() if os.sep in program else shutil.which(program, path=env.get("PATH"))):
        return _Ran(None, missing=True)
    started = time.monotonic()
    with open(log, "wb") as out:
        try:
            proc = subprocess.Popen(
                list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            return _Ran(None, output=str(exc), missing=isinstance(exc, FileNotFoundError))
        finished = _wait_unreaped(proc.pid, timeout)
        duration = time.monotonic() - started
        if not finished:
            _signal_group(proc.pid, signal.SIGTERM)
            _wait_unreaped(proc.pid, _GRACE)
        # Also after a normal exit: whatever the command left running in its group must not outlive it.
        _signal_group(proc.pid, signal.SIGKILL)
        returncode = proc.wait()
    return _Ran(returncode if finished else None, _read_output(log), duration, timed_out=not finished)


@dataclass(frozen=True)
class _Venv:
    """A virtual environment at ``path`` (POSIX layout), made and filled by uv when given, else venv + host pip."""

    path: Path
    uv: str | None

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def create_argv(self, system_site_packages: bool) -> list[str]:
        if self.uv:
            argv = [self.uv, "venv", "--no-config", "--quiet", "--python", sys.executable]
        else:  # no pip inside: the host pip installs into it (--python), far faster than ensurepip
            argv = [sys.executable, "-m", "venv", "--without-pip"]
        return argv + (["--system-site-packages"] if system_site_packages else []) + [str(self.path)]

    def pip_argv(self, pip_args: Sequence[str]) -> list[str]:
        """``pip <pip_args>`` aimed at this venv."""
        if self.uv:  # uv wants --python after the subcommand; --no-config keeps uv.toml files out of the run
            return [self.uv, "pip", *pip_args[:1], "--python", str(self.python), "--no-config", *pip_args[1:]]
        return [sys.executable, "-m", "pip", "--python", str(self.python), *pip_args]

    def link_host_site(self) -> None:
        """Make the host's packages visible when nightcrew itself runs in a venv.

        ``--system-site-packages`` only exposes the base interpreter's site-packages, not those of the venv
        nightcrew (and its pytest) live in; a ``.pth`` file adds them, after the new venv's own packages.
        """
        if sys.prefix == sys.base_prefix:
            return
        where = {"base": str(self.path), "platbase": str(self.path)}
        purelib = Path(sysconfig.get_path("purelib", "venv", vars=where))
        if purelib.is_dir():
            (purelib / "_nightcrew_host_site.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    def python_version(self) -> str | None:
        with contextlib.suppress(OSError):
            for line in (self.path / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() in ("version", "version_info"):  # venv writes the one, uv the other
                    return ".".join(value.strip().split(".")[:3])
        return None


@dataclass(frozen=True)
class _Step:
    """One command to run: what reports call it, and what actually runs."""

    label: str
    argv: list[str]


# Extras a project's tests usually need; the first one the project declares is installed with it.
TEST_EXTRAS = ("test", "tests", "testing")


def _project_target(worktree: Path) -> str | None:
    """What to install the project as (``.`` or ``.[test]``), or None when it has no build system."""
    try:
        text = (worktree / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "." if (worktree / "setup.py").is_file() else None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "." if "[build-system]" in text else None  # let the installer report what is wrong with the file
    if "build-system" not in data and not (worktree / "setup.py").is_file():
        return None
    extras = data.get("project", {}).get("optional-dependencies", {})
    extra = next((name for name in TEST_EXTRAS if isinstance(extras, dict) and name in extras), None)
    return f".[{extra}]" if extra else "."


def _has_hashes(path: Path) -> bool:
    try:
        return "--hash" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _pip_step(venv: _Venv, pip_args: list[str], index: IndexLocation, spec: RunSpec) -> _Step:
    if pip_args[:1] == ["install"]:
        # Ours go last, so they win over any index option the repository's own command names.
        pip_args = [*pip_args, "--index-url", index.url]
        for url in index.extra_urls:
            pip_args += ["--extra-index-url", url]
        if spec.system_site_packages:
            pip_args.append("--no-build-isolation")
    return _Step(shlex.join(["pip", *pip_args]), venv.pip_argv(pip_args))


def _setup_steps(
    worktree: Path, spec: RunSpec, venv: _Venv, index: IndexLocation, requirement_files: Sequence[str]
) -> list[_Step]:
    """The set-up commands to run; raises ValueError for one shlex cannot split."""
    if not spec.setup:
        target = _project_target(worktree)
        args = ["-e", target] if target else []
        hashed: list[str] = []
        for name in requirement_files:
            if _has_hashes(worktree / name):
                hashed.append(name)  # pip's hash-checking mode covers a whole call: such a file gets its own
            else:
                args += ["-r", name]
        steps = [_pip_step(venv, ["install", "-r", name], index, spec) for name in hashed]
        return steps + ([_pip_step(venv, ["install", *args], index, spec)] if args else [])
    steps = []
    for tokens in (shlex.split(command) for command in spec.setup):
        if tokens[:1] == ["pip"]:
            steps.append(_pip_step(venv, tokens[1:], index, spec))
        elif tokens and Path(tokens[0]).name.startswith("python") and tokens[1:3] == ["-m", "pip"]:
            steps.append(_pip_step(venv, tokens[3:], index, spec))
        elif tokens:
            steps.append(_Step(shlex.join(tokens), tokens))
    return steps


def _test_argv(command: str, venv: _Venv, junit: Path) -> tuple[list[str], bool]:
    """The test command as it will run, and whether it is pytest (then reporting to ``junit``)."""
    tokens = shlex.split(command)
    program = Path(tokens[0]).name if tokens else ""
    if program in ("pytest", "py.test"):
        if not (venv.python.parent / program).exists():
            # The host's pytest script would run the host's interpreter; the venv's must run the tests.
            tokens = ["python", "-m", "pytest", *tokens[1:]]
    elif not (program.startswith("python") and tokens[1:3] == ["-m", "pytest"]):
        return tokens, False
    # xunit1 adds the file attribute, so failing tests can be named by their pytest node ids.
    return [*tokens, f"--junitxml={junit}", "-p", "no:cacheprovider", "-o", "junit_family=xunit1"], True


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""


def _judge(ran: _Ran, results: Results, is_pytest: bool, spec: RunSpec) -> tuple[str, str | None]:
    """Outcome and reason for a finished test command; tests only pass when the runner said so."""
    if ran.timed_out:
        return "timed_out", f"timed out after {spec.timeout:g}s"
    if ran.returncode == 0:
        return "passed", None
    if is_pytest and ran.returncode == 5:
        return "not_run", "no tests were collected"
    if results.has_failures:
        return "failed", f"{results.failed} failed, {results.errors} errors"
    if ran.returncode is not None and ran.returncode < 0:
        return "error", f"{spec.command} was killed by signal {-ran.returncode}"
    return "error", f"{spec.command} exited {ran.returncode}"


def _setup_failure(step: _Step, ran: _Ran, spec: RunSpec, redact: Redact) -> TestReport:
    if ran.timed_out:
        outcome, reason = "timed_out", f"timed out after {spec.timeout:g}s (set-up: {step.label})"
    elif ran.missing:
        outcome, reason = "error", f"set-up failed: {step.label}: command not found"
    else:
        outcome, reason = "error", f"set-up failed: {step.label} exited {ran.returncode}"
    tail = _tail(redact(ran.output), spec.tail_lines)
    return TestReport(outcome, output_tail=tail, command=redact(step.label), reason=redact(reason))


def _prepare(tmp: Path, worktree: Path, spec: RunSpec, index: IndexLocation, requirement_files: Sequence[str],
             env: dict[str, str], redact: Redact) -> tuple[_Venv, dict[str, str]] | TestReport:  # fmt: skip
    """Create the venv and run the set-up in it: the venv and its environment, or the report of what failed."""
    venv = _Venv(tmp / "venv", shutil.which("uv"))
    create = venv.create_argv(spec.system_site_packages)
    ran = _run(create, cwd=tmp, env=env, timeout=spec.timeout, log=tmp / "venv.log")
    if ran.returncode != 0:
        return _setup_failure(_Step(shlex.join(create), create), ran, spec, redact)
    if spec.system_site_packages:
        venv.link_host_site()
    bin_dir = str(venv.python.parent)
    venv_env = {**env, "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]), "VIRTUAL_ENV": str(venv.path)}
    for step in _setup_steps(worktree, spec, venv, index, requirement_files):
        ran = _run(step.argv, cwd=worktree, env=venv_env, timeout=spec.timeout, log=tmp / "setup.log")
        if ran.returncode != 0:
            return _setup_failure(step, ran, spec, redact)
    return venv, venv_env


def _run_suite(
    tmp: Path, worktree: Path, spec: RunSpec, venv: _Venv, env: dict[str, str], redact: Redact
) -> TestReport:
    """Run the test command in the prepared venv and read what it said."""
    argv, is_pytest = _test_argv(spec.command, venv, tmp / "junit.xml")
    command, version = redact(shlex.join(argv)), venv.python_version()
    ran = _run(argv, cwd=worktree, env=env, timeout=spec.timeout, log=tmp / "tests.log")
    if ran.missing:
        return TestReport("error", python_version=version, command=command, reason=f"command not found: {argv[0]}")
    output = redact(ran.output)
    results = (read_junit(tmp / "junit.xml") if is_pytest else None) or parse_summary(output) or Results()
    outcome, reason = _judge(ran, results, is_pytest, spec)
    return TestReport(
        outcome, passed=results.passed, failed=results.failed, skipped=results.skipped, errors=results.errors,
        failing=results.failing, duration=ran.duration, output_tail=_tail(output, spec.tail_lines),
        python_version=version, command=command, reason=redact(reason) if reason else None,
    )  # fmt: skip


def run_tests(
    worktree: Path,
    spec: RunSpec,
    *,
    index: IndexLocation,
    requirement_files: Sequence[str] = (),
    secrets: Sequence[str] = (),
) -> TestReport:
    """Set up a fresh venv (in a temp dir outside ``worktree``, removed afterwards) and run the tests there.

    Never raises for what the tests or the set-up did: those are outcomes. ``secrets`` (and credentials in
    the index URLs) are replaced by ``***`` in the report, and kept out of every child's environment.
    """
    worktree = Path(worktree).resolve()
    hidden = [*secrets, *_index_credentials(index)]
    redact = _redactor(hidden)
    try:  # commands are checked first: a typo should not cost a venv
        if not shlex.split(spec.command):
            return TestReport("error", reason="the test command is empty")
        for command in spec.setup:
            shlex.split(command)
    except ValueError as exc:  # unbalanced quotes
        return TestReport("error", command=redact(spec.command), reason=redact(f"cannot parse the commands: {exc}"))
    env = child_env(os.environ, secret_env=spec.secret_env, secrets=hidden)
    try:
        with tempfile.TemporaryDirectory(prefix="nightcrew-tests-", ignore_cleanup_errors=True) as name:
            tmp = Path(name)
            prepared = _prepare(tmp, worktree, spec, index, requirement_files, env, redact)
            if isinstance(prepared, TestReport):
                return prepared
            return _run_suite(tmp, worktree, spec, *prepared, redact)
    except OSError as exc:  # the temp dir or a log file could not be written
        return TestReport("error", reason=redact(f"could not run the tests: {exc}"))

"""Fixtures for the scheduler and the release watch: the update job's `project`, a small tagged repository with
a bare remote, the scheduler's JSON log captured, and a clear shutdown switch for every test."""

from __future__ import annotations

import io
import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from jobs import scheduler
from tests.jobs.conftest import Project, git, project  # noqa: F401  (`project` is re-exported as a fixture here)


@pytest.fixture(autouse=True)
def no_shutdown() -> Iterator[None]:
    """The module-level SHUTDOWN switch starts and ends every test cleared (it outlives the scheduler)."""
    scheduler.SHUTDOWN.clear()
    yield
    scheduler.SHUTDOWN.clear()


class LogLines:
    """The scheduler's log lines, each parsed from its JSON."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def events(self, job: str | None = None) -> list[str]:
        return [r["event"] for r in self.all() if job is None or r["job"] == job]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    stream = io.StringIO()
    handler = scheduler.configure_logging(stream)
    yield LogLines(stream)
    for name in ("nightcrew.scheduler", "apscheduler"):
        logger = logging.getLogger(name)
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


@dataclass
class Tagged:
    """A repository with a few release tags and a bare remote that has them too."""

    work: Path
    remote: Path

    def commit(self, message: str) -> None:
        with (self.work / "history.txt").open("a", encoding="utf-8") as handle:
            handle.write(message + "\n")
        git(self.work, "add", "history.txt")
        git(self.work, "commit", "-qm", message)

    def tag(self, name: str, *, push: bool = False) -> None:
        git(self.work, "tag", name)
        if push:
            git(self.work, "push", "-q", "origin", "main", name)

    def config(self, text: str = "") -> Path:
        """nightcrew.toml in the repository (kept out of git): the local forge with remote "origin", unless
        ``text`` starts with a [forge] table of its own."""
        path = self.work / "nightcrew.toml"
        path.write_text(text if text.startswith("[forge]") else '[forge]\nkind = "local"\nremote = "origin"\n\n' + text,
                        encoding="utf-8")
        return path


@pytest.fixture
def tagged(tmp_path: Path) -> Tagged:
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / ".git" / "info" / "exclude").write_text("nightcrew.toml\n")
    repo = Tagged(work, remote)
    repo.commit("initial")
    repo.tag("v1.0.0")
    repo.commit("feat: retries (#1)")
    repo.tag("v1.1.0")
    repo.tag("not-a-release")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main", "--tags")
    repo.config()
    return repo


class ManualScheduler(scheduler.BaseScheduler):
    """A scheduler with no loop of its own: the test moves the clock and calls ``tick()`` (one round of what
    the real loop does), as APScheduler's own tests drive ``_process_jobs``."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        pass

    def tick(self) -> float | None:
        return self._process_jobs()


@pytest.fixture
def manual_scheduler() -> type[ManualScheduler]:
    return ManualScheduler

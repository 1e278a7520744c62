"""The kill switch: whether the bot must stop now (a shutdown, the pause variable, the pause file, `nightcrew pause`)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Mapping

PAUSED = "paused"


def truthy(value: str | None) -> bool:
    """Whether a switch variable is on: set to anything but "", "0", "false", "no" or "off"."""
    return value is not None and value.strip().lower() not in ("", "0", "false", "no", "off")


class KillSwitch:
    """Asked before every action; ``reason()`` is None to go on, else "paused: ..." or "shutdown: ...".

    The pause file is read from the repository's working tree, and, once a job has fetched the base branch and
    calls ``see_committed``, from the base commit too: a pause committed and pushed stops a host whose working
    tree is not kept up to date. The store's switch is set by ``nightcrew pause`` for one repository or for
    every repository ("*").
    """

    def __init__(self, settings: Any, repo: Path | None, *, store: Any = None, repository: str = "",
                 shutdown: threading.Event | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.settings, self.repo, self.store, self.repository = settings, repo, store, repository
        self.shutdown = shutdown
        self.environ = os.environ if environ is None else environ
        self.committed: str | None = None  # the pause file's text at the base commit, when it is there

    def see_committed(self, text: str | None) -> None:
        """The pause file as committed on the base branch (None: not there)."""
        self.committed = text

    @staticmethod
    def _why(text: str) -> str:
        first = text.strip().splitlines()
        return f" ({first[0][:200]})" if first and first[0].strip() else ""

    def reason(self) -> str | None:
        if self.shutdown is not None and self.shutdown.is_set():
            return "shutdown: a stop was asked for (SIGTERM or SIGINT); the run stops between steps"
        name = self.settings.pause_env
        if name and truthy(self.environ.get(name)):
            return f"paused: the environment variable {name} is set"
        if self.repo is not None and self.settings.pause_file:
            path = self.repo / self.settings.pause_file
            if path.is_file():
                try:
                    why = self._why(path.read_text(encoding="utf-8", errors="replace"))
                except OSError:
                    why = ""
                return f"paused: {self.settings.pause_file} exists in the repository{why}"
        if self.committed is not None and self.settings.pause_file:
            return f"paused: {self.settings.pause_file} is committed on the base branch{self._why(self.committed)}"
        if self.store is not None:
            found = self.store.control(self.repository, PAUSED)
            if found is not None:
                scope = "every repository" if found["repository"] == "*" else "this repository"
                why = f": {found['value']}" if found["value"] else ""
                return f"paused: `nightcrew pause` for {scope} since {found['set_at']}{why}"
        return None

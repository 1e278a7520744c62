"""Which git remote bump branches and notes branches go to: one rule for every job.

``[forge] remote`` names it (default ``origin``). With the local forge, a repository without the *default*
remote is fine: branches stay in the local repository, and the run says so once. A remote named on purpose
(in the configuration file or with ``--remote``) that does not exist is a configuration error. The GitHub forge
keeps the default as it is (its pushes then fail with git's own error, naming the remote).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.config import Config
from jobs.errors import ConfigError
from jobs.vcs import Git


@dataclass(frozen=True)
class RemoteChoice:
    name: str  # "" when branches stay in the local repository
    notice: str | None = None  # one line for the run's output, when the default was bent


def _is_address(name: str) -> bool:
    """A URL or path given in place of a remote name (git accepts either)."""
    return "/" in name or ":" in name or "\\" in name


def resolve_remote(config: Config, git: Git, kind: str, *, flag: str | None = None) -> RemoteChoice:
    explicit = flag is not None or config.is_explicit("forge.remote")
    name = flag if flag is not None else config.forge.remote
    if not name:
        if kind != "github":
            return RemoteChoice("")  # asked for: branches stay local, nothing to say
        name, explicit = "origin", False
    if _is_address(name) or name in git.remotes():
        return RemoteChoice(name)
    if not explicit and kind == "github":
        return RemoteChoice(name)
    if not explicit:
        return RemoteChoice("", f"no git remote {name!r} in this repository: branches stay in the local repository "
                                f"(set [forge] remote to push them)")
    known = ", ".join(repr(r) for r in git.remotes()) or "none"
    raise ConfigError(f"git remote {name!r} does not exist in this repository (its remotes: {known})",
                      "--remote" if flag is not None else "forge.remote")

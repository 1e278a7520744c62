"""The fleet plan: which job runs on which repository, as the matrix a GitHub Actions workflow fans out."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping, get_args

from jobs.config import Config, FleetJob
from jobs.errors import ConfigError

JOBS: tuple[str, ...] = get_args(FleetJob)
DEFAULT_JOB = "dependency-updates"

# GitHub documents it as "A matrix will generate a maximum of 256 jobs per workflow run" (workflow syntax,
# jobs.<job_id>.strategy.matrix); a bigger matrix fails the whole run before any job starts.
MATRIX_LIMIT = 256


@dataclass(frozen=True)
class Entry:
    """One job on one repository: one job of the matrix."""

    repository: str
    job: str
    config: str = ""  # inside that repository; "" is its own nightcrew.toml (or the defaults)
    mode: str = ""  # "" leaves the repository's own [policy] mode in force

    @property
    def concurrency_key(self) -> str:
        # GitHub treats owner/name case-insensitively, so must the key; the shape matches the nightly
        # workflow's group, so a reader recognises it.
        return f"nightcrew-{self.job}-{self.repository.lower()}"

    def as_matrix(self) -> dict[str, str]:
        return {"repository": self.repository, "job": self.job, "config": self.config, "mode": self.mode,
                "concurrency_key": self.concurrency_key}


@dataclass(frozen=True)
class Plan:
    """Entries in a fixed order; a chunk of a bigger plan says which (``chunk`` of ``chunks``, from 1)."""

    entries: tuple[Entry, ...]
    total: int
    chunk: int = 1
    chunks: int = 1
    fallback: bool = False  # no [fleet] repositories: the current repository alone

    def matrix(self) -> dict[str, list[dict[str, str]]]:
        """What ``strategy.matrix`` takes through ``fromJSON``."""
        return {"include": [entry.as_matrix() for entry in self.entries]}

    def to_json(self) -> str:
        """The matrix on one line (a ``$GITHUB_OUTPUT`` value must not span lines)."""
        return json.dumps(self.matrix(), separators=(",", ":"), ensure_ascii=True)

    @property
    def repositories(self) -> int:
        return len({entry.repository.lower() for entry in self.entries})

    def split(self, chunk: int = 1, chunks: int = 1) -> "Plan":
        """Chunk ``chunk`` of ``chunks`` contiguous, near-equal parts; an error if it is over GitHub's limit."""
        if chunks < 1 or not 1 <= chunk <= chunks:
            raise ConfigError(f"chunk {chunk} of {chunks}: give 1 <= --chunk <= --chunks", "--chunk")
        size, extra = divmod(self.total, chunks)
        start = (chunk - 1) * size + min(chunk - 1, extra)
        part = self.entries[start:start + size + (1 if chunk <= extra else 0)]
        if len(part) > MATRIX_LIMIT:
            needed = -(-self.total // MATRIX_LIMIT)
            where = "the plan" if chunks == 1 else f"chunk {chunk} of {chunks}"
            raise ConfigError(
                f"{where} has {len(part)} jobs and GitHub runs at most {MATRIX_LIMIT} from one matrix per workflow "
                f"run: split it with --chunks {needed} (one workflow run per --chunk 1..{needed})", "fleet.repositories")
        return Plan(part, self.total, chunk, chunks, self.fallback)


def plan(config: Config, *, jobs: tuple[str, ...] = (), repositories: tuple[str, ...] = (),
         environ: Mapping[str, str] | None = None) -> Plan:
    """The whole plan from ``[fleet] repositories``, narrowed to ``jobs`` and ``repositories`` when given.

    With no ``[fleet] repositories`` the plan is the current repository alone ([forge] repository, else
    GITHUB_REPOSITORY) with ``jobs`` (default dependency-updates), so one workflow serves one repository too.
    """
    environ = os.environ if environ is None else environ
    for job in jobs:
        if job not in JOBS:
            raise ConfigError(f"unknown job {job!r} (one of {', '.join(JOBS)})", "--job")
    listed = config.fleet.repositories
    fallback = not listed
    if fallback:
        current = config.forge.repository or environ.get("GITHUB_REPOSITORY", "")
        if not current:
            raise ConfigError("no repository to plan for: list [[fleet.repositories]], or set [forge] repository "
                              "or GITHUB_REPOSITORY", _where(config, "fleet.repositories"))
        entries = [Entry(current, job) for job in (jobs or (DEFAULT_JOB,))]
    else:
        entries = []
        seen: dict[str, int] = {}
        for index, item in enumerate(listed):
            key = f"fleet.repositories[{index}]"
            first = seen.setdefault(item.repository.lower(), index)
            if first != index:
                raise ConfigError(f"'{key}.repository': {item.repository} is listed twice "
                                  f"(first as fleet.repositories[{first}]); give it one entry with every job",
                                  _where(config, key, index))
            if not item.jobs:
                raise ConfigError(f"'{key}.jobs': empty; list at least one of {', '.join(JOBS)} or remove the entry",
                                  _where(config, key, index))
            if item.config and not _inside(item.config):
                raise ConfigError(f"'{key}.config': {item.config!r} must be a relative path inside the repository",
                                  _where(config, key, index))
            entries.extend(Entry(item.repository, job, item.config, item.mode)
                           for job in dict.fromkeys(item.jobs) if not jobs or job in jobs)
    if repositories:
        wanted = {name.lower() for name in repositories}
        known = {item.repository.lower() for item in listed} or {entry.repository.lower() for entry in entries}
        unknown = sorted(wanted - known)
        if unknown:
            raise ConfigError(f"not in the plan: {', '.join(unknown)}", "--repository")
        entries = [entry for entry in entries if entry.repository.lower() in wanted]
    entries.sort(key=lambda entry: (entry.repository.lower(), JOBS.index(entry.job)))
    return Plan(tuple(entries), len(entries), fallback=fallback)


def _inside(path: str) -> bool:
    pure = PurePosixPath(path.replace("\\", "/"))
    return not pure.is_absolute() and ".." not in pure.parts and not re.match(r"^[A-Za-z]:", path)


def _where(config: Config, key: str, index: int | None = None) -> str:
    """The config file, and the line of the ``index``-th ``[[fleet.repositories]]`` table when it is one."""
    if config.source is None:
        return key
    if index is not None:
        try:
            lines = Path(config.source).read_text(encoding="utf-8").splitlines()
        except OSError:
            return config.source
        header = re.compile(r"^\s*\[\[\s*fleet\s*\.\s*repositories\s*\]\]\s*(#.*)?$")
        found = [number for number, line in enumerate(lines, start=1) if header.match(line)]
        if index < len(found):
            return f"{config.source}:{found[index]}"
    return config.source

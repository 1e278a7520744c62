"""Decide which index to ask: config, then a requirements file's --index-url, then pip's environment and configuration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class IndexLocation:
    """The index URLs to consult, and where the main one came from (for the run summary)."""

    url: str
    extra_urls: tuple[str, ...]
    origin: str


# pip expands ${VAR} (upper case, digits, underscore) in requirements files; so do we, for index URLs.
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


def expand_env(url: str, environ: os._Environ[str] | dict[str, str]) -> str:
    """``url`` with ``${VAR}`` references replaced from the environment, as pip does (unset: left as is)."""
    return _ENV_VAR.sub(lambda m: environ.get(m.group(1), m.group(0)), url)


def redact_url(url: str) -> str:
    """The URL with any password (or token used as user name) replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.username and not parts.password:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = "***" if parts.password is None else f"{parts.username}:***"
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, parts.fragment))


def _pip_config() -> dict[str, str]:
    """pip's own view of its configuration files (``pip config list``), as ``{key: value}``.

    Asking pip itself keeps its rules for where the files are and which one wins.
    """
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True, text=True, timeout=30, check=False,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    values: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition("=")
        if not sep or key.startswith(":env:"):
            continue  # the environment is read directly, not through pip
        section, _, name = key.partition(".")
        if section in ("global", "install", "download"):
            values[name] = value.strip().strip("'\"")
    return values


def _pip_default() -> str:
    """pip's built-in default index, taken from pip so no registry host is written here."""
    try:
        from pip._internal.models.index import PyPI  # pip keeps its default here since pip 10
    except ImportError as exc:  # pragma: no cover - pip is part of every venv
        raise RuntimeError("no index configured and pip is not installed to name its default") from exc
    return PyPI.simple_url


def locate(
    config_url: str,
    config_extra: tuple[str, ...] = (),
    file_url: str | None = None,
    file_extra: tuple[str, ...] = (),
    environ: os._Environ[str] | dict[str, str] | None = None,
    pip_config: dict[str, str] | None = None,
) -> IndexLocation:
    """Where to look, in pip's order of precedence, with nightcrew's configuration on top.

    An index set in nightcrew's configuration is complete: the environment and pip are not consulted,
    so a CI runner's own pip settings cannot leak into a configured run.
    """
    env = os.environ if environ is None else environ
    if config_url:
        return IndexLocation(config_url, tuple(config_extra), "config")
    env_extra = tuple(env.get("PIP_EXTRA_INDEX_URL", "").split())
    file_url = expand_env(file_url, env) if file_url else None
    file_extra = tuple(expand_env(u, env) for u in file_extra)
    if file_url:
        return IndexLocation(file_url, tuple(dict.fromkeys(file_extra + env_extra)), "requirements file")
    if env.get("PIP_INDEX_URL"):
        return IndexLocation(env["PIP_INDEX_URL"], tuple(dict.fromkeys(file_extra + env_extra)), "PIP_INDEX_URL")
    pip = _pip_config() if pip_config is None else pip_config
    extra = file_extra + (env_extra or tuple(pip.get("extra-index-url", "").split()))
    if pip.get("index-url"):
        return IndexLocation(pip["index-url"], tuple(dict.fromkeys(extra)), "pip configuration")
    return IndexLocation(_pip_default(), tuple(dict.fromkeys(extra)), "pip default")

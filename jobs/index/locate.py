"""Decide which index to ask: config, then a requirements file's --index-url, then pip's environment and configuration."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from jobs.errors import ConfigError


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
            try:  # pip prints values as Python string literals (multi-line values with \n inside)
                values[name] = str(ast.literal_eval(value.strip()))
            except (ValueError, SyntaxError):
                values[name] = value.strip().strip("'\"")
    return values


def _pip_default() -> str:
    """pip's built-in default index, taken from pip so no registry host is written here."""
    try:
        from pip._internal.models.index import PyPI  # pip keeps its default here since pip 10
    except ImportError:
        raise ConfigError("no package index configured, and pip is not installed to name its default: "
                          "set [index] url or PIP_INDEX_URL", "index.url") from None
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
    config_extra = tuple(config_extra)
    if config_url:
        return IndexLocation(config_url, config_extra, "config")
    file_url = expand_env(file_url, env) if file_url else None
    file_extra = tuple(expand_env(u, env) for u in file_extra)
    env_extra = tuple(env.get("PIP_EXTRA_INDEX_URL", "").split())
    pip: dict[str, str] | None = pip_config

    def pip_value(key: str) -> str:
        nonlocal pip
        if pip is None:
            pip = _pip_config()
        return pip.get(key, "")

    def extras() -> tuple[str, ...]:
        # as in pip: the environment overrides pip.conf key by key, so pip.conf extras stay unless the env sets some
        found = config_extra + file_extra + (env_extra or tuple(pip_value("extra-index-url").split()))
        return tuple(dict.fromkeys(found))

    if file_url:
        return IndexLocation(file_url, extras(), "requirements file")
    if env.get("PIP_INDEX_URL"):
        return IndexLocation(env["PIP_INDEX_URL"], extras(), "PIP_INDEX_URL")
    if pip_value("index-url"):
        return IndexLocation(pip_value("index-url"), extras(), "pip configuration")
    return IndexLocation(_pip_default(), extras(), "pip default")

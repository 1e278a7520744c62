"""Load and validate the TOML configuration into one frozen object; errors name the file and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator
from packaging.version import InvalidVersion, Version

from jobs import toml_errors
from jobs.errors import ConfigError
from jobs.resources import default_config_path

CONFIG_FILE_NAME = "nightcrew.toml"

# TOML arrays arrive as lists; the frozen config keeps tuples. Scalars stay strict (no "16" -> 16).
Strings = Annotated[tuple[str, ...], Strict(False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ManifestSettings(_Section):
    formats: Strings
    requirements: Strings
    pyproject: Strings

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: Strings) -> Strings:
        from jobs.manifests import NAMES

        unknown = [name for name in value if name not in NAMES]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r} (known: {', '.join(NAMES)})")
        return value

    def globs(self, format_name: str) -> Strings:
        return getattr(self, format_name)


class IndexSettings(_Section):
    url: str
    extra_urls: Strings
    timeout: float = Field(gt=0)
    retries: int = Field(ge=0, le=10)
    backoff: float = Field(ge=0)
    workers: int = Field(ge=1, le=64)
    cache_dir: str
    prereleases: bool
    python_version: str

    @field_validator("python_version")
    @classmethod
    def _valid_python(cls, value: str) -> str:
        if value:
            try:
                Version(value)
            except InvalidVersion:
                raise ValueError(f"not a version: {value!r}") from None
        return value


class Config(_Section):
    """The whole validated configuration, and the file it came from (None: defaults only)."""

    manifests: ManifestSettings
    index: IndexSettings
    source: str | None = None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration: {exc.strerror}", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        line, message = toml_errors.describe(exc)
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"invalid TOML: {message}", where) from None


def _overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` laid over ``base``: tables merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
    return ".".join(parts)


def load(path: Path | None = None, *, repo: Path | None = None) -> Config:
    """The configuration from ``path``, else ``<repo>/nightcrew.toml`` if present, else the defaults.

    An explicit ``path`` that does not exist is an error; a missing ``nightcrew.toml`` is not.
    """
    defaults = _read_toml(default_config_path())
    user: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        source = path
    elif repo is not None and (repo / CONFIG_FILE_NAME).is_file():
        source = repo / CONFIG_FILE_NAME
    if source is not None:
        if not source.is_file():
            raise ConfigError("configuration file not found", str(source))
        user = _read_toml(source)
    if "source" in user:
        raise ConfigError("unknown key 'source'", str(source))
    try:
        return Config.model_validate({**_overlay(defaults, user), "source": str(source) if source else None})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _key_path(first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"unknown key '{key}'"
        else:
            message = f"'{key}': {first['msg']}"
            if "input" in first and not isinstance(first["input"], dict):
                message += f" (got {first['input']!r})"
        raise ConfigError(message, str(source or default_config_path())) from None

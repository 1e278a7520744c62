"""The error hierarchy: every error knows where it happened and prints as one line."""

from __future__ import annotations


class NightcrewError(Exception):
    """Base of every error nightcrew raises on purpose.

    ``where`` is a file:line, a URL or a config key; ``str()`` gives one line.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigError(NightcrewError):
    """The configuration file is missing, invalid TOML, or has a bad key or value."""


class ManifestError(NightcrewError):
    """A manifest cannot be read or parsed as a whole (an include cycle, invalid TOML)."""


class PackageIndexError(NightcrewError):
    """The package index could not answer for one project (404, 5xx after retries, timeout)."""

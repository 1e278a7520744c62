"""Forges behind one interface, by name: ``local`` (the embedded default) and ``github``."""

from jobs.forges.base import DuplicatePull, Forge, ForgeError, PullRequest

__all__ = ["DuplicatePull", "Forge", "ForgeError", "PullRequest"]

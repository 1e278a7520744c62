"""Manifest formats, one module each, behind one interface and a registry by name."""

from __future__ import annotations

from jobs.manifests.base import ManifestFormat


def get(name: str) -> ManifestFormat:
    """The manifest format registered under ``name`` (``requirements``, ``pyproject``)."""
    if name == "requirements":
        from jobs.manifests.requirements import RequirementsFormat

        return RequirementsFormat()
    if name == "pyproject":
        from jobs.manifests.pyproject import PyprojectFormat

        return PyprojectFormat()
    raise KeyError(name)


NAMES = ("requirements", "pyproject")

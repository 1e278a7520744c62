"""Manifest formats, one module each, behind one interface and a registry by name."""

from __future__ import annotations

from jobs.manifests.base import ManifestFormat


def get(name: str) -> ManifestFormat:
    """The manifest format registered under ``name`` (``requirements``, ``pyproject``, ``actions``, ``pre-commit``)."""
    if name == "requirements":
        from jobs.manifests.requirements import RequirementsFormat

        return RequirementsFormat()
    if name == "pyproject":
        from jobs.manifests.pyproject import PyprojectFormat

        return PyprojectFormat()
    if name == "actions":
        from jobs.manifests.actions import ActionsFormat

        return ActionsFormat()
    if name == "pre-commit":
        from jobs.manifests.precommit import PreCommitFormat

        return PreCommitFormat()
    raise KeyError(name)


NAMES = ("requirements", "pyproject", "actions", "pre-commit")
# the ecosystem each format belongs to ([updates] ecosystems turns them on and off)
ECOSYSTEMS = {"requirements": "python", "pyproject": "python", "actions": "actions", "pre-commit": "pre-commit"}

"""GitHub Actions: the ``uses: owner/repo@ref`` and ``owner/repo/path@ref`` of workflows and composite actions.

Local actions (``./path``) and Docker images (``docker://``) are reported as skipped with the reason; a ref
that is no version tag (a branch, a short SHA) too. The dependency's name is the repository, ``owner/repo``
(compared as PEP 503 compares names: case, ``_`` and ``.`` aside), so one release moves every action of one
repository together; ``raw_name`` keeps the action as written (``actions/cache/restore``).
"""

from __future__ import annotations

import re

import yaml

from jobs.manifests.pins import (
    Pin,
    YamlPinFormat,
    compose_file,
    dependency,
    mapping_value,
    read_pin,
    scalar,
)
from jobs.models import Dependency, ParsedManifests

ECOSYSTEM = "actions"


def normalize(name: str) -> str:
    """A name as nightcrew compares names (PEP 503's rule, keeping ``/``): ``Owner/My_Repo`` -> ``owner/my-repo``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def repository(name: str) -> str:
    """``owner/repo`` of an action's name (``actions/cache/restore`` -> ``actions/cache``)."""
    return "/".join(name.split("/")[:2])


class ActionsFormat(YamlPinFormat):
    name = "actions"

    @staticmethod
    def parse_text(text: str, file: str) -> ParsedManifests:
        return parse_text(text, file)


def _uses_nodes(root: yaml.Node) -> list[yaml.Node]:
    """The ``uses`` values where GitHub reads them: ``jobs.<id>.uses`` (a reusable workflow),
    ``jobs.<id>.steps[*].uses`` and a composite action's ``runs.steps[*].uses``; each node once (YAML aliases
    repeat nodes), in file order. A ``uses`` key anywhere else (under ``with:`` or ``env:``) is data."""
    found: dict[int, yaml.Node] = {}

    def steps(owner: yaml.Node | None) -> None:
        listing = mapping_value(owner, "steps") if isinstance(owner, yaml.MappingNode) else None
        for step in listing.value if isinstance(listing, yaml.SequenceNode) else ():
            value = mapping_value(step, "uses") if isinstance(step, yaml.MappingNode) else None
            if value is not None:
                found.setdefault(id(value), value)

    if not isinstance(root, yaml.MappingNode):
        return []
    jobs = mapping_value(root, "jobs")
    for _key, job in jobs.value if isinstance(jobs, yaml.MappingNode) else ():
        if isinstance(job, yaml.MappingNode):
            value = mapping_value(job, "uses")
            if value is not None:
                found.setdefault(id(value), value)
            steps(job)
    steps(mapping_value(root, "runs"))
    return sorted(found.values(), key=lambda n: n.start_mark.index)


def parse_text(text: str, file: str) -> ParsedManifests:
    root, early = compose_file(text, file)
    if early is not None:
        return early
    deps: list[Dependency] = []
    for node in _uses_nodes(root):
        value = scalar(node, text)
        if value is None:
            if isinstance(node, yaml.ScalarNode):
                deps.append(_skipped(node.value, file, node.start_mark.line + 1,
                                     "written with escapes or folding: not edited"))
            continue
        deps.append(_dependency(value, text, file))
    return ParsedManifests((file,), tuple(deps))


def _skipped(raw: str, file: str, line: int, reason: str) -> Dependency:
    return Dependency(name=normalize(raw.partition("@")[0]), raw_name=raw, specifier="", file=file, line=line, section="uses",
                      skipped_reason=reason, ecosystem=ECOSYSTEM)


def _dependency(value, text: str, file: str) -> Dependency:  # type: ignore[no-untyped-def]
    raw = value.value
    if raw.startswith(("./", "../")):
        return _skipped(raw, file, value.line, "a local action: nothing to update")
    if raw.startswith("docker://"):
        return _skipped(raw, file, value.line, "a Docker image: not updated by nightcrew")
    action, at, ref = raw.partition("@")
    parts = action.split("/")
    if not at or not ref or len(parts) < 2 or not all(parts):
        return _skipped(raw, file, value.line, "not owner/repo@ref")
    pin: Pin = read_pin(text, value.start + len(action) + 1, ref, value.node_end)
    section = "uses (quoted)" if value.quoted else "uses"
    # one release of one repository moves every action in it (github/codeql-action/init, .../analyze) together
    name = normalize(repository(action))
    return dependency(name, action, pin, file=file, line=value.line, section=section, ecosystem=ECOSYSTEM,
                      source=repository(action))

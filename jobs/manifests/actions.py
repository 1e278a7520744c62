"""GitHub Actions: the ``uses: owner/repo@ref`` and ``owner/repo/path@ref`` of workflows and composite actions.

Local actions (``./path``) and Docker images (``docker://``) are reported as skipped with the reason; a ref
that is no version tag (a branch, a short SHA) too. The dependency's name is ``owner/repo`` plus the path
inside it, lower-cased (GitHub names are case-insensitive); the tags come from ``owner/repo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from jobs.manifests.base import find_by_globs, relative
from jobs.manifests.pins import Pin, compose, dependency, read_pin, scalar, walk_key
from jobs.models import Dependency, ParsedManifests, Problem

ECOSYSTEM = "actions"


def repository(name: str) -> str:
    """``owner/repo`` of an action's name (``actions/cache/restore`` -> ``actions/cache``)."""
    return "/".join(name.split("/")[:2])


class ActionsFormat:
    name = "actions"

    def find(self, root: Path, globs: Sequence[str]) -> list[Path]:
        return find_by_globs(root, globs)

    def parse(self, root: Path, paths: Sequence[Path]) -> ParsedManifests:
        files, deps, problems = [], [], []
        for path in paths:
            file = relative(root, path)
            try:
                with open(path, encoding="utf-8", newline="") as handle:
                    text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(file, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
                continue
            parsed = parse_text(text, file)
            files.append(file)
            deps.extend(parsed.dependencies)
            problems.extend(parsed.problems)
        return ParsedManifests(tuple(files), tuple(deps), tuple(problems))


def parse_text(text: str, file: str) -> ParsedManifests:
    try:
        root = compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return ParsedManifests((file,), (), (Problem(file, mark.line + 1 if mark else None, f"invalid YAML: {problem}"),))
    deps: list[Dependency] = []
    if root is None:
        return ParsedManifests((file,))
    found = sorted(((v.start_mark.index, v) for _m, v in walk_key(root, "uses")), key=lambda p: p[0])
    for _at, node in found:
        value = scalar(node, text)
        if value is None:
            if isinstance(node, yaml.ScalarNode):
                deps.append(_skipped(node.value, file, node.start_mark.line + 1,
                                     "written with escapes or folding: not edited"))
            continue
        deps.append(_dependency(value, text, file))
    return ParsedManifests((file,), tuple(deps))


def _skipped(raw: str, file: str, line: int, reason: str) -> Dependency:
    return Dependency(name=raw.lower(), raw_name=raw, specifier="", file=file, line=line, section="uses",
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
    name = action.lower()
    dep = dependency(name, action, pin, file=file, line=value.line, section=section, ecosystem=ECOSYSTEM,
                     source=repository(name))
    return dep

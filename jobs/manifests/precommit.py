"""pre-commit: the ``rev`` of each remote repository in ``.pre-commit-config.yaml``.

``repo: local`` and ``repo: meta`` have no revision and are not listed. The dependency's name is the
repository's path (``astral-sh/ruff-pre-commit``), lower-cased; its source is the ``repo`` URL as written.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import yaml

from jobs.manifests.actions import normalize
from jobs.manifests.pins import (
    YamlPinFormat,
    compose_file,
    dependency,
    mapping_value,
    read_pin,
    scalar,
)
from jobs.models import Dependency, ParsedManifests, Problem

ECOSYSTEM = "pre-commit"


def hook_name(url: str) -> str:
    """The name a hook repository goes by: the last two parts of its URL's path without ``.git`` (``owner/repo``),
    behind the host for a forge other than GitHub (``gitlab.com/group/hooks``), so it never shares a name (and
    tags) with a GitHub action; compared as PEP 503 compares names."""
    try:
        path = urlsplit(url).path if "://" in url else url.partition(":")[2] or url
    except ValueError:
        path = url
    parts = [p for p in path.strip("/").removesuffix(".git").split("/") if p]
    name = "/".join(parts[-2:]) or url
    try:
        host = (urlsplit(url).hostname or "") if "://" in url else url.partition("@")[2].partition(":")[0]
    except ValueError:
        host = ""
    if host and host.lower() not in ("github.com", "www.github.com"):  # another forge: its own namespace
        name = f"{host}/{name}"
    return normalize(name)


class PreCommitFormat(YamlPinFormat):
    name = "pre-commit"

    @staticmethod
    def parse_text(text: str, file: str) -> ParsedManifests:
        return parse_text(text, file)


def parse_text(text: str, file: str) -> ParsedManifests:
    root, early = compose_file(text, file)
    if early is not None:
        return early
    repos = mapping_value(root, "repos") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(repos, yaml.SequenceNode):
        line = root.start_mark.line + 1
        return ParsedManifests((file,), (), (Problem(file, line, "no 'repos' list: not a pre-commit config"),))
    deps: list[Dependency] = []
    problems: list[Problem] = []
    for item in repos.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        repo_node, rev_node = mapping_value(item, "repo"), mapping_value(item, "rev")
        repo = repo_node.value if isinstance(repo_node, yaml.ScalarNode) else None
        if repo is None or repo in ("local", "meta"):
            continue
        line = item.start_mark.line + 1
        name = hook_name(repo)
        rev = scalar(rev_node, text) if rev_node is not None else None
        if rev is None:
            reason = "no 'rev'" if rev_node is None else "'rev' written with escapes or folding: not edited"
            deps.append(Dependency(name=name, raw_name=repo, specifier="", file=file, line=line, section="rev",
                                   skipped_reason=reason, ecosystem=ECOSYSTEM, source=repo))
            continue
        pin = read_pin(text, rev.start, rev.value, rev.node_end)
        deps.append(dependency(name, repo, pin, file=file, line=rev.line, section="rev", ecosystem=ECOSYSTEM,
                               source=repo))
    return ParsedManifests((file,), tuple(deps), tuple(problems))

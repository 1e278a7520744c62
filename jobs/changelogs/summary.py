"""The optional LLM summary of a changelog slice: every point cites a version section of the slice, or it is dropped."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from jobs.errors import NightcrewError
from jobs.llm.client import LLM
from jobs.llm.grounding import Item, render_data, system_prompt, validate
from jobs.models import Changelog, ChangelogSection
from jobs.changelogs.markdown import link_references
from jobs.render import neutralize_mentions
from jobs.tools import Stopped

log = logging.getLogger(__name__)

MAX_POINTS = 8
# About 12k tokens of changelog: enough for any ordinary upgrade, and a bound on what one summary can cost.
MAX_INPUT_CHARS = 48_000
_TRUNCATED = "\n[... the rest of this section was cut by nightcrew to bound the request ...]"

TASK = """You help a reviewer decide on a dependency-upgrade pull request. The data are the changelog sections of
one package for the versions the upgrade crosses; each item is one version's section, and its id is that version.
Write a short summary in two parts: first what changed that matters to users of the package (breaking changes,
removals, deprecations, security fixes, new requirements such as Python or dependency versions, notable new
features), then what a reviewer should check in their own code before accepting the upgrade. Merge related
entries into one point, most important first, and leave out routine fixes and internal changes."""


@dataclass(frozen=True)
class SummaryPoint:
    """One summary point and the versions (``ChangelogSection.version`` values) it is based on."""

    text: str
    versions: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    """A grounded summary of a changelog slice, and the model that wrote it. ``repository``: the upstream
    repository's web address, when known (``#123`` in the points links to its issues)."""

    points: tuple[SummaryPoint, ...]
    model: str
    repository: str | None = None


def summarize(changelog: Changelog, llm: LLM | None) -> Summary | None:
    """A grounded summary of ``changelog``'s slice, or None: when ``llm`` is None (disabled), the slice is empty,
    the call fails or times out, or no point survives validation. None means the PR carries the slice alone."""
    if llm is None or not changelog.sections:
        return None
    items, owners = _items(changelog.sections)
    if not items:
        return None
    context = f"Package {changelog.package}, upgrade from {changelog.old} to {changelog.new}."
    purpose = f"changelog summary {changelog.package} {changelog.old}..{changelog.new}"
    try:
        reply = llm.complete(system_prompt(TASK, max_points=MAX_POINTS, id_name="version"),
                             render_data(items, context=context), purpose=purpose)  # fmt: skip
    except Stopped:  # the kill switch stops the run: no summary is the least of it
        raise
    except NightcrewError as exc:  # LLMError, or Denied by the policy
        log.warning("%s: no summary (%s)", purpose, exc)
        return None
    # Every id a point may cite (a two-version heading's parts too) leads to the text of its section.
    text_of = {owners[item.id]: item.text for item in items}
    sources = {alias: text_of[version] for alias, version in owners.items()}
    grounded = validate(reply.text, owners, sources=sources, max_points=MAX_POINTS)
    for text, reason in grounded.dropped:
        log.info("%s: dropped a point (%s): %.120s", purpose, reason, text)
    points = tuple(
        SummaryPoint(point.text, tuple(dict.fromkeys(owners[cite] for cite in point.cites)))
        for point in grounded.points
    )
    if not points:
        cut = " (the reply was cut at max_output_tokens)" if reply.finish_reason == "length" else ""
        log.info("%s: no grounded point left%s; the PR carries the changelog slice alone", purpose, cut)
        return None
    return Summary(points, reply.model, changelog.repository)


def _items(sections: tuple[ChangelogSection, ...]) -> tuple[list[Item], dict[str, str]]:
    """One item per distinct section version, in the changelog's order and within ``MAX_INPUT_CHARS``; and every
    id the model may cite mapped to the section version it stands for (a heading naming two versions, such as
    ``4.12.0a1 4.12.0a2``, has the id ``4.12.0a1,4.12.0a2`` and may be cited by either)."""
    texts: dict[str, list[str]] = {}
    for section in sections:
        texts.setdefault(section.version, []).append(section.text)  # nested or split notes: one item per version
    items: list[Item] = []
    owners: dict[str, str] = {}
    budget = MAX_INPUT_CHARS
    for version, parts in texts.items():
        names = [_safe_id(v) for v in version.split()] or [_safe_id(version)]
        item_id = ",".join(names)
        if budget <= 0 or not item_id:
            break  # over budget, the sections at the end go: in the usual newest-first changelog, the oldest
        text = "\n\n".join(parts)
        if len(text) > budget:
            text = text[:budget] + _TRUNCATED
        budget -= len(text)
        items.append(Item(item_id, text))
        for name in [item_id, *names]:
            owners.setdefault(name, version)
    return items, owners


def _safe_id(version: str) -> str:
    # Versions from headings are plain tokens; anything else is squeezed into the delimiter's id alphabet.
    return re.sub(r"[^A-Za-z0-9._+!-]", "-", version.strip())[:64].strip("-.")


def render_markdown(summary: Summary, *, upstream: str | None = None) -> str:
    """Markdown bullets, each with the versions it cites. Model text is untrusted: HTML, links, images and
    @mentions are neutralized so it cannot add markup, trackers or pings to the PR body, and issue references
    (``#123``, ``GH-123``) link to the upstream repository (``upstream``, else the summary's), never to ours."""
    upstream = upstream or summary.repository
    lines = []
    for point in summary.points:
        versions = ", ".join(f"`{v}`" for v in point.versions)
        lines.append(f"- {_plain(point.text, upstream)} ({versions})")
    lines.append("")
    lines.append(f"_Written by the language model `{_plain(summary.model, upstream)}`; each point names the "
                 "changelog sections it rests on._")  # fmt: skip
    return "\n".join(lines) + "\n"


def _plain(text: str, upstream: str | None = None) -> str:
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # images: keep the alt text only
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: keep the label only
    # bare URLs as code: GitHub does not autolink inside a code span
    text = re.sub(r"(?i)\b(?:https?|ftp)://[^\s`]+", lambda m: f"`{m.group(0)}`", text)
    # as in the changelog sections: references go upstream (or nowhere), not to the PR's own repository
    return neutralize_mentions(link_references(text, upstream))

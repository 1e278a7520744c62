"""The last resort: the changelog URL the package's metadata names (``Project-URL: Changelog, ...``), as a link."""

from __future__ import annotations

import string

from jobs.changelogs.base import ChangelogRequest, SourceText
from jobs.index.locate import redact_url
from jobs.models import ChangelogOrigin

# Normalized labels (PEP 753), best first: "Change Log", "Release Notes", "What's new" all land here.
CHANGELOG_LABELS = ("changelog", "changes", "releasenotes", "history", "whatsnew")


def normalize_label(label: str) -> str:
    """A ``Project-URL`` label as PEP 753 compares them: punctuation and whitespace dropped, lower case."""
    return "".join(c for c in label if c not in string.punctuation and not c.isspace()).lower()


class LinkSource:
    """A link to the changelog, with no text: said plainly in the PR when nothing better was found."""

    kind = "link"

    def fetch(self, request: ChangelogRequest) -> list[SourceText]:
        ranked: list[tuple[int, str]] = []
        for label, url in request.project_urls.items():
            name = normalize_label(label)
            url = url.strip()
            # Only web links: a reviewer clicks it, and other schemes are no place to send them.
            if name in CHANGELOG_LABELS and url.lower().startswith(("https://", "http://")):
                ranked.append((CHANGELOG_LABELS.index(name), redact_url(url)))
        urls = dict.fromkeys(url for _rank, url in sorted(ranked, key=lambda item: item[0]))
        return [SourceText(ChangelogOrigin("link", url=url), {}) for url in urls]

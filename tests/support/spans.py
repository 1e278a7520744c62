"""Check that every parsed dependency's span points at exactly its specifier text in the file."""

from __future__ import annotations

from pathlib import Path

from jobs.models import ParsedManifests


def assert_spans(root: Path, result: ParsedManifests) -> None:
    for dep in result.dependencies:
        if dep.span is not None:
            with open(root / dep.file, encoding="utf-8", newline="") as handle:
                assert handle.read()[dep.span.start : dep.span.end] == dep.specifier, dep

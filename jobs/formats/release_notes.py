"""Render a release-notes run: JSON (schema ``nightcrew.release-notes/1``)."""

from __future__ import annotations

from typing import Any

from jobs.release_notes import ReleaseRun

SCHEMA = "nightcrew.release-notes/1"


def to_json(run: ReleaseRun) -> dict[str, Any]:
    note = run.note
    draft = None
    if run.draft is not None:
        where = "url" if run.draft.url_or_path.startswith(("http://", "https://")) else "path"
        draft = {where: run.draft.url_or_path, "action": run.draft.action, "note": run.draft.note or None}
    return {
        "schema": SCHEMA,
        "run_id": run.run_id,
        "dry_run": run.dry_run,
        "tag": note.tag,
        "previous_tag": note.previous_tag,
        "items": [{"pr": item.pr, "title": item.title, "category": category, "issues": list(item.issues),
                   "author": item.author, "url": item.url, "breaking": item.breaking}
                  for category, items in note.categories for item in items],
        "excluded": [{"pr": pr, "rule": rule} for pr, rule in note.excluded],
        "direct_commits": list(note.direct_commits),
        "excluded_commits": [{"sha": sha, "rule": rule} for sha, rule in note.excluded_commits],
        "source": run.source,
        "style": run.style,
        "not_in_notes": list(run.not_in_notes),
        "contributors": list(note.contributors),
        "new_contributors": list(note.new_contributors),
        "compare_url": note.compare_url,
        "api_requests": run.api_requests,
        "complete": run.complete,
        "notices": list(run.notices),
        "problems": list(run.problems),
        "llm_synthesis": run.synthesized,
        "draft": draft,
        "denied": run.denied,
        "denials": [{"action": r.action, "target": r.target, "verdict": r.verdict, "rule": r.rule, "reason": r.detail}
                    for r in run.denials],
        "changelog_pr": run.changelog_pr,
        "text": note.text,
    }

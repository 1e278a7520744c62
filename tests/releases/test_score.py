"""The draft-quality metric: edit distance, and which items were deleted or added by hand."""

from __future__ import annotations

from jobs.releases.score import score

DRAFT = """<!-- nightcrew:release abc -->
## Features
- Add retries to the client ([#12](https://x/pull/12)) by @alice
- Faster startup ([#13](https://x/pull/13))

## Bug fixes
- Fix the timeout ([#14](https://x/pull/14))
"""


def test_unchanged_draft_scores_zero() -> None:
    result = score(DRAFT, DRAFT.replace("<!-- nightcrew:release abc -->\n", ""))
    assert result.distance == 0.0 and result.deleted == () and result.added == ()


def test_edits_deletions_and_additions_are_reported() -> None:
    final = DRAFT.replace("Faster startup ([#13](https://x/pull/13))\n", "").replace(
        "Add retries to the client", "Add retries to the HTTP client") + "- Thanks to everyone who tested the beta\n"
    result = score(DRAFT, final)
    assert 0 < result.distance < 0.5
    assert result.deleted == ("Faster startup (#13)",)
    assert result.added == ("Thanks to everyone who tested the beta",)


def test_a_rewritten_text_is_far() -> None:
    assert score(DRAFT, "Completely different notes written by hand.").distance > 0.8

"""Generated release-note drafts, kept in the state store so the final text can be compared with what the bot wrote."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.state.store import Store


@dataclass(frozen=True)
class StoredDraft:
    tag: str
    generated: str
    text_hash: str
    location: str
    action: str
    created_at: str
    id: int = 0


class DraftLog:
    """Every draft nightcrew generated for a repository, newest last; each write is one transaction."""

    def __init__(self, store: Store, repository: str | None = None) -> None:
        self.store, self.repository = store, repository

    def add(self, tag: str, generated: str, text_hash: str, location: str, action: str) -> None:
        self.store.add_draft(tag=tag, generated=generated, text_hash=text_hash, location=location, action=action,
                             repository=self.repository)

    def last(self, tag: str, *, written: bool = False) -> StoredDraft | None:
        """The newest draft stored for ``tag``; with ``written``, the newest that reached the main draft (the
        one people edit and publish), not one set aside because a person had edited the draft."""
        row = self.store.last_draft(tag, written=written, repository=self.repository)
        if row is None:
            return None
        return StoredDraft(row["tag"], row["generated"], row["text_hash"], row["location"], row["action"],
                           row["created_at"], row["id"])

    def set_final(self, draft: StoredDraft, final_text: str, distance: float) -> None:
        self.store.set_final(draft.id, final_text, distance)

"""Generated release-note drafts, kept so the final text can be compared with what the bot wrote."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS release_drafts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tag          TEXT NOT NULL,
    generated    TEXT NOT NULL,
    text_hash    TEXT NOT NULL,
    location     TEXT NOT NULL,
    action       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS release_drafts_tag ON release_drafts (tag, id);
"""


@dataclass(frozen=True)
class StoredDraft:
    tag: str
    generated: str
    text_hash: str
    location: str
    action: str
    created_at: str


class DraftLog:
    """Every draft nightcrew generated, newest last; writes are one transaction each."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30)
        with self.db:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add(self, tag: str, generated: str, text_hash: str, location: str, action: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO release_drafts (tag, generated, text_hash, location, action, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (tag, generated, text_hash, location, action, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )

    def last(self, tag: str, *, written: bool = False) -> StoredDraft | None:
        """The newest draft stored for ``tag``; with ``written``, the newest that reached the main draft (the
        one people edit and publish), not one set aside because a person had edited the draft."""
        extra = " AND action IN ('created', 'updated')" if written else ""
        row = self.db.execute(
            "SELECT tag, generated, text_hash, location, action, created_at FROM release_drafts "
            f"WHERE tag = ?{extra} ORDER BY id DESC LIMIT 1", (tag,)).fetchone()
        return StoredDraft(*row) if row else None

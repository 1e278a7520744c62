"""The state store's tables (SQLAlchemy Core) and the ordered migrations that build them.

Times are ISO 8601 strings in UTC ("2026-11-25T03:17:00.000+00:00"): they sort as text, read the same in
SQLite and PostgreSQL, and need no time-zone handling by the driver.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import Column, Float, Index, Integer, MetaData, Table, Text, inspect, text
from sqlalchemy.engine import Connection

metadata = MetaData()

schema_version = Table("nightcrew_schema", metadata, Column("version", Integer, nullable=False))

# One row per job run: started, ended, outcome (running, ok, partial, failed, paused, interrupted, locked).
runs = Table(
    "runs", metadata,
    Column("id", Text, primary_key=True),
    Column("repository", Text, nullable=False),
    Column("job", Text, nullable=False),
    Column("mode", Text, nullable=False, server_default="propose"),
    Column("started_at", Text, nullable=False),
    Column("ended_at", Text),
    Column("outcome", Text, nullable=False),
    Column("summary", Text),  # JSON: counts and the stop reason
    Column("pid", Integer),
    Column("host", Text),
)
Index("runs_repo_job", runs.c.repository, runs.c.job, runs.c.started_at)

# Every proposed change as each run handled it (history: one row per run and change).
changes = Table(
    "changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Text, nullable=False),
    Column("repository", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("branch", Text, nullable=False),
    Column("packages", Text, nullable=False),  # JSON {name: new version}
    Column("kind", Text),  # the largest update kind in the change: patch, minor, major, prerelease
    Column("action", Text, nullable=False),  # opened, updated, unchanged, superseded, skipped, failed, merged
    Column("pull_number", Integer),
    Column("pull_url", Text),
    Column("tests", Text),  # the test outcome, when tests ran
    Column("reason", Text),
    Column("at", Text, nullable=False),
)
Index("changes_run", changes.c.run_id)
Index("changes_repo_at", changes.c.repository, changes.c.at)

# The bot's pull requests and what became of them (one row per repository and number).
pulls = Table(
    "tracked_pulls", metadata,  # "pulls" is the local forge's own table in the same file
    Column("repository", Text, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("branch", Text, nullable=False),
    Column("key", Text),
    Column("packages", Text, nullable=False),  # JSON {name: new version}
    Column("kind", Text),
    Column("url", Text),
    Column("state", Text, nullable=False),  # open, merged, closed
    Column("opened_at", Text, nullable=False),
    Column("merged_at", Text),
    Column("closed_at", Text),
    Column("closed_by", Text),  # human | nightcrew
    Column("merged_by", Text),  # human | nightcrew
    Column("tests", Text),  # the latest test outcome on its branch
    Column("tests_sha", Text),  # the commit that outcome is for: it says nothing about any other head
    Column("body_hash", Text),  # of the body the bot last wrote: a different body means a person edited it
    Column("reopened", Integer, nullable=False, server_default="0"),
    Column("updated_at", Text, nullable=False),
)

# Human overrides: a PR closed without merging, a PR edited, a branch someone pushed to.
overrides = Table(
    "overrides", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("repository", Text, nullable=False),
    Column("kind", Text, nullable=False),  # closed-unmerged, edited, branch-pushed, reopened
    Column("pull_number", Integer),
    Column("packages", Text, nullable=False),  # JSON {name: version}
    Column("update_kind", Text),
    Column("detail", Text),
    Column("at", Text, nullable=False),
)
Index("overrides_repo_at", overrides.c.repository, overrides.c.at)

# Release-note drafts the bot generated, and the text people finally published.
release_drafts = Table(
    "release_drafts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tag", Text, nullable=False),
    Column("generated", Text, nullable=False),
    Column("text_hash", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("repository", Text),
    Column("final_text", Text),
    Column("distance", Float),
    Column("final_at", Text),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", Text, nullable=False),
    Column("run_id", Text, nullable=False),
    Column("job", Text, nullable=False),
    Column("repository", Text),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("verdict", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("duration", Float, nullable=False),
    Column("inputs_digest", Text),
    Column("detail", Text),
    Column("extra", Text),  # JSON
)
Index("audit_time", audit.c.time)
Index("audit_run", audit.c.run_id)
Index("audit_action", audit.c.action, audit.c.time)

# At most one run per repository and job: the holder, and when it last showed it was alive.
locks = Table(
    "locks", metadata,
    Column("repository", Text, primary_key=True),
    Column("job", Text, primary_key=True),
    Column("run_id", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("host", Text, nullable=False),
    Column("acquired_at", Text, nullable=False),
    Column("heartbeat_at", Text, nullable=False),
)

# Switches people set: the pause ("paused" -> reason), per repository ("*" for every one).
controls = Table(
    "controls", metadata,
    Column("repository", Text, primary_key=True),
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
    Column("set_at", Text, nullable=False),
    Column("set_by", Text),
)

# Release tags the release watch has handled (or found already there when it first looked).
seen_tags = Table(
    "seen_tags", metadata,
    Column("repository", Text, primary_key=True),
    Column("tag", Text, primary_key=True),
    Column("sha", Text),
    Column("seen_at", Text, nullable=False),
    Column("run_id", Text),
    Column("outcome", Text, nullable=False),  # baseline (there before the watch), drafted, failed
)


def _columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def _v1_release_drafts(conn: Connection) -> None:
    """Version 1: what nightcrew 0.1 kept (release drafts only), created if an older file lacks it."""
    release_drafts.create(conn, checkfirst=True)


def _v2_state_store(conn: Connection) -> None:
    """Version 2: runs, changes, tracked PRs, overrides, audit, locks, controls, seen tags; drafts get final text."""
    for table in (runs, changes, pulls, overrides, audit, locks, controls, seen_tags):
        table.create(conn, checkfirst=True)
    have = _columns(conn, "release_drafts")
    for name, sql_type in (("repository", "TEXT"), ("final_text", "TEXT"), ("distance", "FLOAT"),
                           ("final_at", "TEXT")):
        if name not in have:
            conn.execute(text(f"ALTER TABLE release_drafts ADD COLUMN {name} {sql_type}"))
    for index in (*runs.indexes, *changes.indexes, *overrides.indexes, *audit.indexes):
        index.create(conn, checkfirst=True)


# Ordered; each runs in its own transaction together with the version bump, so a crash leaves the
# file at the previous version. Never edit a released migration: add the next one.
MIGRATIONS: tuple[tuple[int, Callable[[Connection], None]], ...] = (
    (1, _v1_release_drafts),
    (2, _v2_state_store),
)
LATEST = MIGRATIONS[-1][0]


def _v3_tag_attempts(conn: Connection) -> None:
    """Version 3: how many times the release watch tried to draft each tag (it gives up after a few)."""
    if "attempts" not in _columns(conn, "seen_tags"):
        conn.execute(text("ALTER TABLE seen_tags ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0"))


MIGRATIONS = (*MIGRATIONS, (3, _v3_tag_attempts))
LATEST = MIGRATIONS[-1][0]


def _v4_tested_commit(conn: Connection) -> None:
    """Version 4: the commit a tracked PR's test outcome was measured on (version 2 creates it in new files)."""
    if "tests_sha" not in _columns(conn, "tracked_pulls"):
        conn.execute(text("ALTER TABLE tracked_pulls ADD COLUMN tests_sha TEXT"))


MIGRATIONS = (*MIGRATIONS, (4, _v4_tested_commit))
LATEST = MIGRATIONS[-1][0]

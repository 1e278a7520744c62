"""The state store on PostgreSQL, through a SQLAlchemy URL (``[state] url``). Needs a server and a driver, so it is
marked ``live`` and runs only with ``-m live`` and NIGHTCREW_TEST_POSTGRES_URL set, e.g.
``postgresql+psycopg://user:password@127.0.0.1/nightcrew_test`` (the database is emptied first)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

pytestmark = pytest.mark.live

URL = os.environ.get("NIGHTCREW_TEST_POSTGRES_URL", "")


@pytest.fixture
def store():
    if not URL:
        pytest.skip("set NIGHTCREW_TEST_POSTGRES_URL to a PostgreSQL database nightcrew may empty")
    from sqlalchemy import create_engine, text

    engine = create_engine(URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    from jobs.state.store import Store

    opened = Store(URL)
    yield opened
    opened.close()


def test_postgres_store_migrates_locks_and_audits(store) -> None:
    from jobs.state import schema
    from jobs.state.store import Locked

    assert store.version() == schema.LATEST
    store.start_run("r1", "acme/widgets", "dependency-updates", "propose")
    store.acquire("acme/widgets", "dependency-updates", "r1", stale_after=timedelta(hours=2))
    with pytest.raises(Locked):
        store.acquire("acme/widgets", "dependency-updates", "r2", stale_after=timedelta(hours=2))
    held = store.add_audit({"time": "2026-11-25T00:00:00.000+00:00", "run_id": "r1", "job": "dependency-updates",
                            "action": "git.push", "target": "origin x", "verdict": "allow", "rule": "mode-propose",
                            "outcome": "ok", "duration": 0.1}, repository="acme/widgets",
                           lock=("acme/widgets", "dependency-updates"))
    assert held is True
    assert [r["action"] for r in store.audit(action="git.*")] == ["git.push"]
    store.release("acme/widgets", "dependency-updates", "r1")
    store.end_run("r1", "ok", {})
    assert store.runs()[0]["outcome"] == "ok"

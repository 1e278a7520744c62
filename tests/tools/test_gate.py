"""The gate: secrets redacted at the writer whatever the caller passes, denials and stops recorded and raised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.errors import NightcrewError
from jobs.state.store import Store
from jobs.tools import Denied, Gate, Stopped

TOKEN = "ghp_planted0123456789abcdefTOKEN"  # a known secret: the gate was told about it
HEADER_SECRET = "hdr-Zq81xYvTT0pq"  # only ever seen in an Authorization header
URL_PASSWORD = "hunter2-Pw9"  # only ever seen as a URL's password
URL_USER_TOKEN = "x9tokenInUserPart77"  # a token used as a URL's user name
PLANTED = (TOKEN, HEADER_SECRET, URL_PASSWORD, URL_USER_TOKEN)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Store(f"sqlite:///{tmp_path / 'state.sqlite'}") as opened:
        yield opened


def everything_written(path: Path, store: Store) -> str:
    return path.read_text(encoding="utf-8") + json.dumps(store.audit(), default=str)


def test_secrets_are_redacted_wherever_the_caller_puts_them(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "audit.jsonl"
    gate = Gate(run_id="run1", job="dependency-updates", mode="propose", audit_path=log, secrets=(TOKEN,),
                store=store, repository="acme/api")
    # in the target
    gate.run("forge.read", f"GET https://api.example/repos?access_token={TOKEN}", lambda: None)
    # in the target, as URL credentials the gate was not told about
    gate.run("git.fetch", f"https://deploy:{URL_PASSWORD}@git.example/acme/api.git main", lambda: None)
    gate.run("git.fetch", f"https://{URL_USER_TOKEN}@git.example/acme/api.git main", lambda: None)

    # in an exception message, with an Authorization header as HTTP and as a Python dict would print it
    def fails() -> None:
        raise NightcrewError(f"request failed with {TOKEN}; Authorization: Bearer {HEADER_SECRET}; "
                             f"headers={{'Authorization': 'token {HEADER_SECRET}'}}")

    with pytest.raises(NightcrewError):
        gate.run("forge.create_pull", "nightcrew/requests-2.0", fails)
    # in extra (what LLM calls report), nested
    gate.run("llm.call", "summary", lambda: "ok", extra=lambda _: {
        "model": "m", "request": {"url": f"https://u:{URL_PASSWORD}@llm.example/v1", "key": TOKEN},
        "headers": [f"Authorization: Bearer {HEADER_SECRET}"]})
    # in a note
    gate.note("state.lock", "dependency-updates lock", "took-over", f"holder said {TOKEN}")

    written = everything_written(log, store)
    for secret in PLANTED:
        assert secret not in written, secret
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["action"] for r in lines] == ["forge.read", "git.fetch", "git.fetch", "forge.create_pull", "llm.call",
                                            "state.lock"]
    assert [r["action"] for r in store.audit()] == [r["action"] for r in lines]
    # redacted, not dropped: the records still say what happened
    assert lines[1]["target"] == "https://deploy:***@git.example/acme/api.git main"
    assert lines[2]["target"] == "https://***@git.example/acme/api.git main"
    assert lines[3]["outcome"] == "error" and "request failed with ***" in lines[3]["detail"]
    assert lines[4]["extra"]["request"]["key"] == "***" and lines[4]["extra"]["model"] == "m"


def test_a_denied_action_is_recorded_and_raises_without_running(tmp_path: Path, store: Store) -> None:
    log = tmp_path / "audit.jsonl"
    gate = Gate(run_id="run2", job="dependency-updates", mode="advisory", audit_path=log, store=store,
                repository="acme/api")
    ran = []
    with pytest.raises(Denied) as denied:
        gate.run("git.push", "origin nightcrew/x", lambda: ran.append(1))
    assert ran == []
    assert denied.value.decision is not None and denied.value.decision.rule == "mode-advisory"
    [record] = store.audit(run_id="run2")
    assert (record["action"], record["verdict"], record["rule"], record["outcome"]) == \
        ("git.push", "deny", "mode-advisory", "denied")
    assert [r.outcome for r in gate.denials] == ["denied"]
    assert json.loads(log.read_text())["outcome"] == "denied"


def test_a_stopped_run_records_run_stop_and_raises(tmp_path: Path, store: Store) -> None:
    reasons = iter([None, "paused: .nightcrew-pause exists in the repository"])
    gate = Gate(run_id="run3", job="dependency-updates", audit_path=tmp_path / "audit.jsonl", store=store,
                stop=lambda: next(reasons))
    ran = []
    gate.run("forge.read", "first", lambda: ran.append("first"))
    with pytest.raises(Stopped, match="paused: .nightcrew-pause exists"):
        gate.run("forge.create_pull", "second", lambda: ran.append("second"))
    assert ran == ["first"]
    records = store.audit(run_id="run3")
    assert [(r["action"], r["outcome"]) for r in records] == [("forge.read", "ok"), ("run.stop", "stopped")]
    assert records[1]["target"] == "forge.create_pull second" and records[1]["rule"] == "paused"


def test_the_labels_of_the_pr_count_until_the_change_block_ends(tmp_path: Path) -> None:
    from jobs.config import load
    from jobs.tools import Policy, Subject

    path = tmp_path / "nightcrew.toml"
    path.write_text('[[policy.rules]]\nname = "ask-first"\nactions = ["forge.comment"]\npackages = ["mathlib"]\n'
                    'verdict = "needs-approval"\n')
    gate = Gate(run_id="run4", job="dependency-updates", policy=Policy(load(path).policy, mode="propose"))
    change = Subject(packages=("mathlib",), kind="minor")
    with gate.about(change):
        with pytest.raises(Denied, match="needs approval"):
            gate.run("forge.comment", "#1", lambda: None)
        gate.with_labels(["dependencies", "nightcrew:approved"])  # the PR is known now, with its labels
        assert gate.run("forge.comment", "#1", lambda: "posted") == "posted"
        assert gate.records[-1].rule == "approved:ask-first"
    with gate.about(change):  # the next change's PR carries no approval
        with pytest.raises(Denied, match="needs approval"):
            gate.run("forge.comment", "#2", lambda: None)
    with pytest.raises(RuntimeError):  # outside a change there is no PR the labels could belong to
        gate.with_labels(["nightcrew:approved"])


def test_a_pause_committed_on_the_base_stops_the_gate_it_was_told_about(tmp_path: Path) -> None:
    from jobs.config import load
    from jobs.tools.killswitch import KillSwitch

    switch = KillSwitch(load(None).policy, tmp_path, environ={})
    gate = Gate(run_id="run5", job="dependency-updates", stop=switch.reason)
    gate.switch = switch  # as JobRun sets it: the job tells the switch what it finds on the base, through the gate
    gate.run("forge.read", "before", lambda: None)
    gate.switch.see_committed("waiting for the 2.0 migration\nmore text\n")
    with pytest.raises(Stopped, match=r"paused: \.nightcrew-pause is committed on the base branch "
                                      r"\(waiting for the 2\.0 migration\)$"):
        gate.run("forge.read", "after", lambda: None)
    gate.switch.see_committed(None)  # gone from the base again
    gate.run("forge.read", "again", lambda: None)

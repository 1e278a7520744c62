"""The dashboard's sections from a run's records and the store, its untrusted text, and what the gate's answers do
to it: each update listed once, no autolinks, a denial is no problem, a stop stops the run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.version import Version

from jobs import config as config_module
from jobs.dashboard import MARKER, build, plain, update
from jobs.dependency_updates import ChangeResult, UpdateRun
from jobs.forges.local import LocalForge
from jobs.models import Dependency, ProposedChange, Update
from jobs.state.store import Store
from jobs.tools import Gate, Stopped
from jobs.vcs import Git

REPO = "acme/widgets"


@pytest.fixture
def store(tmp_path: Path):
    opened = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield opened
    opened.close()


@pytest.fixture
def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "nightcrew.toml").write_text("[dashboard]\nenabled = true\n")
    return config_module.load(repo=folder)


def change(name: str, old: str, new: str) -> ProposedChange:
    dependency = Dependency(name=name, raw_name=name, specifier=f"=={old}", file="requirements.txt", line=1,
                            section="requirements")
    bump = Update(dependency, Version(old), Version(new), "minor", f"=={new}")
    return ProposedChange(key=name, updates=(bump,), branch=f"nightcrew/{name}-{new}")


def update_run(*changes: ChangeResult) -> UpdateRun:
    return UpdateRun(run_id="r1", forge="local", base="main", dry_run=False, changes=changes, skipped=(),
                     problems=(), seconds=0.0, test_seconds=0.0)


def track(store: Store, number: int, name: str, version: str, *, tests: str = "passed") -> None:
    store.track_pull(repository=REPO, number=number, branch=f"nightcrew/{name}-{version}", key=name,
                     packages={name: version}, kind="minor", url=f"https://github.com/{REPO}/pull/{number}",
                     state="open", tests=tests)


# -- each update once -------------------------------------------------------------------------------------------


def test_an_update_held_back_this_run_whose_pull_request_is_open_is_listed_once_under_open(store: Store,
                                                                                            config) -> None:
    # the PR for mathlib 1.1.0 was opened by an earlier run; this run the policy held its update back
    track(store, 5, "mathlib", "1.1.0")
    held = ChangeResult("mathlib", "nightcrew/mathlib-1.1.0", "skipped", change("mathlib", "1.0.0", "1.1.0"),
                        "git.push denied by policy (quiet-hours)")
    later = ChangeResult("lxml", "nightcrew/lxml-5.3.0", "skipped", change("lxml", "5.2.0", "5.3.0"),
                         "limit reached: max_prs_per_run = 1")
    board = build(update_run(held, later), store=store, repository=REPO, config=config)
    assert [(i.key, i.pull_number) for i in board.open] == [("mathlib", 5)]
    assert [i.key for i in board.pending] == ["lxml"]  # a different update still waits


def test_the_same_branch_is_the_same_update_even_when_the_run_knows_no_versions(store: Store, config) -> None:
    track(store, 6, "mathlib", "1.1.0")
    held = ChangeResult("mathlib", "nightcrew/mathlib-1.1.0", "skipped", None, "not finished: stopped")
    board = build(update_run(held), store=store, repository=REPO, config=config)
    assert [i.pull_number for i in board.open] == [6] and board.pending == ()


def test_failing_wins_over_open_for_the_same_pull_request(store: Store, config) -> None:
    track(store, 7, "mathlib", "2.0.0", tests="failed")
    held = ChangeResult("mathlib", "nightcrew/mathlib-2.0.0", "skipped", change("mathlib", "1.0.0", "2.0.0"),
                        "limit reached: max_open_prs = 1")
    board = build(update_run(held), store=store, repository=REPO, config=config)
    assert [(i.pull_number, i.reason) for i in board.failing] == [(7, "tests failed")]
    assert board.open == () and board.pending == ()


# -- untrusted text ---------------------------------------------------------------------------------------------

# What GitHub makes a link of in an issue body by itself (GFM autolinks and issue references).
AUTOLINKS = re.compile(r"(?i)\b(?:https?|ftp)://|\bwww\.|[\w.-]+/[\w.-]+#\d|(?<![\w&])#\d|\bgh-\d|\w@\w|(?<!\w)@\w")


@pytest.mark.parametrize("text", [
    "see https://evil.example/pwn for details",
    "mirror at http://evil.example and www.evil.example/x",
    "fixes acme/widgets#12 (and #3, GH-7)",
    "ask @alice or mail bob@example.com",
])
def test_plain_text_makes_no_links_references_or_mentions_and_still_reads_the_same(text: str) -> None:
    shown = plain(text)
    assert not AUTOLINKS.search(shown), shown
    # what a reader sees: the comments render as nothing, the backslashes escape markdown
    assert re.sub(r"\\(.)", r"\1", shown.replace("<!-- -->", "")) == text


def test_plain_text_is_one_line_without_markup() -> None:
    assert plain("a_b\n<b>x</b> [l](u)") == r"a\_b \<b\>x\</b\> \[l\](u)"


# -- what the gate says -----------------------------------------------------------------------------------------


def gate(mode: str, *, stop: str | None = None) -> Gate:
    return Gate(run_id="r1", job="dependency-updates", mode=mode, stop=lambda: stop, repository=REPO)


def local_forge(tmp_path: Path) -> LocalForge:
    return LocalForge(Git(tmp_path), tmp_path / "forge.json", tmp_path / "prs")


def test_in_advisory_mode_the_dashboard_is_denied_and_that_is_no_problem(tmp_path: Path, config) -> None:
    advisory = gate("advisory")
    written, problem = update(tmp_path, config, forge=local_forge(tmp_path), gate=advisory, store=None,
                              repository=REPO, result=update_run())
    assert (written, problem) == (None, None)
    # the gate audited it: the run lists it with its denials
    assert [(r.action, r.outcome, r.rule) for r in advisory.records] == [("forge.dashboard", "denied",
                                                                           "mode-advisory")]
    assert not (tmp_path / config.dashboard.file).exists()


def test_in_propose_mode_the_same_call_writes_the_dashboard(tmp_path: Path, config) -> None:
    written, problem = update(tmp_path, config, forge=local_forge(tmp_path), gate=gate("propose"), store=None,
                              repository=REPO, result=update_run())
    assert problem is None and written is not None and written.action == "created"
    assert MARKER in (tmp_path / config.dashboard.file).read_text()


def test_a_stop_before_the_dashboard_stops_the_run_instead_of_becoming_a_problem(tmp_path: Path, config) -> None:
    with pytest.raises(Stopped, match="paused"):
        update(tmp_path, config, forge=local_forge(tmp_path), gate=gate("propose", stop="paused: by alice"),
               store=None, repository=REPO, result=update_run())
    assert not (tmp_path / config.dashboard.file).exists()

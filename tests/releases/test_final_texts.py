"""The release watch collects the final texts of its drafts by itself, so the report's release-note edits need no
`nightcrew notes score`: a local draft file once a newer tag was drafted by an earlier watch, a GitHub draft once
a person publishes its release (through PyGithub against the stand-in); a failure is one line, never the end of
the watch."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from github import Auth, Github

from jobs import config as config_module
from jobs import release_watch
from jobs.cli import cli
from jobs.state.store import Store, repository_id
from tests.jobs.conftest import git
from tests.support.github_server import GitHubStandIn

DRAFTS = ".nightcrew/releases"


@dataclass
class Releasing:
    """A repository with a bare remote and no release yet; tags are added as the test goes."""

    work: Path
    remote: Path

    def release(self, message: str, tag: str) -> None:
        with (self.work / "history.txt").open("a", encoding="utf-8") as handle:
            handle.write(message + "\n")
        git(self.work, "add", "history.txt")
        git(self.work, "commit", "-qm", message)
        git(self.work, "tag", tag)
        git(self.work, "push", "-q", "origin", "main", tag)

    def config(self, text: str = '[forge]\nkind = "local"\nremote = "origin"\n') -> config_module.Config:
        path = self.work / "nightcrew.toml"
        path.write_text(text, encoding="utf-8")
        return config_module.load(path, repo=self.work)

    def drafts(self, config: config_module.Config) -> dict[str, dict]:
        """{tag: its newest stored draft}."""
        with Store.for_repo(config, self.work) as store:
            return {row["tag"]: row for row in store.drafts(repository=repository_id(config, self.work))}

    def reads(self, config: config_module.Config) -> list[tuple[str, str]]:
        with Store.for_repo(config, self.work) as store:
            return [(r["target"], r["outcome"]) for r in store.audit(action="forge.read")]


@pytest.fixture
def releasing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Releasing:
    monkeypatch.delenv("NIGHTCREW_PAUSE", raising=False)
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / ".git" / "info" / "exclude").write_text("nightcrew.toml\n")
    (work / "history.txt").write_text("initial\n")
    git(work, "add", "history.txt")
    git(work, "commit", "-qm", "initial")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    return Releasing(work, remote)


def test_a_local_draft_is_scored_once_a_newer_tag_was_drafted_by_an_earlier_watch(releasing) -> None:
    config = releasing.config()
    release_watch.run_job(releasing.work, config)  # the first watch: no tags yet
    releasing.release("feat: retries (#1)", "v1.0.0")
    first = release_watch.run_job(releasing.work, config)
    releasing.release("fix: the timeout (#2)", "v1.1.0")
    second = release_watch.run_job(releasing.work, config)
    draft = releasing.work / DRAFTS / "v1.0.0.md"
    generated = draft.read_text(encoding="utf-8")
    # the release manager finishes v1.0.0's notes after v1.1.0's draft appeared
    edited = generated.replace("- Retries in #1", "- Retries with backoff for flaky networks (#1)")
    edited += "\n## Thanks\n\nTo everyone who reported the timeouts.\n"
    assert edited != generated
    draft.write_text(edited, encoding="utf-8")
    releasing.release("feat: a cache (#3)", "v1.2.0")

    third = release_watch.run_job(releasing.work, config)

    assert first.drafted == ("v1.0.0",) and second.drafted == ("v1.1.0",) and third.drafted == ("v1.2.0",)
    # v1.1.0 was drafted by the second watch itself: v1.0.0's file was not taken before anyone could finish it
    assert first.finals == () and second.finals == ()
    assert third.finals == ("v1.0.0",) and third.problems == ()
    stored = releasing.drafts(config)
    assert stored["v1.0.0"]["final_text"] == edited and stored["v1.0.0"]["distance"] > 0
    assert stored["v1.1.0"]["final_text"] is None  # v1.2.0 came in this watch: v1.1.0's editing may go on
    assert stored["v1.2.0"]["final_text"] is None and stored["v1.2.0"]["distance"] is None
    assert releasing.reads(config) == [(str(draft), "ok")]

    report = CliRunner().invoke(cli, ["report", "--repo", str(releasing.work), "--format", "json"])
    assert report.exit_code == 0, report.output
    releases = {r["tag"]: r["distance"] for r in json.loads(report.stdout)["releases"]}
    assert set(releases) == {"v1.0.0"} and releases["v1.0.0"] == pytest.approx(stored["v1.0.0"]["distance"], abs=1e-4)


def test_a_scored_local_draft_is_not_read_again_and_the_next_one_follows(releasing) -> None:
    config = releasing.config()
    release_watch.run_job(releasing.work, config)
    for n, tag in enumerate(("v1.0.0", "v1.1.0", "v1.2.0"), start=1):
        releasing.release(f"feat: step {n} (#{n})", tag)
        release_watch.run_job(releasing.work, config)

    later = release_watch.run_job(releasing.work, config)

    assert later.finals == ("v1.1.0",)  # v1.2.0 was drafted by an earlier watch now; v1.0.0 was scored before
    stored = releasing.drafts(config)
    assert stored["v1.0.0"]["distance"] == 0.0  # nobody edited it: the bot's text stood
    assert [target for target, _ in releasing.reads(config)] == [
        str(releasing.work / DRAFTS / "v1.0.0.md"), str(releasing.work / DRAFTS / "v1.1.0.md")]


def test_a_removed_local_draft_file_is_a_notice_and_the_watch_goes_on(releasing) -> None:
    config = releasing.config()
    release_watch.run_job(releasing.work, config)
    releasing.release("feat: one (#1)", "v1.0.0")
    release_watch.run_job(releasing.work, config)
    releasing.release("feat: two (#2)", "v1.1.0")
    release_watch.run_job(releasing.work, config)
    (releasing.work / DRAFTS / "v1.0.0.md").unlink()
    releasing.release("feat: three (#3)", "v1.2.0")

    result = release_watch.run_job(releasing.work, config)

    assert result.drafted == ("v1.2.0",) and result.finals == () and result.problems == ()
    assert len(result.notices) == 1 and result.notices[0].startswith("v1.0.0: no final text to compare")
    with Store.for_repo(config, releasing.work) as store:
        assert store.runs(job="release-watch")[-1]["outcome"] == "ok"


@pytest.fixture
def hub(releasing, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    server = GitHubStandIn(releasing.remote, full_name="acme/widgets")
    server.start()
    monkeypatch.setenv("GITHUB_TOKEN", "bot-token")
    try:
        yield server
    finally:
        server.stop()


def github_config(releasing: Releasing, hub: GitHubStandIn) -> config_module.Config:
    return releasing.config(f'[forge]\nkind = "github"\napi_url = "{hub.api_url}"\nrepository = "acme/widgets"\n'
                            'throttle = false\nremote = "origin"\n')


def test_a_github_draft_is_scored_once_a_person_publishes_it_with_an_edited_body(releasing, hub) -> None:
    hub.add_merged_pull("Fix the timeout", "", number=2, labels=["bug"], author="bob")
    config = github_config(releasing, hub)
    release_watch.run_job(releasing.work, config)
    releasing.release("Fix the timeout (#2)", "v1.1.1")
    drafting = release_watch.run_job(releasing.work, config)
    still_draft = release_watch.run_job(releasing.work, config)
    unscored = releasing.drafts(config)["v1.1.1"]
    human = Github(auth=Auth.Token("human-token"), base_url=hub.api_url, seconds_between_requests=None,
                   seconds_between_writes=None)
    release = next(r for r in human.get_repo("acme/widgets").get_releases() if r.tag_name == "v1.1.1")
    edited = "## Highlights\n\nThe timeout is gone for good.\n\n" + release.body
    release.update_release(name=release.name or "v1.1.1", message=edited, draft=False)

    published = release_watch.run_job(releasing.work, config)
    after = release_watch.run_job(releasing.work, config)

    assert drafting.drafted == ("v1.1.1",)
    # still a draft: skipped quietly, nothing stored, not a problem
    assert still_draft.finals == () and still_draft.problems == () and still_draft.notices == ()
    assert unscored["final_text"] is None and unscored["location"].startswith("http")
    assert published.finals == ("v1.1.1",) and published.problems == ()
    stored = releasing.drafts(config)["v1.1.1"]
    assert stored["final_text"] == edited and 0 < stored["distance"] < 1
    assert after.finals == ()
    # each read went through the gate; the published text is not read again once stored
    reads_by_watch = [r for r in releasing.reads(config) if r[0] == "release v1.1.1"]
    assert len(reads_by_watch) == 3  # drafting watch, still-a-draft watch, the publishing one; none after


def test_a_forge_that_cannot_list_releases_is_one_problem_line_and_the_watch_goes_on(releasing, hub) -> None:
    config = github_config(releasing, hub)
    release_watch.run_job(releasing.work, config)
    releasing.release("feat: one (#1)", "v1.0.0")
    release_watch.run_job(releasing.work, config)
    hub.fail("GET", r"/repos/acme/widgets/releases", status=403, times=None,
             body={"message": "Resource not accessible by integration"})

    failing = release_watch.run_job(releasing.work, config)
    hub.clear_faults()
    recovered = release_watch.run_job(releasing.work, config)

    assert failing.stopped is None and failing.finals == ()
    assert len(failing.problems) == 1 and failing.problems[0].startswith("v1.0.0: final text not collected: ")
    assert "403" in failing.problems[0] and "bot-token" not in failing.problems[0]
    assert recovered.problems == () and recovered.finals == ()  # still a draft on GitHub
    assert ("release v1.0.0", "error") in releasing.reads(config)
    with Store.for_repo(config, releasing.work) as store:
        assert [r["outcome"] for r in store.runs(job="release-watch")][-2:] == ["partial", "ok"]

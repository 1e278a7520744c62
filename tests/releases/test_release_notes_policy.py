"""Release notes under the policy: a denied draft is reported, not a crash; the LLM is not asked for notes that
cannot be written; the kill switch stops the job."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from jobs.cli import cli
from jobs.state.store import Store
from tests.releases.gitrepo import ALICE, Repo


def _repo(tmp_path: Path, extra: str = "") -> Repo:
    repo = Repo(tmp_path / "proj")
    repo.commit("first")
    repo.tag("v1.0.0")
    repo.merge_pr(7, "feat: add a widget", ALICE, branch="widget")
    repo.tag("v1.1.0")
    (repo.path / "nightcrew.toml").write_text('[forge]\nremote = ""\n' + extra)
    return repo


def run(repo: Repo, *args: str):
    return CliRunner().invoke(cli, ["run", "release-notes", "--repo", str(repo.path), "--tag", "v1.1.0",
                                    "--format", "json", *args])


def test_advisory_mode_composes_the_notes_and_records_the_denial_without_failing(tmp_path: Path) -> None:
    repo = _repo(tmp_path, '[policy]\nmode = "advisory"\n')
    result = run(repo)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["draft"] is None
    assert "mode-advisory" in data["denied"]
    assert [(d["action"], d["rule"]) for d in data["denials"]] == [("forge.draft_release", "mode-advisory")]
    assert "#7" in data["text"]  # the notes were still composed
    assert not (repo.path / ".nightcrew" / "releases").exists()  # nothing written
    store = Store(f"sqlite:///{repo.path / '.nightcrew' / 'state.sqlite'}")
    [row] = store.runs(job="release-notes")
    assert row["outcome"] == "ok"
    assert [r["rule"] for r in store.audit(action="forge.draft_release")] == ["mode-advisory"]
    store.close()


def test_quiet_hours_deny_the_draft_and_the_llm_is_not_asked(tmp_path: Path, openai_server) -> None:
    repo = _repo(tmp_path, '[policy]\nquiet_hours = ["00:00-23:59"]\n\n'
                           f'[llm]\nenabled = true\nmodel = "m"\nbase_url = "{openai_server.base_url}"\n')
    result = CliRunner().invoke(cli, ["run", "release-notes", "--repo", str(repo.path), "--tag", "v1.1.0",
                                      "--format", "json"], env={"OPENAI_API_KEY": openai_server.api_key})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "quiet-hours" in data["denied"]
    assert openai_server.requests == []  # not even one attempt


def test_a_pause_file_stops_the_release_notes_job(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo.path / ".nightcrew-pause").write_text("release freeze\n")
    result = run(repo)
    assert result.exit_code == 0
    assert "paused: .nightcrew-pause exists in the repository (release freeze)" in result.stderr
    store = Store(f"sqlite:///{repo.path / '.nightcrew' / 'state.sqlite'}")
    [row] = store.runs(job="release-notes")
    assert row["outcome"] == "paused"
    store.close()

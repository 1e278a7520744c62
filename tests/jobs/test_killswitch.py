"""The kill switch, for real: a pause file created mid-run or committed on the base, the pause variable,
`nightcrew pause` and `resume`; and what a run stopped between two steps leaves for the next one."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from jobs.cli import cli
from jobs.config import load
from jobs.dependency_updates import DependencyUpdates, make_forge
from jobs.state import schema
from jobs.state.record import Recorder
from jobs.state.store import Store, repository_id
from jobs.tools import Gate, Policy
from jobs.vcs import Git
from tests.jobs.conftest import Project, git
from tests.jobs.conftest import run_updates as run


def command(project: Project, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--repo", str(project.work)])
    return result.exit_code, result.stdout, result.stderr


def prs(project: Project) -> list[dict]:
    return json.loads(CliRunner().invoke(cli, ["prs", "--repo", str(project.work), "--format", "json"]).stdout)


def remote_branches(project: Project) -> list[str]:
    return git(project.remote, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def runs(project: Project) -> list[dict]:
    with Store.for_repo(load(None, repo=project.work), project.work) as store:
        return store.runs()


def test_a_pause_file_created_during_the_first_tests_stops_the_run_before_its_next_step(project: Project) -> None:
    pause = project.work / ".nightcrew-pause"
    # the repository's own test command is what flips the switch, while the first change is being tested
    script = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('release freeze\\n')"
    test_command = shlex.join(["python", "-c", script, str(pause)])
    project.write_config(f"command = {json.dumps(test_command)}\n")
    code, data, err = run(project)
    assert code == 0, err
    assert pause.is_file()
    assert data["stopped"].startswith("stopped before ")
    assert "paused: .nightcrew-pause exists in the repository (release freeze)" in data["stopped"]
    assert f"nightcrew: {data['stopped']}" in err
    first, second = data["changes"]
    # the change being worked on stops after its tests, before anything is pushed or opened
    assert first["action"] == "skipped" and first["reason"].startswith("not finished: stopped before ")
    assert second["action"] == "skipped" and second["reason"] == "not handled: the run was stopped"
    assert second["tests"] is None  # its tests never ran
    assert prs(project) == [] and remote_branches(project) == ["main"]
    [row] = runs(project)
    assert row["outcome"] == "paused" and "release freeze" in row["summary"]
    with Store.for_repo(load(None, repo=project.work), project.work) as store:
        actions = [r["action"] for r in store.audit(run_id=data["run_id"])]
    assert actions[-1] == "run.stop" and actions.count("tests.run") == 1
    assert "git.push" not in actions and "forge.create_pull" not in actions


def test_the_pause_variable_stops_a_run_before_its_first_action(project: Project) -> None:
    code, data, err = run(project, env={"NIGHTCREW_PAUSE": "1"})
    assert code == 0, err
    assert "paused: the environment variable NIGHTCREW_PAUSE is set" in data["stopped"]
    assert data["changes"] == [] and prs(project) == [] and remote_branches(project) == ["main"]
    [row] = runs(project)
    assert row["outcome"] == "paused"
    code, data, _ = run(project, env={"NIGHTCREW_PAUSE": "0"})  # "0" is off
    assert code == 0 and data["stopped"] is None and len(prs(project)) == 2


def test_nightcrew_pause_stops_runs_until_resume(project: Project) -> None:
    code, out, err = command(project, "pause", "--reason", "incident 42")
    assert code == 0, err
    assert "incident 42" in out
    code, out, _ = command(project, "status", "--format", "json")
    status = json.loads(out)
    assert status["paused"] is True
    [source] = status["pauses"]
    assert (source["source"], source["where"], source["reason"]) == ("store", "this repository", "incident 42")

    code, data, err = run(project)
    assert code == 0 and data["changes"] == [] and prs(project) == []
    assert "paused: `nightcrew pause` for this repository since " in data["stopped"]
    assert data["stopped"].endswith(": incident 42")

    code, out, err = command(project, "resume")
    assert code == 0 and err == ""
    assert json.loads(command(project, "status", "--format", "json")[1])["paused"] is False
    code, data, _ = run(project)
    assert code == 0 and data["stopped"] is None
    assert {c["action"] for c in data["changes"]} == {"opened"} and len(prs(project)) == 2
    status = json.loads(command(project, "status", "--format", "json")[1])
    assert status["last_runs"]["dependency-updates"]["outcome"] == "ok" and status["locks"] == []
    # people's switches are in the audit log too
    code, out, _ = command(project, "audit", "--action", "control.*", "--format", "jsonl")
    notes = [json.loads(line) for line in out.splitlines()]
    assert [(n["action"], n["outcome"], n["job"]) for n in notes] == [("control.pause", "paused", "control"),
                                                                     ("control.resume", "resumed", "control")]
    assert "incident 42" in notes[0]["detail"]


def test_pause_all_holds_every_repository_and_resume_all_lifts_it(project: Project) -> None:
    assert command(project, "pause", "--all")[0] == 0
    code, data, _ = run(project)
    assert "`nightcrew pause` for every repository" in data["stopped"]
    code, out, err = command(project, "resume")  # this repository's own switch: not the one that holds it
    assert "still paused: `nightcrew pause --all` holds every repository" in err
    assert command(project, "resume", "--all")[0] == 0
    assert json.loads(command(project, "status", "--format", "json")[1])["pauses"] == []


def test_status_names_every_source_of_a_pause(project: Project) -> None:
    (project.work / ".nightcrew-pause").write_text("waiting for the 2.0 migration\n")
    command(project, "pause", "--reason", "on call")
    result = CliRunner(env={"NIGHTCREW_PAUSE": "yes"}).invoke(cli, ["status", "--repo", str(project.work)])
    status = json.loads(result.stdout)  # json: the output is no terminal
    sources = {p["source"]: p for p in status["pauses"]}
    assert set(sources) == {"environment", "file", "store"}
    assert sources["file"]["reason"] == "waiting for the 2.0 migration"
    assert sources["store"]["reason"] == "on call" and sources["store"]["by"]
    code, _, err = command(project, "resume")
    assert "still paused: .nightcrew-pause exists in the repository" in err


def test_a_pause_file_committed_on_the_remote_base_stops_a_host_whose_checkout_is_behind(project: Project,
                                                                                      tmp_path: Path) -> None:
    # a person pauses the bot from their own clone; this host's working tree never sees the file
    clone = tmp_path / "person"
    git(tmp_path, "clone", "-q", str(project.remote), str(clone))
    (clone / ".nightcrew-pause").write_text("release freeze\n")
    git(clone, "add", ".nightcrew-pause")
    git(clone, "commit", "-qm", "pause nightcrew")
    git(clone, "push", "-q", "origin", "main")
    assert not (project.work / ".nightcrew-pause").exists()
    code, data, err = run(project)
    assert code == 0, err
    assert "paused: .nightcrew-pause is committed on the base branch (release freeze)" in data["stopped"]
    assert data["changes"] == [] and prs(project) == [] and remote_branches(project) == ["main"]
    [row] = runs(project)
    assert row["outcome"] == "paused"
    with Store.for_repo(load(None, repo=project.work), project.work) as store:
        actions = [r["action"] for r in store.audit(run_id=data["run_id"])]
    assert actions[-1] == "run.stop" and "tests.run" not in actions and "index.fetch" not in actions


def test_a_pause_while_pushing_stops_the_run_at_the_changelog_not_as_a_changelog_problem(project: Project) -> None:
    # the pause arrives while the first branch is being pushed (a git hook stands in for the person)
    hook = project.work / ".git" / "hooks" / "pre-push"
    pause = shlex.quote(str(project.work / ".nightcrew-pause"))
    hook.write_text(f"#!/bin/sh\necho 'pushed one, then froze' > {pause}\n")
    hook.chmod(0o755)
    code, data, err = run(project)
    assert code == 0, err
    first, second = data["changes"]
    assert first["action"] == "skipped"
    # the very next action, fetching the changelog, is where it stops: nothing is opened
    assert first["reason"].startswith("not finished: stopped before index.fetch "), first["reason"]
    assert "pushed one, then froze" in data["stopped"]
    assert not [e for e in data["errors"] if "changelog" in e["message"]]
    assert second["reason"] == "not handled: the run was stopped"
    assert prs(project) == [] and remote_branches(project) == ["main", first["branch"]]


def test_a_run_stopped_right_after_updating_a_pr_does_not_take_its_own_text_for_a_persons_edit(
        project: Project, tmp_path: Path) -> None:
    code, _, err = run(project)
    assert code == 0, err
    # the base moves (one more test), so the next run rebuilds each branch and rewrites each PR's text
    clone = tmp_path / "person"
    git(tmp_path, "clone", "-q", str(project.remote), str(clone))
    (clone / "tests" / "test_more.py").write_text("def test_more():\n    assert True\n")
    git(clone, "add", ".")
    git(clone, "commit", "-qm", "one more test")
    git(clone, "push", "-q", "origin", "main")
    config = load(None, repo=project.work)
    with Store.for_repo(config, project.work) as store:
        repository = repository_id(config, project.work)

        def paused_after_the_first_update() -> str | None:  # a person pausing at exactly that moment
            done = any(r.action == "forge.update_pull" and r.outcome == "ok" for r in gate.records)
            return "paused: right after the update" if done else None

        gate = Gate(run_id="cut-short", job="dependency-updates", policy=Policy(config.policy), store=store,
                    repository=repository, stop=paused_after_the_first_update)
        forge = make_forge(config, project.work, Git(project.work), "local")
        cut = DependencyUpdates(project.work, config, forge=forge, gate=gate,
                                recorder=Recorder(store, repository, "cut-short")).run()
        forge.close()
        assert cut.stopped and cut.changes[0].reason.startswith("not finished: stopped before ")
        assert cut.changes[0].action == "updated" and cut.changes[0].pull is not None  # written, so reported
        assert [r.action for r in gate.records if r.outcome == "ok"].count("forge.update_pull") == 1
        code, data, err = run(project)
        assert code == 0, err
        overrides = store._rows(select(schema.overrides))
    assert [o["kind"] for o in overrides] == []  # nobody edited anything

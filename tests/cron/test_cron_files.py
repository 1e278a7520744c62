"""The ready-made unattended-run files in cron/: they parse, they ask for the least, and they call commands that exist.

Workflows are read with PyYAML (YAML 1.1: a bare ``on`` key loads as ``True``), unit files with configparser,
cron schedules with APScheduler's ``CronTrigger.from_crontab``. Every ``nightcrew`` invocation in the files
is parsed by the real command line (click), so a renamed option or a command that does not exist fails here
rather than at 03:17. Shell variables in a workflow's scripts are replaced by a value of the kind they carry
(``SAMPLES``) before parsing.
"""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger

from jobs.cli import cli
from jobs.fleet import JOBS

CRON = Path(__file__).resolve().parents[2] / "cron"
WORKFLOWS = sorted((CRON / "github").glob("*.yml"))
NIGHTLY = CRON / "github" / "nightcrew-nightly.yml"
RELEASE = CRON / "github" / "nightcrew-release-notes.yml"
FLEET = CRON / "github" / "nightcrew-fleet.yml"
SERVICE = CRON / "systemd" / "nightcrew.service"
TIMER = CRON / "systemd" / "nightcrew.timer"
CRONTAB = CRON / "crontab.example"

SHA = re.compile(r"^[0-9a-f]{40}$")
EXACT_TAG = re.compile(r"^v\d+\.\d+\.\d+$")
USES = re.compile(r"^(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?)@(?P<ref>[^\s@]+)$")
SHELL_STOP = {">", ">>", "<", "|", "||", "&&", ";", "&", "2>", "2>>"}
# What a shell variable of a workflow script stands for when its nightcrew call is parsed: "$NAME" is one
# argument, "${name[@]}" a bash array of options (as full as the script can make it).
SAMPLES: dict[str, list[str]] = {
    "$TAG": ["v1.2.0"], "$JOB": ["release-watch"], "$CHUNK": ["1"], "$CHUNKS": ["1"],
    "${config[@]}": ["--config", ".github/nightcrew.toml"], "${mode[@]}": ["--mode", "advisory"],
    "${dry_run[@]}": ["--dry-run"],
}


# ---------------------------------------------------------------------------------------------------- helpers


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The ``on:`` block; YAML 1.1 loads the bare key ``on`` as the boolean True."""
    found = [workflow[key] for key in ("on", True) if key in workflow]
    assert len(found) == 1, "exactly one `on:` block"
    on = found[0]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict)
    return on


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def uses_steps(workflow: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(workflow) if str(s.get("uses", "")).split("@")[0] == action]


def run_scripts(workflow: dict[str, Any]) -> list[str]:
    return [s["run"] for s in steps(workflow) if "run" in s]


def invocations(text: str) -> list[list[str]]:
    """The argument lists after every ``nightcrew`` command word in a shell command line or script."""
    found: list[list[str]] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token != "nightcrew" and not token.endswith("/bin/nightcrew"):
                continue
            args: list[str] = []
            for j, arg in enumerate(tokens[i + 1:], start=i + 1):
                if arg in SHELL_STOP or (arg.isdigit() and j + 1 < len(tokens) and tokens[j + 1] in SHELL_STOP):
                    break
                args.append(arg)
            found.append(args)
    return found


def expand(args: list[str]) -> list[str]:
    """``args`` with every shell variable replaced by its sample; an unknown one is a test to extend."""
    out: list[str] = []
    for arg in args:
        if "$" in arg:
            assert arg in SAMPLES, f"no sample for {arg}: add one to SAMPLES"
            out.extend(SAMPLES[arg])
        else:
            out.append(arg)
    return out


def _pending(ctx: click.Context) -> list[str]:
    """What a group's context left for its subcommand (click 8.2 renamed ``protected_args``)."""
    protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
    return [*protected, *ctx.args]


def check_cli(args: list[str]) -> click.Command:
    """Parse ``args`` with nightcrew's real command line, down to the leaf command (nothing runs): unknown
    commands, unknown options, bad choices and missing required options raise click's usage errors."""
    command: click.Command = cli
    ctx = cli.make_context("nightcrew", list(args))
    while isinstance(command, click.Group):
        rest = _pending(ctx)
        assert rest, f"nightcrew {' '.join(args)}: no subcommand"
        name, sub, rest = command.resolve_command(ctx, rest)
        assert name is not None and sub is not None
        ctx = sub.make_context(name, list(rest), parent=ctx)
        command = sub
    return command


def cron_ok(expression: str) -> CronTrigger:
    fields = expression.split()
    assert len(fields) == 5, f"{expression!r}: a cron expression has 5 fields"
    return CronTrigger.from_crontab(expression, timezone="UTC")


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",),
                                       comment_prefixes=("#", ";"), inline_comment_prefixes=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def crontab_entries() -> list[tuple[str, str]]:
    """(schedule, command) of every job line of the crontab example."""
    entries = []
    for line in CRONTAB.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", stripped):
            continue
        fields = stripped.split(None, 5)
        assert len(fields) == 6, f"crontab line without a command: {line!r}"
        entries.append((" ".join(fields[:5]), fields[5]))
    return entries


# -------------------------------------------------------------------------------------------- every workflow


def test_the_workflows_are_there() -> None:
    assert {p.name for p in WORKFLOWS} == {NIGHTLY.name, RELEASE.name, FLEET.name}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_has_the_required_keys(path: Path) -> None:
    workflow = load(path)
    assert workflow.get("name")
    assert triggers(workflow)
    assert workflow["jobs"]
    for name, job in workflow["jobs"].items():
        assert job.get("runs-on"), name
        assert job.get("steps"), name
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and 0 < timeout <= 360, f"{name}: timeout-minutes, below GitHub's 6 h"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_top_level_permissions_are_empty_and_every_job_names_its_own(path: Path) -> None:
    workflow = load(path)
    assert "permissions" in workflow and workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict) and job["permissions"], f"{name}: job-level permissions"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned(path: Path) -> None:
    workflow = load(path)
    used = [s["uses"] for s in steps(workflow) if "uses" in s]
    assert used
    for ref in used:
        match = USES.match(ref)
        assert match, f"{ref}: owner/name@ref"
        pin = match["ref"]
        assert SHA.match(pin) or EXACT_TAG.match(pin), f"{ref}: pin a full commit SHA or an exact vX.Y.Z"
    # A SHA pin carries its version in a comment, for the humans who update it.
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.search(r"uses:\s*(\S+@([0-9a-f]{40}))(.*)$", line)
        if m:
            assert re.search(r"#\s*v\d+\.\d+\.\d+\s*$", m[3]), f"{m[1]}: add `# vX.Y.Z` after the SHA"


def test_an_action_is_pinned_the_same_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for step in steps(load(path)):
            if "uses" in step:
                action, _, ref = step["uses"].partition("@")
                pins.setdefault(action, set()).add(ref)
    assert all(len(refs) == 1 for refs in pins.values()), pins


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkout_keeps_no_credentials(path: Path) -> None:
    checkouts = uses_steps(load(path), "actions/checkout")
    assert checkouts
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_runs_never_overlap(path: Path) -> None:
    workflow = load(path)
    groups = [workflow.get("concurrency")] + [job.get("concurrency") for job in workflow["jobs"].values()]
    groups = [g for g in groups if g]
    assert groups, "a concurrency group"
    for group in groups:
        name = group["group"] if isinstance(group, dict) else group
        assert isinstance(name, str) and name.strip()
        if isinstance(group, dict):
            assert group.get("cancel-in-progress", False) is False, "a running job is never cancelled half-way"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_pasted_into_a_script(path: Path) -> None:
    # Inputs, tag names and variables reach scripts through env:, never as ${{ }} inside run: (script injection).
    for script in run_scripts(load(path)):
        assert "${{" not in script, script


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_nightcrew_is_installed_from_the_spec_variable(path: Path) -> None:
    workflow = load(path)
    for name, job in workflow["jobs"].items():
        job_steps = job["steps"]
        calls = [i for i, s in enumerate(job_steps) if invocations(s.get("run", ""))]
        if not calls:
            continue
        installs = [i for i, s in enumerate(job_steps) if "pip install" in s.get("run", "")]
        assert len(installs) == 1 and installs[0] < calls[0], f"{name}: installed once, before it runs"
        step = job_steps[installs[0]]
        assert '"$NIGHTCREW_SPEC"' in step["run"]
        assert step["env"]["NIGHTCREW_SPEC"] == "${{ vars.NIGHTCREW_SPEC || 'nightcrew' }}"
        assert not re.search(r"pip install\s+(\.|nightcrew)(\s|$)", step["run"])


@pytest.mark.parametrize("path", [NIGHTLY, RELEASE], ids=lambda p: p.name)
def test_the_token_is_given_only_to_the_nightcrew_step(path: Path) -> None:
    workflow = load(path)
    assert "GITHUB_TOKEN" not in (workflow.get("env") or {})
    for job in workflow["jobs"].values():
        assert "GITHUB_TOKEN" not in (job.get("env") or {})
    holders = [s for s in steps(workflow) if "GITHUB_TOKEN" in (s.get("env") or {})]
    assert len(holders) == 1
    assert holders[0]["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert invocations(holders[0]["run"]), "the token goes to the step that runs nightcrew"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_json_summary_is_uploaded_whatever_the_outcome(path: Path) -> None:
    workflow = load(path)
    uploads = uses_steps(workflow, "actions/upload-artifact")
    assert len(uploads) == 1
    upload = uploads[0]
    assert "always()" in str(upload.get("if"))
    assert ".json" in upload["with"]["path"]
    calls = [line for script in run_scripts(workflow) for line in script.splitlines() if "nightcrew run" in line]
    assert calls
    for line in calls:
        m = re.search(r"--format json\b[^>]*>\s*\"?([^\"\s]+)", line)
        assert m, f"the JSON summary goes to a file: {line.strip()}"
        assert Path(m[1]).name in upload["with"]["path"], "and that file is uploaded"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_nightcrew_call_parses_with_the_real_command_line(path: Path) -> None:
    calls = [expand(args) for script in run_scripts(load(path)) for args in invocations(script)]
    assert calls
    allowed = {"run"} if path != FLEET else {"run", "plan", "report"}
    for args in calls:
        assert args[:1] and args[0] in allowed, f"{path.name}: {args}"
        check_cli(args)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_secret_is_pasted_into_a_script(path: Path) -> None:
    for step in steps(load(path)):
        assert "secrets." not in step.get("run", ""), step.get("name")
        for value in (step.get("env") or {}).values():
            # A secret travels only as a whole env value, never spliced into a longer string.
            if "secrets." in str(value):
                assert re.fullmatch(r"\$\{\{[^}]*\}\}", str(value).strip()), value


# ------------------------------------------------------------------------------------------------ the nightly


def test_nightly_runs_on_a_schedule_and_by_hand() -> None:
    on = triggers(load(NIGHTLY))
    assert set(on) == {"schedule", "workflow_dispatch"}
    schedule = on["schedule"]
    assert isinstance(schedule, list) and len(schedule) == 1
    expression = schedule[0]["cron"]
    cron_ok(expression)
    minute, hour = expression.split()[:2]
    assert minute.isdigit() and int(minute) not in (0, 30), "off the hour: runs queued at :00 are delayed or dropped"
    assert hour.isdigit(), "once a night"


def test_nightly_permissions_are_exactly_push_pull_requests_and_the_dashboard_issue() -> None:
    workflow = load(NIGHTLY)
    assert [job["permissions"] for job in workflow["jobs"].values()] == [
        {"contents": "write", "pull-requests": "write", "issues": "write"}
    ]
    # issues: write is there for the dependency dashboard alone, and the file says so where it asks for it
    text = NIGHTLY.read_text(encoding="utf-8")
    before = text[:text.index("      issues: write")].splitlines()[-2:]
    assert any("[dashboard]" in line for line in before), before


def test_nightly_runs_dependency_updates_on_the_github_forge() -> None:
    calls = [args for script in run_scripts(load(NIGHTLY)) for args in invocations(script)]
    assert calls
    for args in calls:
        assert args[:2] == ["run", "dependency-updates"]
        assert check_cli(args).name == "dependency-updates"
        assert args[args.index("--forge") + 1] == "github"
        assert args[args.index("--format") + 1] == "json"
    assert any("--dry-run" in args for args in calls) and any("--dry-run" not in args for args in calls)


# -------------------------------------------------------------------------------------------- release notes


def test_release_notes_trigger_on_tags_and_by_hand_with_a_tag() -> None:
    on = triggers(load(RELEASE))
    assert set(on) == {"push", "workflow_dispatch"}
    push = on["push"]
    assert set(push) == {"tags"}, "tags only, no branch pushes"
    assert "v*" in push["tags"]
    tag_input = on["workflow_dispatch"]["inputs"]["tag"]
    assert tag_input["required"] is True and tag_input["type"] == "string"


def test_release_notes_may_write_contents_only() -> None:
    workflow = load(RELEASE)
    assert [job["permissions"] for job in workflow["jobs"].values()] == [{"contents": "write"}]
    for scope in [workflow.get("permissions")] + [job.get("permissions") for job in workflow["jobs"].values()]:
        assert "pull-requests" not in (scope or {})


def test_release_notes_see_every_tag_and_the_whole_history() -> None:
    for step in uses_steps(load(RELEASE), "actions/checkout"):
        assert step["with"]["fetch-depth"] == 0


def test_release_notes_draft_the_pushed_or_given_tag() -> None:
    workflow = load(RELEASE)
    (step,) = [s for s in steps(workflow) if invocations(s.get("run", ""))]
    assert step["env"]["TAG"] == "${{ inputs.tag || github.ref_name }}"
    assert 'nightcrew run release-notes --tag "$TAG" --forge github --format json' in step["run"]
    (args,) = invocations(step["run"])
    assert check_cli(args).name == "release-notes"


# -------------------------------------------------------------------------------------------------- systemd


def test_service_is_a_hardened_oneshot() -> None:
    service = unit(SERVICE)
    assert service.has_section("Unit") and service.has_section("Service")
    s = service["Service"]
    assert s["Type"] == "oneshot"
    assert s.get("User") and s["User"] != "root"
    assert s["WorkingDirectory"].startswith("/")
    assert s["NoNewPrivileges"] == "yes"
    assert s["ProtectSystem"] == "strict"
    assert s["PrivateTmp"] == "yes"
    assert s["WorkingDirectory"] in s["ReadWritePaths"].split(), "the repository is writable"
    assert s["EnvironmentFile"].lstrip("-").startswith("/etc/")
    assert s.get("TimeoutStartSec"), "a oneshot has no start timeout unless given one"
    for key, value in s.items():
        assert " #" not in value and " ;" not in value, f"{key}: systemd has no end-of-line comments"


def test_service_runs_dependency_updates() -> None:
    exec_start = unit(SERVICE)["Service"]["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0].startswith("/") and Path(argv[0]).name == "nightcrew", "an absolute path"
    (args,) = invocations(exec_start)
    assert args[:2] == ["run", "dependency-updates"]
    assert check_cli(args).name == "dependency-updates"


def test_timer_runs_nightly_and_catches_up_once() -> None:
    timer = unit(TIMER)
    t = timer["Timer"]
    assert re.fullmatch(r"\*-\*-\* \d{2}:\d{2}(:\d{2})?", t["OnCalendar"]), "every day at a fixed time"
    assert t["Persistent"] == "true"
    assert t.get("RandomizedDelaySec")
    assert t.get("Unit", SERVICE.name) == SERVICE.name
    assert timer["Install"]["WantedBy"] == "timers.target"


# -------------------------------------------------------------------------------------------------- crontab


def test_crontab_runs_dependency_updates_nightly() -> None:
    entries = crontab_entries()
    assert len(entries) == 1
    schedule, command = entries[0]
    cron_ok(schedule)
    minute, hour = schedule.split()[:2]
    assert minute.isdigit() and hour.isdigit() and int(minute) != 0, "once a night, off the hour"
    assert "%" not in command.replace("\\%", ""), "cron turns an unescaped % into a newline"
    (args,) = invocations(command)
    assert args[:2] == ["run", "dependency-updates"]
    assert check_cli(args).name == "dependency-updates"
    assert args[args.index("--format") + 1] == "json"
    assert re.search(r"--format json >> \S+ 2>> \S+", command), "JSON appended to a log, errors to another"


def test_crontab_explains_the_exit_codes() -> None:
    text = CRONTAB.read_text(encoding="utf-8")
    for code in ("0", "1", "2"):
        assert re.search(rf"^#\s+{code}\s+\S", text, re.M), f"exit code {code} explained"
    assert "partial failure" in text and "configuration" in text


# ----------------------------------------------------------------------------------------------- cron/README


def test_readme_names_every_file_and_links_only_files_that_exist() -> None:
    text = (CRON / "README.md").read_text(encoding="utf-8")
    for name in ("crontab.example", "nightcrew.timer", "nightcrew-nightly.yml", "nightcrew-release-notes.yml",
                 "nightcrew-fleet.yml", "nightcrew-scheduler.service"):
        assert name in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (CRON / target).resolve().exists(), f"cron/README.md links {target}, which is not there"


def test_readme_describes_the_scheduler_the_kill_switch_and_exit_75() -> None:
    text = (CRON / "README.md").read_text(encoding="utf-8")
    assert "not yet" not in text.lower(), "the scheduler and the fleet exist now"
    assert "persist-credentials: false" in text
    for words in ("nightcrew schedule", "nightcrew run release-watch", "nightcrew plan --format json",
                  "nightcrew pause", "nightcrew resume", ".nightcrew-pause", "NIGHTCREW_PAUSE", "nightcrew audit",
                  "nightcrew report", "SIGTERM", "caught up once"):
        assert words in text, words
    exit_codes = text[text.index("## Exit codes"):text.index("## Credentials")]
    assert re.search(r"^\| 75 \| another run of this job on this repository holds the lock", exit_codes, re.M)


def test_readme_commands_parse_with_the_real_command_line() -> None:
    text = (CRON / "README.md").read_text(encoding="utf-8")
    # "nightcrew @ git+https://..." is a pip requirement, not a command.
    spans = [span for span in re.findall(r"`(nightcrew [^`]+)`", text) if not span.startswith("nightcrew @")]
    assert len(spans) > 10
    placeholders = {"JOB": "report", "TAG": "v1.2.0"}
    for span in spans:
        # A usage line shows a shape: its optional parts are checked too, with the first choice and a value
        # for each upper-case placeholder.
        concrete = span.replace("[", " ").replace("]", " ")
        args = [arg.split("|")[0] for arg in shlex.split(concrete)[1:]]
        args = [placeholders.get(arg, "1") if arg.isupper() else arg for arg in args]
        check_cli(args)


# ---------------------------------------------------------------------------------------------------- fleet


def fleet_jobs() -> tuple[dict[str, Any], dict[str, Any]]:
    jobs = load(FLEET)["jobs"]
    assert set(jobs) == {"plan", "run"}
    return jobs["plan"], jobs["run"]


def test_fleet_runs_on_a_schedule_and_by_hand_with_a_job_choice() -> None:
    on = triggers(load(FLEET))
    assert set(on) == {"schedule", "workflow_dispatch"}
    for entry in on["schedule"]:
        minute = entry["cron"].split()[0]
        cron_ok(entry["cron"])
        assert minute.isdigit() and int(minute) not in (0, 30), "off the hour"
    choice = on["workflow_dispatch"]["inputs"]["job"]
    assert choice["type"] == "choice" and set(choice["options"]) == {"", *JOBS}


def test_fleet_plan_job_may_only_read_and_publishes_the_matrix() -> None:
    plan, _ = fleet_jobs()
    assert plan["permissions"] == {"contents": "read"}
    assert plan["outputs"] == {"matrix": "${{ steps.plan.outputs.matrix }}"}
    (step,) = [s for s in plan["steps"] if s.get("id") == "plan"]
    calls = [expand(args) for args in invocations(step["run"])]
    assert calls and all(args[:3] == ["plan", "--format", "json"] for args in calls)
    assert any("--job" in args for args in calls) and any("--job" not in args for args in calls)
    assert step["env"]["CHUNK"] == "1" and step["env"]["CHUNKS"] == "1"
    # The plan lands in a file first, so a failing `nightcrew plan` fails the step (set -e), then one line.
    assert re.search(r'^echo "matrix=\$\(cat "\$RUNNER_TEMP/plan.json"\)" >> "\$GITHUB_OUTPUT"$', step["run"], re.M)


def test_fleet_run_job_fans_out_the_plan_matrix() -> None:
    _, run = fleet_jobs()
    assert run["needs"] == "plan"
    strategy = run["strategy"]
    assert strategy["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert strategy["fail-fast"] is False
    assert isinstance(strategy["max-parallel"], int) and 1 <= strategy["max-parallel"] <= 32
    assert run["concurrency"] == {"group": "${{ matrix.concurrency_key }}", "cancel-in-progress": False}
    assert "needs.plan.outputs.matrix" in run["if"], "an empty plan runs nothing instead of failing"


def test_fleet_permissions_are_never_blanket() -> None:
    workflow = load(FLEET)
    assert workflow["permissions"] == {}
    plan, run = fleet_jobs()
    assert set(run["permissions"].items()) <= {("contents", "write"), ("pull-requests", "write"),
                                               ("issues", "write")}
    assert "write-all" not in FLEET.read_text(encoding="utf-8") and "read-all" not in FLEET.read_text(encoding="utf-8")


def test_fleet_other_repositories_get_an_app_token_scoped_to_one_repository() -> None:
    _, run = fleet_jobs()
    (app,) = uses_steps({"jobs": {"run": run}}, "actions/create-github-app-token")
    assert SHA.match(app["uses"].split("@")[1])
    # create-github-app-token: with `owner` set, `repositories` takes names without the owner
    assert app["with"]["owner"] == "${{ steps.target.outputs.owner }}"
    assert app["with"]["repositories"] == "${{ steps.target.outputs.name }}"
    assert app["with"]["private-key"] == "${{ secrets.NIGHTCREW_APP_PRIVATE_KEY }}"
    assert "matrix.repository != github.repository" in app["if"]
    assert "skip-token-revoke" not in app["with"], "the token is revoked when the job ends"
    (checkout,) = uses_steps({"jobs": {"run": run}}, "actions/checkout")
    assert checkout["with"]["repository"] == "${{ matrix.repository }}"
    assert checkout["with"]["token"] == "${{ steps.app-token.outputs.token || github.token }}"
    assert checkout["with"]["persist-credentials"] is False


def test_fleet_token_goes_only_to_the_nightcrew_step_as_the_target_repository() -> None:
    _, run = fleet_jobs()
    holders = [s for s in run["steps"] if "GITHUB_TOKEN" in (s.get("env") or {})]
    assert len(holders) == 1
    (step,) = holders
    assert step["env"]["GITHUB_TOKEN"] == "${{ steps.app-token.outputs.token || secrets.GITHUB_TOKEN }}"
    assert step["env"]["TARGET_REPOSITORY"] == "${{ matrix.repository }}"
    assert step["env"]["NIGHTCREW_PAUSE"] == "${{ vars.NIGHTCREW_PAUSE }}", "the fleet-wide kill switch"
    script = step["run"]
    # Actions sets GITHUB_REPOSITORY to the fleet's repository; nightcrew must work on the entry's.
    first_call = min(script.index(f"nightcrew {word}") for word in ("run", "report"))
    assert script.index('export GITHUB_REPOSITORY="$TARGET_REPOSITORY"') < first_call


def test_fleet_runs_the_right_command_for_every_job_of_the_plan() -> None:
    _, run = fleet_jobs()
    (step,) = [s for s in run["steps"] if invocations(s.get("run", ""))]
    script = step["run"]
    labels = re.findall(r"^\s*([a-z-]+)\)\s*$", script, re.M)
    assert set(labels) == set(JOBS)
    expected = {"dependency-updates": ["run", "dependency-updates"], "release-watch": ["run", "release-watch"],
                "report": ["report"]}
    blocks = re.split(r"^\s*([a-z-]+|\*)\)\s*$", script, flags=re.M)
    for label, body in zip(blocks[1::2], blocks[2::2]):
        if label == "*":
            assert re.search(r"exit 2", body), "a job the workflow does not know is an error"
            continue
        (args,) = [expand(a) for a in invocations(body)]
        assert args[:len(expected[label])] == expected[label]
        assert args[args.index("--format") + 1] == "json"
        # every entry names the repository the same way, as GITHUB_REPOSITORY (which the step exports): the
        # report then reads what the update entry recorded
        assert args[args.index("--forge") + 1] == "github", label
        assert check_cli(args).name == expected[label][-1]
        (line,) = [line for line in body.splitlines() if invocations(line)]
        assert re.search(r'> "\$RUNNER_TEMP/nightcrew/summary.json"$', line.strip()), "the summary that is uploaded"


def test_fleet_uploads_the_summary_and_the_audit_log_whatever_the_outcome() -> None:
    _, run = fleet_jobs()
    (upload,) = uses_steps({"jobs": {"run": run}}, "actions/upload-artifact")
    assert "always()" in upload["if"]
    paths = upload["with"]["path"].splitlines()
    assert "${{ runner.temp }}/nightcrew/summary.json" in paths and ".nightcrew/audit.jsonl" in paths
    assert upload["with"]["include-hidden-files"] is True
    assert "matrix." in upload["with"]["name"], "one artifact per entry"


def test_fleet_keeps_the_state_store_between_runs_per_repository_and_job() -> None:
    _, run = fleet_jobs()
    (restore,) = uses_steps({"jobs": {"run": run}}, "actions/cache/restore")
    (save,) = uses_steps({"jobs": {"run": run}}, "actions/cache/save")
    assert restore["with"]["path"] == save["with"]["path"] == ".nightcrew/state.sqlite*"
    assert restore["with"]["key"] == save["with"]["key"]
    assert restore["with"]["restore-keys"] == "${{ steps.state.outputs.prefix }}"
    assert "always()" in save["if"] and "report" in save["if"], "saved even after a failure; the report only reads"
    names = [s.get("name") for s in run["steps"]]
    runner = next(i for i, s in enumerate(run["steps"]) if invocations(s.get("run", "")))
    assert names.index(restore["name"]) < runner < names.index(save["name"])


def test_fleet_chunk_copies_have_their_own_concurrency_group() -> None:
    # Copies of the workflow (one per chunk) in one group would queue behind, and cancel, each other.
    group = load(FLEET)["concurrency"]["group"]
    assert "${{ github.workflow }}" in group and "${{ github.repository }}" in group


def test_fleet_names_owner_and_repository_name_apart_for_the_app_token(tmp_path: Path) -> None:
    import subprocess

    _, run = fleet_jobs()
    (step,) = [s for s in run["steps"] if s.get("id") == "target"]
    output = tmp_path / "output"
    subprocess.run(["bash", "-e", "-c", step["run"]], check=True, timeout=30,
                   env={"TARGET_REPOSITORY": "acme/widgets.py", "GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"})
    assert dict(line.split("=", 1) for line in output.read_text().splitlines()) == {
        "owner": "acme", "name": "widgets.py", "slug": "acme-widgets.py"}


def test_fleet_asks_for_issues_write_only_for_dependency_updates_with_the_dashboard_variable() -> None:
    _, run = fleet_jobs()
    (app,) = uses_steps({"jobs": {"run": run}}, "actions/create-github-app-token")
    issues = app["with"]["permission-issues"]
    # A permission the installation lacks fails the token: only when NIGHTCREW_DASHBOARD says the App has it,
    # and an empty value otherwise, which the action leaves out.
    assert issues == ("${{ matrix.job == 'dependency-updates' && vars.NIGHTCREW_DASHBOARD == 'true' "
                      "&& 'write' || '' }}")
    assert "NIGHTCREW_DASHBOARD" in FLEET.read_text(encoding="utf-8").split("\nname:")[0], "explained up top"


def test_fleet_says_what_its_state_cache_does_not_hold() -> None:
    text = FLEET.read_text(encoding="utf-8")
    assert "[state] path" in text, "a repository with another [state] path needs that path in the cache steps"
    assert "no release-note" in text, "the report entry reads the dependency-update chain only"

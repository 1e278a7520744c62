"""`nightcrew init`: survey a repository, write its `nightcrew.toml` and CI workflow, and (with ``--pr``) propose
them as an onboarding pull request, as Renovate's onboarding PR does.

The config holds only what differs from nightcrew's defaults, each key with the comment the default file gives
it; an existing Dependabot or Renovate configuration is carried over (``jobs.adoption.carryover``). The
workflow is ``cron/github/nightcrew-nightly.yml`` adapted by text substitution (the rest stays byte for byte):
the Python the project supports (``requires-python``), the default branch, the lock tools the project needs.
The onboarding PR goes through the forge like every bump PR: a branch of its own, never the base branch; a
second run updates it; a PR people closed stays closed; a branch people pushed to is not overwritten.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from jobs.adoption.carryover import CarriedOver, carry_over
from jobs.config import Config, load
from jobs.errors import ConfigError, NightcrewError
from jobs.resources import data_dir, default_config_path

CONFIG_FILE = "nightcrew.toml"
WORKFLOW_FILE = ".github/workflows/nightcrew.yml"
# Pythons a workflow may pick (nightcrew itself needs 3.11+), oldest first
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
LOCK_TOOLS = {"uv": "uv", "poetry": "poetry", "pip-tools": "pip-tools"}
TITLE = "Configure nightcrew"
MARKER = '<!-- nightcrew:{"onboarding": true} -->'


@dataclass(frozen=True)
class Survey:
    """What nightcrew finds in a repository before it is configured."""

    files: dict[str, tuple[str, ...]]  # ecosystem -> manifest files
    dependencies: dict[str, int]  # ecosystem -> dependencies it can check
    not_checked: int
    lockfiles: tuple[str, ...]  # "uv.lock (uv)"
    lock_tools: tuple[str, ...]
    requires_python: str | None
    python: str
    python_note: str | None
    default_branch: str
    github: str | None  # owner/repo when the origin remote is on GitHub
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Proposal:
    """The files `init` writes, and what they are made of."""

    survey: Survey
    carried: CarriedOver | None
    config_text: str
    workflow_text: str
    files: dict[str, str] = field(default_factory=dict)
    kept: tuple[str, ...] = ()  # files already on the base branch that the PR leaves as they are


# -- survey ------------------------------------------------------------------------------------------------------


def workflow_python(requires_python: str | None) -> tuple[str, str | None]:
    """The Python the workflow installs: the oldest nightcrew runs on (3.11+) that ``requires-python`` admits, so
    the tests run where the project's floor is; (version, note) with a note when nothing fits."""
    if not requires_python:
        return "3.12", None
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return "3.12", f"requires-python {requires_python!r} is not a PEP 440 specifier: Python 3.12 assumed"
    for candidate in PYTHONS:
        if spec.contains(Version(candidate), prereleases=True):
            return candidate, None
    return "3.12", f"requires-python {requires_python!r} admits no Python nightcrew runs on (3.11+): 3.12 assumed"


def survey(repo: Path, config: Config, *, git_repo: Path | None = None) -> Survey:
    """What ``repo`` holds; ``git_repo`` is where its git metadata lives when ``repo`` is an exported tree."""
    from jobs.scan import apply_locks, read_manifests
    from jobs.vcs import Git

    parsed = read_manifests(repo, config)
    parsed, projects = apply_locks(repo, parsed, config)
    files: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    not_checked = 0
    for dep in parsed.dependencies:
        if dep.file not in files.setdefault(dep.ecosystem, []):
            files[dep.ecosystem].append(dep.file)
        if dep.skipped_reason is None and dep.direct:
            counts[dep.ecosystem] = counts.get(dep.ecosystem, 0) + 1
        elif dep.skipped_reason is not None:
            not_checked += 1
    python, note = workflow_python(parsed.requires_python)
    git = Git(git_repo or repo)
    branch = _default_branch(git)
    url = git.remote_url("origin") if git.is_repository() else None
    from jobs.dependency_updates import _repository_from_remote

    github = _repository_from_remote(url) if url and "github.com" in url else None
    return Survey(
        files={k: tuple(v) for k, v in files.items()}, dependencies=counts, not_checked=not_checked,
        lockfiles=tuple(f"{p.lockfile} ({p.kind})" for p in projects),
        lock_tools=tuple(dict.fromkeys(LOCK_TOOLS[p.kind] for p in projects)),
        requires_python=parsed.requires_python, python=python, python_note=note, default_branch=branch,
        github=github or None, problems=tuple(str(p) for p in parsed.problems),
    )


def _default_branch(git) -> str:  # type: ignore[no-untyped-def]
    """The remote's default branch (``origin/HEAD``), else the current branch, else ``main``."""
    try:
        head = git.run("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", check=False)
        return head.removeprefix("origin/") if head else (git.current_branch() or "main")
    except NightcrewError:
        return "main"


# -- the config ----------------------------------------------------------------------------------------------------


def default_comments(text: str) -> dict[tuple[str, str], list[str]]:
    """(table, key) -> the comment lines right above ``key`` in the default config's ``text``."""
    comments: dict[tuple[str, str], list[str]] = {}
    table, pending = "", []
    for line in text.splitlines():
        stripped = line.strip()
        header = re.match(r"^\[+([^\]]+)\]+", stripped)
        if header:
            table, pending = header[1].strip(), []
        elif stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
        elif "=" in stripped and not stripped.startswith(("[", '"')) and re.match(r"^[A-Za-z0-9_-]+\s*=", stripped):
            key = stripped.split("=", 1)[0].strip()
            # the comment ends at its first example or blank line: what the key means, not every example
            meaning = []
            for comment in pending:
                if "Example" in comment:  # the meaning ends where its examples start
                    head = comment.split("Example", 1)[0].rstrip(" (")
                    meaning += [head] if head else []
                    break
                if not comment or comment.startswith(("[[", "[")):
                    break
                meaning.append(comment)
            comments[(table, key)] = meaning
            pending = []
        elif not stripped:
            pending = []
    return comments


def _differs(settings: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``settings`` less what the defaults already say."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        default = defaults.get(key) if isinstance(defaults, dict) else None
        if isinstance(value, dict) and isinstance(default, dict):
            inner = _differs(value, default)
            if inner:
                out[key] = inner
        elif value != default:
            out[key] = value
    return out


def render_config(settings: dict[str, Any], survey: Survey, carried: CarriedOver | None) -> str:
    """The repository's ``nightcrew.toml``: a header saying where each part comes from, then only the settings that
    differ from the defaults, each with the default file's comment for its key."""
    import tomllib

    default_text = default_config_path().read_text(encoding="utf-8")
    defaults = tomllib.loads(default_text)
    comments = default_comments(default_text)
    wanted = _differs(settings, defaults)
    doc = tomlkit.document()
    doc.add(tomlkit.comment("nightcrew's configuration for this repository, written by `nightcrew init`."))
    doc.add(tomlkit.comment("Only what differs from nightcrew's defaults is here; every other key keeps its"))
    doc.add(tomlkit.comment("default (config/nightcrew.toml in nightcrew documents each one)."))
    if carried is not None:
        doc.add(tomlkit.comment(""))
        doc.add(tomlkit.comment(f"Carried over from {carried.source}:"))
        for line in carried.translated or ("nothing that maps onto nightcrew's settings",):
            doc.add(tomlkit.comment(f"  - {line}"))
        if carried.untranslated:
            doc.add(tomlkit.comment("Not carried over (nightcrew has no such setting, or works another way):"))
            for line in carried.untranslated:
                doc.add(tomlkit.comment(f"  - {line}"))
    if not wanted:
        doc.add(tomlkit.comment(""))
        doc.add(tomlkit.comment("Nothing differs from the defaults yet. For example, to group every patch update:"))
        doc.add(tomlkit.comment("  [[updates.groups]]"))
        doc.add(tomlkit.comment('  name = "patches"'))
        doc.add(tomlkit.comment('  kinds = ["patch"]'))
    for table_name, values in wanted.items():
        doc.add(tomlkit.nl())
        doc.add(table_name, _table(table_name, values, comments))
    return tomlkit.dumps(doc)


def _table(path: str, values: dict[str, Any], comments: dict[tuple[str, str], list[str]]):  # type: ignore[no-untyped-def]
    table = tomlkit.table()
    nested = []
    for key, value in values.items():
        if isinstance(value, dict):
            nested.append((key, value))
            continue
        for line in comments.get((path, key), []):
            table.add(tomlkit.comment(line))
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            array = tomlkit.aot()
            for item in value:
                entry = tomlkit.table()
                for k, v in item.items():
                    entry.add(k, v)
                array.append(entry)
            table.add(key, array)
        else:
            table.add(key, value)
    for key, value in nested:
        table.add(key, _table(f"{path}.{key}", value, comments))
    return table


# -- the workflow ----------------------------------------------------------------------------------------------


def render_workflow(survey: Survey) -> str:
    """``cron/github/nightcrew-nightly.yml`` adapted to the repository; every other byte as shipped."""
    template = (data_dir("cron") / "github" / "nightcrew-nightly.yml").read_text(encoding="utf-8")
    text = template
    facts = [f"default branch {survey.default_branch}", f"Python {survey.python}"
             + (f" (the oldest nightcrew runs on that requires-python {survey.requires_python} admits)"
                if survey.requires_python else "")]
    if survey.lock_tools:
        facts.append(f"lock tools {', '.join(survey.lock_tools)} ({', '.join(survey.lockfiles)})")
    header = ("# Written by `nightcrew init` for this repository: " + "; ".join(facts) + ".\n"
              "# To change it, edit this file; `nightcrew init` never overwrites it without --force.\n#\n")
    text = header + text
    text = _replace_once(text, '          python-version: "3.12"', f'          python-version: "{survey.python}"')
    text = _replace_once(text, "          fetch-depth: 0\n",
                         f"          fetch-depth: 0\n          # The base branch nightcrew proposes bumps against.\n"
                         f"          ref: {_yaml_scalar(survey.default_branch)}\n")
    if survey.lock_tools:
        tools = " ".join(f'"{t}"' for t in survey.lock_tools)
        text = _replace_once(
            text, 'run: python -m pip install --disable-pip-version-check "$NIGHTCREW_SPEC"',
            f'run: python -m pip install --disable-pip-version-check "$NIGHTCREW_SPEC" {tools}')
        text = _replace_once(text, "      - name: Install nightcrew\n",
                             "      - name: Install nightcrew\n        # and the lock tools this project's lockfiles "
                             f"need ({', '.join(survey.lockfiles)}): nightcrew relocks with them\n")
    return text


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise NightcrewError(f"the workflow template changed: {old.strip()!r} is not there once", "cron/github")
    return text.replace(old, new)


def _yaml_scalar(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9._/-]+", value) else '"' + value.replace('"', '\\"') + '"'


# -- putting it together ---------------------------------------------------------------------------------------


def propose(repo: Path, config: Config, *, git_repo: Path | None = None, base: str | None = None) -> Proposal:
    """The survey, the carried-over settings, and the two files' text (the config checked by nightcrew's loader).
    ``base``: the branch the PR goes to (else the remote's default branch)."""
    from dataclasses import replace

    found = survey(repo, config, git_repo=git_repo)
    if base:
        found = replace(found, default_branch=base)
    carried = carry_over(repo)
    settings: dict[str, Any] = {}
    if found.github:
        settings["forge"] = {"kind": "github"}
    if carried is not None:
        for table, values in carried.settings.items():
            settings.setdefault(table, {}).update(values)
    config_text = render_config(settings, found, carried)
    check_config(config_text)
    workflow_text = render_workflow(found)
    return Proposal(found, carried, config_text, workflow_text, {CONFIG_FILE: config_text, WORKFLOW_FILE: workflow_text})


def check_config(text: str) -> Config:
    """The config as nightcrew's own loader reads it (a ``ConfigError`` naming the key if it would not)."""
    with tempfile.TemporaryDirectory(prefix="nightcrew-init-") as folder:
        path = Path(folder) / CONFIG_FILE
        path.write_text(text, encoding="utf-8")
        return load(path)


def write_files(repo: Path, proposal: Proposal, *, force: bool = False) -> list[str]:
    """Write the files into the working tree; an existing one is left alone unless ``force`` (ConfigError)."""
    existing = [name for name in proposal.files if (repo / name).exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(existing)} already there: not overwritten (--force to replace, --pr to "
                          "propose the files as a pull request)", str(repo))
    for name, text in proposal.files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.nightcrew-tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return list(proposal.files)


def pr_body(proposal: Proposal, preview: list[str] | None, preview_problem: str | None) -> str:
    s = proposal.survey
    lines = [MARKER, "Welcome to **nightcrew**: nightly dependency updates and release-note drafts. This pull request "
             "configures it; nothing runs against this repository until it is merged.", "", "### What nightcrew found", ""]
    if s.files:
        lines += ["| ecosystem | files | dependencies checked |", "| --- | --- | --- |"]
        for ecosystem, files in sorted(s.files.items()):
            shown = ", ".join(f"`{f}`" for f in files[:8]) + (f" and {len(files) - 8} more" if len(files) > 8 else "")
            lines.append(f"| {ecosystem} | {shown} | {s.dependencies.get(ecosystem, 0)} |")
    else:
        lines.append("No manifests: nightcrew would have nothing to update yet.")
    if s.lockfiles:
        lines += ["", f"Lockfiles: {', '.join(f'`{f}`' for f in s.lockfiles)}; the workflow installs "
                  f"{', '.join(s.lock_tools)} to keep them in step."]
    if s.not_checked:
        lines += ["", f"{s.not_checked} requirements cannot be checked (URLs, local paths, branch refs): "
                  "`nightcrew scan` lists them with the reason."]
    lines += ["", "### What the first run would propose", ""]
    if preview_problem:
        lines.append(f"Not worked out: {preview_problem}")
    elif preview:
        lines += [f"- {p}" for p in preview]
    else:
        lines.append("Nothing: every dependency is up to date with these settings.")
    lines += ["", "### Files", "", f"- `{CONFIG_FILE}`: only the settings that differ from the defaults, each "
              "explained."]
    if WORKFLOW_FILE in proposal.kept:
        lines.append(f"- `{WORKFLOW_FILE}` is already there: left as it is (`nightcrew init --pr --force` proposes "
                     "nightcrew's own).")
    else:
        lines.append(f"- `{WORKFLOW_FILE}`: the nightly run on GitHub Actions, on Python {s.python} (from "
                     f"`requires-python`) against `{s.default_branch}`. Pushing it needs a token with the "
                     "`workflows` permission (not the Actions GITHUB_TOKEN).")
    if s.python_note:
        lines.append(f"- Note: {s.python_note}.")
    carried = proposal.carried
    if carried is not None:
        lines += ["", f"### Carried over from `{carried.source}`", ""]
        lines += [f"- {line}" for line in carried.translated] or ["- nothing that maps onto nightcrew's settings"]
        if carried.untranslated:
            lines += ["", "Not carried over:", ""] + [f"- {line}" for line in carried.untranslated]
        lines += ["", f"`{carried.source}` is left as it is. To switch, delete it in this pull request (or "
                  "right after merging it), so the two bots do not propose the same updates."]
    lines += ["", "### How to change it", "", f"Edit `{CONFIG_FILE}` on this branch before merging: nightcrew never "
              "overwrites commits people push to it. Close this pull request to say no: it is not opened again."]
    return "\n".join(lines) + "\n"

"""Carrying Dependabot and Renovate configuration over to nightcrew settings, checked through nightcrew's loader."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import tomlkit

from jobs import config
from jobs.adoption.carryover import CarriedOver, carry_over, find_config

DEFAULTS = config.load()
_MINUTE, _HOUR = DEFAULTS.schedule.dependency_updates.split()[:2]  # the time used when the old file names none
ALL = ["patch", "minor", "major"]


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def carried(root: Path) -> CarriedOver:
    """carry_over, with what every result must satisfy: single lines, and settings nightcrew's loader accepts."""
    result = carry_over(root)
    assert result is not None
    for line in result.translated + result.untranslated:
        assert line and "\n" not in line and line == " ".join(line.split())
    loaded(result, root.parent / f"{root.name}-out")
    return result


def loaded(result: CarriedOver, folder: Path) -> config.Config:
    """The settings written as a nightcrew.toml (tomlkit) and loaded over the defaults by nightcrew itself."""
    folder.mkdir(exist_ok=True)
    path = folder / config.CONFIG_FILE_NAME
    path.write_text(tomlkit.dumps(result.settings), encoding="utf-8")
    return config.load(path)


def has(lines: tuple[str, ...], *parts: str) -> bool:
    return any(all(part in line for part in parts) for line in lines)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    return root


# --------------------------------------------------------------------------- finding the file


def test_no_bot_configuration_gives_none(repo: Path) -> None:
    write(repo, "pyproject.toml", "[project]\nname = 'x'\n")
    assert find_config(repo) is None
    assert carry_over(repo) is None


def test_dependabot_first_then_renovate_in_its_documented_order(repo: Path) -> None:
    write(repo, ".renovaterc.json", "{}")
    assert find_config(repo) == repo / ".renovaterc.json"
    write(repo, ".github/renovate.json5", "{}")
    assert find_config(repo) == repo / ".github/renovate.json5"
    write(repo, "renovate.json", "{}")
    assert find_config(repo) == repo / "renovate.json"
    write(repo, ".github/dependabot.yaml", "version: 2\nupdates: []\n")
    assert find_config(repo) == repo / ".github/dependabot.yaml"
    write(repo, ".github/dependabot.yml", "version: 2\nupdates: []\n")
    assert find_config(repo) == repo / ".github/dependabot.yml"
    assert carry_over(repo).source == ".github/dependabot.yml"


# --------------------------------------------------------------------------- Dependabot


DEPENDABOT = """
    version: 2
    registries:
      python-azure:
        type: python-index
        url: https://pkgs.dev.azure.com/octocat/_packaging/my-feed/pypi/simple/
        token: ${{secrets.AZURE_TOKEN}}
    updates:
      # Keep Python packages up to date: the manifests live in the root and in /docs
      - package-ecosystem: "pip"
        directories:
          - "/"
          - "/docs"
        schedule:
          interval: "weekly"
          day: "tuesday"
          time: "09:00"
          timezone: "Europe/Berlin"
        open-pull-requests-limit: 3
        labels:
          - "dependencies"
          - "python"
        reviewers:
          - "octocat"
          - "my-org/python-team"
        assignees:
          - "octocat"
        versioning-strategy: increase
        commit-message:
          prefix: "pip"
          include: "scope"
        registries:
          - python-azure
        ignore:
          - dependency-name: "django"
            # Ignore Django 5 and the 4.x line
            versions: [">=5", "4.x"]
          - dependency-name: "sphinx"
            versions: ["[1.1,)"]
          - dependency-name: "boto*"
            update-types: ["version-update:semver-patch"]
          - dependency-name: "legacy-lib"
          - dependency-name: "left-pad"
            versions: ["^1.0.0"]
        groups:
          "dev dependencies":
            patterns:
              - "pytest*"
              - "ruff"
            exclude-patterns:
              - "pytest-xdist"
            update-types:
              - "minor"
              - "patch"
          production-dependencies:
            dependency-type: "production"
        cooldown:
          default-days: 5
          semver-major-days: 30
          semver-minor-days: 7
          semver-patch-days: 3
          include:
            - "requests"
            - "numpy*"
          exclude:
            - "certifi"
      - package-ecosystem: "github-actions"
        directory: "/"
        schedule:
          interval: "weekly"
          day: "tuesday"
          time: "09:00"
          timezone: "Europe/Berlin"
        groups:
          actions:
            patterns: ["*"]
      - package-ecosystem: "npm"
        directory: "/web"
        schedule:
          interval: "daily"
      - package-ecosystem: "docker"
        directory: "/"
        schedule:
          interval: "weekly"
"""


def test_dependabot_options_carry_over(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", DEPENDABOT)
    result = carried(repo)
    assert result.source == ".github/dependabot.yml"
    assert result.settings == {
        "updates": {
            "ecosystems": ["python", "actions"],
            "kinds": ALL,
            "max_open_prs": 8,
            "labels": ["dependencies", "python"],
            "reviewers": ["octocat"],
            "range_strategy": "bump",
            "cooldown": {"default_days": 5, "major_days": 30, "minor_days": 7, "patch_days": 3,
                         "include": ["requests", "numpy*"], "exclude": ["certifi"]},
            "ignore": [
                {"package": "django", "versions": ">=5"},
                {"package": "django", "versions": "==4.*"},
                {"package": "sphinx", "versions": ">=1.1"},
                {"package": "boto*", "kinds": ["patch"]},
                {"package": "legacy-lib"},
            ],
            "groups": [
                {"name": "dev-dependencies", "patterns": ["pytest*", "ruff"], "kinds": ["patch", "minor"],
                 "ecosystem": "python"},
                {"name": "production-dependencies", "patterns": ["*"], "kinds": ALL, "ecosystem": "python"},
                {"name": "actions", "patterns": ["*"], "kinds": ALL, "ecosystem": "actions"},
            ],
        },
        "schedule": {"dependency_updates": "0 9 * * tue", "timezone": "Europe/Berlin"},
    }
    assert has(result.translated, "package-ecosystem pip, github-actions", '["python", "actions"]')
    assert has(result.translated, "kinds", '["patch", "minor", "major"]')
    assert has(result.translated, "directories /, /docs", "found by discovery")
    assert has(result.translated, "weekly on tuesday at 09:00", '"0 9 * * tue"', "Europe/Berlin")
    assert has(result.translated, "3 (pip) + 5 (github-actions, Dependabot's default)", "max_open_prs = 8")
    assert has(result.translated, "ignore django >=5 -> [[updates.ignore]]")
    assert has(result.translated, "group dev dependencies", '"dev-dependencies"', "renamed")
    untranslated = result.untranslated
    assert has(untranslated, "registries: private registries are configured in [index] and the environment")
    assert has(untranslated, "npm: nightcrew does not update npm packages")
    assert has(untranslated, "docker: nightcrew does not update docker packages")
    assert has(untranslated, "my-org/python-team", "not teams")
    assert has(untranslated, "pip: assignees", "no assignee setting")
    assert has(untranslated, "pip: commit-message")
    assert has(untranslated, "pip: registries", "[index]")
    assert has(untranslated, "ignore left-pad versions '^1.0.0'", "PEP 440")
    assert has(untranslated, "group dev dependencies: exclude-patterns", "no exclude list")
    assert has(untranslated, "group production-dependencies: dependency-type", "production")
    # what is carried over is never also listed as left behind
    assert not has(untranslated, "labels") and not has(untranslated, "cooldown")


def test_dependabot_minimal_docs_example_for_several_managers(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        # Basic `dependabot.yml` file with
        # minimum configuration for two package managers
        version: 2
        updates:
          # Enable version updates for npm
          - package-ecosystem: "npm"
            directory: "/"
            schedule:
              interval: "daily"
          - package-ecosystem: "pip"
            directory: "/"
            schedule:
              interval: "daily"
          - package-ecosystem: "pre-commit"
            directory: "/"
            schedule:
              interval: "daily"
            groups:
              hooks:
                patterns: ["*"]
    """)
    result = carried(repo)
    assert result.settings == {
        "updates": {"ecosystems": ["python", "pre-commit"], "kinds": ALL,
                    "groups": [{"name": "hooks", "patterns": ["*"], "kinds": ALL, "ecosystem": "pre-commit"}]},
        "schedule": {"dependency_updates": f"{_MINUTE} {_HOUR} * * mon-fri"},
    }
    assert has(result.translated, "daily", "no time: Dependabot picks one at random")
    assert result.untranslated == ("npm: nightcrew does not update npm packages",)


@pytest.mark.parametrize(("schedule", "cron"), [
    (['interval: "daily"', 'time: "09:00"'], "0 9 * * mon-fri"),  # Dependabot's daily is Monday to Friday
    (["interval: daily", "time: 09:30"], "30 9 * * mon-fri"),      # unquoted: YAML 1.1 reads 570 (base 60)
    (['interval: "weekly"', 'time: "05:00"'], "0 5 * * mon"),       # weekly: Monday unless day says otherwise
    (['interval: "weekly"', 'day: "sunday"', 'time: "23:45"'], "45 23 * * sun"),
    (['interval: "monthly"', 'time: "06:15"'], "15 6 1 * *"),
    (['interval: "quarterly"', 'time: "06:00"'], "0 6 1 1,4,7,10 *"),
    (['interval: "semiannually"', 'time: "06:00"'], "0 6 1 1,7 *"),
    (['interval: "yearly"', 'time: "06:00"'], "0 6 1 1 *"),
    (['interval: "cron"', 'cronjob: "0 9 * * 1-5"'], "0 9 * * mon-fri"),
    (['interval: "cron"', 'cronjob: "10 22 5,20 * 0"'], "10 22 5,20 * sun"),
])
def test_dependabot_schedule_becomes_one_cron(repo: Path, schedule: list[str], cron: str) -> None:
    body = "".join(f"      {line}\n" for line in schedule)
    write(repo, ".github/dependabot.yml",
          f"version: 2\nupdates:\n  - package-ecosystem: pip\n    directory: /\n    schedule:\n{body}")
    result = carried(repo)
    assert result.settings["schedule"] == {"dependency_updates": cron}
    assert result.untranslated == ()


def test_dependabot_schedule_nightcrew_cannot_read(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: pip
            directory: /
            schedule:
              interval: cron
              cronjob: "every day at 5pm"
              timezone: "Mars/Olympus_Mons"
    """)
    result = carried(repo)
    assert "schedule" not in result.settings
    assert result.untranslated == ("pip: schedule: unknown time zone 'Mars/Olympus_Mons'",)


def test_dependabot_schedules_that_disagree_keep_the_most_frequent(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: github-actions
            directory: /
            schedule: {interval: monthly, time: "04:00"}
          - package-ecosystem: pip
            directory: /
            schedule: {interval: weekly, time: "04:00"}
          - package-ecosystem: pre-commit
            directory: /
            schedule: {interval: weekly, time: "04:00"}
    """)
    result = carried(repo)
    assert result.settings["schedule"] == {"dependency_updates": "0 4 * * mon"}
    assert result.untranslated == (("github-actions: schedule monthly at 04:00 differs from the weekly on monday "
                                    "at 04:00 carried over: nightcrew has one schedule per repository"),)


def test_dependabot_limit_zero_means_security_updates_only(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: pip
            directory: /
            schedule: {interval: daily, time: "01:00"}
            open-pull-requests-limit: 0
    """)
    result = carried(repo)
    assert result.settings["updates"]["max_open_prs"] == 0
    assert has(result.translated, "max_open_prs = 0", "security updates")
    assert loaded(result, repo.parent / "check").updates.max_open_prs == 0


def test_dependabot_limit_zero_for_one_ecosystem(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: pip
            directory: /
            schedule: {interval: daily, time: "01:00"}
            open-pull-requests-limit: 10
          - package-ecosystem: github-actions
            directory: /
            schedule: {interval: daily, time: "01:00"}
            open-pull-requests-limit: 0
    """)
    result = carried(repo)
    updates = result.settings["updates"]
    assert updates["max_open_prs"] == 10
    assert updates["packages"] == [{"ecosystem": "actions", "kinds": []}]
    assert has(result.translated, "github-actions: open-pull-requests-limit 0", "security updates only")


@pytest.mark.parametrize(("strategy", "expected"), [
    ("auto", "auto"), ("increase", "bump"), ("increase-if-necessary", "auto"), ("widen", "widen")])
def test_dependabot_versioning_strategy(repo: Path, strategy: str, expected: str) -> None:
    write(repo, ".github/dependabot.yml", f"""
        version: 2
        updates:
          - package-ecosystem: uv
            directory: /
            schedule: {{interval: weekly, time: "02:00"}}
            versioning-strategy: {strategy}
    """)
    assert carried(repo).settings["updates"]["range_strategy"] == expected


def test_dependabot_lockfile_only_is_not_carried(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: pip
            directory: /
            schedule: {interval: weekly, time: "02:00"}
            versioning-strategy: lockfile-only
            rebase-strategy: disabled
            target-branch: develop
            pull-request-branch-name:
              separator: "-"
            milestone: 4
    """)
    result = carried(repo)
    assert "range_strategy" not in result.settings["updates"]
    assert result.settings["forge"] == {"base": "develop"}
    assert has(result.untranslated, "versioning-strategy \"lockfile-only\"", "no lockfile-only mode")
    assert has(result.untranslated, "rebase-strategy")
    assert has(result.untranslated, "pull-request-branch-name", "separator is fixed")
    assert has(result.untranslated, "milestone")


def test_dependabot_allow_maps_where_it_can(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: pip
            directory: /
            schedule: {interval: weekly, time: "02:00"}
            allow:
              - dependency-name: "django*"
              - dependency-name: "requests"
              - dependency-type: "all"
              - dependency-type: "production"
    """)
    result = carried(repo)
    updates = result.settings["updates"]
    assert updates["transitive"] is True
    assert updates["packages"] == [{"patterns": ["django*", "requests"], "ecosystem": "python"},
                                   {"patterns": ["*"], "ecosystem": "python", "kinds": []}]
    assert has(result.untranslated, 'allow dependency-type "production"')


def test_dependabot_group_names_stay_apart_per_ecosystem(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: pip
            directory: /
            schedule: {interval: weekly, time: "02:00"}
            groups:
              all:
                patterns: ["*"]
                update-types: ["minor", "patch"]
              security:
                applies-to: security-updates
                patterns: ["*"]
          - package-ecosystem: github-actions
            directory: /
            schedule: {interval: weekly, time: "02:00"}
            groups:
              all:
                patterns: ["*"]
    """)
    result = carried(repo)
    assert result.settings["updates"]["groups"] == [
        {"name": "all", "patterns": ["*"], "kinds": ["patch", "minor"], "ecosystem": "python"},
        {"name": "all-actions", "patterns": ["*"], "kinds": ALL, "ecosystem": "actions"},
    ]
    assert has(result.untranslated, "group security: applies-to security-updates", "group not carried over")


def test_dependabot_version_ranges_become_pep440_specifiers(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: pip
            directory: /
            schedule: {interval: weekly, time: "02:00"}
            ignore:
              - dependency-name: a
                versions: ">= 2.0, < 3.0"
              - dependency-name: b
                versions: ["~> 2.0", "1.2.3", "(,2.0]", "[1.0,2.0)", "7.*"]
              - dependency-name: c
                versions: ["latest"]
                update-types: ["version-update:semver-major", "version-update:semver-minor"]
    """)
    result = carried(repo)
    assert result.settings["updates"]["ignore"] == [
        {"package": "a", "versions": ">=2.0,<3.0"},
        {"package": "b", "versions": "~=2.0"},
        {"package": "b", "versions": "==1.2.3"},
        {"package": "b", "versions": "<=2.0"},
        {"package": "b", "versions": ">=1.0,<2.0"},
        {"package": "b", "versions": "==7.*"},
        {"package": "c", "kinds": ["minor", "major"]},
    ]
    assert result.untranslated == (("pip: ignore c versions 'latest': 'latest' is not a version range nightcrew "
                                   "reads (PEP 440)"),)


def test_dependabot_cooldown_without_default_days(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: pip
            directory: /
            schedule: {interval: weekly, time: "02:00"}
            cooldown:
              semver-major-days: 14
    """)
    result = carried(repo)
    assert result.settings["updates"]["cooldown"] == {"default_days": 0, "major_days": 14}
    assert has(result.translated, "without default-days", "0 days")


def test_dependabot_top_level_options_left_behind(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        enable-beta-ecosystems: true
        updates:
          - package-ecosystem: pip
            directory: /
            schedule: {interval: weekly, time: "02:00"}
            vendor: true
            insecure-external-code-execution: allow
            some-new-option: 1
    """)
    result = carried(repo)
    assert has(result.untranslated, "enable-beta-ecosystems")
    assert has(result.untranslated, "pip: vendor", "vendored")
    assert has(result.untranslated, "pip: insecure-external-code-execution")
    assert has(result.untranslated, "pip: some-new-option", "not a Dependabot option")


def test_malformed_dependabot_file_names_file_and_line(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 2
        updates:
          - package-ecosystem: "pip"
            directory: "/"
            schedule:
              interval: "weekly"
             labels: ["oops"]
    """)
    result = carry_over(repo)
    assert result is not None
    assert result.settings == {} and result.translated == ()
    assert len(result.untranslated) == 1
    assert result.untranslated[0].startswith(".github/dependabot.yml:7: not valid YAML")


def test_dependabot_file_that_is_not_a_mapping(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", "- just\n- a list\n")
    result = carry_over(repo)
    assert result == CarriedOver(".github/dependabot.yml", {}, (),
                                 (".github/dependabot.yml:1: not a mapping of options; nothing carried over",))


# --------------------------------------------------------------------------- Renovate


RENOVATE = """
    {
      "$schema": "https://docs.renovatebot.com/renovate-schema.json",
      "extends": ["config:recommended", ":semanticCommits"],
      "timezone": "America/Los_Angeles",
      "schedule": ["before 5am on monday"],
      "prConcurrentLimit": 4,
      "prHourlyLimit": 2,
      "minimumReleaseAge": "3 days",
      "ignoreDeps": ["numpy", "pandas"],
      "labels": ["dependencies"],
      "reviewers": ["octocat", "team:maintainers"],
      "assignees": ["octocat"],
      "rangeStrategy": "bump",
      "lockFileMaintenance": {"enabled": true, "schedule": ["before 4am on monday"]},
      "pre-commit": {"enabled": true},
      "packageRules": [
        {
          "description": "Automerge non-major updates",
          "matchUpdateTypes": ["minor", "patch"],
          "automerge": true
        },
        {
          "matchPackageNames": ["pytest", "pytest-*", "/^flake8/"],
          "groupName": "test tools"
        },
        {
          "matchManagers": ["github-actions"],
          "groupName": "github actions"
        },
        {
          "matchPackageNames": ["django"],
          "matchUpdateTypes": ["major"],
          "enabled": false
        },
        {
          "matchPackageNames": ["boto3"],
          "rangeStrategy": "pin",
          "minimumReleaseAge": "12 hours"
        },
        {
          "matchPackageNames": ["requests"],
          "automerge": true,
          "minimumReleaseAge": "7 days",
          "labels": ["http"]
        },
        {
          "matchUpdateTypes": ["major"],
          "minimumReleaseAge": "14 days"
        },
        {
          "matchDepTypes": ["devDependencies"],
          "automerge": true
        },
        {
          "matchManagers": ["npm"],
          "enabled": false
        },
        {
          "matchPackageNames": ["aws-sdk"],
          "schedule": ["after 9pm on sunday"]
        }
      ]
    }
"""


def test_renovate_options_carry_over(repo: Path) -> None:
    write(repo, "renovate.json", RENOVATE)
    result = carried(repo)
    assert result.source == "renovate.json"
    assert result.settings == {
        "schedule": {"timezone": "America/Los_Angeles", "dependency_updates": f"{_MINUTE} {_HOUR} * * mon"},
        "updates": {
            "max_open_prs": 4,
            "max_prs_per_run": 2,
            "cooldown": {"default_days": 3, "major_days": 14,
                         "packages": [{"patterns": ["requests"], "days": 7}, {"patterns": ["boto3"], "days": 1}]},
            "ignore": [{"package": "numpy"}, {"package": "pandas"}, {"package": "django", "kinds": ["major"]}],
            "labels": ["dependencies"],
            "reviewers": ["octocat"],
            "range_strategy": "bump",
            "lock_maintenance": {"enabled": True, "interval_days": 7},
            "ecosystems": ["python", "actions", "pre-commit"],
            "kinds": ALL,
            # Renovate: the last matching rule wins; nightcrew: the first, so rules come in reverse order
            "groups": [{"name": "github-actions", "patterns": ["*"], "ecosystem": "actions"},
                       {"name": "test-tools", "patterns": ["pytest", "pytest-*"]}],
            "packages": [{"patterns": ["boto3"], "range_strategy": "pin"}],
        },
        "policy": {"automerge": [{"packages": ["*"], "kinds": ["patch", "minor"]},
                                 {"packages": ["requests"], "kinds": ALL, "min_release_age_days": 7}]},
    }
    translated = result.translated
    assert has(translated, "schedule 'before 5am on monday'", "dependency_updates")
    assert has(translated, "prHourlyLimit 2 -> [updates] max_prs_per_run = 2")
    assert has(translated, "minimumReleaseAge \"12 hours\"", "rounded up from 0.5 days")
    assert has(translated, "packageRules[0]: automerge", '[policy] mode = "autonomous"')
    assert has(translated, "Renovate proposes patch, minor and major updates")
    untranslated = result.untranslated
    assert has(untranslated, "extends config:recommended", "not expanded")
    assert has(untranslated, "extends :semanticCommits")
    assert has(untranslated, "team:maintainers", "not teams")
    assert has(untranslated, "assignees")
    assert has(untranslated, "packageRules[1]: regular expressions /^flake8/", "globs")
    assert has(untranslated, "packageRules[5]: labels", "same [updates] labels")
    assert has(untranslated, "packageRules[7]: matchDepTypes", "rule not carried over")
    assert has(untranslated, "packageRules[8]: applies to npm only", "rule not carried over")
    assert has(untranslated, "packageRules[9]: schedule", "one schedule per repository")
    assert loaded(result, repo.parent / "check").policy.mode == "propose"  # automerge rules wait for the mode


def test_renovate_json5_with_comments_and_trailing_commas(repo: Path) -> None:
    write(repo, "renovate.json5", """
        // Renovate configuration: https://docs.renovatebot.com/configuration-options/
        {
          $schema: 'https://docs.renovatebot.com/renovate-schema.json',
          /* Schedules use local time,
             see https://docs.renovatebot.com/key-concepts/scheduling/ */
          timezone: 'Europe/Paris',
          schedule: ['every weekend'],  // Saturday and Sunday
          labels: ['deps', "it's // not a comment"],
          packageRules: [
            {
              matchManagers: ['pip_requirements', 'pep621',],
              matchUpdateTypes: ['patch'],
              groupName: 'python patches',
            },
          ],
        }
    """)
    result = carried(repo)
    assert result.source == "renovate.json5"
    assert result.settings["schedule"] == {"timezone": "Europe/Paris",
                                           "dependency_updates": f"{_MINUTE} {_HOUR} * * sat,sun"}
    updates = result.settings["updates"]
    assert updates["labels"] == ["deps", "it's // not a comment"]
    assert updates["groups"] == [{"name": "python-patches", "patterns": ["*"], "kinds": ["patch"],
                                  "ecosystem": "python"}]
    assert updates["ecosystems"] == ["python", "actions"]  # Renovate's pre-commit manager is opt-in
    assert has(result.translated, "pre-commit is opt-in")
    assert result.untranslated == ()


def test_malformed_renovate_json5_names_file_and_line(repo: Path) -> None:
    write(repo, ".github/renovate.json5", """
        {
          // a comment
          labels: ['deps'],
          schedule: ['every weekend']
          timezone: 'UTC',
        }
    """)
    result = carry_over(repo)
    assert result is not None and result.settings == {}
    assert len(result.untranslated) == 1
    assert result.untranslated[0].startswith(".github/renovate.json5:5: not valid JSON5")


def test_malformed_renovate_json_names_file_and_line(repo: Path) -> None:
    write(repo, ".renovaterc", '{\n  "labels": ["deps"],\n}\n')
    result = carry_over(repo)
    assert result is not None
    assert len(result.untranslated) == 1 and result.untranslated[0].startswith(".renovaterc:3: not valid JSON")


@pytest.mark.parametrize(("schedule", "cron"), [
    ("before 5am on monday", f"{_MINUTE} {_HOUR} * * mon"),
    ("every weekend", f"{_MINUTE} {_HOUR} * * sat,sun"),
    ("after 10pm every weekday", "0 22 * * mon-fri"),
    ("after 10pm and before 5am", f"{_MINUTE} {_HOUR} * * *"),
    ("after 9am and before 5pm", "0 9 * * *"),
    ("before 4am on the first day of the month", f"{_MINUTE} {_HOUR} 1 * *"),
    ("on friday and saturday", f"{_MINUTE} {_HOUR} * * fri,sat"),
    ("after 9pm on sunday", "0 21 * * sun"),
    ("* 0-3 * * *", f"{_MINUTE} {_HOUR} * * *"),
    ("* 22-23 * * 1-5", "0 22 * * mon-fri"),
    ("* * * * 0,6", f"{_MINUTE} {_HOUR} * * sun,sat"),
])
def test_renovate_schedule_windows_become_one_cron(repo: Path, schedule: str, cron: str) -> None:
    write(repo, "renovate.json", f'{{"schedule": ["{schedule}"]}}')
    result = carried(repo)
    assert result.settings["schedule"] == {"dependency_updates": cron}
    assert result.untranslated == ()


def test_renovate_schedule_nightcrew_cannot_translate(repo: Path) -> None:
    write(repo, "renovate.json", '{"schedule": ["every 3 months on the first day of the month"]}')
    result = carried(repo)
    assert "schedule" not in result.settings
    assert has(result.untranslated, "schedule: 'every 3 months on the first day of the month'", "not a schedule")


def test_renovate_several_windows_keep_the_first(repo: Path) -> None:
    write(repo, "renovate.json", '{"schedule": ["after 10pm every weekday", "every weekend"]}')
    result = carried(repo)
    assert result.settings["schedule"] == {"dependency_updates": "0 22 * * mon-fri"}
    assert has(result.untranslated, "schedule 'every weekend'", "only the first window")


def test_renovate_top_level_switches(repo: Path) -> None:
    write(repo, ".github/renovate.json", """
        {
          "enabled": false,
          "automerge": true,
          "automergeStrategy": "squash",
          "enabledManagers": ["pep621", "github-actions", "npm"],
          "baseBranches": ["develop"],
          "branchPrefix": "deps/",
          "dependencyDashboard": true,
          "major": {"enabled": false},
          "ignoreUnstable": false,
          "prConcurrentLimit": 0,
          "rangeStrategy": "replace",
          "vulnerabilityAlerts": {"labels": ["security-fix"], "assignees": ["octocat"]},
          "semanticCommits": "enabled",
          "github-actions": {"fileMatch": ["^ci/.*\\\\.yml$"]}
        }
    """)
    result = carried(repo)
    assert result.settings == {
        "policy": {"merge_method": "squash", "automerge": [{"packages": ["*"], "kinds": ALL}]},
        "forge": {"base": "develop", "branch_prefix": "deps/"},
        "dashboard": {"enabled": True},
        "security": {"label": "security-fix"},
        "updates": {"ecosystems": ["python", "actions"], "kinds": ["patch", "minor", "prerelease"]},
    }
    untranslated = result.untranslated
    assert has(untranslated, "enabled false", "Renovate is off")
    assert has(untranslated, "enabledManagers npm", "does not update npm")
    assert has(untranslated, "prConcurrentLimit 0 (no limit)")
    assert has(untranslated, 'rangeStrategy "replace"', '"auto"')
    assert has(untranslated, "vulnerabilityAlerts assignees")
    assert has(untranslated, "semanticCommits", "own commit messages")
    assert has(untranslated, "github-actions fileMatch", "[manifests] globs")
    assert has(result.translated, "major enabled false leaves out major")


def test_renovate_rules_by_ecosystem_and_kind(repo: Path) -> None:
    write(repo, "renovate.json", """
        {
          "packageRules": [
            {"matchManagers": ["pre-commit"], "enabled": false},
            {"matchManagers": ["pip_requirements"], "enabled": false},
            {"matchManagers": ["github-actions"], "matchUpdateTypes": ["major"], "enabled": false},
            {"matchDatasources": ["pypi"], "ignoreUnstable": false, "rangeStrategy": "widen"},
            {"matchManagers": ["github-actions"], "automerge": true},
            {"matchPackageNames": ["flask"], "automerge": false},
            {"matchPackageNames": ["urllib3"], "allowedVersions": "<2"},
            {"matchPackagePrefixes": ["types-"], "groupName": "stubs", "separateMajorMinor": false},
            {"matchPackageNames": ["!django"], "groupName": "not django"},
            {"matchUpdateTypes": ["pin", "digest"], "automerge": true}
          ]
        }
    """)
    result = carried(repo)
    updates = result.settings["updates"]
    assert updates["ecosystems"] == ["python", "actions"]
    assert updates["packages"] == [{"patterns": ["*"], "ecosystem": "python", "prereleases": True,
                                    "range_strategy": "widen"},
                                   {"patterns": ["*"], "ecosystem": "actions", "kinds": ["patch", "minor"]}]
    assert updates["ignore"] == [{"package": "urllib3", "versions": ">=2"}]
    assert updates["groups"] == [{"name": "stubs", "patterns": ["types-*"], "kinds": ALL}]
    assert "policy" not in result.settings  # no automerge rule was carried, so "automerge false" needs nothing
    untranslated = result.untranslated
    assert has(untranslated, "packageRules[1]: enabled", "not per Renovate manager")
    assert has(untranslated, "packageRules[4]: automerge: automerge for actions only", "ecosystem")
    assert has(untranslated, "packageRules[8]", "!django", "rule not carried over")
    assert has(untranslated, "packageRules[9]: matchUpdateTypes pin, digest", "rule not carried over")
    assert has(result.translated, "packageRules[0]: enabled false", "ecosystems without pre-commit")
    assert has(result.translated, "packageRules[5]: automerge false", "no setting needed")


def test_renovate_automerge_false_after_automerge_true_becomes_a_deny_rule(repo: Path) -> None:
    write(repo, "renovate.json", """
        {
          "automerge": true,
          "packageRules": [{"matchPackageNames": ["flask"], "matchUpdateTypes": ["major"], "automerge": false}]
        }
    """)
    result = carried(repo)
    assert result.settings["policy"] == {
        "automerge": [{"packages": ["*"], "kinds": ALL}],
        "rules": [{"name": "renovate-no-automerge-1", "verdict": "deny", "actions": ["forge.merge"],
                   "packages": ["flask"], "kinds": ["major"]}],
    }


def test_renovate_file_of_another_shape(repo: Path) -> None:
    write(repo, "renovate.json", '["config:recommended"]')
    result = carry_over(repo)
    assert result is not None and result.settings == {}
    assert result.untranslated == ("renovate.json:1: not a mapping of options; nothing carried over",)


# --------------------------------------------------------------------------- odd values


def test_odd_dependabot_values_are_listed_not_fatal(repo: Path) -> None:
    write(repo, ".github/dependabot.yml", """
        version: 1
        updates:
          - directory: /
          - package-ecosystem: pip
            directory: /
            schedule: {interval: fortnightly, time: "25:00"}
            labels: 5
            reviewers: [1, 2]
            open-pull-requests-limit: lots
            versioning-strategy: sideways
            cooldown: {default-days: "5", extra: 1}
            target-branch: 7
            ignore:
              - "django"
              - dependency-name: flask
                versions: 5
              - dependency-name: attrs
                update-types: ["version-update:semver-huge"]
            groups: ["not", "a", "mapping"]
            allow: [{dependency-name: 5}, {dependency-type: indirect}]
    """)
    result = carried(repo)
    assert result.settings == {"updates": {"ecosystems": ["python"], "kinds": ALL, "max_open_prs": 5}}
    assert result.untranslated == (
        "version 1: only version 2 files are documented; read as version 2",
        "updates[0]: no package-ecosystem; entry not carried over",
        'pip: schedule: time "25:00": not hh:mm',
        "pip: open-pull-requests-limit: not a whole number",
        "pip: labels: not a list of names",
        "pip: reviewers: not a list of names",
        'pip: versioning-strategy "sideways": not a Dependabot strategy',
        'pip: cooldown: default-days "5": not a whole number of days',
        "pip: target-branch: not a branch name",
        'pip: ignore "django": no dependency-name',
        "pip: ignore flask: versions and update-types must be lists",
        "pip: ignore attrs update-types version-update:semver-huge: not a Dependabot update type",
        "pip: groups: not a mapping of group names",
        "pip: allow dependency-name 5: not a name",
        ('pip: allow dependency-type "indirect": nightcrew updates direct dependencies, and with [updates] transitive '
        "a lockfile's others too; no other types"),
    )


def test_odd_renovate_values_are_listed_not_fatal(repo: Path) -> None:
    write(repo, "renovate.json", """
        {
          "extends": 5, "timezone": 7, "schedule": [], "prConcurrentLimit": "5", "prHourlyLimit": -1,
          "minimumReleaseAge": "soon", "ignoreDeps": "django", "rangeStrategy": 3, "labels": 5, "reviewers": {},
          "automergeStrategy": "fast-forward", "enabledManagers": "npm", "lockFileMaintenance": [],
          "baseBranches": ["main", "next"], "branchPrefix": "", "dependencyDashboard": "yes", "ignoreUnstable": 1,
          "vulnerabilityAlerts": 1, "major": 1, "pre-commit": 1, "pip_requirements": {"enabled": false},
          "packageRules": [
            5,
            {"matchPackageNames": 5, "enabled": false},
            {"matchManagers": ["pep621"], "groupName": 5, "automerge": "yes", "minimumReleaseAge": "eventually"},
            {"matchPackageNames": ["x"], "allowedVersions": "^1.0", "rangeStrategy": "in-range-only",
             "enabled": true, "matchUpdateTypes": ["major"], "ignoreUnstable": false}
          ]
        }
    """)
    result = carried(repo)
    assert result.settings == {
        "updates": {"ignore": [{"package": "django"}], "ecosystems": [], "kinds": ALL},  # enabledManagers: npm only
    }
    untranslated = result.untranslated
    assert len(untranslated) == 29
    for key in ("extends 5", "timezone", "schedule", "prConcurrentLimit", "prHourlyLimit", "minimumReleaseAge",
                "rangeStrategy", "labels", "reviewers", "automergeStrategy", "enabledManagers npm",
                "lockFileMaintenance", "baseBranches", "branchPrefix", "dependencyDashboard", "ignoreUnstable",
                "vulnerabilityAlerts", "major", "pre-commit", "packageRules[0]", "packageRules[1]",
                "packageRules[2]: groupName", "packageRules[2]: automerge", "packageRules[2]: minimumReleaseAge",
                "packageRules[3]: allowedVersions", "packageRules[3]: rangeStrategy", "packageRules[3]: enabled",
                "packageRules[3]: prereleases for major updates only"):
        assert has(untranslated, key), key
    assert has(untranslated, "pip_requirements enabled false", "not per Renovate manager")

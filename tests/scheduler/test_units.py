"""The systemd unit for the long-running scheduler: it runs `nightcrew schedule` (parsed by the real command line),
stops it the way the scheduler expects (SIGTERM to nightcrew alone, time for a test step), restarts only on
failure, and is sandboxed like the one-shot unit."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.cron.test_cron_files import CRON, check_cli, invocations, unit

SCHEDULER = CRON / "systemd" / "nightcrew-scheduler.service"
ONESHOT = CRON / "systemd" / "nightcrew.service"


def seconds(value: str) -> int:
    """A systemd time span such as "20min", "1h 30s" or "900" in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600}
    parts = re.findall(r"(\d+)\s*([a-z]*)", value)
    assert parts and "".join(n + u for n, u in parts) == value.replace(" ", ""), f"not a time span: {value!r}"
    return sum(int(n) * units[u] for n, u in parts)


def test_scheduler_unit_runs_nightcrew_schedule_on_the_repository() -> None:
    s = unit(SCHEDULER)["Service"]
    argv = shlex.split(s["ExecStart"])
    assert argv[0].startswith("/") and Path(argv[0]).name == "nightcrew"
    (args,) = invocations(s["ExecStart"])
    assert check_cli(args).name == "schedule"
    assert args[args.index("--repo") + 1] == s["WorkingDirectory"]


def test_scheduler_unit_is_long_running_and_restarts_only_after_a_failure() -> None:
    s = unit(SCHEDULER)["Service"]
    assert s["Type"] in ("simple", "exec")
    assert s["Restart"] == "on-failure", "a clean stop exits 0 and must stay stopped"
    assert seconds(s["RestartSec"]) >= 5
    assert unit(SCHEDULER)["Install"]["WantedBy"] == "multi-user.target"


def test_scheduler_unit_stops_with_sigterm_to_nightcrew_alone_and_waits_for_a_test_step() -> None:
    s = unit(SCHEDULER)["Service"]
    assert s["KillSignal"] == "SIGTERM"
    assert s["KillMode"] == "mixed", "the test run's own process group finishes its step; only nightcrew is told"
    assert seconds(s["TimeoutStopSec"]) > 900, "longer than the default [tests] timeout"


def test_scheduler_unit_is_sandboxed_like_the_oneshot_unit() -> None:
    s, oneshot = unit(SCHEDULER)["Service"], unit(ONESHOT)["Service"]
    for key in ("User", "Group", "WorkingDirectory", "EnvironmentFile", "ReadWritePaths", "NoNewPrivileges",
                "ProtectSystem", "PrivateTmp", "ProtectHome", "PrivateDevices", "RestrictSUIDSGID",
                "RestrictAddressFamilies", "CapabilityBoundingSet", "UMask"):
        assert s.get(key) == oneshot.get(key), key
    assert s["User"] != "root"
    for key, value in s.items():
        assert " #" not in value and " ;" not in value, f"{key}: systemd has no end-of-line comments"

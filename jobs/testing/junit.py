"""Read test results: JUnit XML reports, and pytest's closing summary line as a fallback."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# A report bigger than this is not something a test run of ours wrote in good faith; do not parse it.
_MAX_REPORT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Results:
    """Counts and failing test ids, as one test report told them."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    failing: tuple[str, ...] = ()

    @property
    def has_failures(self) -> bool:
        return self.failed > 0 or self.errors > 0


def _module_of(file: str) -> str:
    """``tests/test_x.py`` -> ``tests.test_x``: how pytest spells a file in ``classname``."""
    return file.removesuffix(".py").replace("/", ".")


def node_id(classname: str, name: str, file: str | None = None) -> str:
    """A pytest-style node id (``tests/test_x.py::TestK::test_m``) for one ``<testcase>``.

    Without a ``file`` attribute the path cannot be told from the class part, so ``classname::name`` it is.
    """
    if not file:
        return f"{classname}::{name}" if classname else name
    file = file.replace("\\", "/")
    module = _module_of(file)
    if not classname:
        # pytest reports a collection error as classname="" name="<dotted module>": the file itself failed.
        return file if name in ("", module) else f"{file}::{name}"
    if classname.startswith(module + "."):
        classes = classname[len(module) + 1 :].split(".")
        return "::".join([file, *classes, name])
    return f"{file}::{name}"


def parse_junit(text: str | bytes) -> Results:
    """Results from JUnit XML with a ``<testsuites>`` or bare ``<testsuite>`` root.

    Every ``<testcase>`` counts once: ``<failure>`` failed, ``<error>`` error, ``<skipped>`` skipped, else passed
    (pytest writes a teardown error as a second ``<testcase>`` of the same name, and counts it so too).
    Raises ``ValueError`` (``ET.ParseError`` is one) when the text is not such a report.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from exc
    if root.tag not in ("testsuites", "testsuite"):
        raise ValueError(f"not a JUnit report: root element <{root.tag}>")
    passed = failed = skipped = errors = 0
    failing: dict[str, None] = {}  # ordered and deduplicated
    for case in root.iter("testcase"):
        kinds = {child.tag for child in case}
        if "failure" in kinds or "error" in kinds:
            if "failure" in kinds:
                failed += 1
            else:
                errors += 1
            failing[node_id(case.get("classname", ""), case.get("name", ""), case.get("file"))] = None
        elif "skipped" in kinds:
            skipped += 1
        else:
            passed += 1
    return Results(passed, failed, skipped, errors, tuple(failing))


def read_junit(path: Path) -> Results | None:
    """Results from the JUnit file at ``path``; None when it is missing, too big or unreadable (e.g. cut off)."""
    try:
        if path.stat().st_size > _MAX_REPORT_BYTES:
            return None
        return parse_junit(path.read_bytes())
    except (OSError, ValueError):
        return None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# pytest's last line: "==== 1 failed, 2 passed, 1 skipped in 0.12s ====" (or without the rules under -q).
_SUMMARY = re.compile(r"^=*\s*(?P<counts>\d+ [a-z]+(?:, \d+ [a-z]+)*) in [\d.]+s\b.*$", re.MULTILINE)
_COUNT = re.compile(r"(\d+) ([a-z]+)")
# "short test summary info" lines; pytest shows failures and errors there by default (-rfE).
_SHORT = re.compile(r"^(?:FAILED|ERROR) (?P<id>\S.*?)(?: - .*)?$", re.MULTILINE)


def parse_summary(output: str) -> Results | None:
    """Results from pytest's closing summary line in ``output`` (the last one wins); None if there is none.

    Failing ids come from the ``FAILED``/``ERROR`` lines of the short test summary, when shown.
    """
    text = _ANSI.sub("", output)
    matches = list(_SUMMARY.finditer(text))
    if not matches:
        return None
    counts: dict[str, int] = {}
    for number, word in _COUNT.findall(matches[-1].group("counts")):
        counts[word] = counts.get(word, 0) + int(number)
    failing = dict.fromkeys(m.group("id").strip() for m in _SHORT.finditer(text[: matches[-1].start()]))
    return Results(
        passed=counts.get("passed", 0),
        failed=counts.get("failed", 0),
        skipped=counts.get("skipped", 0) + counts.get("xfailed", 0),
        errors=counts.get("error", 0) + counts.get("errors", 0),
        failing=tuple(failing),
    )

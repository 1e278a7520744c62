"""Unit tests for reading JUnit XML and pytest's summary line, on hand-written input."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.testing.junit import Results, node_id, parse_junit, parse_summary, read_junit

# What pytest writes with junit_family=xunit1: a class, parameters, a skip, a teardown error written as a
# second testcase of the same name, and a collection error.
PYTEST_XUNIT1 = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests">
  <testsuite name="pytest" errors="2" failures="3" skipped="1" tests="7">
    <testcase classname="tests.test_a.TestK" name="test_m" file="tests/test_a.py" line="2">
      <failure message="assert 0">assert 0</failure>
    </testcase>
    <testcase classname="tests.test_a" name="test_p[1]" file="tests/test_a.py" line="4"/>
    <testcase classname="tests.test_a" name="test_p[2]" file="tests/test_a.py" line="4">
      <failure message="assert 2 == 1"/>
    </testcase>
    <testcase classname="tests.test_a" name="test_s" file="tests/test_a.py" line="6">
      <skipped type="pytest.skip" message="no">no</skipped>
    </testcase>
    <testcase classname="tests.test_a" name="test_teardown" file="tests/test_a.py" line="11">
      <failure message="assert 0"/>
    </testcase>
    <testcase classname="tests.test_a" name="test_teardown" file="tests/test_a.py" line="11">
      <error message="failed on teardown with RuntimeError"/>
    </testcase>
    <testcase classname="" name="tests.test_b" file="tests/test_b.py">
      <error message="collection failure">ModuleNotFoundError</error>
    </testcase>
  </testsuite>
</testsuites>
"""


def test_pytest_report_counts_and_node_ids() -> None:
    results = parse_junit(PYTEST_XUNIT1)
    assert results == Results(
        passed=1,
        failed=3,
        skipped=1,
        errors=2,
        failing=(
            "tests/test_a.py::TestK::test_m",
            "tests/test_a.py::test_p[2]",
            "tests/test_a.py::test_teardown",
            "tests/test_b.py",
        ),
    )
    assert results.has_failures


def test_bare_testsuite_root_without_file_attributes() -> None:
    xml = """<testsuite name="x" tests="3">
      <testcase classname="tests.test_x.TestA" name="test_one"/>
      <testcase classname="pkg.Suite" name="test_two"><error message="boom"/></testcase>
      <testcase classname="" name="lonely"><failure/></testcase>
    </testsuite>"""
    results = parse_junit(xml.encode())
    assert (results.passed, results.failed, results.errors, results.skipped) == (1, 1, 1, 0)
    assert results.failing == ("pkg.Suite::test_two", "lonely")


def test_nested_suites_are_all_counted() -> None:
    xml = """<testsuites>
      <testsuite name="a"><testcase classname="a" name="t1"/></testsuite>
      <testsuite name="b">
        <testsuite name="b.inner"><testcase classname="b" name="t2"><skipped/></testcase></testsuite>
      </testsuite>
    </testsuites>"""
    assert parse_junit(xml) == Results(passed=1, skipped=1)


def test_empty_report_is_all_zero() -> None:
    results = parse_junit('<testsuites name="pytest tests"><testsuite name="pytest" tests="0"/></testsuites>')
    assert results == Results() and not results.has_failures


@pytest.mark.parametrize("text", ["<testsuites><testsuite>", "not xml at all", "<html><body/></html>"])
def test_not_a_report_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_junit(text)


def test_read_junit_missing_or_cut_off_file_is_none(tmp_path: Path) -> None:
    assert read_junit(tmp_path / "absent.xml") is None
    cut = tmp_path / "cut.xml"
    cut.write_text(PYTEST_XUNIT1[: len(PYTEST_XUNIT1) // 2])
    assert read_junit(cut) is None
    whole = tmp_path / "whole.xml"
    whole.write_text(PYTEST_XUNIT1)
    assert read_junit(whole) == parse_junit(PYTEST_XUNIT1)


@pytest.mark.parametrize(
    ("classname", "name", "file", "expected"),
    [
        ("tests.test_x", "test_a", "tests/test_x.py", "tests/test_x.py::test_a"),
        ("tests.test_x.TestA.TestB", "test_a[1-2]", "tests/test_x.py", "tests/test_x.py::TestA::TestB::test_a[1-2]"),
        ("tests.test_x", "test_a", "tests\\test_x.py", "tests/test_x.py::test_a"),
        ("", "tests.test_x", "tests/test_x.py", "tests/test_x.py"),
        ("other.module", "test_a", "tests/test_x.py", "tests/test_x.py::test_a"),
        ("tests.test_x.TestA", "test_a", None, "tests.test_x.TestA::test_a"),
        ("", "test_a", None, "test_a"),
    ],
)
def test_node_id(classname: str, name: str, file: str | None, expected: str) -> None:
    assert node_id(classname, name, file) == expected


def test_summary_with_rules_and_short_summary() -> None:
    output = """\
tests/test_a.py .F.s                                                     [100%]
=========================== short test summary info ============================
FAILED tests/test_a.py::test_two - AssertionError: assert 1 == 2
ERROR tests/test_b.py::test_three - RuntimeError: teardown
============= 1 failed, 2 passed, 1 skipped, 3 warnings, 1 error in 0.12s ==============
"""
    assert parse_summary(output) == Results(
        passed=2, failed=1, skipped=1, errors=1, failing=("tests/test_a.py::test_two", "tests/test_b.py::test_three")
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("..\n2 passed in 0.01s\n", Results(passed=2)),
        (
            "ERROR tests/test_b.py\n!!!! Interrupted !!!!\n1 error in 0.44s\n",
            Results(errors=1, failing=("tests/test_b.py",)),
        ),
        (  # colours, and xfailed counted as skipped (as JUnit reports them)
            "\x1b[32m==== \x1b[32m\x1b[1m3 passed\x1b[0m, \x1b[33m2 xfailed\x1b[0m\x1b[32m in 0.05s\x1b[0m ====",
            Results(passed=3, skipped=2),
        ),
        ("= 1 passed in 0.1s =\nrerun\n= 4 passed, 2 errors in 61.20s (0:01:01) =\n", Results(passed=4, errors=2)),
        ("Ran 3 tests in 0.001s\n\nOK\n", None),
        ("", None),
    ],
)
def test_summary_forms(output: str, expected: Results | None) -> None:
    assert parse_summary(output) == expected

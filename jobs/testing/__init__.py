"""Run a repository's own tests on a bump, in a fresh virtual environment, and report what they said."""

from __future__ import annotations

from .junit import Results, parse_junit, parse_summary, read_junit
from .runner import RunSpec, child_env, is_secret_name, run_tests

__all__ = [
    "RunSpec",
    "run_tests",
    "child_env",
    "is_secret_name",
    "Results",
    "parse_junit",
    "parse_summary",
    "read_junit",
]

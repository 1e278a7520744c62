"""Advisory sources: known vulnerabilities of (package, version) pairs. One module per source; OSV today (the
open database that pip-audit, Dependabot's sources and Renovate read for PyPI)."""

from jobs.advisories.osv import AdvisoryError, OsvClient, affects, fix_version, to_advisory

__all__ = ["AdvisoryError", "OsvClient", "affects", "fix_version", "to_advisory"]

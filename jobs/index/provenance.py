"""Publisher continuity (PEP 740): who published a release, by the index's provenance records, compared with who
published the version a project runs now.

A release whose Trusted Publisher (kind, repository, workflow) differs from the current version's, or that has no
attestations where the current version had them, is flagged: the PR says so on top, the bot never merges it.
These facts are the index's own records; nightcrew does not verify the attestation signatures against Sigstore's
trust roots (that needs a network fetch of the roots), and every report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from jobs.errors import PackageIndexError
from jobs.models import DistributionFile, ProjectPage

NOT_VERIFIED = "publisher facts are the index's provenance records; the attestation signatures were not verified"


@dataclass(frozen=True)
class Publisher:
    kind: str
    repository: str
    workflow: str
    environment: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.repository}" + (f" ({self.workflow})" if self.workflow else "")


@dataclass(frozen=True)
class PublisherCheck:
    package: str
    old: str
    new: str
    old_publisher: Publisher | None
    new_publisher: Publisher | None
    old_attested: bool
    new_attested: bool
    note: str = NOT_VERIFIED

    @property
    def publisher_changed(self) -> bool:
        old, new = self.old_publisher, self.new_publisher
        return old is not None and new is not None and (old.kind, old.repository.lower(), old.workflow) != (
            new.kind, new.repository.lower(), new.workflow)

    @property
    def attestations_dropped(self) -> bool:
        return self.old_attested and not self.new_attested

    @property
    def flagged(self) -> bool:
        return self.publisher_changed or self.attestations_dropped

    def summary(self) -> str:
        """One line for the audit log and the report's alert."""
        what = []
        if self.publisher_changed:
            what.append(f"publisher changed from {self.old_publisher} to {self.new_publisher}")
        if self.attestations_dropped:
            what.append(f"{self.new} has no attestations where {self.old} had them")
        return f"{self.package} {self.old} -> {self.new}: " + "; ".join(what or ["unchanged"])

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "old": self.old, "new": self.new,
                "old_publisher": str(self.old_publisher) if self.old_publisher else None,
                "new_publisher": str(self.new_publisher) if self.new_publisher else None,
                "publisher_changed": self.publisher_changed, "attestations_dropped": self.attestations_dropped,
                "verified": False, "note": self.note}


def publisher_of(record: dict[str, Any] | None) -> Publisher | None:
    if not isinstance(record, dict):
        return None
    for bundle in record.get("attestation_bundles") or []:
        found = bundle.get("publisher") if isinstance(bundle, dict) else None
        if isinstance(found, dict) and found.get("repository"):
            return Publisher(str(found.get("kind", "")), str(found["repository"]), str(found.get("workflow", "")),
                             str(found.get("environment") or ""))
    return None


def _attested(record: dict[str, Any] | None) -> bool:
    return isinstance(record, dict) and any(isinstance(b, dict) and b.get("attestations")
                                            for b in record.get("attestation_bundles") or [])


def _file(page: ProjectPage, version: Version) -> DistributionFile | None:
    files = [f for f in page.files if f.version == version and not f.yanked]
    with_provenance = [f for f in files if f.provenance]
    pool = with_provenance or files
    return min(pool, key=lambda f: (not f.filename.endswith(".whl"), f.filename)) if pool else None


def check(client: Any, page: ProjectPage, old: Version, new: Version) -> PublisherCheck | None:
    """The publisher of ``new`` against ``old``'s; None when neither release has provenance on this index.
    Raises ``PackageIndexError`` when a provenance object cannot be fetched."""
    old_file, new_file = _file(page, old), _file(page, new)
    if not (old_file and old_file.provenance) and not (new_file and new_file.provenance):
        return None
    old_record = client.provenance(old_file) if old_file else None
    new_record = client.provenance(new_file) if new_file else None
    return PublisherCheck(page.name, str(old), str(new), publisher_of(old_record), publisher_of(new_record),
                          _attested(old_record), _attested(new_record))


__all__ = ["NOT_VERIFIED", "Publisher", "PublisherCheck", "check", "publisher_of", "PackageIndexError"]

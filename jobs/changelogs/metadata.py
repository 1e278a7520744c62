"""Core metadata (PKG-INFO) of an sdist: its project URLs and its description, the body after the headers."""

from __future__ import annotations

import email.parser
import email.policy
import re
from email.message import Message

from jobs.changelogs.sdist import DEFAULT_MAX_MEMBER_BYTES, ArchiveError, SafeArchive, decode_text

# Metadata before 2.1 folded the description into a header; setuptools indented its lines by eight
# spaces, old distutils by seven and a "|".
_FOLD = re.compile(r"^(?: {8}| {7}\|)", re.MULTILINE)


def parse_pkg_info(raw: bytes | str) -> Message:
    """A ``PKG-INFO`` file as an email message (headers, then the description as the body)."""
    text = decode_text(raw) if isinstance(raw, bytes) else raw.replace("\r\n", "\n").replace("\r", "\n")
    # compat32 keeps header values as written, folded lines included, which the legacy description needs.
    return email.parser.Parser(policy=email.policy.compat32).parsestr(text)


def read_pkg_info(data: bytes, *, max_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> Message | None:
    """The ``<top>/PKG-INFO`` of an sdist given as bytes (tar or zip), or None when there is none."""
    try:
        archive = SafeArchive.open(data, max_member_bytes=max_bytes, wanted=lambda path: path == "PKG-INFO")
    except ArchiveError:
        return None
    raw = archive.read("PKG-INFO")
    return None if raw is None else parse_pkg_info(raw)


def project_urls(msg: Message) -> dict[str, str]:
    """``Project-URL: Label, URL`` entries as ``{label: url}``, with ``Home-page`` as ``Homepage`` unless a
    ``Project-URL`` already uses that label. Entries without a URL are left out."""
    urls: dict[str, str] = {}
    for value in msg.get_all("Project-URL") or ():
        label, comma, url = str(value).partition(",")
        label, url = " ".join(label.split()), url.strip()
        if comma and label and url:
            urls.setdefault(label, url)
    home = " ".join(str(msg.get("Home-page") or "").split())
    if home and home.upper() != "UNKNOWN" and "Homepage" not in urls:
        urls["Homepage"] = home
    return urls


def description(msg: Message) -> str:
    """The package description this metadata carries (the body; the legacy ``Description`` header when
    the body is empty), with ``\\n`` line ends."""
    body = msg.get_payload()
    text = body if isinstance(body, str) else ""
    if not text.strip():
        header = msg.get("Description")
        text = _FOLD.sub("", str(header)) if header is not None else ""
        if text.strip().upper() == "UNKNOWN":
            text = ""
    return text.replace("\r\n", "\n").replace("\r", "\n")

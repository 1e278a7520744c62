"""Keep secrets out of every string nightcrew writes: known secret values, URL credentials, auth headers."""

from __future__ import annotations

import os
import re
from typing import Iterable

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@\s:]*)(?P<password>:[^/@\s]*)?@")
# "Authorization: Bearer x" as HTTP has it, and {'Authorization': 'token x'} as a dict or JSON prints it
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(\w+\s+)?[^\s'\",}]+")
# Variables whose values are secrets wherever they appear (the ecosystem's names, and the usual suffixes).
SECRET_NAMES = ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT", "OPENAI_API_KEY")
SECRET_SUFFIXES = ("_TOKEN", "_SECRET", "_PASSWORD", "_API_KEY")


def is_secret_name(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether an environment variable of this name holds a secret (never shown, never passed to tests)."""
    upper = name.upper()
    return (
        upper in SECRET_NAMES
        or upper in ("PASSWORD", "SECRET")
        or upper.endswith(SECRET_SUFFIXES)
        or (upper.startswith("NIGHTCREW_") and "TOKEN" in upper)
        or upper in {e.upper() for e in extra}
    )


def secrets_from_environment(environ: dict[str, str] | None = None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The values of every secret-looking variable, longest first (so a secret inside another is covered)."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if v and len(v) >= 4 and is_secret_name(k, extra)}
    return tuple(sorted(values, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secret values, URL passwords and Authorization header values replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")  # longest first: a secret inside another must not leave a remainder

    def _url(match: re.Match[str]) -> str:
        # user:password@ keeps the user name; a lone user@ is usually a token, so it goes entirely
        kept = f"{match.group('user')}:***" if match.group("password") else "***"
        return f"{match.group('scheme')}{kept}@"

    text = _URL_CREDENTIALS.sub(_url, text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}***", text)

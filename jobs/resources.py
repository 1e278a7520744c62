"""Where the packaged defaults live: `templates/` and `config/` inside the wheel or beside the checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """The folder of packaged data ``kind`` ("config", "templates" or "cron").

    A wheel carries them as ``jobs/_data/<kind>``; a source checkout (or an editable install) has them
    at the repository's top level.
    """
    for candidate in (_PACKAGE / "_data" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"nightcrew's {kind}/ folder is missing from the installation")


def default_config_path() -> Path:
    return data_dir("config") / "nightcrew.toml"

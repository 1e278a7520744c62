"""Build real wheels and sdists directly with zipfile/tarfile, fast enough for thousands per benchmark."""

from __future__ import annotations

import base64
import csv
import email.parser
import gzip
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from email.message import Message
from pathlib import Path

from packaging.version import InvalidVersion, Version

__all__ = [
    "build_wheel",
    "build_sdist",
    "build_dists",
    "file_hashes",
    "read_metadata",
    "escape_name",
    "normalize_name",
    "module_name",
]

# Fixed timestamps make builds byte-for-byte reproducible, so hashes are stable across runs.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_TAR_MTIME = 315532800  # 1980-01-01T00:00:00Z, matches the zip epoch


def normalize_name(name: str) -> str:
    """PEP 503 normalized project name (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def escape_name(name: str) -> str:
    """Distribution-name component of wheel/sdist file names (``Foo-Bar`` -> ``foo_bar``)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def module_name(name: str) -> str:
    """Default importable module name for a project (``foo-bar`` -> ``foo_bar``)."""
    return escape_name(name)


def _escape_version(version: str) -> str:
    # The wheel spec wants the normalized PEP 440 form; invalid versions are kept (escaped) so tests
    # can still build deliberately odd distributions.
    try:
        return str(Version(version))
    except InvalidVersion:
        return re.sub(r"[^\w\d.+]+", "_", version)


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _metadata_text(
    name: str,
    version: str,
    *,
    requires_python: str | None,
    requires_dist: Sequence[str] = (),
    summary: str | None = None,
    description: str | None = None,
    description_content_type: str | None = None,
    project_urls: Mapping[str, str] | None = None,
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines.extend(f"Project-URL: {label}, {url}" for label, url in (project_urls or {}).items())
    if summary:
        lines.append(f"Summary: {summary}")
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Requires-Dist: {req}" for req in requires_dist)
    if description is not None and description_content_type:
        lines.append(f"Description-Content-Type: {description_content_type}")
    text = "\n".join(lines) + "\n"
    if description is not None:
        # Metadata 2.1 allows the description as the message body after a blank line.
        text += "\n" + description
        if not description.endswith("\n"):
            text += "\n"
    return text


def _default_modules(name: str, version: str) -> dict[str, str]:
    return {f"{module_name(name)}/__init__.py": f'"""Test distribution {name}."""\n\n__version__ = "{version}"\n'}


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires_python: str | None = None,
    requires_dist: Sequence[str] = (),
    modules: Mapping[str, str] | None = None,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write a pure-Python ``py3-none-any`` wheel into ``dest`` and return its path."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dist, ver = escape_name(name), _escape_version(version)
    dist_info = f"{dist}-{ver}.dist-info"
    files: dict[str, bytes] = {}
    for arcname, text in (modules if modules is not None else _default_modules(name, version)).items():
        files[arcname] = text.encode("utf-8")
    for arcname, text in (extra_files or {}).items():
        files[arcname] = text.encode("utf-8")
    files[f"{dist_info}/METADATA"] = _metadata_text(
        name, version, requires_python=requires_python, requires_dist=requires_dist
    ).encode("utf-8")
    files[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: nightcrew-tests-distbuild\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode("utf-8")

    record_path = f"{dist_info}/RECORD"
    buf = io.StringIO()
    # csv quoting keeps paths with commas valid, as the RECORD format requires.
    writer = csv.writer(buf, lineterminator="\n")
    for arcname, data in files.items():
        writer.writerow([arcname, _record_hash(data), str(len(data))])
    writer.writerow([record_path, "", ""])
    files[record_path] = buf.getvalue().encode("utf-8")

    path = dest / f"{dist}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        # dist-info last, as the spec recommends, so streaming readers see the code first.
        for arcname in sorted(files, key=lambda a: (a.startswith(dist_info), a)):
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[arcname])
    return path


def build_sdist(
    dest: Path,
    name: str,
    version: str,
    *,
    requires_python: str | None = None,
    requires_dist: Sequence[str] = (),
    description: str | None = None,
    description_content_type: str = "text/markdown",
    extra_files: Mapping[str, str] | None = None,
    project_urls: Mapping[str, str] | None = None,
) -> Path:
    """Write ``{name}-{version}.tar.gz`` (name escaped per PEP 625) with PKG-INFO, pyproject.toml and a module."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    base = f"{escape_name(name)}-{_escape_version(version)}"
    files: dict[str, bytes] = {}
    files["PKG-INFO"] = _metadata_text(
        name,
        version,
        requires_python=requires_python,
        requires_dist=requires_dist,
        description=description,
        description_content_type=description_content_type,
        project_urls=project_urls,
    ).encode("utf-8")
    project_lines = ["[project]", f'name = "{name}"', f'version = "{version}"']
    if requires_python:
        project_lines.append(f'requires-python = "{requires_python}"')
    if requires_dist:
        project_lines.append("dependencies = [" + ", ".join(f'"{r}"' for r in requires_dist) + "]")
    files["pyproject.toml"] = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        + "\n".join(project_lines)
        + "\n"
    ).encode("utf-8")
    # A real module keeps the sdist buildable if some test ever does build it.
    for arcname, text in _default_modules(name, version).items():
        files[arcname] = text.encode("utf-8")
    for arcname, text in (extra_files or {}).items():
        files[arcname] = text.encode("utf-8")

    path = dest / f"{base}.tar.gz"
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
            dirs_added: set[str] = set()
            for arcname in sorted(files):
                full = f"{base}/{arcname}"
                # Explicit directory entries, like setuptools writes, for tools that expect them.
                parts = full.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    d = "/".join(parts[:i])
                    if d not in dirs_added:
                        dirs_added.add(d)
                        dinfo = tarfile.TarInfo(d)
                        dinfo.type, dinfo.mode, dinfo.mtime = tarfile.DIRTYPE, 0o755, _TAR_MTIME
                        tf.addfile(dinfo)
                info = tarfile.TarInfo(full)
                info.size, info.mode, info.mtime = len(files[arcname]), 0o644, _TAR_MTIME
                tf.addfile(info, io.BytesIO(files[arcname]))
    return path


def build_dists(
    dest: Path,
    name: str,
    versions: Iterable[str],
    *,
    wheel: bool = True,
    sdist: bool = True,
    requires_python: str | None = None,
    requires_dist: Sequence[str] = (),
) -> list[Path]:
    """Build a wheel and/or sdist for each version; returns the paths in build order."""
    out: list[Path] = []
    for version in versions:
        if wheel:
            out.append(
                build_wheel(dest, name, version, requires_python=requires_python, requires_dist=requires_dist)
            )
        if sdist:
            out.append(build_sdist(dest, name, version, requires_python=requires_python, requires_dist=requires_dist))
    return out


def file_hashes(path: Path) -> dict[str, str]:
    """``{"sha256": hexdigest}`` of a file, the form simple-index pages use."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"sha256": h.hexdigest()}


def read_metadata(path: Path) -> Message | None:
    """Core metadata of a wheel (``*.dist-info/METADATA``) or sdist (``PKG-INFO``); None if not found."""
    path = Path(path)
    raw: bytes | None = None
    try:
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as zf:
                for n in zf.namelist():
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA"):
                        raw = zf.read(n)
                        break
        elif path.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(path, "r:gz") as tf:
                for member in tf:
                    if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                        fh = tf.extractfile(member)
                        raw = fh.read() if fh else None
                        break
        elif path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for n in zf.namelist():
                    if n.count("/") == 1 and n.endswith("/PKG-INFO"):
                        raw = zf.read(n)
                        break
    except (OSError, zipfile.BadZipFile, tarfile.TarError):
        return None
    if raw is None:
        return None
    return email.parser.BytesParser().parsebytes(raw)

"""The pinned list of upstream files: fetch from the URL or copy from a mirror, and verify checksums."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import tomllib
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.errors import ChecksumMismatch, DataProblem, DataValidationError, SourceUnavailable
from geo.settings import Settings, get_settings

__all__ = [
    "SourceFile",
    "fetch_all",
    "fetch_file",
    "load_sources",
    "local_path",
    "paths_of_group",
    "read_checksum_list",
    "sha256_of",
]

SOURCES_FILE = "sources.toml"  # the project's whole source list: boundaries, population, OSM extracts, licences


@dataclass(frozen=True)
class SourceFile:
    """One pinned upstream file: ``path`` is ``<owner>/<repo>/<commit>/<path in repo>``."""

    group: str
    path: str
    url: str
    sha256: str


def load_sources(settings: Settings | None = None) -> list[SourceFile]:
    """Read the pinned source list (``data/sources.toml``)."""
    settings = settings or get_settings()
    toml_path = settings.data_dir / SOURCES_FILE
    with toml_path.open("rb") as fh:
        raw = tomllib.load(fh)
    problems: list[DataProblem] = []
    files: list[SourceFile] = []
    for i, entry in enumerate(raw.get("file", []), start=1):
        missing = [k for k in ("group", "path", "url", "sha256") if not entry.get(k)]
        if missing:
            problems.append(DataProblem(str(toml_path), f"entry {i} lacks {', '.join(missing)}", row=i))
            continue
        files.append(SourceFile(entry["group"], entry["path"], entry["url"], entry["sha256"].lower()))
    files += _more_sources(settings, raw, toml_path, problems)
    if problems:
        raise DataValidationError(problems)
    return files


def _more_sources(
    settings: Settings, raw: dict[str, Any], toml_path: Path, problems: list[DataProblem]
) -> list[SourceFile]:
    """The files named by the list's ``[[file_list]]`` entries.

    A ``[[file_list]]`` entry (``group``, ``checksums``, ``url_prefix``) names a file under ``data_dir`` in
    ``sha256sum`` format whose paths follow the mirror layout (``<owner>/<repo>/<commit>/<path>``); each of
    its lines becomes one `SourceFile` whose URL is ``url_prefix + path``. A list of thousands of files
    (the procedure detail pages) thus stays one short declaration plus one checksum file. Problems (an
    entry lacking a key, a missing checksum list, a malformed line) are appended to ``problems``.
    """
    files: list[SourceFile] = []
    for i, entry in enumerate(raw.get("file_list", []), start=1):
        missing = [k for k in ("group", "checksums", "url_prefix") if not entry.get(k)]
        if missing:
            problems.append(DataProblem(str(toml_path), f"file_list {i} lacks {', '.join(missing)}", row=i))
            continue
        listed = read_checksum_list(settings.data_dir / entry["checksums"], problems)
        files += [SourceFile(entry["group"], rel, entry["url_prefix"] + rel, sha) for rel, sha in listed]
    return files


def read_checksum_list(path: Path, problems: list[DataProblem]) -> list[tuple[str, str]]:
    """Read a ``sha256sum``-format list (``<hex>  <path>`` per line) as ``(path, sha256)`` pairs.

    A missing file or a malformed line is appended to ``problems`` (file and line number) and skipped;
    blank lines and ``#`` comments are ignored.
    """
    if not path.exists():
        problems.append(DataProblem(str(path), "checksum list not found"))
        return []
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        digest, _, rel = text.partition(" ")
        rel = rel.strip().removeprefix("*")  # sha256sum marks binary mode with "*"
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest) or not rel:
            message = f"malformed line (expected '<sha256>  <path>'): {text!r}"
            problems.append(DataProblem(str(path), message, row=number))
            continue
        pairs.append((rel, digest.lower()))
    return pairs


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def local_path(source: SourceFile, settings: Settings | None = None) -> Path:
    """Where the fetched copy of ``source`` lives."""
    settings = settings or get_settings()
    return settings.upstream_dir / source.path


def _download(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as response, dest.open("wb") as out:
        shutil.copyfileobj(response, out)


def fetch_file(source: SourceFile, settings: Settings | None = None) -> Path:
    """Make sure a verified copy of ``source`` is on disk and return its path.

    A copy already present with the right checksum is kept. Otherwise the file is copied from the
    mirror (when ``GANDAN_DATA_MIRROR`` is set) or downloaded, written aside, checked, then renamed
    into place, so a bad download never replaces a good file.

    Raises
    ------
    ChecksumMismatch
        The obtained file does not have the pinned sha256.
    SourceUnavailable
        Neither the mirror nor the network could provide it.
    """
    settings = settings or get_settings()
    dest = local_path(source, settings)
    if dest.exists() and sha256_of(dest) == source.sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".fetch-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if settings.data_mirror is not None:
            mirrored = settings.data_mirror / source.path
            if not mirrored.exists():
                raise SourceUnavailable(f"{source.path}: not in mirror {settings.data_mirror}")
            shutil.copyfile(mirrored, tmp)
            origin = str(mirrored)
        else:
            try:
                _download(source.url, tmp)
            except OSError as exc:
                raise SourceUnavailable(
                    f"{source.path}: download from {source.url} failed ({exc}); "
                    "set GANDAN_DATA_MIRROR to a mirror folder to work offline"
                ) from exc
            origin = source.url
        actual = sha256_of(tmp)
        if actual != source.sha256:
            raise ChecksumMismatch(
                f"{source.path}: sha256 {actual} from {origin} does not match pinned {source.sha256}"
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def fetch_all(
    settings: Settings | None = None,
    groups: Iterable[str] | None = None,
    progress: Callable[[SourceFile], None] | None = None,
) -> list[Path]:
    """Fetch every pinned file (optionally only some groups); return their local paths."""
    settings = settings or get_settings()
    wanted = set(groups) if groups is not None else None
    paths = []
    for source in load_sources(settings):
        if wanted is not None and source.group not in wanted:
            continue
        paths.append(fetch_file(source, settings))
        if progress:
            progress(source)
    return paths


def paths_of_group(group: str, settings: Settings | None = None) -> list[Path]:
    """Local paths of every file of a group, fetching any that are missing."""
    settings = settings or get_settings()
    sources = [s for s in load_sources(settings) if s.group == group]
    if not sources:
        raise SourceUnavailable(f"no pinned source in group {group!r} ({settings.data_dir / SOURCES_FILE})")
    return [fetch_file(s, settings) for s in sources]

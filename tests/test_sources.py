"""Pinned sources: fetch from a mirror, verify checksums, refuse a mismatch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from geo.errors import ChecksumMismatch, SourceUnavailable
from geo.settings import Settings
from geo.sources import SOURCES_FILE, SourceFile, fetch_file, load_sources, sha256_of


def _mirror_with(tmp_path: Path, rel: str, content: bytes) -> Path:
    mirror = tmp_path / "mirror"
    target = mirror / rel
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    return mirror


def test_pinned_list_covers_every_upstream_file(settings: Settings) -> None:
    sources = load_sources(settings)
    groups = {s.group for s in sources}
    assert {"hanoi-2025-wards", "hanoi-2025-population", "hanoi-2025-metadata", "osm-central-hanoi"} <= groups
    assert sum(s.group == "hanoi-2025-wards" for s in sources) == 126
    assert all(len(s.sha256) == 64 and s.url.startswith("https://") for s in sources)


def test_the_source_list_is_the_projects_not_the_boundaries(settings: Settings) -> None:
    assert settings.data_dir / SOURCES_FILE == settings.data_dir / "sources.toml"
    assert not (settings.data_dir / "boundaries" / "sources.toml").exists()
    groups = {s.group for s in load_sources(settings)}
    assert {"licence", "osm-central-hanoi"} <= groups  # OSM extracts and licences live in the same list


def test_fetched_files_match_their_pins(settings: Settings) -> None:
    for source in load_sources(settings)[:5]:
        assert sha256_of(fetch_file(source, settings)) == source.sha256


def test_copy_from_mirror_verifies_checksum(tmp_path: Path) -> None:
    content = b'{"hello": "world"}'
    rel = "owner/repo/abc/file.json"
    mirror = _mirror_with(tmp_path, rel, content)
    settings = Settings(data_mirror=mirror, upstream_dir=tmp_path / "up")
    good = SourceFile("g", rel, "https://example.invalid/x", hashlib.sha256(content).hexdigest())
    path = fetch_file(good, settings)
    assert path.read_bytes() == content


def test_checksum_mismatch_names_the_file_and_keeps_nothing(tmp_path: Path) -> None:
    rel = "owner/repo/abc/tampered.json"
    mirror = _mirror_with(tmp_path, rel, b"tampered")
    settings = Settings(data_mirror=mirror, upstream_dir=tmp_path / "up")
    bad = SourceFile("g", rel, "https://example.invalid/x", "0" * 64)
    with pytest.raises(ChecksumMismatch, match=r"tampered\.json"):
        fetch_file(bad, settings)
    assert not (tmp_path / "up" / rel).exists()
    assert list((tmp_path / "up").rglob(".fetch-*")) == []


def test_missing_mirror_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(data_mirror=tmp_path, upstream_dir=tmp_path / "up")
    missing = SourceFile("g", "o/r/c/absent.json", "https://example.invalid/x", "0" * 64)
    with pytest.raises(SourceUnavailable, match=r"absent\.json"):
        fetch_file(missing, settings)

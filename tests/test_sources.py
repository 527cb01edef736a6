"""Pinned sources: fetch from a mirror, verify checksums, refuse a mismatch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from geo.errors import ChecksumMismatch, DataValidationError, SourceUnavailable
from geo.settings import Settings
from geo.sources import SOURCES_FILE, SourceFile, fetch_all, fetch_file, load_sources, paths_of_group, sha256_of


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


# ------------------------------------------------------------------ checksum lists ([[file_list]])


def _catalogue_settings(tmp_path: Path, files: dict[str, bytes], listed: dict[str, str]) -> Settings:
    """A data folder whose extra source list names one checksum list, over a tiny fixture mirror."""
    mirror = tmp_path / "mirror"
    for rel, content in files.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(content)
    data = tmp_path / "data"
    (data / "sources").mkdir(parents=True)
    lines = ["# comment line", ""] + [f"{sha}  {rel}" for rel, sha in listed.items()]
    (data / "sources" / "pages.sha256").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data / SOURCES_FILE).write_text(
        '[[file_list]]\ngroup = "procedure-details"\nchecksums = "sources/pages.sha256"\n'
        'url_prefix = "https://raw.githubusercontent.com/"\n',
        encoding="utf-8",
    )
    return Settings(data_dir=data, data_mirror=mirror, upstream_dir=tmp_path / "up")


def test_checksum_list_expands_to_one_pinned_file_per_line(tmp_path: Path) -> None:
    pages = {f"o/r/c0mm1t/raw_data/1_00000{i}/1_00000{i}_procedure_detail.md": f"# page {i}".encode() for i in (1, 2)}
    listed = {rel: hashlib.sha256(content).hexdigest() for rel, content in pages.items()}
    settings = _catalogue_settings(tmp_path, pages, listed)
    sources = load_sources(settings)
    assert [s.path for s in sources] == list(pages)
    assert {s.group for s in sources} == {"procedure-details"}
    assert sources[0].url == "https://raw.githubusercontent.com/" + sources[0].path
    paths = fetch_all(settings, groups=["procedure-details"])
    assert [p.read_bytes() for p in paths] == list(pages.values())
    assert paths_of_group("procedure-details", settings) == paths


def test_checksum_list_mismatch_names_the_file(tmp_path: Path) -> None:
    pages = {"o/r/c/raw_data/1_000001/1_000001_procedure_detail.md": b"good", "o/r/c/raw_data/x/bad.md": b"edited"}
    listed = {rel: hashlib.sha256(b"good").hexdigest() for rel in pages}
    settings = _catalogue_settings(tmp_path, pages, listed)
    with pytest.raises(ChecksumMismatch, match=r"raw_data/x/bad\.md"):
        fetch_all(settings)
    assert not (tmp_path / "up" / "o/r/c/raw_data/x/bad.md").exists()


def test_malformed_checksum_line_is_reported_with_file_and_line(tmp_path: Path) -> None:
    settings = _catalogue_settings(tmp_path, {}, {"o/r/c/a.md": "not-a-digest"})
    with pytest.raises(DataValidationError) as err:
        load_sources(settings)
    (problem,) = err.value.problems
    assert problem.file.endswith("pages.sha256") and problem.row == 3


def test_catalogue_groups_are_pinned(settings: Settings) -> None:
    sources = load_sources(settings)
    catalogue = [s for s in sources if s.group == "procedure-catalogue"]
    details = [s for s in sources if s.group == "procedure-details"]
    assert [s.path.rsplit("/", 2)[-2:] for s in catalogue] == [["main", "full-data.csv"]]
    assert len(details) == 2104
    assert all(s.path.endswith("_procedure_detail.md") for s in details)
    assert all(s.url == "https://raw.githubusercontent.com/" + s.path for s in catalogue + details)
    assert sha256_of(fetch_file(catalogue[0], settings)) == catalogue[0].sha256

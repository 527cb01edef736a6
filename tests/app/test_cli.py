"""The command line (app.cli) as a delivery surface: its verbs, its error line, the offline coverage map."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from app.assets import VENDOR_DIR, web_assets_installed
from app.cli import app
from geo.offline import external_asset_urls
from geo.settings import PROJECT_ROOT

VERBS = ("data", "build", "nearest", "serve", "network", "db", "coverage", "ask", "mcp")  # DESIGN.md's contract


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for verb in VERBS:
        assert f" {verb} " in done.stdout, verb


def test_mcp_refuses_an_unknown_transport() -> None:
    result = CliRunner().invoke(app, ["mcp", "--transport", "carrier-pigeon"])
    assert result.exit_code == 1
    assert "stdio or http" in result.output and len(result.output.strip().splitlines()) == 1


def test_coverage_html_uses_the_vendored_assets(tmp_path: Path) -> None:
    """The CLI copies the vendored libraries beside the HTML (relative links): it opens offline, anywhere."""
    result = CliRunner().invoke(
        app, ["coverage", "--procedure", "1.001193", "--threshold", "1500", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "coverage_1.001193_straight_1500m.html").read_text(encoding="utf-8")
    if web_assets_installed():
        assert external_asset_urls(page) == [] and "file://" not in page
        assert '"vendor/leaflet/leaflet.js"' in page
        copied = tmp_path / "vendor" / "leaflet" / "leaflet.js"
        assert copied.read_bytes() == (VENDOR_DIR / "leaflet" / "leaflet.js").read_bytes()
        assert "web assets not installed" not in result.output
    else:
        assert "web assets not installed" in result.output


def test_the_domain_never_imports_the_delivery_surfaces() -> None:
    """geo/ sits below app/: no module of geo imports app (the app may import geo, never the reverse)."""
    offenders = []
    for path in sorted((PROJECT_ROOT / "geo").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] == "app"
            ]
    assert offenders == []


def test_procedure_verb_prints_the_record() -> None:
    result = CliRunner().invoke(app, ["procedure", "1.001193"])
    assert result.exit_code == 0, result.output
    assert "Giấy chứng sinh" in result.output and "Trực tuyến" in result.output
    assert "https://dichvucong.gov.vn/" in result.output
    result = CliRunner().invoke(app, ["procedure", "1.015002", "--json"])
    assert result.exit_code == 0 and '"handled_elsewhere"' in result.output and "Sở hữu trí tuệ" in result.output
    assert CliRunner().invoke(app, ["procedure", "9.999999"]).exit_code != 0


def test_nearest_and_ask_name_the_agency_of_a_procedure_not_at_a_service_point() -> None:
    result = CliRunner().invoke(app, ["nearest", "--lat", "21.0285", "--lon", "105.8542", "--procedure", "1.015002"])
    assert result.exit_code == 0, result.output
    assert "Cục Sở hữu trí tuệ" in result.output and "https://dichvucong.gov.vn/" in result.output
    result = CliRunner().invoke(app, ["ask", "giấy phép karaoke ở phường Cầu Giấy", "--at", "2026-03-02T09:30+07:00"])
    assert result.exit_code == 0, result.output
    assert "1.001029" in result.output and "tóm tắt:" in result.output

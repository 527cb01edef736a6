"""Front-end assets served by the app itself, so the map pages and the API docs work without the internet.

folium writes ``<script>`` and ``<link>`` tags that load Leaflet, jQuery, Bootstrap, Font Awesome, the
awesome-markers plugin (and d3 for branca colour scales) from public CDNs, and FastAPI's ``/docs`` and
``/redoc`` load Swagger UI and ReDoc from one. gandan installs the same libraries from the npm registry
at set-up instead, copies the files the pages use into `VENDOR_DIR` (``app/static/vendor/``,
git-ignored), and the app serves that folder at `VENDOR_URL` (``app.routes.pages.install`` mounts it).
`geo.offline.use_local_assets` then points a folium map, or any branca ``Figure``, at those copies
(callers pass `VENDOR_URL`, or ``VENDOR_DIR.as_uri()`` for a file); ``app.main`` builds the docs pages
on `SWAGGER_UI_JS`, `SWAGGER_UI_CSS`, `SWAGGER_UI_FAVICON` and `REDOC_JS`.

Set-up: ``make web-assets`` (a prerequisite of ``make build``) runs ``python -m app.assets``, which
calls `install_web_assets`:

* versions are pinned by ``app/pages/package.json`` and its ``package-lock.json`` (integrity hashes,
  no registry address); ``npm ci --ignore-scripts`` installs them into ``<build_dir>/web-assets``;
* the files listed in `COPIES` are copied into a fresh folder that then replaces ``app/static/vendor``
  in one rename, so a half-finished copy is never served;
* a stamp in the vendor folder records a fingerprint of the lock file and of `COPIES`: when it matches
  and every file is there, nothing runs (a few milliseconds), so the step is idempotent.

Adding a library (for example a folium plugin): add it to ``app/pages/package.json``, refresh the lock
(``npm install --package-lock-only --save-exact --omit-lockfile-registry-resolved`` in that folder),
list its files in `COPIES` and map folium's link name to its local path in `geo.offline.FOLIUM_ASSETS`.
`geo.offline.use_local_assets` refuses (`geo.offline.MissingWebAsset`) to render a page that would still
load something from a CDN.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from geo.errors import GandanError
from geo.offline import FOLIUM_ASSETS, ROTATE_CSS
from geo.settings import Settings, get_settings

__all__ = [
    "COPIES",
    "PACKAGE_DIR",
    "REDOC_JS",
    "STAMP_NAME",
    "SWAGGER_UI_CSS",
    "SWAGGER_UI_FAVICON",
    "SWAGGER_UI_JS",
    "VENDOR_DIR",
    "VENDOR_URL",
    "Copy",
    "InstallReport",
    "WebAssetsError",
    "install_web_assets",
    "main",
    "require_web_assets",
    "web_assets_installed",
]

PACKAGE_DIR = Path(__file__).resolve().parent / "pages"
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
VENDOR_URL = "/static/vendor"
STAMP_NAME = ".installed.json"
NPM_TIMEOUT_S = 600
LAYOUT_VERSION = 1  # bump when the copy logic changes in a way COPIES does not show


class WebAssetsError(GandanError):
    """The front-end assets are not installed, or installing them failed."""

    type = "web-assets"
    title = "Web assets not installed"
    status = 503


# What the API docs pages load, as paths inside the vendor folder (app.main builds /docs and /redoc on them).
SWAGGER_UI_JS = "swagger-ui/swagger-ui-bundle.js"
SWAGGER_UI_CSS = "swagger-ui/swagger-ui.css"
SWAGGER_UI_FAVICON = "swagger-ui/favicon-32x32.png"
REDOC_JS = "redoc/redoc.standalone.js"


@dataclass(frozen=True)
class Copy:
    """One file or folder copied from an installed npm package into the vendor folder."""

    package: str
    source: str  # path inside node_modules/<package>
    dest: str  # path inside the vendor folder
    # (old, new) texts replaced in a copied file; each old text must be there (an upgrade that drops
    # one fails the install rather than silently undoing the edit).
    replace: tuple[tuple[str, str], ...] = ()


COPIES: tuple[Copy, ...] = (
    Copy("leaflet", "dist/leaflet.js", "leaflet/leaflet.js"),
    Copy("leaflet", "dist/leaflet.js.map", "leaflet/leaflet.js.map"),
    Copy("leaflet", "dist/leaflet.css", "leaflet/leaflet.css"),
    Copy("leaflet", "dist/images", "leaflet/images"),
    Copy("leaflet", "LICENSE", "leaflet/LICENSE"),
    Copy("jquery", "dist/jquery.min.js", "jquery/jquery.min.js"),
    Copy("jquery", "LICENSE.txt", "jquery/LICENSE.txt"),
    Copy("bootstrap", "dist/js/bootstrap.bundle.min.js", "bootstrap/js/bootstrap.bundle.min.js"),
    Copy("bootstrap", "dist/js/bootstrap.bundle.min.js.map", "bootstrap/js/bootstrap.bundle.min.js.map"),
    Copy("bootstrap", "dist/css/bootstrap.min.css", "bootstrap/css/bootstrap.min.css"),
    Copy("bootstrap", "dist/css/bootstrap.min.css.map", "bootstrap/css/bootstrap.min.css.map"),
    Copy("bootstrap", "LICENSE", "bootstrap/LICENSE"),
    Copy("@fortawesome/fontawesome-free", "css/all.min.css", "fontawesome-free/css/all.min.css"),
    Copy("@fortawesome/fontawesome-free", "webfonts", "fontawesome-free/webfonts"),
    Copy("@fortawesome/fontawesome-free", "LICENSE.txt", "fontawesome-free/LICENSE.txt"),
    Copy(
        "leaflet.awesome-markers",
        "dist/leaflet.awesome-markers.js",
        "leaflet.awesome-markers/leaflet.awesome-markers.js",
    ),
    Copy(
        "leaflet.awesome-markers",
        "dist/leaflet.awesome-markers.css",
        "leaflet.awesome-markers/leaflet.awesome-markers.css",
    ),
    Copy("leaflet.awesome-markers", "dist/images", "leaflet.awesome-markers/images"),
    Copy("leaflet.awesome-markers", "LICENSE", "leaflet.awesome-markers/LICENSE"),
    # Bootstrap 3's glyphicons alone (folium.Icon's default prefix); the CSS expects ../fonts/.
    Copy("glyphicons-only-bootstrap", "css/bootstrap.min.css", "glyphicons/css/glyphicons.min.css"),
    Copy("glyphicons-only-bootstrap", "fonts", "glyphicons/fonts"),
    Copy("d3", "d3.min.js", "d3/d3.min.js"),
    Copy("d3", "LICENSE", "d3/LICENSE"),
    # The API docs (/docs, /redoc; see app.main): Swagger UI and ReDoc's self-contained bundle. Their
    # source maps (several MB, fetched only by an open DevTools) are left out.
    Copy("swagger-ui-dist", "swagger-ui-bundle.js", SWAGGER_UI_JS),
    Copy("swagger-ui-dist", "swagger-ui.css", SWAGGER_UI_CSS),
    Copy("swagger-ui-dist", "favicon-32x32.png", SWAGGER_UI_FAVICON),
    Copy("swagger-ui-dist", "LICENSE", "swagger-ui/LICENSE"),
    Copy("swagger-ui-dist", "NOTICE", "swagger-ui/NOTICE"),
    Copy(
        "redoc",
        "bundles/redoc.standalone.js",
        REDOC_JS,
        # The sidebar's "API docs by Redocly" logo comes from Redocly's CDN; `data:,` fails to load at
        # once and ReDoc then drops the image (its onError), so the page asks nothing from outside.
        replace=(("https://cdn.redoc.ly/redoc/logo-mini.svg", "data:,"),),
    ),
    Copy("redoc", "bundles/redoc.standalone.js.LICENSE.txt", "redoc/redoc.standalone.js.LICENSE.txt"),
    Copy("redoc", "LICENSE", "redoc/LICENSE"),
)


def _rotate_css() -> str:
    # folium.Icon(angle=n) adds the class fa-rotate-n; folium's own stylesheet defines one rule per degree.
    return "".join(f".fa-rotate-{n}{{transform:rotate({n}deg)}}" for n in range(1, 361)) + "\n"


GENERATED = {ROTATE_CSS: _rotate_css}


# ----------------------------------------------------------------------------------------- install
@dataclass
class InstallReport:
    """What `install_web_assets` did."""

    vendor_dir: Path
    installed: bool  # False: everything was already in place
    npm_ran: bool
    seconds: float
    files: int
    bytes: int
    versions: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the console."""
        what = "installed" if self.installed else "up to date"
        npm = ", npm ci ran" if self.npm_ran else ""
        return (
            f"web assets {what} in {self.vendor_dir} ({self.files} files, {self.bytes / 1e6:.1f} MB, "
            f"{self.seconds:.2f} s{npm})"
        )


def _fingerprint(package_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = package_dir / name
        if not path.is_file():
            raise WebAssetsError(f"{path} is missing: it pins the front-end libraries of the map pages")
        digest.update(path.read_bytes())
    digest.update(repr((LAYOUT_VERSION, COPIES, sorted(GENERATED))).encode())
    return digest.hexdigest()


def _read_stamp(vendor_dir: Path) -> dict[str, Any]:
    try:
        stamp: dict[str, Any] = json.loads((vendor_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return stamp


def web_assets_installed(vendor_dir: Path = VENDOR_DIR, package_dir: Path = PACKAGE_DIR) -> bool:
    """Whether ``vendor_dir`` holds the pinned assets (stamp matches, every copied file present)."""
    stamp = _read_stamp(vendor_dir)
    if stamp.get("fingerprint") != _fingerprint(package_dir):
        return False
    return all((vendor_dir / rel).exists() for rel in stamp.get("files", ())) and all(
        (vendor_dir / rel).is_file() for rel in FOLIUM_ASSETS.values()
    )


def require_web_assets(vendor_dir: Path = VENDOR_DIR, package_dir: Path = PACKAGE_DIR) -> None:
    """Raise `WebAssetsError` (HTTP 503) when the pinned assets are not installed in ``vendor_dir``."""
    if not web_assets_installed(vendor_dir, package_dir):
        raise WebAssetsError(
            f"the map pages' front-end libraries are not installed in {vendor_dir}: run `make web-assets` "
            "(or `python -m app.assets`)"
        )


def _npm_ci(package_dir: Path, staging_dir: Path, npm: str) -> bool:
    """Install the locked packages into ``staging_dir/node_modules``; False when already there."""
    lock = (package_dir / "package-lock.json").read_bytes()
    marker = staging_dir / "node_modules" / ".gandan-lock.sha256"
    want = hashlib.sha256(lock + (package_dir / "package.json").read_bytes()).hexdigest()
    if marker.is_file() and marker.read_text().strip() == want:
        return False
    exe = shutil.which(npm)
    if exe is None:
        raise WebAssetsError(
            f"`{npm}` was not found: Node.js and npm are needed once at set-up to install the map pages' "
            "libraries (Debian: apt-get install nodejs npm)"
        )
    staging_dir.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(package_dir / name, staging_dir / name)
    command = [
        exe,
        "ci",
        "--prefix",
        str(staging_dir),
        "--ignore-scripts",  # nothing to build: only the published files are used
        "--no-audit",
        "--no-fund",
        "--prefer-offline",  # the npm cache answers a re-install without the network
        "--loglevel=error",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise WebAssetsError(f"`npm ci` did not finish within {NPM_TIMEOUT_S} s in {staging_dir}") from exc
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise WebAssetsError(f"`npm ci` failed in {staging_dir} (exit {done.returncode}): {tail}")
    marker.write_text(want + "\n")
    return True


def _replaced(text: str, item: Copy) -> str:
    for old, new in item.replace:
        if old not in text:
            raise WebAssetsError(f"{item.package}'s {item.source} no longer contains {old!r} (app.assets.COPIES)")
        text = text.replace(old, new)
    return text


def _copy_into(node_modules: Path, out_dir: Path) -> list[str]:
    files: list[str] = []
    for item in COPIES:
        source = node_modules / item.package / item.source
        dest = out_dir / item.dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest)
            files.extend(str(p.relative_to(out_dir)) for p in sorted(dest.rglob("*")) if p.is_file())
        elif source.is_file() and item.replace:
            dest.write_text(_replaced(source.read_text(encoding="utf-8"), item), encoding="utf-8")
            files.append(item.dest)
        elif source.is_file():
            shutil.copyfile(source, dest)
            files.append(item.dest)
        else:
            raise WebAssetsError(f"{item.package} has no {item.source} (expected by app.assets.COPIES)")
    for rel, make in GENERATED.items():
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(make())
        files.append(rel)
    return files


def _versions(node_modules: Path) -> dict[str, str]:
    out = {}
    for package in sorted({c.package for c in COPIES}):
        meta = json.loads((node_modules / package / "package.json").read_text())
        out[package] = str(meta.get("version"))
    return out


def install_web_assets(
    vendor_dir: Path = VENDOR_DIR,
    staging_dir: Path | None = None,
    package_dir: Path = PACKAGE_DIR,
    force: bool = False,
    npm: str = "npm",
    settings: Settings | None = None,
) -> InstallReport:
    """Install the pinned front-end libraries into ``vendor_dir`` unless they are already there.

    Parameters
    ----------
    vendor_dir
        Folder served at `VENDOR_URL` (replaced as a whole when (re)installed).
    staging_dir
        Where ``npm ci`` installs ``node_modules`` (default ``<build_dir>/web-assets``); kept, so a
        re-copy does not need npm.
    package_dir
        Folder holding ``package.json`` and ``package-lock.json``.
    force
        Reinstall even when the stamp says the assets are in place.
    npm
        The npm executable.
    settings
        Settings giving the build folder (default: the process settings).

    Returns
    -------
    InstallReport
        What was done, how many files, how long it took.
    """
    started = time.perf_counter()
    vendor_dir = Path(vendor_dir)
    if not force and web_assets_installed(vendor_dir, package_dir):
        return _up_to_date(vendor_dir, started)
    staging = Path(staging_dir) if staging_dir is not None else (settings or get_settings()).build_dir / "web-assets"
    staging.parent.mkdir(parents=True, exist_ok=True)
    # One installer at a time (parallel test workers, make -j): the others wait, then find it done.
    with open(staging.with_name(staging.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and web_assets_installed(vendor_dir, package_dir):
            return _up_to_date(vendor_dir, started)
        return _install(vendor_dir, staging, package_dir, npm, started)


def _up_to_date(vendor_dir: Path, started: float) -> InstallReport:
    stamp = _read_stamp(vendor_dir)
    return InstallReport(
        vendor_dir=vendor_dir,
        installed=False,
        npm_ran=False,
        seconds=time.perf_counter() - started,
        files=len(stamp.get("files", ())),
        bytes=int(stamp.get("bytes", 0)),
        versions=dict(stamp.get("versions", {})),
    )


def _install(vendor_dir: Path, staging: Path, package_dir: Path, npm: str, started: float) -> InstallReport:
    fingerprint = _fingerprint(package_dir)
    npm_ran = _npm_ci(package_dir, staging, npm)
    node_modules = staging / "node_modules"

    # Build the new folder beside the old one, then swap: the app never serves a partial copy.
    vendor_dir.parent.mkdir(parents=True, exist_ok=True)
    fresh = vendor_dir.with_name(f".{vendor_dir.name}.new-{os.getpid()}")
    old = vendor_dir.with_name(f".{vendor_dir.name}.old-{os.getpid()}")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    try:
        files = _copy_into(node_modules, fresh)
        versions = _versions(node_modules)
        size = sum((fresh / rel).stat().st_size for rel in files)
        stamp = {
            "fingerprint": fingerprint,
            "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": versions,
            "files": files,
            "bytes": size,
        }
        (fresh / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n")
        if vendor_dir.exists():
            vendor_dir.rename(old)
        fresh.rename(vendor_dir)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return InstallReport(
        vendor_dir=vendor_dir,
        installed=True,
        npm_ran=npm_ran,
        seconds=time.perf_counter() - started,
        files=len(files),
        bytes=size,
        versions=versions,
    )


# ------------------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.assets [--force] [--check]``: install the map pages' libraries (idempotent)."""
    parser = argparse.ArgumentParser(prog="python -m app.assets", description=main.__doc__)
    parser.add_argument("--force", action="store_true", help="reinstall even when up to date")
    parser.add_argument("--check", action="store_true", help="only say whether they are installed (exit 1 if not)")
    parser.add_argument("--vendor-dir", type=Path, default=VENDOR_DIR, help="target folder")
    args = parser.parse_args(argv)
    try:
        if args.check:
            ok = web_assets_installed(args.vendor_dir)
            print(f"web assets {'installed' if ok else 'NOT installed'} in {args.vendor_dir}")
            return 0 if ok else 1
        report = install_web_assets(args.vendor_dir, force=args.force)
    except GandanError as exc:
        print(f"web-assets: {exc.detail}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Settings for gandan, read from the environment with the ``GANDAN_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PROJECT_ROOT", "Settings", "get_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every tunable of gandan; one instance per process (see `get_settings`)."""

    model_config = SettingsConfigDict(env_prefix="GANDAN_", env_file=None, extra="ignore")

    data_mirror: Path | None = Field(
        default=None,
        description="Folder laid out as <owner>/<repo>/<commit>/<path>; when set, upstream files come from here.",
    )
    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="Authored data (CSV) and sources list.")
    upstream_dir: Path = Field(
        default=PROJECT_ROOT / "data" / "boundaries" / "upstream",
        description="Where fetched upstream files are stored (git-ignored).",
    )
    build_dir: Path = Field(default=PROJECT_ROOT / "build", description="Build artifacts (index, graphs).")
    boundary_set: str = Field(default="hanoi-2025", description="Boundary set id used by default.")
    backend: Literal["embedded", "postgis"] = Field(default="embedded", description="Query backend.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the PostGIS database.")
    tile_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png", description="Map tile URL template."
    )
    tile_attribution: str = Field(
        default='&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        description="Attribution shown with the tiles.",
    )
    max_k: int = Field(default=50, description="Largest k accepted by nearest queries.")
    network_max_snap_m: float = Field(default=500.0, description="Farthest snap from a point to a usable road.")
    network_cache_size: int = Field(default=32, description="Multi-source results kept per mode (LRU).")
    network_speeds: Path | None = Field(default=None, description="Speeds/access TOML overriding the default.")
    state_dir: Path | None = Field(
        default=None, description="Live staff state (staff.sqlite: tokens, changes, audit); default build/state."
    )
    staff_database_url: str | None = Field(
        default=None,
        description=(
            "URL of a PostGIS role that may write the staff tables; when set, staff state lives there "
            "(default with the postgis backend: database_url; else SQLite in state_dir)."
        ),
    )
    staff_writes_per_minute: int = Field(default=600, description="Staff writes allowed per client and worker.")
    staff_signin_failures_per_minute: int = Field(
        default=10, description="Failed staff sign-ins allowed per client and worker before 429."
    )
    siting_time_limit_s: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Wall-clock budget of one site suggestion (seconds): CBC is stopped then; its best solution or the "
            "greedy sites, whichever covers more, is the answer."
        ),
    )
    database_pool_size: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "PostGIS connections per API worker for nearest queries. The waiting queries leave as one batched "
            "statement, so one connection per worker kept the tail shortest with the database on the same cores "
            "(bench.py http: p99 35-41 ms with 1, 84-152 ms with 2); a database on its own machine may use more."
        ),
    )
    live_poll_s: float = Field(
        default=1.0, description="How often each worker checks for a new index or new staff changes (seconds)."
    )

    @property
    def index_dir(self) -> Path:
        """Folder of the built index artifact."""
        return self.build_dir / "index"

    @property
    def staff_dir(self) -> Path:
        """Folder of the live staff state (``GANDAN_STATE_DIR``, default ``build/state``)."""
        return self.state_dir or self.build_dir / "state"

    @property
    def network_dir(self) -> Path:
        """Folder of the built road-network graphs."""
        return self.build_dir / "network"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()

"""Which OSM ways each travel mode may use, in which direction, and at what speed.

The rules live in ``data/network_speeds.toml`` (documented there); this module reads and validates
that file and applies it to one way's tags.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.errors import DataProblem, DataValidationError
from geo.modes import ROAD_MODES
from geo.settings import PROJECT_ROOT

__all__ = [
    "ALLOW_VALUES",
    "DEFAULT_SPEEDS_PATH",
    "DENY_VALUES",
    "NON_ROUTABLE",
    "ModeRules",
    "SpeedTable",
    "edge_rule",
    "load_speeds",
    "way_tags",
]

DEFAULT_SPEEDS_PATH = PROJECT_ROOT / "data" / "network_speeds.toml"

# Values of the access keys (https://wiki.openstreetmap.org/wiki/Key:access). Anything else (lane
# syntax "yes|no", conditional values, typos) is not understood and defers to the next, more general key.
ALLOW_VALUES = frozenset(
    {"yes", "permissive", "designated", "destination", "customers", "delivery", "official", "discouraged"}
)
DENY_VALUES = frozenset(
    {"no", "private", "permit", "agricultural", "forestry", "use_sidepath", "military", "emergency", "restricted"}
)
# highway=* values that are never a travelled way, whatever the access tags say.
NON_ROUTABLE = frozenset(
    {
        "abandoned", "bus_guideway", "bus_stop", "construction", "disused", "elevator", "escalator",
        "ladder", "no", "planned", "platform", "proposed", "raceway", "razed", "rest_area", "services",
    }
)
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_ONEWAY_BOTH = frozenset({"no", "false", "0", "alternating", "reversible"})
# osmnx stores a way tagged with one of these in reverse node order (osmnx.graph._add_paths).
OSMNX_REVERSED_VALUES = frozenset({"-1", "reverse", "T"})
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$")
_NO_SIDEWALK = frozenset({"no", "none"})
_MODE_KEYS = {
    "default_kmh", "access_keys", "oneway_keys", "no_sidewalk_excluded", "motorroad_excluded",
    "respect_maxspeed", "highway_kmh", "service_kmh",
}
# Tags read by `edge_rule` besides the configured access and one-way keys.
_BASE_TAGS = (
    "highway", "service", "area", "junction", "maxspeed", "oneway", "sidewalk", "sidewalk:both",
    "motorroad", "name",
)


@dataclass(frozen=True)
class ModeRules:
    """The access, direction and speed rules of one travel mode (see ``data/network_speeds.toml``)."""

    mode: str
    highway_kmh: Mapping[str, float]
    service_kmh: Mapping[str, float]
    default_kmh: float
    access_keys: tuple[str, ...]
    oneway_keys: tuple[str, ...]
    no_sidewalk_excluded: frozenset[str]
    motorroad_excluded: bool
    respect_maxspeed: bool


@dataclass(frozen=True)
class SpeedTable:
    """The rules of every mode, with the file they came from and its sha256."""

    modes: Mapping[str, ModeRules]
    path: str
    sha256: str

    def __getitem__(self, mode: str) -> ModeRules:
        """Return the rules of ``mode``."""
        return self.modes[mode]


def _as_speed_map(value: Any, where: str, problems: list[DataProblem], path: str, zero_ok: bool) -> dict[str, float]:
    if not isinstance(value, dict):
        problems.append(DataProblem(path, f"{where} must be a table of class = km/h"))
        return {}
    speeds: dict[str, float] = {}
    for key, kmh in value.items():
        if isinstance(kmh, bool) or not isinstance(kmh, int | float):
            problems.append(DataProblem(path, f"{where}.{key} = {kmh!r} is not a number"))
        elif kmh < 0 or (kmh == 0 and not zero_ok) or kmh > 150:
            problems.append(DataProblem(path, f"{where}.{key} = {kmh} km/h is out of range"))
        else:
            speeds[str(key)] = float(kmh)
    return speeds


def _as_str_tuple(value: Any, where: str, problems: list[DataProblem], path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(DataProblem(path, f"{where} must be a list of strings"))
        return ()
    return tuple(value)


def load_speeds(path: str | Path | None = None) -> SpeedTable:
    """Read and validate a speeds file (default ``data/network_speeds.toml``).

    Parameters
    ----------
    path
        A TOML file laid out like ``data/network_speeds.toml``; ``None`` reads the project's file.

    Returns
    -------
    SpeedTable
        The rules of the three modes.

    Raises
    ------
    DataValidationError
        The file is missing, is not TOML, or a table, key or speed is missing or out of range.
    """
    toml_path = Path(path) if path is not None else DEFAULT_SPEEDS_PATH
    where = str(toml_path)
    try:
        raw_bytes = toml_path.read_bytes()
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataValidationError([DataProblem(where, f"cannot read speeds file: {exc}")]) from exc
    problems: list[DataProblem] = []
    modes: dict[str, ModeRules] = {}
    for extra in sorted(set(raw) - set(ROAD_MODES)):
        problems.append(DataProblem(where, f"unknown table [{extra}] (modes are {', '.join(ROAD_MODES)})"))
    for mode in ROAD_MODES:
        table = raw.get(mode)
        if not isinstance(table, dict):
            problems.append(DataProblem(where, f"missing table [{mode}]"))
            continue
        for extra in sorted(set(table) - _MODE_KEYS):
            problems.append(DataProblem(where, f"[{mode}] has unknown key {extra!r}"))
        default = table.get("default_kmh")
        if isinstance(default, bool) or not isinstance(default, int | float) or not 0 < default <= 150:
            problems.append(DataProblem(where, f"[{mode}] default_kmh = {default!r} must be in (0, 150]"))
            default = 1.0
        highway = _as_speed_map(table.get("highway_kmh"), f"[{mode}.highway_kmh]", problems, where, zero_ok=True)
        if not any(v > 0 for v in highway.values()):
            problems.append(DataProblem(where, f"[{mode}.highway_kmh] makes no road class usable"))
        service = _as_speed_map(table.get("service_kmh", {}), f"[{mode}.service_kmh]", problems, where, zero_ok=True)
        access = _as_str_tuple(table.get("access_keys"), f"[{mode}] access_keys", problems, where)
        oneway = _as_str_tuple(table.get("oneway_keys"), f"[{mode}] oneway_keys", problems, where)
        no_sidewalk = _as_str_tuple(table.get("no_sidewalk_excluded", []), f"[{mode}] no_sidewalk_excluded",
                                    problems, where)
        flags = {}
        for flag in ("motorroad_excluded", "respect_maxspeed"):
            value = table.get(flag, False)
            if not isinstance(value, bool):
                problems.append(DataProblem(where, f"[{mode}] {flag} must be true or false"))
                value = False
            flags[flag] = value
        modes[mode] = ModeRules(
            mode=mode, highway_kmh=highway, service_kmh=service, default_kmh=float(default),
            access_keys=access, oneway_keys=oneway, no_sidewalk_excluded=frozenset(no_sidewalk),
            motorroad_excluded=flags["motorroad_excluded"], respect_maxspeed=flags["respect_maxspeed"],
        )
    if problems:
        raise DataValidationError(problems)
    return SpeedTable(modes=modes, path=where, sha256=hashlib.sha256(raw_bytes).hexdigest())


def way_tags(speeds: SpeedTable) -> list[str]:
    """The OSM way tags the rules read: osmnx must keep them as edge attributes."""
    tags = list(_BASE_TAGS)
    for rules in speeds.modes.values():
        for key in (*rules.access_keys, *rules.oneway_keys):
            if key not in tags:
                tags.append(key)
    return tags


def _norm(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):  # osmnx lists the values of merged ways; raw ways carry one
        value = value[0] if value else None
        if value is None:
            return None
    return str(value).strip().lower()


def _maxspeed_kmh(value: Any) -> float | None:
    text = _norm(value)
    if text is None:
        return None
    match = _MAXSPEED.match(text)
    if not match:
        return None  # "VN:urban", "signals", ...: no number to cap with
    kmh = float(match.group(1))
    if match.group(2) == "mph":
        kmh *= 1.609344
    return kmh if kmh > 0 else None


def _direction(tags: Mapping[str, Any], rules: ModeRules) -> tuple[bool, bool]:
    """Allowed (along, against) the OSM way's node order for this mode."""
    if not rules.oneway_keys:
        return True, True
    for key in rules.oneway_keys:
        value = _norm(tags.get(key))
        if value in _ONEWAY_FORWARD:
            return True, False
        if value in _ONEWAY_BACKWARD:
            return False, True
        if value in _ONEWAY_BOTH:
            return True, True
    if _norm(tags.get("junction")) in {"roundabout", "circular"}:
        return True, False
    return True, True


def edge_rule(
    tags: Mapping[str, Any], rules: ModeRules, stored_reversed: bool = False
) -> tuple[float, bool, bool] | None:
    """Decide whether a mode may use one OSM way segment, at what speed and in which direction.

    Parameters
    ----------
    tags
        The way's tags (as osmnx stores them on an edge).
    rules
        The mode's rules.
    stored_reversed
        True when the segment is stored against the way's node order (osmnx reverses ways tagged
        ``oneway=-1``), so "along the way" is the stored edge's backward direction.

    Returns
    -------
    tuple of (float, bool, bool) or None
        ``(speed_kmh, forward_ok, backward_ok)`` relative to the stored direction, or None when the
        mode may not use the way at all.
    """
    if _norm(tags.get("area")) == "yes":
        return None
    highway = _norm(tags.get("highway"))
    if not highway or highway in NON_ROUTABLE:
        return None
    explicit = _explicit_access(tags, rules)
    if explicit is None or (rules.motorroad_excluded and _norm(tags.get("motorroad")) == "yes"):
        return None
    kmh = _speed_kmh(tags, highway, rules, explicit)
    if kmh is None:
        return None
    along, against = _direction(tags, rules)
    if stored_reversed:
        along, against = against, along
    if not (along or against):
        return None
    return kmh, along, against


def _explicit_access(tags: Mapping[str, Any], rules: ModeRules) -> bool | None:
    """None when an access tag denies the mode; else whether a tag naming the mode explicitly allows it."""
    for key in rules.access_keys:
        value = _norm(tags.get(key))
        if value is None:
            continue
        if value in DENY_VALUES:
            return None
        if value in ALLOW_VALUES:
            # Only a key naming the mode (or its vehicle class) can open a class the mode does not use.
            return key != "access"
    return False


def _speed_kmh(tags: Mapping[str, Any], highway: str, rules: ModeRules, explicit: bool) -> float | None:
    """The mode's speed on the way (capped by maxspeed when the mode respects it), or None if unusable."""
    kmh = rules.highway_kmh.get(highway, 0.0)
    service = _norm(tags.get("service"))
    if highway == "service" and service is not None and service in rules.service_kmh:
        kmh = rules.service_kmh[service]
    if kmh <= 0:
        if not explicit:
            return None
        kmh = rules.default_kmh
    if highway in rules.no_sidewalk_excluded and not explicit and (
        _norm(tags.get("sidewalk")) in _NO_SIDEWALK or _norm(tags.get("sidewalk:both")) in _NO_SIDEWALK
    ):
        return None
    if rules.respect_maxspeed:
        cap = _maxspeed_kmh(tags.get("maxspeed"))
        if cap is not None:
            kmh = min(kmh, cap)
    return kmh

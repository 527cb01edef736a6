"""Place names of Hanoi for free-text lookups, and the query tokens they are matched on.

A `Gazetteer` knows five kinds of names, each resolved to a point and the 2025 commune around it:

``commune``
    The 126 units in force (``phường Cầu Giấy``): the commune's interior point (its centroid when that
    lies inside, else a representative point).
``former_unit``
    The 526 pre-2025 units (``phường Quán Thánh``), through the crosswalk. The unit's own point (from
    ``vietnamadminunits``) is kept as the origin: a former ward is smaller than the commune it joined,
    so its point says more about where the person is. A unit that went whole to one commune resolves
    to it. A unit split between several communes resolves to "the likely part", the one that holds its
    point, and lists every part so a caller can ask back.
``former_district``
    The 30 districts abolished on 2025-07-01 (``quận Đống Đa``). A district is an area, not a place: it
    resolves to the centroid of its former units' points, together with the set of communes that took
    them (weighted by how much of each unit they took). The centroid only stands in for the person's
    position when the district is compact: when 90 % of its units lie within `DISTRICT_ANSWER_SPREAD_KM`
    of it (the 7 inner urban districts); a larger district (Ba Vì spans 35 km) makes the nearest office
    from its middle meaningless, so the caller must ask which commune.
``landmark``
    ``data/place_aliases.csv``: well-known places (``Hồ Gươm``, ``Bệnh viện Bạch Mai``), each anchored
    on an OSM street (optionally inside a given commune) or on a former unit's point, with its source.
``street``
    OSM street names (`geo.streets.load_osm_streets`, central Hanoi only): a point on the street (inside
    a commune when one is named), never a house: the road data has no house numbers.

Names are matched on tokens (`tokenize`): NFC, lower case, common abbreviations expanded (``p.`` →
phường, ``q.`` → quận, ``tp``, ``hn``, ``ubnd``, ``tx``, ``tt``…), folded to ASCII with `geo.text.fold`
(``đ`` → ``d``) and with the interchangeable final ``i``/``y`` unified (``kí``/``ký``, ``Mĩ``/``Mỹ``).
Each token keeps its `geo.text.tone_key`, so a caller can prefer the name whose diacritics match exactly
("Phú Đông" is not "Phù Đổng") while a query typed without diacritics still matches.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from geo.ask.understanding import Place
from geo.errors import DataProblem, DataValidationError
from geo.geodesy import METRIC_CRS, TO_METRIC, TO_WGS84
from geo.index import Index
from geo.messages import message
from geo.settings import get_settings
from geo.tables import read_table
from geo.text import fold, nfc, tone_key

__all__ = [
    "ABBREVIATIONS",
    "ALIASES_FILE",
    "ALIAS_COLUMNS",
    "DISTRICT_ANSWER_SPREAD_KM",
    "EntryKind",
    "Gazetteer",
    "PlaceEntry",
    "Token",
    "canonical",
    "is_letters",
    "load_place_aliases",
    "name_key",
    "span_text",
    "tokenize",
]

ALIASES_FILE = "place_aliases.csv"
ALIAS_COLUMNS = ("names", "kind", "address", "street", "commune_code", "legacy_code", "source")
DISTRICT_ANSWER_SPREAD_KM = 3.0
"""A district whose former units lie (90th percentile) within this of their centroid is answered from it."""
STREET_TOLERANCE_M = 25.0  # a street on a commune boundary still belongs to it (as in geo.geocode)
LONG_STREET_M = 1500.0  # beyond this a street alone says little about where on it the person is

EntryKind = Literal["commune", "former_unit", "former_district", "landmark", "street"]

ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "p": ("phường",),
    "ph": ("phường",),
    "q": ("quận",),
    "x": ("xã",),
    "h": ("huyện",),
    "tx": ("thị", "xã"),
    "tt": ("thị", "trấn"),
    "tp": ("thành", "phố"),
    "hn": ("hà", "nội"),
    "ubnd": ("uỷ", "ban", "nhân", "dân"),
    "dk": ("đăng", "ký"),
    "đk": ("đăng", "ký"),
    "đky": ("đăng", "ký"),
    "dky": ("đăng", "ký"),
    "gks": ("giấy", "khai", "sinh"),
    "cccd": ("căn", "cước", "công", "dân"),
    "cmnd": ("chứng", "minh", "nhân", "dân"),
    "cmt": ("chứng", "minh", "thư"),
    "lltp": ("lý", "lịch", "tư", "pháp"),
    "gplx": ("giấy", "phép", "lái", "xe"),
    "gpxd": ("giấy", "phép", "xây", "dựng"),
    "bhyt": ("bảo", "hiểm", "y", "tế"),
    "hkd": ("hộ", "kinh", "doanh"),
    "svđ": ("sân", "vận", "động"),
    "svd": ("sân", "vận", "động"),
    "bv": ("bệnh", "viện"),
    "đh": ("đại", "học"),
}
"""Abbreviations expanded token by token (keys are lower-case, as written)."""

_TOKEN = re.compile(r"\d+[^\W_]*(?:[./]\d+[^\W_]*)*|[^\W\d_]+")
_FINAL_Y = re.compile(r"^([bdhklmstv])y$")
_BARE_LANE = re.compile(r"^(?:(?:ngo|ngach|hem|kiet) \S*\d\S*\s*)+$")
_KIND_LABEL = {
    "phuong": "phường",
    "xa": "xã",
    "thi_tran": "thị trấn",
    "quan": "quận",
    "huyen": "huyện",
    "thi_xa": "thị xã",
}


# --------------------------------------------------------------------------------------------- tokens


def canonical(word: str) -> str:
    """Matching key of one folded word: the interchangeable final ``y`` after a consonant becomes ``i``.

    Vietnamese spelling allows both ``kí``/``ký``, ``lí``/``lý``, ``Mĩ``/``Mỹ``; ``uy``, ``ay``, ``ây`` are
    other vowels and stay.
    """
    return _FINAL_Y.sub(r"\1i", word)


def name_key(text: str) -> str:
    """The matching key of a name: its tokens' keys joined by spaces (``"Phường Yên Hoà"`` → ``"phuong yen hoa"``)."""
    return " ".join(t.key for t in tokenize(text, expand=False))


@dataclass(frozen=True)
class Token:
    """One word of a query: as written (NFC, lower case), its matching key and tone key, and offsets."""

    text: str
    key: str
    tone: str
    start: int
    end: int
    accented: bool
    expanded: bool = False


def tokenize(text: str, expand: bool = True) -> list[Token]:
    """Split text into `Token` s (letters, or numbers with their letters, ``85a``, ``37/27``, ``1.001193``).

    With ``expand``, abbreviations in `ABBREVIATIONS` become their words (each with the span of the
    abbreviation); ``p.Cầu Giấy`` splits at the dot as any punctuation does.
    """
    out: list[Token] = []
    lowered = nfc(text).lower()
    for match in _TOKEN.finditer(lowered):
        word = match.group(0)
        words = ABBREVIATIONS.get(word) if expand else None
        for part in words or (word,):
            folded = fold(part)
            out.append(
                Token(
                    text=part,
                    key=canonical(folded),
                    tone=tone_key(part),
                    start=match.start(),
                    end=match.end(),
                    accented=part != folded,
                    expanded=words is not None,
                )
            )
    return out


def span_text(tokens: Sequence[Token], start: int, end: int) -> str:
    """The words ``tokens[start:end]`` as written, joined by spaces (what a match read, for messages)."""
    return " ".join(t.text for t in tokens[start:end])


# --------------------------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class PlaceEntry:
    """One name in the gazetteer.

    ``unit`` is the administrative type (phuong, xa, thi_tran, quan, huyen, thi_xa; ``""`` for landmarks
    and streets); ``code`` the commune, legacy unit, district or landmark id, or the street key.
    """

    kind: EntryKind
    unit: str
    code: str
    name: str
    key: str
    tone: str
    district: str = ""
    district_code: str = ""

    @property
    def label(self) -> str:
        """How to name the entry to a person (``"phường Quán Thánh cũ (quận Ba Đình)"``)."""
        prefix = _KIND_LABEL.get(self.unit, "")
        if self.kind == "former_unit":
            where = f" ({self.district[:1].lower()}{self.district[1:]})" if self.district else ""
            return f"{prefix} {self.name} cũ{where}"
        if self.kind == "former_district":
            return f"{prefix} {self.name} cũ"
        if self.kind == "street":
            return f"phố {self.name}"
        return f"{prefix} {self.name}".strip()


# --------------------------------------------------------------------------------------------- aliases


def load_place_aliases(path: Path | None = None) -> pd.DataFrame:
    """Read and check ``data/place_aliases.csv`` (one landmark per row, ``|``-separated names).

    Every row needs names, a kind, a source, and an anchor: a street, a commune code or a legacy unit
    code. Codes are checked against the index by `Gazetteer` (it knows them).

    Raises
    ------
    DataValidationError
        One `DataProblem` per bad row.
    """
    path = path or get_settings().data_dir / ALIASES_FILE
    label = path.name
    rows = read_table(path, ALIAS_COLUMNS, label=label)
    problems: list[DataProblem] = []
    for rec in rows:
        i = rec.number
        names = [n for n in (nfc(x) for x in rec["names"].split("|")) if n]
        who = names[0] if names else None
        if not names:
            problems.append(DataProblem(label, "no names", row=i))
        if not rec["source"].strip():
            problems.append(DataProblem(label, "empty source", row=i, id=who))
        if not (rec["street"].strip() or rec["commune_code"].strip() or rec["legacy_code"].strip()):
            problems.append(DataProblem(label, "no anchor (street, commune_code or legacy_code)", row=i, id=who))
        for column in ("commune_code", "legacy_code"):
            value = rec[column].strip()
            if value and not re.fullmatch(r"\d{5}", value):
                problems.append(DataProblem(label, f"{column} {value!r} is not 5 digits", row=i, id=who))
    if problems:
        raise DataValidationError(problems)
    return pd.DataFrame([dict(r) for r in rows], columns=list(ALIAS_COLUMNS), dtype=object)


# --------------------------------------------------------------------------------------------- gazetteer


class Gazetteer:
    """Every place name gandan understands, with the points and communes they resolve to.

    Parameters
    ----------
    index
        The built index (communes, legacy units, crosswalk).
    commune_at
        ``(lon, lat) -> dict | None``: the commune at a point (``Finder.commune_at``).
    districts
        The 30 former districts (`geo.legacy.load_legacy_districts`).
    aliases
        Landmarks (`load_place_aliases`); None for none.
    streets
        OSM streets (`geo.streets.load_osm_streets`); None when the road data is not available.
    """

    def __init__(
        self,
        index: Index,
        commune_at: Any,
        districts: gpd.GeoDataFrame,
        aliases: pd.DataFrame | None = None,
        streets: gpd.GeoDataFrame | None = None,
    ) -> None:
        self.index = index
        self.commune_at = commune_at
        self._to_metric = TO_METRIC
        self._to_wgs = TO_WGS84
        self.entries: dict[str, list[PlaceEntry]] = defaultdict(list)
        self.problems: list[DataProblem] = []
        communes = index.communes.reset_index(drop=True)
        self._communes = {str(r.code): r for r in communes.itertuples(index=False)}
        self._polygons_metric = dict(
            zip(communes["code"].astype(str), communes.geometry.to_crs(METRIC_CRS), strict=True)
        )
        self._interior = {code: self._interior_point(row.geometry) for code, row in self._communes.items()}
        legacy = index.legacy_units.reset_index(drop=True)
        self._legacy = {str(r.code): r for r in legacy.itertuples(index=False)}
        self._pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for pair in index.crosswalk.itertuples(index=False):
            self._pairs[str(pair.legacy_code)].append((str(pair.new_code), str(pair.relation)))
        self._districts = {str(r.code): r for r in districts.itertuples(index=False)}
        self._landmarks: dict[str, Place] = {}
        self._street_lines: dict[str, list[BaseGeometry]] = defaultdict(list)
        self._street_names: dict[str, str] = {}
        self._street_cache: dict[tuple[str, str], Place | None] = {}
        self.has_streets = streets is not None and len(streets) > 0

        for code, row in self._communes.items():
            unit = "phuong" if str(row.kind) == "ward" else "xa"
            name = nfc(str(row.name))
            self._add(PlaceEntry("commune", unit, code, name, name_key(name), tone_key(name)))
            if " - " in name:
                # A compound name ("Văn Miếu - Quốc Tử Giám") is also said by either half.
                for half in name.split(" - "):
                    self._add(PlaceEntry("commune", unit, code, name, name_key(half), tone_key(half)))
        for code, row in self._legacy.items():
            self._add(
                PlaceEntry(
                    "former_unit",
                    str(row.kind),
                    code,
                    nfc(str(row.name)),
                    name_key(row.name),
                    tone_key(row.name),
                    district=nfc(str(row.district)),
                    district_code=str(row.district_code),
                )
            )
        for code, row in self._districts.items():
            self._add(
                PlaceEntry(
                    "former_district", str(row.kind), code, nfc(str(row.name)), name_key(row.name), tone_key(row.name)
                )
            )
        if streets is not None and len(streets):
            self._index_streets(streets)
        if aliases is not None:
            self._index_aliases(aliases)

    # ------------------------------------------------------------------ building
    def _add(self, entry: PlaceEntry) -> None:
        self.entries[entry.key].append(entry)

    def _interior_point(self, polygon: BaseGeometry) -> tuple[float, float]:
        centroid = polygon.centroid
        point = centroid if polygon.contains(centroid) else polygon.representative_point()
        return float(point.x), float(point.y)

    def _index_streets(self, streets: gpd.GeoDataFrame) -> None:
        from geo.streets import street_key

        metric = streets.to_crs(METRIC_CRS)
        for name, alt, geometry in zip(metric["name"], metric["alt_names"], metric.geometry, strict=True):
            for one in [name, *[a for a in str(alt).split(";") if a]]:
                key = " ".join(canonical(w) for w in street_key(one).split())
                if not key or _BARE_LANE.match(key):
                    continue  # "Ngõ 25" alone names no street
                self._street_lines[key].append(geometry)
                if key not in self._street_names:
                    self._street_names[key] = _street_display(one)
                    self._add(
                        PlaceEntry("street", "", key, self._street_names[key], key, tone_key(_street_display(one)))
                    )

    def _index_aliases(self, aliases: pd.DataFrame) -> None:
        for i, rec in enumerate(aliases.to_dict("records"), start=2):
            names = [n for n in (nfc(x) for x in str(rec["names"]).split("|")) if n]
            place = self._anchor_landmark(rec, names[0], i)
            if place is None:
                continue
            landmark_id = f"landmark-{i - 1}"
            self._landmarks[landmark_id] = place
            for name in names:
                self._add(PlaceEntry("landmark", "", landmark_id, name, name_key(name), tone_key(name)))

    def _anchor_landmark(self, rec: dict[str, Any], name: str, row: int) -> Place | None:
        commune_code = str(rec["commune_code"]).strip()
        legacy_code = str(rec["legacy_code"]).strip()
        street = str(rec["street"]).strip()
        problem = DataProblem(ALIASES_FILE, "", row=row, id=name)
        if commune_code and commune_code not in self._communes:
            self.problems.append(DataProblem(problem.file, f"unknown commune_code {commune_code}", row, name))
            return None
        if legacy_code and legacy_code not in self._legacy:
            self.problems.append(DataProblem(problem.file, f"unknown legacy_code {legacy_code}", row, name))
            return None
        lon = lat = None
        how = ""
        if street and self.has_streets:
            found = self.street(name_key(street), commune_code or None)
            if found is not None and found.lon is not None and found.lat is not None:
                lon, lat, how = found.lon, found.lat, f"on {street}"
            else:
                self.problems.append(
                    DataProblem(problem.file, f"street {street!r} not found in the road data", row, name)
                )
        if lon is None and legacy_code:
            unit = self._legacy[legacy_code]
            lon, lat, how = float(unit.geometry.x), float(unit.geometry.y), f"point of former {unit.full_name}"
        if lon is None and commune_code:
            lon, lat = self._interior[commune_code]
            how = "interior point of the commune"
        if lon is None or lat is None:
            return None
        # The file's commune is authoritative (a street anchor may run along the commune's boundary).
        commune = self.commune_ref(commune_code) if commune_code else self._commune_ref_at(lon, lat)
        return Place(
            kind="landmark",
            name=name,
            label=name,
            confidence=0.9,
            lon=lon,
            lat=lat,
            commune=commune,
            precision="point",
            detail=f"{name} ({rec['address']}): {how}",
        )

    # ------------------------------------------------------------------ lookups
    def lookup(self, key: str) -> list[PlaceEntry]:
        """Entries whose name has matching key ``key`` (see `name_key`)."""
        return self.entries.get(key, [])

    def keys(self, kinds: Iterable[str]) -> list[str]:
        """Every name key with at least one entry of the given kinds."""
        wanted = set(kinds)
        return [k for k, es in self.entries.items() if any(e.kind in wanted for e in es)]

    def commune_ref(self, code: str) -> dict[str, Any]:
        """``{code, name, full_name, kind}`` of a commune in force."""
        row = self._communes[code]
        return {"code": code, "name": nfc(str(row.name)), "full_name": nfc(str(row.full_name)), "kind": str(row.kind)}

    def _commune_ref_at(self, lon: float, lat: float) -> dict[str, Any] | None:
        found = self.commune_at(lon, lat)
        return None if found is None else self.commune_ref(str(found["code"]))

    # ------------------------------------------------------------------ resolving
    def resolve(self, entry: PlaceEntry, matched: str = "", confidence: float = 0.9) -> Place:
        """The `Place` an entry stands for (see the module docstring for each kind)."""
        if entry.kind == "commune":
            lon, lat = self._interior[entry.code]
            return Place(
                kind="commune",
                name=self._communes[entry.code].full_name,
                label=entry.label,
                confidence=confidence,
                lon=lon,
                lat=lat,
                commune=self.commune_ref(entry.code),
                precision="area",
                matched=matched,
                detail="interior point of the commune",
            )
        if entry.kind == "former_unit":
            return self._former_unit(entry, matched, confidence)
        if entry.kind == "former_district":
            return self._former_district(entry, matched, confidence)
        if entry.kind == "landmark":
            base = self._landmarks[entry.code]
            return Place(**{**base.__dict__, "matched": matched, "confidence": min(confidence, base.confidence)})
        found = self.street(entry.code)
        if found is None:  # pragma: no cover - every street entry has lines
            raise KeyError(entry.code)
        found.matched = matched
        found.confidence = min(found.confidence, confidence)
        return found

    def parts_of(self, legacy_code: str) -> list[dict[str, Any]]:
        """The communes a former unit went to (``relation`` whole or part)."""
        return [
            {**self.commune_ref(code), "relation": relation}
            for code, relation in self._pairs.get(legacy_code, [])
            if code in self._communes
        ]

    def _former_unit(self, entry: PlaceEntry, matched: str, confidence: float) -> Place:
        unit = self._legacy[entry.code]
        lon, lat = float(unit.geometry.x), float(unit.geometry.y)
        parts = self.parts_of(entry.code)
        codes = [p["code"] for p in parts]
        at = self.commune_at(lon, lat)
        here = str(at["code"]) if at is not None else None
        # The explanation comes from the message catalogue (Vietnamese first); `detail` keeps the English.
        if len(codes) == 1:
            likely = codes[0]
            explanation = message(
                "unit_went_whole", unit=unit.full_name, district=unit.district,
                commune=self.commune_ref(likely)["full_name"],
            )  # fmt: skip
        elif codes:
            likely = here if here is not None and here in codes else codes[0]
            others = ", ".join(self.commune_ref(c)["full_name"] for c in codes if c != likely)
            explanation = message(
                "unit_split", unit=unit.full_name, district=unit.district,
                commune=self.commune_ref(likely)["full_name"], others=others,
            )  # fmt: skip
            confidence *= 0.8
        else:
            likely = here or ""
            explanation = message("unit_not_in_crosswalk", unit=unit.full_name)
            confidence *= 0.7
        detail = explanation.text_en.rstrip(".")
        detail = detail[:1].lower() + detail[1:]
        if not likely:
            return Place(
                "former_unit", unit.full_name, entry.label, 0.0, matched=matched, detail=detail, explanation=explanation
            )
        if here != likely:
            # The unit's point lies outside the commune that took it (points are geocoded, not centroids).
            lon, lat = self._interior[likely]
        return Place(
            kind="former_unit",
            name=f"{unit.full_name} ({unit.district})",
            label=entry.label,
            confidence=confidence,
            lon=lon,
            lat=lat,
            commune=self.commune_ref(likely),
            precision="area",
            matched=matched,
            detail=detail,
            parts=parts,
            explanation=explanation,
        )

    def district_area(self, code: str) -> tuple[tuple[float, float], float, list[dict[str, Any]]]:
        """A former district's centroid (of its units' points), 90th-percentile spread in km, and parts.

        The parts are the communes that took its units, each with ``share``: a unit counts 1, split
        evenly between the communes that took a part of it; largest share first.
        """
        units = [u for u in self._legacy.values() if str(u.district_code) == code]
        xs, ys = self._to_metric.transform([float(u.geometry.x) for u in units], [float(u.geometry.y) for u in units])
        cx, cy = float(np.mean(xs)), float(np.mean(ys))
        spread = float(np.percentile(np.hypot(np.asarray(xs) - cx, np.asarray(ys) - cy), 90)) / 1000
        lon, lat = self._to_wgs.transform(cx, cy)
        shares: dict[str, float] = defaultdict(float)
        for unit in units:
            pairs = self._pairs.get(str(unit.code), [])
            for new_code, _ in pairs:
                shares[new_code] += 1 / len(pairs)
        parts = [
            {**self.commune_ref(c), "share": round(s, 2)}
            for c, s in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
            if c in self._communes
        ]
        return (float(lon), float(lat)), spread, parts

    def _former_district(self, entry: PlaceEntry, matched: str, confidence: float) -> Place:
        district = self._districts[entry.code]
        (lon, lat), spread, parts = self.district_area(entry.code)
        ref = {"code": entry.code, "name": nfc(str(district.name)), "full_name": nfc(str(district.full_name))}
        name = f"{district.full_name} (cũ)"
        if spread > DISTRICT_ANSWER_SPREAD_KM:
            return Place(
                kind="former_district",
                name=name,
                label=entry.label,
                confidence=confidence * 0.5,
                matched=matched,
                precision="area",
                detail=(
                    f"former {district.full_name} spreads {spread:.1f} km around its middle "
                    f"(> {DISTRICT_ANSWER_SPREAD_KM:g} km): ask which commune"
                ),
                parts=parts,
                options=[{"label": p["full_name"], "kind": "commune", "code": p["code"], "commune": p} for p in parts],
                district=ref,
            )
        return Place(
            kind="former_district",
            name=name,
            label=entry.label,
            confidence=confidence * 0.65,
            lon=lon,
            lat=lat,
            commune=self._commune_ref_at(lon, lat),
            precision="area",
            matched=matched,
            detail=(
                f"centroid of the {len(parts)} communes' worth of former units of {district.full_name} "
                f"(90 % within {spread:.1f} km)"
            ),
            parts=parts,
            district=ref,
        )

    def street(self, key: str, commune_code: str | None = None) -> Place | None:
        """A point on the street with matching key ``key``, inside ``commune_code`` when given.

        The point is the point of the street nearest to the middle of its stretch (in the commune, when
        given). None when the street is not in the road data, or does not run through the commune.
        """
        cache_key = (key, commune_code or "")
        if cache_key in self._street_cache:
            return self._street_cache[cache_key]
        lines = self._street_lines.get(key)
        place: Place | None = None
        if lines:
            geometry = shapely.union_all(lines)
            if commune_code:
                area = shapely.buffer(self._polygons_metric[commune_code], STREET_TOLERANCE_M)
                geometry = shapely.intersection(geometry, area)
            if not geometry.is_empty and geometry.length > 0:
                middle = geometry.centroid
                point = nearest_points(geometry, middle)[0]
                lon, lat = self._to_wgs.transform(point.x, point.y)
                commune = (
                    self.commune_ref(commune_code) if commune_code else self._commune_ref_at(float(lon), float(lat))
                )
                length = float(geometry.length)
                confidence = 0.85 if commune_code else (0.8 if length <= LONG_STREET_M else 0.6)
                name = self._street_names[key]
                place = Place(
                    kind="street",
                    name=name,
                    label=f"phố {name}",
                    confidence=confidence,
                    lon=float(lon),
                    lat=float(lat),
                    commune=commune,
                    precision="point",
                    detail=(
                        f"middle of {name} ({_length_text(length)} in the road data"
                        f"{' inside the commune' if commune_code else ''}); house numbers are not in the data"
                    ),
                )
        self._street_cache[cache_key] = place
        return place

    def communes_near(self, lon: float, lat: float, n: int = 3) -> list[dict[str, Any]]:
        """The ``n`` communes whose interior points are nearest to (lon, lat)."""
        x, y = self._to_metric.transform(lon, lat)
        ranked = sorted(
            self._interior,
            key=lambda c: math.dist((x, y), self._to_metric.transform(*self._interior[c])),
        )
        return [self.commune_ref(c) for c in ranked[:n]]


def _street_display(name: str) -> str:
    """A street name without its "Phố"/"Đường" prefix, for sentences (``"Phố Huế"`` → ``"Huế"``)."""
    text = nfc(name)
    for prefix in ("Phố ", "Đường ", "phố ", "đường "):
        if text.startswith(prefix) and len(text) > len(prefix) and not text[len(prefix)].isdigit():
            return text[len(prefix) :]
    return text


def _length_text(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def is_letters(text: str) -> bool:
    """Whether ``text`` has at least one letter or digit (emoji and punctuation alone do not count)."""
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)

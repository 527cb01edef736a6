"""Vietnamese addresses: split one into house number, lane, street, communes, old district, localities.

Addresses come as written by the offices (``"Số 2 ngõ 4B phố Đặng Văn Ngữ, phường Kim Liên"``), by the
2025 seat list (``"Thôn 4 - Hồng Kỳ, xã Trung Giã"``) or in pre-2025 notation (``"197 Nghi Tàm, P. Yên
Phụ, Q. Tây Hồ"``). `parse_address` reads the comma/semicolon parts one by one: an administrative part
(commune, district, city), else a place part (house number, lanes, then a street or a locality).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from geo.text import fold, nfc

__all__ = ["ParsedAddress", "UnitMention", "parse_address"]


# --------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class UnitMention:
    """A commune-level unit named in an address: kind ("phường", "xã", "thị trấn"), name, old district."""

    kind: str
    name: str
    district: str | None = None


@dataclass(frozen=True)
class ParsedAddress:
    """The parts of a Vietnamese address that locating uses; text is NFC, ``*_ascii`` is folded.

    ``street`` is the street name without its "phố"/"đường" prefix (``"Trúc Bạch"``); the prefix is
    kept only when the name is a number (``"đường 17/8"``). ``lane`` is the numbered lane in front of
    the street (``"ngõ 25"``, ``"ngách 2 ngõ 4B"``), ``units`` the communes named (with the old district
    when given), ``localities`` named villages, residential groups and the like (``"Hồng Kỳ"`` from
    ``"Thôn 4 - Hồng Kỳ"``), with numbers stripped.
    """

    address: str
    house_number: str | None = None
    lane: str | None = None
    street: str | None = None
    street_ascii: str | None = None
    units: tuple[UnitMention, ...] = ()
    district: str | None = None
    localities: tuple[str, ...] = ()

    @property
    def commune(self) -> str | None:
        """Name of the first commune-level unit named in the address, if any."""
        return self.units[0].name if self.units else None

    @property
    def lane_street(self) -> str | None:
        """Full lane name, e.g. ``"ngõ 25 Vũ Ngọc Phan"``, when both a lane and a street are given."""
        if self.lane and self.street:
            return f"{self.lane} {self.street}"
        return None


# --------------------------------------------------------------------------------------------------
# Segments

_FLAGS = re.IGNORECASE
_UNIT_PREFIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:thị trấn|tt\.)\s*", _FLAGS), "thị trấn"),
    (re.compile(r"^(?:phường|p\.)\s*", _FLAGS), "phường"),
    (re.compile(r"^(?:xã|x\.)\s*", _FLAGS), "xã"),
)
_DISTRICT_PREFIX = re.compile(r"^(?:thị xã|tx\.|quận|q\.|huyện|h\.)\s*", _FLAGS)
_CITY = re.compile(r"^(?:(?:thành phố|tp\.?)\s*)?(?:hà nội|ha noi|hanoi|việt nam|viet nam|vietnam)$", _FLAGS)
_EMBEDDED_ADMIN = re.compile(r"(?<=\s)(?:thị trấn|thị xã|phường|quận|huyện|xã)(?=\s)", _FLAGS)
_HOUSE = re.compile(r"^(?:số nhà|nhà số|số)?\s*(\d+[a-z]?(?:/\d+[a-z]?)*)(?![\w/])\s*", _FLAGS)
_LANE = re.compile(r"^(ngõ|ngách|hẻm|kiệt)\s+(\d[\w/]*)\s*", _FLAGS)
_STREET_PREFIX = re.compile(r"^(?:phố|đường|đ\.)\s*", _FLAGS)
_ROAD_PREFIX = re.compile(r"^(?:đại lộ|quốc lộ|tỉnh lộ|đường tỉnh|ql\.?|đt\.?|tl\.?)\s*\d", _FLAGS)
_LOCALITY = re.compile(
    r"(?:^|(?<=\s))(?:tổ dân phố|tdp|khu đô thị mới|khu đô thị|kđt|khu phố|khu dân cư|khu trung tâm|"
    r"tiểu khu|khu|thôn|xóm|làng|ấp|cụm|tổ|lô|tòa nhà|toà nhà|tòa|toà)(?=\s|$)",
    _FLAGS,
)
_BUILDING = re.compile(r"^(?:tòa nhà|toà nhà|tòa|toà|nhà)\s", _FLAGS)
_BUILDING_TAIL = re.compile(r"(?<=\s)\d+[a-z]?\s+(?!tầng)[^\d\s]", _FLAGS)
_LABEL = re.compile(r"^[^\d:]{1,30}:\s*|^\d{4}[^:]{0,25}:\s*")


def _segments(text: str) -> list[str]:
    """Split an address into comma/semicolon parts; parenthesised parts come last, labels removed."""
    inner = re.findall(r"\(([^()]*)\)", text)
    outer = re.sub(r"\([^()]*\)", ",", text)
    parts: list[str] = []
    for chunk in [outer, *inner]:
        for raw in re.split(r"[,;]", chunk):
            piece = _LABEL.sub("", raw.strip()) if chunk is not outer else raw
            piece = piece.strip(" .-–")
            # "tổ dân phố số 2 phường Đông Ngạc": split before an admin word that is not at the start.
            while piece:
                cut = next(
                    (
                        m.start()
                        for m in _EMBEDDED_ADMIN.finditer(piece)
                        if not (m.group(0).lower() == "xã" and piece[: m.start()].lower().endswith("thị "))
                    ),
                    None,
                )
                if cut is None:
                    parts.append(piece)
                    break
                head = piece[:cut].strip(" .-–")
                if head:
                    parts.append(head)
                piece = piece[cut:].strip()
    expanded: list[str] = []
    for part in parts:
        # "Tòa nhà Liên cơ 258 Võ Chí Công": a building name, then the house number and street.
        tail = _BUILDING_TAIL.search(part) if _BUILDING.match(part) else None
        expanded.extend([part[: tail.start()].strip(), part[tail.start() :].strip()] if tail else [part])
    return [p for p in expanded if p]


def _locality_name(segment: str) -> str | None:
    """Name after the last locality word, without leading numbers and a trailing number."""
    matches = list(_LOCALITY.finditer(segment))
    rest = segment[matches[-1].end() :] if matches else segment
    rest = re.sub(r"^\s*(?:số\s*)?\d+\w*\s*", "", rest, flags=_FLAGS)
    rest = re.sub(r"^[\s\-–.]+", "", rest)
    rest = re.sub(r"\s+\d+\w?$", "", rest).strip(" .-–")
    return rest if rest and not re.search(r"\d", rest) else None


# --------------------------------------------------------------------------------------------------
# Parsing


@dataclass
class _Reading:
    """The parts of an address found so far, as `parse_address` reads its segments in order."""

    house: str | None = None
    lanes: list[str] = field(default_factory=list)
    street: str | None = None
    units: list[UnitMention] = field(default_factory=list)
    district: str | None = None
    localities: list[str] = field(default_factory=list)
    # A bare number in the previous segment ("Số 2, Hàng Trống") makes the next name a street.
    previous_was_number: bool = False

    def take_admin(self, segment: str) -> bool:
        """Read a commune, district or city segment; False when the segment is none of them."""
        unit = next(((kind, pat) for pat, kind in _UNIT_PREFIXES if pat.match(segment)), None)
        if unit is not None:
            kind, pat = unit
            name = pat.sub("", segment, count=1).strip()
            if name:
                self.units.append(UnitMention(kind, name))
            self.previous_was_number = False
            return True
        if _DISTRICT_PREFIX.match(segment):
            name = _DISTRICT_PREFIX.sub("", segment, count=1).strip()
            if self.units and self.units[-1].district is None:
                self.units[-1] = UnitMention(self.units[-1].kind, self.units[-1].name, name)
            self.district = self.district or name
            self.previous_was_number = False
            return True
        return bool(_CITY.match(segment))

    def take_place(self, segment: str) -> None:
        """Read a place segment: house number and lanes in front, then a street or a locality."""
        rest, number_here, lane_here = self._take_number_and_lanes(segment)
        if not rest:
            self.previous_was_number = number_here and not lane_here
            return
        if _STREET_PREFIX.match(rest):
            name = _STREET_PREFIX.sub("", rest, count=1).strip()
            if name[:1].isdigit():
                name = rest  # "đường 17/8", "Đường 419": the number alone is no name
            self.street = self.street or name
        elif _ROAD_PREFIX.match(rest):
            self.street = self.street or rest
        elif _LOCALITY.search(rest) and (_LOCALITY.match(rest) or not (number_here or lane_here)):
            self._add_locality(rest)
        elif (number_here or lane_here or self.previous_was_number) and self.street is None:
            self.street = rest  # "126 Hàng Trống", "Số 2, Hàng Trống"
        else:
            self._add_locality(rest)
        self.previous_was_number = False

    def _take_number_and_lanes(self, segment: str) -> tuple[str, bool, bool]:
        """Strip a leading house number (the first one only counts) and lanes; say which were there."""
        rest = segment
        number_here = False
        house_match = _HOUSE.match(rest) if not _STREET_PREFIX.match(rest) else None
        if house_match and self.house is None:
            self.house = house_match.group(1)
            rest = rest[house_match.end() :]
            number_here = True
            if "/" in self.house and not self.lanes:
                # "2/224 đường Hoàng Mai": house 2 of lane 224.
                self.lanes.append(f"ngõ {self.house.split('/')[1]}")
        lane_here = False
        while lane_match := _LANE.match(rest):
            self.lanes.append(f"{lane_match.group(1).lower()} {lane_match.group(2)}")
            rest = rest[lane_match.end() :]
            lane_here = True
        return rest.strip(" .-–"), number_here, lane_here

    def _add_locality(self, text: str) -> None:
        locality = _locality_name(text)
        if locality:
            self.localities.append(locality)


def parse_address(address: str) -> ParsedAddress:
    """Split a Vietnamese address into house number, lane, street, communes, old district, localities.

    Parameters
    ----------
    address
        Free text such as ``"Số 2, phố Trúc Bạch, phường Ba Đình"``, ``"Số 126 Hàng Trống, phường Hoàn
        Kiếm"``, ``"Số 2 ngõ 4B phố Đặng Văn Ngữ, phường Kim Liên"``, ``"197 Nghi Tàm, P. Yên Phụ, Q. Tây
        Hồ"`` or ``"Thôn 4 - Hồng Kỳ, xã Trung Giã"``.

    Returns
    -------
    ParsedAddress
        Missing parts are None (or empty); ``street`` is None when the address names no street, e.g.
        ``"Thôn Lũng Vân, xã An Khánh"``.
    """
    text = nfc(address)
    reading = _Reading()
    for segment in _segments(text):
        if not reading.take_admin(segment):
            reading.take_place(segment)
    lane = " ".join(reading.lanes) if reading.lanes else None  # written order, as OSM names them: "ngách 22 ngõ 575"
    return ParsedAddress(
        address=text,
        house_number=reading.house,
        lane=lane,
        street=reading.street,
        street_ascii=fold(reading.street) if reading.street else None,
        units=tuple(reading.units),
        district=reading.district,
        localities=tuple(reading.localities),
    )

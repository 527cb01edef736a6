r"""The national procedure catalogue as typed records: which procedures apply in Hanoi, and where each is handled.

Inputs (pinned in ``data/sources.toml``, never committed):

``full-data.csv`` (group ``procedure-catalogue``)
    The portal's catalogue, UTF-8 with BOM: ``Mã số`` (code), ``Tên`` (name), ``Cơ quan ban hành`` (issuing
    body), ``Cơ quan thực hiện`` (executing agencies, ``;``-separated, often blank), ``Lĩnh vực`` (field),
    ``URL`` (portal page).
detail pages (group ``procedure-details``)
    Parsed by `geo.procedure_detail`; a page that does not parse leaves its procedure with the catalogue
    row only (``detail`` None) and a problem in the report.

Scope rule: a procedure applies in Hanoi when its issuing body is national (a ministry or other national
body) or Hanoi's own (its name contains "Hà Nội"); one issued by another province's People's Committee or
department ("UBND tỉnh …", "UBND Thành phố …", "Sở … - tỉnh …") is left out and counted with that reason. A
blank issuing body is kept as national (every local row names its province) and reported.

Place rule: ``data/agency_rules.csv`` (authored, each row with its source), read by `load_agency_rules`. Each
rule tests one attribute of a procedure (``agency``: any executing agency, from the CSV and the detail page;
``level``: any ``Cấp thực hiện``; ``field``; ``name``; ``issuer``) with a regular expression; both the
pattern and the text are folded (`geo.text.fold`: lower case, no diacritics), so patterns may be written
either way (do not use upper-case escapes such as ``\D``). Rules are tried in file order and the first that
matches decides; a procedure no rule covers is ``unknown``.

The 75 reviewed rows of ``data/procedures.csv`` stay the authored layer over this catalogue: they win where
they disagree, and `authored_disagreements` lists each disagreement for the build report.
"""

from __future__ import annotations

import csv
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple, cast

import pandas as pd

from geo.errors import DataProblem, DataValidationError
from geo.procedure_detail import ProcedureDetail, parse_detail_file
from geo.registry import CONFIDENCE_VALUES, KINDS, _label
from geo.settings import Settings, get_settings
from geo.sources import paths_of_group
from geo.tables import Problems, Row, read_table
from geo.text import fold, nfc

__all__ = [
    "AGENCY_RULES_FILE",
    "CATALOGUE_COLUMNS",
    "CATALOGUE_GROUP",
    "DETAILS_GROUP",
    "DETAIL_COLUMNS",
    "LAYER_COLUMNS",
    "RULE_ATTRIBUTES",
    "RULE_COLUMNS",
    "AgencyRule",
    "CatalogueRecord",
    "CatalogueReport",
    "CatalogueRow",
    "Placement",
    "authored_disagreements",
    "build_catalogue",
    "details_table",
    "issuer_scope",
    "load_agency_rules",
    "place_procedure",
    "procedure_layer",
    "read_catalogue",
]

CATALOGUE_GROUP = "procedure-catalogue"
DETAILS_GROUP = "procedure-details"
AGENCY_RULES_FILE = "agency_rules.csv"
CATALOGUE_COLUMNS: tuple[str, ...] = ("Mã số", "Tên", "Cơ quan ban hành", "Cơ quan thực hiện", "Lĩnh vực", "URL")
RULE_COLUMNS: tuple[str, ...] = (
    "id", "applies_to", "pattern", "place", "handled_at", "agency", "confidence", "source", "note",
)  # fmt: skip
RULE_ATTRIBUTES = frozenset({"agency", "level", "field", "name", "issuer"})
PLACES = frozenset({"pasc", "not_at_pasc"})

Place = Literal["pasc", "not_at_pasc", "unknown"]
Scope = Literal["national", "hanoi"]

_CODE = re.compile(r"^\d\.\d{6}$")
_RULE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NAME_PREFIX = "thu tuc "
# Issuing bodies of provinces other than Hanoi: their People's Committees and departments.
_LOCAL_ISSUER = re.compile(r"^(ubnd|uy ban nhan dan|so |trung tam phuc vu hanh chinh cong)")


@dataclass(frozen=True, slots=True)
class AgencyRule:
    """One row of ``agency_rules.csv``: a pattern on one attribute → the kind of place in Hanoi."""

    id: str
    applies_to: str
    pattern: re.Pattern[str]
    place: Literal["pasc", "not_at_pasc"]
    handled_at: tuple[str, ...]
    agency: str
    """Who handles it, for ``not_at_pasc``; ``{matched}`` stands for the matched text, ``{issuer}`` for the
    issuing body."""
    confidence: str
    source: str
    row: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Where in Hanoi a procedure is handled, and which rule said so."""

    place: Place
    handled_at: tuple[str, ...] = ()
    """Kinds of service point (the ``handled_at`` vocabulary of ``procedures.csv``) when ``pasc``."""
    agency: str | None = None
    """The agency that handles it, when ``not_at_pasc``."""
    rule: str | None = None
    confidence: str | None = None


UNKNOWN = Placement("unknown")


@dataclass(frozen=True, slots=True)
class CatalogueRecord:
    """One procedure that applies in Hanoi: its catalogue row, its detail page (if any) and its place."""

    code: str
    name: str
    issuer: str
    agencies: tuple[str, ...]
    """Executing agencies from the catalogue row (``;``-separated there)."""
    field: str
    url: str
    scope: Scope
    row: int
    """Row in ``full-data.csv`` (header = 1)."""
    detail: ProcedureDetail | None
    placement: Placement

    @property
    def all_agencies(self) -> tuple[str, ...]:
        """Executing agencies of the row and of the detail page, without repeats."""
        extra = self.detail.agencies if self.detail else ()
        return tuple(dict.fromkeys(self.agencies + extra))

    @property
    def levels(self) -> tuple[str, ...]:
        """``Cấp thực hiện`` from the detail page (empty without one)."""
        return self.detail.levels if self.detail else ()


@dataclass
class CatalogueReport:
    """What `build_catalogue` found: counts, left-out reasons, problems and rule coverage."""

    rows_read: int = 0
    kept: int = 0
    kept_by_scope: Counter[str] = field(default_factory=Counter)
    left_out: Counter[str] = field(default_factory=Counter)
    """Reason → number of rows left out."""
    duplicates: list[DataProblem] = field(default_factory=list)
    row_problems: list[DataProblem] = field(default_factory=list)
    """Rows kept with a remark (malformed code, blank issuing body)."""
    with_details: int = 0
    pages_without_row: list[str] = field(default_factory=list)
    """Codes of detail pages whose procedure is not among the kept rows."""
    parse_problems: list[DataProblem] = field(default_factory=list)
    by_place: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def known_share(self) -> float:
        """Share of the kept procedures with a known place (``pasc`` or ``not_at_pasc``)."""
        return (self.kept - self.by_place["unknown"]) / self.kept if self.kept else 0.0

    def summary(self) -> str:
        """One paragraph for the build log."""
        left = ", ".join(f"{n} {reason}" for reason, n in self.left_out.most_common())
        return (
            f"procedure catalogue: {self.rows_read} rows, {self.kept} kept "
            f"({', '.join(f'{n} {s}' for s, n in sorted(self.kept_by_scope.items()))}); left out: {left or 'none'}; "
            f"{len(self.duplicates)} duplicate code(s); {self.with_details} with details "
            f"({len(self.parse_problems)} parse problem(s)); place known for {self.known_share:.1%} "
            f"({', '.join(f'{n} {p}' for p, n in sorted(self.by_place.items()))}); {self.seconds:.2f} s"
        )


# --------------------------------------------------------------------------- rules


def _compile(pattern: str) -> re.Pattern[str]:
    """Compile a rule pattern folded like the text it is matched against."""
    return re.compile(fold(pattern))


def load_agency_rules(path: Path | None = None) -> list[AgencyRule]:
    """Load and validate ``agency_rules.csv``.

    Parameters
    ----------
    path
        The CSV; default ``<data_dir>/agency_rules.csv``.

    Returns
    -------
    list[AgencyRule]
        The rules in file order (the first match wins).

    Raises
    ------
    DataValidationError
        One `DataProblem` per issue, with file, row and rule id (bad id, attribute, pattern, place, kind,
        confidence; a ``pasc`` rule without kinds, a ``not_at_pasc`` rule without an agency; no source).
    """
    path = path or get_settings().data_dir / AGENCY_RULES_FILE
    rows = read_table(path, RULE_COLUMNS, label=_label(path))
    problems = Problems(_label(path))
    rules: list[AgencyRule] = []
    seen: set[str] = set()
    for row in rows:
        rid = row["id"]
        if not _RULE_ID.match(rid):
            problems.add(
                row, "id", f"malformed rule id {rid!r} (lower-case letters, digits and single hyphens)", id=rid
            )
        elif rid in seen:
            problems.add(row, "id", f"duplicate rule id {rid}", id=rid)
        seen.add(rid)
        rule = _rule_of(row, problems)
        if rule is not None:
            rules.append(rule)
    problems.raise_if_any()
    return rules


def _rule_of(row: Row, problems: Problems) -> AgencyRule | None:
    """One rule row checked cell by cell (problems added); the rule, or None when its pattern is unusable."""

    def add(column: str, message: str) -> None:
        problems.add(row, column, message, id=row["id"])

    if row["applies_to"] not in RULE_ATTRIBUTES:
        add("applies_to", f"applies_to {row['applies_to']!r} is not one of {', '.join(sorted(RULE_ATTRIBUTES))}")
    pattern = None
    if not row["pattern"]:
        add("pattern", "empty pattern")
    else:
        try:
            pattern = _compile(row["pattern"])
        except re.error as exc:
            add("pattern", f"pattern does not compile: {exc}")
    kinds = tuple(k.strip() for k in row["handled_at"].split("|") if k.strip())
    for kind in kinds:
        if kind not in KINDS:
            add("handled_at", f"handled_at kind {kind!r} is not one of {', '.join(KINDS)}")
    place = row["place"]
    if place not in PLACES:
        add("place", f"place {place!r} is not one of {', '.join(sorted(PLACES))}")
    elif place == "pasc" and not kinds:
        add("handled_at", "a pasc rule needs handled_at kinds")
    elif place == "not_at_pasc" and (kinds or not row["agency"]):
        add("agency", "a not_at_pasc rule names the agency and no handled_at kinds")
    if row["confidence"] not in CONFIDENCE_VALUES:
        add("confidence", f"confidence {row['confidence']!r} is not one of {', '.join(sorted(CONFIDENCE_VALUES))}")
    if not row["source"]:
        add("source", "empty source")
    if pattern is None:
        return None
    where = cast(Literal["pasc", "not_at_pasc"], place)
    return AgencyRule(
        row["id"], row["applies_to"], pattern, where, kinds, row["agency"], row["confidence"], row["source"], row.number
    )


def place_procedure(
    rules: Sequence[AgencyRule],
    *,
    agencies: Iterable[str] = (),
    levels: Iterable[str] = (),
    field: str = "",
    name: str = "",
    issuer: str = "",
) -> Placement:
    """Apply the first matching rule to one procedure's attributes; `UNKNOWN` when none matches."""
    raw: dict[str, list[str]] = {
        "agency": [a for a in agencies if a],
        "level": [v for v in levels if v],
        "field": [field] if field else [],
        "name": [name] if name else [],
        "issuer": [issuer] if issuer else [],
    }
    folded: dict[str, list[str]] = {}
    for rule in rules:
        texts = raw[rule.applies_to]
        if rule.applies_to not in folded:  # fold lazily: most procedures stop at an agency rule
            folded[rule.applies_to] = [_fold(t) for t in texts]
        for text, key in zip(texts, folded[rule.applies_to], strict=True):
            if rule.pattern.search(key):
                agency = rule.agency.replace("{matched}", text).replace("{issuer}", issuer) if rule.agency else None
                return Placement(rule.place, rule.handled_at, agency or None, rule.id, rule.confidence)
    return UNKNOWN


@lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    """`fold`, remembered in memory: agency names repeat across thousands of rows."""
    return fold(text)


# --------------------------------------------------------------------------- catalogue rows


def issuer_scope(issuer: str) -> tuple[Scope | None, str]:
    """Whether a procedure of this issuing body applies in Hanoi: ``(scope, reason)``; scope None = left out."""
    key = fold(issuer)
    if not key:
        return "national", "issuing body blank (kept as national: every local row names its province)"
    if "ha noi" in key:
        return "hanoi", "issued by Hanoi"
    if _LOCAL_ISSUER.match(key):
        return None, "local procedure of another province"
    return "national", "issued by a national body"


class CatalogueRow(NamedTuple):
    """One kept row of ``full-data.csv``, read as NFC text."""

    code: str
    name: str
    issuer: str
    agencies: tuple[str, ...]
    field: str
    url: str
    scope: Scope
    row: int


def read_catalogue(path: Path) -> tuple[list[CatalogueRow], CatalogueReport]:
    """Read ``full-data.csv``: the kept rows (scope, row number, parsed agencies) and the counts so far.

    Raises
    ------
    DataValidationError
        The file cannot be read or lacks a column.
    """
    file = _label(path)
    report = CatalogueReport()
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            raw = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataValidationError([DataProblem(file, f"cannot read CSV: {exc}")]) from exc
    missing = [c for c in CATALOGUE_COLUMNS if c not in header]
    if missing:
        raise DataValidationError([DataProblem(file, f"missing column(s): {', '.join(missing)}", row=1)])
    kept: list[CatalogueRow] = []
    first_row: dict[str, int] = {}
    for i, rec in enumerate(raw):
        row = i + 2
        report.rows_read += 1
        code = nfc(rec["Mã số"] or "")
        issuer = nfc(rec["Cơ quan ban hành"] or "")
        scope, reason = issuer_scope(issuer)
        if scope is None:
            report.left_out[reason] += 1
            continue
        if code in first_row:
            message = f"duplicate code {code} (first at row {first_row[code]}); kept the first"
            report.duplicates.append(DataProblem(file, message, row=row, id=code))
            report.left_out["duplicate code"] += 1
            continue
        first_row[code] = row
        if not _CODE.match(code):
            message = f"malformed code {code!r} (expected d.dddddd)"
            report.row_problems.append(DataProblem(file, message, row=row, id=code, column="Mã số"))
        if not issuer:
            report.row_problems.append(DataProblem(file, reason, row=row, id=code, column="Cơ quan ban hành"))
        agencies = tuple(nfc(a) for a in (rec["Cơ quan thực hiện"] or "").split(";") if a.strip())
        name, field_, url = nfc(rec["Tên"] or ""), nfc(rec["Lĩnh vực"] or ""), (rec["URL"] or "").strip()
        kept.append(CatalogueRow(code, name, issuer, agencies, field_, url, scope, row))
        report.kept_by_scope[scope] += 1
    report.kept = len(kept)
    return kept, report


def _page_codes(pages: Iterable[Path]) -> dict[str, Path]:
    """Map procedure code → detail page path (the folder name with ``_`` for dots)."""
    return {path.parent.name.replace("_", "."): path for path in pages}


def build_catalogue(
    settings: Settings | None = None,
    *,
    catalogue_csv: Path | None = None,
    pages: Iterable[Path] | None = None,
    rules_csv: Path | None = None,
) -> tuple[list[CatalogueRecord], CatalogueReport]:
    """Read the catalogue, parse the detail pages of the kept procedures and place each one in Hanoi.

    Parameters
    ----------
    settings
        Where the pinned files and ``data/`` live; default `get_settings()`.
    catalogue_csv, pages, rules_csv
        Override the pinned ``full-data.csv``, the detail pages and ``agency_rules.csv`` (tests).

    Returns
    -------
    tuple[list[CatalogueRecord], CatalogueReport]
        The kept procedures in file order, and the report (counts, reasons, problems, coverage, time).

    Raises
    ------
    DataValidationError
        The catalogue file or the rules cannot be read. A detail page that does not parse is not an
        error: its problems go to the report and the procedure keeps its catalogue row.
    """
    started = time.perf_counter()
    settings = settings or get_settings()
    if catalogue_csv is None:
        (catalogue_csv,) = paths_of_group(CATALOGUE_GROUP, settings)
    if pages is None:
        pages = paths_of_group(DETAILS_GROUP, settings)
    rules = load_agency_rules(rules_csv or settings.data_dir / AGENCY_RULES_FILE)
    rows, report = read_catalogue(catalogue_csv)
    by_code = _page_codes(pages)
    kept_codes = {r.code for r in rows}
    report.pages_without_row = sorted(code for code in by_code if code not in kept_codes)
    records: list[CatalogueRecord] = []
    for rec in rows:
        detail = None
        page = by_code.get(rec.code)
        if page is not None:
            detail, problems = parse_detail_file(page, rec.code, label=_label(page))
            report.parse_problems += problems
            report.with_details += detail is not None
        placement = place_procedure(
            rules,
            agencies=tuple(dict.fromkeys(rec.agencies + (detail.agencies if detail else ()))),
            levels=detail.levels if detail else (),
            field=rec.field or (detail.field or "" if detail else ""),
            name=rec.name,
            issuer=rec.issuer,
        )
        report.by_place[placement.place] += 1
        report.by_rule[placement.rule or "none"] += 1
        records.append(
            CatalogueRecord(
                rec.code, rec.name, rec.issuer, rec.agencies, rec.field, rec.url, rec.scope, rec.row, detail, placement
            )
        )
    report.seconds = time.perf_counter() - started
    return records, report


# --------------------------------------------------------------------------- the authored layer


def _name_key(name: str) -> str:
    """Folded words of a name without a leading "Thủ tục" (the portal uses it inconsistently)."""
    key = " ".join(re.findall(r"[0-9a-z]+", fold(name)))
    return key.removeprefix(_NAME_PREFIX)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


def authored_disagreements(
    records: Sequence[CatalogueRecord], procedures: pd.DataFrame, file: str = "data/procedures.csv"
) -> list[DataProblem]:
    """List where the reviewed ``procedures.csv`` rows disagree with the catalogue (the authored rows win).

    Compared per code: presence in the kept catalogue, name (folded, "Thủ tục" prefix ignored), field,
    level (as sets, when both give one) and ``handled_at`` (as sets, when the catalogue's place is known).

    Returns
    -------
    list[DataProblem]
        One per disagreement: file, row (header = 1), code, and ``context`` with ``column``, ``authored``
        and ``catalogue``.
    """
    by_code = {r.code: r for r in records}
    found: list[DataProblem] = []
    for i, rec in enumerate(procedures.to_dict("records")):
        row, code = i + 2, str(rec["code"])

        def differ(column: str, authored: str, catalogue: str, row: int = row, code: str = code) -> None:
            found.append(
                DataProblem(file, f"{column}: authored {authored!r}, catalogue {catalogue!r} (authored wins)",
                            row=row, id=code, column=column, context={"authored": authored, "catalogue": catalogue})
            )  # fmt: skip

        record = by_code.get(code)
        if record is None:
            differ("code", code, "not among the catalogue's procedures that apply in Hanoi")
            continue
        if _name_key(str(rec["name"])) != _name_key(record.name):
            differ("name", str(rec["name"]), record.name)
        if rec.get("field") and fold(str(rec["field"])) != fold(record.field):
            differ("field", str(rec["field"]), record.field)
        authored_levels = set(_split(str(rec.get("level", ""))))
        if authored_levels and record.levels and authored_levels != set(record.levels):
            differ("level", "|".join(sorted(authored_levels)), "|".join(sorted(record.levels)))
        authored_kinds = set(_split(str(rec.get("handled_at", ""))))
        if record.placement.place != "unknown" and authored_kinds != set(record.placement.handled_at):
            where = "|".join(record.placement.handled_at) or f"not at PASC ({record.placement.agency})"
            differ("handled_at", str(rec.get("handled_at", "")), where)
    return found


# --------------------------------------------------------------------------- the procedures layer of the index

DETAIL_COLUMNS: tuple[str, ...] = (
    "code", "shape", "title", "levels", "applicants", "agencies", "channels", "documents", "notes",
    "legal_basis", "decision", "source_file",
)  # fmt: skip
"""Columns of the index's ``procedure_details`` table; every list column holds JSON text."""
LAYER_COLUMNS: tuple[str, ...] = ("layer", "issuer", "portal_url", "place", "place_rule", "scope", "channel_kinds")
"""Columns the index's ``procedures`` layer adds to ``procedures.csv``'s."""
_PORTAL = "https://dichvucong.gov.vn"


def _json(value: object) -> str:
    """A parsed detail field as compact JSON text (dataclasses as objects)."""
    import json
    from dataclasses import asdict, is_dataclass

    def plain(v: object) -> object:
        if is_dataclass(v) and not isinstance(v, type):
            return asdict(v)
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))


def details_table(records: Sequence[CatalogueRecord]) -> pd.DataFrame:
    """The parsed detail pages as one table (`DETAIL_COLUMNS`, list fields as JSON text), in catalogue order."""
    rows = []
    for rec in records:
        d = rec.detail
        if d is None:
            continue
        rows.append((
            d.code, d.shape, d.title, _json(d.levels), _json(d.applicants), _json(d.agencies), _json(d.channels),
            _json(d.documents), _json(d.notes), _json(d.legal_basis), d.decision, d.source_file,
        ))  # fmt: skip
    return pd.DataFrame(rows, columns=list(DETAIL_COLUMNS), dtype=object)


def _catalogue_row(rec: CatalogueRecord) -> dict[str, str]:
    """One kept catalogue procedure in the columns of ``procedures.csv`` plus `LAYER_COLUMNS`."""
    place = rec.placement
    detail = rec.detail
    kinds = [c.kind for c in detail.channels] if detail else []
    named = place.agency if place.place == "not_at_pasc" else "; ".join(rec.all_agencies)
    agency = named or rec.issuer
    rule = f"place by agency rule {place.rule} ({AGENCY_RULES_FILE})" if place.rule else "no agency rule covers it"
    return {
        "code": rec.code,
        "name": rec.name,
        "field": rec.field or (detail.field or "" if detail else ""),
        "level": "|".join(rec.levels),
        "agency": agency,
        "handled_at": "|".join(place.handled_at),
        "boundary_free": "unknown",
        "online_full": "unknown",
        "in_person": "yes" if "in_person" in kinds else "unknown",
        "note": f"national catalogue; {rule}",
        "source": rec.url or _PORTAL,
        "confidence": place.confidence or "low",
        "layer": "catalogue",
        "issuer": rec.issuer,
        "portal_url": rec.url,
        "place": place.place,
        "place_rule": place.rule or "",
        "scope": rec.scope,
        "channel_kinds": "|".join(dict.fromkeys(kinds)),
    }


def procedure_layer(records: Sequence[CatalogueRecord], authored: pd.DataFrame) -> pd.DataFrame:
    """The index's procedures: the reviewed rows of ``procedures.csv`` first (they win), then the catalogue.

    Parameters
    ----------
    records
        The kept catalogue procedures (`build_catalogue`).
    authored
        ``procedures.csv`` as `geo.registry.load_procedures` reads it.

    Returns
    -------
    pandas.DataFrame
        The columns of ``authored`` plus `LAYER_COLUMNS`: ``layer`` is ``authored`` or ``catalogue``;
        ``place`` is ``pasc`` (handled at the kinds in ``handled_at``), ``not_at_pasc`` (``agency``
        handles it) or ``unknown``; ``portal_url`` the portal page; ``channel_kinds`` the detail page's
        channels (``online|post|in_person``). One row per code.
    """
    by_code = {r.code: r for r in records}
    rows: list[dict[str, str]] = []
    for rec in authored.to_dict("records"):
        code = str(rec["code"])
        found = by_code.get(code)
        extra = _catalogue_row(found) if found else {}
        handled = str(rec.get("handled_at") or "")
        url = extra.get("portal_url") or next(
            (s.strip() for s in str(rec.get("source", "")).split(" ; ") if s.strip().startswith(_PORTAL)), ""
        )
        rows.append({
            **{k: str(v) for k, v in rec.items() if k != "name_ascii"},
            "layer": "authored",
            "issuer": extra.get("issuer", ""),
            "portal_url": url,
            "place": "pasc" if handled else "not_at_pasc",
            "place_rule": "",
            "scope": extra.get("scope", "national"),
            "channel_kinds": extra.get("channel_kinds", ""),
        })  # fmt: skip
    seen = set(authored["code"].astype(str))
    rows.extend(_catalogue_row(r) for r in records if r.code not in seen)
    columns = [c for c in authored.columns if c != "name_ascii"] + list(LAYER_COLUMNS)
    frame = pd.DataFrame(rows, columns=columns, dtype=object).fillna("")
    frame["name_ascii"] = [_fold(n) for n in frame["name"]]
    frame.attrs.update(authored.attrs)
    return frame

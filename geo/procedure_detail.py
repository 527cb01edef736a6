"""Parse one procedure detail page of the national catalogue (the portal's detail view as Markdown).

A page (``raw_data/<code with _>/<code with _>_procedure_detail.md``) comes in one of two shapes:

``full`` (2,049 of 2,104 pages)
    ``## Thông tin chung`` with ``* **Key:** value`` bullets (code, decision, ``Cấp thực hiện`` level, field,
    ``Đối tượng thực hiện`` who may file), ``## Cách thức thực hiện`` as a table with one row per channel
    (``Hình thức nộp | Thời gian giải quyết | Phí, lệ phí | Mô tả``), ``## Thành phần hồ sơ`` as one or more
    tables ``Tên giấy tờ | Bản chính | Bản sao | Tệp đính kèm``, each optionally under a ``###`` heading
    (``Giấy tờ phải nộp``, ``Giấy tờ phải xuất trình``, ``Lưu ý`` or a case such as "Đối với trường hợp …"),
    ``## Căn cứ pháp lý`` (``Tên văn bản pháp lý | Mã văn bản``) and ``## Cơ quan thực hiện``.
``fallback`` (55 pages, marked ``* **Nguồn fallback:** <url>``)
    The same sections flattened to one line of text each: channels as "Trực tiếp 10 Ngày làm việc [Phí: …]
    description …", documents as "name [form.docx] Bản chính: 1 - Bản sao: 0 …"; no level or applicants.

"Không có thông tin" (the portal gave nothing) reads as ``None`` or an empty tuple. Table cells are taken as
given, except that ``<br>`` becomes a line break and runs of spaces collapse.

Document rows are joined where one document wraps over several rows (rules in `_join_rows`): a row that
starts mid-sentence continues the row before it, and ``+`` sub-items continue a row that ends with ``:``.
Rows within a portal table are not in reading order, so nothing else is joined.

A section that cannot be read yields a `DataProblem` (file, ``context["section"]``, what) and is left empty;
the rest of the page still parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from geo.errors import DataProblem
from geo.text import fold

__all__ = [
    "CHANNEL_KINDS",
    "NOT_STATED",
    "Channel",
    "Document",
    "LegalBasis",
    "ProcedureDetail",
    "detail_path",
    "parse_detail",
    "parse_detail_file",
]

NOT_STATED = "Không có thông tin"
"""The portal's placeholder for an empty field."""

CHANNEL_KINDS: dict[str, str] = {"Trực tuyến": "online", "Dịch vụ bưu chính": "post", "Trực tiếp": "in_person"}
"""Channel label on the portal → kind."""

ChannelKind = Literal["online", "post", "in_person"]
DocumentRole = Literal["submit", "show"]


@dataclass(frozen=True, slots=True)
class Channel:
    """One way to file a procedure: ``kind`` with processing time and fee as the portal gives them."""

    kind: ChannelKind
    label: str
    time: str | None
    """Processing time as given ("5 ngày làm việc"); None when not stated."""
    days: float | None
    """The number of days in ``time`` when it is "<n> ngày [làm việc]", else None."""
    working_days: bool | None
    """True for "ngày làm việc", False for calendar "ngày", None when ``days`` is None."""
    fee: str | None
    """Fee as given; None when not stated."""
    description: str | None


@dataclass(frozen=True, slots=True)
class Document:
    """One document of the file: to ``submit`` (nộp) or to ``show`` (xuất trình), with its counts."""

    name: str
    originals: int | None
    """Number of originals (bản chính); None when the page gives no number."""
    copies: int | None
    role: DocumentRole
    condition: str | None
    """The case the document belongs to (the table's ``###`` heading), None for every case."""
    form: str | None
    """File name of the attached form (mẫu đơn), when the page names one."""


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """One legal document the procedure rests on."""

    title: str
    number: str | None


@dataclass(frozen=True, slots=True)
class ProcedureDetail:
    """What one detail page says about a procedure (empty fields where the portal gave nothing)."""

    code: str
    title: str
    shape: Literal["full", "fallback"]
    levels: tuple[str, ...]
    field: str | None
    applicants: tuple[str, ...]
    agencies: tuple[str, ...]
    channels: tuple[Channel, ...]
    documents: tuple[Document, ...]
    notes: tuple[str, ...]
    """Rows of the ``Lưu ý`` tables: remarks, not documents."""
    legal_basis: tuple[LegalBasis, ...]
    decision: str | None
    source_file: str


_BULLET = re.compile(r"^\* \*\*(.+?):\*\*\s*(.*)$", re.M)
_TIME = re.compile(r"^(\d+(?:[.,]\d+)?)\s+(ngày làm việc|ngày)\b", re.I)
_LINK = re.compile(r"^\[(.+?)\]\(.*\)$")
_ENUMERATOR = re.compile(r"^(?:[a-zđ]{1,2}|[ivx]+)[).]", re.I)
_SPACES = re.compile(r"[ \t\u00a0]+")
_COUNT = re.compile(r"^\d+$")
_FLAT_CHANNEL = re.compile(r"(?:^|(?<= ))(Trực tuyến|Dịch vụ bưu chính|Trực tiếp) ")
_FLAT_TIME = re.compile(r"^(\d+(?:[.,]\d+)?)(?: (Ngày làm việc|Ngày|Giờ làm việc|Giờ|Tháng|Năm))?\s*")
_FLAT_FEE = re.compile(r"^((?:Lệ phí|Phí)\s*:\s*[\d.,]*\s*(?:Đồng|USD|VNĐ)?)(?:Xem chi tiết)?\s*")
_FLAT_COUNTS = re.compile(r"Bản chính: ?(\d*) - Bản sao: ?(\d*)")
_FLAT_TABLE = "Tên giấy tờ Mẫu đơn, tờ khai Số lượng"
_FLAT_FORM = re.compile(r"\s+(\S+\.(?:docx?|pdf|xlsx?|rar|zip))$", re.I)
_SENTENCE_END = (".", ";", ":")
_BULLET_MARK = re.compile(r"^[\s,;)\-–•*]+")  # list bullets and stray punctuation before a name, not "a)"


def detail_path(code: str, root: Path) -> Path:
    """Where the detail page of ``code`` lives under the ``raw_data`` folder ``root`` (dots become ``_``)."""
    folder = code.replace(".", "_")
    return root / folder / f"{folder}_procedure_detail.md"


def _clean(text: str) -> str:
    """A cell as given: ``<br>`` as a line break, runs of spaces collapsed, ends stripped."""
    if "<br" not in text and "  " not in text and "\t" not in text and "\u00a0" not in text:
        return text.strip()  # the common case, without regular expressions
    lines = (_SPACES.sub(" ", part).strip() for part in re.split(r"<br\s*/?>", text))
    return "\n".join(line for line in lines if line)


def _stated(text: str) -> str | None:
    """``text`` cleaned, or None for the portal's placeholders ("Không có thông tin", "N/A", empty)."""
    value = _clean(text)
    return None if value in ("", NOT_STATED, "N/A", "Không có") else value


def _split_outside_parens(text: str, sep: str = ",") -> tuple[str, ...]:
    """Split on ``sep`` except inside parentheses ("Tổ chức (không bao gồm doanh nghiệp, HTX)" stays whole)."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")" and depth > 0
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return tuple(p.strip() for p in parts if p.strip())


def _sections(text: str) -> dict[str, str]:
    """Map each ``## `` heading to its body (first occurrence wins)."""
    found: dict[str, str] = {}
    for chunk in ("\n" + text).split("\n## ")[1:]:  # plain splitting: pages are large, regexes slow
        heading, _, body = chunk.partition("\n")
        found.setdefault(heading.strip(), body.strip())
    return found


def _table_rows(body: str) -> list[list[str]]:
    """Cells of every data row of the Markdown tables in ``body`` (header and ``---`` rows dropped)."""
    rows: list[list[str]] = []
    header_next = True
    for line in body.splitlines():
        if not line.startswith("|"):
            header_next = True
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header_next:  # the first row of each table is its header
            header_next = False
            continue
        if cells and set(cells[0]) <= {"-"} and cells[0]:
            continue
        rows.append(cells)
    return rows


def _time_parts(time: str | None) -> tuple[float | None, bool | None]:
    """Number of days and whether they are working days, when ``time`` reads "<n> ngày [làm việc]"."""
    match = _TIME.match(time or "")
    if not match:
        return None, None
    return float(match.group(1).replace(",", ".")), match.group(2).lower() == "ngày làm việc"


def _channel(label: str, time: str | None, fee: str | None, description: str | None) -> Channel | None:
    kind = CHANNEL_KINDS.get(label)
    if kind is None:
        return None
    days, working = _time_parts(time)
    return Channel(kind, label, time, days, working, fee, description)  # type: ignore[arg-type]


class _Page:
    """Parsing state of one page: its file label and the problems found so far."""

    def __init__(self, file: str, code: str) -> None:
        self.file, self.code = file, code
        self.problems: list[DataProblem] = []

    def problem(self, section: str, what: str) -> None:
        """Record that ``section`` could not be read, and why."""
        self.problems.append(DataProblem(self.file, f"{section}: {what}", id=self.code, context={"section": section}))

    # ------------------------------------------------------------------ full pages

    def channels(self, body: str) -> tuple[Channel, ...]:
        """The channel table of a full page."""
        channels: list[Channel] = []
        for cells in _table_rows(body):
            if len(cells) != 4:
                self.problem("Cách thức thực hiện", f"row with {len(cells)} cells, expected 4: {cells[:1]}")
                continue
            channel = _channel(_clean(cells[0]), _stated(cells[1]), _stated(cells[2]), _stated(cells[3]))
            if channel is None:
                self.problem("Cách thức thực hiện", f"unknown channel {cells[0]!r}")
                continue
            channels.append(channel)
        if not channels and _stated(body):
            self.problem("Cách thức thực hiện", "no channel table")
        return tuple(channels)

    def documents(self, body: str) -> tuple[tuple[Document, ...], tuple[str, ...]]:
        """Documents (to submit and to show) and notes of a full page's ``Thành phần hồ sơ``."""
        if _stated(body) is None:
            return (), ()
        documents: list[Document] = []
        notes: list[str] = []
        heading: str | None = None
        table: list[list[str]] = []
        stray: list[str] = []

        def close() -> None:
            nonlocal heading, table
            if table:
                role, condition = _heading_meaning(heading)
                for name, originals, copies, form in self._join_rows(table):
                    if role == "note":
                        notes.append(name)
                    else:
                        documents.append(Document(name, originals, copies, role, condition, form))
                heading = None  # a heading names the one table right after it
            table = []

        for line in body.splitlines():
            if line.startswith("###"):
                close()
                heading = line.lstrip("#").strip()
            elif line.startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if cells[0] == "Tên giấy tờ" or (cells[0] and set(cells[0]) <= {"-"}):
                    continue
                table.append(cells)
            elif not line.strip():
                close()
            else:
                close()
                stray.append(line.strip())
        close()
        for line in stray:  # a few full pages carry one flattened table as a line of text
            flat = self.flat_documents(line)
            if not flat:
                self.problem("Thành phần hồ sơ", f"text outside a table: {line[:60]!r}")
            documents += flat
        return tuple(documents), tuple(notes)

    def _join_rows(self, rows: list[list[str]]) -> list[tuple[str, int | None, int | None, str | None]]:
        """Read one document table, joining rows that wrap one document.

        A row continues the row before it when it starts mid-sentence (a lower-case letter that is not an
        enumerator such as "a)" or "đ.", or a ``,`` ``;`` ``)``) and that row does not end a sentence; a row
        starting with ``+`` continues a row that ends with ``:`` (its sub-items). Counts of a joined document
        are the largest of its rows.
        """
        joined: list[list[object]] = []
        for cells in rows:
            if len(cells) != 4:
                self.problem("Thành phần hồ sơ", f"row with {len(cells)} cells, expected 4: {cells[:1]}")
                continue
            name = _clean(cells[0])
            originals, copies = self._count(cells[1], name), self._count(cells[2], name)
            form_cell = _stated(cells[3])
            link = _LINK.match(form_cell or "")
            form = link.group(1) if link else form_cell
            if joined and name:
                last = joined[-1]
                last_name = str(last[0])
                wraps = (name[0].islower() and not _ENUMERATOR.match(name)) or name[0] in ",;)"
                sub_item = name.startswith("+") and (last_name.endswith(":") or bool(last[4]))
                if (wraps and not last_name.endswith(_SENTENCE_END)) or sub_item:
                    last[0] = f"{last_name} {name}"
                    last[1] = _larger(last[1], originals)  # type: ignore[arg-type]
                    last[2] = _larger(last[2], copies)  # type: ignore[arg-type]
                    last[3] = last[3] or form
                    last[4] = sub_item
                    continue
            joined.append([name, originals, copies, form, False])
        return [
            (_BULLET_MARK.sub("", str(n)), o, c, f)  # type: ignore[misc]
            for n, o, c, f, _ in joined
            if _BULLET_MARK.sub("", str(n))
        ]

    def _count(self, cell: str, name: str) -> int | None:
        value = cell.strip()
        if _COUNT.match(value):
            return int(value)
        if value:
            self.problem("Thành phần hồ sơ", f"count {value!r} is not a number (document {name[:40]!r})")
        return None

    def legal_basis(self, body: str) -> tuple[LegalBasis, ...]:
        """Rows of ``Căn cứ pháp lý``."""
        found: list[LegalBasis] = []
        for cells in _table_rows(body):
            if len(cells) != 2 or not _clean(cells[0]):
                self.problem("Căn cứ pháp lý", f"row with {len(cells)} cells, expected 2")
                continue
            found.append(LegalBasis(_clean(cells[0]), _stated(cells[1])))
        return tuple(found)

    # ------------------------------------------------------------------ fallback pages

    def flat_channels(self, body: str) -> tuple[Channel, ...]:
        """Channels of a flattened ``Cách thức thực hiện`` line."""
        parts = _FLAT_CHANNEL.split(body)
        by_kind: dict[str, Channel] = {}
        for label, chunk in zip(parts[1::2], parts[2::2], strict=True):
            time_match = _FLAT_TIME.match(chunk)
            time = None
            if time_match:
                time = " ".join(g for g in time_match.groups() if g).replace("Ngày", "ngày")
                chunk = chunk[time_match.end() :]
            fee_match = _FLAT_FEE.match(chunk)
            fee = fee_match.group(1).strip() if fee_match else None
            description = _stated(chunk[fee_match.end() :] if fee_match else chunk)
            channel = _channel(label, time, fee, description)
            if channel is None:
                continue
            earlier = by_kind.get(channel.kind)
            if earlier is None:
                by_kind[channel.kind] = channel
            else:  # the label recurs inside a description: that text belongs to the channel before
                text = " ".join(t for t in (earlier.description, label, time, fee, description) if t)
                by_kind[channel.kind] = replace(earlier, description=text)
        channels = list(by_kind.values())
        if not channels:
            self.problem("Cách thức thực hiện", "no channel found in the flattened text")
        return tuple(channels)

    def flat_documents(self, text: str) -> list[Document]:
        """Documents of a flattened table: "[condition] Tên giấy tờ … Số lượng name [form] Bản chính: n - …"."""
        documents: list[Document] = []
        condition: str | None = None
        start = 0
        for match in _FLAT_COUNTS.finditer(text):
            chunk = text[start : match.start()]
            start = match.end()
            if _FLAT_TABLE in chunk:
                before, _, chunk = chunk.rpartition(_FLAT_TABLE)
                before = before.strip()
                condition = None if before in ("", "Bao gồm") else before.rstrip(":")
            name = chunk.strip()
            form_match = _FLAT_FORM.search(name)
            form = form_match.group(1) if form_match else None
            if form_match:
                name = name[: form_match.start()].strip()
            if name:
                originals, copies = (int(g) if g else None for g in match.groups())
                documents.append(Document(name, originals, copies, "submit", condition, form))
        return documents


def _larger(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _heading_meaning(heading: str | None) -> tuple[Literal["submit", "show", "note"], str | None]:
    """What a ``###`` heading says about the table under it: the role and the case (condition)."""
    if not heading:
        return "submit", None
    key = fold(heading)
    if "xuat trinh" in key and len(key) < 40:
        return "show", None
    if key.lstrip("* ").startswith("luu y"):
        return "note", None
    if "phai nop" in key and len(key) < 40:
        return "submit", None
    if key.startswith(("so luong ho so", "thanh phan ho so")):
        return "submit", None
    return "submit", heading.lstrip("*-• ").rstrip(":").strip() or None


def parse_detail(text: str, file: str, code: str) -> tuple[ProcedureDetail | None, list[DataProblem]]:
    """Parse one detail page.

    Parameters
    ----------
    text
        The page's Markdown.
    file
        Its path, for problems.
    code
        The procedure code the page belongs to (from its folder name).

    Returns
    -------
    tuple[ProcedureDetail | None, list[DataProblem]]
        The detail (None when the page is not a detail page at all: no title or no ``Thông tin chung``)
        and one problem per section that could not be read.
    """
    page = _Page(file, code)
    title_line = next((line for line in text.splitlines() if line.startswith("# ")), None)
    sections = _sections(text)
    general = sections.get("Thông tin chung")
    if title_line is None or general is None:
        page.problem("Thông tin chung", "not a detail page (no title or no 'Thông tin chung' section)")
        return None, page.problems
    info = {key.strip(): value.strip() for key, value in _BULLET.findall(general)}
    page_code = info.get("Mã thủ tục", "")
    if page_code != code:
        page.problem("Thông tin chung", f"Mã thủ tục {page_code!r} is not the folder's code {code}")
    shape: Literal["full", "fallback"] = "fallback" if "Nguồn fallback" in info else "full"
    level_text = _stated(info.get("Cấp thực hiện", ""))
    applicants = _stated(info.get("Đối tượng thực hiện", ""))
    agency_text = _stated(sections.get("Cơ quan thực hiện", ""))
    agencies = tuple(a.strip() for a in re.split(r"[;\n]", agency_text or "") if a.strip())
    channels_body = sections.get("Cách thức thực hiện", "")
    documents_body = sections.get("Thành phần hồ sơ", "")
    for name in ("Cách thức thực hiện", "Thành phần hồ sơ"):
        if name not in sections:
            page.problem(name, "section missing")
    notes: tuple[str, ...] = ()
    if shape == "fallback":
        channels = page.flat_channels(channels_body) if _stated(channels_body) else ()
        documents = tuple(page.flat_documents(" ".join(documents_body.split()))) if _stated(documents_body) else ()
        if _stated(documents_body) and not documents:
            page.problem("Thành phần hồ sơ", "no document found in the flattened text")
    else:
        channels = page.channels(channels_body)
        documents, notes = page.documents(documents_body)
    detail = ProcedureDetail(
        code=code,
        title=title_line[2:].strip(),
        shape=shape,
        levels=_split_outside_parens(level_text) if level_text else (),
        field=_stated(info.get("Lĩnh vực", "")),
        applicants=_split_outside_parens(applicants) if applicants else (),
        agencies=agencies,
        channels=channels,
        documents=documents,
        notes=notes,
        legal_basis=page.legal_basis(sections.get("Căn cứ pháp lý", "")),
        decision=_stated(info.get("Số quyết định", "")),
        source_file=file,
    )
    return detail, page.problems


def parse_detail_file(
    path: Path, code: str, label: str | None = None
) -> tuple[ProcedureDetail | None, list[DataProblem]]:
    """Read and parse the detail page at ``path`` (``label`` names it in problems; default the path)."""
    file = label or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [DataProblem(file, f"page: cannot read ({exc})", id=code, context={"section": "page"})]
    return parse_detail(text, file, code)

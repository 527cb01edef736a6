"""The one catalogue of what gandan tells people: notes, states and explanations, Vietnamese first.

Every sentence a surface shows a resident (an API note, a CLI line, an MCP text, a page message) comes from
here, as a `Message` that carries the Vietnamese text, the English text beside it and a stable ``code`` a
program can act on. A surface shows ``text`` on a Vietnamese page and ``text_en`` on an English one; it never
shows English in place of Vietnamese.

Examples
--------
>>> note = message("beyond_network", mode="motorbike")
>>> note.text
'Điểm xuất phát nằm ngoài mạng đường xe máy; khoảng cách tính theo đường chim bay.'
>>> note.text_en
'The starting point is beyond the motorbike road network; distances are straight-line.'
>>> state_label("closed"), state_label("closed", "en")
('đang đóng cửa', 'closed')
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "CATALOGUE",
    "Lang",
    "Message",
    "change_kind_label",
    "message",
    "mode_label",
    "moment_text",
    "place_kind_label",
    "placeholders",
    "state_label",
]

Lang = Literal["vi", "en"]

# code -> (Vietnamese, English). Placeholders are str.format fields; both texts use the same ones.
CATALOGUE: Final[dict[str, tuple[str, str]]] = {
    "no_capable_point": (
        "Không có điểm phục vụ nào ở Hà Nội nhận trực tiếp thủ tục này.",
        "No service point in Hanoi handles this procedure in person.",
    ),
    "not_at_service_point": (
        "Thủ tục này không giải quyết tại điểm phục vụ hành chính công; nơi giải quyết: {agency}.",
        "This procedure is not handled at public-service locations; it is handled by {agency}.",
    ),
    "file_online": (
        "Có thể nộp trực tuyến tại {url}.",
        "It can be filed online at {url}.",
    ),
    "procedure_bring": (
        "Cần mang: {documents}.",
        "Bring: {documents}.",
    ),
    "procedure_time": (
        "Thời gian giải quyết: {time}.",
        "Processing time: {time}.",
    ),
    "procedure_fee": (
        "Phí, lệ phí: {fee}.",
        "Fee: {fee}.",
    ),
    "portal_page": (
        "Thông tin thủ tục trên Cổng Dịch vụ công quốc gia: {url}.",
        "The procedure on the National Public Service Portal: {url}.",
    ),
    "procedure_no_details": (
        "Cổng Dịch vụ công chưa có chi tiết hồ sơ của thủ tục này; xem tại {url}.",
        "The national portal gives no details of the file for this procedure; see {url}.",
    ),
    "place_unknown": (
        "Chưa rõ nơi giải quyết thủ tục này ở Hà Nội; cơ quan theo danh mục: {agency}.",
        "Where this procedure is handled in Hanoi is not known; the catalogue names: {agency}.",
    ),
    "place_unknown_named": (
        "{name}: chưa rõ nơi giải quyết ở Hà Nội; cơ quan theo danh mục: {agency}.",
        "{name}: where it is handled in Hanoi is not known; the catalogue names: {agency}.",
    ),
    "not_at_service_point_named": (
        "{name} không làm tại các điểm phục vụ hành chính công của Hà Nội; cơ quan giải quyết: {agency}.",
        "{name} is not handled at Hanoi's public-service locations; it is handled by {agency}.",
    ),
    "place_unknown_here": (
        "(chưa rõ nơi giải quyết ở Hà Nội)",
        "(where it is handled in Hanoi is not known)",
    ),
    "all_closed": (
        "Lúc {at}, mọi nơi nhận thủ tục này đều đóng cửa; sớm nhất mở lại: {name}, lúc {opens_at}.",
        "At {at}, every place that handles this procedure is closed; the earliest to reopen is {name}, at {opens_at}.",
    ),
    "none_open_shown_closed": (
        "Không có nơi nào đang mở; dưới đây là những nơi gần nhất kèm giờ mở lại.",
        "Nothing is open; below are the nearest places with their reopening times.",
    ),
    "no_reopening_known": (
        "Không rõ khi nào các nơi này mở lại trong {days} ngày tới.",
        "It is not known when these places reopen within the next {days} days.",
    ),
    "beyond_network": (
        "Điểm xuất phát nằm ngoài mạng đường {mode_vi}; khoảng cách tính theo đường chim bay.",
        "The starting point is beyond the {mode} road network; distances are straight-line.",
    ),
    "places_off_network": (
        "{count} nơi ở gần nằm ngoài mạng đường {mode_vi} nên không được xếp theo thời gian đi: {ids}.",
        "{count} nearby place(s) lie beyond the {mode} road network and are not ranked by travel time: {ids}.",
    ),
    "place_named_coordinates_ignored": (
        "Câu hỏi có nêu địa điểm nên không dùng toạ độ đã gửi.",
        "The question names a place, so the coordinates sent were not used.",
    ),
    "not_vietnamese": (
        "Câu hỏi có vẻ không phải tiếng Việt.",
        "The question does not look Vietnamese.",
    ),
    "time_not_understood": (
        "Tôi chưa hiểu thời điểm “{phrase}” ({reason_vi}).",
        "The time “{phrase}” was not understood ({reason}).",
    ),
    "time_question": (
        "Bạn định đến vào lúc nào? Ví dụ: sáng mai, chiều thứ Sáu, 14:00 ngày 5/3.",
        "When do you plan to go? For example: tomorrow morning, Friday afternoon, 14:00 on 5/3.",
    ),
    "time_assumed": (
        "Về thời gian: {reason_vi}.",
        "About the time: {reason}.",
    ),
    "unit_went_whole": (
        "{unit} ({district}) cũ nay thuộc trọn về {commune}.",
        "Former {unit} ({district}) went whole into {commune}.",
    ),
    "unit_split": (
        "{unit} ({district}) cũ đã bị chia; vị trí của nó nằm ở {commune} (phần có khả năng nhất); các phần khác: "
        "{others}.",
        "Former {unit} ({district}) was split; its point lies in {commune} (the likely part); other parts: {others}.",
    ),
    "unit_not_in_crosswalk": (
        "{unit} cũ không có trong bảng chuyển đổi; phường, xã lấy theo vị trí của nó.",
        "Former {unit} is not in the crosswalk; commune taken from its point.",
    ),
    "no_procedure_match": (
        "Không có thủ tục nào khớp với “{query}”.",
        "No procedure matches “{query}”.",
    ),
    "not_in_person_here": (
        "(không làm trực tiếp tại các điểm phục vụ hành chính công)",
        "(not handled in person at public-service locations)",
    ),
    "commune_formed_from": (
        "{name} (mã {code}), hình thành từ {count} đơn vị cấp xã trước năm 2025.",
        "{name} (code {code}), formed from {count} pre-2025 unit(s).",
    ),
    "district_centre_in": (
        "{district}: khu trung tâm nay thuộc {commune}",
        "{district}: its centre is now in {commune}",
    ),
    "place_ambiguous": (
        "Chưa rõ là nơi nào: {options}.",
        "Ambiguous: {options}.",
    ),
    "outside_hanoi_communes": (
        "Vị trí này không thuộc phường, xã nào của Hà Nội.",
        "Outside every commune of Hanoi.",
    ),
    "coverage_city": (
        "{code}: {share} trong {population} người dân sống cách một trong {places} địa điểm không quá {metres} m",
        "{code}: {share} of {population} people live within {metres} m of one of {places} places",
    ),
    "coverage_commune": (
        "; {name}: {share} được phục vụ",
        "; {name}: {share} covered",
    ),
    "staff_closed": (
        "Đóng cửa theo thông báo của cán bộ: {reason}.",
        "Closed by notice of the staff: {reason}.",
    ),
    "nearer_closed_by_staff": (
        "{name} (cách {distance_vi}) gần hơn nhưng đang đóng cửa theo thông báo của cán bộ: “{reason}”.",
        "{name} ({distance} away) is nearer but closed by notice of the staff: “{reason}”.",
    ),
    "nearer_unavailable_by_staff": (
        "{name} (cách {distance_vi}) gần hơn nhưng tạm không nhận thủ tục này: “{reason}”.",
        "{name} ({distance} away) is nearer but does not take this procedure for now: “{reason}”.",
    ),
    "place_closed_by_staff": (
        "{name} đóng cửa theo thông báo của cán bộ: “{reason}”.",
        "{name} is closed by notice of the staff: “{reason}”.",
    ),
    # A staff change that cannot be stored: what is wrong with one field of the form (`geo.changes`).
    "change_unknown_kind": (
        "không có loại thay đổi '{kind}'; chọn một trong: {kinds}",
        "unknown kind '{kind}'; one of {kinds}",
    ),
    "change_no_place": (
        "không có điểm phục vụ nào mã '{id}'",
        "no service point has the id '{id}'",
    ),
    "change_reason_missing": (
        "hãy ghi lý do (người dân sẽ thấy lý do này, và nhật ký lưu lại)",
        "say why (the reason is shown to citizens and kept in the audit)",
    ),
    "change_text_too_long": (
        "tối đa {limit} ký tự, đang có {count}",
        "at most {limit} characters, got {count}",
    ),
    "change_time_no_offset": (
        "thời điểm cần ghi kèm múi giờ (ví dụ 2026-12-01T13:00+07:00)",
        "a time needs its UTC offset (e.g. 2026-12-01T13:00+07:00)",
    ),
    "change_needs_range": (
        "{kind_vi} cần có cả thời điểm bắt đầu và thời điểm kết thúc",
        "a {kind} needs both starts and ends",
    ),
    "change_ends_before_starts": (
        "thời điểm kết thúc ({ends}) phải sau thời điểm bắt đầu ({starts})",
        "ends ({ends}) must be after starts ({starts})",
    ),
    "change_span_too_long": (
        "một thay đổi kéo dài tối đa {days} ngày",
        "a change spans at most {days} days",
    ),
    "change_hours_missing": (
        "hãy ghi giờ làm việc của những ngày đó, ví dụ 08:00-11:00 (hoặc off nếu nghỉ)",
        "give the hours of those days, e.g. 08:00-11:00 (or off)",
    ),
    "change_hours_only_times": (
        "chỉ ghi giờ (ví dụ 08:00-11:00,13:30-16:00 hoặc off); không dùng dấu ';' hay dấu ngoặc kép",
        "only times here (e.g. 08:00-11:00,13:30-16:00 or off); no ';' or quotes",
    ),
    "change_hours_invalid": (
        "không đọc được giờ '{hours}'; hãy ghi dạng 08:00-11:00,13:30-16:00 hoặc off (chi tiết: {detail})",
        "invalid hours '{hours}': {detail}",
    ),
    "change_point_missing": (
        "hãy ghi cả kinh độ (lon) và vĩ độ (lat) của điểm đã sửa",
        "give both lon and lat of the corrected point",
    ),
    "change_outside_hanoi": (
        "điểm {lon}, {lat} nằm ngoài Hà Nội",
        "{lon}, {lat} is outside Hanoi",
    ),
    "change_outside_hanoi_swapped": (
        "điểm {lon}, {lat} nằm ngoài Hà Nội (có bị đảo kinh độ và vĩ độ?)",
        "{lon}, {lat} is outside Hanoi (lat and lon swapped?)",
    ),
    "change_precision_invalid": (
        "độ chính xác là exact (đo tại chỗ) hoặc approximate (gần đúng)",
        "precision is exact (surveyed on site) or approximate",
    ),
    "change_exact_needs_survey": (
        "chỉ điểm đo tại chỗ mới được ghi là chính xác",
        "only a point surveyed on site may be exact",
    ),
    "change_method_invalid": (
        "cách xác định là một trong: {methods}",
        "method is one of {methods}",
    ),
    "change_measured_missing": (
        "hãy ghi đã xác định điểm này thế nào (ví dụ GPS ở cửa, chọn trên bản đồ)",
        "say how the point was measured (e.g. GPS at the door, picked on the map)",
    ),
    "change_outside_commune": (
        "điểm nằm ngoài phường, xã của nơi này ({commune}); nếu trụ sở thật sự ở đó, hãy xác nhận "
        "(confirm_outside_commune)",
        "the point lies outside the place's commune ({commune}); confirm it (confirm_outside_commune) if the "
        "office really is there",
    ),
    "change_procedure_missing": (
        "hãy ghi thủ tục (mã quốc gia, ví dụ 1.001193)",
        "name the procedure (national code, e.g. 1.001193)",
    ),
    "change_unknown_procedure": (
        "không có thủ tục mã '{code}' trong danh mục",
        "unknown procedure '{code}'",
    ),
    "change_notice_missing": (
        "hãy viết nội dung thông báo người dân sẽ thấy",
        "write the notice citizens will see",
    ),
    "change_undo_unknown": (
        "không có thay đổi nào mã '{id}'",
        "no change has the id '{id}'",
    ),
    "change_undo_of_undo": (
        "không thể hoàn tác một lần hoàn tác; hãy làm lại thay đổi đó",
        "an undo cannot be undone; make the change again",
    ),
    "change_already_undone": (
        "{id} đã được hoàn tác rồi",
        "{id} is already undone",
    ),
}

_TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # geo.hours.TZ; not imported so that the catalogue stays dependency-free
_WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_STATES: Final[dict[str, tuple[str, str]]] = {
    "open": ("đang mở cửa", "open"),
    "closed": ("đang đóng cửa", "closed"),
    "unknown": ("chưa rõ giờ mở cửa", "hours unknown"),
}
_MODES: Final[dict[str, tuple[str, str]]] = {
    "straight": ("đường chim bay", "straight line"),
    "walk": ("đi bộ", "walk"),
    "motorbike": ("xe máy", "motorbike"),
    "car": ("ô tô", "car"),
}


_CHANGE_KINDS: Final[dict[str, tuple[str, str]]] = {
    "closure": ("lịch đóng cửa", "closure"),
    "special_hours": ("lịch giờ làm việc đặc biệt", "special_hours"),
    "location": ("sửa vị trí", "location"),
    "procedure_unavailable": ("tạm ngừng nhận thủ tục", "procedure_unavailable"),
    "notice": ("thông báo", "notice"),
    "undo": ("hoàn tác", "undo"),
}


_PLACE_KINDS: Final[dict[str, tuple[str, str]]] = {
    "commune": ("phường, xã", "commune"),
    "former_unit": ("phường, xã cũ", "former unit"),
    "former_district": ("quận, huyện cũ", "former district"),
    "landmark": ("địa danh", "landmark"),
    "street": ("đường phố", "street"),
    "coordinates": ("toạ độ", "coordinates"),
}


@dataclass(frozen=True)
class Message:
    """One thing to tell a person: a stable code, the Vietnamese text and the English text beside it."""

    code: str
    text: str
    text_en: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def in_lang(self, lang: Lang) -> str:
        """The text in ``lang``."""
        return self.text_en if lang == "en" else self.text

    def to_json(self) -> dict[str, str]:
        """The message as the API carries it: ``code``, ``text`` (Vietnamese) and ``text_en``."""
        return {"code": self.code, "text": self.text, "text_en": self.text_en}

    def __str__(self) -> str:
        return self.text


def message(code: str, /, **params: Any) -> Message:
    """The catalogue's message ``code`` filled with ``params`` (``mode`` also fills ``mode_vi``).

    A `datetime` parameter is written in each language by `moment_text` ("08:00 thứ Hai 09/03/2026",
    "08:00 Monday 09/03/2026"), so both texts keep the same placeholders.

    Raises
    ------
    KeyError
        ``code`` is not in the catalogue, or a placeholder has no value.
    """
    vi, en = CATALOGUE[code]
    if "mode" in params and "mode_vi" not in params:
        params["mode_vi"] = mode_label(str(params["mode"]))
    if any(isinstance(v, datetime) for v in params.values()):
        in_vi = {k: moment_text(v) if isinstance(v, datetime) else v for k, v in params.items()}
        in_en = {k: moment_text(v, "en") if isinstance(v, datetime) else v for k, v in params.items()}
        return Message(code, vi.format(**in_vi), en.format(**in_en), params)
    return Message(code, vi.format(**params), en.format(**params), params)


def distance_text(metres: float, lang: Lang = "vi") -> str:
    """A distance as said in a sentence: ``"370 m"`` (to 10 m), ``"1,2 km"`` (decimal comma; ``"1.2 km"`` in English).

    Examples
    --------
    >>> distance_text(368.0), distance_text(1234.0), distance_text(1234.0, "en")
    ('370 m', '1,2 km', '1.2 km')
    """
    if metres < 1000:
        return f"{round(metres / 10) * 10:.0f} m"
    text = f"{metres / 1000:.1f} km"
    return text if lang == "en" else text.replace(".", ",")


def moment_text(moment: datetime, lang: Lang = "vi") -> str:
    """A moment as said in a note: clock time, weekday and date in Hanoi (``"08:00 thứ Hai 09/03/2026"``)."""
    local = moment.astimezone(_TZ)
    weekdays = _WEEKDAYS_EN if lang == "en" else _WEEKDAYS_VI
    return f"{local:%H:%M} {weekdays[local.weekday()]} {local:%d/%m/%Y}"


def state_label(state: str, lang: Lang = "vi") -> str:
    """How an opening state (``open``, ``closed``, ``unknown``) is said in ``lang``."""
    vi, en = _STATES[state]
    return en if lang == "en" else vi


def mode_label(mode: str, lang: Lang = "vi") -> str:
    """How a travel mode is said in ``lang``."""
    vi, en = _MODES[mode]
    return en if lang == "en" else vi


def change_kind_label(kind: str, lang: Lang = "vi") -> str:
    """How a kind of staff change (``closure``, ``special_hours``…) is said in ``lang`` (unknown: as is)."""
    vi, en = _CHANGE_KINDS.get(kind, (kind, kind))
    return en if lang == "en" else vi


def place_kind_label(kind: str, lang: Lang = "vi") -> str:
    """How a kind of place (``commune``, ``former_unit``, ``landmark``…) is said in ``lang`` (unknown: as is)."""
    vi, en = _PLACE_KINDS.get(kind, (kind, kind))
    return en if lang == "en" else vi


def placeholders(template: str) -> set[str]:
    """The str.format fields a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}

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
from typing import Any, Final, Literal

__all__ = [
    "CATALOGUE",
    "Lang",
    "Message",
    "message",
    "mode_label",
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
    "staff_closed": (
        "Đóng cửa theo thông báo của cán bộ: {reason}.",
        "Closed by notice of the staff: {reason}.",
    ),
}

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


def message(code: str, **params: Any) -> Message:
    """The catalogue's message ``code`` filled with ``params`` (``mode`` also fills ``mode_vi``).

    Raises
    ------
    KeyError
        ``code`` is not in the catalogue, or a placeholder has no value.
    """
    vi, en = CATALOGUE[code]
    if "mode" in params and "mode_vi" not in params:
        params["mode_vi"] = mode_label(str(params["mode"]))
    return Message(code, vi.format(**params), en.format(**params), params)


def state_label(state: str, lang: Lang = "vi") -> str:
    """How an opening state (``open``, ``closed``, ``unknown``) is said in ``lang``."""
    vi, en = _STATES[state]
    return en if lang == "en" else vi


def mode_label(mode: str, lang: Lang = "vi") -> str:
    """How a travel mode is said in ``lang``."""
    vi, en = _MODES[mode]
    return en if lang == "en" else vi


def placeholders(template: str) -> set[str]:
    """The str.format fields a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}

"""Domain errors of gandan.

Every error carries a stable ``type`` slug (used as the RFC 9457 problem type over HTTP), a short
``title`` and a ``detail`` that says what went wrong and where. The CLI prints ``detail`` on one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geo.messages import Message

__all__ = [
    "BackendUnavailable",
    "ChecksumMismatch",
    "DataProblem",
    "DataValidationError",
    "GandanError",
    "IndexNotBuilt",
    "InvalidChange",
    "InvalidParameter",
    "InvalidQuery",
    "InvalidTime",
    "NotFound",
    "OutsideServiceArea",
    "RateLimited",
    "SourceUnavailable",
    "UnknownProcedure",
]


class GandanError(Exception):
    """Base class of every error gandan raises on purpose."""

    type: str = "error"
    title: str = "Error"
    status: int = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


@dataclass(frozen=True)
class DataProblem:
    """One problem found while validating input data: what, and where (file, row and column).

    A problem a person fixes in a form (a staff change) says what is wrong from the message catalogue
    (`from_message`): ``message`` is then Vietnamese, ``message_en`` the English beside it and ``code`` the
    catalogue's code. A problem in an authored file keeps its one (English) ``message``.
    """

    file: str
    message: str
    row: int | None = None
    id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    column: str | None = None
    message_en: str | None = None
    code: str | None = None

    @classmethod
    def from_message(
        cls, file: str, said: Message, *, column: str | None = None, id: str | None = None
    ) -> DataProblem:
        """The problem ``said`` (a catalogue message) about ``column``: Vietnamese ``message``, English beside."""
        return cls(file, said.text, id=id, column=column, message_en=said.text_en, code=said.code)

    def texts(self) -> dict[str, str | None]:
        """What is wrong as an API carries it: ``message`` (Vietnamese when known), ``message_en``, ``code``."""
        return {"message": self.message, "message_en": self.message_en or self.message, "code": self.code}

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        who = f" [{self.id}]" if self.id else ""
        column = f" {self.column}" if self.column else ""
        return f"{where}{who}{column}: {self.message}"


class DataValidationError(GandanError):
    """Input data failed validation; ``problems`` lists each problem with its file and row."""

    type = "data-validation"
    title = "Data failed validation"
    status = 422

    def __init__(self, problems: list[DataProblem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "no detail"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}")


class ChecksumMismatch(GandanError):
    """A fetched upstream file does not have the pinned sha256."""

    type = "checksum-mismatch"
    title = "Checksum mismatch"
    status = 500


class SourceUnavailable(GandanError):
    """An upstream file could be neither downloaded nor copied from the mirror."""

    type = "source-unavailable"
    title = "Source unavailable"
    status = 503


class IndexNotBuilt(GandanError):
    """No index artifact exists yet; run ``gandan build``."""

    type = "index-not-built"
    title = "Index not built"
    status = 503


class OutsideServiceArea(GandanError):
    """Coordinates fall outside Hanoi (the service area)."""

    type = "outside-service-area"
    title = "Location outside the service area"
    status = 422


class UnknownProcedure(GandanError):
    """The procedure code or name is not in the catalog."""

    type = "unknown-procedure"
    title = "Unknown procedure"
    status = 404


class InvalidTime(GandanError):
    """A time could not be parsed, or has no UTC offset."""

    type = "invalid-time"
    title = "Invalid time"
    status = 422


class InvalidParameter(GandanError):
    """A parameter is out of its allowed range or malformed."""

    type = "invalid-parameter"
    title = "Invalid parameter"
    status = 422


class InvalidQuery(InvalidParameter):
    """A free-text question is empty, too long, or has no words (emoji or punctuation only)."""

    type = "invalid-query"
    title = "Invalid query"


class NotFound(GandanError):
    """A requested object (commune, service point, collection) does not exist."""

    type = "not-found"
    title = "Not found"
    status = 404


class BackendUnavailable(GandanError):
    """The query backend (for example PostGIS) cannot be reached right now."""

    type = "backend-unavailable"
    title = "Backend unavailable"
    status = 503


class RateLimited(GandanError):
    """Too many failed sign-ins or writes from one client."""

    type = "rate-limited"
    title = "Too many requests"
    status = 429


class InvalidChange(GandanError):
    """A submitted staff change failed validation; ``errors`` names each field (``where``) and what is wrong.

    Each error carries ``message`` (Vietnamese), ``message_en`` (English) and the catalogue's ``code``.
    """

    type = "invalid-change"
    title = "Invalid change"
    status = 422

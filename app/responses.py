"""Response classes: GeoJSON serialised with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

__all__ = ["GEOJSON", "GeoJSONResponse"]

GEOJSON = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    """``application/geo+json`` rendered by orjson: about 15× faster than the standard library's encoder.

    NaN and infinities become ``null`` (RFC 8259 has no such numbers); numpy values are written as numbers,
    non-string keys as strings (as the standard library does), and any other value orjson does not know
    (a pandas Timestamp, say) as its string.
    """

    media_type = GEOJSON

    def render(self, content: Any) -> bytes:
        """Serialise ``content`` with orjson (numpy values and non-string keys allowed)."""
        return orjson.dumps(content, default=str, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)

"""Free-text lookups for a chatbot: understand a Vietnamese question, answer it or ask back.

The package re-exports what the delivery surfaces use (`Asker`, `get_asker`, `as_plain`, `format_answer`,
`MAX_QUERY_CHARS`); each part lives in its own module (see `geo.ask.asker`).
"""

from __future__ import annotations

from geo.ask.asker import (
    MAX_QUERY_CHARS,
    Asker,
    InvalidQuery,
    ProcedureGuess,
    Understanding,
    as_plain,
    format_answer,
    get_asker,
    labels,
    load_procedure_synonyms,
)

__all__ = [
    "MAX_QUERY_CHARS",
    "Asker",
    "InvalidQuery",
    "ProcedureGuess",
    "Understanding",
    "as_plain",
    "format_answer",
    "get_asker",
    "labels",
    "load_procedure_synonyms",
]

"""Text as a reader compares it. A leaf: imports nothing of the app."""
from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents or combining marks: "Certidões" and "certidoes" are the same word to a reader."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def fold_each(text: str) -> str:
    """`fold`, one character for one character: spans found in the result apply to `text` itself."""
    return "".join((unicodedata.normalize("NFKD", ch)[:1] or ch).lower()[:1] or ch for ch in text)

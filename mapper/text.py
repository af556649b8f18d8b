"""What the pipeline reads of a text: the text a person sees, without the characters they cannot see.

Control characters (a NUL, an escape code) and invisible format characters (zero-width spaces and joiners,
bidirectional marks, a byte-order mark, a soft hyphen) are removed, as the encoder's own tokenizer removes
them anyway; line breaks, tabs and other white space become one space; lone surrogates (a broken UTF-16 text,
which the tokenizer cannot encode at all) are removed; the rest is composed to Unicode NFC ("cafe" +
combining acute -> "café"). So a text of invisible characters only is empty, and is refused as such, and two
texts that look the same share one cached reading.
"""
from __future__ import annotations

import unicodedata

# Unicode general categories removed: control (Cc), format (Cf, the zero-width ones among them) and surrogate (Cs).
REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def normalize_text(text: str) -> str:
    """`text` with invisible characters removed, white space collapsed to single spaces and trimmed, in NFC."""
    kept = "".join(char for char in text if char.isspace() or unicodedata.category(char) not in REMOVED_CATEGORIES)
    return unicodedata.normalize("NFC", " ".join(kept.split()))

"""Text chosen by a client (device names, User-Agents), made safe to show to the owner who reads it.

Stored as given; shown without the characters that can disguise it: controls (NUL, escapes, newlines), format
characters (Unicode category Cf: bidirectional overrides such as U+202E, zero-width characters such as U+200B,
tag characters), surrogates, private-use and unassigned code points, the other default-ignorable characters
(variation selectors, fillers such as U+3164) and blank look-alikes such as U+2800. Unusual spaces become one
plain space, runs of combining marks are cut to a few, and the result is bounded in length."""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"
MAX_COMBINING_MARKS = 3  # in a row: enough for any script, too few to smear over the neighbouring lines

_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})
_MARK_CATEGORIES = frozenset({"Mn", "Me"})
_WHITESPACE_CONTROLS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85")  # shown as a space, like Zs
# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) outside the categories above, and blank letters.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors
    (0x2800, 0x2800),  # braille pattern blank
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0x1D173, 0x1D17A),  # musical symbol formatting
    (0xE0100, 0xE01EF),  # variation selectors supplement
)


def _invisible(code: int) -> bool:
    return any(low <= code <= high for low, high in _INVISIBLE_RANGES)


def display_text(value: str, max_length: int) -> str:
    """`value` as it may be shown: visible characters only, spaces collapsed, at most `max_length` characters
    (cut ones end with an ellipsis)."""
    if value.isascii() and value.isprintable() and "  " not in value and len(value) <= max_length:
        return value.strip()  # the common case, untouched
    kept: list[str] = []
    marks = 0
    for char in value:
        category = "Zs" if char in _WHITESPACE_CONTROLS else unicodedata.category(char)
        if category in _DROPPED_CATEGORIES or _invisible(ord(char)):
            continue
        if category in _SPACE_CATEGORIES:
            if kept and kept[-1] != " ":
                kept.append(" ")
            marks = 0
            continue
        if category in _MARK_CATEGORIES:
            marks += 1
            if marks > MAX_COMBINING_MARKS or not kept:
                continue
        else:
            marks = 0
        kept.append(char)
    text = "".join(kept).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + ELLIPSIS
    return text


def storable_text(value: str) -> str:
    """`value` as it can be stored: as given, but for NUL, which PostgreSQL's text columns refuse, replaced by
    U+FFFD (visible wherever it is shown)."""
    return value.replace("\x00", "\ufffd")

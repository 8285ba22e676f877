"""Vietnamese text as one form, whatever keyboard typed it.

Vietnamese input methods write letters with diacritics either precomposed ("ễ", one code point:
Unicode dựng sẵn) or decomposed ("e" + "̂" + "̃": Unicode tổ hợp), and both look the same. A name
typed each way would be two names to every comparison: the duplicate check would let the same child
be registered twice, and a registry would not find the person. Intake takes every text in the
composed form (NFC), the one the national databases use, without the characters that show nothing.
"""

from __future__ import annotations

import unicodedata
from typing import Any


def composed(value: Any) -> Any:
    """``value`` with every string in it (dict keys too) in NFC; other values as they are."""
    if isinstance(value, str):
        return value if unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {composed(k): composed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [composed(v) for v in value]
    return value


def tidied(value: Any) -> Any:
    """``value`` with every string in it composed and each of its lines :func:`visible` (line breaks
    kept, none at the ends); dict keys composed only. Taken raw, a name reached the events and the
    registries with a zero-width space, a right-to-left override or doubled spaces in it, which the
    duplicate check ignored and a registry's look-up by name would not."""
    if isinstance(value, str):
        text = composed(value)
        if text.isascii() and "  " not in text and text == text.strip() and text.isprintable():
            return text  # the usual code or number: nothing to tidy
        return "\n".join(visible(line) for line in text.splitlines()).strip("\n")
    if isinstance(value, dict):
        return {composed(k): visible(composed(v)) if _names(k, v) else tidied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tidied(v) for v in value]
    return value


def _names(key: Any, value: Any) -> bool:
    """Whether ``value`` is a name (``full_name``, ``…_name``): one line. With its line break kept,
    "Nguyễn Văn\r\nAn" went to the civil-status registry and the portal as two lines."""
    return isinstance(value, str) and isinstance(key, str) and (key == "name" or key.endswith(("full_name", "_name")))


#: The rule :func:`canonical` follows, kept with every digest it made (migration 0005): 1 kept case,
#: tone placement and "Ð" apart; 2 kept control characters and the marks Unicode ignores (migration 0007).
SUBJECT_RULE = 3


def canonical(value: Any) -> Any:
    """What identifies: composed, without invisible format characters, spaces as one (none at the
    ends), in one case, with each word's tone mark in one place, so that "Nguyễn  Văn An ",
    "Nguyễn Văn\u200b An", "NGUYỄN VĂN AN" and "Nguyễn Văn An" are the same child, and so are "Hòa" and
    "Hoà", "Thúy" and "Thuý" (two placements of the tone that keyboards offer as a setting) and "Ðỗ"
    and "Đỗ" (U+00D0, left by conversions from legacy fonts). A number with no fraction is an integer
    whichever way it was written: map sheet ``12.0`` is sheet ``12`` (the form schema takes both as
    an integer), not a second parcel."""
    value = composed(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        return value
    words = visible(value).casefold().replace("ð", "đ").split(" ")
    return " ".join(_tone_last(word) for word in words)


#: The Vietnamese tone marks, as combining characters: huyền, sắc, ngã, hỏi, nặng.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def _tone_last(word: str) -> str:
    """``word`` with its tone mark after its last letter (one place, whichever vowel carried it); the
    marks that make a letter (ă, â, ê, ô, ơ, ư) stay where they are."""
    if word.isascii():
        return word
    apart = unicodedata.normalize("NFD", word)
    tones = "".join(sorted(c for c in apart if c in _TONES))
    return unicodedata.normalize("NFC", "".join(c for c in apart if c not in _TONES) + tones)


#: Characters that are letters or symbols to Unicode but print as nothing: the Hangul fillers and the
#: blank Braille pattern (they pass for a name that shows nothing).
BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")


#: Marks Unicode ignores by default (they change how a letter is drawn, if anything, not which letter
#: it is): the combining grapheme joiner, Mongolian and Khmer fillers. The variation selectors are
#: told apart in :func:`_shows`.
IGNORABLE_MARKS = frozenset("\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f")


def visible(text: str) -> str:
    """``text`` as a reader sees it: format characters (zero-width spaces and joiners, the byte-order
    mark, direction marks: Unicode category Cf), control characters (a bell, an escape, DEL: category
    Cc), marks Unicode ignores and blank-looking letters dropped, and white space as single spaces,
    none at the ends. Empty for a text that shows nothing. The format characters that make one
    picture of several emoji stay (a family 👨‍👩‍👧 is not three people, nor a flag two)."""
    if not text.isascii():
        text = "".join(c for i, c in enumerate(text) if _shows(text, i))
    elif not text.isprintable():  # white space is split below; any other control character shows nothing
        text = "".join(c for c in text if c.isprintable() or c.isspace())
    return " ".join(text.split())


_ZWJ = "\u200d"
_BLACK_FLAG = "\U0001f3f4"


def _shows(text: str, i: int) -> bool:
    c = text[i]
    if c in BLANK_LOOKING or c in IGNORABLE_MARKS:
        return False
    if _is_variation_selector(c):  # asks for one picture of an emoji; after a letter it hides a difference
        return c == "\ufe0f" and i > 0 and unicodedata.category(text[i - 1]).startswith("S")
    category = unicodedata.category(c)
    if category == "Cc":
        return c.isspace()
    if category != "Cf":
        return True
    if c == _ZWJ:  # joins two emoji into one picture; between letters it hides a difference
        return 0 < i < len(text) - 1 and _pictorial(text[i - 1]) and _pictorial(text[i + 1])
    if _is_tag(c):  # a subdivision flag: the black flag, its region in tag letters
        return i > 0 and (text[i - 1] == _BLACK_FLAG or _is_tag(text[i - 1]))
    return False


def _pictorial(c: str) -> bool:
    """A symbol (emoji are), or the variation selector that asks for one as a picture."""
    return unicodedata.category(c).startswith("S") or c == "\ufe0f"


def _is_variation_selector(c: str) -> bool:
    return "\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef"


def _is_tag(c: str) -> bool:
    return "\U000e0020" <= c <= "\U000e007f"

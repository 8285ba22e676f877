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

from contracts.text import composed, shown_text, visible

__all__ = ["SUBJECT_RULE", "canonical", "composed", "tidied", "visible"]


def tidied(value: Any) -> Any:
    """``value`` with every string in it composed and each of its lines :func:`visible` (line breaks
    kept, none at the ends); dict keys composed only. Taken raw, a name reached the events and the
    registries with a zero-width space, a right-to-left override or doubled spaces in it, which the
    duplicate check ignored and a registry's look-up by name would not."""
    if isinstance(value, str):
        return shown_text(value)
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

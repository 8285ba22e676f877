"""Text as a reader sees it, whatever keyboard typed it.

Vietnamese input methods write letters with diacritics either precomposed ("ễ", one code point:
Unicode dựng sẵn) or decomposed ("e" + "̂" + "̃": Unicode tổ hợp), and both look the same; text also
carries characters that show nothing (zero-width spaces, direction overrides, control characters).
Every service that takes text from people (intake's citizens, workflow's officials) takes it in the
composed form (NFC), the one the national databases use, without those characters.
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


def shown_text(text: str) -> str:
    """``text`` composed, each of its lines :func:`visible` (line breaks kept, none at the ends)."""
    text = composed(text)
    if text.isascii() and "  " not in text and text == text.strip() and text.isprintable():
        return text  # the usual code or number: nothing to tidy
    return "\n".join(visible(line) for line in text.splitlines()).strip("\n")


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

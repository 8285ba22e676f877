"""Dossier codes ``<agency code>-YYMMDD-NNNN`` and result codes ``<dossier code>-KQ<n>``."""

from __future__ import annotations

import re
from datetime import date, datetime

from contracts.ids import UUID_TEXT, as_stored_id
from workcal import vietnam_tz

#: At least four digits; a day past 9,999 dossiers at one agency widens the number instead of failing.
SEQUENCE_DIGITS = 4
DOSSIER_CODE = re.compile(r"^(?P<agency>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*)-(?P<day>[0-9]{6})-(?P<seq>[0-9]{4,})$")


def receipt_day(at: datetime) -> date:
    """The receipt date a code carries: the Vietnam calendar date of ``at``."""
    return at.astimezone(vietnam_tz()).date()


def dossier_code(agency_code: str, day: date, sequence: int) -> str:
    """``UBND-X-YENHOA-240617-0001`` for the first dossier of 17 June 2024 at that agency."""
    if sequence < 1:
        raise ValueError(f"sequence numbers start at 1, got {sequence}")
    return f"{agency_code}-{day:%y%m%d}-{sequence:0{SEQUENCE_DIGITS}d}"


def dossier_reference(ref: str) -> tuple[str, str]:
    """Which column a reference to a dossier names, and its value there: ``("dossier_id", id)`` for a
    UUID in either case (stored in lower case; a portal upper-casing it got a 404), else ``("code", ref)``."""
    return ("dossier_id", as_stored_id(ref)) if UUID_TEXT.match(ref) else ("code", ref)


def is_dossier_code(text: str) -> bool:
    return DOSSIER_CODE.match(text) is not None


def result_code(dossier: str, n: int) -> str:
    """The code of the dossier's ``n``-th electronic result."""
    return f"{dossier}-KQ{n}"

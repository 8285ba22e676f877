"""The 12-digit Vietnamese personal identification number (số định danh cá nhân).

Layout (Decree 137/2015/NĐ-CP, Circular 07/2016/TT-BCA as amended by 59/2021/TT-BCA)::

    PPP C YY RRRRRR
    │   │ │  └─ 6 random digits
    │   │ └──── last two digits of the birth year
    │   └────── century and sex: 1900s 0 male / 1 female, 2000s 2/3, 2100s 4/5, 2200s 6/7, 2300s 8/9
    └────────── province (or centrally run city) where the birth was registered

The first six digits can therefore be checked against the person's data, which is how forms
reuse population data without trusting it blindly. Only the standard library is used so that
every service (and the registry simulator) can depend on this module.

The province table is the 63 provincial codes in use before the July 2025 merger of provinces;
numbers already issued keep their codes, so a validator must keep accepting them. Codes for
births registered abroad are not published consistently and are not modelled: pass your own
``provinces`` mapping to accept more codes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# fmt: off
#: Province code → name, as the identification-number scheme uses them (pre-2025 administrative codes).
PROVINCES: Final[Mapping[str, str]] = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn", "008": "Tuyên Quang",
    "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Yên Bái",
    "017": "Hòa Bình", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang",
    "025": "Phú Thọ", "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định", "037": "Ninh Bình",
    "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Bình", "045": "Quảng Trị",
    "046": "Thừa Thiên Huế", "048": "Đà Nẵng", "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định",
    "054": "Phú Yên", "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng", "070": "Bình Phước",
    "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai", "077": "Bà Rịa – Vũng Tàu",
    "079": "Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh",
    "086": "Vĩnh Long", "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ",
    "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}
# fmt: on

#: The century digit covers five centuries; outside them a birth year cannot be encoded.
MIN_BIRTH_YEAR: Final = 1900
MAX_BIRTH_YEAR: Final = 2399

_TWELVE_DIGITS = re.compile(r"[0-9]{12}")


class Sex(StrEnum):
    """Sex as the fourth digit encodes it (even male, odd female)."""

    MALE = "male"
    FEMALE = "female"


class InvalidCitizenId(ValueError):
    """The string is not a well-formed identification number; ``reason`` says which rule it breaks."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CitizenIdParts:
    """What the first six digits say about a person, plus the random tail."""

    province_code: str
    province_name: str
    sex: Sex
    birth_year: int
    serial: str


def century_sex_digit(sex: Sex | str, birth_year: int) -> int:
    """The fourth digit for a person of ``sex`` born in ``birth_year``."""
    if not MIN_BIRTH_YEAR <= birth_year <= MAX_BIRTH_YEAR:
        raise ValueError(f"birth year {birth_year} outside {MIN_BIRTH_YEAR}–{MAX_BIRTH_YEAR}")
    return (birth_year - MIN_BIRTH_YEAR) // 100 * 2 + (1 if Sex(sex) is Sex.FEMALE else 0)


def parse(id_number: str, *, provinces: Mapping[str, str] = PROVINCES) -> CitizenIdParts:
    """Split a number into its parts, or raise :class:`InvalidCitizenId` saying what is wrong."""
    if not isinstance(id_number, str):
        raise InvalidCitizenId(f"must be a string of 12 digits, got {type(id_number).__name__}")
    if not _TWELVE_DIGITS.fullmatch(id_number):
        # re's [0-9] (not \d) keeps full-width and other Unicode digits out.
        raise InvalidCitizenId(f"must be exactly 12 digits 0-9, got {len(id_number)} characters")
    province_code = id_number[:3]
    if province_code not in provinces:
        raise InvalidCitizenId(f"digits 1-3: {province_code} is not a known province code")
    code = int(id_number[3])
    return CitizenIdParts(
        province_code=province_code,
        province_name=provinces[province_code],
        sex=Sex.FEMALE if code % 2 else Sex.MALE,
        birth_year=MIN_BIRTH_YEAR + code // 2 * 100 + int(id_number[4:6]),
        serial=id_number[6:],
    )


def is_valid(id_number: str, *, provinces: Mapping[str, str] = PROVINCES) -> bool:
    """Whether ``id_number`` is well formed (says nothing about whom it belongs to)."""
    try:
        parse(id_number, provinces=provinces)
    except InvalidCitizenId:
        return False
    return True


def mask(id_number: str) -> str:
    """How public views and logs show a number: the first and last two digits (``03********88``)."""
    return f"{id_number[:2]}{'*' * (len(id_number) - 4)}{id_number[-2:]}"


def check_consistency(
    id_number: str,
    *,
    sex: Sex | str | None = None,
    birth_year: int | None = None,
    province_code: str | None = None,
    provinces: Mapping[str, str] = PROVINCES,
) -> list[str]:
    """Human-readable mismatches between the number and the person's data; empty when consistent.

    Each message starts with the name of the mismatching field. Only the facts given are checked.
    A malformed number raises :class:`InvalidCitizenId` instead: "not a number at all" and "the
    number of someone else" call for different answers to the citizen.
    """
    parts = parse(id_number, provinces=provinces)
    mismatches: list[str] = []
    if sex is not None and Sex(sex) is not parts.sex:
        mismatches.append(f"sex: the number encodes {parts.sex.value}, the person is {Sex(sex).value}")
    if birth_year is not None and birth_year != parts.birth_year:
        mismatches.append(f"birth_year: the number encodes {parts.birth_year}, the person was born in {birth_year}")
    if province_code is not None and province_code != parts.province_code:
        given = provinces.get(province_code, "unknown province")
        mismatches.append(
            f"province_code: the number encodes {parts.province_code} ({parts.province_name}), "
            f"the birth was registered in {province_code} ({given})"
        )
    return mismatches


def generate(
    province_code: str,
    sex: Sex | str,
    birth_year: int,
    rng: random.Random,
    *,
    provinces: Mapping[str, str] = PROVINCES,
) -> str:
    """A well-formed number for the given person; the six random digits come from ``rng``.

    Uniqueness is the caller's business (the registry that assigns numbers knows which are taken).
    """
    if province_code not in provinces:
        raise ValueError(f"{province_code!r} is not a known province code")
    digit = century_sex_digit(sex, birth_year)
    return f"{province_code}{digit}{birth_year % 100:02d}{rng.randrange(1_000_000):06d}"

"""The 12-digit personal identification number: layout, round trip, and consistency checks."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import citizen_id
from contracts.citizen_id import InvalidCitizenId, Sex

provinces = st.sampled_from(sorted(citizen_id.PROVINCES))
sexes = st.sampled_from(list(Sex))
years = st.integers(citizen_id.MIN_BIRTH_YEAR, citizen_id.MAX_BIRTH_YEAR)


@given(province=provinces, sex=sexes, year=years, seed=st.integers())
def test_a_generated_number_parses_back_to_the_person(province: str, sex: Sex, year: int, seed: int) -> None:
    number = citizen_id.generate(province, sex, year, random.Random(seed))
    parts = citizen_id.parse(number)
    assert len(number) == 12 and number.isascii() and number.isdigit()
    assert (parts.province_code, parts.sex, parts.birth_year) == (province, sex, year)
    assert parts.serial == number[6:]
    assert citizen_id.check_consistency(number, sex=sex, birth_year=year, province_code=province) == []


@given(province=provinces, tail=st.text("0123456789", min_size=9, max_size=9))
def test_every_well_formed_number_parses_and_reencodes(province: str, tail: str) -> None:
    number = province + tail
    parts = citizen_id.parse(number)
    assert citizen_id.century_sex_digit(parts.sex, parts.birth_year) == int(number[3])
    assert f"{parts.birth_year % 100:02d}" == number[4:6]


@pytest.mark.parametrize(
    ("year", "sex", "digit"),
    [
        (1900, Sex.MALE, 0),
        (1999, Sex.FEMALE, 1),
        (2000, Sex.MALE, 2),
        (2024, Sex.FEMALE, 3),
        (2100, Sex.MALE, 4),
        (2199, Sex.FEMALE, 5),
        (2250, Sex.MALE, 6),
        (2250, Sex.FEMALE, 7),
        (2300, Sex.MALE, 8),
        (2399, Sex.FEMALE, 9),
    ],
)
def test_the_fourth_digit_encodes_century_and_sex(year: int, sex: Sex, digit: int) -> None:
    assert citizen_id.century_sex_digit(sex, year) == digit


def test_a_known_number_reads_as_expected() -> None:
    parts = citizen_id.parse("036190001234")
    assert parts.province_code == "036" and parts.province_name == "Nam Định"
    assert parts.sex is Sex.FEMALE and parts.birth_year == 1990
    assert citizen_id.parse("079203123456").birth_year == 2003


def test_the_province_table_has_the_63_codes() -> None:
    table = citizen_id.PROVINCES
    assert len(table) == 63
    assert all(len(code) == 3 and code.isdigit() and "001" <= code <= "096" for code in table)
    assert (table["001"], table["079"], table["036"], table["048"]) == ("Hà Nội", "Hồ Chí Minh", "Nam Định", "Đà Nẵng")


@pytest.mark.parametrize(
    ("number", "reason_part"),
    [
        ("03619000123", "12 digits"),
        ("0361900012345", "12 digits"),
        ("03619000123a", "12 digits"),
        (" 36190001234", "12 digits"),
        ("０３６190001234", "12 digits"),  # full-width digits
        ("003190001234", "003 is not a known province"),
        ("000190001234", "000 is not a known province"),
        ("097190001234", "097 is not a known province"),
    ],
)
def test_malformed_numbers_are_rejected_with_a_reason(number: str, reason_part: str) -> None:
    with pytest.raises(InvalidCitizenId) as caught:
        citizen_id.parse(number)
    assert reason_part in caught.value.reason
    assert not citizen_id.is_valid(number)


def test_a_non_string_is_rejected() -> None:
    with pytest.raises(InvalidCitizenId, match="string"):
        citizen_id.parse(36190001234)  # type: ignore[arg-type]


def test_consistency_names_each_mismatching_field() -> None:
    number = "036190001234"  # Nam Định, female, 1990
    mismatches = citizen_id.check_consistency(number, sex="male", birth_year=1991, province_code="079")
    assert [m.split(":")[0] for m in mismatches] == ["sex", "birth_year", "province_code"]
    assert "female" in mismatches[0] and "1990" in mismatches[1] and "Hồ Chí Minh" in mismatches[2]


def test_consistency_checks_only_the_facts_given() -> None:
    number = "036190001234"
    assert citizen_id.check_consistency(number) == []
    assert citizen_id.check_consistency(number, birth_year=1990) == []
    assert citizen_id.check_consistency(number, sex=Sex.MALE) == ["sex: the number encodes female, the person is male"]


def test_consistency_of_a_malformed_number_raises() -> None:
    with pytest.raises(InvalidCitizenId):
        citizen_id.check_consistency("123", sex="male")


@pytest.mark.parametrize(
    ("province", "sex", "year"),
    [("003", "male", 2000), ("001", "male", 1899), ("001", "female", 2400), ("001", "other", 2000)],
)
def test_generate_refuses_what_cannot_be_encoded(province: str, sex: str, year: int) -> None:
    with pytest.raises(ValueError):
        citizen_id.generate(province, sex, year, random.Random(0))


def test_the_same_seed_generates_the_same_number() -> None:
    first = citizen_id.generate("048", "female", 2023, random.Random(42))
    assert first == citizen_id.generate("048", "female", 2023, random.Random(42))
    assert first.startswith("048323")


def test_a_custom_province_table_extends_the_valid_codes() -> None:
    extended = {**citizen_id.PROVINCES, "999": "Test province"}
    number = citizen_id.generate("999", "male", 2001, random.Random(1), provinces=extended)
    assert citizen_id.parse(number, provinces=extended).province_name == "Test province"
    assert not citizen_id.is_valid(number)


def test_mask_keeps_only_the_two_digits_at_each_end() -> None:
    assert citizen_id.mask("036095001234") == "03********34"

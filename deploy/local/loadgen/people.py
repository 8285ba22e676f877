"""People with mutually consistent data: a name, a sex, a birth date in the past and a 12-digit
identification number whose province, century/sex and year digits agree with them.

Numbers must also be unique within a run (intake rejects a second open dossier for the same
subject), so the six random digits come from a counter offset by a per-run salt, not from chance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from contracts import citizen_id
from contracts.citizen_id import Sex

VIETNAM = timezone(timedelta(hours=7))

# Family names with their rough share of the population (Nguyễn ≈ 38 %).
FAMILY_NAMES = (
    ("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 5), ("Huỳnh", 4), ("Phan", 4),
    ("Vũ", 4), ("Võ", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 2), ("Ngô", 2), ("Dương", 1), ("Lý", 1),
)  # fmt: skip
MIDDLE_NAMES = {
    Sex.MALE: ("Văn", "Hữu", "Đức", "Minh", "Quang", "Công", "Thành"),
    Sex.FEMALE: ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hồng", "Kim"),
}
GIVEN_NAMES = {
    Sex.MALE: ("Anh", "Bảo", "Cường", "Dũng", "Hùng", "Huy", "Khang", "Long", "Minh", "Nam", "Phúc", "Quân",
               "Sơn", "Tài", "Thắng", "Trung", "Tuấn", "Việt"),
    Sex.FEMALE: ("An", "Chi", "Dung", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngân", "Nhung",
                 "Phương", "Thảo", "Trang", "Vy", "Yến", "Xuân"),
}  # fmt: skip
# Where the people of the demo province were born: mostly "at home", some elsewhere.
BIRTH_PROVINCES = (("036", 70), ("001", 10), ("079", 8), ("034", 6), ("037", 6))
STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Hùng Vương", "Nguyễn Du", "Quang Trung", "Lý Thường Kiệt", "Hai Bà Trưng")
WARDS = ("phường Phúc Lợi", "phường Đông Thành", "xã Yên Hòa", "xã An Phú", "xã Tân Lập", "thị trấn Hòa Mỹ")


def today_in_vietnam(now: datetime | None = None) -> date:
    """The civil date in Việt Nam: the services judge "in the past" by it."""
    return (now or datetime.now(VIETNAM)).astimezone(VIETNAM).date()


@dataclass(frozen=True, slots=True)
class Person:
    """One person; ``date_of_death`` only for the deceased."""

    full_name: str
    sex: Sex
    date_of_birth: date
    id_number: str
    province_code: str
    date_of_death: date | None = None


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


class People:
    """Makes people and unique numbers for one run. Deterministic for a given ``rng`` and ``today``."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        # Dates are kept at least a day in the past so a run near midnight never crosses "today".
        self.yesterday = today - timedelta(days=1)
        self._salt = rng.randrange(1_000_000)
        self._issued = 0

    def serial(self, digits: int = 6) -> str:
        """A number unique within the run (until 10**digits have been issued)."""
        self._issued += 1
        return f"{(self._salt + self._issued) % 10**digits:0{digits}d}"

    def full_name(self, sex: Sex, family: str | None = None) -> str:
        rng = self.rng
        family = family or _weighted(rng, FAMILY_NAMES)
        return f"{family} {rng.choice(MIDDLE_NAMES[sex])} {rng.choice(GIVEN_NAMES[sex])}"

    def address(self) -> str:
        rng = self.rng
        return f"Số {rng.randint(1, 250)} đường {rng.choice(STREETS)}, {rng.choice(WARDS)}, tỉnh Bình An"

    def _born_between(self, oldest: int, youngest: int) -> date:
        """A birth date for someone aged ``youngest``–``oldest`` years."""
        start = self.yesterday.replace(year=self.yesterday.year - oldest, month=1, day=1)
        end = self.yesterday - timedelta(days=365 * youngest)
        return start + timedelta(days=self.rng.randrange(max(1, (end - start).days)))

    def person(self, *, sex: Sex | None = None, born: date | None = None, ages: tuple[int, int] = (18, 80)) -> Person:
        """Someone aged ``ages`` (youngest, oldest), unless ``born`` says when."""
        sex = sex or self.rng.choice((Sex.MALE, Sex.FEMALE))
        born = born or self._born_between(ages[1], ages[0])
        province = _weighted(self.rng, BIRTH_PROVINCES)
        digit = citizen_id.century_sex_digit(sex, born.year)
        number = f"{province}{digit}{born.year % 100:02d}{self.serial()}"
        return Person(self.full_name(sex), sex, born, number, province)

    def newborn(self) -> Person:
        """A child born in the last 60 days (birth registration is due within 60 days of birth).
        Its number is what birth registration would issue; forms that precede it leave it out."""
        return self.person(born=self.yesterday - timedelta(days=self.rng.randrange(60)))

    def deceased(self) -> Person:
        """Someone aged 45–95 who died in the last 14 days (death is declared within 15 days)."""
        person = self.person(ages=(45, 95))
        died = self.yesterday - timedelta(days=self.rng.randrange(14))
        return Person(person.full_name, person.sex, person.date_of_birth, person.id_number, person.province_code, died)

    def recent_date(self, max_days_ago: int) -> date:
        """A date in the last ``max_days_ago`` days (never today)."""
        return self.yesterday - timedelta(days=self.rng.randrange(max(1, max_days_ago)))

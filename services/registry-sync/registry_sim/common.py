"""Request-model building blocks shared by the simulated systems: strict models (an unknown
field is an error, so adapter typos surface at once), identification numbers checked with
:mod:`contracts.citizen_id`, province codes from its table, and consistency checks that name
the field at fault."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from contracts import citizen_id
from contracts.citizen_id import Sex
from registry_sim.errors import SimError


def _valid_id_number(value: str) -> str:
    citizen_id.parse(value)  # InvalidCitizenId is a ValueError: pydantic reports it on the field
    return value


def _known_province(value: str) -> str:
    if value not in citizen_id.PROVINCES:
        raise ValueError(f"{value} is not a known 3-digit province code")
    return value


IdNumber = Annotated[
    str,
    AfterValidator(_valid_id_number),
    Field(description="12-digit personal identification number.", examples=["079301140891"]),
]
ProvinceCode = Annotated[
    str,
    AfterValidator(_known_province),
    Field(description="3-digit province code, e.g. 001 Hà Nội, 079 Hồ Chí Minh.", examples=["036"]),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
#: The caller's own name for a request, kept with the record it made, so that a caller who lost track
#: of an answer (its idempotency key long forgotten here) can find the record by natural key and tell
#: whether it made it.
Reference = Annotated[str, StringConstraints(min_length=1, max_length=255)]

__all__ = ["Code", "IdNumber", "Name", "ProvinceCode", "Reference", "Sex", "Strict", "Text"]


class Strict(BaseModel):
    """Base of every request body: unknown fields are rejected, by name."""

    model_config = ConfigDict(extra="forbid")


def not_in_future(value: date, today: date, field: str) -> None:
    if value > today:
        raise SimError.invalid(field, f"{value.isoformat()} is in the future")


def require_consistent(
    id_number: str,
    field: str,
    *,
    sex: Sex | None = None,
    birth_year: int | None = None,
    province_code: str | None = None,
) -> None:
    """422 on ``field`` when the number's first six digits contradict the person's data."""
    mismatches = citizen_id.check_consistency(id_number, sex=sex, birth_year=birth_year, province_code=province_code)
    if mismatches:
        raise SimError(
            422,
            "inconsistent_id_number",
            f"{field}: " + "; ".join(mismatches),
            field=field,
            detail=[{"field": field, "message": m, "type": "inconsistent_id_number"} for m in mismatches],
        )


def birth_year_of(id_number: str) -> int:
    return citizen_id.parse(id_number).birth_year


def check_date_of_death(id_number: str, date_of_death: date, today: date, field: str) -> None:
    """A death is not in the future and not before the birth year the number encodes."""
    not_in_future(date_of_death, today, field)
    if date_of_death.year < birth_year_of(id_number):
        raise SimError.invalid(field, "is before the birth year the id number encodes")


def level_on(levels: Mapping[date, int], day: date) -> int:
    """The statutory level in force on ``day``: the latest to take effect by then (the earliest
    known, for a day before any of them)."""
    effective = sorted(levels)
    in_force = [since for since in effective if since <= day]
    return levels[in_force[-1] if in_force else effective[0]]

"""An agency (cơ quan, đơn vị) of the registry: who receives dossiers and who is competent.

Agencies are listed per province in ``data/agencies/<province>.json``. Two relations matter and
are kept apart on purpose, because they differ in real life:

* ``parent`` — the organisation the agency reports to (commune police → district police; a district
  labour office → the district People's Committee). Informational, and checked for cycles.
* ``area`` — the administrative unit the agency serves, named by that unit's People's Committee
  (commune police of Yên Hòa → ``UBND-X-YENHOA``). Routing works on areas only.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from .base import SLUG_PATTERN, AuthorityLevel, CatalogueModel

# Uppercase ASCII words joined by '-', short enough for dossier codes <agency>-YYMMDD-NNNN.
AGENCY_CODE_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"
AGENCY_CODE_MAX = 24
PEOPLES_COMMITTEE_KINDS = frozenset({"commune_pc", "district_pc", "province_pc"})


class Agency(CatalogueModel):
    """One agency: a People's Committee, a department, a police or insurance office, a centre."""

    code: str = Field(
        pattern=AGENCY_CODE_PATTERN,
        max_length=AGENCY_CODE_MAX,
        description="Short uppercase ASCII code, e.g. 'UBND-X-YENHOA'; prefixes dossier codes.",
    )
    name_vi: str = Field(min_length=1, description="Full name in Vietnamese, with diacritics.")
    level: AuthorityLevel = Field(description="Level of government the agency belongs to.")
    kind: str = Field(
        pattern=SLUG_PATTERN,
        description="What the agency is (commune_pc, district_pc, province_pc, police_commune, "
        "social_insurance, labour_welfare, province_land, public_service_centre, …); procedures name the "
        "kind competent for them.",
    )
    parent: str | None = Field(
        description="Code of the agency it reports to; null at the top of what the catalogue models."
    )
    area: str = Field(
        description="Code of the People's Committee of the administrative unit it serves (itself for a "
        "People's Committee)."
    )
    seat: str | None = Field(
        default=None,
        description="People's Committees of districts and provinces only: the lower-level unit where the "
        "administration sits (the provincial city, the district town). Routing uses it as the default "
        "area when a higher-level counter receives a lower-level procedure.",
    )
    address: str = Field(min_length=1, description="Postal address in Vietnamese.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.is_peoples_committee:
            if self.area != self.code:
                raise ValueError(f"{self.code}: a People's Committee's area is itself, not {self.area!r}")
            if (self.seat is None) != (self.level == "commune"):
                raise ValueError(f"{self.code}: district and province committees, and only they, name a seat")
        elif self.seat is not None:
            raise ValueError(f"{self.code}: only People's Committees have a seat")
        return self

    @property
    def is_peoples_committee(self) -> bool:
        """True for the Ủy ban nhân dân of a commune, district or province (they define the areas)."""
        return self.kind in PEOPLES_COMMITTEE_KINDS

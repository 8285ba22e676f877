"""Boundary-free routing (phi địa giới): from the counter that received a dossier to the agency
competent to decide it.

The rule, on administrative units (each named by its People's Committee):

1. Start from the unit the case belongs to: the ``area`` given by the caller (e.g. a land parcel's
   commune read from the form), else the unit of the receiving agency.
2. Move to the procedure's level. Upwards by the unit's parent (commune → its district → the
   province). Downwards by the unit's *seat* (province → the provincial city → its seat ward), so a
   commune procedure received at the province centre without an area goes to the commune where
   the administration sits — deterministic, and overridable by passing ``area``.
3. The competent agency is the one of the procedure's kind serving that unit.

Routing never leaves the receiving agency's province: a citizen may use any counter of the
province, and the data here is per province.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .agency import Agency
from .base import LEVEL_RANK, UnknownKey
from .procedure import Procedure


class UnknownAgency(UnknownKey):
    """No agency has this code."""

    missing = "unknown agency"


class NoCompetentAgency(LookupError):
    """The catalogue names no agency competent for the procedure in that area."""


class AgencyDirectory:
    """Agencies by code, and by (unit, kind) for routing. Built once per catalogue load."""

    def __init__(self, agencies: Iterable[Agency]) -> None:
        self.by_code: Mapping[str, Agency] = {a.code: a for a in agencies}
        self._by_unit_kind: dict[tuple[str, str], Agency] = {}
        self.duplicates: list[str] = []
        for agency in self.by_code.values():
            key = (agency.area, agency.kind)
            if key in self._by_unit_kind:
                self.duplicates.append(
                    f"{self._by_unit_kind[key].code} and {agency.code} are both {key[1]} of {key[0]}"
                )
            self._by_unit_kind[key] = agency

    def agency(self, code: str) -> Agency:
        """The agency with this code; :class:`UnknownAgency` if none."""
        try:
            return self.by_code[code]
        except KeyError:
            raise UnknownAgency(f"unknown agency code {code!r}") from None

    def unit_of(self, code: str) -> Agency:
        """The People's Committee of the unit the agency serves."""
        return self.agency(self.agency(code).area)

    def province_of(self, code: str) -> Agency:
        """The People's Committee of the agency's province."""
        unit = self.unit_of(code)
        while unit.parent is not None and unit.level != "province":
            unit = self.agency(unit.parent)
        return unit

    def unit_at_level(self, unit: Agency, level: str) -> Agency:
        """The unit at ``level`` containing ``unit`` (upwards) or at its seat (downwards)."""
        while LEVEL_RANK[unit.level] < LEVEL_RANK[level]:
            if unit.parent is None:
                raise NoCompetentAgency(f"{unit.code} has no parent unit at {level} level")
            unit = self.agency(unit.parent)
        while LEVEL_RANK[unit.level] > LEVEL_RANK[level]:
            if unit.seat is None:
                raise NoCompetentAgency(f"{unit.code} names no seat to descend to {level} level")
            unit = self.agency(unit.seat)
        return unit

    def competent(self, procedure: Procedure, receiving_code: str, area: str | None = None) -> Agency:
        """The agency competent for ``procedure`` for a dossier received at ``receiving_code``."""
        start = self.unit_of(area if area is not None else receiving_code)
        if area is not None and self.province_of(area).code != self.province_of(receiving_code).code:
            raise NoCompetentAgency(f"area {area} is outside the province of the receiving agency {receiving_code}")
        unit = self.unit_at_level(start, procedure.authority_level)
        agency = self._by_unit_kind.get((unit.code, procedure.agency_kind))
        if agency is None:
            raise NoCompetentAgency(
                f"no {procedure.agency_kind} agency serves {unit.code} for procedure {procedure.code}"
            )
        return agency

"""What reporting takes from the procedure catalogue (contracts.catalogue): each procedure's field,
the catalogue-side rates of the index (procedures online, fees payable online) and agency hierarchies.

No event says which procedures a province offers online or with online payment, so these come from
the catalogue the services run on; ``configured_rates`` in the index configuration can override them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.catalogue import Catalogue
from reporting.domain.index import Measure

#: The agency kind of a one-stop centre (Trung tâm Phục vụ hành chính công).
CENTRE_KIND = "public_service_centre"


@dataclass(frozen=True)
class CatalogueInfo:
    """The catalogue as reporting uses it: immutable, built once in bootstrap."""

    version: str
    field_of_procedure: dict[str, str]
    online_levels: dict[str, str]
    fees: dict[str, int]
    agency_parents: dict[str, str | None]
    agency_areas: dict[str, str]
    agency_names: dict[str, str]
    #: Who decides each procedure, and what each agency is: (level, kind) both.
    competent_kinds: dict[str, tuple[str, str]] = field(default_factory=dict)
    agency_kinds: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The steps bundles start with: a later step waits for its bundle, not for an official's acceptance.
    first_bundle_steps: tuple[str, ...] = ()

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue) -> CatalogueInfo:
        procedures = catalogue.procedures.values()
        agencies = catalogue.agencies.values()
        return cls(
            version=catalogue.version,
            field_of_procedure={p.code: p.field for p in procedures},
            online_levels={p.code: p.online_level for p in procedures},
            fees={p.code: p.fee for p in procedures},
            agency_parents={a.code: a.parent for a in agencies},
            agency_areas={a.code: a.area for a in agencies},
            agency_names={a.code: a.name_vi for a in agencies},
            competent_kinds={p.code: (p.authority_level, p.agency_kind) for p in procedures},
            agency_kinds={a.code: (a.level, a.kind) for a in agencies},
            first_bundle_steps=tuple(sorted({b.steps[0].step_id for b in catalogue.bundles.values() if b.steps})),
        )

    @classmethod
    def empty(cls) -> CatalogueInfo:
        return cls("none", {}, {}, {}, {}, {}, {})

    def procedures_in(
        self, agencies: Iterable[str] | None = None, field: str | None = None, procedure: str | None = None
    ) -> list[str]:
        """The procedures a report covers: those agencies in ``agencies`` decide (all, for none), of the
        ``field`` and the ``procedure`` asked for. A land department's index took the province's shares
        of procedures online: points for procedures it does not handle."""
        kinds = None if agencies is None else {self.agency_kinds[a] for a in agencies if a in self.agency_kinds}
        return sorted(
            code
            for code in self.online_levels
            if (kinds is None or self.competent_kinds.get(code) in kinds)
            and (field is None or self.field_of_procedure.get(code) == field)
            and (procedure is None or code == procedure)
        )

    def receives_only(self, agencies: Iterable[str]) -> bool:
        """Whether these agencies are one-stop centres only: they decide nothing, their figures are what
        they received. A department whose procedures the catalogue does not list is no centre: it
        has nothing to report (it took the province's catalogue rates as a centre)."""
        kinds = [self.agency_kinds.get(a, ("", ""))[1] for a in agencies]
        return bool(kinds) and all(kind == CENTRE_KIND for kind in kinds)

    def procedures_online(self, codes: Iterable[str] | None = None) -> Measure:
        """Procedures offered online in full or in part ÷ all procedures (of ``codes``, if given)."""
        levels = [self.online_levels[c] for c in (self.online_levels if codes is None else codes)]
        return Measure(sum(level != "none" for level in levels), len(levels), "catalogue")

    def online_level_counts(self, codes: Iterable[str] | None = None) -> dict[str, int]:
        """How many procedures (of ``codes``, if given) are offered full-process online (toàn trình), in
        part (submission only), and not online: the split the provinces publish (50.77%, 16.82%,
        32.41%), which ``procedures_online`` adds the first two of."""
        counts = dict.fromkeys(("full", "partial", "none"), 0)
        for code in self.online_levels if codes is None else codes:
            counts[self.online_levels[code]] += 1
        return counts

    def fee_procedures(self, codes: Iterable[str] | None = None) -> list[str]:
        """Codes of procedures with a fee or charge (of ``codes``, if given)."""
        return sorted(code for code in (self.fees if codes is None else codes) if self.fees[code] > 0)

    def procedures_fee_online(self, codes: Iterable[str] | None = None) -> Measure:
        """Fee-bearing procedures offered online (so payable online) ÷ fee-bearing procedures."""
        fee_bearing = self.fee_procedures(codes)
        return Measure(sum(self.online_levels[c] != "none" for c in fee_bearing), len(fee_bearing), "catalogue")

    def agency_scope(self, code: str) -> list[str]:
        """The agency and every agency under it: by reporting line (parent) or by serving one of its areas.

        A province's People's Committee thus covers the whole province, a commune's covers its police
        too; an agency the catalogue does not know covers itself only.
        """
        scope = {code}
        while True:
            grown = scope | {a for a in self.agency_parents if _under(a, scope, self.agency_parents, self.agency_areas)}
            if grown == scope:
                return sorted(scope)
            scope = grown

    def knows_agency(self, code: str) -> bool:
        return code in self.agency_names

    def known_agencies(self) -> Iterable[tuple[str, str]]:
        return self.agency_names.items()


def _under(agency: str, scope: set[str], parents: dict[str, str | None], areas: dict[str, str]) -> bool:
    return parents.get(agency) in scope or areas.get(agency) in scope

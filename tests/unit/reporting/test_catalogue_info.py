"""What reporting takes from the catalogue: agency scopes and the catalogue-side index rates."""

from __future__ import annotations

from contracts.catalogue import load_catalogue
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.domain.periods import parse_period
from reporting.service_layer.ports import Scope
from reporting.service_layer.reports import ReportQuery, Reports
from tests.unit.reporting.test_index import packaged, scenario_counts


def info() -> CatalogueInfo:
    return CatalogueInfo.from_catalogue(load_catalogue())


def test_a_province_covers_every_agency_of_the_province() -> None:
    catalogue = info()
    assert set(catalogue.agency_scope("UBND-T-BINHAN")) == set(catalogue.agency_names)


def test_a_district_covers_its_communes_and_their_police_but_not_the_province() -> None:
    scope = set(info().agency_scope("UBND-H-HOAMY"))
    assert {"UBND-H-HOAMY", "UBND-X-YENHOA", "CA-X-YENHOA", "CA-H-HOAMY", "LDTBXH-H-HOAMY"} <= scope
    assert not scope & {"UBND-T-BINHAN", "STNMT-BINHAN", "UBND-X-ANPHU", "CA-P-PHUCLOI"}


def test_a_commune_covers_its_police_and_an_unknown_agency_only_itself() -> None:
    assert info().agency_scope("UBND-X-YENHOA") == ["CA-X-YENHOA", "UBND-X-YENHOA"]
    assert info().agency_scope("UBND-T-ELSEWHERE") == ["UBND-T-ELSEWHERE"]


def test_catalogue_rates_of_the_index() -> None:
    catalogue = CatalogueInfo("v", {}, {"a": "full", "b": "partial", "c": "none", "d": "none"},
                              {"a": 10, "b": 0, "c": 5, "d": 0}, {}, {}, {})  # fmt: skip
    online = catalogue.procedures_online()
    fee_online = catalogue.procedures_fee_online()
    assert (online.numerator, online.denominator, online.source) == (2, 4, "catalogue")
    assert (fee_online.numerator, fee_online.denominator) == (1, 2)


def test_an_agency_s_catalogue_rates_are_those_of_the_procedures_it_decides() -> None:
    """The land department decides one procedure, neither online nor payable online: it was given the
    province's shares (13 of 15 online, 7 of 8 fee-bearing ones payable online), 8 points it lacks."""
    catalogue = info()
    land = catalogue.procedures_in(catalogue.agency_scope("STNMT-BINHAN"))
    assert land == ["9.000003"]
    online, fee_online = catalogue.procedures_online(land), catalogue.procedures_fee_online(land)
    assert (online.numerator, online.denominator, fee_online.numerator, fee_online.denominator) == (0, 1, 0, 1)
    commune = catalogue.procedures_in(catalogue.agency_scope("UBND-X-YENHOA"))
    assert "1.001193" in commune and "1.004222" in commune  # its police's residence procedures too
    assert "9.000003" not in commune
    assert catalogue.procedures_in(field="ho_tich") == ["1.000656", "1.000894", "1.001193"]
    everything = catalogue.procedures_online(catalogue.procedures_in())
    assert (everything.numerator, everything.denominator) == (13, 15)



async def test_a_centre_s_catalogue_rates_are_those_of_every_procedure_it_can_receive() -> None:
    """It decides none: its rates were 0 of 0, its points whatever the not-applicable setting gave."""

    class Counts:
        async def summary(self, scope: Scope) -> dict[str, int]:
            return scenario_counts()

    reports = Reports(Counts(), info(), packaged())  # type: ignore[arg-type]
    # the construction department decides none of this catalogue's procedures: no centre, no rates
    for agency, online in (("TTPVHCC-BINHAN", (13, 15)), ("STNMT-BINHAN", (0, 1)), ("SXD-BINHAN", (0, 0))):
        scope = reports.scope(ReportQuery(parse_period("2024-03"), agency, None, None))
        measures, _ = await reports.measures(scope)
        assert (measures["procedures_online"].numerator, measures["procedures_online"].denominator) == online

"""Boundary-free routing: any counter of the province, the competent agency of the case's area."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts.catalogue import Catalogue, NoCompetentAgency, load_catalogue

BIRTH, RESIDENCE, CHILD_CARD, BURIAL = "1.001193", "1.004222", "9.000001", "1.001731"
LAND, CONSTRUCTION, DRIVING, ID_CARD = "9.000003", "9.000006", "9.000004", "9.000007"


@pytest.mark.parametrize(
    ("procedure", "receiving", "competent"),
    [
        # commune procedures: the receiving agency's own commune …
        (BIRTH, "UBND-X-YENHOA", "UBND-X-YENHOA"),
        (BIRTH, "CA-P-DONGTHANH", "UBND-P-DONGTHANH"),
        (RESIDENCE, "UBND-X-TANLAP", "CA-X-TANLAP"),
        # … or, received higher up without an area, the seat: province → city → Phúc Lợi ward
        (BIRTH, "TTPVHCC-BINHAN", "UBND-P-PHUCLOI"),
        (RESIDENCE, "UBND-H-HOAMY", "CA-TT-HOAMY"),
        # district procedures: the receiving commune's district
        (CHILD_CARD, "UBND-X-YENHOA", "BHXH-H-HOAMY"),
        (CHILD_CARD, "UBND-P-DONGTHANH", "BHXH-TP-BINHAN"),
        (BURIAL, "CA-X-TANLAP", "LDTBXH-H-HOAMY"),
        (ID_CARD, "UBND-TT-HOAMY", "CA-H-HOAMY"),
        (CONSTRUCTION, "STP-BINHAN", "UBND-TP-BINHAN"),
        # province procedures: the province department, from any counter
        (LAND, "UBND-X-YENHOA", "STNMT-BINHAN"),
        (DRIVING, "UBND-H-HOAMY", "SGTVT-BINHAN"),
        (DRIVING, "TTPVHCC-BINHAN", "SGTVT-BINHAN"),
    ],
)
def test_competent_agency(catalogue: Catalogue, procedure: str, receiving: str, competent: str) -> None:
    assert catalogue.competent_agency(procedure, receiving).code == competent


def test_an_area_from_the_form_overrides_the_receiving_unit(catalogue: Catalogue) -> None:
    construction = catalogue.procedure(CONSTRUCTION)
    form = {"land_parcel": {"certificate_number": "CS 012345", "commune_code": "UBND-X-TANLAP", "address": "Thôn Đông"}}
    assert construction.area_in(form) == "UBND-X-TANLAP"
    assert (
        catalogue.competent_agency(CONSTRUCTION, "TTPVHCC-BINHAN", area=construction.area_in(form)).code
        == "UBND-H-HOAMY"
    )
    # an area above the procedure's level descends by seats; any agency of the unit names it
    assert catalogue.competent_agency(BIRTH, "TTPVHCC-BINHAN", area="UBND-H-HOAMY").code == "UBND-TT-HOAMY"
    assert catalogue.competent_agency(BIRTH, "UBND-X-YENHOA", area="CA-X-ANPHU").code == "UBND-X-ANPHU"


def test_a_marriage_goes_to_the_commune_where_one_of_the_couple_lives(catalogue: Catalogue) -> None:
    """Its form named no commune: filed at the province centre, a Yên Hòa couple's marriage went to
    the centre's seat ward, where neither lived (the Law on Civil Status: a party's residence)."""
    marriage = catalogue.procedure("1.000894")
    form = {"commune_code": "UBND-X-YENHOA"}
    assert catalogue.competent_agency(marriage.code, "TTPVHCC-BINHAN", area=marriage.area_in(form)).code == (
        "UBND-X-YENHOA"
    )
    assert catalogue.competent_agency(marriage.code, "UBND-X-ANPHU", area=marriage.area_in({})).code == "UBND-X-ANPHU"


def test_every_procedure_routes_from_every_counter_to_its_level(catalogue: Catalogue) -> None:
    for procedure in catalogue.procedures.values():
        for code in catalogue.agencies:
            agency = catalogue.competent_agency(procedure.code, code)
            assert (agency.level, agency.kind) == (procedure.authority_level, procedure.agency_kind)


def test_routing_stays_inside_the_province(data_dir: Path) -> None:
    """A second province (a renamed copy of the first) loads, and its units are not an area for the first's counters."""
    source = json.loads((data_dir / "agencies" / "binh_an.json").read_text(encoding="utf-8"))
    renamed = {
        "province_name_vi": "tỉnh Bình An Hai",
        "agencies": [
            {**a, **{key: a[key] + "2" for key in ("code", "parent", "area", "seat") if a.get(key)}}
            for a in source["agencies"]
        ],
    }
    (data_dir / "agencies" / "binh_an_hai.json").write_text(json.dumps(renamed, ensure_ascii=False), encoding="utf-8")
    catalogue = load_catalogue(data_dir)
    assert catalogue.competent_agency(BIRTH, "UBND-X-YENHOA2").code == "UBND-X-YENHOA2"
    assert catalogue.competent_agency(DRIVING, "UBND-X-YENHOA2").code == "SGTVT-BINHAN2"
    with pytest.raises(NoCompetentAgency, match="outside the province"):
        catalogue.competent_agency(BIRTH, "UBND-X-YENHOA", area="UBND-X-TANLAP2")


def test_an_area_in_another_province_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError):
        catalogue.competent_agency(BIRTH, "UBND-X-YENHOA", area="UBND-X-ELSEWHERE")


def test_no_competent_agency_is_a_lookup_error() -> None:
    assert issubclass(NoCompetentAgency, LookupError)

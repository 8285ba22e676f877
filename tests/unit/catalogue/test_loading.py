"""The packaged catalogue loads, holds every procedure the bundles and reports need, and is typed."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts.catalogue import (
    Catalogue,
    OfficialPerformer,
    Procedure,
    ProcessingTime,
    RegistryPerformer,
    RegistrySystem,
    UnknownAgency,
    UnknownBundle,
    UnknownProcedure,
    catalogue_json,
    load_catalogue,
)

# code → (Vietnamese name fragment, level, agency kind, performer system or None for officials)
REQUIRED = {
    "1.001193": ("khai sinh", "commune", "commune_pc", None),
    "1.004222": ("thường trú", "commune", "police_commune", "population_db"),
    "9.000001": ("bảo hiểm y tế cho trẻ em dưới 6 tuổi", "district", "social_insurance", "social_insurance"),
    "1.000656": ("khai tử", "commune", "commune_pc", None),
    "1.003197": ("Xóa đăng ký thường trú", "commune", "police_commune", "population_db"),
    "9.000002": ("trợ cấp mai táng", "district", "social_insurance", "social_insurance"),
    "1.001731": ("chi phí mai táng", "district", "labour_welfare", "social_welfare"),
    "9.000003": ("Giấy chứng nhận quyền sử dụng đất", "province", "province_land", None),
    "1.001612": ("hộ kinh doanh", "district", "district_pc", None),
    "2.001610": ("doanh nghiệp", "province", "province_planning_investment", None),
    "9.000004": ("giấy phép lái xe", "province", "province_transport", None),
    "9.000005": ("lý lịch tư pháp", "province", "province_justice", None),
    "9.000006": ("giấy phép xây dựng", "district", "district_pc", None),
    "1.000894": ("kết hôn", "commune", "commune_pc", None),
}


def test_loads_with_a_version_from_the_data(catalogue: Catalogue) -> None:
    assert catalogue.version == "2024.06-binhan.9"
    assert re.fullmatch(r"[0-9a-f]{64}", catalogue.fingerprint)


def test_packaged_catalogue_is_cached_and_an_explicit_dir_is_read_afresh(data_dir: Path) -> None:
    assert load_catalogue() is load_catalogue()
    fresh = load_catalogue(data_dir)
    assert fresh is not load_catalogue(data_dir)
    assert fresh.fingerprint == load_catalogue().fingerprint  # same bytes, same fingerprint


@pytest.mark.parametrize("code", sorted(REQUIRED))
def test_required_procedure_is_present_and_routed_to_the_right_kind(catalogue: Catalogue, code: str) -> None:
    fragment, level, kind, system = REQUIRED[code]
    procedure = catalogue.procedure(code)
    assert fragment.lower() in procedure.name_vi.lower()
    assert any(ord(ch) > 127 for ch in procedure.name_vi), "Vietnamese names keep their diacritics"
    assert (procedure.authority_level, procedure.agency_kind) == (level, kind)
    if system is None:
        assert isinstance(procedure.performer, OfficialPerformer)
    else:
        assert isinstance(procedure.performer, RegistryPerformer)
        assert procedure.performer.system == system


def test_statutory_times_the_bundles_rely_on(catalogue: Catalogue) -> None:
    birth = catalogue.procedure("1.001193").processing_time
    assert birth.same_working_day and birth.limit() == (0, "working_days")
    assert catalogue.procedure("1.000656").processing_time.same_working_day
    assert catalogue.procedure("9.000001").processing_time.limit() == (2, "working_days")
    residence_in_bundle = catalogue.step_processing_time("birth", "permanent_residence")
    assert residence_in_bundle.limit() == (2, "working_days")
    assert residence_in_bundle.limit(verification=True) == (5, "working_days")
    assert catalogue.step_processing_time("birth", "health_insurance_card").limit() == (2, "working_days")


@pytest.mark.parametrize("hours", [{"amount": 0}, {"amount": 0, "extended_amount": 0}])
def test_zero_working_hours_is_refused_zero_working_days_is_the_same_day(hours: dict[str, int]) -> None:
    """0 hours made a dossier due the instant it was received: overdue a microsecond later."""
    with pytest.raises(ValidationError, match="0 working_hours is no time at all"):
        ProcessingTime(unit="working_hours", **hours)
    assert ProcessingTime(amount=0, unit="working_days").same_working_day


def test_standalone_procedures_vary_in_fees_and_online_levels(catalogue: Catalogue) -> None:
    levels = {p.online_level for p in catalogue.procedures.values()}
    assert levels == {"full", "partial", "none"}
    assert catalogue.procedure("9.000003").processing_time.amount == 30
    for code in ("9.000003", "1.001612", "2.001610", "9.000004", "9.000005", "9.000006"):
        assert catalogue.procedure(code).fee > 0, code
    assert catalogue.procedure("1.000894").fee == 0
    assert catalogue.procedure("9.000004").online_level == "full"


def test_lookups_fail_with_typed_key_errors(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownProcedure, match=re.escape("unknown procedure code '0.000000'")):
        catalogue.procedure("0.000000")
    with pytest.raises(KeyError):
        catalogue.agency("UBND-X-NOWHERE")
    with pytest.raises(UnknownAgency):
        catalogue.competent_agency("1.001193", "UBND-X-NOWHERE")
    with pytest.raises(UnknownBundle):
        catalogue.bundle("marriage")


def test_agency_registry_covers_the_demo_province(catalogue: Catalogue) -> None:
    kinds = [a.kind for a in catalogue.agencies.values()]
    for kind in (
        "province_pc",
        "public_service_centre",
        "province_justice",
        "province_transport",
        "province_planning_investment",
        "province_land",
        "province_construction",
        "province_labour_welfare",
    ):
        assert kinds.count(kind) == 1, kind
    for kind in ("district_pc", "police_district", "social_insurance", "labour_welfare"):
        assert kinds.count(kind) == 2, kind
    assert 4 <= kinds.count("commune_pc") == kinds.count("police_commune") <= 6
    district = catalogue.agency("UBND-H-HOAMY")
    assert {a.code for a in catalogue.subordinates(district.code) if a.kind == "commune_pc"} == {
        "UBND-TT-HOAMY",
        "UBND-X-YENHOA",
        "UBND-X-TANLAP",
    }
    for agency in catalogue.agencies.values():
        assert re.fullmatch(r"[A-Z0-9-]{1,24}", agency.code)  # fits <agency code>-YYMMDD-NNNN


def test_subject_keys_identify_duplicates(catalogue: Catalogue) -> None:
    death = catalogue.procedure("1.000656")
    form = {"deceased": {"id_number": "001090012345", "full_name": "Trần Văn Bình"}}
    assert death.subject_key(form) == ("001090012345",)
    assert death.subject_key({"deceased": {}}) is None
    assert not death.allows_repeat and catalogue.procedure("9.000005").allows_repeat


def test_models_round_trip_through_json(catalogue: Catalogue) -> None:
    dumped = catalogue_json(catalogue)
    assert dumped["version"] == catalogue.version
    for raw in dumped["procedures"]:
        assert Procedure.model_validate(raw) == catalogue.procedure(raw["code"])


def test_registry_systems_are_ones_the_registry_commands_know() -> None:
    registry = pytest.importorskip("contracts.events.registry")
    assert set(typing.get_args(RegistrySystem)) <= set(typing.get_args(registry.ExternalSystem))

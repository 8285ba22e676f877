"""Request bodies and fixed facts shared by intake's unit and integration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

#: Monday 17 June 2024, 09:00 in Vietnam: a working day, before the 15:00 cut-off.
MONDAY_9AM = datetime(2024, 6, 17, 2, 0, tzinfo=UTC)

MOTHER_ID = "036195000123"  # Nam Định, female, born 1995
FATHER_ID = "036093000456"  # Nam Định, male, born 1993
DECEASED_ID = "036050000789"  # Nam Định, male, born 1950
STRANGER_ID = "001090000321"  # Hà Nội, male, born 1990: in none of these dossiers
COMMUNE = "UBND-X-YENHOA"


def applicant(id_number: str = MOTHER_ID) -> dict[str, Any]:
    return {"id_number": id_number, "full_name": "Trần Thị Bình", "phone": "0912345678"}


def birth_form(child_name: str = "Nguyễn Văn An", born: str = "2024-06-10") -> dict[str, Any]:
    return {
        "child": {"full_name": child_name, "sex": "male", "date_of_birth": born, "place_of_birth": "Bệnh viện tỉnh"},
        "mother": {"id_number": MOTHER_ID, "full_name": "Trần Thị Bình"},
        "father": {"id_number": FATHER_ID, "full_name": "Nguyễn Văn Cường"},
    }


def birth_documents() -> list[dict[str, Any]]:
    return [
        {"kind": "to_khai_khai_sinh", "digitized": True, "reused": False},
        {"kind": "giay_chung_sinh", "digitized": True, "reused": True},
    ]


def birth_dossier(channel: str = "online", **form: Any) -> dict[str, Any]:
    return {
        "procedure_code": "1.001193",
        "channel": channel,
        "receiving_agency": COMMUNE,
        "applicant": applicant(),
        "form": birth_form(**form),
        "documents": birth_documents(),
    }


def criminal_record_dossier() -> dict[str, Any]:
    """A procedure that allows repeats (a citizen may ask for several certificates)."""
    return {
        "procedure_code": "9.000005",
        "channel": "online",
        "receiving_agency": "STP-BINHAN",
        "applicant": applicant(),
        "form": {
            "person": {"id_number": MOTHER_ID, "full_name": "Trần Thị Bình", "date_of_birth": "1995-03-02"},
            "certificate_type": "1",
            "purpose": "Xin việc",
        },
        "documents": [{"kind": "to_khai_ly_lich_tu_phap", "digitized": True, "reused": False}],
    }


def birth_bundle(
    channel: str = "counter", child_name: str = "Nguyễn Văn An", born: str = "2024-06-10"
) -> dict[str, Any]:
    form = birth_form(child_name, born)
    form["residence"] = {"address": "Thôn 1, xã Yên Hòa", "household_head_id_number": FATHER_ID}
    return {
        "bundle_type": "birth",
        "channel": channel,
        "receiving_agency": COMMUNE,
        "applicant": applicant(),
        "form": form,
        "documents": [{"kind": "giay_chung_sinh", "digitized": True, "reused": False}],
    }


#: What the deceased's part of a death form must hold for each funeral-allowance choice.
FUNERAL_KEYS = {
    "social_insurance": {"social_insurance_number": "3612345678"},
    "social_welfare": {"beneficiary_category": "nguoi_cao_tuoi"},
    "none": {},
}


def death_bundle(funeral_allowance: str = "social_insurance", died: str = "2024-06-15") -> dict[str, Any]:
    return {
        "bundle_type": "death",
        "channel": "counter",
        "receiving_agency": COMMUNE,
        "applicant": applicant(FATHER_ID),
        "form": {
            "deceased": {
                "id_number": DECEASED_ID,
                "full_name": "Nguyễn Văn Đức",
                "date_of_death": died,
                "place_of_death": "Tại nhà",
                **FUNERAL_KEYS[funeral_allowance],
            },
            "declarant_relation": "con",
            "funeral_allowance": funeral_allowance,
        },
        "documents": [{"kind": "giay_bao_tu", "digitized": False, "reused": False}],
    }

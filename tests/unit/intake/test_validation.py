"""A portal developer can act on every refusal: each bad field is named by its JSON path."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.catalogue.formschema import FormValidator
from contracts.events.common import DossierStatus
from intake.domain.problems import InvalidInput
from intake.domain.rules import IntakeRules
from intake.domain.submission import plan_bundle, plan_dossier, subject_digest
from tests.unit.intake.conftest import bundle_command, dossier_command
from tests.unit.intake.samples import (
    COMMUNE,
    DECEASED_ID,
    FATHER_ID,
    MONDAY_9AM,
    applicant,
    birth_bundle,
    birth_dossier,
    criminal_record_dossier,
    death_bundle,
)


def problems(rules: IntakeRules, body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        if "bundle_type" in body:
            plan_bundle(bundle_command(body), rules, MONDAY_9AM)
        else:
            plan_dossier(dossier_command(body), rules, MONDAY_9AM)
    return {p.path: p.type for p in caught.value.problems}


def test_a_valid_online_dossier_is_registered_without_a_due_date(rules: IntakeRules) -> None:
    plan = plan_dossier(dossier_command(birth_dossier("online")), rules, MONDAY_9AM)
    assert (plan.status, plan.received_at, plan.due_at) == (DossierStatus.REGISTERED, None, None)
    assert plan.competent_agency == "UBND-X-YENHOA"
    assert plan.subject_key is not None and "Nguyễn" not in plan.subject_key  # a digest, not personal data


def test_counter_and_postal_dossiers_are_received_at_once(rules: IntakeRules) -> None:
    for channel in ("counter", "postal"):
        plan = plan_dossier(dossier_command(birth_dossier(channel)), rules, MONDAY_9AM)
        assert plan.status is DossierStatus.RECEIVED
        assert plan.received_at == MONDAY_9AM
        assert plan.due_at is not None and plan.due_at.isoformat() == "2024-06-17T17:00:00+07:00"  # same day


@pytest.mark.parametrize("sample", [birth_dossier, birth_bundle])
def test_a_result_is_posted_only_to_the_address_given(rules: IntakeRules, sample: Any) -> None:
    posted = {**sample(), "result_delivery": {"method": "postal"}}
    assert problems(rules, posted) == {"$.result_delivery.address": "missing"}
    misplaced = {**sample(), "result_delivery": {"method": "online", "address": "Số 5, thôn Hải Nạp"}}
    assert problems(rules, misplaced) == {"$.result_delivery.address": "unexpected"}
    ok = {**sample(), "result_delivery": {"method": "postal", "address": "Số 5, thôn Hải Nạp, xã Yên Hòa"}}
    plan = (plan_bundle(bundle_command(ok), rules, MONDAY_9AM) if "bundle_type" in ok
            else plan_dossier(dossier_command(ok), rules, MONDAY_9AM))  # fmt: skip
    assert plan is not None


def test_unknown_procedure_and_agency(rules: IntakeRules) -> None:
    body = birth_dossier()
    body.update(procedure_code="1.999999", receiving_agency="NOWHERE")
    assert problems(rules, body) == {"$.procedure_code": "unknown_procedure", "$.receiving_agency": "unknown_agency"}


def test_wrong_form_shape(rules: IntakeRules) -> None:
    body = birth_dossier()
    body["form"]["child"]["sex"] = "boy"
    del body["form"]["child"]["place_of_birth"]
    body["form"]["mother"]["id_number"] = "12345"
    body["form"]["grandmother"] = {}
    assert problems(rules, body) == {
        "$.form.child.sex": "enum",
        "$.form.child.place_of_birth": "missing",
        "$.form.mother.id_number": "pattern",
        "$.form.grandmother": "extra_forbidden",
    }


def test_identification_numbers_that_contradict_the_data(rules: IntakeRules) -> None:
    body = birth_dossier()
    body["form"]["mother"]["id_number"] = "036095000123"  # digit 4 = 0: a man
    body["form"]["father"]["id_number"] = "999093000456"  # no such province
    body["applicant"]["id_number"] = "000195000123"  # 000 is no province
    assert problems(rules, body) == {
        "$.form.mother.id_number": "citizen_id_mismatch",
        "$.form.father.id_number": "citizen_id",
        "$.applicant.id_number": "citizen_id",
    }


def test_a_number_with_a_trailing_newline_is_no_number(rules: IntakeRules) -> None:
    """Python's $ also matches before a final newline: "...\\n" passed the form's pattern, and every
    check on the number after it (which reads only 12-digit values) let it through to the events."""
    body = birth_dossier()
    body["form"]["mother"]["id_number"] = "036095000123\n"  # a man's number, hidden by the newline
    assert problems(rules, body) == {"$.form.mother.id_number": "pattern"}


def test_a_number_encoding_a_birth_year_in_the_future_belongs_to_nobody(rules: IntakeRules) -> None:
    body = birth_dossier()  # submitted in 2024
    body["applicant"]["id_number"] = "036499000123"  # digit 4 = 4: a man born in the 2100s (2199)
    body["form"]["mother"]["id_number"] = "036325000001"  # a woman born in 2025
    with pytest.raises(InvalidInput) as caught:
        plan_dossier(dossier_command(body), rules, MONDAY_9AM)
    future = {p.path: p.msg for p in caught.value.problems if p.type == "citizen_id"}
    assert future == {
        "$.applicant.id_number": "encodes birth year 2199, which is in the future",
        "$.form.mother.id_number": "encodes birth year 2025, which is in the future",
    }


def test_birth_year_digits_must_match_the_date_of_birth(rules: IntakeRules) -> None:
    body = criminal_record_dossier()
    body["form"]["person"]["date_of_birth"] = "1996-03-02"  # the number says 1995
    assert problems(rules, body) == {"$.form.person.id_number": "citizen_id_mismatch"}


def test_a_parent_cannot_be_born_after_the_child(rules: IntakeRules) -> None:
    body = birth_dossier(born="1994-01-01")  # the mother's number says 1995
    assert problems(rules, body) == {"$.form.mother.id_number": "citizen_id_mismatch"}


def test_dates_of_facts_cannot_be_in_the_future(rules: IntakeRules) -> None:
    assert problems(rules, birth_dossier(born="2024-06-18")) == {"$.form.child.date_of_birth": "future_date"}
    assert problems(rules, death_bundle(died="2024-06-18")) == {"$.form.deceased.date_of_death": "future_date"}


def test_a_death_before_the_birth_year_the_number_encodes(rules: IntakeRules) -> None:
    assert DECEASED_ID[4:6] == "50"
    assert problems(rules, death_bundle(died="1949-12-31")) == {"$.form.deceased.date_of_death": "date_order"}


@pytest.mark.parametrize(
    ("choice", "key"), [("social_insurance", "social_insurance_number"), ("social_welfare", "beneficiary_category")]
)
def test_a_funeral_allowance_needs_what_its_system_pays_against(rules: IntakeRules, choice: str, key: str) -> None:
    """Refused at submission, naming the field: accepted, the bundle would stop at its last step."""
    body = death_bundle(choice)
    del body["form"]["deceased"][key]
    assert problems(rules, body) == {f"$.form.deceased.{key}": "missing"}


def test_a_newborns_residence_needs_the_birth_date_with_the_birth_certificate(rules: IntakeRules) -> None:
    """Registered under a birth certificate, the person is not in the population database yet and is
    recorded there first, which takes the date of birth."""
    body = {
        "procedure_code": "1.004222",
        "channel": "counter",
        "receiving_agency": "CA-X-YENHOA",
        "applicant": applicant(FATHER_ID),
        "form": {
            "person": {"id_number": "036224001122", "full_name": "Nguyễn Văn An", "birth_certificate_number": "12"},
            "address": "Thôn Hải Nạp, xã Yên Hòa",
            "household_head_id_number": FATHER_ID,
        },
        "documents": [{"kind": "to_khai_thay_doi_thong_tin_cu_tru", "digitized": True, "reused": False}],
    }
    assert problems(rules, body) == {"$.form.person.date_of_birth": "missing"}


def test_documents_must_be_the_procedures_and_mandatory_ones_present(rules: IntakeRules) -> None:
    body = birth_dossier()
    body["documents"] = [{"kind": "passport_photo", "digitized": True, "reused": False}]
    assert problems(rules, body) == {"$.documents[0].kind": "unknown_document", "$.documents": "missing_document"}


def test_a_document_is_listed_once_and_one_taken_from_data_is_electronic(rules: IntakeRules) -> None:
    """The digitisation and reuse indicators count documents: 25 copies of a reused declaration, or a
    paper one "from the national store", pushed a dossier's rates towards 100 %."""
    body = birth_dossier()
    copy = {"kind": "giay_chung_sinh", "digitized": True, "reused": True}
    paper = {"kind": "to_khai_khai_sinh", "digitized": False, "reused": False, "from_national_store": True}
    body["documents"] = [copy, copy, paper]
    assert problems(rules, body) == {
        "$.documents[1].kind": "repeated_document", "$.documents[2].digitized": "not_digitized",
    }  # fmt: skip
    bundle = birth_bundle()
    bundle["documents"] = [copy, {**copy, "reused": False}]
    assert problems(rules, bundle) == {"$.documents[1].kind": "repeated_document"}


def test_a_procedure_not_offered_online(rules: IntakeRules) -> None:
    body = criminal_record_dossier()
    body.update(
        procedure_code="9.000003",
        form={
            "owner": {"id_number": "036195000123", "full_name": "Trần Thị Bình"},
            "land_parcel": {"commune_code": "UBND-X-NOWHERE", "map_sheet": 1, "parcel_number": 2, "area_m2": 100},
        },
        documents=[],
    )
    found = problems(rules, body)
    assert found["$.channel"] == "channel_not_offered"


def test_an_unknown_administrative_unit_in_the_form_is_named(rules: IntakeRules) -> None:
    form = {
        "owner": {"id_number": "036195000123", "full_name": "Trần Thị Bình"},
        "land_parcel": {"commune_code": "UBND-X-NOWHERE", "map_sheet": 1, "parcel_number": 2, "area_m2": 100,
                        "land_use_purpose": "ở"},
    }
    procedure = rules.catalogue.procedure("9.000003")
    documents = [d for d in procedure.required_documents if d.mandatory]
    mandatory = [{"kind": d.kind, "digitized": True, "reused": False} for d in documents]
    body = {**criminal_record_dossier(), "procedure_code": "9.000003", "channel": "counter", "form": form,
            "documents": mandatory}
    assert problems(rules, body) == {"$.form.land_parcel.commune_code": "unknown_agency"}


def test_a_result_is_delivered_online_only_by_a_procedure_offered_online_whole(rules: IntakeRules) -> None:
    """A criminal-record certificate is offered online in part (the submission): its paper is
    collected or posted. The death bundle's funeral allowance is too."""
    record = {**criminal_record_dossier(), "result_delivery": {"method": "online"}}
    assert problems(rules, record) == {"$.result_delivery.method": "delivery_not_offered"}
    assert plan_dossier(dossier_command({**record, "result_delivery": {"method": "counter"}}), rules, MONDAY_9AM)
    death = {**death_bundle("social_insurance"), "result_delivery": {"method": "online"}}
    assert problems(rules, death) == {"$.result_delivery.method": "delivery_not_offered"}
    # Registration and deregistration alone are offered online whole.
    online = {"method": "online"}
    assert plan_bundle(bundle_command({**death_bundle("none"), "result_delivery": online}), rules, MONDAY_9AM)
    assert plan_dossier(dossier_command({**birth_dossier(), "result_delivery": online}), rules, MONDAY_9AM)


def test_unknown_bundle_type(rules: IntakeRules) -> None:
    assert problems(rules, {**birth_bundle(), "bundle_type": "wedding"}) == {"$.bundle_type": "unknown_bundle"}


def test_the_birth_bundle_is_for_a_child_under_six(rules: IntakeRules) -> None:
    # Submitted on 17 June 2024: a child born on 17 June 2018 turns 6 that day and is registered
    # procedure by procedure; one born a day later is still under 6.
    with pytest.raises(InvalidInput) as caught:
        plan_bundle(bundle_command(birth_bundle(born="2018-06-17")), rules, MONDAY_9AM)
    [problem] = caught.value.problems
    assert (problem.path, problem.type) == ("$.form.child.date_of_birth", "age_limit")
    assert "under 6, an age reached on 2024-06-17" in problem.msg
    assert len(plan_bundle(bundle_command(birth_bundle(born="2018-06-18")), rules, MONDAY_9AM).dossiers) == 3
    # The birth alone has no age limit.
    assert plan_dossier(dossier_command(birth_dossier(born="2018-06-17")), rules, MONDAY_9AM).procedure.code


@pytest.mark.parametrize(("born", "child_id"), [("2018-06-17", "036218000777"), ("2018-06-18", "036218000778")])
def test_the_child_health_insurance_card_on_its_own_is_for_a_child_under_six(
    rules: IntakeRules, born: str, child_id: str
) -> None:
    """Only the birth bundle checked the age: a ten-year-old's card was accepted and routed, and failed
    days later at social insurance, a failed dossier where a refusal at reception was due."""
    card = {
        "procedure_code": "9.000001",
        "channel": "online",
        "receiving_agency": COMMUNE,
        "applicant": applicant(),
        "form": {
            "child": {"personal_id_number": child_id, "full_name": "Nguyễn Văn An", "date_of_birth": born,
                      "sex": "male"},
            "address": "Thôn 1, xã Yên Hòa",
        },
        "documents": [{"kind": "to_khai_tham_gia_bhyt", "digitized": True, "reused": False}],
    }  # fmt: skip
    if born == "2018-06-17":  # turns 6 on the day of submission
        with pytest.raises(InvalidInput) as caught:
            plan_dossier(dossier_command(card), rules, MONDAY_9AM)
        [problem] = caught.value.problems
        assert (problem.path, problem.type) == ("$.form.child.date_of_birth", "age_limit")
        assert "procedure 9.000001 is for a person under 6, an age reached on 2024-06-17" in problem.msg
    else:
        assert plan_dossier(dossier_command(card), rules, MONDAY_9AM).procedure.code == "9.000001"


def test_a_card_for_a_child_born_in_year_9999_is_a_date_in_the_future_not_an_error(rules: IntakeRules) -> None:
    """The age limit's sixth birthday of a birth in 9994 or later is past the last date there is: it
    raised, and the portal got a 500 for a typo."""
    card = dossier_command(
        {
            "procedure_code": "9.000001",
            "channel": "online",
            "receiving_agency": COMMUNE,
            "applicant": applicant(),
            "form": {"child": {"personal_id_number": "036218000777", "full_name": "Nguyễn Văn An",
                               "date_of_birth": "9999-01-01", "sex": "male"}, "address": "Thôn 1, xã Yên Hòa"},
            "documents": [{"kind": "to_khai_tham_gia_bhyt", "digitized": True, "reused": False}],
        }
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        plan_dossier(card, rules, MONDAY_9AM)
    assert ("$.form.child.date_of_birth", "future_date") in {(p.path, p.type) for p in caught.value.problems}


def test_bundle_steps_follow_the_applicants_choice(rules: IntakeRules) -> None:
    steps = {
        choice: [d.step_id for d in plan_bundle(bundle_command(death_bundle(choice)), rules, MONDAY_9AM).dossiers]
        for choice in ("social_insurance", "social_welfare", "none")
    }
    assert steps == {
        "social_insurance": ["death_registration", "residence_deregistration", "funeral_allowance"],
        "social_welfare": ["death_registration", "residence_deregistration", "burial_support"],
        "none": ["death_registration", "residence_deregistration"],
    }


def test_a_bundles_documents_are_those_supplied_with_it_for_the_steps_that_apply(rules: IntakeRules) -> None:
    body = birth_bundle()
    # giay_bao_tu belongs to the death bundle; so_bhxh is supplied with a death bundle only for the
    # funeral allowance, a step this applicant did not choose.
    body["documents"] = [{"kind": "giay_bao_tu", "digitized": True, "reused": False}]
    assert problems(rules, body) == {"$.documents[0].kind": "unknown_document"}
    death = death_bundle("none")
    death["documents"].append({"kind": "so_bhxh", "digitized": True, "reused": False})
    assert problems(rules, death) == {"$.documents[1].kind": "unknown_document"}


def test_a_bundle_with_a_bad_form_is_refused_with_its_bad_documents_too(rules: IntakeRules) -> None:
    """Every bad field at once, as for a standalone dossier, not the documents after the form is mended."""
    body = death_bundle(died="2024-06-18")
    body["documents"].append({"kind": "giay_chung_sinh", "digitized": True, "reused": False})
    assert problems(rules, body) == {
        "$.form.deceased.date_of_death": "future_date",
        "$.documents[1].kind": "unknown_document",
    }


def test_a_bundle_s_age_limit_is_checked_on_a_valid_form_whatever_else_is_wrong(rules: IntakeRules) -> None:
    body = {**birth_bundle(born="2018-06-17"), "result_delivery": {"method": "postal"}}  # no address
    assert problems(rules, body) == {
        "$.form.child.date_of_birth": "age_limit",
        "$.result_delivery.address": "missing",
    }


def test_a_bundle_without_documents_is_still_accepted_as_the_api_was_published(rules: IntakeRules) -> None:
    body = {k: v for k, v in birth_bundle().items() if k != "documents"}
    plan = plan_bundle(bundle_command(body), rules, MONDAY_9AM)
    assert [[d.kind for d in p.documents] for p in plan.dossiers] == [
        ["to_khai_khai_sinh"], ["to_khai_thay_doi_thong_tin_cu_tru"], ["to_khai_tham_gia_bhyt"]
    ]


def test_each_bundle_step_gets_its_own_documents_and_those_the_bundle_produces(rules: IntakeRules) -> None:
    body = death_bundle("social_insurance")
    body["documents"].append({"kind": "so_bhxh", "digitized": True, "reused": False, "from_national_store": True})
    plan = plan_bundle(bundle_command(body), rules, MONDAY_9AM)
    documents = {d.step_id: {(x.kind, x.digitized, x.reused) for x in d.documents} for d in plan.dossiers}
    assert documents == {
        # The declaration comes from the combined form; the death notice is the applicant's (on paper).
        "death_registration": {("to_khai_khai_tu", True, False), ("giay_bao_tu", False, False)},
        "residence_deregistration": {("to_khai_thay_doi_thong_tin_cu_tru", True, True)},
        # The death extract is the first step's result, passed on; the insurance book is the applicant's.
        "funeral_allowance": {("trich_luc_khai_tu", True, True), ("so_bhxh", True, False)},
    }
    assert [x.from_national_store for x in plan.dossiers[2].documents] == [False, True]


def test_birth_bundle_routes_each_step_to_its_agency(rules: IntakeRules) -> None:
    plan = plan_bundle(bundle_command(birth_bundle()), rules, MONDAY_9AM)
    assert [(d.procedure.code, d.competent_agency) for d in plan.dossiers] == [
        ("1.001193", "UBND-X-YENHOA"),
        ("1.004222", "CA-X-YENHOA"),
        ("9.000001", "BHXH-H-HOAMY"),
    ]
    # The child's personal id number is the first step's result: no duplicate check possible yet.
    assert [d.subject_key is not None for d in plan.dossiers] == [True, False, False]
    assert plan.dossiers[1].form["relation_to_head"] == "con"


@pytest.mark.parametrize(
    ("code", "key"), [("9.000002", "social_insurance_number"), ("1.001731", "beneficiary_category")]
)
def test_a_standalone_funeral_benefit_names_what_it_is_paid_against(rules: IntakeRules, code: str, key: str) -> None:
    form = {
        "deceased": {"id_number": DECEASED_ID, "full_name": "Nguyễn Văn Đức", "date_of_death": "2024-06-15"},
        "death_extract_number": "15/2024",
        "declarant_relation": "con",
    }
    schema = rules.catalogue.procedure(code).form_schema
    [problem] = FormValidator(schema).validate(form, "$.form")
    assert (problem.path, problem.type) == (f"$.form.deceased.{key}", "missing")


def test_an_integer_written_with_a_zero_fraction_is_the_same_subject(rules: IntakeRules) -> None:
    """Map sheet 12.0 passes the form's integer check as sheet 12: it is the same parcel, not a
    second first-issuance dossier for it."""
    procedure = rules.catalogue.procedure("9.000003")

    def parcel(sheet: float, number: float) -> dict[str, Any]:
        return {"land_parcel": {"commune_code": COMMUNE, "map_sheet": sheet, "parcel_number": number}}

    assert subject_digest(procedure, parcel(12, 345)) == subject_digest(procedure, parcel(12.0, 345.0))
    assert subject_digest(procedure, parcel(12, 345)) != subject_digest(procedure, parcel(12, 346))


def test_a_bundle_step_goes_to_the_agency_of_the_residence_not_of_the_counter(rules: IntakeRules) -> None:
    """Received at the province centre (any counter takes any dossier), a family of xã Yên Hòa has its
    child's residence registered by Yên Hòa's police and the card issued by Hòa Mỹ's social insurance,
    not by the city's."""
    body = {**birth_bundle(), "receiving_agency": "TTPVHCC-BINHAN"}
    body["form"]["residence"]["commune_code"] = COMMUNE
    plan = plan_bundle(bundle_command(body), rules, MONDAY_9AM)
    assert [d.competent_agency for d in plan.dossiers] == [COMMUNE, "CA-X-YENHOA", "BHXH-H-HOAMY"]
    without = plan_bundle(bundle_command({**birth_bundle(), "receiving_agency": "TTPVHCC-BINHAN"}), rules, MONDAY_9AM)
    assert [d.competent_agency for d in without.dossiers] == ["UBND-P-PHUCLOI", "CA-P-PHUCLOI", "BHXH-TP-BINHAN"]
    body["form"]["residence"]["commune_code"] = "UBND-X-NOWHERE"
    with pytest.raises(InvalidInput) as caught:  # one field feeding three steps: named once
        plan_bundle(bundle_command(body), rules, MONDAY_9AM)
    assert [(p.path, p.type) for p in caught.value.problems] == [("$.form.residence.commune_code", "unknown_agency")]
    # A district's code (or a department's) would have routed on to its seat's commune, another unit.
    for not_a_commune in ("UBND-H-HOAMY", "STNMT-BINHAN"):
        body["form"]["residence"]["commune_code"] = not_a_commune
        assert problems(rules, body) == {"$.form.residence.commune_code": "not_a_commune"}


@pytest.mark.parametrize(
    ("typed", "same"),
    [
        ("NGUYỄN THỊ HÒA", True),  # as ID cards print names
        ("Nguyễn Thị Hòa", True),  # the tone on the other vowel of "oa": a keyboard setting
        ("Ðặng Thị Hoà", False),  # another family name ...
        ("Nguyễn Thị Hoa", False),  # ... another tone, another letter: another child
        ("Nguyễn Thị Hóa", False),
    ],
)
def test_case_and_the_place_of_a_tone_mark_do_not_make_another_child(
    rules: IntakeRules, typed: str, same: bool
) -> None:
    procedure = rules.catalogue.procedure("1.001193")
    form = birth_dossier(child_name="Nguyễn Thị Hoà")["form"]
    other = birth_dossier(child_name=typed)["form"]
    assert (subject_digest(procedure, form) == subject_digest(procedure, other)) is same


def test_the_legacy_d_with_stroke_is_the_vietnamese_one(rules: IntakeRules) -> None:
    """U+00D0 (Icelandic eth), left by conversions from the old TCVN3 and VNI fonts, looks like Đ."""
    procedure = rules.catalogue.procedure("1.001193")
    legacy, proper = (birth_dossier(child_name=f"{d}ặng Thúy Anh")["form"] for d in ("\u00d0", "\u0110"))
    assert subject_digest(procedure, legacy) == subject_digest(procedure, proper)

"""The realistic mix: proportions, valid routing, unique subjects, determinism."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest

from contracts.catalogue import load_catalogue
from contracts.events.common import Applicant, Delivery, Document
from intake.domain.commands import SubmitBundle
from intake.domain.rules import IntakeRules
from intake.domain.submission import listed_document_problems, plan_bundle
from loadgen.mix import Mix, MixWeights
from workcal import WorkCalendar, vietnam_tz

CATALOGUE = load_catalogue()
TODAY = date(2026, 7, 15)
DRAWS = 4000


@pytest.fixture(scope="module")
def drawn() -> list:
    mix = Mix(CATALOGUE, seed=7, today=TODAY)
    return [mix.next() for _ in range(DRAWS)]


def share(count: int) -> float:
    return count / DRAWS


def test_channels_are_about_two_thirds_online(drawn: list) -> None:
    channels = Counter(s.body["channel"] for s in drawn)
    assert 0.58 < share(channels["online"]) < 0.68  # 65 % where possible; land has no online service
    assert 0.25 < share(channels["counter"]) < 0.38
    assert 0.02 < share(channels["postal"]) < 0.09


def test_results_are_received_mostly_the_way_the_dossier_came_and_posted_ones_have_an_address(drawn: list) -> None:
    by_channel: dict[str, Counter[str]] = {}
    for s in drawn:
        delivery = s.body["result_delivery"]
        whole = s.kind == "dossier" and CATALOGUE.procedure(s.body["procedure_code"]).online_level == "full"
        # Online delivery is for procedures offered online whole: for the others, the way it came in.
        channel = s.body["channel"] if whole or s.body["channel"] != "online" else "online, in part"
        by_channel.setdefault(channel, Counter())[delivery["method"]] += 1
        assert ("address" in delivery) == (delivery["method"] == "postal")
    assert by_channel["online"].most_common(1)[0][0] == "online"
    assert by_channel["counter"].most_common(1)[0][0] == "counter"
    assert by_channel["postal"].most_common(1)[0][0] == "postal"
    assert "online" not in by_channel["postal"]


def test_bundles_and_standalone_in_their_shares_with_every_funeral_choice(drawn: list) -> None:
    labels = Counter(s.label for s in drawn)
    assert 0.17 < share(labels["bundle:birth"]) < 0.23
    death = {k: v for k, v in labels.items() if k.startswith("bundle:death")}
    assert set(death) == {"bundle:death:social_insurance", "bundle:death:social_welfare", "bundle:death:none"}
    assert 0.06 < share(sum(death.values())) < 0.10
    standalone = {k for k in labels if k.startswith("dossier:")}
    assert standalone == {f"dossier:{code}" for code in CATALOGUE.procedures}


def test_every_dossier_routes_and_its_documents_are_known_kinds(drawn: list) -> None:
    for s in drawn:
        if s.kind != "dossier":
            continue
        procedure = CATALOGUE.procedure(s.body["procedure_code"])
        competent = CATALOGUE.competent_agency(
            procedure.code, s.body["receiving_agency"], procedure.area_in(s.body["form"])
        )
        assert s.agencies == tuple(dict.fromkeys((s.body["receiving_agency"], competent.code)))
        kinds = {d["kind"] for d in s.body["documents"]}
        assert {d.kind for d in procedure.required_documents if d.mandatory} <= kinds
        assert kinds <= {d.kind for d in procedure.required_documents}
        assert listed_document_problems(procedure, [Document(**d) for d in s.body["documents"]]) == []
        if procedure.online_level == "none":
            assert s.body["channel"] != "online"
        if s.body["result_delivery"]["method"] == "online":
            assert procedure.online_level == "full"


def test_intake_accepts_every_bundle_with_its_documents(drawn: list) -> None:
    rules = IntakeRules.build(CATALOGUE, WorkCalendar())
    now = datetime(2026, 7, 15, 9, tzinfo=vietnam_tz())
    for s in (s for s in drawn if s.kind == "bundle"):
        body = s.body
        command = SubmitBundle(
            bundle_type=body["bundle_type"], channel=body["channel"], receiving_agency=body["receiving_agency"],
            applicant=Applicant(**body["applicant"]), form=body["form"],
            documents=[Document(**d) for d in body["documents"]], delivery=Delivery(**body["result_delivery"]),
        )  # fmt: skip
        plan = plan_bundle(command, rules, now)  # InvalidInput names what the mix got wrong
        assert plan.dossiers[0].documents
        assert plan.dossiers[0].competent_agency in s.agencies  # its officials are the ones the driver runs


def test_no_two_open_dossiers_share_a_subject(drawn: list) -> None:
    seen = set()
    for s in drawn:
        if s.kind == "dossier":
            key = (s.body["procedure_code"], CATALOGUE.procedure(s.body["procedure_code"]).subject_key(s.body["form"]))
            assert key not in seen
            seen.add(key)


def test_fees_are_paid_online_as_often_as_the_seeds_report(drawn: list) -> None:
    """84 % of payable dossiers paid online (Nam Định 2023), at the counter too (QR payment); the
    others pay cash, at the counter with the submission or, applying online, with the result."""
    payable = [s for s in drawn if s.payment]
    assert 0.78 < sum(s.payment.online for s in payable) / len(payable) < 0.90
    later = [s for s in payable if not s.payment.at_submission]
    assert later and all(not s.payment.online and s.body["channel"] == "online" for s in later)
    for s in drawn:
        if s.kind == "dossier":
            fee = CATALOGUE.procedure(s.body["procedure_code"]).fee
            assert (s.payment is not None) == (fee > 0) and (s.payment is None or s.payment.amount == fee)


def test_the_same_seed_gives_the_same_run_and_weights_can_restrict_it() -> None:
    a, b = Mix(CATALOGUE, seed=11, today=TODAY), Mix(CATALOGUE, seed=11, today=TODAY)
    assert [a.next().body for _ in range(50)] == [b.next().body for _ in range(50)]
    births = Mix(CATALOGUE, seed=1, today=TODAY, weights=MixWeights(birth_bundle=1, death_bundle=0, standalone=0))
    assert {births.next().label for _ in range(100)} == {"bundle:birth"}


def test_a_bundle_names_where_its_first_official_step_goes() -> None:
    mix = Mix(CATALOGUE, seed=2, today=TODAY)
    for funeral in ("social_insurance", "social_welfare", "none"):
        s = mix.bundle("death", funeral)
        assert s.body["form"]["funeral_allowance"] == funeral and s.label == f"bundle:death:{funeral}"
        receiving = s.body["receiving_agency"]
        assert s.agencies == tuple(dict.fromkeys((receiving, CATALOGUE.competent_agency("1.000656", receiving).code)))

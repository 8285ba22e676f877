"""Adapters of the social insurance agency and social welfare: one interface per system,
implemented over HTTP against the API the registry simulator stands in for."""

from __future__ import annotations

from typing import Protocol

from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.adapters.operations import OperationCall, ReadBack, drop_none, id_number, mapped, post_once
from registry_sync.domain.outcomes import CallOutcome


class SocialInsurance(Protocol):
    """Social insurance agency (BHXH): child health-insurance cards, funeral allowances."""

    async def issue_child_health_insurance_card(self, call: OperationCall) -> CallOutcome: ...

    async def pay_funeral_allowance(self, call: OperationCall) -> CallOutcome: ...


class SocialWelfare(Protocol):
    """Social welfare (bảo trợ xã hội): burial support."""

    async def grant_burial_support(self, call: OperationCall) -> CallOutcome: ...


class HttpSocialInsurance:
    def __init__(self, client: ExternalHttpClient) -> None:
        self._client = client

    async def issue_child_health_insurance_card(self, call: OperationCall) -> CallOutcome:
        """Data: the child health-insurance form (child, address)."""
        body = drop_none(
            {
                "id_number": id_number(call.require("child.personal_id_number"), "child.personal_id_number"),
                "full_name": call.require("child.full_name"),
                "sex": call.require("child.sex"),
                "date_of_birth": call.require("child.date_of_birth"),
                "guardian_full_name": call.applicant_full_name,
            }
        )
        path = "/health-insurance-cards"
        held = ReadBack(path, {"id_number": body["id_number"]})
        outcome = await post_once(self._client, path, body, call, done="card_exists", read_back=held)
        return mapped(
            outcome,
            lambda r: {"card_number": r.get("card_number"), "valid_until": r.get("valid_to")},
            required=("card_number",),
        )

    async def pay_funeral_allowance(self, call: OperationCall) -> CallOutcome:
        """Data: the funeral-allowance form (deceased, death extract number, declarant's relation).

        The agency pays against the deceased's social-insurance number, optional in the form: without
        it the command fails with that reason rather than guess one."""
        body = drop_none(
            {
                "deceased": _deceased(call, "social_insurance_number", "the social insurance agency pays against it"),
                "recipient": call.applicant(call.require("declarant_relation")),
                "death_record_id": call.get("death_extract_number"),
            }
        )
        path = "/funeral-allowances"
        held = ReadBack(path, {"deceased_id_number": body["deceased"]["id_number"]})
        outcome = await post_once(self._client, path, body, call, done="already_paid", read_back=held)
        return mapped(
            outcome,
            lambda r: {"decision_number": r.get("payment_id"), "amount_vnd": r.get("amount_vnd")},
            required=("decision_number",),
        )


class HttpSocialWelfare:
    def __init__(self, client: ExternalHttpClient) -> None:
        self._client = client

    async def grant_burial_support(self, call: OperationCall) -> CallOutcome:
        """Data: the burial-support form. The beneficiary category (which social-assistance group
        the deceased belonged to) is required by the welfare system and optional in the form:
        without it the command fails with that reason."""
        body = drop_none(
            {
                "deceased": _deceased(call, "beneficiary_category", "the social-assistance group of the deceased"),
                "applicant": call.applicant(call.require("declarant_relation")),
                "death_record_id": call.get("death_extract_number"),
            }
        )
        path = "/burial-supports"
        held = ReadBack(path, {"deceased_id_number": body["deceased"]["id_number"]})
        outcome = await post_once(self._client, path, body, call, done="already_granted", read_back=held)
        return mapped(
            outcome,
            lambda r: {"decision_number": r.get("support_id"), "amount_vnd": r.get("amount_vnd")},
            required=("decision_number",),
        )


def _deceased(call: OperationCall, benefit_key: str, why: str) -> dict[str, str]:
    """The deceased as both benefit systems take them: who, when, and the one key the benefit is paid
    against (``deceased.<benefit_key>``, required for ``why``)."""
    return {
        "id_number": id_number(call.require("deceased.id_number"), "deceased.id_number"),
        "full_name": call.require("deceased.full_name"),
        "date_of_death": call.require("deceased.date_of_death"),
        benefit_key: call.require(f"deceased.{benefit_key}", why),
    }

"""What a citizen is told when a national system refuses a registry command, from the answer it gave.

The refusal reached the citizen's timeline, the stop reason and the bundle's reason as registry-sync
wrote it for operators: '409 card_exists: the child already holds card TE1791234567890', an HTTP
status, the system's code and its English message, with the card number, in a view anyone with the
dossier code can read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import registry_sim
from contracts.events.registry import RegistryCommandFailed
from registry_sync.adapters.http_client import ExternalHttpClient
from registry_sync.domain.outcomes import Rejected, mask_personal_numbers

REFUSED = "hệ thống từ chối thực hiện yêu cầu"


def failed(answer: httpx.Response) -> RegistryCommandFailed:
    """The event registry-sync publishes for ``answer``, its reason as the command keeps it."""
    outcome = ExternalHttpClient.outcome(answer)
    assert isinstance(outcome, Rejected)
    return RegistryCommandFailed(
        command_id="c1", system="social_insurance", operation="issue_child_health_insurance_card", dossier_id="d1",
        reason=mask_personal_numbers(outcome.reason), attempts=1, failed_at=datetime(2024, 6, 17, 2, tzinfo=UTC),
        http_status=outcome.status, error=outcome.error,
    )  # fmt: skip


#: The registry simulator's refusals of a command, as it answers them (registry_sim).
SIMULATOR_REFUSALS: list[tuple[int, dict[str, Any]]] = [
    (409, {"error": "card_exists", "message": "the child already holds card TE1791234567890", "field": "id_number"}),
    (409, {"error": "citizen_exists", "message": "036224000001 is assigned to someone else", "field": "id_number"}),
    (409, {"error": "citizen_deceased", "message": "036050000789 is recorded as deceased", "field": "id_number"}),
    (409, {"error": "no_permanent_residence", "message": "036050000789 has no permanent residence"}),
    (409, {"error": "death_already_registered", "message": "this death is already registered"}),
    (409, {"error": "already_paid", "message": "a funeral allowance was already paid"}),
    (409, {"error": "already_granted", "message": "burial support was already granted"}),
    (422, {"error": "validation_failed", "message": "address.ward: Field required", "field": "address.ward"}),
    (422, {"error": "inconsistent_id_number", "message": "mother.id_number: the century/sex digit says male"}),
    (404, {"error": "not_found", "message": "no citizens record 036085000001", "field": "id_number"}),
]


@pytest.mark.parametrize(("status", "body"), SIMULATOR_REFUSALS, ids=[b["error"] for _, b in SIMULATOR_REFUSALS])
def test_a_system_s_refusal_is_told_to_the_citizen_by_its_cause_in_vietnamese(
    status: int, body: dict[str, Any]
) -> None:
    event = failed(httpx.Response(status, json=body))
    told = event.reason_vi
    assert told != REFUSED  # each known refusal has a cause of its own
    assert not re.search(r"[0-9]", told), told  # no status, no card or identification number
    assert body["error"] not in told and body["message"] not in told
    assert event.reason.startswith(f"{status} {body['error']}: ")  # operators keep the system's words


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(409, json={"error": "quota_exceeded", "message": "card TE1791234567890 is over its quota"}),
        httpx.Response(422, json={"detail": "the ward 00001 is unknown"}),  # no code
        httpx.Response(400, text="Bad Request"),  # no error body at all
    ],
    ids=["unknown code", "no code", "no body"],
)
def test_a_refusal_whose_code_is_unknown_or_missing_is_told_in_a_general_vietnamese_sentence(
    answer: httpx.Response,
) -> None:
    assert failed(answer).reason_vi == REFUSED


#: The simulator's modules whose refusals answer a registry command (not the portal's, not its own
#: administration).
_SYSTEMS = ("civil_status", "population", "social_insurance", "social_welfare", "common", "gateway")


def test_every_refusal_a_system_answers_a_command_with_has_its_vietnamese_cause() -> None:
    """A new refusal code a system answers with is told to the citizen in the general sentence until it
    has its own: the list above, written by hand, would not notice one."""
    sources = Path(registry_sim.__file__).parent
    codes = {
        code
        for module in _SYSTEMS
        for code in re.findall(r'SimError\(\s*4\d\d,\s*"([a-z_]+)"', (sources / f"{module}.py").read_text())
    } | {"validation_failed"}  # SimError.invalid's
    assert {"card_exists", "already_paid", "inconsistent_id_number"} <= codes  # the scan reads the sources
    general = RegistryCommandFailed(
        command_id="c1", system="population_db", operation="x", dossier_id="d1", reason="", attempts=1,
        failed_at=datetime(2024, 6, 17, 2, tzinfo=UTC),
    ).reason_vi  # fmt: skip
    untold = {
        code for code in codes
        if RegistryCommandFailed(command_id="c1", system="population_db", operation="x", dossier_id="d1",
                                 reason="", attempts=1, failed_at=datetime(2024, 6, 17, 2, tzinfo=UTC),
                                 error=code).reason_vi == general
    }  # fmt: skip
    # A key sent again with another body is ours to put right, no cause of the citizen's: the general
    # sentence is all they can be told.
    assert untold == {"idempotency_key_reused"}

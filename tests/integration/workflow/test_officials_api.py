"""The officials' API against the real database and broker: a dossier from intake's topic reaches the
competent agency's task list, decisions move it, bad input is a 4xx naming the field, and of two
concurrent decisions on one dossier exactly one wins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from devstack.identity import ISSUER, DevIdentity
from tests.integration.workflow.support import running_workflow
from tests.integration.workflow.test_bundles import step_dossiers
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.unit.workflow.builders import BIRTH_FORM, BIRTH_STEPS, bundle_submitted, submitted

pytestmark = pytest.mark.integration


async def test_decisions_through_the_api(infra: Infra, unique: str) -> None:
    async with running_workflow(infra, unique) as workflow:
        now = datetime.now(UTC)
        land = submitted(
            at=now,
            procedure_code="9.000003",
            receiving_agency="UBND-X-YENHOA",
            competent_agency="STNMT-BINHAN",
            fee=100_000,
        )
        online = submitted(at=now, channel="online", receiving_agency="TTPVHCC-BINHAN")
        await workflow.publish_intake(land, online)

        task = await workflow.wait_for_task("STNMT-BINHAN", land.dossier_id)
        assert task["waiting_for"] == "decision" and task["status_code"] == 4
        acceptance = await workflow.wait_for_task("TTPVHCC-BINHAN", online.dossier_id)
        assert acceptance["waiting_for"] == "acceptance" and acceptance["status"] == "registered"

        missing_reason = await workflow.decide(land.dossier_id, "request_supplement")
        assert missing_reason.status_code == 422
        assert missing_reason.json()["detail"][0]["path"] == "$.reason"
        bad_value = await workflow.decide(land.dossier_id, "teleport")
        assert bad_value.status_code == 422 and bad_value.json()["detail"][0]["path"] == "$.decision"
        assert (await workflow.decide("no-such-dossier", "approve")).status_code == 404
        beyond = await workflow.decide(land.dossier_id, "extend", reason="x", new_due_at="9999-12-31T20:00:00+00:00")
        assert beyond.status_code == 422 and beyond.json()["detail"][0]["path"] == "$.new_due_at"  # was a 500
        before = await workflow.decide(land.dossier_id, "extend", reason="x", new_due_at="0001-01-01T03:00:00+14:00")
        assert before.status_code == 422 and before.json()["detail"][0]["path"] == "$.new_due_at"  # an overflow, a 500
        too_much = await workflow.decide(land.dossier_id, "request_payment", amount=10**40)
        assert too_much.status_code == 422 and too_much.json()["detail"][0]["path"] == "$.amount"
        for not_a_number in (True, "100"):  # had been 1 VND and 100 VND
            loose = await workflow.decide(land.dossier_id, "request_payment", amount=not_a_number)
            assert loose.status_code == 422 and loose.json()["detail"][0]["path"] == "$.amount"
        anonymous = await workflow.decide(land.dossier_id, "approve", official_id=None)  # no AUTH_JWKS: say who
        assert anonymous.status_code == 422 and anonymous.json()["detail"][0]["path"] == "$.official_id"
        assert (await workflow.client.get("/v1/tasks", params={"agency": "NOPE"})).status_code == 404
        assert (await workflow.client.get("/v1/tasks")).status_code == 422

        supplement = await workflow.decide(land.dossier_id, "request_supplement", reason="thiếu trích đo địa chính")
        assert supplement.status_code == 200 and supplement.json()["status"] == "supplement_requested"
        async with workflow.engine.connect() as conn:  # traced to the request id the answer carried
            caused_by = await conn.scalar(
                text("SELECT envelope->>'causation_id' FROM events WHERE stream_id = :s ORDER BY stream_version DESC"),
                {"s": land.dossier_id},
            )
        assert caused_by == supplement.headers["x-request-id"]
        before_supplement = datetime.now(UTC) - timedelta(milliseconds=1)
        illegal = await workflow.decide(land.dossier_id, "approve")
        assert illegal.status_code == 409 and illegal.json()["error"] == "illegal_transition"

        accepted = await workflow.decide(online.dossier_id, "accept", official_id="mc-07")
        assert accepted.status_code == 200 and accepted.json()["status"] == "processing"
        approved = await workflow.decide(online.dossier_id, "approve")
        body = approved.json()
        assert body["status_code"] == 9 and body["results"][0]["result_code"] == f"{online.code}-KQ1"
        assert [line["step"] for line in body["control_sheet"]] == ["reception", "processing"]
        # The result is now the receiving counter's to hand over; a filter shows only that kind of task.
        centre = "TTPVHCC-BINHAN"
        kinds = ["result_return", "decision"]
        returns = await workflow.client.get("/v1/tasks", params={"agency": centre, "waiting_for": kinds})
        listed = [(t["dossier_id"], t["waiting_for"]) for t in returns.json()["tasks"]]
        assert listed == [(online.dossier_id, "result_return")]
        to_accept = await workflow.client.get("/v1/tasks", params={"agency": centre, "waiting_for": "acceptance"})
        assert to_accept.json()["tasks"] == []
        unknown = await workflow.client.get("/v1/tasks", params={"agency": centre, "waiting_for": "nap"})
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["path"] == "$.waiting_for[0]"

        past = await workflow.client.get(
            f"/v1/dossiers/{land.dossier_id}", params={"at": before_supplement.isoformat()}
        )
        assert past.status_code == 200 and past.json()["status"] == "supplement_requested"
        earlier = await workflow.client.get(
            f"/v1/dossiers/{land.dossier_id}", params={"at": (now - timedelta(hours=1)).isoformat()}
        )
        assert earlier.status_code == 404
        # Before PostgreSQL's first instant: the driver's refusal had read as an outage, a 503 for ever.
        ancient = await workflow.client.get(
            f"/v1/dossiers/{land.dossier_id}", params={"at": "0001-01-01T00:00:00+05:00"}
        )
        assert ancient.status_code == 422 and ancient.json()["detail"][0]["path"] == "$.at"

        published = await workflow.published(expect=6)
        assert [(e.key, e.type) for e in published if e.key == online.dossier_id] == [
            (online.dossier_id, "DossierReceived"),
            (online.dossier_id, "DossierStepStarted"),
            (online.dossier_id, "ResultIssued"),
        ]
        assert {e.type for e in published if e.key == land.dossier_id} == {
            "DossierReceived",
            "DossierStepStarted",
            "SupplementRequested",
        }


async def test_of_two_concurrent_decisions_the_second_is_judged_on_the_first_ones_result(
    infra: Infra, unique: str
) -> None:
    async with running_workflow(infra, unique) as workflow:
        dossiers = [submitted(at=datetime.now(UTC)) for _ in range(3)]
        await workflow.publish_intake(*dossiers)
        for dossier in dossiers:
            await workflow.wait_for_task("SKHDT-BINHAN", dossier.dossier_id)
            answers = await asyncio.gather(
                workflow.decide(dossier.dossier_id, "approve", official_id="cb-a"),
                workflow.decide(dossier.dossier_id, "reject", official_id="cb-b", reason="không đủ điều kiện"),
            )
            codes = sorted(a.status_code for a in answers)
            assert codes == [200, 409], [a.json() for a in answers]
            loser = next(a for a in answers if a.status_code == 409).json()
            # Decided again after the winner's append, not a bare "conflict": the dossier has ended.
            assert loser["error"] == "illegal_transition", loser
            endings = [
                t for t in await workflow.events_of(dossier.dossier_id) if t in ("ResultIssued", "DossierStopped")
            ]
            assert len(endings) == 1


async def test_officials_are_who_their_token_says_and_act_only_for_their_agencies(
    infra: Infra, unique: str, tmp_path: Path
) -> None:
    """With AUTH_JWKS set, the official is the identity provider's word, not the request's: no token is a
    401, another agency's task list or dossier a 403, and the control sheet names the token's official."""
    identity = DevIdentity.create(tmp_path / "idp")
    auth = {"auth_jwks": str(identity.jwks_path), "auth_issuer": ISSUER}
    async with running_workflow(infra, unique, **auth) as workflow:
        land = submitted(at=datetime.now(UTC), procedure_code="9.000003", competent_agency="STNMT-BINHAN")
        await workflow.publish_intake(land)
        environment = identity.headers("cb-tnmt-3", ["STNMT-BINHAN"])
        commune = identity.headers("cb-xa-1", ["UBND-X-YENHOA"])
        decisions = f"/v1/dossiers/{land.dossier_id}/decisions"

        anonymous = await workflow.client.get("/v1/tasks", params={"agency": "STNMT-BINHAN"})
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        forged = await workflow.client.get(
            "/v1/tasks", params={"agency": "STNMT-BINHAN"}, headers={"Authorization": "Bearer not.a.token"}
        )
        assert forged.status_code == 401 and forged.headers["www-authenticate"].startswith(
            'Bearer error="invalid_token"'
        )
        elsewhere = await workflow.client.get("/v1/tasks", params={"agency": "STNMT-BINHAN"}, headers=commune)
        assert elsewhere.status_code == 403 and elsewhere.json()["error"] == "forbidden"

        async def listed() -> bool:
            answer = await workflow.client.get("/v1/tasks", params={"agency": "STNMT-BINHAN"}, headers=environment)
            return any(t["dossier_id"] == land.dossier_id for t in answer.json()["tasks"])

        await eventually(listed, timeout=20)
        before = await workflow.events_of(land.dossier_id)
        assert (await workflow.client.post(decisions, json={"decision": "approve"})).status_code == 401
        not_theirs = await workflow.client.post(decisions, json={"decision": "approve"}, headers=commune)
        assert not_theirs.status_code == 403 and "STNMT-BINHAN" in not_theirs.json()["detail"]
        impersonating = await workflow.client.post(
            decisions, json={"decision": "approve", "official_id": "cb-tnmt-9"}, headers=environment
        )
        assert impersonating.status_code == 403
        assert (await workflow.client.get(f"/v1/dossiers/{land.dossier_id}", headers=commune)).status_code == 403

        # A bundle's results carry the child's identification number: only its agencies read them.
        birth = bundle_submitted(
            "birth", BIRTH_FORM, BIRTH_STEPS, at=datetime.now(UTC), receiving_agency="UBND-P-PHUCLOI"
        )
        await workflow.publish_intake(birth, *step_dossiers(birth))
        saga = f"/v1/bundles/{birth.bundle_id}"
        ward = identity.headers("cb-phuong-2", ["UBND-P-PHUCLOI"])

        async def visible() -> bool:
            return (await workflow.client.get(saga, headers=ward)).status_code == 200

        await eventually(visible, timeout=20)
        assert (await workflow.client.get(saga)).status_code == 401
        outsider = await workflow.client.get(saga, headers=environment)
        assert outsider.status_code == 403 and outsider.json()["error"] == "forbidden"
        assert (await workflow.client.get("/v1/bundles/no-such-bundle", headers=ward)).status_code == 404
        assert await workflow.events_of(land.dossier_id) == before, "a refused request changed the dossier"

        approved = await workflow.client.post(decisions, json={"decision": "approve"}, headers=environment)
        assert approved.status_code == 200, approved.json()
        processing = approved.json()["control_sheet"][-1]
        assert (processing["step"], processing["official_id"]) == ("processing", "cb-tnmt-3")
        # Retried (a lost answer): the result is the counter's to hand over now, but the department is
        # told the approval cannot be made again (409), not that the dossier is another agency's (403).
        again = await workflow.client.post(decisions, json={"decision": "approve"}, headers=environment)
        assert again.status_code == 409 and again.json()["error"] == "illegal_transition", again.json()

        # Who may read a past state is decided on the dossier as it stands: the department it was
        # forwarded to sees how it got there (it was refused every instant before the forward).
        parcel = submitted(at=datetime.now(UTC), procedure_code="9.000003", competent_agency="STNMT-BINHAN")
        await workflow.publish_intake(parcel)

        async def opened() -> bool:
            answer = await workflow.client.get(f"/v1/dossiers/{parcel.dossier_id}", headers=environment)
            return answer.status_code == 200 and answer.json()["status"] == "processing"

        await eventually(opened, timeout=20)
        moved = await workflow.client.post(
            f"/v1/dossiers/{parcel.dossier_id}/decisions",
            json={"decision": "forward", "to_agency": "SXD-BINHAN", "reason": "công trình xây dựng"},
            headers=environment,
        )
        assert moved.status_code == 200, moved.json()
        construction = identity.headers("cb-xd-1", ["SXD-BINHAN"])
        before_forward = {"at": moved.json()["control_sheet"][-2]["started_at"]}
        url = f"/v1/dossiers/{parcel.dossier_id}"
        past = await workflow.client.get(url, params=before_forward, headers=construction)
        assert past.status_code == 200 and past.json()["agency"] == "STNMT-BINHAN", past.json()
        assert (await workflow.client.get(url, params=before_forward, headers=commune)).status_code == 403


async def test_a_decision_made_on_a_version_is_made_once(infra: Infra, unique: str) -> None:
    """With If-Match (the dossier's ETag), a retried request cannot decide twice: a payment request sent
    again after the citizen paid the first had asked for the fee a second time."""
    async with running_workflow(infra, unique) as workflow:
        dossier = submitted(at=datetime.now(UTC))
        await workflow.publish_intake(dossier)
        await workflow.wait_for_task("SKHDT-BINHAN", dossier.dossier_id)
        url = f"/v1/dossiers/{dossier.dossier_id}"
        seen = await workflow.client.get(url)
        etag = seen.headers["etag"]
        assert etag == f'"{seen.json()["version"]}"'
        body = {"decision": "request_payment", "official_id": "cb-01", "amount": 30_000}

        first = await workflow.client.post(f"{url}/decisions", json=body, headers={"If-Match": etag})
        assert first.status_code == 200, first.json()
        assert first.headers["etag"] == f'"{first.json()["version"]}"' != etag
        retried = await workflow.client.post(f"{url}/decisions", json=body, headers={"If-Match": etag})
        assert retried.status_code == 412 and retried.json()["error"] == "precondition_failed"
        assert (await workflow.events_of(dossier.dossier_id)).count("PaymentRequested") == 1

        garbled = await workflow.client.post(f"{url}/decisions", json=body, headers={"If-Match": "latest"})
        assert garbled.status_code == 422 and garbled.json()["detail"][0]["path"] == "$.if-match"
        current = first.headers["etag"]
        extended = await workflow.client.post(
            f"{url}/decisions",
            json={"decision": "return_result", "official_id": "cb-01"},
            headers={"If-Match": f"W/{current}"},
        )
        assert extended.status_code == 409  # on the current version: judged by the lifecycle as ever


async def test_an_agency_s_task_list_is_read_page_by_page(infra: Infra, unique: str) -> None:
    """Past the first page (soonest due) no task could be reached, and WORKFLOW_TASKS_PAGE_SIZE was read
    by nothing."""
    async with running_workflow(infra, unique, tasks_page_size=3) as workflow:
        now = datetime.now(UTC)
        dossiers = [submitted(at=now + timedelta(minutes=n)) for n in range(5)]
        await workflow.publish_intake(*dossiers)
        for dossier in dossiers:  # each its own partition: applied in any order
            await workflow.wait_for_task("SKHDT-BINHAN", dossier.dossier_id)

        seen: list[str] = []
        params: dict[str, object] = {"agency": "SKHDT-BINHAN", "limit": 2}
        while True:
            page = (await workflow.client.get("/v1/tasks", params=params)).json()
            seen += [t["dossier_id"] for t in page["tasks"]]
            if page["next"] is None:
                break
            params["after"] = page["next"]
        assert sorted(seen) == sorted(d.dossier_id for d in dossiers) and len(seen) == 5

        first = (await workflow.client.get("/v1/tasks", params={"agency": "SKHDT-BINHAN"})).json()
        assert len(first["tasks"]) == 3 and first["next"] is not None  # the page size by default
        for forged in ("not-a-cursor", "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzA1OjAwIiwieCJd"):  # the second: year 1
            tampered = await workflow.client.get("/v1/tasks", params={"agency": "SKHDT-BINHAN", "after": forged})
            assert tampered.status_code == 422 and tampered.json()["detail"][0]["path"] == "$.after"

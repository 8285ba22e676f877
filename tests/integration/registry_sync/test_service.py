"""Registry-sync in-process against the real database, broker and simulator: commands are done
once however often they are delivered, every dossier state reaches the portal, and the HTTP API
reports it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts import citizen_id
from contracts.envelope import Envelope
from devstack.identity import ISSUER, DevIdentity
from tests.integration.registry_sync.conftest import Simulator, registry_sync
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.unit.registry_sync.events import command, received, submitted

pytestmark = pytest.mark.integration


def residence(id_number: str) -> dict[str, object]:
    return {
        "person": {"id_number": id_number, "full_name": "Trần Văn An"},
        "address": "Số 12 đường Trần Phú",
        "household_head_id_number": id_number,
        "relation_to_head": "chủ hộ",
    }


def dossier_events(n: int, now: datetime) -> list[tuple[str, str, list[Envelope]]]:
    """Dossiers submitted online, then received; codes as the portal accepts them."""
    made = []
    for i in range(n):
        dossier_id, code = f"dossier-{i}", f"CAXANPHU-{now:%y%m%d}-{i + 1:04d}"
        events = [submitted(dossier_id, code, at=now), received(dossier_id, code, at=now + timedelta(seconds=1))]
        made.append((dossier_id, code, events))
    return made


async def test_commands_once_each_portal_in_step_and_the_status_api(
    infra: Infra, unique: str, simulator: Simulator
) -> None:
    rng = random.Random(3)
    numbers = [citizen_id.generate("036", "male", 1985, rng) for _ in range(3)]
    for number in numbers:
        await simulator.seed_citizen(number)
    unknown = citizen_id.generate("036", "male", 1985, rng)
    now = datetime.now(UTC)
    async with registry_sync(infra, unique, simulator) as service:
        topics = service.settings.topics
        commands = [command(f"cmd-{i}", f"dossier-{i}", residence(n)) for i, n in enumerate(numbers)]
        refused = command("cmd-x", "dossier-x", residence(unknown))
        again = command("cmd-0", "dossier-0", residence(numbers[0]))  # re-sent: new event, same command
        await service.publish(topics.registry_commands, [*commands, commands[0], again, refused])
        dossiers = dossier_events(2, now)
        await service.publish(topics.intake_events, [events[0] for _, _, events in dossiers])
        await service.publish(topics.workflow_events, [events[1] for _, _, events in dossiers])

        async def settled() -> dict[str, object] | None:
            status = await service.status()
            states = {d["state"] for d in (await simulator.portal_dossiers()).values()}
            done = status["commands"]["pending"] == 0 and status["portal"]["synced"] == 2 and states == {2}
            return status if done else None

        status = await eventually(settled, timeout=30)
        assert (status["commands"]["succeeded"], status["commands"]["failed"]) == (3, 1)
        assert status["commands"]["recent_failures"][0]["reason"].startswith("404 not_found")
        assert unknown not in str(status)  # identification numbers are masked
        assert status["portal"]["synced_ratio"] == 1.0 and status["systems"]["population_db"]["breaker"] == "closed"

        effects = (await simulator.counters("population_db"))["effects"]
        assert effects == {"register_permanent_residence": 3}
        portal = await simulator.portal_dossiers()
        assert {code: d["state"] for code, d in portal.items()} == {code: 2 for _, code, _ in dossiers}
        assert portal[dossiers[0][1]].get("applicant") is None  # personal data the portal does not need

        portal_effects = (await simulator.counters("national_portal"))["effects"]
        outcomes = await service.outcomes(lambda found: len(found) == 4 + sum(portal_effects.values()))
        by_type: dict[str, list[Envelope]] = {}
        for outcome in outcomes:
            by_type.setdefault(outcome.type, []).append(outcome)
        succeeded = by_type["RegistryCommandSucceeded"]
        assert sorted(e.payload["command_id"] for e in succeeded) == ["cmd-0", "cmd-1", "cmd-2"]
        assert all(e.causation_id and e.producer == "registry-sync" for e in outcomes)
        assert [e.payload["command_id"] for e in by_type["RegistryCommandFailed"]] == ["cmd-x"]
        synced = by_type["PortalSyncSucceeded"]
        assert {e.payload["dossier_id"] for e in synced} == {"dossier-0", "dossier-1"}
        assert all(e.payload["lag_seconds"] < 60 for e in synced)

        one = await service.client.get("/v1/sync/dossiers/dossier-0")
        assert one.status_code == 200 and one.json()["status"] == "synced" and one.json()["state"] == 2
        cmd = await service.client.get("/v1/commands/cmd-0")
        assert cmd.json()["status"] == "succeeded" and cmd.json()["result"]["residence_address"]
        missing = await service.client.get("/v1/sync/dossiers/nobody")
        assert missing.status_code == 404 and missing.json()["detail"][0]["path"] == "$.dossier_id"
        too_long = await service.client.get("/v1/sync/dossiers/" + "x" * 101)
        assert too_long.status_code == 422 and too_long.json()["detail"][0]["path"] == "$.dossier_id"


async def test_only_operators_read_commands_and_sync_state(
    infra: Infra, unique: str, simulator: Simulator, tmp_path: Path
) -> None:
    """A command's result holds citizens' personal data: with AUTH_JWKS set, the API answers operators
    (the ``operator`` role, for this service's audience) and no one else."""
    identity = DevIdentity.create(tmp_path / "idp")
    auth = {"auth_jwks": str(identity.jwks_path), "auth_issuer": ISSUER}
    async with registry_sync(infra, unique, simulator, **auth) as service:
        operator = identity.headers("ops-1", roles=["operator"], audience="registry-sync")
        official = identity.headers("cb-1", ["UBND-X-YENHOA"], audience="registry-sync")
        elsewhere = identity.headers("ops-1", roles=["operator"], audience="workflow")
        for path in ("/v1/sync/status", "/v1/commands/cmd-0", "/v1/sync/dossiers/dossier-0"):
            assert (await service.client.get(path)).status_code == 401, path
            assert (await service.client.get(path, headers=official)).status_code == 403, path
            assert (await service.client.get(path, headers=elsewhere)).status_code == 401, path  # not for us
        assert (await service.client.post("/v1/reconciliations", headers=official)).status_code == 403
        assert (await service.client.get("/v1/sync/status", headers=operator)).status_code == 200
        assert (await service.client.get("/v1/commands/cmd-0", headers=operator)).status_code == 404

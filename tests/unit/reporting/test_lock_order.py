"""The projection asks the store for a batch's dossiers and bundles in id order, whatever order their
events came in: the live store locks the rows as it loads them, and replicas must lock them alike."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pytest

from contracts.envelope import Envelope
from reporting.domain.facts import BundleFacts, DossierFacts
from reporting.domain.outcome import Derivation
from reporting.service_layer.projector import project
from tests.unit.reporting import scenario
from tests.unit.reporting.fakes import InMemoryProjectionStore, catalogue_derivation


class RecordingStore(InMemoryProjectionStore):
    """The in-memory store, remembering which rows the projection asked for and wrote, in its order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[str]]] = []

    async def load_dossiers(self, ids: Collection[str]) -> dict[str, DossierFacts]:
        self.calls.append(("load dossiers", list(ids)))
        return await super().load_dossiers(ids)

    async def load_bundles(self, ids: Collection[str]) -> dict[str, BundleFacts]:
        self.calls.append(("load bundles", list(ids)))
        return await super().load_bundles(ids)

    async def save_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        self.calls.append(("save dossiers", [f.dossier_id for f in facts]))
        await super().save_dossiers(facts)

    async def save_bundles(self, facts: Sequence[BundleFacts]) -> None:
        self.calls.append(("save bundles", [f.bundle_id for f in facts]))
        await super().save_bundles(facts)


@pytest.fixture(scope="module")
def derive() -> Derivation:
    return catalogue_derivation()


def topic_by_topic(scenarios: list[scenario.Scenario], *, reverse: bool) -> list[Envelope]:
    """The scenarios' events a topic after another (each in its own order), in one order of the topics
    or the other: what two replicas' batches of the same dossiers look like."""
    topics = sorted({topic for s in scenarios for topic in s.events}, reverse=reverse)
    return [e for topic in topics for s in scenarios for e in s.events.get(topic, [])]


async def test_a_batch_s_dossiers_and_bundles_are_loaded_and_saved_in_id_order_whatever_order_their_events_came_in(
    derive: Derivation,
) -> None:
    """The ids went to the store in the order of a Python set, which each process hashes its own way:
    two replicas projecting the same new dossiers (one from intake's topic, the other from workflow's)
    created and locked their rows in opposite orders and deadlocked, stalling both consumers."""
    scenarios = [scenario.build("a-"), scenario.build("b-")]
    stores = []
    for reverse in (False, True):
        store = RecordingStore()
        events = topic_by_topic(scenarios, reverse=reverse)
        await project([(e, e.parse_payload()) for e in events], store, derive)
        stores.append(store)

    first, second = (store.calls for store in stores)
    assert [name for name, _ in first] == ["load dossiers", "load bundles", "save dossiers", "save bundles"]
    assert len(first[0][1]) == 22 and len(first[1][1]) == 4
    for name, ids in first:
        assert ids == sorted(ids), name
    assert second == first

"""The rebuild's write-behind cache of facts: bounded in memory, written in bounded statements, and
the facts it writes are the ones projecting without it gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from uuid import UUID

import pytest

from contracts.catalogue import load_catalogue
from reporting.domain.facts import BundleFacts, DossierFacts
from reporting.domain.outcome import Derivation
from reporting.service_layer.facts_cache import CachedStore, MaybeWritten
from reporting.service_layer.ports import EventRecord
from reporting.service_layer.projector import project
from tests.unit.reporting import scenario
from tests.unit.reporting.fakes import InMemoryProjectionStore
from workcal import WorkCalendar


@pytest.fixture(scope="module")
def derive() -> Derivation:
    fields = {p.code: p.field for p in load_catalogue().procedures.values()}
    return Derivation(WorkCalendar(), fields)


class CountingStore(InMemoryProjectionStore):
    """Remembers the size of every write and which ids were read back."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []
        self.read_back: list[str] = []
        self.inserted: list[str] = []
        self.checked_events: list[UUID] = []
        self.inserted_events: list[UUID] = []

    async def load_dossiers(self, ids: Sequence[str]) -> dict[str, DossierFacts]:  # type: ignore[override]
        self.read_back += ids
        return await super().load_dossiers(ids)

    async def save_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        self.writes.append(len(facts))
        await super().save_dossiers(facts)

    async def insert_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        self.inserted += [f.dossier_id for f in facts]
        await super().insert_dossiers(facts)  # fails if one is stored already

    async def save_bundles(self, facts: Sequence[BundleFacts]) -> None:
        self.writes.append(len(facts))
        await super().save_bundles(facts)

    async def record_events(self, records: Sequence[EventRecord]) -> set[UUID]:
        self.checked_events += [r.event_id for r in records]
        return await super().record_events(records)

    async def insert_events(self, records: Sequence[EventRecord]) -> None:
        self.inserted_events += [r.event_id for r in records]
        await super().insert_events(records)  # fails if one is logged already


def test_maybe_written_never_forgets_and_keeps_its_size() -> None:
    written = MaybeWritten(bits=1 << 12)
    keys = [f"dossier-{n}" for n in range(3000)]
    for key in keys:
        written.add(key)
    assert all(key in written for key in keys)
    assert len(written._bits) == (1 << 12) // 8  # a fixed bitmap, whatever the number of ids
    assert MaybeWritten(bits=100)._mask == 127


async def test_a_tiny_cache_writes_the_same_facts_as_projecting_without_it(derive: Derivation) -> None:
    envelopes = scenario.build().all()
    reference = InMemoryProjectionStore()
    await project([(e, e.parse_payload()) for e in envelopes], reference, derive)

    store = CountingStore()
    cache = CachedStore(derive, capacity=2, write_chunk=3)
    for i in range(0, len(envelopes), 5):  # batches of 5, as a rebuild's transactions
        await project([(e, e.parse_payload()) for e in envelopes[i : i + 5]], cache.over(store), None, feed=False)
        assert len(cache) <= 4  # two dossiers and two bundles at most
    assert store.read_back, "evicted dossiers touched again must be read back from the tables"
    await cache.flush(everything=True)

    assert len(cache) == 0
    assert max(store.writes) <= 3
    assert sorted(set(store.inserted)) == sorted(store.inserted) == sorted(reference.dossiers)  # each added once
    assert {k: asdict(v) for k, v in store.dossiers.items()} == {k: asdict(v) for k, v in reference.dossiers.items()}
    assert {k: asdict(v) for k, v in store.bundles.items()} == {k: asdict(v) for k, v in reference.bundles.items()}


async def test_the_final_flush_is_written_in_chunks(derive: Derivation) -> None:
    store = CountingStore()
    cache = CachedStore(derive, capacity=100, write_chunk=4).over(store)
    await cache.save_dossiers([DossierFacts(f"D{n}") for n in range(10)])
    assert store.writes == [] and len(cache) == 10  # under capacity: nothing written yet
    await cache.flush(everything=True)
    assert store.writes == [4, 4, 2]
    assert sorted(store.dossiers) == sorted(f"D{n}" for n in range(10))


async def test_events_seen_for_the_first_time_are_added_and_one_read_again_is_skipped(derive: Derivation) -> None:
    envelopes = scenario.build().all()
    store = CountingStore()
    cache = CachedStore(derive, capacity=100)
    first = await project([(e, e.parse_payload()) for e in envelopes], cache.over(store), None, feed=False)
    assert store.inserted_events == [e.event_id for e in envelopes]  # all new: added in bulk (COPY)
    assert store.checked_events == []

    again = envelopes[3]  # redelivered, as a producer's retry would
    later = await project([(again, again.parse_payload())], cache.over(store), None, feed=False)
    assert store.checked_events == [again.event_id]  # a known id goes through the skipping statement
    assert (first.applied, later.applied, later.duplicates) == (len(envelopes), 0, 1)

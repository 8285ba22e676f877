"""A write-behind cache of facts for a rebuild, the only writer of its tables.

Use it with ``project(..., derive=None)``: it derives the computed columns when it writes.

A dossier's events are spread over many batches. Without the cache every batch would read back
the rows earlier batches wrote and write them again. With it, facts stay in memory while they
are being changed and are written when evicted (least recently used first) or at the end, so a
dossier is usually written once; a batch reads only dossiers written and evicted before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Generic, TypeVar
from uuid import UUID

from reporting.domain.facts import BundleFacts, DossierFacts
from reporting.domain.outcome import Derivation
from reporting.service_layer.ports import EventRecord, ProjectionStore

F = TypeVar("F", DossierFacts, BundleFacts)


class _Lru(Generic[F]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[str, F] = OrderedDict()
        self.dirty: set[str] = set()
        self.stored: set[str] = set()  # written to the tables at least once

    def split(self, ids: Collection[str]) -> tuple[dict[str, F], list[str]]:
        """(cached facts, ids to read from the tables); ids never written are in neither."""
        found, to_read = {}, []
        for key in ids:
            facts = self.items.get(key)
            if facts is not None:
                found[key] = facts
                self.items.move_to_end(key)
            elif key in self.stored:
                to_read.append(key)
        return found, to_read

    def keep(self, key: str, facts: F) -> None:
        self.items[key] = facts
        self.items.move_to_end(key)
        self.dirty.add(key)

    def evict(self, everything: bool = False) -> list[F]:
        """Drop the least recently used beyond capacity (or all); returns the dirty ones to write."""
        out = []
        while self.items and (everything or len(self.items) > self.capacity):
            key, facts = self.items.popitem(last=False)
            if key in self.dirty:
                self.dirty.discard(key)
                self.stored.add(key)
                out.append(facts)
        return out


class CachedStore:
    """A :class:`ProjectionStore` in front of the batch's own; one instance per rebuild."""

    def __init__(self, derive: Derivation, capacity: int = 50_000) -> None:
        self._derive = derive
        self._dossiers: _Lru[DossierFacts] = _Lru(capacity)
        self._bundles: _Lru[BundleFacts] = _Lru(capacity)
        self.inner: ProjectionStore | None = None

    def over(self, inner: ProjectionStore) -> CachedStore:
        """Use ``inner`` (the batch's transaction) for what the cache cannot answer."""
        self.inner = inner
        return self

    def _store(self) -> ProjectionStore:
        if self.inner is None:
            raise RuntimeError("CachedStore used before over()")
        return self.inner

    async def record_events(self, records: Sequence[EventRecord]) -> set[UUID]:
        return await self._store().record_events(records)

    async def load_dossiers(self, ids: Collection[str]) -> dict[str, DossierFacts]:
        found, to_read = self._dossiers.split(ids)
        if to_read:
            found.update(await self._store().load_dossiers(to_read))
        return found

    async def load_bundles(self, ids: Collection[str]) -> dict[str, BundleFacts]:
        found, to_read = self._bundles.split(ids)
        if to_read:
            found.update(await self._store().load_bundles(to_read))
        return found

    async def save_dossiers(self, facts: Sequence[DossierFacts]) -> None:
        for f in facts:
            self._dossiers.keep(f.dossier_id, f)
        await self.flush()

    async def save_bundles(self, facts: Sequence[BundleFacts]) -> None:
        for f in facts:
            self._bundles.keep(f.bundle_id, f)
        await self.flush()

    async def flush(self, everything: bool = False) -> None:
        """Write what falls out of the cache (everything: before the tables go live)."""
        dossiers, bundles = self._dossiers.evict(everything), self._bundles.evict(everything)
        if dossiers:  # derived once, when written, not after every batch that touched them
            await self._store().save_dossiers([self._derive.dossier(f) for f in dossiers])
        if bundles:
            await self._store().save_bundles([self._derive.bundle(f) for f in bundles])

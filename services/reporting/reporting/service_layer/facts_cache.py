"""A write-behind cache of facts for a rebuild, the only writer of its tables.

Use it with ``project(..., derive=None)``: it derives the computed columns when it writes.

A dossier's events are spread over many batches. Without the cache every batch would read back
the rows earlier batches wrote and write them again. With it, facts stay in memory while they
are being changed and are written when evicted (least recently used first) or at the end, so a
dossier is usually written once; a batch reads only dossiers written and evicted before.

Memory is bounded whatever the size of the log: at most ``capacity`` facts of each kind are held,
they are written ``write_chunk`` rows per statement (one statement for a whole cache would build a
JSON text of its size, several times over on the way to the database), and which ids were ever
written is remembered in a fixed-size bitmap rather than a set that grows with every dossier.

The event log goes the same way: an event id the bitmap has never seen is certainly new and is
added by COPY; only the others (an event read twice, or the bitmap's rare false positive) go
through the statement that skips ids already logged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Hashable, Sequence
from typing import Generic, TypeVar
from uuid import UUID

from reporting.domain.facts import BundleFacts, DossierFacts
from reporting.domain.outcome import Derivation
from reporting.service_layer.ports import BulkProjectionStore, EventRecord

F = TypeVar("F", DossierFacts, BundleFacts)


class MaybeWritten:
    """Ids written to the tables, as a one-hash Bloom filter: no false negatives, so a written row is
    always read back; a false positive only costs a lookup that finds nothing. Fixed size (``bits``
    rounded to a power of two; 2**23 bits = 1 MiB keeps false positives under 12% up to a million ids).
    """

    def __init__(self, bits: int = 1 << 23) -> None:
        size = 1 << max(bits - 1, 7).bit_length()
        self._mask = size - 1
        self._bits = bytearray(size // 8)

    def add(self, key: Hashable) -> None:
        h = hash(key) & self._mask
        self._bits[h >> 3] |= 1 << (h & 7)

    def __contains__(self, key: Hashable) -> bool:
        h = hash(key) & self._mask
        return bool(self._bits[h >> 3] & (1 << (h & 7)))


class _Lru(Generic[F]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[str, F] = OrderedDict()
        self.dirty: set[str] = set()
        self.stored = MaybeWritten()  # written to the tables at least once (or a harmless false positive)

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

    def evict(self, everything: bool = False) -> tuple[list[F], list[F]]:
        """Drop the least recently used beyond capacity (or all); returns the dirty ones to write:
        (never written before, maybe written before)."""
        new: list[F] = []
        again: list[F] = []
        while self.items and (everything or len(self.items) > self.capacity):
            key, facts = self.items.popitem(last=False)
            if key in self.dirty:
                self.dirty.discard(key)
                (again if key in self.stored else new).append(facts)
                self.stored.add(key)
        return new, again


class CachedStore:
    """A :class:`ProjectionStore` in front of the batch's own; one instance per rebuild."""

    def __init__(self, derive: Derivation, capacity: int = 20_000, write_chunk: int = 2000) -> None:
        self._derive = derive
        self._dossiers: _Lru[DossierFacts] = _Lru(capacity)
        self._bundles: _Lru[BundleFacts] = _Lru(capacity)
        self._chunk = max(write_chunk, 1)
        self._logged = MaybeWritten()  # event ids (as ints: hashing a UUID object is a Python call)
        self.inner: BulkProjectionStore | None = None

    def __len__(self) -> int:
        """Facts held in memory (dossiers and bundles)."""
        return len(self._dossiers.items) + len(self._bundles.items)

    def over(self, inner: BulkProjectionStore) -> CachedStore:
        """Use ``inner`` (the batch's transaction) for what the cache cannot answer."""
        self.inner = inner
        return self

    def _store(self) -> BulkProjectionStore:
        if self.inner is None:
            raise RuntimeError("CachedStore used before over()")
        return self.inner

    async def record_events(self, records: Sequence[EventRecord]) -> set[UUID]:
        store, logged = self._store(), self._logged
        maybe_logged: list[EventRecord] = []
        new: list[EventRecord] = []
        for r in records:
            key = r.event_id.int
            (maybe_logged if key in logged else new).append(r)
            logged.add(key)
        before = await store.record_events(maybe_logged) if maybe_logged else set()
        if new:
            await store.insert_events(new)
        return before

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
        store, chunk = self._store(), self._chunk
        # Derived once, when written, not after every batch that touched them. Rows never written
        # are added in bulk; the others (or a false positive of the bitmap) replace the stored row.
        new, again = self._dossiers.evict(everything)
        for i in range(0, len(new), chunk):
            await store.insert_dossiers([self._derive.dossier(f) for f in new[i : i + chunk]])
        for i in range(0, len(again), chunk):
            await store.save_dossiers([self._derive.dossier(f) for f in again[i : i + chunk]])
        new_bundles, bundles_again = self._bundles.evict(everything)
        for i in range(0, len(new_bundles), chunk):
            await store.insert_bundles([self._derive.bundle(f) for f in new_bundles[i : i + chunk]])
        for i in range(0, len(bundles_again), chunk):
            await store.save_bundles([self._derive.bundle(f) for f in bundles_again[i : i + chunk]])

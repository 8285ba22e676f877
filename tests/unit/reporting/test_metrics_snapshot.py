"""/metrics reads the read model at most once per window, one read at a time, and a scrape never
waits for a read but the first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reporting.adapters.read_model import E2E_BUCKETS, RESOLUTION_BUCKETS
from reporting.entrypoints.prometheus import ReadModelCollector, SnapshotCache


class Reads:
    """A read-model snapshot that takes ``seconds`` and counts itself; fails while ``down``."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds, self.started, self.down = seconds, 0, False

    async def __call__(self) -> dict[str, Any]:
        self.started += 1
        n = self.started
        await asyncio.sleep(self.seconds)
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        return {"read": n}


async def test_one_read_serves_every_scrape_of_its_window() -> None:
    reads = Reads()
    cache = SnapshotCache(reads, max_age=60)
    assert [await cache.get() for _ in range(5)] == [{"read": 1}] * 5
    assert reads.started == 1


async def test_scrapes_at_once_share_one_read() -> None:
    reads = Reads(seconds=0.05)
    cache = SnapshotCache(reads, max_age=60)
    assert await asyncio.gather(*(cache.get() for _ in range(10))) == [{"read": 1}] * 10
    assert reads.started == 1


async def test_after_the_window_a_scrape_gets_the_last_numbers_at_once_and_a_new_read_runs_behind_it() -> None:
    reads = Reads(seconds=0.05)
    cache = SnapshotCache(reads, max_age=0.01)
    assert await cache.get() == {"read": 1}  # the first scrape waits
    await asyncio.sleep(0.02)
    assert await asyncio.wait_for(cache.get(), timeout=0.02) == {"read": 1}  # served stale, no wait
    assert await cache.get() == {"read": 1}  # the read behind it is still running: no second one
    await asyncio.sleep(0.1)
    assert reads.started == 2
    assert (await cache.get())["read"] >= 2


async def test_a_failed_read_keeps_the_last_numbers_and_the_next_scrape_tries_again() -> None:
    reads = Reads()
    cache = SnapshotCache(reads, max_age=0.01)
    assert await cache.get() == {"read": 1}
    reads.down = True
    await asyncio.sleep(0.02)
    assert await cache.get() == {"read": 1}
    await asyncio.sleep(0.02)
    reads.down = False
    assert await cache.get() == {"read": 1}  # the failed read is over: this scrape starts another
    await asyncio.sleep(0.01)
    assert await cache.get() == {"read": 3}


async def test_without_a_window_every_scrape_reads_and_waits() -> None:
    reads = Reads()
    cache = SnapshotCache(reads, max_age=0)
    assert [await cache.get() for _ in range(3)] == [{"read": 1}, {"read": 2}, {"read": 3}]


async def test_a_first_read_that_fails_fails_the_scrape() -> None:
    reads = Reads()
    reads.down = True
    with pytest.raises(ConnectionRefusedError):
        await SnapshotCache(reads, max_age=60).get()


def test_counts_by_current_status_are_gauges_as_they_go_down_when_dossiers_move_on() -> None:
    """Exposed as counters, a drop (ten received, then four as six moved to processing) read as a
    counter reset: rate() and increase() over them, and alerts on those, were wrong."""
    collector = ReadModelCollector()
    row = {"channel": "online", "field": "ho_tich", "days_n": 0, "days_sum": 0.0}
    row |= {f"b{i}": 0 for i in range(len(RESOLUTION_BUCKETS))}
    bundle = {"bundle_type": "birth", "days_n": 0, "days_sum": 0.0} | {f"b{i}": 0 for i in range(len(E2E_BUCKETS))}
    collector.snapshot = {
        "dossiers": [row | {"status": "received", "outcome": "open", "n": 4}],
        "bundles": [bundle | {"outcome": "in_progress", "n": 2}],
        "portal": {"syncs": 0, "failures": 0, "lag_max": 0.0},
    }
    types = {family.name: family.type for family in collector.collect()}
    assert types["reporting_dossiers"] == types["reporting_bundles"] == "gauge"
    assert types["reporting_portal_syncs"] == "counter"  # these only grow

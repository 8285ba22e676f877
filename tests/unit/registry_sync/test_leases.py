"""Keeping a lease while a call runs: renewed on a cadence, an outage of the database does not end
the keeping, a lost lease does; the body is never disturbed by it."""

from __future__ import annotations

import asyncio

from registry_sync.service_layer.leases import lease_kept


async def test_renews_through_failures_until_the_lease_is_lost() -> None:
    answers: list[bool | Exception] = [True, ConnectionRefusedError(111, "refused"), True, False]
    calls = 0

    async def renew() -> bool:
        nonlocal calls
        calls += 1
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with lease_kept(renew, every=0.01, what="c1"):
        await asyncio.sleep(0.2)  # long enough for many renewals: it stopped once the lease was lost
    assert calls == 4 and answers == []


async def test_a_renewal_under_way_when_the_call_ends_is_finished_not_cancelled() -> None:
    started, renewed = asyncio.Event(), asyncio.Event()

    async def renew() -> bool:
        started.set()
        await asyncio.sleep(0.05)  # the statement takes a while; the call ends meanwhile
        renewed.set()
        return True

    async with lease_kept(renew, every=0.01, what="c1"):
        await started.wait()
    assert renewed.is_set()  # the holder knows its lease before it records the outcome

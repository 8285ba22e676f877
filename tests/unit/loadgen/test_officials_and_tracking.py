"""The officials' decision policy and the end-to-end completion bookkeeping."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

import orjson
import pytest

from contracts.catalogue import load_catalogue
from loadgen.api import Answer
from loadgen.officials import Decision, OfficialPolicy, Officials, choose
from loadgen.runner import InFlight
from loadgen.tracking import Completions, parse_event


def test_officials_accept_registered_dossiers_and_approve_or_send_back_the_rest() -> None:
    rng = random.Random(5)
    never = OfficialPolicy(supplement_rate=0.0, payment_request_rate=0.0, reject_rate=0.0)
    assert choose({"status": "registered"}, rng, never) == Decision("accept")
    assert choose({"status": "processing"}, rng, never, charges=True) == Decision("approve")
    assert choose({"status": "supplement_requested"}, rng, never) is None
    assert choose({"status": "payment_requested"}, rng, never) is None
    always = OfficialPolicy(supplement_rate=1.0)
    sent_back = choose({"status": "received"}, rng, always)
    assert sent_back is not None and sent_back.decision == "request_supplement" and sent_back.reason
    # A second request would make the dossier overdue: once is the most an official asks.
    assert choose({"status": "received"}, rng, always, made={"request_supplement"}) == Decision("approve")


def test_officials_ask_for_a_fee_once_only_where_the_procedure_charges_one_and_the_lifecycle_allows() -> None:
    rng = random.Random(6)
    always = OfficialPolicy(supplement_rate=0.0, payment_request_rate=1.0, reject_rate=0.0)
    processing = {"status": "processing"}
    assert choose(processing, rng, always, charges=True) == Decision("request_payment")
    assert choose(processing, rng, always, charges=False) == Decision("approve")
    assert choose({"status": "received"}, rng, always, charges=True) == Decision("approve")
    assert choose(processing, rng, always, charges=True, made={"request_payment"}) == Decision("approve")


def test_officials_hand_results_over_unless_told_not_to() -> None:
    rng = random.Random(7)
    assert choose({"status": "processed"}, rng, OfficialPolicy()) == Decision("return_result")
    assert choose({"status": "processed"}, rng, OfficialPolicy(returns=False)) is None
    assert choose({"status": "returned"}, rng, OfficialPolicy()) is None


def test_rejections_refuse_at_reception_or_stop_in_processing_once() -> None:
    rng = random.Random(8)
    always = OfficialPolicy(reject_rate=1.0, supplement_rate=1.0)
    for status in ("registered", "received", "processing"):
        decision = choose({"status": status}, rng, always)
        assert decision is not None and decision.decision == "reject" and decision.reason
    # Refused once (the answer may have been a 409: the dossier moved on), not again.
    assert choose({"status": "registered"}, rng, always, made={"reject"}) == Decision("accept")


def test_supplement_requests_come_at_the_configured_rate() -> None:
    rng = random.Random(9)
    policy = OfficialPolicy(supplement_rate=0.2, reject_rate=0.0)
    decisions = [choose({"status": "processing"}, rng, policy) for _ in range(5000)]
    share = sum(d is not None and d.decision == "request_supplement" for d in decisions) / 5000
    assert 0.18 < share < 0.22


def envelope(event_type: str, key: str, at: str, **payload: object) -> bytes:
    return orjson.dumps({"type": event_type, "key": key, "occurred_at": at, "payload": payload})


def test_completions_measure_submit_to_end_and_tolerate_the_event_beating_the_answer() -> None:
    c = Completions()
    c.submitted("b1", "bundle:birth", 1000.0)
    c.observe(parse_event(envelope("BundleCompleted", "b1", "1970-01-01T00:16:41.5+00:00", bundle_id="b1")))
    # The bundle's end arrives before the HTTP answer that gave us its id.
    c.observe(parse_event(envelope("BundlePartiallyCompleted", "b2", "1970-01-01T00:16:43+00:00", bundle_id="b2")))
    c.submitted("b2", "bundle:death:none", 1002.5)
    # A standalone dossier ends with its result; a bundle step's result does not end anything.
    c.submitted("d1", "dossier:9.000004", 1000.0)
    c.observe(parse_event(envelope("ResultIssued", "s1", "1970-01-01T00:16:44+00:00", dossier_id="s1", bundle_id="b9")))
    c.observe(parse_event(envelope("ResultIssued", "d1", "1970-01-01T00:16:44+00:00", dossier_id="d1")))
    assert c.pending == 0 and c.done == 2 and c.ended_otherwise == 1
    assert c.outcomes == {"bundle:birth completed": 1, "bundle:death:none partially_completed": 1,
                          "dossier:9.000004 result_issued": 1}  # fmt: skip
    summary = c.latencies["bundle:birth"].summary()
    assert summary is not None and summary.p50 == 1.5
    assert "bundle:death:none" not in c.latencies and len(c.failures["bundle:death:none"]) == 1
    assert (c.first_done, c.last_done) == (1001.5, 1004.0)


def test_non_envelopes_are_ignored() -> None:
    assert parse_event(b"not json") is None
    assert parse_event(orjson.dumps({"type": "X"})) is None


async def test_the_closed_loop_admits_an_item_only_when_one_ended_or_was_refused() -> None:
    completions, ended = Completions(), asyncio.Event()
    window = InFlight(2, completions, ended)
    far = time.monotonic() + 5
    assert await window.admit(far) and await window.admit(far)
    completions.submitted("b1", "bundle:birth", 1000.0)
    completions.submitted("b2", "bundle:birth", 1000.0)
    third = asyncio.create_task(window.admit(far))
    await asyncio.sleep(0.02)
    assert not third.done()  # two open
    completions.observe(parse_event(envelope("BundleCompleted", "b1", "1970-01-01T00:16:41+00:00", bundle_id="b1")))
    ended.set()  # as the runner does for every event it sees
    assert await asyncio.wait_for(third, 1)
    window.refused()  # the third's submission was refused: its place is free again
    assert await asyncio.wait_for(window.admit(far), 1)
    assert not await window.admit(time.monotonic() + 0.05)  # full, and nothing ends before the deadline


class FakeWorkflow:
    """The officials' API: one dossier to look at, and the decisions made."""

    def __init__(self, view: dict[str, object]) -> None:
        self.view = view
        self.decisions: list[tuple[str, str, list[str]]] = []  # decision, acting for, documents

    async def dossier(self, dossier_id: str, agency: str) -> Answer:
        return Answer(200, self.view, 0.0)

    async def decide(self, dossier_id: str, decision: str, official_id: str, agency: str,
                     reason: str | None = None, documents: Sequence[str] = ()) -> Answer:  # fmt: skip
        self.decisions.append((decision, agency, list(documents)))
        return Answer(200, {}, 0.0)


@pytest.mark.parametrize(
    ("view", "named"),
    [
        ({"missing_documents": ["giay_chung_sinh"], "documents": []}, ["giay_chung_sinh"]),
        # Nothing mandatory missing: one of the procedure's documents the dossier does not hold.
        ({"missing_documents": [], "documents": [{"kind": "to_khai_khai_sinh"}, {"kind": "giay_chung_sinh"}]},
         ["van_ban_uy_quyen"]),
    ],
)  # fmt: skip
async def test_an_official_names_what_to_bring_when_asking_for_a_supplement(view: dict, named: list[str]) -> None:
    api = FakeWorkflow(view)
    # 1.001193's documents: to_khai_khai_sinh, giay_chung_sinh, van_ban_uy_quyen.
    policy = OfficialPolicy(supplement_rate=1.0, reject_rate=0.0)
    officials = Officials(api, load_catalogue(), policy, random.Random(2))  # type: ignore[arg-type]
    task = {"dossier_id": "d-1", "status": "processing", "procedure_code": "1.001193"}
    officials._take(task, "UBND-X-YENHOA")
    await asyncio.gather(*list(officials._tasks))
    assert api.decisions == [("request_supplement", "UBND-X-YENHOA", named)]  # as an official of the task's agency


class ListingWorkflow(FakeWorkflow):
    """Also lists tasks, recording what each listing asked for."""

    def __init__(self) -> None:
        super().__init__({})
        self.listings: list[tuple[str, tuple[str, ...]]] = []

    async def tasks(self, agency: str, waiting_for: Sequence[str] = ()) -> list[dict[str, object]]:
        self.listings.append((agency, tuple(waiting_for)))
        return []


@pytest.mark.parametrize(("returns", "asked"), [(True, ()), (False, ("acceptance", "decision"))])
async def test_officials_who_hand_nothing_over_do_not_list_results_to_return(
    returns: bool, asked: tuple[str, ...]
) -> None:
    api = ListingWorkflow()
    officials = Officials(api, load_catalogue(), OfficialPolicy(returns=returns), random.Random(3))  # type: ignore[arg-type]
    officials.watch(("UBND-P-PHUCLOI",))
    await officials.run(asyncio.Event(), deadline=time.monotonic() + 0.01)
    assert api.listings == [("UBND-P-PHUCLOI", asked)]

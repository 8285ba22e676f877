"""Fan-out to live subscribers: filters, bounded queues with drop-and-tell, shutdown."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from reporting.adapters.feed_listener import GAP_MESSAGE, NOTIFY_MAX_BYTES, announcement
from reporting.domain.feed import FeedFilter, FeedItem
from reporting.service_layer.broadcaster import Broadcaster, TooManySubscribers


def item(n: int, type_: str = "DossierOverdue", dossier: str = "D1", agencies: tuple[str, ...] = ("A",)) -> FeedItem:
    return FeedItem(
        event_id=str(n), type=type_, producer="workflow", occurred_at="2024-03-04T09:00:00+07:00",
        dossier_id=dossier, bundle_id=None, code=f"A-240304-{n:04d}", agency=agencies[0] if agencies else None,
        agencies=agencies, status="processing", procedure_code="1.001193", field="ho_tich", detail={},
    )  # fmt: skip


def test_filters_match_type_dossier_or_code_and_any_agency_of_the_dossier() -> None:
    assert FeedFilter().matches(item(1))
    assert FeedFilter(frozenset({"DossierOverdue", "ResultIssued"})).matches(item(1))
    assert not FeedFilter(frozenset({"ResultIssued"})).matches(item(1))
    assert FeedFilter(dossier="D1").matches(item(1)) and FeedFilter(dossier="A-240304-0001").matches(item(1))
    assert not FeedFilter(dossier="D2").matches(item(1))
    assert FeedFilter(agency="B").matches(item(1, agencies=("A", "B")))
    assert not FeedFilter(agency="C").matches(item(1, agencies=("A", "B")))


def test_a_slow_subscriber_loses_items_and_is_told_how_many() -> None:
    dropped: list[int] = []
    broadcaster = Broadcaster(queue_size=2, on_drop=dropped.append)
    slow = broadcaster.subscribe(FeedFilter())
    for n in range(5):
        broadcaster.publish(item(n))
    assert [slow.queue.get_nowait().event_id for _ in range(2)] == ["0", "1"]  # type: ignore[union-attr]
    assert slow.take_dropped() == 3 and slow.take_dropped() == 0
    assert sum(dropped) == 3


def test_items_reach_only_the_subscribers_whose_filter_matches() -> None:
    broadcaster = Broadcaster()
    overdue = broadcaster.subscribe(FeedFilter(frozenset({"DossierOverdue"})))
    results = broadcaster.subscribe(FeedFilter(frozenset({"ResultIssued"})))
    broadcaster.publish(item(1))
    assert overdue.queue.qsize() == 1 and results.queue.qsize() == 0


def test_the_subscriber_limit_and_unsubscribing() -> None:
    broadcaster = Broadcaster(max_subscribers=1)
    first = broadcaster.subscribe(FeedFilter())
    with pytest.raises(TooManySubscribers):
        broadcaster.subscribe(FeedFilter())
    broadcaster.unsubscribe(first)
    broadcaster.subscribe(FeedFilter())
    assert broadcaster.subscribers == 1


def test_closing_ends_every_subscription_even_a_full_one() -> None:
    broadcaster = Broadcaster(queue_size=1)
    full = broadcaster.subscribe(FeedFilter())
    broadcaster.publish(item(1))
    broadcaster.close()
    assert full.queue.get_nowait() is None
    assert broadcaster.subscribe(FeedFilter()).queue.get_nowait() is None  # late subscribers end at once


def test_every_subscriber_is_told_once_of_a_gap_in_the_feed_s_source() -> None:
    broadcaster = Broadcaster()
    first, second = broadcaster.subscribe(FeedFilter()), broadcaster.subscribe(FeedFilter(agency="B"))
    broadcaster.gap()
    assert (first.take_gap(), second.take_gap()) == (True, True)
    assert (first.take_gap(), second.take_gap()) == (False, False)


def test_a_feed_item_too_long_to_notify_goes_without_its_details_or_as_a_gap() -> None:
    """PostgreSQL refuses a NOTIFY payload of 8000 bytes, failing the projection's transaction: the
    event was retried and dead-lettered for the length of a registry's error code."""
    origin = "a" * 32
    short = item(1)
    as_json = orjson.loads(orjson.dumps(short.to_json_dict()))
    assert orjson.loads(announcement(origin, short)) == {"origin": origin, "item": as_json}
    long_error = replace(short, detail={"error": "mã lỗi " * 1200, "http_status": 409})
    lean = announcement(origin, long_error)
    assert len(lean.encode()) <= NOTIFY_MAX_BYTES < len(orjson.dumps(long_error.to_json_dict()))
    assert orjson.loads(lean)["item"] == {**as_json, "detail": {}}
    long_code = replace(short, code="A" * 8000)
    assert announcement(origin, long_code) == GAP_MESSAGE and orjson.loads(GAP_MESSAGE) == {"gap": True}

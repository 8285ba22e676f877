"""In-process fan-out of feed items to live subscribers (the SSE stream, the dashboard).

Each subscriber has a bounded queue. A subscriber too slow to keep up loses items rather than
making the projection wait or the process grow: the broadcaster drops the item, counts it, and the
subscriber is told how many it missed before its next item ("drop and tell"). When the items' own
source was cut off (the LISTEN connection lost), every subscriber is told it may have missed some.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from reporting.domain.feed import FeedFilter, FeedItem


class TooManySubscribers(Exception):
    """The subscriber limit is reached; the caller answers 503."""


@dataclass
class Subscription:
    """One subscriber's queue. ``None`` in the queue means the broadcaster closed."""

    filter: FeedFilter
    queue: asyncio.Queue[FeedItem | None]
    dropped: int = 0
    delivered: int = 0
    #: Items may have been missed that were never offered: the feed's own source was cut off a while.
    gap: bool = False

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped

    def take_gap(self) -> bool:
        gap, self.gap = self.gap, False
        return gap


@dataclass
class Broadcaster:
    queue_size: int = 1000
    max_subscribers: int = 100
    on_drop: Callable[[int], None] | None = None
    _by_id: dict[int, Subscription] = field(default_factory=dict)
    closed: bool = False

    @property
    def subscribers(self) -> int:
        return len(self._by_id)

    def subscribe(self, feed_filter: FeedFilter) -> Subscription:
        if len(self._by_id) >= self.max_subscribers:
            raise TooManySubscribers(f"at most {self.max_subscribers} live subscribers")
        subscription = Subscription(feed_filter, asyncio.Queue(maxsize=self.queue_size))
        self._by_id[id(subscription)] = subscription
        if self.closed:
            subscription.queue.put_nowait(None)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._by_id.pop(id(subscription), None)

    def publish(self, item: FeedItem) -> None:
        """Offer the item to every matching subscriber; never waits."""
        for subscription in list(self._by_id.values()):
            if not subscription.filter.matches(item):
                continue
            try:
                subscription.queue.put_nowait(item)
                subscription.delivered += 1
            except asyncio.QueueFull:
                subscription.dropped += 1
                if self.on_drop:
                    self.on_drop(1)

    def gap(self) -> None:
        """The items' source was cut off and is back: whatever was projected meanwhile never came here.
        Every subscriber is told (it may read what it missed from the recent events)."""
        for subscription in list(self._by_id.values()):
            subscription.gap = True

    def close(self) -> None:
        """End every subscription (shutdown): each gets an end marker, even a full queue."""
        self.closed = True
        for subscription in list(self._by_id.values()):
            while True:
                try:
                    subscription.queue.put_nowait(None)
                    break
                except asyncio.QueueFull:
                    subscription.queue.get_nowait()
                    subscription.dropped += 1

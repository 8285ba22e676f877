"""Percentile maths, the recorder, and the open-loop pacer (with a fake clock: no sleeping)."""

from __future__ import annotations

import pytest

from loadgen.pacing import Pacer
from loadgen.stats import Latencies, Recorder, coarse, percentile


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (0, 1, 50, 90, 99, 99.5, 100)] == [1, 1, 50, 90, 99, 100, 100]
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0], 50) == 1.0 and percentile([1.0, 2.0], 51) == 2.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_a_summary_of_unsorted_samples() -> None:
    latencies = Latencies()
    for v in [0.5, 0.1, 0.3, 0.2, 0.4] * 20:
        latencies.add(v)
    s = latencies.summary()
    assert s is not None and (s.count, s.p50, s.p90, s.p99, s.max) == (100, 0.3, 0.5, 0.5, 0.5)
    assert s.mean == pytest.approx(0.3)
    assert s.as_ms()["p50"] == 300.0
    assert Latencies().summary() is None


def test_the_recorder_keeps_failures_out_of_latencies() -> None:
    r = Recorder()
    r.record("submit dossier", 201, 0.01)
    r.record("submit dossier", 422, 5.0)
    r.record("submit dossier", "timeout", 30.0)
    r.record("submit bundle:birth", 201, 0.02)
    op = r.operation("submit dossier")
    assert (op.ok, op.failed, len(op.latencies)) == (1, 2, 1)
    assert r.total("submit ") == (2, 2)
    assert coarse("bundle:death:none") == "bundle:death" and coarse("dossier:1.001193") == "dossier"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_paced_run_spaces_slots_by_the_rate_and_stops_at_the_deadline() -> None:
    clock = FakeClock()
    pacer = Pacer(rate=10, count=1000, duration=2.0, clock=clock)
    slots = []
    while (slot := pacer.take()) is not None:
        slots.append(slot)
    assert len(slots) == 20  # 2 s at 10/s: due times 0.0 … 1.9
    assert slots[0] == (0, 100.0) and slots[-1] == (19, pytest.approx(101.9))


def test_a_paced_run_stops_at_its_count_and_when_time_is_up() -> None:
    clock = FakeClock()
    pacer = Pacer(rate=None, count=3, duration=60, clock=clock)
    assert [pacer.take() for _ in range(4)] == [(0, 100.0), (1, 100.0), (2, 100.0), None]
    late = Pacer(rate=None, count=10, duration=1.0, clock=clock)
    assert late.take() is not None
    clock.now += 1.0
    assert late.take() is None


def test_a_pacer_refuses_an_unbounded_run() -> None:
    with pytest.raises(ValueError):
        Pacer(rate=0, count=10, duration=1)
    with pytest.raises(ValueError):
        Pacer(rate=None, count=0, duration=1)
    with pytest.raises(ValueError):
        Pacer(rate=None, count=10, duration=0)

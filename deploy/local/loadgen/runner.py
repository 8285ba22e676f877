"""One load run: citizens submit on a schedule, officials and citizens follow up, the run ends
when its count or its time is used up, then waits (boundedly) for the work in flight to finish."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import orjson
from aiokafka.errors import KafkaError

from contracts.catalogue import load_catalogue
from contracts.topics import Topics
from loadgen import population
from loadgen.api import Api, ClientKind, Targets
from loadgen.citizens import CitizenPolicy, Citizens
from loadgen.mix import Mix, MixWeights, Submission
from loadgen.officials import OfficialPolicy, Officials
from loadgen.pacing import Pacer
from loadgen.people import today_in_vietnam
from loadgen.progress import Progress
from loadgen.stats import Latencies, Recorder, coarse
from loadgen.tracking import Completions, EventWatcher, SeenEvent

Only = Literal["all", "standalone", "birth", "death"]
PREGENERATE_LIMIT = 200_000


@dataclass(frozen=True)
class LoadConfig:
    targets: Targets
    kafka: str | None = None  # bootstrap servers on loopback: end-to-end tracking and citizens' reactions
    rate: float | None = None  # submissions per second; None: as fast as the concurrency allows
    duration: float = 60.0  # seconds of submitting, at most
    count: int = 10_000  # submissions, at most
    concurrency: int = 32  # submissions in flight, at most
    seed: int = 1
    only: Only = "all"
    weights: MixWeights = field(default_factory=MixWeights)
    officials: OfficialPolicy | None = field(default_factory=OfficialPolicy)  # None: nobody decides
    citizens: CitizenPolicy | None = field(default_factory=CitizenPolicy)  # None: no follow-ups
    drain: float = 30.0  # seconds to wait for completions after the last submission
    #: Closed loop: at most this many submitted items not ended yet (a new one goes when one ends);
    #: the completion rate is then what the stack sustains, not what a queue absorbs. Needs ``kafka``.
    in_flight: int | None = None
    client: ClientKind = "wire"
    progress: bool = True
    #: The registry simulator (loopback): the people the submissions name are seeded into its
    #: population database first, as a real one would know them. None: not seeded.
    population: str | None = None

    @property
    def scheduled(self) -> bool:
        """Whether items go on an open-loop schedule (a rate, no closed loop): an item's latency then
        counts from its slot's due time; flat out or in a closed loop, from when it goes."""
        return self.rate is not None and not self.in_flight


@dataclass
class RunResult:
    config: LoadConfig
    recorder: Recorder
    completions: Completions
    schedule_lag: Latencies
    started_at: float  # epoch
    submit_seconds: float  # from the first slot to the last answer
    submitted_ok: int
    submitted_failed: int
    decisions: int
    watcher_events: int
    watcher_error: str | None
    disabled_actions: dict[str, int | str]
    drained: bool

    @property
    def accepted_per_second(self) -> float:
        return self.submitted_ok / self.submit_seconds if self.submit_seconds > 0 else 0.0

    @property
    def completed_per_second(self) -> float:
        c = self.completions
        if not c.done or c.last_done is None:
            return 0.0
        return c.done / max(1e-9, c.last_done - self.started_at)


def _weights(config: LoadConfig) -> MixWeights:
    w = config.weights
    shares = {"all": (w.birth_bundle, w.death_bundle, w.standalone), "standalone": (0, 0, 1),
              "birth": (1, 0, 0), "death": (0, 1, 0)}[config.only]  # fmt: skip
    return replace(w, birth_bundle=shares[0], death_bundle=shares[1], standalone=shares[2])


def prebuild(config: LoadConfig, count: int) -> list[tuple[Submission, bytes]]:
    """``count`` submissions of ``config``'s mix with their JSON bodies, built before the clock starts."""
    mix = Mix(load_catalogue(), seed=config.seed, today=today_in_vietnam(), weights=_weights(config))
    built = []
    for _ in range(count):
        s = mix.next()
        # Keep the encoded body only: tens of thousands of nested dicts would cost the driver gigabytes.
        built.append((replace(s, body={"procedure_code": s.body.get("procedure_code")}), orjson.dumps(s.body)))
    return built


def planned_count(config: LoadConfig) -> int:
    """How many submissions the run can send at most."""
    return config.count if config.rate is None else min(config.count, int(config.rate * config.duration) + 1)


def submission_source(config: LoadConfig) -> Callable[[int], tuple[Submission, bytes]]:
    """Submission ``i`` with its JSON body; pre-built when the run is small enough, so building
    forms costs the driver nothing while it measures."""
    planned = planned_count(config)
    if planned <= PREGENERATE_LIMIT:
        return prebuild(config, planned).__getitem__
    mix = Mix(load_catalogue(), seed=config.seed, today=today_in_vietnam(), weights=_weights(config))

    def on_the_fly(_: int) -> tuple[Submission, bytes]:
        s = mix.next()
        return s, orjson.dumps(s.body)

    return on_the_fly


async def run(config: LoadConfig, prebuilt: list[tuple[Submission, bytes]] | None = None) -> RunResult:
    """Run the load described by ``config``; every loop is bounded by its count and time.

    ``prebuilt``: submissions to send instead of drawing the mix (the benchmark sends one set to the
    bare endpoint and to intake); the run also stops when they run out."""
    if prebuilt is not None:
        config = replace(config, count=min(config.count, len(prebuilt)))
    source = prebuilt.__getitem__ if prebuilt is not None else submission_source(config)
    # Seeded up front when the submissions are built up front; else each just before it goes.
    seed_each = config.population is not None and prebuilt is None and planned_count(config) > PREGENERATE_LIMIT
    if config.population is not None and not seed_each:
        planned = len(prebuilt) if prebuilt is not None else planned_count(config)
        bodies = (orjson.loads(source(i)[1]) for i in range(min(planned, config.count)))
        added = await population.seed(config.population, (r for body in bodies for r in population.residents(body)))
        if config.progress:
            print(f"population: {added} people seeded into the registry simulator", file=sys.stderr)
    recorder, completions, lag = Recorder(), Completions(), Latencies()
    rng = random.Random(config.seed + 1)
    stop = asyncio.Event()
    ended = asyncio.Event()  # set whenever the watcher saw an event: an item may have ended
    async with Api(config.targets, recorder, concurrency=config.concurrency, client=config.client) as api:
        catalogue = load_catalogue()
        officials = Officials(api, catalogue, config.officials, rng) if config.officials else None
        citizens = Citizens(api, catalogue, config.citizens, rng) if config.citizens else None

        def on_event(event: SeenEvent) -> None:
            completions.observe(event)
            ended.set()
            if citizens is not None:
                citizens.on_event(event)

        watcher = await _start_watcher(config, on_event)
        hard_deadline = time.monotonic() + config.duration + config.drain + 10
        background = [asyncio.create_task(officials.run(stop, hard_deadline))] if officials else []
        pacer = Pacer(config.rate, config.count, config.duration)
        started_at = time.time()
        progress = Progress(recorder, completions, officials, enabled=config.progress, stream=sys.stderr)
        background.append(asyncio.create_task(progress.run(stop, hard_deadline)))

        window = InFlight(config.in_flight, completions, ended) if config.in_flight else None

        async def submitter() -> None:
            while True:
                if window is not None and not await window.admit(pacer.deadline):
                    return
                if (slot := await pacer.wait()) is None:
                    return
                index, due = slot
                if window is None:  # a closed loop has no schedule to lag behind
                    lag.add(max(0.0, time.monotonic() - due))
                submission, body = source(index)
                if seed_each:
                    assert config.population is not None
                    await population.seed(config.population, population.residents(orjson.loads(body)))
                submitted_at = latency_origin(due if config.scheduled else None)
                answer = await api.submit(f"submit {coarse(submission.label)}", submission.path, body)
                if not (answer.ok and isinstance(answer.body, dict)):
                    if window is not None:
                        window.refused()
                    continue
                key = answer.body.get("bundle_id") or answer.body.get("dossier_id")
                if key and watcher is not None:
                    completions.submitted(str(key), submission.label, submitted_at)
                if officials is not None:
                    officials.watch(submission.agencies)
                if citizens is not None:
                    citizens.submitted(submission, answer.body)

        await asyncio.gather(*(submitter() for _ in range(config.concurrency)))
        submit_seconds = time.monotonic() - pacer.start
        drained = await _drain(completions, config.drain) if watcher is not None else False
        stop.set()
        await asyncio.gather(*background)
        if citizens is not None:
            await citizens.stop()
        if watcher is not None:
            await watcher.stop()
    progress.finish()
    ok, failed = recorder.total("submit ")
    return RunResult(
        config=config, recorder=recorder, completions=completions, schedule_lag=lag, started_at=started_at,
        submit_seconds=submit_seconds, submitted_ok=ok, submitted_failed=failed,
        decisions=officials.decided if officials else 0,
        watcher_events=watcher.seen if watcher else 0, watcher_error=watcher.error if watcher else None,
        disabled_actions=dict(citizens.disabled) if citizens else {}, drained=drained,
    )  # fmt: skip


class TrackingUnavailable(RuntimeError):
    """A closed loop (``in_flight``) was asked for, but there is no broker watcher to see items end."""


async def _start_watcher(config: LoadConfig, on_event: Callable[[SeenEvent], None]) -> EventWatcher | None:
    """The broker watcher behind end-to-end tracking, or None without ``kafka`` or when the broker is
    unreachable. A closed loop cannot run without it: :class:`TrackingUnavailable` then, where the run
    used to go on as an open loop with no bound on what is in flight, and report that as the closed
    loop's figures."""
    watcher = None
    if config.kafka:
        watcher = EventWatcher(config.kafka, [Topics().workflow_events], on_event)
        try:
            await asyncio.wait_for(watcher.start(), 20)
        except (OSError, TimeoutError, KafkaError) as exc:
            await watcher.stop()
            if config.in_flight:
                raise TrackingUnavailable(
                    f"--in-flight {config.in_flight} needs the broker at {config.kafka} to see items end,"
                    f" and it is unreachable: {exc!r}"
                ) from exc
            print(f"loadgen: no end-to-end tracking, the broker is unreachable: {exc!r}", file=sys.stderr)
            watcher = None
    if config.in_flight and watcher is None:
        raise TrackingUnavailable(f"--in-flight {config.in_flight} needs --kafka: the loop waits for items to end")
    return watcher


def latency_origin(
    due: float | None, *, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
) -> float:
    """The epoch an item's end-to-end latency counts from: its slot's due time (``clock``'s, made
    wall-clock time), or now without a schedule (None). Timed from when the item went, a driver that
    fell behind its schedule (every submitter waiting on a slow answer) left that wait out of the
    latency, the coordinated omission an open-loop test exists to avoid."""
    if due is None:
        return wall()
    return wall() - max(0.0, clock() - due)


class InFlight:
    """The closed loop's window: an item is admitted while fewer than ``limit`` admitted ones have
    not ended (succeeded or otherwise) and were not refused at submission."""

    def __init__(self, limit: int, completions: Completions, ended: asyncio.Event) -> None:
        self.limit = limit
        self.admitted = 0
        self._refused = 0
        self._completions = completions
        self._ended = ended

    @property
    def open(self) -> int:
        c = self._completions
        return self.admitted - self._refused - c.done - c.ended_otherwise

    def refused(self) -> None:
        self._refused += 1
        self._ended.set()

    async def admit(self, until: float) -> bool:
        """Wait for room, at most until the monotonic time ``until``; False if none came."""
        while self.open >= self.limit:
            self._ended.clear()
            remaining = until - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._ended.wait(), remaining)
            except TimeoutError:
                return False
        self.admitted += 1
        return True


async def _drain(completions: Completions, timeout: float) -> bool:
    """Wait until everything submitted has ended, or ``timeout``; True if it all ended."""
    deadline = time.monotonic() + timeout
    while completions.pending and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a plain counter
        await asyncio.sleep(0.05)
    return completions.pending == 0

"""A service's running machinery: engine, migrations, outbox relay and inbox consumers, with
start/stop and readiness. Built once per process by the service's bootstrap, never at import."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.backoff import stop_if_cancelled
from eventkit.consumer import Dispatcher, InboxConsumer
from eventkit.db import durability_gaps, make_engine, outlasting_outages, ping
from eventkit.kafka import KafkaPublisher
from eventkit.logging import get_logger
from eventkit.migrations import apply_migrations
from eventkit.relay import OutboxRelay
from eventkit.settings import ServiceSettings
from eventkit.uow import SqlUnitOfWork

log = get_logger(__name__)

#: How long stopping waits for cancelled background tasks: with uvicorn's 10 s for requests, well
#: inside Kubernetes' 30 s grace period.
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer group this service runs: its name (unique per service), topics and handlers."""

    name: str
    topics: list[str]
    dispatcher: Dispatcher
    #: Called after each transaction that applied events: a worker waiting for what the handlers
    #: recorded can start at once instead of at its next poll. (The outbox relay is woken by the
    #: unit of work itself, and only when the handlers queued messages.)
    on_applied: Callable[[], None] | None = None


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)
    started: bool = True  # the background tasks were started (the service is past its start-up)
    excluded: tuple[str, ...] = ()  # checks not judged by: a name (``broker``) or a kind (``consumer``)

    @property
    def ready(self) -> bool:
        """Past start-up, and every check judged by is ok."""
        return self.started and all(v == "ok" for k, v in self.checks.items() if not self._excluded(k))

    def without(self, excluded: Sequence[str]) -> Readiness:
        """Readiness judged without the checks ``excluded`` names: a check's name (``broker``) or
        its kind (``consumer`` for every ``consumer:…``), as Kubernetes' own ``/readyz?exclude=``."""
        return replace(self, excluded=tuple(excluded))

    def _excluded(self, name: str) -> bool:
        return any(name == e or name.startswith(f"{e}:") for e in self.excluded)


class ServiceRuntime:
    """Everything with a connection or a background task in one service process."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations_package: str | None = None,
        consumers: list[ConsumerSpec] | None = None,
        background: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self.settings = settings
        url = settings.database_url.get_secret_value()
        self.engine: AsyncEngine = make_engine(
            url, settings.schema_name, pool_size=settings.db_pool_size, limits=settings.db_limits()
        )
        #: For work that may rightly run for minutes (migrations, a projection's rebuild): its
        #: statements have no time limit. It opens connections only when used.
        self.maintenance_engine: AsyncEngine = make_engine(
            url, settings.schema_name, pool_size=settings.db_pool_size, limits=None
        )
        self.publisher = KafkaPublisher(settings.kafka_bootstrap_servers, client_id=settings.service_name)
        self.relay = OutboxRelay(
            self.engine,
            self.publisher,
            batch_size=settings.relay_batch_size,
            batch_bytes=settings.relay_batch_bytes,
            poll_seconds=settings.relay_poll_seconds,
        )
        self.consumers = [
            InboxConsumer(
                self.engine,
                spec.dispatcher,
                self.publisher,
                name=f"{settings.service_name}.{spec.name}",
                topics=spec.topics,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=f"{settings.consumer_group_prefix}{settings.service_name}.{spec.name}",
                max_attempts=settings.consumer_max_attempts,
                retry_base_seconds=settings.consumer_retry_base_seconds,
                batch_size=settings.consumer_batch_size,
                batch_max_seconds=settings.consumer_batch_max_seconds,
                batch_min_size=settings.consumer_batch_min_size,
                after_commit=spec.on_applied,
                on_queued=self.relay.notify,
                session_timeout_ms=settings.consumer_session_timeout_ms,
                heartbeat_interval_ms=settings.consumer_heartbeat_ms,
                fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            )
            for spec in consumers or []
        ]
        self._migrations_package = migrations_package
        self._background = list(background)
        self._tasks: list[asyncio.Task[None]] = []
        self._also_stop: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._readiness_cache: tuple[float, Readiness] | None = None
        #: The background tasks that ended with an error, and what to call when one does.
        self.crashed: list[str] = []
        self.on_crash: Callable[[str], None] | None = None

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work on this service's database."""
        return SqlUnitOfWork(self.engine, on_queued=self.relay.notify)

    def single_statement(self) -> SqlUnitOfWork:
        """A unit of work for one statement, in autocommit (see :class:`SqlUnitOfWork`)."""
        return SqlUnitOfWork(self.engine, on_queued=self.relay.notify, single_statement=True)

    async def start(self, *, database_wait_seconds: float = 60.0) -> None:
        """Apply migrations (waiting for the database), then start the relay and consumers.

        The broker may still be down: relay and consumers connect in the background and
        readiness stays 503 until they do.
        """
        packages = [self._migrations_package] if self._migrations_package else []
        # Refused, or "the database system is starting up" (57P03): compose and Kubernetes start
        # everything at once.
        await outlasting_outages(
            lambda: apply_migrations(self.maintenance_engine, self.settings.schema_name, *packages),
            for_seconds=database_wait_seconds,
            what="migrations",
        )
        await self.maintenance_engine.dispose()  # its connection is not needed until the next such work
        if gaps := await durability_gaps(self.engine):
            warn = log.error if self.settings.environment == "production" else log.warning
            warn(
                "the database does not commit durably: a crash of it can lose commits already acknowledged,"
                " and with them events (fine for a throwaway test database, never in production)",
                settings_off=gaps,
            )
        if self.settings.people_api and not self.settings.auth_jwks:
            log.warning("officials' and operators' endpoints take anyone: AUTH_JWKS is not set (development only)")
        self._spawn("outbox-relay", self.relay.run)
        for consumer in self.consumers:
            self._spawn(consumer.name, consumer.run)
        for job in self._background:
            self._spawn(getattr(job, "__name__", "background"), job)
        log.info("service started", consumers=[c.name for c in self.consumers])

    def _spawn(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        async def guarded() -> None:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)  # a stop that surfaced as a client's error is a stop, not a crash
                # Its work (consuming, relaying, firing timers) would stop for good while the API
                # served on: the process is no longer alive as a whole. /healthz says so, and the
                # server (eventkit.serve) exits, for the orchestrator to start a fresh one.
                log.exception("background task crashed; the process must be restarted", task=name)
                self.crashed.append(name)
                if self.on_crash is not None:
                    self.on_crash(name)
                raise

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    def also_stop(self, name: str, stop: Callable[[], Awaitable[None]]) -> None:
        """Have :meth:`stop` call ``stop`` as it cancels its own tasks, and wait for it as for them.

        For tasks started on demand rather than at start (a group writer's, a rebuild): they write on
        this runtime's engines, and left running they met a disposed pool at every stop (their errors
        logged, a write or a batch done after the stop) until the event loop itself ended them."""
        self._also_stop.append((name, stop))

    async def stop(self, *, within: float = STOP_SECONDS) -> None:
        """Cancel background work (with what :meth:`also_stop` names) and close connections.

        A task still running ``within`` seconds after it was cancelled (a client library's cleanup
        waiting on a broker that does not answer) is left behind with a warning: stopping goes on, so
        the process ends inside its grace period. Nothing is lost; the inbox and outbox resume."""
        for task in self._tasks:
            task.cancel()
        # Before the engines are disposed (below), as the tasks just cancelled.
        stopping = [asyncio.create_task(_awaited(stop()), name=name) for name, stop in self._also_stop]
        if self._tasks or stopping:
            _, running = await asyncio.wait([*self._tasks, *stopping], timeout=within)
            if running:
                log.warning("background tasks did not stop in time; leaving them",
                            tasks=sorted(t.get_name() for t in running), seconds=within)  # fmt: skip
        self._tasks.clear()
        await self.publisher.stop()
        await self.engine.dispose()
        await self.maintenance_engine.dispose()

    async def readiness(self) -> Readiness:
        """Database and broker reachable and every background task running (cached for 1 s)."""
        now = time.monotonic()
        if self._readiness_cache and now - self._readiness_cache[0] < 1.0:
            return self._readiness_cache[1]
        checks: dict[str, str] = {}
        # At once, each bounded: one after the other, a hanging broker (a probe's excluded check) and
        # the database took 3 s each, past the probe's own timeout, and every pod left the Service.
        broker = _check(self.publisher.ping()) if self.publisher.started else _said("connecting")
        checks["database"], checks["broker"] = await asyncio.gather(_check(ping(self.engine)), broker)
        for task in self._tasks:
            checks[f"task:{task.get_name()}"] = "ok" if not task.done() else "stopped"
        for consumer in self.consumers:
            checks[f"consumer:{consumer.name}"] = "ok" if consumer.connected else "connecting"
        result = Readiness(checks, started=bool(self._tasks))
        self._readiness_cache = (now, result)
        return result


#: How long one readiness check may take (they run at once): within a load balancer's probe timeout
#: (Kubernetes': 3 s in deploy/k8s).
CHECK_SECONDS = 2.0


async def _check(probe: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(probe, timeout=CHECK_SECONDS)
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


async def _said(status: str) -> str:
    return status


async def _awaited(work: Awaitable[None]) -> None:
    await work

"""``python -m reporting.benchmark``: how fast a rebuild replays the topics (target ≥ 20,000 events/s).

Publishes synthetic dossiers (8 events each: submitted, received, paid, synced twice, result,
returned, rated) to topics of its own, replays them into a schema of its own with the same code
the service runs, prints the rate, and drops what it created. Uses the service's settings
(``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``) unless given on the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from contracts.catalogue import load_catalogue
from contracts.envelope import Envelope, EventPayload, payload_model
from contracts.events import intake, registry, workflow
from contracts.events.common import Applicant, Document, DossierStatus
from contracts.ids import uuid7
from contracts.topics import Topics
from eventkit.db import make_engine
from eventkit.kafka import ensure_topics
from eventkit.migrations import apply_migrations
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.adapters.topic_reader import TopicHistory
from reporting.domain.outcome import Derivation
from reporting.entrypoints.consumer import projected_event_types
from reporting.service_layer.rebuild import Rebuilder, RebuildStatus
from reporting.settings import ReportingSettings
from workcal import WorkCalendar

PROCEDURES = [("1.001193", 0), ("1.004222", 20_000), ("9.000003", 100_000), ("9.000004", 135_000)]
AGENCIES = ["UBND-X-YENHOA", "UBND-P-PHUCLOI", "STNMT-BINHAN", "CA-X-ANPHU"]


def dossier_events(n: int, start: datetime) -> list[Envelope]:
    """Eight events of one synthetic dossier."""
    dossier, agency = f"bench-{n}", AGENCIES[n % len(AGENCIES)]
    procedure, fee = PROCEDURES[n % len(PROCEDURES)]
    code = f"{agency}-240304-{n % 10_000:04d}"
    received = start + timedelta(minutes=n % 50_000)
    due = received + timedelta(days=3)
    done = received + timedelta(hours=(n % 120))
    status = DossierStatus

    def wf(cls: type[workflow.DossierEvent], at: datetime, st: DossierStatus, **fields: object) -> EventPayload:
        return cls(dossier_id=dossier, code=code, status=st, status_code=st.code, at=at, agency=agency, **fields)

    payloads: list[tuple[EventPayload, datetime]] = [
        (intake.DossierSubmitted(
            dossier_id=dossier, code=code, procedure_code=procedure, catalogue_version="bench",
            channel=("online", "counter", "postal")[n % 3], receiving_agency=agency, competent_agency=agency,
            applicant=Applicant(id_number="001090000001", full_name="Nguyễn Văn An"), form={},
            documents=[Document(kind="a", digitized=True, reused=n % 2 == 0)], fee=fee, status=status.RECEIVED,
            submitted_at=received, received_at=received, due_at=due), received),
        (wf(workflow.DossierReceived, received, status.RECEIVED, procedure_code=procedure, due_at=due), received),
        (intake.FeePaid(dossier_id=dossier, amount=fee or 1, method="qr", online=n % 4 != 0, paid_at=received),
         received),
        (registry.PortalSyncSucceeded(dossier_id=dossier, code=code, status_code=2, operation="create",
                                      lag_seconds=n % 90, synced_at=received), received),
        (wf(workflow.ResultIssued, done, status.PROCESSED, result_code=f"{code}-KQ1", document_name="KQ", data={},
            on_time=done <= due), done),
        (registry.PortalSyncSucceeded(dossier_id=dossier, code=code, status_code=9, operation="update",
                                      lag_seconds=n % 30, synced_at=done), done),
        (wf(workflow.ResultReturned, done, status.RETURNED), done),
        (intake.SatisfactionRated(dossier_id=dossier, score=1 + n % 5, rated_at=done), done),
    ]  # fmt: skip
    producers = {"intake_events": "intake", "workflow_events": "workflow"}
    return [
        Envelope.wrap(p, key=dossier, producer=producers.get(p.topic_role, "registry-sync"), occurred_at=at)
        for p, at in payloads
    ]


async def publish(bootstrap: str, topics: Topics, dossiers: int) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    sent = 0
    start = datetime(2024, 3, 4, 2, tzinfo=UTC)
    try:
        for first in range(0, dossiers, 1000):
            futures = []
            for n in range(first, min(first + 1000, dossiers)):
                for envelope in dossier_events(n, start):
                    model = payload_model(envelope.type, envelope.version)
                    assert model is not None
                    topic = getattr(topics, model.topic_role)
                    futures.append(await producer.send(topic, envelope.to_json(), envelope.key.encode()))
            await asyncio.gather(*futures)
            sent += len(futures)
    finally:
        await producer.stop()
    return sent


async def run(database_url: str, bootstrap: str, dossiers: int, batch_size: int) -> None:
    suffix = secrets.token_hex(3)
    schema = f"reporting_bench_{suffix}"
    topics = Topics(**{f: f"{getattr(Topics(), f)}.bench{suffix}" for f in Topics.model_fields})
    await ensure_topics(bootstrap, topics.all(), partitions=6)
    t0 = time.monotonic()
    sent = await publish(bootstrap, topics, dossiers)
    print(f"published {sent} events in {time.monotonic() - t0:.1f} s")
    engine = make_engine(database_url, schema, pool_size=4, limits=None)  # as the service's rebuild
    try:
        await apply_migrations(engine, schema, "reporting")
        catalogue = CatalogueInfo.from_catalogue(load_catalogue())
        rebuilder = Rebuilder(
            engine,
            lambda: TopicHistory(bootstrap, topics.all(), client_id="reporting.benchmark"),
            Derivation(WorkCalendar(), catalogue.field_of_procedure, catalogue.first_bundle_steps),
            set(projected_event_types()),
            live_consumer="reporting.projections",
            batch_size=batch_size,
        )
        cpu = time.process_time()
        status = await rebuilder.run(RebuildStatus(id=str(uuid7())))
        cpu = time.process_time() - cpu
        print(
            f"rebuild {status.state}: {status.records_read} events in {status.seconds:.1f} s"
            f" = {status.events_per_second:,.0f} events/s ({status.error or 'ok'});"
            f" this process used {cpu:.1f} CPU s = {status.records_read / cpu:,.0f} events per CPU second"
        )
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


def main() -> None:
    settings = ReportingSettings()
    parser = argparse.ArgumentParser(prog="python -m reporting.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=25_000, help="synthetic dossiers (8 events each)")
    parser.add_argument("--batch-size", type=int, default=settings.rebuild_batch_size)
    parser.add_argument("--database-url", default=settings.database_url.get_secret_value())
    parser.add_argument("--bootstrap", default=settings.kafka_bootstrap_servers)
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.bootstrap, args.dossiers, args.batch_size))


if __name__ == "__main__":
    main()

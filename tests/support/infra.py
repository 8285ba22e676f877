"""The real servers tests run against: embedded PostgreSQL and Tansu, started once per session,
or external ones named by DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (e.g. the compose stack)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devstack.broker import TansuBroker
from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port


@dataclass
class Infra:
    database_url: str
    bootstrap_servers: str
    broker: TansuBroker | None
    postgres: EmbeddedPostgres | None


def start_infra() -> Iterator[Infra]:
    database_url = os.environ.get("DATABASE_URL", "")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    postgres = broker = None
    run_dir = Path(tempfile.mkdtemp(prefix="dossier-tests-"))
    try:
        if not database_url:
            postgres = EmbeddedPostgres(run_dir / "pgdata", free_port(), durable=False)
            postgres.start()
            postgres.create_database("tests")
            database_url = postgres.url("tests")
        if not bootstrap:
            broker = TansuBroker(free_port(), run_dir)
            broker.start()
            bootstrap = broker.bootstrap_servers
        yield Infra(database_url, bootstrap, broker, postgres)
    finally:
        if broker:
            broker.stop()
        if postgres:
            postgres.stop()
            shutil.rmtree(postgres.data_dir, ignore_errors=True)  # hundreds of MB a run; the logs stay

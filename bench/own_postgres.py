"""A PostgreSQL of a benchmark's own: in a temporary directory, on a free loopback port, stopped and
removed afterwards."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port


@contextmanager
def own_postgres(prefix: str) -> Iterator[EmbeddedPostgres]:
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pgdata", free_port())
        print("starting PostgreSQL …", file=sys.stderr, flush=True)
        postgres.start()
        try:
            yield postgres
        finally:
            postgres.stop()

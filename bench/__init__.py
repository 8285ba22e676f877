"""``make bench`` / ``python -m bench``: the whole stack on this machine, measured against the
physical limits of the same machine (raw PostgreSQL commits, a bare FastAPI endpoint)."""

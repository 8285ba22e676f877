"""How the services are served: an idle connection is the client's to close."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from eventkit.serve import server_config
from eventkit.settings import ServiceSettings


def test_the_server_keeps_an_idle_connection_longer_than_an_http_client_does() -> None:
    """uvicorn's and httpx's 5 s each: a client reusing a connection just as the server closed it met a
    reset on a request the server never saw (the e2e flows' ReadError, the load generator's)."""
    config = server_config(ServiceSettings(), FastAPI())
    client_keeps = httpx.Limits().keepalive_expiry  # what httpx keeps an idle connection, by default
    assert client_keeps is not None and config.timeout_keep_alive > client_keeps
    assert config.timeout_keep_alive > 60  # a load balancer's idle timeout, the usual one

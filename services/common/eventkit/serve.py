"""Run a service's app factory under uvicorn on the port its settings name."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from eventkit.logging import configure_logging
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings

#: How long an idle HTTP connection is kept open: longer than any client keeps one (httpx 5 s, a load
#: balancer's 60 s), so that the client closes it first. At uvicorn's 5 s, the same as httpx's, a
#: client reusing a connection just as the server closed it met a reset (ReadError) on a request the
#: server never saw: the end-to-end flows' and the load generator's.
KEEP_ALIVE_SECONDS = 65


def serve(settings: ServiceSettings, app_factory: Callable[[ServiceSettings], FastAPI]) -> None:
    """Configure logging and serve until SIGINT/SIGTERM (uvicorn's graceful shutdown), or until a
    background task crashes: then the process stops the same way and exits with status 1, for its
    supervisor to start it again (Kubernetes, compose's restart policy; the dev runner stops the
    whole stack and says which process ended)."""
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    app = app_factory(settings)
    server = uvicorn.Server(server_config(settings, app))
    runtime: ServiceRuntime = app.state.runtime

    def stop_serving(_: str) -> None:
        server.should_exit = True

    runtime.on_crash = stop_serving
    # uvicorn raises the signal it caught again once it has shut down: Ctrl-C then ends here, as
    # with uvicorn.run, and the process exits 0.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    # A failed start-up does not return here: uvicorn's Server exits with status 3 itself.
    if runtime.crashed:
        sys.exit(1)


def server_config(settings: ServiceSettings, app: FastAPI) -> uvicorn.Config:
    """How uvicorn serves ``app``."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )

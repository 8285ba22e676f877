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


def serve(settings: ServiceSettings, app_factory: Callable[[ServiceSettings], FastAPI]) -> None:
    """Configure logging and serve until SIGINT/SIGTERM (uvicorn's graceful shutdown), or until a
    background task crashes: then the process stops the same way and exits with status 1, for its
    supervisor to start it again (Kubernetes, compose's restart policy; the dev runner stops the
    whole stack and says which process ended)."""
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    app = app_factory(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=10,
        )
    )
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

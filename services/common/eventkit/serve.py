"""Run a service's app factory under uvicorn on the port its settings name."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from eventkit.logging import configure_logging
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on a request's head (request line and headers).
    httptools has none: one 200 MiB header grew a service by 400 MiB, and a few such connections
    would have ended it. Past the limit the request is answered 431 and its connection closed."""

    max_head_bytes = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes: int | None = 0  # None while a body is read: it has a limit of its own

    def data_received(self, data: bytes) -> None:
        if self._head_bytes is not None:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self.transport.write(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                    b"content-length: 0\r\nconnection: close\r\n\r\n"
                )
                self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()


def server_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    """How every service is served: uvloop, no access log (the shell logs requests), a bounded head."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=BoundedHttpTools,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


def serve(settings: ServiceSettings, app_factory: Callable[[ServiceSettings], FastAPI]) -> None:
    """Configure logging and serve until SIGINT/SIGTERM (uvicorn's graceful shutdown), or until a
    background task crashes: then the process stops the same way and exits with status 1, for its
    supervisor to start it again (Kubernetes, compose's restart policy; the dev runner stops the
    whole stack and says which process ended)."""
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    app = app_factory(settings)
    server = uvicorn.Server(server_config(app, settings.host, settings.port))
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

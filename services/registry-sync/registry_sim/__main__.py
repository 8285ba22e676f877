"""``python -m registry_sim``: serve the simulator with uvicorn on the configured host and port."""

from __future__ import annotations

import uvicorn

from eventkit.logging import configure_logging
from eventkit.serve import KEEP_ALIVE_SECONDS
from registry_sim.app import create_app
from registry_sim.settings import SimulatorSettings


def main() -> None:
    settings = SimulatorSettings()
    configure_logging("registry-sim", level=settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,  # registry-sync's clients close an idle connection first
    )


if __name__ == "__main__":
    main()

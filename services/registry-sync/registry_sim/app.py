"""The app factory: builds the simulator's state and routes; nothing happens at import time."""

from __future__ import annotations

from fastapi import FastAPI

from registry_sim import admin, civil_status, population, portal, social_insurance, social_welfare
from registry_sim.errors import install_error_handlers
from registry_sim.settings import SimulatorSettings
from registry_sim.state import Clock, SimulatorState, vietnam_now

DESCRIPTION = (
    "Stands in for the external national systems (population database, civil-status registry, "
    "social insurance, social welfare, national public-service portal) in development and tests. "
    "State is in memory and lost on restart. See registry_sim/README.md."
)


def create_app(settings: SimulatorSettings | None = None, *, clock: Clock = vietnam_now) -> FastAPI:
    """Build a simulator app with fresh state; ``clock`` lets tests fix "today"."""
    settings = settings or SimulatorSettings()
    app = FastAPI(title="Registry simulator", version="1", description=DESCRIPTION)
    app.state.sim = SimulatorState(settings, clock)
    install_error_handlers(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> dict[str, str]:
        """Ready to answer (simulated outages do not make the simulator itself unready)."""
        return {"status": "ready"}

    for module in (population, civil_status, social_insurance, social_welfare, portal, admin):
        app.include_router(module.build_router())
    return app

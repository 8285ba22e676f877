"""Registry simulator: an HTTP stand-in for the national systems registry-sync talks to.

Only systems outside our control are simulated. Build it with :func:`create_app`; run it with
``python -m registry_sim`` (port 8009 by default). The API is documented in README.md.
"""

from registry_sim.app import create_app
from registry_sim.settings import SimulatorSettings

__all__ = ["SimulatorSettings", "create_app"]

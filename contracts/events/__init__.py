"""Every event and command that crosses a service boundary, one module per topic.

Importing this package registers all payload models with :mod:`contracts.envelope`.
"""

from contracts.events import intake, registry, workflow
from contracts.events.common import DossierStatus

__all__ = ["DossierStatus", "intake", "registry", "workflow"]

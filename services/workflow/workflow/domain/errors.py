"""What the domain refuses. The HTTP layer maps these to 404, 409 and 422."""

from __future__ import annotations

from contracts.events.common import DossierStatus


class DomainError(Exception):
    """A rule of the domain forbids what was asked."""


class DossierNotFound(DomainError):
    """No dossier has this id (yet)."""

    def __init__(self, dossier_id: str) -> None:
        super().__init__(f"unknown dossier {dossier_id!r}")
        self.dossier_id = dossier_id


class IllegalTransition(DomainError):
    """The lifecycle has no such move from the dossier's current status (HTTP 409)."""

    def __init__(self, action: str, status: DossierStatus | None, detail: str = "") -> None:
        where = f"a dossier in status {status.value}" if status else "a dossier that does not exist yet"
        super().__init__(f"cannot {action} {where}" + (f": {detail}" if detail else ""))
        self.action = action
        self.status = status
        self.detail = detail


class InvalidDecision(DomainError):
    """The decision lacks or misstates a field it needs (HTTP 422 naming ``field``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StaleDecision(DomainError):
    """The official decided on a version of the dossier that is no longer its latest (HTTP 412): their
    ``If-Match`` names version ``expected``; another decision, a payment or a registry's answer came first."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"the dossier changed since version {expected}; reload it and decide again")
        self.expected = expected

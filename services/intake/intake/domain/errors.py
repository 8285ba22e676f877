"""Why intake refuses a request that is well formed (the HTTP layer maps each to a status code)."""

from __future__ import annotations


class DuplicateDossier(Exception):
    """An open dossier of the same procedure has the same subject, and the procedure allows no repeat."""

    def __init__(self, procedure_code: str, existing_code: str) -> None:
        super().__init__(f"an open dossier {existing_code} of procedure {procedure_code} has the same subject")
        self.procedure_code = procedure_code
        self.existing_code = existing_code


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was already used for a different request."""


class NotFound(LookupError):
    """Nothing has this code or id."""


class DossierNotFound(NotFound):
    """No dossier (or bundle) has this code or id."""


class ActionNotAllowed(Exception):
    """The dossier is not in a state where this citizen action makes sense."""


class RetryableConflict(Exception):
    """A concurrent writer got in the way (deadlock, lost optimistic race): the whole request may be retried."""

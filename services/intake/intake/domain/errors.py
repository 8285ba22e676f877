"""Why intake refuses a request that is well formed (the HTTP layer maps each to a status code)."""

from __future__ import annotations

from intake.domain.text import canonical


class DuplicateDossier(Exception):
    """An open dossier of the same procedure has the same subject, and the procedure allows no repeat.

    ``existing_code`` names it, or is None when the request may not know it (see :func:`duplicate_of`)."""

    def __init__(self, procedure_code: str, existing_code: str | None) -> None:
        if existing_code is None:
            message = "an open dossier of this procedure already exists for this subject"
        else:
            message = f"an open dossier {existing_code} of procedure {procedure_code} has the same subject"
        super().__init__(message)
        self.procedure_code = procedure_code
        self.existing_code = existing_code


def duplicate_of(
    procedure_code: str, existing_code: str | None, holder_id_number: str | None, applicant_id_number: str | None
) -> DuplicateDossier:
    """The refusal of a request whose subject the open dossier ``existing_code`` holds: naming that
    dossier only when the request's applicant is its applicant (the same ID number, as the duplicate
    check compares them). Named to anyone, it told whoever knew a person's ID number (the deceased's,
    a child's) that an open dossier of the procedure was theirs, where and when it was filed, and its
    code, with which its view and its actions open. An applicant unknown on either side is no match."""
    same = (
        holder_id_number is not None
        and applicant_id_number is not None
        and canonical(holder_id_number) == canonical(applicant_id_number)
    )
    return DuplicateDossier(procedure_code, existing_code if same else None)


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

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


def applicant_key(id_number: str | None, phone: str | None) -> str | None:
    """Who may be told an open dossier's code: its applicant's ID number and phone, as compared (the ID
    number canonical, the phone by its last nine digits: "+84912345678" is "0912345678"). None
    without a phone: an ID number alone is no proof, since for most procedures it is the subject's
    own (an ID card's holder, a resident, a spouse), the number whoever asks already knows."""
    if not id_number or not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"{canonical(id_number)}/{digits[-9:]}" if len(digits) >= 9 else None


def duplicate_of(
    procedure_code: str, existing_code: str | None, holder: str | None, applicant: str | None
) -> DuplicateDossier:
    """The refusal of a request whose subject the open dossier ``existing_code`` holds: naming that
    dossier only when the request's applicant is its applicant (the same :func:`applicant_key`: ID
    number and phone). Named to anyone, it told whoever knew a person's ID number (the deceased's, a
    child's, an ID card holder's) that an open dossier of the procedure was theirs, where and when it
    was filed, and its code, with which its view and its actions open. An applicant unknown on either
    side is no match."""
    same = holder is not None and holder == applicant
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

"""What one call to an external system came to, classified for the retry policy and the breaker.

Three kinds: it worked (:class:`Succeeded`); the system refused it and asking again will not
help (:class:`Rejected`: a 4xx other than 401, 403, 407, 408 and 429, or input we cannot even
send); or it may work later (:class:`Transient`: a timeout, a connection failure, a 5xx, a 408 or
a 429, and a refusal of our credentials rather than of the request (401, 403, 407) or a redirect,
both a configuration of ours to mend).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contracts import citizen_id

_TWELVE_DIGITS = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


def mask_personal_numbers(text: str) -> str:
    """Mask 12-digit identification numbers inside a message we store, publish or log."""
    return _TWELVE_DIGITS.sub(lambda match: citizen_id.mask(match[0]), text)


@dataclass(frozen=True)
class Succeeded:
    """The system did it; ``body`` is its JSON answer."""

    body: dict[str, Any]
    status: int = 200
    replayed: bool = False


@dataclass(frozen=True)
class Rejected:
    """The system (or our own check of the input) refused it for good."""

    reason: str
    status: int | None = None
    error: str | None = None  # the system's machine-readable code, e.g. 'card_exists'
    #: Our own check refused it for want of the dossier's details (the applicant), which come from
    #: intake on another topic: not for good while they may still come.
    awaits_dossier: bool = False

    def __post_init__(self) -> None:
        _mask_reason(self)


@dataclass(frozen=True)
class Transient:
    """It did not work this time; it may later. ``retry_after`` is the system's own hint, seconds."""

    reason: str
    status: int | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        _mask_reason(self)

    @property
    def counts_against_breaker(self) -> bool:
        """A 429 means the system is up and pacing us: Retry-After governs it, not the breaker."""
        return self.status != 429


CallOutcome = Succeeded | Rejected | Transient


def _mask_reason(outcome: Rejected | Transient) -> None:
    """Masked where the outcome is made, so that whoever reads the reason (the guard's error log, the
    command's last error, the published failure) has it masked. Population-database paths name the
    person's number: masked only when stored, a redirect logged the full number at ERROR level."""
    object.__setattr__(outcome, "reason", mask_personal_numbers(outcome.reason))


#: The system (or a proxy before it) refuses registry-sync itself, not the request: an expired or
#: rotated key, an access rule changed at its end. An outage of ours to mend, not the citizen's
#: refusal: failed for good, every command in the queue would have ended so, one call each.
NOT_ALLOWED = frozenset({401, 403, 407})


def classify_status(status: int) -> type[Succeeded] | type[Rejected] | type[Transient]:
    """Which outcome an HTTP status is: 2xx success; 408 (the server gave up waiting for our request),
    429, 5xx, a refusal of our credentials (:data:`NOT_ALLOWED`) and a redirect transient; other 4xx
    rejected. We follow no redirect (a POST must not be re-sent elsewhere): one means the system's base
    URL is wrong, say http where a gateway wants https, an outage of ours like a refused key."""
    if 200 <= status < 300:
        return Succeeded
    if status in (408, 429) or status in NOT_ALLOWED or status >= 500 or 300 <= status < 400:
        return Transient
    return Rejected

"""What the service is asked to do, from the officials' API, the inbox and the timer poller."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from contracts.events.common import Document
from workflow.domain.internal_events import DossierOpened
from workflow.domain.saga import BundleSaga

Decision = Literal[
    "accept",
    "approve",
    "reject",
    "request_supplement",
    "request_payment",
    "forward",
    "return_result",
    "extend",
    "verify",
]
DECISIONS: tuple[Decision, ...] = get_args(Decision)
NEEDS_REASON: frozenset[str] = frozenset({"reject", "request_supplement", "extend", "verify"})


@dataclass(frozen=True)
class OpenDossier:
    """Take charge of a submitted dossier; ``received_at`` is None while it is only registered online."""

    opened: DossierOpened
    received_at: datetime | None


@dataclass(frozen=True)
class MakeDecision:
    """An official's decision on a dossier."""

    dossier_id: str
    decision: Decision
    official_id: str
    reason: str | None = None
    to_agency: str | None = None
    amount: int | None = None
    new_due_at: datetime | None = None
    result: dict[str, Any] = field(default_factory=dict)
    documents: tuple[str, ...] = ()  # request_supplement: the kinds asked for
    #: The agencies the authenticated official acts for: the dossier must be in one's hands.
    #: None: not checked (the service runs without authentication).
    acting_for: frozenset[str] | None = None
    #: approve: which of the dossier's candidate identification numbers to issue: the next one when
    #: another child already holds the previous (see make_decision).
    number_draw: int = 0
    #: The dossier version the official decided on (``If-Match``): any other is refused, not decided
    #: again on the newer state. None: decided on whatever the dossier is then.
    expected_version: int | None = None


@dataclass(frozen=True)
class ProvideSupplement:
    dossier_id: str
    documents: tuple[Document, ...] = ()


@dataclass(frozen=True)
class ConfirmPayment:
    dossier_id: str
    amount: int
    online: bool


@dataclass(frozen=True)
class WithdrawDossier:
    dossier_id: str
    reason: str


@dataclass(frozen=True)
class CompleteRegistryCommand:
    dossier_id: str
    command_id: str
    result: dict[str, Any]


@dataclass(frozen=True)
class FailRegistryCommand:
    dossier_id: str
    command_id: str
    reason: str


@dataclass(frozen=True)
class StartBundle:
    """Run the saga of a submitted bundle."""

    saga: BundleSaga


TimerKind = Literal["due_soon", "overdue", "acceptance_overdue"]


@dataclass(frozen=True)
class FireTimer:
    dossier_id: str
    kind: TimerKind

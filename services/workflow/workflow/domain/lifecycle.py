"""The national dossier lifecycle as an explicit transition table.

Every change of a dossier is an :class:`Action`; ``TRANSITIONS[action]`` maps each status the action
is allowed from to the status it leads to. Anything not in the table is an
:class:`~workflow.domain.errors.IllegalTransition` — the aggregate never changes silently.

``None`` as a *source* means "no dossier yet"; ``RESUME`` as a *target* means "back to the status the
dossier had before the supplement request" (an online dossier sent back before acceptance returns to
``registered``, one in processing to ``processing``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from contracts.events.common import DossierStatus as S
from workflow.domain.errors import IllegalTransition


class Action(StrEnum):
    OPEN = "open"
    RECEIVE = "receive"
    REFUSE = "refuse"
    START_STEP = "start_step"
    FORWARD = "forward"
    REQUEST_REGISTRY = "request_registry"
    REQUEST_SUPPLEMENT = "request_supplement"
    RECEIVE_SUPPLEMENT = "receive_supplement"
    REQUEST_PAYMENT = "request_payment"
    CONFIRM_PAYMENT = "confirm_payment"
    ISSUE_RESULT = "issue_result"
    RETURN_RESULT = "return_result"
    STOP = "stop"
    WITHDRAW = "withdraw"
    EXTEND = "extend"
    MARK_DUE_SOON = "mark_due_soon"
    MARK_OVERDUE = "mark_overdue"
    MARK_ACCEPTANCE_OVERDUE = "mark_acceptance_overdue"


RESUME: Final = "resume"
Target = S | str

_OPEN_STATES = (S.RECEIVED, S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED)
_CLOCK_RUNNING = (S.RECEIVED, S.PROCESSING, S.PAYMENT_REQUESTED)

TRANSITIONS: Final[dict[Action, dict[S | None, Target]]] = {
    Action.OPEN: {None: S.REGISTERED},
    Action.RECEIVE: {S.REGISTERED: S.RECEIVED},
    # Refused at reception; from a supplement request only one made before acceptance (the dossier
    # would resume ``registered``): one sent back in processing is stopped instead.
    Action.REFUSE: {S.REGISTERED: S.REFUSED, S.RECEIVED: S.REFUSED, S.SUPPLEMENT_REQUESTED: S.REFUSED},
    Action.START_STEP: {S.RECEIVED: S.PROCESSING, S.PROCESSING: S.PROCESSING},
    Action.FORWARD: {S.PROCESSING: S.PROCESSING},
    Action.REQUEST_REGISTRY: {S.PROCESSING: S.PROCESSING},
    Action.REQUEST_SUPPLEMENT: {S.REGISTERED: S.SUPPLEMENT_REQUESTED, S.PROCESSING: S.SUPPLEMENT_REQUESTED},
    Action.RECEIVE_SUPPLEMENT: {S.SUPPLEMENT_REQUESTED: RESUME},
    Action.REQUEST_PAYMENT: {S.PROCESSING: S.PAYMENT_REQUESTED},
    # A citizen may pay before anyone asks (online, with the submission) or when collecting the
    # result, which the counter may have recorded as handed over first: the payment is recorded
    # wherever the dossier stands, and settles a request if one waits. Intake takes no money for a
    # dossier it knows ended without a result; one paid as it ended is recorded too, as owed back.
    Action.CONFIRM_PAYMENT: {
        **{s: s for s in (S.REGISTERED, S.RECEIVED, S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.PROCESSED)},
        **{s: s for s in (S.RETURNED, S.REFUSED, S.STOPPED, S.WITHDRAWAL_REQUESTED)},
        S.PAYMENT_REQUESTED: S.PROCESSING,
    },
    Action.ISSUE_RESULT: {S.PROCESSING: S.PROCESSED},
    Action.RETURN_RESULT: {S.PROCESSED: S.RETURNED},
    Action.STOP: {s: S.STOPPED for s in _OPEN_STATES},
    Action.WITHDRAW: {s: S.WITHDRAWAL_REQUESTED for s in (S.REGISTERED, *_OPEN_STATES)},
    Action.EXTEND: {s: s for s in _OPEN_STATES},
    Action.MARK_DUE_SOON: {s: s for s in _CLOCK_RUNNING},
    Action.MARK_OVERDUE: {s: s for s in _OPEN_STATES},
    Action.MARK_ACCEPTANCE_OVERDUE: {S.REGISTERED: S.REGISTERED},
}

#: No action leads out of these: the dossier has ended (a payment is still recorded, the status kept).
TERMINAL: Final = frozenset({S.REFUSED, S.STOPPED, S.WITHDRAWAL_REQUESTED, S.RETURNED})

#: Ended without a result: a payment recorded now is owed back to the citizen.
ENDED_WITHOUT_RESULT: Final = frozenset({S.REFUSED, S.STOPPED, S.WITHDRAWAL_REQUESTED})

#: The dossier's processing is over (the result exists or it ended without one): SLA timers stop.
FINISHED: Final = TERMINAL | {S.PROCESSED}


def next_status(action: Action, current: S | None, resume: S | None = None) -> S:
    """The status ``action`` leads to from ``current``; IllegalTransition if the table has no such move."""
    allowed = TRANSITIONS[action]
    if current not in allowed:
        raise IllegalTransition(action.value, current)
    target = allowed[current]
    if target == RESUME:
        if resume is None:
            raise IllegalTransition(action.value, current, "no status to resume")
        return resume
    assert isinstance(target, S)
    return target


def allowed_actions(current: S | None) -> list[Action]:
    """The actions the table allows from ``current``."""
    return [action for action, moves in TRANSITIONS.items() if current in moves]

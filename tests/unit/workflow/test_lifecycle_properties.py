"""Property-based tests of the transition table and the aggregate that enforces it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope
from contracts.events.common import DossierStatus
from contracts.events.registry import RegistryCommandRequested
from workcal import WorkCalendar, vietnam_tz
from workflow.domain.dossier import Dossier
from workflow.domain.errors import IllegalTransition
from workflow.domain.internal_events import DossierOpened
from workflow.domain.lifecycle import RESUME, TERMINAL, TRANSITIONS, Action, allowed_actions, next_status
from workflow.domain.state import DossierState, fold

START = datetime(2024, 6, 3, 9, 0, tzinfo=vietnam_tz())
CALENDAR = WorkCalendar()
OPENED = DossierOpened(
    dossier_id="d-1",
    code="SKHDT-BINHAN-240603-0001",
    procedure_code="2.001610",
    channel="online",
    receiving_agency="TTPVHCC-BINHAN",
    competent_agency="SKHDT-BINHAN",
    fee=50_000,
    submitted_at=START,
)


def _command(dossier: Dossier) -> RegistryCommandRequested:
    return RegistryCommandRequested(
        command_id="c-1", system="population_db", operation="op", dossier_id="d-1", data={}, requested_at=dossier.now
    )


# Each action as the aggregate method that performs it, with plausible arguments.
PERFORM = {
    Action.OPEN: lambda d: d.open(OPENED),
    Action.RECEIVE: lambda d: d.receive(received_at=d.now, due_at=d.now + timedelta(days=3)),
    Action.REFUSE: lambda d: d.refuse("thiếu hồ sơ", "cb"),
    Action.START_STEP: lambda d: d.start_step("processing", "SKHDT-BINHAN", d.now + timedelta(days=1)),
    Action.FORWARD: lambda d: d.forward("STNMT-BINHAN", None, "cb"),
    Action.REQUEST_REGISTRY: lambda d: d.request_registry(_command(d)),
    Action.REQUEST_SUPPLEMENT: lambda d: d.request_supplement("bổ sung", "cb"),
    Action.RECEIVE_SUPPLEMENT: lambda d: d.receive_supplement(CALENDAR),
    Action.REQUEST_PAYMENT: lambda d: d.request_payment(50_000, "cb"),
    Action.CONFIRM_PAYMENT: lambda d: d.confirm_payment(50_000, True),
    Action.ISSUE_RESULT: lambda d: d.issue_result("Giấy chứng nhận", {}, "X-KQ1", "cb"),
    Action.RETURN_RESULT: lambda d: d.return_result("cb"),
    Action.STOP: lambda d: d.stop("dừng"),
    Action.WITHDRAW: lambda d: d.withdraw("rút"),
    Action.EXTEND: lambda d: d.extend("quá tải", (d.state.due_at or d.now) + timedelta(days=5), "cb"),
    Action.MARK_DUE_SOON: lambda d: d.mark_due_soon(),
    Action.MARK_OVERDUE: lambda d: d.mark_overdue("deadline_passed"),
    Action.MARK_ACCEPTANCE_OVERDUE: lambda d: d.mark_acceptance_overdue(d.now),
}


def test_every_action_has_a_performer_and_every_status_is_reachable() -> None:
    assert set(PERFORM) == set(Action)
    reachable = {target for moves in TRANSITIONS.values() for target in moves.values() if target != RESUME}
    assert reachable == set(DossierStatus)


def test_nothing_leaves_a_terminal_status() -> None:
    for status in TERMINAL:
        assert all(next_status(action, status) is status for action in allowed_actions(status))
    # Only a payment is still recorded (one made collecting the result, or as the dossier ended).
    assert {s: allowed_actions(s) for s in TERMINAL} == {s: [Action.CONFIRM_PAYMENT] for s in TERMINAL}


@given(
    st.sampled_from(list(Action)),
    st.sampled_from([None, *DossierStatus]),
    st.sampled_from([DossierStatus.REGISTERED, DossierStatus.PROCESSING]),  # what a supplement resumes
)
def test_the_table_either_names_the_target_or_refuses(
    action: Action, status: DossierStatus | None, resume: DossierStatus
) -> None:
    """It only asserted that the answer was some status, which every answer is: a next_status that
    returned the current status, or the wrong one to resume, passed."""
    if status in TRANSITIONS[action]:
        target = TRANSITIONS[action][status]
        assert next_status(action, status, resume=resume) is (resume if target == RESUME else target)
        if target == RESUME:  # with nothing to resume, the move is refused rather than guessed
            _refused(action, status)
    else:
        _refused(action, status)


def _refused(action: Action, status: DossierStatus) -> None:
    with pytest.raises(IllegalTransition) as refused:
        next_status(action, status)
    assert refused.value.action == action.value


def _store(dossier: Dossier, stored: list[Envelope]) -> None:
    for event in dossier.pending:
        stored.append(Envelope.wrap(event, key="d-1", producer="test", occurred_at=dossier.now))
    dossier.pending = []


# A step: (legal?, index) — legal steps pick among the moves the table allows (so walks go deep),
# the others pick any action (so refusals are exercised too).
STEPS = st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=50)), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS, st.integers(min_value=1, max_value=240))
def test_random_walks_follow_the_table_and_replay_to_the_same_state(
    steps: list[tuple[bool, int]], minutes_between: int
) -> None:
    stored: list[Envelope] = []
    now = START
    state = DossierState("d-1")
    for legal, index in steps:
        choices = allowed_actions(state.status) if legal else list(Action)
        if not choices:
            break
        action = choices[index % len(choices)]
        now += timedelta(minutes=minutes_between)
        dossier = Dossier(state, now)
        before, resume = state.status, state.resume_status
        snapshot = (state.status, len(state.history), state.supplement_requests, state.due_at)
        try:
            PERFORM[action](dossier)
        except IllegalTransition:
            # A refused action decided nothing and changed nothing.
            assert dossier.pending == []
            assert (state.status, len(state.history), state.supplement_requests, state.due_at) == snapshot
            continue
        target = TRANSITIONS[action][before]
        assert state.status is (resume if target == RESUME else target)
        for event in dossier.pending:
            status = getattr(event, "status", None)
            if status is not None:
                assert event.status_code == status.code  # type: ignore[attr-defined]
        _store(dossier, stored)
    replayed = fold("d-1", stored)
    assert replayed.status == state.status
    assert replayed.history == state.history
    assert replayed.control_sheet == state.control_sheet
    assert (replayed.due_at, replayed.overdue, replayed.supplement_requests, replayed.on_time) == (
        state.due_at,
        state.overdue,
        state.supplement_requests,
        state.on_time,
    )
    assert replayed.version == len(stored)

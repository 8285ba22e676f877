"""A poison event's error is told to the operator (log, dead_letters.error, the DLQ's error header)
by its type, where in the message it is and what is wrong there, never by the values it holds: they
are a citizen's personal data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from contracts.envelope import Envelope
from contracts.events.common import Applicant
from contracts.events.intake import DossierSubmitted
from eventkit import consumer as consumer_module
from eventkit.consumer import Dispatcher, InboxConsumer, describe_error
from eventkit.uow import SqlUnitOfWork
from tests.support.events import happened

ID_NUMBER, PHONE = "036190000123", "0912345678"
AT = datetime(2026, 12, 7, 8, tzinfo=UTC)


def submitted_without_the_applicants_name() -> bytes:
    """A DossierSubmitted whose applicant lacks full_name: the envelope parses, the payload does not."""
    payload = DossierSubmitted(
        dossier_id="d-1", code="UBND-X-YENHOA-261207-0001", procedure_code="1.001", catalogue_version="test",
        channel="counter", receiving_agency="UBND-X-YENHOA", competent_agency="UBND-X-YENHOA",
        applicant=Applicant(id_number=ID_NUMBER, full_name="Nguyễn Văn An", phone=PHONE), form={}, documents=[],
        fee=0, status="received", submitted_at=AT, received_at=AT, due_at=AT,  # type: ignore[arg-type]
    )  # fmt: skip
    message = json.loads(Envelope.wrap(payload, key="d-1", producer="intake").to_json())
    del message["payload"]["applicant"]["full_name"]
    return json.dumps(message).encode()


def record(value: bytes, offset: int = 0) -> ConsumerRecord:
    return ConsumerRecord("intake.events", 0, offset, 0, 0, b"d-1", value, None, len(value), 0, [])


class _Connection:
    """Enough of a connection for a unit of work that runs no SQL of its own."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        self.invalidated = False

    async def begin(self) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def close(self) -> None: ...


class _Engine:
    async def connect(self) -> _Connection:
        return _Connection()


class _Publisher:
    def __init__(self) -> None:
        self.headers: list[dict[str, bytes]] = []

    async def publish(self, messages: list[Any], *, headers: list[tuple[str, bytes]]) -> None:
        self.headers.append(dict(headers))


class _Log:
    """Every line the consumer logs, as text."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **fields: self.lines.append(f"{level} {event} {fields}")


class Consumer(InboxConsumer):
    """The consumer's own batching, retries and dead-lettering; the inbox and dead_letters writes recorded."""

    def __init__(self, **handlers: Any) -> None:
        self.publisher = _Publisher()
        super().__init__(
            _Engine(), Dispatcher(handlers), self.publisher,  # type: ignore[arg-type]
            name="test", topics=["intake.events"], bootstrap_servers="127.0.0.1:1", max_attempts=1,
        )  # fmt: skip
        self.stored_errors: list[str] = []

    async def _record_batch(self, uow: SqlUnitOfWork, items: list[Any]) -> set[Any]:
        return {envelope.event_id for _, envelope in items}  # every event new

    async def _record_dead_letter(self, params: dict[str, object]) -> tuple[int, datetime | None, bool]:
        self.stored_errors.append(str(params["err"]))
        return 1, None, True

    async def _mark_published(self, letter: int) -> None: ...


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> _Log:
    lines = _Log()
    monkeypatch.setattr(consumer_module, "log", lines)
    return lines


async def parse(envelope: Envelope, uow: SqlUnitOfWork) -> None:
    envelope.parse_payload()  # what every handler does first


async def apply(envelope: Envelope, uow: SqlUnitOfWork) -> None:
    pass


def everything_told(consumer: Consumer, logged: _Log) -> str:
    headers = [h["error"].decode() for h in consumer.publisher.headers]
    return "\n".join([*logged.lines, *consumer.stored_errors, *headers])


async def test_a_payload_that_does_not_validate_is_dead_lettered_without_the_citizens_data(logged: _Log) -> None:
    """Pydantic's text quotes what it refused: the applicant's phone and id number went in clear to the
    ERROR log, dead_letters.error and the DLQ header, and to the "batch rolled back" line before them."""
    consumer = Consumer(DossierSubmitted=parse, TestSomethingHappened=apply)
    good, poison = record(happened("d-1", 1).to_json(), 0), record(submitted_without_the_applicants_name(), 1)
    await consumer.process([good, poison])  # tried together first, then each alone
    told = everything_told(consumer, logged)
    assert "batch rolled back" in told and (consumer.stats.processed, consumer.stats.dead_lettered) == (1, 1)
    assert PHONE not in told and ID_NUMBER not in told and "0361" not in told, told
    error = consumer.stored_errors[0]
    assert error.startswith("ValidationError: 1 validation error for DossierSubmitted: ")
    assert "applicant.full_name: Field required [type=missing]" in error  # what is wrong, and where
    assert consumer.publisher.headers[0]["error"].decode() == error


@pytest.mark.parametrize(
    "value",
    [
        json.dumps({"payload": {"applicant": {"id_number": ID_NUMBER, "phone": PHONE}}}).encode(),
        json.dumps({"applicant": {"id_number": ID_NUMBER, "phone": PHONE}}).encode(),  # not in an envelope
        f'{{"payload": {{"phone": "{PHONE}"'.encode(),  # cut short
        json.dumps([ID_NUMBER, PHONE]).encode(),
    ],
)
async def test_a_malformed_envelope_is_dead_lettered_without_the_values_it_holds(value: bytes, logged: _Log) -> None:
    """'malformed envelope: {exc}' carried pydantic's input_value, the whole message."""
    consumer = Consumer()
    await consumer.process([record(value)])
    told = everything_told(consumer, logged)
    assert consumer.stats.dead_lettered == 1 and consumer.stored_errors[0].startswith("malformed envelope: ")
    assert PHONE not in told and ID_NUMBER not in told, told
    assert "[type=" in consumer.stored_errors[0]  # what pydantic found wrong, still


def test_other_errors_are_told_by_their_type_and_message() -> None:
    assert describe_error(ValueError("fee 12000 does not match the procedure's 15000")) == (
        "ValueError: fee 12000 does not match the procedure's 15000"
    )


def test_a_database_error_is_told_without_the_row_postgresql_quotes() -> None:
    """A constraint a handler's statement broke: PostgreSQL's DETAIL line names the refused values."""
    refused = Exception(
        'duplicate key value violates unique constraint "people_pkey"\n'
        f"DETAIL:  Key (id_number)=({ID_NUMBER}) already exists.\n[SQL: INSERT INTO people VALUES ($1)]"
    )
    told = describe_error(refused)
    assert ID_NUMBER not in told
    assert told.splitlines() == [
        'Exception: duplicate key value violates unique constraint "people_pkey"',
        "[SQL: INSERT INTO people VALUES ($1)]",
    ]

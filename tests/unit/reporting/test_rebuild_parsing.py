"""What a rebuild reads from the topics and what it leaves out."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.catalogue import load_catalogue
from reporting.adapters.catalogue_info import CatalogueInfo
from reporting.domain.outcome import Derivation
from reporting.entrypoints.consumer import projected_event_types
from reporting.service_layer.rebuild import Rebuilder, RebuildInProgress, RebuildStatus
from tests.support.events import SomethingHappened  # noqa: F401 - registers a type reporting does not project
from tests.unit.reporting import scenario
from workcal import WorkCalendar


def nowhere() -> Rebuilder:
    """A rebuilder whose database nothing listens on (never connected, unless a rebuild is started)."""
    catalogue = CatalogueInfo.from_catalogue(load_catalogue())
    return Rebuilder(
        create_async_engine("postgresql+asyncpg://u@127.0.0.1:1/x"),
        lambda: None,  # type: ignore[arg-type,return-value]
        Derivation(WorkCalendar(), catalogue.field_of_procedure),
        set(projected_event_types()),
        live_consumer="reporting.projections",
    )


def test_an_event_in_a_version_this_build_does_not_know_is_left_out_not_taken_as_seen() -> None:
    """Logged by the rebuild, the live consumer's dead letter of it, replayed after the upgrade, would be
    a duplicate and never applied."""
    rebuilder = nowhere()
    known = scenario.build().all()[0]

    def other(n: int, **changes: Any) -> Any:
        return known.model_copy(update={"event_id": known.event_id.__class__(int=known.event_id.int + n), **changes})

    newer = other(1, version=2)
    new_type = other(2, type="DossierReopened")  # a type only a newer build knows: skipped, it was lost
    ignored = other(3, type="TestSomethingHappened")  # known to this build, not projected
    records: list[Any] = [SimpleNamespace(value=e.to_json()) for e in (known, newer, new_type, ignored)]
    status = RebuildStatus(id="r-1")
    parsed = rebuilder._parse(records, status)
    assert [envelope.event_id for envelope, _ in parsed] == [known.event_id]
    assert (status.unknown_versions, status.skipped) == (2, 1)


async def test_two_requests_in_one_tick_start_one_rebuild() -> None:
    """The lock was taken once the task ran: both requests saw it free, and the second replayed
    everything again behind the first, the first's status no longer readable."""
    rebuilder = nowhere()  # a rebuild started fails: nothing listens
    first = rebuilder.start()
    with pytest.raises(RebuildInProgress):
        rebuilder.start()
    finished = await rebuilder.wait()
    assert finished is first and first.state == "failed"


async def test_a_failure_with_no_message_still_ends_the_rebuild_as_failed() -> None:
    """Its first line was taken from an empty text: the rebuild raised IndexError inside its handler
    and said 'running' for ever."""

    class TimesOut:
        async def __aenter__(self) -> None:
            raise TimeoutError()  # a connect that timed out: no text at all

        async def __aexit__(self, *_: object) -> bool:
            return False

    rebuilder = nowhere()
    rebuilder._engine = SimpleNamespace(connect=TimesOut, dispose=rebuilder._engine.dispose)  # type: ignore[assignment]
    status = RebuildStatus(id="0190000000000000000000000000abcd")
    await rebuilder.run(status)
    assert (status.state, status.error) == ("failed", "TimeoutError")

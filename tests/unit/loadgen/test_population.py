"""The people a submission names, seeded into the registry simulator as a real population
database would know them: everyone with a number but a newborn, the deceased with a residence to
deregister, and each of them acceptable to the simulator (number, sex and birth year agree)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from contracts.catalogue import load_catalogue
from loadgen.mix import Mix
from loadgen.people import today_in_vietnam
from loadgen.population import batches, residents
from registry_sim import SimulatorSettings, create_app

DEATH = {
    "bundle_type": "death",
    "applicant": {"id_number": "036075000111", "full_name": "Nguyễn Văn Cường"},
    "form": {
        "deceased": {"id_number": "036050000222", "full_name": "Nguyễn Văn Đức", "date_of_death": "2026-11-30"},
        "declarant_relation": "con",
        "funeral_allowance": "none",
    },
}
NEWBORN_RESIDENCE = {
    "procedure_code": "1.004222",
    "applicant": {"id_number": "036093000456", "full_name": "Nguyễn Văn Bố"},
    "form": {
        "person": {"id_number": "036224001122", "full_name": "Nguyễn Văn An", "birth_certificate_number": "12",
                   "date_of_birth": "2026-11-01"},
        "address": "Số 3 đường Lê Lợi",
        "household_head_id_number": "036093000456",
    },
}  # fmt: skip


def test_the_deceased_and_the_applicant_are_known_with_a_residence() -> None:
    seeds = {s["id_number"]: s for s in residents(DEATH)}
    assert set(seeds) == {"036075000111", "036050000222"}
    deceased = seeds["036050000222"]
    born = (deceased["sex"], deceased["date_of_birth"], deceased["birth_province_code"])
    assert born == ("male", "1950-01-01", "036")  # what the number encodes
    assert deceased["permanent_residence"]["province_code"] == "036"


def test_a_newborn_is_not_seeded_its_household_head_is_once() -> None:
    seeds = residents(NEWBORN_RESIDENCE)
    assert [s["id_number"] for s in seeds] == ["036093000456"]  # applicant and household head: one person


@pytest.fixture
async def simulator() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(SimulatorSettings(seed=3)))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry-sim") as client:
        yield client


async def test_everyone_a_run_names_is_accepted_by_the_simulator(simulator: httpx.AsyncClient) -> None:
    mix = Mix(load_catalogue(), seed=11, today=today_in_vietnam())
    seeds = [seed for _ in range(400) for seed in residents(mix.next().body)]
    seeded = 0
    for batch in batches(seeds, size=250):
        answer = await simulator.post("/admin/population/citizens/batch", json=batch)
        assert answer.status_code == 200, answer.text
        seeded += answer.json()["seeded"]
    assert seeded == len({s["id_number"] for s in seeds}) > 400

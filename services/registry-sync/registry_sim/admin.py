"""Admin API: the knobs fault and load tests turn, and the views they assert on.

Admin calls are never faulted and never counted; tampering with records here (losing a portal
dossier, rolling back its state) is how reconciliation tests create the drift they repair.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import ValidationError

from registry_sim import population
from registry_sim.errors import SimError
from registry_sim.faults import FaultConfig, System
from registry_sim.gateway import SimDep
from registry_sim.state import Record, SimulatorState

Patch = Annotated[dict[str, Any], Body(description="Fields to change; the others keep their values.")]
CollectionPath = Annotated[str, Path(max_length=64)]
KeyPath = Annotated[str, Path(max_length=128)]


class CitizenSeed(population.CitizenCreate):
    """A person the population database already knows (e.g. someone whose death will be registered)."""

    permanent_residence: population.ResidenceRegistration | None = None


def merged(config: FaultConfig, patch: dict[str, Any]) -> FaultConfig:
    try:
        return FaultConfig.model_validate({**config.model_dump(), **patch})
    except ValidationError as exc:
        raise SimError.from_validation(exc.errors()) from exc


def faults_json(sim: SimulatorState) -> dict[str, Any]:
    return {s.value: c.model_dump(mode="json") for s, c in sim.faults.configs.items()}


def stored(sim: SimulatorState, system: System, collection: str, key: str) -> Record:
    record = sim.records.data[system.value].get(collection, {}).get(key)
    if record is None:
        raise SimError(404, "not_found", f"no {system.value}/{collection} record {key}", field="key")
    return record


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.get("/faults")
    async def get_faults(sim: SimDep) -> dict[str, Any]:
        """Every system's fault configuration."""
        return faults_json(sim)

    @router.patch("/faults")
    async def patch_all_faults(patch: Patch, sim: SimDep) -> dict[str, Any]:
        """Change the given fault fields on every system at once (e.g. a total outage)."""
        configs = {s: merged(c, patch) for s, c in sim.faults.configs.items()}
        sim.faults.configs = configs  # all or nothing: validated before any is applied
        return faults_json(sim)

    @router.delete("/faults")
    async def clear_faults(sim: SimDep) -> dict[str, Any]:
        """Make every system healthy again."""
        sim.faults.configs = {s: FaultConfig() for s in System}
        return faults_json(sim)

    @router.get("/faults/{system}")
    async def get_system_faults(system: System, sim: SimDep) -> dict[str, Any]:
        """One system's fault configuration."""
        return sim.faults.configs[system].model_dump(mode="json")

    @router.put("/faults/{system}")
    async def put_system_faults(system: System, config: FaultConfig, sim: SimDep) -> dict[str, Any]:
        """Replace one system's fault configuration (omitted fields take their healthy defaults)."""
        sim.faults.configs[system] = config
        return config.model_dump(mode="json")

    @router.patch("/faults/{system}")
    async def patch_system_faults(system: System, patch: Patch, sim: SimDep) -> dict[str, Any]:
        """Change the given fault fields of one system."""
        sim.faults.configs[system] = merged(sim.faults.configs[system], patch)
        return sim.faults.configs[system].model_dump(mode="json")

    @router.post("/reset")
    async def reset(
        sim: SimDep,
        seed: Annotated[int | None, Query(description="Reseed; default: the configured seed.")] = None,
        keep_faults: Annotated[bool, Query(description="Keep the current fault settings.")] = False,
    ) -> dict[str, Any]:
        """Forget every record, idempotency key and counter."""
        used = sim.settings.seed if seed is None else seed
        sim.reset(used, keep_faults=keep_faults)
        return {"status": "reset", "seed": used}

    @router.get("/counters")
    async def get_counters(sim: SimDep) -> dict[str, Any]:
        """Calls, effects per operation, injected faults, replays and late answers, per system."""
        systems = {s.value: sim.counters.snapshot(s.value) for s in System}
        return {"systems": systems, "idempotency_keys": len(sim.idempotency)}

    @router.get("/counters/{system}")
    async def get_system_counters(system: System, sim: SimDep) -> dict[str, Any]:
        """One system's counters."""
        return sim.counters.snapshot(system.value)

    @router.get("/records")
    async def get_records(sim: SimDep) -> dict[str, Any]:
        """Every stored record, per system and collection."""
        return sim.records.dump()

    @router.get("/records/{system}")
    async def get_system_records(system: System, sim: SimDep) -> dict[str, Any]:
        """One system's stored records, per collection."""
        collections: dict[str, Any] = sim.records.dump(system.value)[system.value]
        return collections

    @router.get("/records/{system}/{collection}")
    async def get_collection(system: System, collection: CollectionPath, sim: SimDep) -> list[Record]:
        """One collection's records (empty if nothing was stored in it)."""
        return list(sim.records.data[system.value].get(collection, {}).values())

    @router.patch("/records/{system}/{collection}/{key}")
    async def tamper(system: System, collection: CollectionPath, key: KeyPath, patch: Patch, sim: SimDep) -> Record:
        """Overwrite fields of a stored record, unvalidated (simulates drift, e.g. a stale state)."""
        record = stored(sim, system, collection, key)
        record.update(patch)
        return record

    @router.delete("/records/{system}/{collection}/{key}", status_code=204)
    async def lose(system: System, collection: CollectionPath, key: KeyPath, sim: SimDep) -> Response:
        """Delete a stored record (simulates the external system losing it)."""
        stored(sim, system, collection, key)
        del sim.records.data[system.value][collection][key]
        return Response(status_code=204)

    @router.post("/population/citizens", status_code=201)
    async def seed_citizen(body: CitizenSeed, sim: SimDep) -> Record:
        """Add a person the population database already knows, without counting an effect."""
        return _seed(sim, body)

    @router.post("/population/citizens/batch")
    async def seed_citizens(body: Annotated[list[CitizenSeed], Body(max_length=1000)], sim: SimDep) -> dict[str, int]:
        """Add many people at once (a load generator's population), each under the number given;
        numbers already known are left as they are. All or nothing: a bad entry adds nobody."""
        citizens = sim.records.collection(population.SYSTEM, population.CITIZENS)
        for index, seed in enumerate(body):
            if seed.id_number is None:
                raise SimError.invalid(f"{index}.id_number", "a seeded person needs their number")
        fresh = {seed.id_number: (index, seed) for index, seed in enumerate(body) if seed.id_number not in citizens}
        added: list[str] = []
        for number, (index, seed) in fresh.items():
            try:
                _seed(sim, seed)
            except SimError as exc:
                for done in added:
                    del citizens[done]
                where = f"{index}.{exc.field}" if exc.field else str(index)
                raise SimError(exc.status, exc.error, f"{where}: {exc.message}", field=where) from exc
            added.append(str(number))
        return {"seeded": len(fresh), "known": len(body) - len(fresh)}

    return router


def _seed(sim: SimulatorState, body: CitizenSeed) -> Record:
    base = population.CitizenCreate.model_validate(body.model_dump(exclude={"permanent_residence"}))
    record = population.assign(sim, base)
    if body.permanent_residence is not None:
        population.register_residence(sim, record["id_number"], body.permanent_residence)
    return record

"""The people a submission names, as the national population database must already know them.

A real population database knows every citizen; the registry simulator knows only whom it is told
of. Registering a residence, deregistering one after a death or checking a household head all look
the person up, so a run against the simulator first seeds the people its submissions name (through
the simulator's admin API, in batches); otherwise those steps end in "no citizens record" and the
mix is not the one it claims to be. A newborn is not seeded: its birth registration gives it a
number, and residence registration records it under that number.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any

import httpx

from contracts import citizen_id
from loadgen.safety import require_loopback

#: Where the seeded people live: the demo province (registry-sync's default PROVINCE_CODE).
PROVINCE = "036"
#: The name a person known only by a number in the form (a household head) is seeded under.
NUMBER_ONLY_NAME = "Nguyễn Văn Hộ"
BATCH = 1000


class PopulationRefused(RuntimeError):
    """The simulator refused a batch of people."""


def residents(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The people ``body`` (a submission) names, as the simulator's citizen seeds, once each."""
    found: dict[str, dict[str, Any]] = {}
    applicant = body.get("applicant")
    if isinstance(applicant, Mapping):
        _person(applicant, found)
    _walk(body.get("form"), found)
    return list(found.values())


def _walk(node: Any, found: dict[str, dict[str, Any]]) -> None:
    if isinstance(node, Mapping):
        _person(node, found)
        for key, value in node.items():
            if key.endswith("id_number") and key != "id_number" and _valid(value):
                found.setdefault(value, _seed(value, NUMBER_ONLY_NAME, None, None))
            _walk(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found)


def _person(node: Mapping[str, Any], found: dict[str, dict[str, Any]]) -> None:
    number, name = node.get("id_number"), node.get("full_name")
    if not _valid(number) or not isinstance(name, str) or "birth_certificate_number" in node:
        return
    found.setdefault(number, _seed(number, name, node.get("sex"), node.get("date_of_birth"), node.get("address")))


def _valid(value: Any) -> bool:
    return isinstance(value, str) and citizen_id.is_valid(value)


def _seed(number: str, name: str, sex: Any, born: Any, address: Any = None) -> dict[str, Any]:
    parts = citizen_id.parse(number)
    return {
        "id_number": number,
        "full_name": name,
        "sex": sex if sex in ("male", "female") else parts.sex.value,
        # The number gives the year; the day is the form's when it has one.
        "date_of_birth": born if isinstance(born, str) else date(parts.birth_year, 1, 1).isoformat(),
        "birth_province_code": parts.province_code,
        "permanent_residence": {
            "address": address if isinstance(address, str) and address else "Thôn Hải Nạp, xã Yên Hòa",
            "province_code": PROVINCE,
        },
    }


def batches(seeds: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """``seeds`` without repeats, ``size`` at a time."""
    seen: set[str] = set()
    batch: list[dict[str, Any]] = []
    for seed in seeds:
        if seed["id_number"] in seen:
            continue
        seen.add(seed["id_number"])
        batch.append(seed)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def seed(simulator: str, seeds: Iterable[dict[str, Any]]) -> int:
    """Tell the simulator (loopback only) of ``seeds``; returns how many it did not know yet."""
    host, port = require_loopback(simulator)
    added = 0
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30.0, trust_env=False) as client:
        for batch in batches(seeds):
            response = await client.post("/admin/population/citizens/batch", json=batch)
            if response.status_code != 200:
                raise PopulationRefused(f"{response.status_code} {response.text[:300]}")
            added += int(response.json()["seeded"])
    return added

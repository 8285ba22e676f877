"""The stack's public HTTP APIs as the e2e tests use them: the national portal submitting to intake,
officials working through workflow's task list, the citizen reading intake's views and acting, and the
registry simulator standing in for the national systems. Every wait polls with a deadline."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import reduce
from typing import Any

import httpx

from contracts import citizen_id
from contracts.catalogue import load_catalogue
from devstack.identity import DevIdentity
from tests.support.kafka import eventually
from workcal import WorkCalendar, vietnam_tz

PROVINCE = "036"  # the demo province: the services' development default, and compose-test.sh's PROVINCE_CODE
COMMUNE = "UBND-X-YENHOA"  # the commune counter every flow is received at
FLOW_TIMEOUT = 45.0  # seconds for one asynchronous hop (events, registry calls, portal sync) to show

Json = dict[str, Any]
#: The official the tests read workflow as.
READER = "cb-e2e"
#: The services whose endpoints take people's tokens.
AUDIENCES = ("workflow", "registry-sync", "reporting")


def today() -> date:
    return datetime.now(vietnam_tz()).date()


def new_person_number(sex: str, birth_year: int) -> str:
    """A well-formed number nobody else in this session has (random tail)."""
    return citizen_id.generate(PROVINCE, sex, birth_year, random.Random(uuid.uuid4().int))


def pick(document: Json, paths: Iterable[str]) -> Json:
    """The values at dotted ``paths`` of a JSON document (``"resolved.by_end.stopped"``)."""
    return {path: reduce(lambda node, key: node[key], path.split("."), document) for path in paths}


def masked(number: str) -> str:
    """How the citizen's views show an identification number (spelt out here, not citizen_id.mask)."""
    return f"{number[:2]}{'*' * 8}{number[-2:]}"


@dataclass
class Officials:
    """Bearer tokens of the stack's identity provider (devstack's stand-in) for the officials the tests
    play; each acts for every agency of the catalogue, as the flows cross them all, and is an operator
    at every service. No identity: the stack runs without authentication and no header is sent."""

    identity: DevIdentity | None
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def headers(self, official_id: str = READER) -> dict[str, str]:
        if self.identity is None:
            return {}
        if official_id not in self._headers:
            self._headers[official_id] = self.identity.headers(
                official_id, load_catalogue().agencies, roles=["operator"], audience=AUDIENCES
            )
        return self._headers[official_id]

    def on(self, service: str, official: str = READER, given: Mapping[str, str] | None = None) -> dict[str, str]:
        """A request's headers to ``service``: the official's token where the service takes one, then ``given``."""
        return {**(self.headers(official) if service in AUDIENCES else {}), **(given or {})}


@dataclass
class StackApi:
    """One pooled client; ``urls`` maps each process name of the stack to its base URL. Workflow is
    called as an official (``READER`` unless a decision names another)."""

    urls: dict[str, str]
    http: httpx.AsyncClient
    officials: Officials = field(default_factory=lambda: Officials(None))

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        expect: int | tuple[int, ...],
        official: str = READER,
        **kw: Any,
    ) -> Any:
        kw["headers"] = self.officials.on(service, official, kw.get("headers"))
        response = await self.http.request(method, f"{self.urls[service]}{path}", **kw)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, f"{method} {service}{path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return await self.call("GET", service, path, expect=200, params=params or None)

    async def post(
        self, service: str, path: str, body: Json, *, expect: int = 201, idempotency_key: str | None = None
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self.call("POST", service, path, expect=expect, json=body, headers=headers)

    async def until(self, probe: Callable[[], Awaitable[Any]], *, timeout: float = FLOW_TIMEOUT) -> Any:
        """Poll ``probe`` until it returns something truthy; that value."""
        return await eventually(probe, timeout=timeout, interval=0.1)

    async def settled(
        self, read: Callable[[], Awaitable[Json]], done: Callable[[Json], bool], *, timeout: float = FLOW_TIMEOUT
    ) -> Json:
        """Poll ``read`` until ``done`` holds or the deadline passes; the last value either way, so the
        caller's assertion shows what differs."""
        deadline = time.monotonic() + timeout
        while True:
            value = await read()
            if done(value) or time.monotonic() > deadline:
                return value
            await asyncio.sleep(0.1)

    # --- the national portal and the citizen (intake) ---------------------------------------------

    async def dossier_view(self, ref: str) -> Json:
        view: Json = await self.get("intake", f"/v1/dossiers/{ref}")
        return view

    async def bundle_view(self, bundle_id: str) -> Json:
        view: Json = await self.get("intake", f"/v1/bundles/{bundle_id}")
        return view

    async def view_when(self, ref: str, check: Callable[[Json], bool]) -> Json:
        async def probe() -> Json | None:
            view = await self.dossier_view(ref)
            return view if check(view) else None

        found: Json = await self.until(probe)
        return found

    async def bundle_ended(self, bundle_id: str) -> Json:
        """The bundle's view once it ended and shows every step's ending. Bundle events are keyed by
        the bundle and step events by the dossier, so the view may learn either first."""

        async def probe() -> Json | None:
            view = await self.bundle_view(bundle_id)
            steps_ended = all(s["status"] in ("processed", "returned", "stopped", "refused") for s in view["steps"])
            return view if view["status"] in ("completed", "partially_completed") and steps_ended else None

        found: Json = await self.until(probe)
        return found

    # --- officials (workflow) ---------------------------------------------------------------------

    async def task(self, agency: str, dossier_id: str, waiting_for: str = "decision") -> Json:
        """The dossier's line on the agency's task list, once it waits there for ``waiting_for``."""

        async def probe() -> Json | None:
            listed = await self.get("workflow", "/v1/tasks", agency=agency, limit=1000)
            return next(
                (t for t in listed["tasks"] if t["dossier_id"] == dossier_id and t["waiting_for"] == waiting_for),
                None,
            )

        found: Json = await self.until(probe)
        return found

    async def decide(self, dossier_id: str, decision: str, official_id: str, **fields: Any) -> Json:
        body = {"decision": decision, "official_id": official_id, **fields}
        path = f"/v1/dossiers/{dossier_id}/decisions"
        state: Json = await self.call("POST", "workflow", path, expect=200, json=body, official=official_id)
        return state

    async def workflow_dossier(self, dossier_id: str) -> Json:
        state: Json = await self.get("workflow", f"/v1/dossiers/{dossier_id}")
        return state

    async def workflow_when(self, dossier_id: str, check: Callable[[Json], bool]) -> Json:
        async def probe() -> Json | None:
            # 404 until workflow has consumed the submission.
            response = await self.http.get(
                f"{self.urls['workflow']}/v1/dossiers/{dossier_id}", headers=self.officials.headers()
            )
            assert response.status_code in (200, 404), response.text
            state: Json | None = response.json() if response.status_code == 200 else None
            return state if state is not None and check(state) else None

        found: Json = await self.until(probe)
        return found

    # --- the national systems (registry simulator) ------------------------------------------------

    async def records(self, system: str, collection: str) -> list[Json]:
        found: list[Json] = await self.get("registry-simulator", f"/admin/records/{system}/{collection}")
        return found

    async def seed_citizen(self, *, full_name: str, sex: str, born: date, address: str) -> str:
        """Someone the population database already knows, with a permanent residence."""
        number = new_person_number(sex, born.year)
        body = {
            "id_number": number,
            "full_name": full_name,
            "sex": sex,
            "date_of_birth": born.isoformat(),
            "birth_province_code": PROVINCE,
            "permanent_residence": {"address": address, "province_code": PROVINCE},
        }
        await self.post("registry-simulator", "/admin/population/citizens", body)
        return number


def birth_bundle(mother_number: str, child_sex: str, born: date) -> Json:
    return {
        "bundle_type": "birth",
        "channel": "counter",
        "receiving_agency": COMMUNE,
        "applicant": {"id_number": mother_number, "full_name": "Trần Thị Bình", "phone": "0912345678"},
        "form": {
            "child": {
                "full_name": "Nguyễn Ngọc An",
                "sex": child_sex,
                "date_of_birth": born.isoformat(),
                "place_of_birth": "Bệnh viện Đa khoa tỉnh Bình An",
            },
            "mother": {"id_number": mother_number, "full_name": "Trần Thị Bình"},
            "residence": {
                "address": "Số 5 đường Lê Lợi, xã Yên Hòa, huyện Hòa Mỹ",
                "household_head_id_number": mother_number,
            },
        },
        "documents": [{"kind": "giay_chung_sinh", "digitized": True, "reused": False}],
    }


def death_bundle(
    deceased_number: str, choice: str, died: date, delivery: str = "counter", **deceased_extra: str
) -> Json:
    return {
        "bundle_type": "death",
        "channel": "counter",
        "receiving_agency": COMMUNE,
        "applicant": {"id_number": new_person_number("male", 1975), "full_name": "Nguyễn Văn Cường"},
        "form": {
            "deceased": {
                "id_number": deceased_number,
                "full_name": "Nguyễn Văn Đức",
                "date_of_death": died.isoformat(),
                "place_of_death": "Tại nhà",
                **deceased_extra,
            },
            "declarant_relation": "con",
            "funeral_allowance": choice,
        },
        "documents": [{"kind": "giay_bao_tu", "digitized": True, "reused": False}],
        "result_delivery": {"method": delivery},
    }


def new_due_date(due_at: str, days: int) -> str:
    """``days`` working days after ``due_at``, at the same time of day: an apology letter's new date
    must be a day the citizen can come."""
    due = datetime.fromisoformat(due_at).astimezone(vietnam_tz())
    day = WorkCalendar().add_working_days(due.date(), days)
    return datetime.combine(day, due.timetz()).isoformat()

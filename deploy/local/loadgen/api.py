"""The services' public HTTP APIs as the load generator uses them.

Submissions (the measured hot path) go through :class:`~loadgen.wire.WirePool`, or through httpx
with ``client="httpx"`` to compare; everything else (officials' tasks and decisions, citizens'
follow-ups, status reads) goes through one bounded ``httpx.AsyncClient`` per service.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson

from devstack.identity import DevIdentity
from loadgen.safety import loopback_url
from loadgen.stats import Recorder
from loadgen.wire import WirePool

ClientKind = Literal["wire", "httpx"]
#: The official of each agency who watches its task list.
LISTING_OFFICIAL = "CB-000"


@dataclass(frozen=True)
class Targets:
    """Base URLs of the services, all on loopback (checked here, before any request)."""

    intake: str
    workflow: str
    reporting: str | None = None
    #: The local identity provider stand-in (devstack's run directory ``identity``): officials call
    #: workflow with its tokens. None: no token is sent (a stack without AUTH_JWKS).
    identity: Path | None = None

    def __post_init__(self) -> None:
        for name in ("intake", "workflow", "reporting"):
            url = getattr(self, name)
            if url is not None:  # every client connects to the address, not to a name like "localhost"
                object.__setattr__(self, name, loopback_url(url))


@dataclass(frozen=True)
class Answer:
    status: int | str  # an HTTP status, or the name of the error when nothing came back
    body: Any
    seconds: float

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300


def items(payload: Any, *names: str) -> list[dict[str, Any]]:
    """A list of objects from a list payload or from the first of ``names`` present in an object."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for name in names:
            if isinstance(payload.get(name), list):
                return list(payload[name])
    return []


class Api:
    """Requests to the stack; each is recorded in ``recorder`` under its operation name."""

    def __init__(self, targets: Targets, recorder: Recorder, *, concurrency: int, client: ClientKind = "wire") -> None:
        self.targets = targets
        self.recorder = recorder
        self.client_kind = client
        self._submit_pool = WirePool(targets.intake, size=concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        timeout = httpx.Timeout(30.0, connect=5.0)
        self._identity = DevIdentity(targets.identity) if targets.identity else None
        self._credentials: dict[tuple[str, str], dict[str, str]] = {}
        self._http = {
            name: httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout, trust_env=False)
            for name, url in (("intake", targets.intake), ("workflow", targets.workflow),
                              ("reporting", targets.reporting)) if url
        }  # fmt: skip

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._submit_pool.aclose()
        for client in self._http.values():
            await client.aclose()

    async def call(
        self,
        operation: str,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request through httpx, recorded under ``operation``."""
        started = time.perf_counter()
        try:
            response = await self._http[service].request(method, path, json=json, params=params, headers=headers)
            status: int | str = response.status_code
            body = orjson.loads(response.content) if response.content else None
        except httpx.TimeoutException:
            status, body = "timeout", None
        except (httpx.TransportError, orjson.JSONDecodeError) as exc:
            status, body = type(exc).__name__, None
        seconds = time.perf_counter() - started
        self.recorder.record(operation, status, seconds)
        return Answer(status, body, seconds)

    async def submit(self, operation: str, path: str, body: bytes | dict[str, Any]) -> Answer:
        """POST a dossier or bundle to intake, with an Idempotency-Key as a portal would send."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        if self.client_kind == "httpx":
            payload = orjson.loads(body) if isinstance(body, bytes) else body
            return await self._httpx_submit(operation, path, payload, headers)
        started = time.perf_counter()
        try:
            response = await self._submit_pool.request("POST", path, body=body, headers=headers)
            status: int | str = response.status
            parsed = response.json() if response.body else None
        except TimeoutError:
            status, parsed = "timeout", None
        except (OSError, ValueError) as exc:
            status, parsed = type(exc).__name__, None
        seconds = time.perf_counter() - started
        self.recorder.record(operation, status, seconds)
        return Answer(status, parsed, seconds)

    async def _httpx_submit(self, operation: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        started = time.perf_counter()
        try:
            response = await self._http["intake"].post(path, json=body, headers=headers)
            status: int | str = response.status_code
            parsed = response.json() if response.content else None
        except httpx.HTTPError as exc:
            status, parsed = type(exc).__name__, None
        seconds = time.perf_counter() - started
        self.recorder.record(operation, status, seconds)
        return Answer(status, parsed, seconds)

    # Officials (workflow).
    def as_official(self, official_id: str, agency: str) -> dict[str, str] | None:
        """The headers of ``official_id`` acting for ``agency`` (a token made once), or None without
        an identity provider."""
        if self._identity is None:
            return None
        key = (official_id, agency)
        if key not in self._credentials:
            self._credentials[key] = self._identity.headers(official_id, [agency])
        return self._credentials[key]

    async def tasks(self, agency: str, waiting_for: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The agency's task list (only tasks waiting for ``waiting_for``, if given)."""
        params: dict[str, str | Sequence[str]] = {"agency": agency, "limit": "1000"}
        if waiting_for:
            params["waiting_for"] = list(waiting_for)
        answer = await self.call("official: list tasks", "workflow", "GET", "/v1/tasks", params=params,
                                 headers=self.as_official(LISTING_OFFICIAL, agency))  # fmt: skip
        return items(answer.body, "tasks", "items") if answer.ok else []

    async def decide(
        self,
        dossier_id: str,
        decision: str,
        official_id: str,
        agency: str,
        reason: str | None = None,
        documents: Sequence[str] = (),
    ) -> Answer:
        """``official_id`` of ``agency`` (which holds the dossier) decides."""
        body: dict[str, Any] = {"decision": decision, "official_id": official_id}
        if reason:
            body["reason"] = reason
        if documents:
            body["documents"] = list(documents)
        return await self.call(f"official: {decision}", "workflow", "POST", f"/v1/dossiers/{dossier_id}/decisions",
                               json=body, headers=self.as_official(official_id, agency))  # fmt: skip

    async def dossier(self, dossier_id: str, agency: str) -> Answer:
        """The dossier as an official of ``agency`` sees it: documents, what it lacks, history."""
        return await self.call("official: look at dossier", "workflow", "GET", f"/v1/dossiers/{dossier_id}",
                               headers=self.as_official(LISTING_OFFICIAL, agency))  # fmt: skip

    # Citizens (intake).
    async def citizen(self, action: str, dossier_id: str, body: dict[str, Any]) -> Answer:
        """A citizen action on a dossier: ``action`` is the path segment (payments, ratings, supplements),
        with an Idempotency-Key as a portal sends one (intake requires it on payments)."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        path = f"/v1/dossiers/{dossier_id}/{action}"
        return await self.call(f"citizen: {action}", "intake", "POST", path, json=body, headers=headers)

    async def bundle_status(self, bundle_id: str) -> Answer:
        return await self.call("citizen: bundle status", "intake", "GET", f"/v1/bundles/{bundle_id}")

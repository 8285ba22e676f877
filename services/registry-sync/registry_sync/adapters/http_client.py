"""One pooled httpx client per external system, with explicit timeouts, turning every answer
(or the lack of one) into a :mod:`registry_sync.domain.outcomes` outcome. It makes exactly one
call per request: retrying is the workers' job, so that a retry waits in the database, not in
a coroutine holding a connection."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import re
import time
from typing import Any

import httpx
import orjson

from eventkit.backoff import stop_if_cancelled
from eventkit.jsonbody import out_of_range
from registry_sync.domain.outcomes import CallOutcome, Rejected, Succeeded, Transient, classify_status
from registry_sync.settings import ExternalSystemSettings


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """A Retry-After header (delta-seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not '²', which is a digit to isdigit() and not to float()
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters dropped from every string in it. PostgreSQL stores none (in text
    or JSONB): an answer carrying one failed the transaction that records it, every lease, uncounted,
    and logged the citizen's data in the error each time."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(without_nul(v) for v in value)
    return value


_HEADER_SAFE = re.compile(r"[\x21-\x7e]{1,255}")


def header_safe_key(key: str) -> str:
    """An idempotency key as the header allows it (printable ASCII, no spaces, ≤ 255): the key
    itself when it already is, else a digest of it (stable, so retries still match)."""
    return key if _HEADER_SAFE.fullmatch(key) else "sha256-" + hashlib.sha256(key.encode()).hexdigest()


def document(response: httpx.Response) -> Any:
    """The answer's JSON as the rest of the stack can carry it, or ValueError. Python's json took a
    lone surrogate and integers of any size, which orjson (events, results) and PostgreSQL refuse:
    recording such an answer failed every lease, uncounted, and the registry was called again."""
    doc = orjson.loads(response.content)
    if out_of_range(doc) is not None:
        raise ValueError("a number beyond the 64-bit range")
    return doc


#: What a machine-readable error code looks like: one word of letters, digits and ``_.-``.
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: More digits in a row than a code has: an identification, card, insurance or telephone number.
_LONG_NUMBER = re.compile(r"[0-9]{7,}")


def error_code(error: Any) -> str | None:
    """The ``error`` of an answer as the code we record and publish, or None if it is no code. The
    code goes out in the failure event and reporting's live feed, which carry no personal data:
    taken word for word, an ``error`` of "Citizen 036190000123 (Nguyen Van An) already holds card
    TE1791234567890" went there whole, and an object as its Python repr. Such text stays in the
    reason (for operators, numbers masked); citizens are told a refusal with no code as one."""
    if isinstance(error, bool) or not isinstance(error, str | int):
        return None
    code = str(error)
    return code if _ERROR_CODE.fullmatch(code) and not _LONG_NUMBER.search(code) else None


def _error_reason(response: httpx.Response) -> tuple[str, str | None]:
    """'<status> <error>: <message>' from the error body if it has one, and the error code."""
    try:
        body = without_nul(document(response))  # a code with a NUL in it is still the code
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        message = body.get("message") or body.get("detail")
        code = error_code(error) if error else None
        text = f"{response.status_code} {code or 'error'}" + (f": {message}" if message else "")
        if error and code is None:  # the system's words, not a code: kept for operators only
            words = error if isinstance(error, str) else orjson.dumps(error).decode()
            text += f" ({words})" if message else f": {words}"
        return text[:1000], code
    return f"{response.status_code} {response.reason_phrase}", None


#: The error codes of a 404 or 405 that says the path or method does not exist (the simulator's).
NO_SUCH_ROUTE = frozenset({"no_such_route", "method_not_allowed"})
#: The bodies web frameworks answer an unknown path or method with, unchanged.
_FRAMEWORK_DEFAULTS = ({"detail": "Not Found"}, {"detail": "Method Not Allowed"})


def no_such_route(response: httpx.Response, code: str | None) -> bool:
    """Whether a 404 or 405 says the path or method does not exist, not that a record does: the
    simulator's code for it, a page that is no JSON (a proxy's, a gateway's), or a framework's default
    body. Any other JSON body is the system's answer about a record, whatever it calls its fields."""
    if response.status_code not in (404, 405):
        return False
    if code is not None:
        return code in NO_SUCH_ROUTE
    try:
        return document(response) in _FRAMEWORK_DEFAULTS
    except ValueError:
        return True


class ExternalHttpClient:
    """Calls one system; ``transport`` lets tests route to an in-process app."""

    def __init__(
        self,
        system: str,
        settings: ExternalSystemSettings,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.system = system
        self._budget = settings.call_budget_seconds
        headers = {"Accept": "application/json", "User-Agent": "registry-sync"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_seconds,
                read=settings.read_timeout_seconds,
                write=settings.write_timeout_seconds,
                pool=settings.pool_timeout_seconds,
            ),
            limits=httpx.Limits(
                max_connections=settings.max_concurrency, max_keepalive_connections=settings.max_concurrency
            ),
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        if_match: str | None = None,
    ) -> CallOutcome:
        headers: dict[str, str] = {}
        if if_match is not None:
            headers["If-Match"] = if_match
        if idempotency_key is not None:
            headers["Idempotency-Key"] = header_safe_key(idempotency_key)
        if correlation_id is not None:
            headers["X-Correlation-ID"] = correlation_id
        try:
            # httpx's read timeout bounds each read, not the answer: a system trickling its answer
            # would hold the command (its lease renewed meanwhile) and a concurrency slot for ever.
            async with asyncio.timeout(self._budget):
                response = await self._client.request(method, path, json=json, params=params, headers=headers)
        # Each checks for a stop first: httpx may turn a cancellation into an error of its own, and taken
        # for a failed call it counted against the breaker and the retry policy, and the caller retried.
        except TimeoutError as exc:
            stop_if_cancelled(exc)
            return Transient(f"timeout: no complete answer within {self._budget:g} s")
        except httpx.TimeoutException as exc:
            stop_if_cancelled(exc)
            return Transient(f"timeout: {type(exc).__name__}")
        except httpx.TransportError as exc:
            stop_if_cancelled(exc)
            return Transient(f"connection failed: {type(exc).__name__}")
        except httpx.RequestError as exc:
            stop_if_cancelled(exc)
            # A body that does not decode (a corrupt gzip stream), say: the system may
            # have acted, so asking again (same idempotency key) is safe, and the retry policy counts
            # it and gives up in time. Escaping, it was retried every lease for ever, never counted.
            return Transient(f"unreadable answer: {type(exc).__name__}")
        return self.outcome(response)

    @staticmethod
    def outcome(response: httpx.Response) -> CallOutcome:
        kind = classify_status(response.status_code)
        if kind is Succeeded:
            try:
                body = document(response) if response.content else {}
            except ValueError:
                # It may have acted; the idempotency key makes asking again safe.
                return Transient(f"{response.status_code} with a body that is not JSON", response.status_code)
            replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
            body = without_nul(body)
            return Succeeded(body if isinstance(body, dict) else {"items": body}, response.status_code, replayed)
        reason, code = _error_reason(response)
        if response.is_redirect:
            reason = f"{response.status_code} redirected to {response.headers['Location'][:200]}"
        elif no_such_route(response, code):
            # Not the system's answer about a record (that names its error): no such path or method
            # there, so our base URL or a path is wrong. Refused for good, one typo in the settings
            # ended every queued command, and the breaker never opened.
            kind, reason = Transient, f"{reason} (no such path or method: is the system's base URL right?)"
        if kind is Transient:
            return Transient(reason, response.status_code, retry_after_seconds(response.headers.get("Retry-After")))
        return Rejected(reason, response.status_code, code)

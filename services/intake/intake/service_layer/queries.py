"""The citizen's views, composed from intake's tables and the catalogue (names of procedures and agencies)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from contracts.catalogue import BundleDefinition, Catalogue, UnknownAgency, UnknownProcedure
from contracts.events.common import DossierStatus
from intake.domain.actions import amount_owed, payable, taken_on
from intake.domain.codes import result_code
from intake.domain.rules import IntakeRules
from workcal import vietnam_tz

BUNDLE_ENDED = frozenset({"completed", "partially_completed"})


class ViewReader(Protocol):
    """Rows of the view tables (dicts keyed by column name)."""

    async def dossier(self, ref: str) -> dict[str, Any] | None: ...

    async def bundle(self, bundle_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None: ...


def _iso(value: datetime | str | None) -> str | None:
    """Every time in the citizen's views in Vietnam time, whether a column or stored in a JSON document
    (the timeline's, the results', the portal sync's: written in UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(vietnam_tz()).isoformat() if value is not None else None


def agency_ref(catalogue: Catalogue, code: str | None) -> dict[str, Any] | None:
    if code is None:
        return None
    try:
        return {"code": code, "name_vi": catalogue.agency(code).name_vi}
    except UnknownAgency:
        return {"code": code, "name_vi": None}


def procedure_ref(catalogue: Catalogue, code: str) -> dict[str, Any]:
    try:
        return {"code": code, "name_vi": catalogue.procedure(code).name_vi}
    except UnknownProcedure:
        return {"code": code, "name_vi": None}


def dossier_public(catalogue: Catalogue, row: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/dossiers/{code}``: where the dossier is, who holds it, when it is due, what happened."""
    # Sorted by time: events of two topics are consumed independently and may interleave.
    timeline = [
        {**entry, "at": _iso(entry["at"]), "agency": agency_ref(catalogue, entry.get("agency"))}
        for entry in sorted(row["timeline"], key=lambda e: datetime.fromisoformat(e["at"]))
    ]
    sync = row["portal_sync"]
    results = public_results(row)
    return {
        "dossier_id": row["dossier_id"],
        "code": row["code"],
        "procedure": procedure_ref(catalogue, row["procedure_code"]),
        "channel": row["channel"],
        "status": row["status"],
        "status_code": row["status_code"],
        "receiving_agency": agency_ref(catalogue, row["receiving_agency"]),
        "competent_agency": agency_ref(catalogue, row["competent_agency"]),
        "current_handler": {
            "agency": agency_ref(catalogue, row["current_agency"]),
            "official_id": row["official_id"],
        },
        "submitted_at": _iso(row["submitted_at"]),
        "received_at": _iso(row["received_at"]),
        "due_at": _iso(row["due_at"]),
        "overdue": row["overdue"],
        "awaiting_supplement": row["awaiting_supplement"],
        "withdrawal_requested": row["withdrawal_requested"],
        "requested_documents": list(row.get("requested_documents") or ()) if row["awaiting_supplement"] else [],
        "result_delivery": row["delivery"],
        "fee": row["fee"],
        "requested_amount": row["requested_amount"],
        "paid_amount": row["paid_amount"],
        "owed": _owed(row),
        "rated": row["rating"] is not None,
        "bundle": {"bundle_id": row["bundle_id"], "step_id": row["bundle_step"]} if row["bundle_id"] else None,
        "result": results[-1] if results else None,
        "results": results,
        "portal_sync": {**sync, "at": _iso(sync.get("at"))} if sync else sync,
        "timeline": timeline,
    }


def _owed(row: dict[str, Any]) -> int | None:
    """What the citizen still has to pay (nothing once the dossier ended without a result, or while its
    withdrawal is asked for: the pay action refuses both); None when
    the dossier is from before intake counted the officials' requests."""
    if not payable(DossierStatus(row["status"])) or row["withdrawal_requested"]:
        return 0  # no money is taken for a dossier about to end without a result
    owed = amount_owed(row["fee"], row["requested_amount"], row["paid_amount"])
    return None if owed is None else max(owed, 0)


def public_results(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A dossier's results, oldest first (rows projected before results kept data have none)."""
    return [
        {"data": {}, **r, "result_code": r.get("result_code") or result_code(row["code"], i),
         "issued_at": _iso(r.get("issued_at"))}
        for i, r in enumerate(row["results"], start=1)
    ]  # fmt: skip


def bundle_status(stored: str, steps: list[dict[str, Any]]) -> str:
    """Overall status: ended by workflow, else processing once an agency took a step on, else submitted.

    Not once workflow started the first step, nor once a step's status is no longer registered or
    received: workflow starts an online bundle's first step at submission, and it then waits for an
    official's acceptance (or is sent back for a supplement, or refused, at reception). The bundle read
    "processing" from submission while nobody had accepted it; older rows still store that status, as
    does a bundle workflow runs again after ending it partially (``Dossiers.reopen_bundle``): one of
    its steps is at work until it ends a second time."""
    if stored in BUNDLE_ENDED:
        return stored
    return "processing" if any(taken_on(s) for s in steps) else "submitted"


def _started_at(step: dict[str, Any]) -> datetime | None:
    """When an agency could begin the step: its bundle started it and an agency received it, whichever
    came later. An online bundle's first step is started at submission and begins at its acceptance; a
    later step received at the counter with its bundle begins when the bundle gets to it."""
    started, received = step["step_started_at"], step["received_at"]
    return max(started, received) if started is not None and received is not None else None


def bundle_public(rules: IntakeRules, bundle: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """``GET /v1/bundles/{bundle_id}``: each step's dossier and status, and the bundle's."""
    catalogue = rules.catalogue
    try:
        definition: BundleDefinition | None = catalogue.bundle(bundle["bundle_type"])
    except KeyError:
        definition = None
    return {
        "bundle_id": bundle["bundle_id"],
        "bundle_type": bundle["bundle_type"],
        "name_vi": definition.name_vi if definition else None,
        "status": bundle_status(bundle["status"], steps),
        "channel": bundle["channel"],
        "receiving_agency": agency_ref(catalogue, bundle["receiving_agency"]),
        "submitted_at": _iso(bundle["submitted_at"]),
        "due_at": _iso(bundle_appointment(rules, definition, bundle, steps)),
        "ended_at": _iso(bundle.get("ended_at")),
        "failed_step": bundle["failed_step"],
        "reason": bundle["reason"],
        "steps": [_step_public(catalogue, s) for s in steps],
    }


def bundle_appointment(
    rules: IntakeRules, definition: BundleDefinition | None, bundle: dict[str, Any], steps: list[dict[str, Any]]
) -> datetime | None:
    """The date promised for the whole bundle: the latest of the one announced at the counter and its
    steps' (moved by a verification, an apology letter, a step released after an earlier agency was
    late, and by the citizen's waits on earlier steps once the next step starts: workflow moves the
    bundle's date then, and only the steps' events carry it). An online bundle announces none: its
    limit counts from its first step's acceptance (it showed no date at all, and a counter bundle's
    never moved)."""
    dates = [d for d in (bundle["due_at"], *(s["due_at"] for s in steps)) if d is not None]
    first = steps[0] if steps else None
    if bundle["due_at"] is None and definition is not None and first is not None and first["received_at"]:
        dates.append(rules.due_at(first["received_at"], definition.statutory_limit))
    return max(dates, default=None)


def _step_public(catalogue: Catalogue, step: dict[str, Any]) -> dict[str, Any]:
    latest = public_results(step)[-1] if step["results"] else None
    return {
        "step_id": step["bundle_step"],
        "procedure": procedure_ref(catalogue, step["procedure_code"]),
        "dossier_id": step["dossier_id"],
        "code": step["code"],
        "status": step["status"],
        "status_code": step["status_code"],
        "started_at": _iso(_started_at(step)),
        "due_at": _iso(step["due_at"]),
        "result_code": latest["result_code"] if latest else None,
        "result": latest,
    }

"""Deciding a submission: check it whole, route it, time it — before any code is taken.

``plan_dossier`` and ``plan_bundle`` either raise :class:`InvalidInput` listing every problem or
return plans: the dossiers to create, with everything but their codes (which need the database's
per-agency sequence). ``submitted_event`` then turns a plan and its code into the contract event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from contracts.catalogue import (
    AgeLimit,
    BundleDefinition,
    Catalogue,
    NoCompetentAgency,
    Procedure,
    UnknownAgency,
    UnknownBundle,
    UnknownBundleStep,
    UnknownProcedure,
)
from contracts.catalogue import BundleStep as BundleStepDefinition
from contracts.events.common import Applicant, Channel, Delivery, Document, DossierStatus
from contracts.events.intake import BundleStep, BundleSubmitted, DossierSubmitted
from contracts.ids import uuid7
from intake.domain.checks import form_problems, id_number_problems
from intake.domain.commands import SubmitBundle, SubmitDossier
from intake.domain.problems import FieldProblem, InvalidInput
from intake.domain.rules import IntakeRules
from intake.domain.text import canonical
from workcal import vietnam_tz


@dataclass(frozen=True)
class PlannedDossier:
    """A dossier about to be created; only its code is missing."""

    dossier_id: str
    procedure: Procedure
    competent_agency: str
    form: dict[str, Any]
    documents: list[Document]
    subject_key: str | None  # a digest, so the duplicate index holds no personal data in clear
    status: DossierStatus
    received_at: datetime | None
    due_at: datetime | None
    step_id: str | None = None


@dataclass(frozen=True)
class PlannedBundle:
    bundle_id: str
    definition: BundleDefinition
    due_at: datetime | None
    dossiers: list[PlannedDossier]


def new_id() -> str:
    """A time-ordered id, so the dossier table's index grows at its end."""
    return str(uuid7())


def subject_digest(procedure: Procedure, form: dict[str, Any]) -> str | None:
    """What identifies the dossier's subject for duplicate detection; None when repeats are allowed
    or the subject is not known yet (a bundle step waiting for an earlier step's result)."""
    if procedure.allows_repeat:
        return None
    key = procedure.subject_key(form)
    if key is None:
        return None
    values = [procedure.code, *(canonical(v) for v in key)]
    text = json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def step_subject(
    catalogue: Catalogue, bundle_type: str, step_id: str, inputs: dict[str, Any]
) -> tuple[str, str] | None:
    """(procedure code, subject digest) of a bundle step from the data it starts with, when its
    subject was not known at submission: the child's number an earlier step issued. None when the
    step is not in this catalogue edition or its procedure allows repeats."""
    try:
        procedure = catalogue.procedure(catalogue.bundle(bundle_type).step(step_id).procedure_code)
    except (UnknownBundle, UnknownBundleStep, UnknownProcedure):
        return None
    key = subject_digest(procedure, inputs)
    return None if key is None else (procedure.code, key)


def _reception(channel: Channel, now: datetime) -> tuple[DossierStatus, datetime | None]:
    """Online dossiers wait for an official to accept them; counter and postal ones are received now."""
    return (DossierStatus.REGISTERED, None) if channel == "online" else (DossierStatus.RECEIVED, now)


def _check_agency(rules: IntakeRules, code: str, problems: list[FieldProblem]) -> bool:
    try:
        rules.catalogue.agency(code)
    except UnknownAgency:
        problems.append(FieldProblem("$.receiving_agency", f"unknown agency code {code!r}", "unknown_agency"))
        return False
    return True


def _route(
    rules: IntakeRules,
    procedure: Procedure,
    receiving: str,
    form: dict[str, Any],
    problems: list[FieldProblem],
    step: BundleStepDefinition | None = None,
) -> str | None:
    """The competent agency's code, or None with the problem noted: at the field of the form that
    names the unit (for a bundle step, the bundle form's field its input comes from)."""
    area = procedure.area_in(form)
    area_path = "$.form" + (procedure.area_path or "").replace("/", ".")
    source = step.inputs.get(area_path.removeprefix("$.form.")) if step is not None else None
    if isinstance(source, str) and source.startswith("form."):
        area_path = "$." + source
    try:
        unit = rules.catalogue.agency(area) if area is not None else None
        if unit is not None and not (unit.is_peoples_committee and unit.level == "commune"):
            # A district's or a department's code routed on to its seat's commune: another unit's police.
            message = f"{area!r} is not a commune's People's Committee (a UBND-X-…, UBND-P-… or UBND-TT-… code)"
            problems.append(FieldProblem(area_path, message, "not_a_commune"))
            return None
        return rules.catalogue.competent_agency(procedure.code, receiving, area).code
    except UnknownAgency:
        problems.append(FieldProblem(area_path, f"unknown administrative unit {area!r}", "unknown_agency"))
    except NoCompetentAgency as exc:
        problems.append(FieldProblem(area_path if area else "$.receiving_agency", str(exc), "no_competent_agency"))
    return None


def listed_document_problems(procedure: Procedure, documents: list[Document]) -> list[FieldProblem]:
    """A problem for each document whose kind the procedure does not list, and the listing's own."""
    unknown = [
        FieldProblem(f"$.documents[{i}].kind", f"{d.kind!r} is not a document of {procedure.code}", "unknown_document")
        for i, d in enumerate(documents)
        if procedure.document(d.kind) is None
    ]
    return unknown + _listing_problems(documents)


def _listing_problems(documents: list[Document]) -> list[FieldProblem]:
    """A kind listed twice, and a document taken from data or the national store but not electronic.
    The digitisation and reuse indicators count documents: 25 copies of one reused declaration made a
    dossier's reuse rate 25 of 26."""
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for i, d in enumerate(documents):
        if d.kind in seen:
            message = f"{d.kind!r} is listed twice: one entry per document"
            problems.append(FieldProblem(f"$.documents[{i}].kind", message, "repeated_document"))
        seen.add(d.kind)
        if (d.reused or d.from_national_store) and not d.digitized:
            message = "a document taken from data already supplied or from the national store is electronic"
            problems.append(FieldProblem(f"$.documents[{i}].digitized", message, "not_digitized"))
    return problems


def _document_problems(procedure: Procedure, documents: list[Document]) -> list[FieldProblem]:
    problems = listed_document_problems(procedure, documents)
    given = {d.kind for d in documents}
    problems.extend(
        FieldProblem("$.documents", f"mandatory document missing: {d.kind} ({d.name_vi})", "missing_document")
        for d in procedure.required_documents
        if d.mandatory and d.kind not in given
    )
    return problems


def _unsupplied_documents(
    definition: BundleDefinition, documents: list[Document], accepted: list[str] | None = None
) -> list[FieldProblem]:
    """A problem for each document whose kind is not among those ``accepted`` with the bundle (by
    default every kind it lists; those the applicable steps take, once they are known)."""
    accepted = definition.supplied_documents if accepted is None else accepted
    return [
        FieldProblem(
            f"$.documents[{i}].kind",
            f"{d.kind!r} is not a document supplied with this {definition.bundle_type} bundle; here: {accepted}",
            "unknown_document",
        )
        for i, d in enumerate(documents)
        if d.kind not in accepted
    ]


def _bundle_documents(
    definition: BundleDefinition, procedures: list[Procedure], documents: list[Document]
) -> tuple[list[FieldProblem], list[list[Document]]]:
    """Check the applicant's documents against the steps that apply, and give each step its own: the
    supplied ones of its procedure's kinds, and its other mandatory ones, which the bundle produces
    (its declaration from the combined form, or an earlier step's result): electronic, and reused
    data after the first step.

    None is required: the bundle API was published without documents, and a portal that sends none
    must not start getting 422s. Officials see what a dossier lacks (workflow's missing_documents)."""
    accepted = [kind for kind in definition.supplied_documents if any(p.document(kind) for p in procedures)]
    problems = _unsupplied_documents(definition, documents, accepted) + _listing_problems(documents)
    per_step = []
    for position, procedure in enumerate(procedures):
        produced = [
            Document(kind=r.kind, digitized=True, reused=position > 0)
            for r in procedure.required_documents
            if r.mandatory and r.kind not in definition.supplied_documents
        ]
        supplied = [d for d in documents if procedure.document(d.kind) is not None]
        per_step.append(produced + supplied)
    return problems, per_step


def _applicant_problems(applicant: Applicant, today: date) -> list[FieldProblem]:
    return id_number_problems(applicant.id_number, "$.applicant.id_number", today)


def _delivery_problems(delivery: Delivery) -> list[FieldProblem]:
    """A result is posted to the address given, and an address is given only to post a result."""
    path = "$.result_delivery.address"
    if delivery.method == "postal" and not (delivery.address or "").strip():
        return [FieldProblem(path, "a result delivered by post needs the address to post it to", "missing")]
    if delivery.method != "postal" and delivery.address is not None:
        return [FieldProblem(path, f"only a result delivered by post has an address, not {delivery.method!r}",
                             "unexpected")]  # fmt: skip
    return []


def _age_problems(
    limit: AgeLimit | None, what: str, form: dict[str, Any], today: date, hint: str = ""
) -> list[FieldProblem]:
    """A problem when the person ``what`` (a bundle, a procedure) serves is too old for it (a valid form
    only: its date is well formed)."""
    reached = limit.reached_on(form, today) if limit else None
    if limit is None or reached is None:
        return []
    message = f"{what} is for a person under {limit.under_years}, an age reached on {reached}{hint}"
    return [FieldProblem("$." + limit.path, message, "age_limit")]


def _online_result_problems(delivery: Delivery, procedures: list[Procedure]) -> list[FieldProblem]:
    """A result is delivered online only by a procedure offered online whole (``online_level`` full):
    one offered in part takes only the submission online, its result is a paper handed over or posted.
    Accepted, workflow counted that paper as returned the moment it was issued."""
    if delivery.method != "online":
        return []
    not_full = [f"{p.code} ({p.online_level})" for p in procedures if p.online_level != "full"]
    if not not_full:
        return []
    message = f"not delivered online by {', '.join(not_full)}: its result is collected at the counter or posted"
    return [FieldProblem("$.result_delivery.method", message, "delivery_not_offered")]


def plan_dossier(cmd: SubmitDossier, rules: IntakeRules, now: datetime) -> PlannedDossier:
    """Validate a standalone submission and decide its routing, status and appointment date."""
    today = now.astimezone(vietnam_tz()).date()
    problems = _applicant_problems(cmd.applicant, today) + _delivery_problems(cmd.delivery)
    agency_ok = _check_agency(rules, cmd.receiving_agency, problems)
    try:
        procedure = rules.catalogue.procedure(cmd.procedure_code)
    except UnknownProcedure:
        problems.append(
            FieldProblem("$.procedure_code", f"unknown procedure code {cmd.procedure_code!r}", "unknown_procedure")
        )
        raise InvalidInput(problems) from None
    if cmd.channel == "online" and procedure.online_level == "none":
        problems.append(FieldProblem("$.channel", f"{procedure.code} is not offered online", "channel_not_offered"))
    problems += _online_result_problems(cmd.delivery, [procedure])
    form_errors = rules.procedure_forms[procedure.code].validate(cmd.form, "$.form")
    problems += form_errors + form_problems(cmd.form, "$.form", today) + _document_problems(procedure, cmd.documents)
    if not form_errors:  # the age needs a valid date
        problems += _age_problems(procedure.age_limit, f"procedure {procedure.code}", cmd.form, today)
    competent = _route(rules, procedure, cmd.receiving_agency, cmd.form, problems) if agency_ok else None
    if problems or competent is None:
        raise InvalidInput(problems)
    status, received_at = _reception(cmd.channel, now)
    return PlannedDossier(
        dossier_id=new_id(),
        procedure=procedure,
        competent_agency=competent,
        form=cmd.form,
        documents=list(cmd.documents),
        subject_key=subject_digest(procedure, cmd.form),
        status=status,
        received_at=received_at,
        due_at=rules.due_at(received_at, procedure.processing_time) if received_at else None,
    )


def plan_bundle(cmd: SubmitBundle, rules: IntakeRules, now: datetime) -> PlannedBundle:
    """Validate a linked submission and plan one dossier per step that applies to its form."""
    today = now.astimezone(vietnam_tz()).date()
    problems = _applicant_problems(cmd.applicant, today) + _delivery_problems(cmd.delivery)
    agency_ok = _check_agency(rules, cmd.receiving_agency, problems)
    try:
        definition = rules.catalogue.bundle(cmd.bundle_type)
    except UnknownBundle:
        known = sorted(rules.catalogue.bundles)
        problems.append(FieldProblem("$.bundle_type", f"unknown bundle type; known: {known}", "unknown_bundle"))
        raise InvalidInput(problems) from None
    form_errors = rules.bundle_forms[definition.bundle_type].validate(cmd.form, "$.form")
    form_errors += form_problems(cmd.form, "$.form", today)
    bundle, one_by_one = f"the {definition.bundle_type} bundle", "; submit the procedures one by one"
    problems += form_errors or _age_problems(definition.age_limit, bundle, cmd.form, today, one_by_one)
    if problems or not agency_ok:
        # Which steps apply needs a valid form; a kind no step of the bundle takes is wrong anyway.
        raise InvalidInput(problems + _unsupplied_documents(definition, cmd.documents))
    status, received_at = _reception(cmd.channel, now)
    steps = definition.applicable_steps(cmd.form)
    procedures = [rules.catalogue.procedure(step.procedure_code) for step in steps]
    document_problems, documents = _bundle_documents(definition, procedures, cmd.documents)
    problems += document_problems + _online_result_problems(cmd.delivery, procedures)
    dossiers: list[PlannedDossier] = []
    for position, (step, procedure) in enumerate(zip(steps, procedures, strict=True)):
        form = step.resolve_inputs(cmd.form, {}, partial=True)
        competent = _route(rules, procedure, cmd.receiving_agency, form, problems, step)
        # The first step's own limit; later steps start when earlier ones finish, so the citizen is
        # promised the bundle's limit (workflow moves each step's date as it starts it).
        limit = rules.catalogue.step_processing_time(definition.bundle_type, step.step_id)
        limit = limit if position == 0 else definition.statutory_limit
        dossiers.append(
            PlannedDossier(
                dossier_id=new_id(),
                procedure=procedure,
                competent_agency=competent or "",
                form=form,
                documents=documents[position],
                subject_key=subject_digest(procedure, form),
                status=status,
                received_at=received_at,
                due_at=rules.due_at(received_at, limit) if received_at else None,
                step_id=step.step_id,
            )
        )
    if problems:
        raise InvalidInput(problems)
    due = rules.due_at(received_at, definition.statutory_limit) if received_at else None
    return PlannedBundle(bundle_id=new_id(), definition=definition, due_at=due, dossiers=dossiers)


def submitted_event(
    plan: PlannedDossier,
    code: str,
    *,
    channel: Channel,
    receiving_agency: str,
    applicant: Applicant,
    catalogue_version: str,
    submitted_at: datetime,
    delivery: Delivery,
    bundle_id: str | None = None,
) -> DossierSubmitted:
    return DossierSubmitted(
        dossier_id=plan.dossier_id,
        code=code,
        procedure_code=plan.procedure.code,
        catalogue_version=catalogue_version,
        channel=channel,
        receiving_agency=receiving_agency,
        competent_agency=plan.competent_agency,
        applicant=applicant,
        form=plan.form,
        documents=plan.documents,
        fee=plan.procedure.fee,
        status=plan.status,
        submitted_at=submitted_at,
        received_at=plan.received_at,
        due_at=plan.due_at,
        bundle_id=bundle_id,
        bundle_step=plan.step_id,
        delivery=delivery,
    )


def bundle_event(
    plan: PlannedBundle, codes: list[str], cmd: SubmitBundle, *, catalogue_version: str, submitted_at: datetime
) -> BundleSubmitted:
    return BundleSubmitted(
        bundle_id=plan.bundle_id,
        bundle_type=plan.definition.bundle_type,
        catalogue_version=catalogue_version,
        channel=cmd.channel,
        receiving_agency=cmd.receiving_agency,
        applicant=cmd.applicant,
        form=cmd.form,
        steps=[
            BundleStep(
                step_id=d.step_id or "", procedure_code=d.procedure.code, dossier_id=d.dossier_id, code=code,
                documents=d.documents,
            )
            for d, code in zip(plan.dossiers, codes, strict=True)
        ],
        submitted_at=submitted_at,
        delivery=cmd.delivery,
    )

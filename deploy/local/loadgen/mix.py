"""The realistic mix: what citizens submit, through which channel, and what they do afterwards.

Proportions follow DOMAIN.md where the seeds give numbers (≈65 % online, 84 % of payable
dossiers paid online, birth and death bundles as the linked services) and are otherwise
plausible guesses, kept here as data (:class:`MixWeights`) so a run can change them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from contracts.catalogue import BundleDefinition, Catalogue, Procedure, RequiredDocument
from loadgen.forms import FormBuilder
from loadgen.people import People

Channel = Literal["online", "counter", "postal"]
FUNERAL_CHOICES = ("social_insurance", "social_welfare", "none")
PERSON_ROLES = ("mother", "holder", "owner", "person", "female_party", "male_party")
PAYMENT_METHODS_ONLINE = (("qr", 45), ("bank_transfer", 25), ("e_wallet", 20), ("card", 10))
# Relative volume of standalone procedures by field; fields not listed weigh 1.
FIELD_WEIGHTS: Mapping[str, float] = {
    "ho_tich": 3, "cu_tru": 3, "can_cuoc": 2, "ly_lich_tu_phap": 2, "giao_thong": 2, "dat_dai": 2,
    "dang_ky_kinh_doanh": 1, "xay_dung": 1, "bhxh": 0.5, "bao_tro_xa_hoi": 0.3,
}  # fmt: skip


@dataclass(frozen=True)
class MixWeights:
    """Shares of the mix; each group is normalised on its own."""

    birth_bundle: float = 0.20
    death_bundle: float = 0.08
    standalone: float = 0.72
    funeral: Mapping[str, float] = field(
        default_factory=lambda: {"social_insurance": 0.45, "social_welfare": 0.15, "none": 0.40}
    )
    channels: Mapping[str, float] = field(default_factory=lambda: {"online": 0.65, "counter": 0.30, "postal": 0.05})
    boundary_free: float = 0.10  # received at another counter than the competent one's
    paid_online: float = 0.84  # of payable dossiers, any channel: QR at the counter too (Nam Định 2023: 84.03 %)
    rated: float = 0.30
    withdrawn: float = 0.02  # standalone applicants who change their mind once it is received (a guess)
    digitized: Mapping[str, float] = field(default_factory=lambda: {"online": 0.95, "counter": 0.70, "postal": 0.5})
    reused: float = 0.35
    from_national_store: float = 0.20
    # How the result is received, by submission channel (a guess: the seeds give no shares; Hà Nam
    # registered every procedure for postal return).
    delivery: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {
            "online": {"online": 0.60, "counter": 0.30, "postal": 0.10},
            "counter": {"counter": 0.85, "postal": 0.10, "online": 0.05},
            "postal": {"postal": 0.80, "counter": 0.20},
        }
    )


@dataclass(frozen=True)
class Payment:
    amount: int
    method: str
    online: bool
    #: Paid with the submission (online, or cash at the counter), else in cash when the result is
    #: collected (an online applicant who does not pay online).
    at_submission: bool = True


@dataclass(frozen=True)
class Rating:
    score: int
    complaint: str | None


@dataclass(frozen=True)
class Submission:
    """One request of the mix and what the citizen will do afterwards."""

    kind: Literal["dossier", "bundle"]
    label: str  # for per-kind statistics: "bundle:birth", "bundle:death:none", "dossier:1.001193"
    path: str
    body: dict[str, Any]
    agencies: tuple[str, ...]  # where officials find its tasks: the receiving counter (acceptance), the competent
    payment: Payment | None = None
    rating: Rating | None = None
    withdraws: bool = False  # the applicant asks to withdraw it once it has been received


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Mix:
    """Draws submissions; deterministic for a seed (and a date: forms carry past dates)."""

    def __init__(self, catalogue: Catalogue, *, seed: int, today: date, weights: MixWeights | None = None) -> None:
        self.catalogue = catalogue
        self.weights = weights or MixWeights()
        self.rng = random.Random(seed)
        self.people = People(self.rng, today)
        agencies = catalogue.agencies.values()
        self._pcs = {
            level: sorted(a.code for a in agencies if a.is_peoples_committee and a.level == level)
            for level in ("commune", "district", "province")
        }
        self._centres = sorted(a.code for a in agencies if a.kind == "public_service_centre") or self._pcs["province"]
        self.forms = FormBuilder(self.people, self._pcs["commune"], self.rng)
        self._standalone = {p.code: FIELD_WEIGHTS.get(p.field, 1.0) for p in catalogue.procedures.values()}

    def next(self) -> Submission:
        kind = _pick(self.rng, {"birth": self.weights.birth_bundle, "death": self.weights.death_bundle,
                                "standalone": self.weights.standalone})  # fmt: skip
        if kind == "standalone":
            return self.dossier(self.catalogue.procedure(_pick(self.rng, self._standalone)))
        return self.bundle(kind)

    def _channel(self, procedure_online_level: str) -> Channel:
        if procedure_online_level == "none":
            return "postal" if self.rng.random() < 0.1 else "counter"
        channel: Channel = _pick(self.rng, self.weights.channels)  # type: ignore[assignment]
        return channel

    def _applicant(self, form: Mapping[str, Any]) -> dict[str, Any]:
        """The subject person when the form has one (people apply for themselves), else a relative."""
        people = (form[r] for r in PERSON_ROLES if isinstance(form.get(r), dict) and "id_number" in form[r])
        subject = next(people, None)
        person = self.people.person()
        applicant: dict[str, Any] = {
            "id_number": subject["id_number"] if subject else person.id_number,
            "full_name": subject["full_name"] if subject else person.full_name,
        }
        if self.rng.random() < 0.8:
            applicant["phone"] = f"09{self.rng.randrange(10**8):08d}"
        if self.rng.random() < 0.4:
            applicant["email"] = f"congdan{self.people.serial()}@example.vn"
        return applicant

    def _documents(self, required: list[RequiredDocument], channel: Channel) -> list[dict[str, Any]]:
        """The mandatory documents and some of the others, as the channel tends to carry them."""
        w, rng = self.weights, self.rng
        return [
            {
                "kind": d.kind,
                "digitized": (digitized := rng.random() < w.digitized[channel]),
                # taken from data or the national store: electronic, so only a digitised one
                "reused": digitized and rng.random() < w.reused,
                "from_national_store": digitized and channel == "online" and rng.random() < w.from_national_store,
            }
            for d in required
            if d.mandatory or rng.random() < 0.4
        ]

    def _supplied(self, definition: BundleDefinition, form: Mapping[str, Any]) -> list[RequiredDocument]:
        """What the applicant hands in with a bundle: its supplied kinds that the applicable steps
        require, mandatory if one of them says so."""
        steps = [self.catalogue.procedure(s.procedure_code) for s in definition.applicable_steps(form)]
        found = {kind: [d for p in steps if (d := p.document(kind))] for kind in definition.supplied_documents}
        return [
            RequiredDocument(kind=kind, name_vi=docs[0].name_vi, mandatory=any(d.mandatory for d in docs))
            for kind, docs in found.items()
            if docs
        ]

    def _receiving(self, procedure: Procedure, form: Mapping[str, Any]) -> str:
        """The counter that receives it: the competent level's own, or (boundary-free) any other."""
        if self.rng.random() < self.weights.boundary_free:
            return self.rng.choice([*self._centres, *self._pcs["district"], *self._pcs["commune"]])
        if procedure.authority_level == "province":
            return self.rng.choice(self._centres)
        area = procedure.area_in(form)
        if area is not None:
            return self.catalogue.competent_agency(procedure.code, self._centres[0], area).area
        return self.rng.choice(self._pcs[procedure.authority_level])

    def _delivery(self, channel: Channel, procedures: list[Procedure]) -> dict[str, str]:
        """How the result is received; online only from procedures offered online whole."""
        weights = dict(self.weights.delivery[channel])
        if any(p.online_level != "full" for p in procedures):
            weights.pop("online", None)
        method = _pick(self.rng, weights)
        return {"method": method, "address": self.people.address()} if method == "postal" else {"method": method}

    def _after(self, fee: int, channel: Channel) -> tuple[Payment | None, Rating | None]:
        w, rng = self.weights, self.rng
        payment = None
        if fee > 0:
            online = rng.random() < w.paid_online
            method = _pick(rng, dict(PAYMENT_METHODS_ONLINE)) if online else "cash"
            payment = Payment(fee, method, online, at_submission=online or channel != "online")
        rating = None
        if rng.random() < w.rated:
            score = rng.choices((5, 4, 3, 2, 1), weights=(55, 30, 8, 4, 3))[0]
            rating = Rating(score, "Phải đi lại nhiều lần" if score <= 2 else None)
        return payment, rating

    def dossier(self, procedure: Procedure) -> Submission:
        """A standalone dossier of ``procedure``."""
        form = self.forms.build(procedure.form_schema)
        channel = self._channel(procedure.online_level)
        receiving = self._receiving(procedure, form)
        competent = self.catalogue.competent_agency(procedure.code, receiving, procedure.area_in(form))
        body = {
            "procedure_code": procedure.code,
            "channel": channel,
            "receiving_agency": receiving,
            "applicant": self._applicant(form),
            "form": form,
            "documents": self._documents(procedure.required_documents, channel),
            "result_delivery": self._delivery(channel, [procedure]),
        }
        payment, rating = self._after(procedure.fee, channel)
        withdraws = self.rng.random() < self.weights.withdrawn
        agencies = tuple(dict.fromkeys((receiving, competent.code)))
        label = f"dossier:{procedure.code}"
        return Submission("dossier", label, "/v1/dossiers", body, agencies, payment, rating, withdraws)

    def bundle(self, bundle_type: str, funeral: str | None = None) -> Submission:
        """A linked bundle; for ``death``, ``funeral`` picks the allowance (drawn from the mix if None)."""
        definition = self.catalogue.bundle(bundle_type)
        label = f"bundle:{bundle_type}"
        fixed = {}
        if "funeral_allowance" in definition.form_schema.get("properties", {}):
            # Chosen first: what the deceased's part of the form must hold follows from it.
            fixed["funeral_allowance"] = funeral or _pick(self.rng, self.weights.funeral)
            label += f":{fixed['funeral_allowance']}"
        form = self.forms.build(definition.form_schema, fixed=fixed)
        channel = self._channel("full")
        receiving = self.rng.choice(self._pcs["commune"])
        steps = definition.applicable_steps(form)
        procedures = [self.catalogue.procedure(s.procedure_code) for s in steps]
        first = procedures[0]  # the step officials decide; the family's commune may route it
        competent = self.catalogue.competent_agency(
            first.code, receiving, first.area_in(steps[0].resolve_inputs(form, {}, partial=True))
        )
        body = {
            "bundle_type": bundle_type,
            "channel": channel,
            "receiving_agency": receiving,
            "applicant": self._applicant(form),
            "form": form,
            "documents": self._documents(self._supplied(definition, form), channel),
            "result_delivery": self._delivery(channel, procedures),
        }
        fee = sum(p.fee for p in procedures)
        payment, rating = self._after(fee, channel)
        agencies = tuple(dict.fromkeys((receiving, competent.code)))
        return Submission("bundle", label, "/v1/bundles", body, agencies, payment, rating)

"""An administrative procedure (thủ tục hành chính) as the catalogue states it.

One JSON file per procedure under ``data/procedures/``. Everything the services need to receive,
route, time and perform a dossier is here as data, so a new procedure is a new file, not new code.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from .base import SLUG_PATTERN, AuthorityLevel, CatalogueModel, ProcessingTime
from .paths import MISSING, POINTER_PATTERN, DataRef, lookup, pointer_keys
from .schema_check import is_required, schema_problems, subschema

RegistrySystem = Literal["population_db", "civil_status", "social_insurance", "social_welfare"]
"""External national systems a step can be sent to (a subset of ``RegistryCommandRequested.system``)."""

OnlineLevel = Literal["full", "partial", "none"]

PROCEDURE_CODE_PATTERN = r"^[0-9]\.[0-9]{6}$"
#: Where a form takes a result field back: ``<procedure code>:<JSON pointer into its form>``.
TAKER_PATTERN = r"^[0-9]\.[0-9]{6}:(/[^/]+)+$"


class RequiredDocument(CatalogueModel):
    """A document component (thành phần hồ sơ) the applicant supplies."""

    kind: str = Field(pattern=SLUG_PATTERN, description="Kind code; dossiers' documents[].kind refer to it.")
    name_vi: str = Field(min_length=1, description="Name of the document in Vietnamese.")
    mandatory: bool = Field(description="False for a document needed only in some cases.")


class OfficialPerformer(CatalogueModel):
    """Our officials decide, through the workflow service's task and decision API."""

    type: Literal["official"] = Field(description="Discriminator: decided by officials of the competent agency.")


class RegistryPerformer(CatalogueModel):
    """An external national system does the work: workflow sends ``RegistryCommandRequested`` with
    this system and operation, and registry-sync's reply completes the step."""

    type: Literal["registry"] = Field(description="Discriminator: performed by an external national system.")
    system: RegistrySystem = Field(description="Which external system (RegistryCommandRequested.system).")
    operation: str = Field(
        pattern=SLUG_PATTERN, description="Operation to request (RegistryCommandRequested.operation)."
    )


Performer = Annotated[OfficialPerformer | RegistryPerformer, Field(discriminator="type")]


class ResultSpec(CatalogueModel):
    """What processing produces: the paper the citizen gets, and the data later steps can use."""

    document_name_vi: str = Field(min_length=1, description="Name of the result document, in Vietnamese.")
    data_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Keys the result data carries (ResultIssued.data / RegistryCommandSucceeded.result), "
        "each with its meaning; bundle steps may reference only these.",
    )
    taken_back_by: dict[str, list[Annotated[str, Field(pattern=TAKER_PATTERN)]]] = Field(
        default_factory=dict,
        description="Where another procedure's form takes a result field back, as '<procedure code>:<JSON "
        "pointer into its form>', besides the bundle steps that take it from this step's result (found from "
        "the bundles' inputs): a licence's number on its renewal, a land certificate's on a building permit. "
        "A number an official states must fit each.",
    )

    @model_validator(mode="after")
    def _takes_back_its_own_fields(self) -> Self:
        unknown = sorted(set(self.taken_back_by) - set(self.data_fields))
        if unknown:
            raise ValueError(f"taken_back_by names fields the result does not carry: {unknown}")
        return self

    def takers(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(field, procedure code, keys in that procedure's form) for every place a field is taken back."""
        links = []
        for name, places in self.taken_back_by.items():
            for place in places:
                code, _, pointer = place.partition(":")
                links.append((name, code, pointer_keys(pointer)))
        return links


class AgeLimit(CatalogueModel):
    """Whom a procedure or a bundle serves by age: the child health-insurance card, and so the birth
    bundle whose step it is, is for a child under 6 (free of charge). An older child's birth is
    registered on its own, and the other procedures follow separately."""

    path: str = Field(
        pattern=r"^form(\.[A-Za-z_][A-Za-z0-9_]*)+$",
        description="The date of birth in the form, 'form.<key>…': a required property of format date.",
    )
    under_years: int = Field(ge=1, le=150, description="The person must not have reached this age on submission.")

    def birthday(self, born: date) -> date:
        """The day the person reaches ``under_years``; one born on 29 February reaches it on 1 March
        of a common year."""
        try:
            return born.replace(year=born.year + self.under_years)
        except ValueError:
            return date(born.year + self.under_years, 3, 1)

    def reached_on(self, form: Mapping[str, Any], today: date) -> date | None:
        """The date ``form``'s person reached the age limit, if they had on ``today``; None if they had
        not (or the date is absent or malformed: the form's schema reports that)."""
        value = lookup(form, DataRef.parse(self.path).keys)
        try:
            born = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            born = None
        if born is None or born.year + self.under_years > date.max.year:
            return None  # no such date yet: a birth in year 9999 (a typo the form's checks report)
        birthday = self.birthday(born)
        return birthday if birthday <= today else None

    def problems(self, form_schema: dict[str, Any]) -> list[str]:
        """Why ``form_schema`` cannot carry this limit: its path must be a required date of the form."""
        keys = DataRef.parse(self.path).keys
        node = subschema(form_schema, keys)
        if node is None or node.get("format") != "date" or not is_required(form_schema, keys):
            return [f"age_limit: {self.path!r} is not a required date of the form"]
        return []


class Procedure(CatalogueModel):
    """A procedure of the catalogue: identity, competence, statutory time, fee, form."""

    code: str = Field(pattern=PROCEDURE_CODE_PATTERN, description="National procedure code, e.g. '1.001193'.")
    code_source: Literal["public_reference", "demo"] = Field(
        description="'public_reference': the code as public references of the national procedure database "
        "give it (verify before production); 'demo': a format-valid placeholder (prefix 9.) for demonstration."
    )
    name_vi: str = Field(min_length=1, description="Official name in Vietnamese, with diacritics.")
    field: str = Field(
        pattern=SLUG_PATTERN,
        description="Field (lĩnh vực): ho_tich civil status, cu_tru residence, bhxh social insurance, dat_dai "
        "land, dang_ky_kinh_doanh business, giao_thong transport, bao_tro_xa_hoi welfare, …",
    )
    authority_level: AuthorityLevel = Field(description="Level of government competent to decide.")
    agency_kind: str = Field(
        pattern=SLUG_PATTERN,
        description="Kind of the competent agency (commune_pc, police_commune, social_insurance, …); routing "
        "picks the agency of this kind in the case's area.",
    )
    processing_time: ProcessingTime = Field(description="Statutory processing time of a standalone dossier.")
    fee: int = Field(
        ge=0,
        # Intake keeps a dossier's fee in a 32-bit column: a larger one loaded, and every submission of
        # the procedure then failed on an out-of-range value.
        le=2**31 - 1,
        description="Fee or charge in VND; 0 when there is no financial obligation.",
    )
    online_level: OnlineLevel = Field(
        description="full: the whole procedure online (toàn trình); partial: submission only (một phần); none."
    )
    allows_repeat: bool = Field(description="Whether one subject may have two open dossiers of this procedure at once.")
    subject_paths: list[Annotated[str, Field(pattern=POINTER_PATTERN)]] = Field(
        min_length=1,
        description="JSON pointers into the form whose values together identify the dossier's subject "
        "(duplicate detection), e.g. ['/deceased/id_number'].",
    )
    area_path: str | None = Field(
        default=None,
        pattern=POINTER_PATTERN,
        description="JSON pointer to a form field holding the code of the People's Committee of the unit the "
        "case belongs to (e.g. a land parcel's commune); routing uses it when present.",
    )
    required_documents: list[RequiredDocument] = Field(description="Document components of the dossier.")
    age_limit: AgeLimit | None = Field(
        default=None, description="Only for a person under an age on submission ('form.<key>…' date); null: any age."
    )
    performer: Performer = Field(description="Who performs it: our officials or an external registry.")
    result: ResultSpec = Field(description="The result document and the data it carries.")
    form_schema: dict[str, Any] = Field(
        description="JSON Schema (draft 2020-12) of the form the citizen fills. Shared and cached: read-only."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = [f"form_schema {p}" for p in schema_problems(self.form_schema)]
        if not problems:
            for pointer in [*self.subject_paths, *([self.area_path] if self.area_path else [])]:
                if subschema(self.form_schema, pointer_keys(pointer)) is None:
                    problems.append(f"{pointer!r} names no property of form_schema")
            if self.age_limit is not None:
                problems.extend(self.age_limit.problems(self.form_schema))
        kinds = [d.kind for d in self.required_documents]
        if len(set(kinds)) != len(kinds):
            problems.append(f"document kinds repeat: {kinds}")
        if problems:
            raise ValueError(f"procedure {self.code}: " + "; ".join(problems))
        return self

    def subject_key(self, form: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The values identifying the subject in ``form``; None if any is absent (then no duplicate
        check is possible, e.g. a bundle step whose subject an earlier step has yet to produce)."""
        values = tuple(lookup(form, pointer_keys(p)) for p in self.subject_paths)
        return None if any(v is MISSING or v is None for v in values) else values

    def area_in(self, form: Mapping[str, Any]) -> str | None:
        """The unit code the form places the case in (see ``area_path``), if any."""
        if self.area_path is None:
            return None
        value = lookup(form, pointer_keys(self.area_path))
        return value if isinstance(value, str) else None

    def document(self, kind: str) -> RequiredDocument | None:
        """The required document of this kind, if the procedure has one."""
        return next((d for d in self.required_documents if d.kind == kind), None)

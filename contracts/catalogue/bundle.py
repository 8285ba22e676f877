"""Linked one-stop bundles (một cửa liên thông) as data: one form, several procedures in order.

One JSON file per bundle under ``data/bundles/``. A step says which procedure it runs, when it
applies (a condition on the submitted form) and how its procedure's form is assembled from the
bundle form and from earlier steps' results. Intake evaluates the conditions at submission;
workflow's saga resolves the inputs when it starts each step. Both use the functions here, so the
semantics live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from .base import SLUG_PATTERN, CatalogueModel, ProcessingTime, UnknownKey
from .paths import DATA_REF_PATTERN, FORM_REF, MISSING, DataRef, assign, lookup, target_keys
from .procedure import PROCEDURE_CODE_PATTERN, AgeLimit
from .schema_check import schema_problems, subschema


class InputUnavailable(LookupError):
    """An earlier step's result lacks a value a later step needs: the step cannot start."""


class _Condition(CatalogueModel):
    path: str = Field(pattern=r"^form(\.[A-Za-z_][A-Za-z0-9_]*)+$", description="Form value tested, 'form.<key>…'.")

    def _value(self, form: Mapping[str, Any]) -> Any:
        return lookup(form, DataRef.parse(self.path).keys)

    def holds(self, form: Mapping[str, Any]) -> bool:
        """Whether the condition holds for ``form``."""
        raise NotImplementedError

    def operands(self) -> list[Any]:
        """The values compared against (checked against the form schema's enum at load)."""
        return []


class Equals(_Condition):
    """Holds when the form value equals ``equals``."""

    equals: Any = Field(description="The value to compare with.")

    def holds(self, form: Mapping[str, Any]) -> bool:
        value = self._value(form)
        return value is not MISSING and bool(value == self.equals)

    def operands(self) -> list[Any]:
        return [self.equals]


class OneOf(_Condition):
    """Holds when the form value is one of ``one_of``."""

    one_of: list[Any] = Field(min_length=1, description="The accepted values.")

    def holds(self, form: Mapping[str, Any]) -> bool:
        value = self._value(form)
        return value is not MISSING and value in self.one_of

    def operands(self) -> list[Any]:
        return list(self.one_of)


class Exists(_Condition):
    """Holds when the form value is present (``exists: true``) or absent (``false``)."""

    exists: bool = Field(description="True: the value must be present; false: absent.")

    def holds(self, form: Mapping[str, Any]) -> bool:
        return (self._value(form) is not MISSING) == self.exists


# Told apart by their operator key: extra="forbid" lets exactly one class accept a given object.
Condition = Equals | OneOf | Exists


class ConstInput(CatalogueModel):
    """A fixed value handed to a step, e.g. the deregistration reason 'deceased' in the death bundle."""

    const: Any = Field(description="The value.")


class DefaultedInput(CatalogueModel):
    """A value of the bundle form handed to a step, or ``default`` when the applicant left it out: the
    child's relation to the household head is 'con' unless the form says it is another (a grandchild
    in the grandfather's household)."""

    ref: str = Field(pattern=FORM_REF.pattern, description="The bundle form's value, 'form.<key>…'.")
    default: Any = Field(description="The value when the form has none.")


InputSource = Annotated[str, Field(pattern=DATA_REF_PATTERN)] | ConstInput | DefaultedInput


class BundleStep(CatalogueModel):
    """One procedure of the bundle. Its performer is the procedure's (catalogue lookup by code)."""

    step_id: str = Field(pattern=SLUG_PATTERN, description="Id within the bundle, e.g. 'birth_registration'.")
    procedure_code: str = Field(
        pattern=PROCEDURE_CODE_PATTERN, description="Procedure the step runs (a catalogue code)."
    )
    inputs: dict[str, InputSource] = Field(
        description="The step's procedure form, assembled: dotted target key path → 'form.<path>' (bundle "
        "form), 'steps.<earlier step>.result.<key>' (an earlier result's data), {'const': value}, or "
        "{'ref': 'form.<path>', 'default': value} (the form's value, else the default)."
    )
    when: Condition | None = Field(default=None, description="The step applies only if this holds; null: always.")
    processing_time: ProcessingTime | None = Field(
        default=None,
        description="Statutory time of this step inside the bundle when it differs from the standalone "
        "procedure's; null: the procedure's.",
    )

    @model_validator(mode="after")
    def _targets(self) -> Self:
        keys = sorted(target_keys(target) for target in self.inputs)
        for shorter, longer in pairwise(keys):
            if longer[: len(shorter)] == shorter:
                raise ValueError(
                    f"step {self.step_id}: input {'.'.join(longer)!r} lies inside input {'.'.join(shorter)!r}"
                )
        return self

    def applies_to(self, form: Mapping[str, Any]) -> bool:
        """Whether the step runs for this bundle form."""
        return self.when is None or self.when.holds(form)

    def refs(self) -> dict[str, DataRef]:
        """The data references among the inputs, by target."""
        return {
            t: DataRef.parse(s if isinstance(s, str) else s.ref)
            for t, s in self.inputs.items()
            if not isinstance(s, ConstInput)
        }

    def resolve_inputs(
        self, form: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]], *, partial: bool = False
    ) -> dict[str, Any]:
        """The step's procedure form built from the bundle ``form`` and earlier ``results`` (step id →
        result data).

        A form value that is absent (an optional part, such as ``father``) is left out. A result value
        that is absent raises :class:`InputUnavailable` — the earlier step promised it — unless
        ``partial``: then it is left out too (intake's view at submission, before any result exists).
        """
        built: dict[str, Any] = {}
        for target, source in sorted(self.inputs.items()):
            if isinstance(source, ConstInput):
                assign(built, target_keys(target), source.const)
                continue
            ref = DataRef.parse(source if isinstance(source, str) else source.ref)
            data = form if ref.source == "form" else results.get(ref.step_id or "", MISSING)
            value = MISSING if data is MISSING else lookup(data, ref.keys)
            if value is MISSING and isinstance(source, DefaultedInput):
                value = source.default
            if value is MISSING:
                if ref.source == "steps" and not partial:
                    raise InputUnavailable(f"step {self.step_id!r} needs {source}, which is not available")
                continue
            assign(built, target_keys(target), value)
        return built


class UnknownBundleStep(UnknownKey):
    """The bundle has no step of this id (a newer edition added it)."""

    missing = "unknown bundle step"


class BundleDefinition(CatalogueModel):
    """A linked bundle: its combined form and its ordered steps."""

    bundle_type: str = Field(pattern=SLUG_PATTERN, description="Type, e.g. 'birth'; the file is <type>.json.")
    name_vi: str = Field(min_length=1, description="Name in Vietnamese, with diacritics.")
    portal_code: str | None = Field(default=None, description="National portal code of the linked service, if known.")
    statutory_limit: ProcessingTime = Field(description="Statutory limit for the whole bundle.")
    form_schema: dict[str, Any] = Field(description="JSON Schema (draft 2020-12) of the combined form. Read-only.")
    steps: list[BundleStep] = Field(min_length=1, description="Steps in the order they run.")
    age_limit: AgeLimit | None = Field(
        default=None, description="The bundle is only for a person under an age on submission; null: any age."
    )
    supplied_documents: list[Annotated[str, Field(pattern=SLUG_PATTERN)]] = Field(
        default_factory=list,
        description=(
            "Kinds of the documents the applicant hands in with the bundle, each a required document of"
            " some step's procedure. A step's other mandatory documents are produced inside the bundle:"
            " its declaration from the combined form, or an earlier step's result passed on between the"
            " agencies."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = [f"form_schema {p}" for p in schema_problems(self.form_schema)]
        schema_ok = not problems
        seen: dict[str, BundleStep] = {}
        for step in self.steps:
            if step.step_id in seen:
                problems.append(f"step id {step.step_id!r} repeats")
            for target, ref in step.refs().items():
                if ref.source == "steps":
                    problems.extend(_step_ref_problems(step, target, seen.get(ref.step_id or ""), ref))
                elif schema_ok and subschema(self.form_schema, ref.keys) is None:
                    problems.append(f"step {step.step_id!r} input {target!r}: form has no {'.'.join(ref.keys)!r}")
            if step.when is not None and schema_ok:
                problems.extend(self._condition_problems(step, step.when))
            seen[step.step_id] = step
        if self.age_limit is not None and schema_ok:
            problems.extend(self.age_limit.problems(self.form_schema))
        if problems:
            raise ValueError(f"bundle {self.bundle_type}: " + "; ".join(problems))
        return self

    def _condition_problems(self, step: BundleStep, when: Condition) -> list[str]:
        node = subschema(self.form_schema, DataRef.parse(when.path).keys)
        if node is None:
            return [f"step {step.step_id!r} condition: form has no {when.path!r}"]
        enum = node.get("enum")
        bad = [v for v in when.operands() if enum is not None and v not in enum]
        return [f"step {step.step_id!r} condition: {bad} not in the form's enum {enum}"] if bad else []

    def step(self, step_id: str) -> BundleStep:
        """The step with this id; :class:`UnknownBundleStep` if none."""
        for step in self.steps:
            if step.step_id == step_id:
                return step
        raise UnknownBundleStep(f"bundle {self.bundle_type!r} has no step {step_id!r}")

    def applicable_steps(self, form: Mapping[str, Any]) -> list[BundleStep]:
        """The steps that run for this form, in order (what ``BundleSubmitted.steps`` lists)."""
        return [step for step in self.steps if step.applies_to(form)]


def _step_ref_problems(step: BundleStep, target: str, earlier: BundleStep | None, ref: DataRef) -> list[str]:
    """A step may use only results of earlier steps that surely ran when it runs."""
    where = f"step {step.step_id!r} input {target!r}"
    if earlier is None:
        return [f"{where}: {ref.step_id!r} is not an earlier step"]
    if earlier.when is not None and earlier.when != step.when:
        return [f"{where}: needs the result of conditional step {earlier.step_id!r} without sharing its condition"]
    return []

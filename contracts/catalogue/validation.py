"""Checks across data files, run at every load.

Each model validates itself (a form schema is well formed, a bundle's conditions name form values
that exist). What no single file can check is here: agencies form a sound hierarchy, every
procedure can be routed from every counter, and bundle steps fit the procedures they run — so a
broken data file stops a service at start-up instead of failing one citizen's dossier later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .agency import Agency
from .base import LEVEL_RANK
from .bundle import BundleDefinition, BundleStep, ConstInput, DefaultedInput
from .jsonvalue import is_json_type, json_equal, valid_format
from .paths import DataRef, target_keys
from .procedure import Procedure
from .routing import AgencyDirectory, NoCompetentAgency
from .schema_check import dereferenced, required_leaves, subschema

_PC_KIND_OF_LEVEL = {"commune": "commune_pc", "district": "district_pc", "province": "province_pc"}


def agency_problems(directory: AgencyDirectory) -> list[str]:
    """Dangling or inconsistent parents, areas and seats, and two agencies of one kind in one unit."""
    agencies = directory.by_code
    problems = list(directory.duplicates)
    for agency in agencies.values():
        problems.extend(_links(agency, agencies))
        if _has_cycle(agency, agencies):
            problems.append(f"{agency.code}: its parent chain loops")
    return problems


def _links(agency: Agency, agencies: Mapping[str, Agency]) -> list[str]:
    problems = []
    parent = agencies.get(agency.parent) if agency.parent else None
    if agency.parent and parent is None:
        problems.append(f"{agency.code}: parent {agency.parent!r} does not exist")
    elif parent is not None and LEVEL_RANK[parent.level] < LEVEL_RANK[agency.level]:
        problems.append(f"{agency.code}: parent {parent.code} is at a lower level")
    area = agencies.get(agency.area)
    if area is None or not area.is_peoples_committee or area.level != agency.level:
        problems.append(f"{agency.code}: area {agency.area!r} is not a {agency.level} People's Committee")
    if agency.is_peoples_committee:
        if agency.kind != _PC_KIND_OF_LEVEL[agency.level]:
            problems.append(
                f"{agency.code}: a {agency.level} People's Committee has kind {_PC_KIND_OF_LEVEL[agency.level]}"
            )
        if agency.level != "province" and (
            parent is None
            or not parent.is_peoples_committee
            or LEVEL_RANK[parent.level] != LEVEL_RANK[agency.level] + 1
        ):
            problems.append(f"{agency.code}: parent must be the People's Committee one level up")
        seat = agencies.get(agency.seat) if agency.seat else None
        if agency.seat and (seat is None or seat.parent != agency.code or not seat.is_peoples_committee):
            problems.append(f"{agency.code}: seat {agency.seat!r} is not one of its own lower-level units")
    return problems


def _has_cycle(agency: Agency, agencies: Mapping[str, Agency]) -> bool:
    seen = {agency.code}
    node = agency
    while node.parent and node.parent in agencies:
        if node.parent in seen:
            return True
        seen.add(node.parent)
        node = agencies[node.parent]
    return False


def routing_problems(procedures: Mapping[str, Procedure], directory: AgencyDirectory) -> list[str]:
    """Every procedure must route to a competent agency from every agency's counter."""
    problems: set[str] = set()
    for procedure in procedures.values():
        for code in directory.by_code:
            try:
                competent = directory.competent(procedure, code)
            except (NoCompetentAgency, KeyError) as exc:
                problems.add(f"procedure {procedure.code}: {exc}")
                continue
            if competent.level != procedure.authority_level:
                problems.add(f"procedure {procedure.code}: routes to {competent.code} at {competent.level} level")
    return sorted(problems)


def bundle_problems(bundle: BundleDefinition, procedures: Mapping[str, Procedure]) -> list[str]:
    """Steps name existing procedures, fill those procedures' forms, and use results they produce; the
    documents the applicant supplies are documents of those procedures."""
    problems: list[str] = []
    for step in bundle.steps:
        procedure = procedures.get(step.procedure_code)
        if procedure is None:
            problems.append(f"step {step.step_id!r}: no procedure {step.procedure_code!r}")
            continue
        problems.extend(_input_problems(bundle, step, procedure, procedures))
        limit = procedure.age_limit
        if limit is not None and (bundle.age_limit is None or bundle.age_limit.under_years > limit.under_years):
            # Intake checks the bundle's own limit: a bundle without it took an older child into a step
            # whose procedure refuses them, and the step failed days later.
            problems.append(
                f"step {step.step_id!r}: {procedure.code} is for a person under {limit.under_years}; the bundle's"
                " age_limit must be as strict"
            )
    known = {d.kind for s in bundle.steps if (p := procedures.get(s.procedure_code)) for d in p.required_documents}
    problems.extend(
        f"supplied document {kind!r} is not a required document of any step's procedure"
        for kind in bundle.supplied_documents
        if kind not in known
    )
    if len(set(bundle.supplied_documents)) != len(bundle.supplied_documents):
        problems.append("supplied_documents repeats a kind")
    return [f"bundle {bundle.bundle_type}: {p}" for p in problems]


def _input_problems(
    bundle: BundleDefinition, step: BundleStep, procedure: Procedure, procedures: Mapping[str, Procedure]
) -> list[str]:
    where = f"step {step.step_id!r}"
    problems = []
    targets = [target_keys(t) for t in step.inputs]
    for keys in targets:
        if subschema(procedure.form_schema, keys) is None:
            problems.append(f"{where}: input {'.'.join(keys)!r} is not in the form of {procedure.code}")
    for leaf in required_leaves(procedure.form_schema):
        if not any(leaf[: len(t)] == t for t in targets):
            problems.append(f"{where}: nothing fills {'.'.join(leaf)!r}, required by the form of {procedure.code}")
    for target, source_value in sorted(step.inputs.items()):
        target_schema = subschema(procedure.form_schema, target_keys(target))
        if target_schema is None:
            continue
        if isinstance(source_value, ConstInput):
            unfit = _unfit(source_value.const, target_schema, procedure.form_schema)
            problems.extend(f"{where}: input {target!r}: {p}" for p in unfit)
            continue
        if isinstance(source_value, DefaultedInput):
            unfit = _unfit(source_value.default, target_schema, procedure.form_schema)
            problems.extend(f"{where}: input {target!r}'s default: {p}" for p in unfit)
            source_value = source_value.ref
        ref = DataRef.parse(source_value)
        if ref.source == "form" and (given := subschema(bundle.form_schema, ref.keys)) is not None:
            unlike = _unlike(given, target_schema)
            problems.extend(f"{where}: input {target!r} from {source_value!r}: {p}" for p in unlike)
    for target, ref in step.refs().items():
        if ref.source != "steps":
            continue
        source = procedures.get(bundle.step(ref.step_id or "").procedure_code)
        if source is not None and ref.keys[0] not in source.result.data_fields:
            problems.append(
                f"{where}: input {target!r} uses result field {ref.keys[0]!r}, which {source.code} does not "
                f"produce (it produces {sorted(source.result.data_fields)})"
            )
    return problems


def taker_problems(procedures: Mapping[str, Procedure]) -> list[str]:
    """Every place a result field is taken back is a property of an existing procedure's form."""
    problems = []
    for procedure in procedures.values():
        for name, code, keys in procedure.result.takers():
            taker = procedures.get(code)
            if taker is None:
                problems.append(f"procedure {procedure.code}: result.taken_back_by.{name}: no procedure {code!r}")
            elif subschema(taker.form_schema, keys) is None:
                problems.append(
                    f"procedure {procedure.code}: result.taken_back_by.{name}: {'/'.join(keys)!r} is not in the"
                    f" form of {code}"
                )
    return problems


def _unfit(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> list[str]:
    """Why a constant would not pass ``schema``: type (an integral float is an integer, as intake takes
    it; a flag is no number), enum, const, pattern, lengths, a date format, and an object's own
    required and typed properties, recursively."""
    if not _of_type(value, schema.get("type")):
        return [f"{value!r} is not of type {schema.get('type')!r}"]
    if "enum" in schema and not any(json_equal(value, allowed) for allowed in schema["enum"]):
        return [f"{value!r} is not one of {schema['enum']}"]
    if "const" in schema and not json_equal(value, schema["const"]):
        return [f"{value!r} is not {schema['const']!r}"]
    if isinstance(value, str):
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            return [f"{value!r} does not match {schema['pattern']!r}"]
        if len(value.strip()) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            return [f"{value!r} has a length the form does not take"]
        if schema.get("format") == "date" and not valid_format("date", value):
            return [f"{value!r} is not a date"]
    if isinstance(value, dict):
        properties = {
            key: dereferenced(dict(root), sub) if root is not None else sub
            for key, sub in schema.get("properties", {}).items()
        }
        missing = [f"{key!r} is missing" for key in schema.get("required", []) if key not in value]
        inner = [
            f"{key}: {problem}"
            for key, item in value.items()
            if isinstance(properties.get(key), dict)
            for problem in _unfit(item, properties[key], root)
        ]
        unknown = [f"{key!r} is not in the form" for key in value if key not in properties]
        return missing + inner + (unknown if schema.get("additionalProperties") is False else [])
    return []


def _types(kind: Any) -> set[str] | None:
    """A schema's ``type`` as a set; None for no type (anything)."""
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def _of_type(value: Any, kind: Any) -> bool:
    kinds = _types(kind)
    return kinds is None or any(is_json_type(value, k) for k in kinds)


def _unlike(given: Mapping[str, Any], target: Mapping[str, Any]) -> list[str]:
    """Why a value valid for the bundle form's ``given`` schema may fail the step form's ``target``: a
    date is no identification number (it loaded, to fail at the registry). Values ``given`` lists (enum,
    const) are checked one by one. Otherwise it must be at least as strict: of the target's types
    (an integer is a number), and with a constraint of each kind the target has (a pattern, a format,
    a list of values); two patterns are not compared. A field built with combinators (allOf, if) is
    not judged."""
    listed = given.get("enum", [given["const"]] if "const" in given else None)
    if isinstance(listed, list):
        return [p for value in listed for p in _unfit(value, target)]
    if any(key in given for key in ("allOf", "anyOf", "oneOf", "if", "not")):
        return []
    problems = []
    wanted, offered = _types(target.get("type")), _types(given.get("type"))
    if wanted is not None:
        widened = wanted | ({"integer"} if "number" in wanted else set())
        if offered is None or not offered <= widened:
            problems.append(f"the form wants type {target['type']!r}, the bundle's field has {given.get('type')!r}")
    for key in ("format", "pattern", "enum"):
        if key in target and key not in given:
            problems.append(f"the form wants {key} {target[key]!r}, the bundle's field has no {key}")
    if "format" in target and "format" in given and given["format"] != target["format"]:
        problems.append(f"the form wants format {target['format']!r}, the bundle's field has {given['format']!r}")
    return problems

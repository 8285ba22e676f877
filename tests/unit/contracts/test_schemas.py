"""The checked-in schemas match the models, and incompatible event changes are caught."""

from __future__ import annotations

import json

from contracts import schemagen


def test_checked_in_schemas_match_the_models() -> None:
    drift, breaking = schemagen.check()
    assert breaking == []
    assert drift == [], "run `make schemas` and commit contracts/schemas"


def test_every_event_has_a_description_on_every_payload_field() -> None:
    for path, text in schemagen.rendered().items():
        if not path.startswith("events/"):
            continue
        doc = json.loads(text)
        for name, prop in doc["properties"]["payload"]["properties"].items():
            assert prop.get("description"), f"{path}: payload field {name!r} has no description"


OLD = {
    "properties": {"dossier_id": {"type": "string"}, "amount": {"type": "integer"}},
    "required": ["dossier_id", "amount"],
}


def test_an_optional_new_field_is_compatible() -> None:
    new = {"properties": {**OLD["properties"], "note": {"type": "string"}}, "required": OLD["required"]}
    assert schemagen.incompatibilities(OLD, new) == []


def test_removing_retyping_or_requiring_fields_is_incompatible() -> None:
    removed = {"properties": {"dossier_id": {"type": "string"}}, "required": ["dossier_id"]}
    retyped = {"properties": {**OLD["properties"], "amount": {"type": "string"}}, "required": OLD["required"]}
    required = {
        "properties": {**OLD["properties"], "currency": {"type": "string"}},
        "required": [*OLD["required"], "currency"],
    }
    assert schemagen.incompatibilities(OLD, removed) == ["field 'amount' removed"]
    assert schemagen.incompatibilities(OLD, retyped) == ["field 'amount' changed type integer -> string"]
    assert schemagen.incompatibilities(OLD, required) == ["new required field 'currency'"]


def test_the_drift_check_reports_an_incompatible_change(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for path, text in schemagen.rendered().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    target = tmp_path / "events" / "FeePaid.v1.json"
    doc = json.loads(target.read_text())
    doc["properties"]["payload"]["properties"]["currency"] = {"type": "string"}
    payload = doc["properties"]["payload"]
    del payload["properties"]["online"]
    payload["required"].remove("online")
    target.write_text(json.dumps(doc))
    drift, breaking = schemagen.check(tmp_path)
    assert drift == ["events/FeePaid.v1.json: differs from the models"]
    assert sorted(breaking) == [
        "events/FeePaid.v1.json: field 'currency' removed",
        "events/FeePaid.v1.json: new required field 'online'",
    ]


def test_nested_models_narrowed_values_and_removed_event_types_are_incompatible(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only the payload's own fields were compared: an applicant's new required field, a channel no
    longer allowed and a deleted event type all passed, and stored events then failed on replay."""
    for path, text in schemagen.rendered().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    target = tmp_path / "events" / "DossierSubmitted.v1.json"
    doc = json.loads(target.read_text())  # the "old" schema, as if checked in before today's models
    doc["$defs"]["Applicant"]["required"].remove("full_name")
    doc["properties"]["payload"]["properties"]["channel"]["enum"].append("kiosk")
    target.write_text(json.dumps(doc))
    (tmp_path / "events" / "DossierArchived.v1.json").write_text("{}")
    drift, breaking = schemagen.check(tmp_path)
    assert "events/DossierArchived.v1.json: no model renders it" in drift
    assert sorted(breaking) == [
        "events/DossierArchived.v1.json: event type removed or renamed (keep that version's model so stored"
        " events stay readable, or delete the file if none was ever published)",
        "events/DossierSubmitted.v1.json: field 'channel' no longer allows ['kiosk']",
        "events/DossierSubmitted.v1.json: new required field 'applicant.full_name'",
    ]


def test_stricter_bounds_lengths_patterns_and_formats_are_incompatible_looser_ones_are_not() -> None:
    """Only types, values and required fields were compared: a new minimum or pattern passed, and events
    stored before it then failed on a replay or a rebuild."""
    old = {"properties": {"amount": {"type": "integer", "minimum": 0}, "code": {"type": "string", "maxLength": 80}}}

    def with_(field: str, **constraints: object) -> dict[str, object]:
        props = old["properties"]
        return {"properties": {**props, field: {**props[field], **constraints}}}

    assert schemagen.incompatibilities(old, with_("amount", minimum=1)) == ["field 'amount' minimum 0 -> 1"]
    assert schemagen.incompatibilities(old, with_("amount", maximum=10**9)) == [
        "field 'amount' maximum none -> 1000000000"
    ]
    assert schemagen.incompatibilities(old, with_("code", maxLength=40)) == ["field 'code' maxLength 80 -> 40"]
    patterned = schemagen.incompatibilities(old, with_("code", pattern="^[A-Z]"))
    assert patterned == ["field 'code' pattern 'none' -> '^[A-Z]'"]
    assert schemagen.incompatibilities(old, with_("code", format="date")) == ["field 'code' format 'none' -> 'date'"]
    assert schemagen.incompatibilities(old, with_("code", maxLength=200)) == []  # looser
    assert schemagen.incompatibilities(old, with_("amount", minimum=-5)) == []


def test_a_new_envelope_field_is_incompatible(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Envelopes are read strictly: a field the previous build does not know fails it on every event."""
    for path, text in schemagen.rendered().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    target = tmp_path / "envelope.json"
    doc = json.loads(target.read_text())
    del doc["properties"]["causation_id"]  # as if the models had just added it
    target.write_text(json.dumps(doc))
    drift, breaking = schemagen.check(tmp_path)
    assert drift == ["envelope.json: differs from the models"]
    assert breaking == ["envelope.json: new field 'causation_id' (an envelope is read strictly)"]

"""Generate the checked-in JSON Schemas and the AsyncAPI document from the models.

``python -m contracts.schemagen`` writes them; ``--check`` only compares (CI's drift test does
the same). An event whose schema changes incompatibly, at any depth (a field removed or retyped,
a new required field, a value no longer allowed, a bound, length, pattern or format made stricter,
the event type's schema no longer rendered) is refused: such a change needs a new ``event_version``,
so events of the old version stay readable. So is any change to the envelope but a looser one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import contracts.events  # noqa: F401 - registers every event model
from contracts.envelope import Envelope, EventPayload, registered_events
from contracts.topics import Topics

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def contract_events() -> list[type[EventPayload]]:
    """The events defined in this package (tests may register their own; those are not contracts)."""
    return [m for m in registered_events() if m.__module__.startswith("contracts.events.")]


def event_schema(model: type[EventPayload]) -> dict[str, Any]:
    """The envelope schema with ``type``, ``version`` and ``payload`` fixed to this event."""
    schema = Envelope.model_json_schema()
    payload = model.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**schema.pop("$defs", {}), **payload.pop("$defs", {})}
    schema["title"] = f"{model.event_type} v{model.event_version}"
    schema["description"] = (model.__doc__ or "").strip()
    schema["properties"]["type"] = {"const": model.event_type, "type": "string"}
    schema["properties"]["version"] = {"const": model.event_version, "type": "integer"}
    schema["properties"]["payload"] = payload
    schema["x-topic"] = getattr(Topics(), model.topic_role)
    if defs:
        schema["$defs"] = defs
    return schema


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3 document: one channel per topic, one message per event type."""
    topics = Topics()
    channels: dict[str, Any] = {}
    for model in contract_events():
        topic = getattr(topics, model.topic_role)
        channel = channels.setdefault(topic, {"address": topic, "messages": {}})
        name = f"{model.event_type}.v{model.event_version}"
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    messages = {
        f"{m.event_type}.v{m.event_version}": {
            "name": m.event_type,
            "summary": (m.__doc__ or "").strip().splitlines()[0] if m.__doc__ else "",
            "payload": {"$ref": f"events/{m.event_type}.v{m.event_version}.json"},
        }
        for m in contract_events()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Dossier platform events", "version": "1.0.0"},
        "channels": dict(sorted(channels.items())),
        "components": {"messages": messages},
    }


def rendered() -> dict[str, str]:
    """Every generated file, by path relative to the schema dir."""
    files = {"envelope.json": Envelope.model_json_schema(), "asyncapi.json": asyncapi()}
    for model in contract_events():
        files[f"events/{model.event_type}.v{model.event_version}.json"] = event_schema(model)
    return {path: json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n" for path, doc in files.items()}


def incompatibilities(
    old: dict[str, Any],
    new: dict[str, Any],
    old_defs: dict[str, Any] | None = None,
    new_defs: dict[str, Any] | None = None,
    where: str = "",
) -> list[str]:
    """Why events written against ``old`` could not be read with ``new`` (empty if they can): a field
    removed or retyped, a new required one, a value no longer allowed, at any depth (nested models
    are followed through ``$defs``, so an applicant's new required field counts as one of the event's)."""
    old_defs, new_defs = old_defs or {}, new_defs or {}
    old, new = _resolved(old, old_defs), _resolved(new, new_defs)
    old_type, new_type = _type_of(old, old_defs), _type_of(new, new_defs)
    if old_type != new_type:
        return [f"field {where!r} changed type {old_type} -> {new_type}"]
    problems = _tightened(old, new, where or "payload")
    old_values, new_values = _values(old), _values(new)
    dropped = old_values - new_values if old_values and new_values else set()
    if dropped:
        problems.append(f"field {where or 'payload'!r} no longer allows {sorted(dropped, key=str)}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, prop in old_props.items():
        path = f"{where}.{name}" if where else name
        if name not in new_props:
            problems.append(f"field {path!r} removed")
        else:
            problems += incompatibilities(prop, new_props[name], old_defs, new_defs, path)
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        problems.append(f"new required field {(f'{where}.{name}' if where else name)!r}")
    if "items" in old and "items" in new:
        problems += incompatibilities(old["items"], new["items"], old_defs, new_defs, f"{where}[]")
    for branch in old.get("anyOf", []):  # an optional model: follow the branch of the same type
        same = [b for b in new.get("anyOf", []) if _type_of(b, new_defs) == _type_of(branch, old_defs)]
        if same:
            problems += incompatibilities(branch, same[0], old_defs, new_defs, where)
    return problems


#: Bounds a value must keep within: a new one, or one moved this way, refuses values stored before.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")


def _tightened(old: dict[str, Any], new: dict[str, Any], where: str) -> list[str]:
    """A field's own constraints made stricter: a bound added or moved in, a pattern or format added
    or changed (the same value may no longer match)."""
    problems = []
    for key in _LOWER_BOUNDS + _UPPER_BOUNDS:
        if key not in new:
            continue
        lower = key in _LOWER_BOUNDS
        if key not in old or (new[key] > old[key] if lower else new[key] < old[key]):
            problems.append(f"field {where!r} {key} {old.get(key, 'none')} -> {new[key]}")
    for key in ("pattern", "format"):
        if key in new and new.get(key) != old.get(key):
            problems.append(f"field {where!r} {key} {old.get(key, 'none')!r} -> {new[key]!r}")
    return problems


def _resolved(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref", "")
    return _resolved(defs.get(ref.rsplit("/", 1)[-1], {}), defs) if ref else prop


def _type_of(prop: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    prop = _resolved(prop, defs or {})
    if "anyOf" in prop:
        return sorted(json.dumps(_type_of(p, defs), sort_keys=True) for p in prop["anyOf"])
    return prop.get("type") or prop.get("const")


def _values(prop: dict[str, Any]) -> set[Any]:
    """The values an enum or a constant allows (empty: any of its type)."""
    if "enum" in prop:
        return set(prop["enum"])
    return {prop["const"]} if "const" in prop else set()


def check(schema_dir: Path = SCHEMA_DIR) -> tuple[list[str], list[str]]:
    """(files that differ from the models, incompatible event changes)."""
    drift, breaking = [], []
    generated = rendered()
    # A schema no model renders any more: its event type was removed or renamed, and the stored events
    # of it could no longer be read on a replay or a rebuild.
    for target in sorted((schema_dir / "events").glob("*.json")):
        path = f"events/{target.name}"
        if path not in generated:
            drift.append(f"{path}: no model renders it")
            breaking.append(
                f"{path}: event type removed or renamed (keep that version's model so stored events stay"
                " readable, or delete the file if none was ever published)"
            )
    for path, text in generated.items():
        target = schema_dir / path
        if not target.exists():
            drift.append(f"{path}: missing")
            continue
        current = target.read_text(encoding="utf-8")
        if current == text:
            continue
        drift.append(f"{path}: differs from the models")
        if path == "envelope.json":
            # Envelopes are read strictly (an unknown field is refused): one the previous build does not
            # know fails it on every event the new one writes, besides any change that fails old ones.
            old_doc, new_doc = json.loads(current), json.loads(text)
            added = sorted(set(new_doc.get("properties", {})) - set(old_doc.get("properties", {})))
            breaking += [f"{path}: new field {name!r} (an envelope is read strictly)" for name in added]
            breaking += [f"{path}: {p}" for p in incompatibilities(old_doc, new_doc)]
        elif path.startswith("events/"):
            old_doc, new_doc = json.loads(current), json.loads(text)
            problems = incompatibilities(
                old_doc["properties"]["payload"],
                new_doc["properties"]["payload"],
                old_doc.get("$defs", {}),
                new_doc.get("$defs", {}),
            )
            breaking += [f"{path}: {p}" for p in problems]
    return drift, breaking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on drift")
    args = parser.parse_args(argv)
    drift, breaking = check()
    if breaking:
        heading = "incompatible event changes (a changed event needs a new event_version, the old one's model kept):"
        print(heading, *breaking, sep="\n  ")
        return 1
    if args.check:
        if drift:
            print("schemas differ from the models; run `make schemas`:", *drift, sep="\n  ")
        return 1 if drift else 0
    for path, text in rendered().items():
        target = SCHEMA_DIR / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered())} files under {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

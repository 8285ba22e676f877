"""Facts read from a settings class rather than copied into deploy/: the environment variable of
each field, which fields a production deployment must set, and what a given environment
(a compose service's, a Kubernetes container's) makes of the class."""

from __future__ import annotations

import os
import re
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import to_json
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from eventkit.settings import ServiceSettings, _SharedEnvSource

#: Fields every service also reads unprefixed (DATABASE_URL …), as eventkit defines them.
SHARED_FIELDS: frozenset[str] = frozenset(getattr(_SharedEnvSource, "SHARED", frozenset()))

LOOPBACK = re.compile(r"(127\.\d+\.\d+\.\d+|localhost|\[::1\])")


@dataclass(frozen=True)
class Variable:
    """One setting as an operator sees it."""

    field: str
    name: str
    shared_name: str | None
    kind: str
    default: str
    description: str
    required_in_production: bool
    block: type[BaseModel] | None = None


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The (prefixed) environment variable of ``field``."""
    alias = cls.model_fields[field].validation_alias or cls.model_fields[field].alias
    if isinstance(alias, str):
        return alias.upper()
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def shared_name(cls: type[BaseSettings], field: str) -> str | None:
    """The unprefixed variable that also sets ``field`` for every service, if there is one."""
    if issubclass(cls, ServiceSettings) and field in SHARED_FIELDS:
        return field.upper()
    return None


def variables(cls: type[BaseSettings]) -> list[Variable]:
    """Every field of ``cls`` in declaration order."""
    required = production_required(cls)
    return [
        Variable(
            field=name,
            name=env_name(cls, name),
            shared_name=shared_name(cls, name),
            kind=type_name(info.annotation),
            default=default_text(info),
            description=description(cls, name),
            required_in_production=name in required,
            block=block_model(info.annotation),
        )
        for name, info in cls.model_fields.items()
    ]


def block_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a block of settings (one external system), if the field is one."""
    candidates = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def block_fields(model: type[BaseModel]) -> list[Variable]:
    """The fields of a block, named by field only (the caller knows the prefix)."""
    return [
        Variable(
            field=name,
            name=name.upper(),
            shared_name=None,
            kind=type_name(info.annotation),
            default=default_text(info),
            description=info.description or "",
            required_in_production=False,
        )
        for name, info in model.model_fields.items()
    ]


def description(cls: type[BaseSettings], field: str) -> str:
    """The field's description, or the one of the field it overrides (``port: int = 8001``)."""
    for klass in cls.__mro__:
        fields = getattr(klass, "model_fields", None)
        if isinstance(fields, dict) and field in fields and fields[field].description:
            return str(fields[field].description)
    block = block_model(cls.model_fields[field].annotation)
    if block is not None and block.__doc__:
        return block.__doc__.strip().splitlines()[0]
    return ""


def type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(str(a) for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(annotation))
    if origin in (dict, Mapping) or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "JSON object"
    if origin in (list, tuple, set, frozenset):
        return "JSON array"
    if annotation is SecretStr:
        return "secret"
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def default_value(info: FieldInfo) -> Any:
    if info.is_required():
        return None
    return info.get_default(call_default_factory=True, validated_data={})


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return ""
    value = default_value(info)
    if isinstance(value, SecretStr):
        return "(development value, hidden)" if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, dict | list):
        return to_json(value, fallback=str).decode()  # keys that are dates too, as the environment gives them
    return str(value)


def _init_only(cls: type[BaseSettings]) -> type[BaseSettings]:
    """A subclass of ``cls`` that reads its keyword arguments and nothing from the environment."""

    def sources(
        _cls: type[BaseSettings],
        /,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_others: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    namespace = {"settings_customise_sources": classmethod(sources), "__module__": __name__}
    return type(f"{cls.__name__}Probe", (cls,), namespace)


PLACEHOLDER = "set-in-production"


def _placeholder(info: FieldInfo) -> Any:
    """A value other than the development default, for a field production refuses to leave unset."""
    if info.examples:
        return info.examples[0]
    annotation = info.annotation
    if annotation is SecretStr:
        return SecretStr(PLACEHOLDER)
    if annotation is str:
        return PLACEHOLDER
    default = default_value(info)
    if isinstance(default, BaseModel):
        # A block of settings (one external system): fill its text fields, keep the rest.
        texts = {
            name: PLACEHOLDER for name, sub in type(default).model_fields.items() if _is_optional_text(sub.annotation)
        }
        if texts:
            return default.model_copy(update=texts)
    raise LookupError(f"cannot make up a production value of type {annotation}; give the field examples=[...]")


def _is_optional_text(annotation: Any) -> bool:
    return annotation is str or (get_origin(annotation) in (Union, types.UnionType) and str in get_args(annotation))


def _fields_named(cls: type[BaseSettings], detail: Mapping[str, Any]) -> set[str]:
    """Fields one validation error is about: by location, or by variable or field name in its message."""
    loc = detail.get("loc") or ()
    if loc and loc[0] in cls.model_fields:
        return {str(loc[0])}
    message = str(detail.get("msg", ""))
    named = set()
    for field in cls.model_fields:
        words = {env_name(cls, field), field, field.upper()}
        if any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(w)}(?![A-Za-z0-9_])", message) for w in words):
            named.add(field)
    return named


@dataclass(frozen=True)
class Refusal:
    """One reason a class refuses to run in production, and the fields that reason names."""

    message: str
    fields: frozenset[str]


def production_refusals(cls: type[BaseSettings]) -> list[Refusal]:
    """Why ``cls`` refuses ``environment=production`` with nothing set, one reason at a time.

    Found by asking the class: build it for production with nothing set, note the fields the
    refusal names, give those a value, and again until it is accepted.
    """
    required = {name for name, info in cls.model_fields.items() if info.is_required()}
    refusals = [Refusal("required", frozenset(required))] if required else []
    if "environment" not in cls.model_fields:
        return refusals
    probe = _init_only(cls)
    supplied: dict[str, Any] = {name: _placeholder(cls.model_fields[name]) for name in required}
    for _ in range(len(cls.model_fields) + 1):
        try:
            probe(environment="production", **supplied)
        except ValidationError as exc:
            progress = False
            for detail in exc.errors():
                new = _fields_named(cls, detail) - supplied.keys()
                if new:
                    progress = True
                    message = str(detail.get("msg", "")).removeprefix("Value error, ")
                    refusals.append(Refusal(message, frozenset(new)))
                    supplied.update({name: _placeholder(cls.model_fields[name]) for name in new})
            if not progress:
                raise LookupError(
                    f"{cls.__name__} refuses production without naming a field (name its variable in the error): {exc}"
                ) from exc
        else:
            return refusals
    raise LookupError(f"{cls.__name__}: no production configuration found")


def production_required(cls: type[BaseSettings]) -> frozenset[str]:
    """Fields a production deployment must set: the required ones, and those whose development
    default the class refuses when ``environment`` is ``production``."""
    return frozenset().union(*(r.fields for r in production_refusals(cls)))


@contextmanager
def _environ(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def settings_from_env(cls: type[BaseSettings], env: Mapping[str, str]) -> BaseSettings:
    """``cls`` as a process with exactly ``env`` as its environment would build it."""
    with _environ(env):
        return cls()


def loopback_values(settings: BaseSettings) -> dict[str, str]:
    """Settings that point at the container itself (127.0.0.1, localhost): development defaults
    that a deployment forgot to override. Binding all interfaces (0.0.0.0) is not loopback."""
    found: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        text = value.get_secret_value() if isinstance(value, SecretStr) else _as_text(value)
        if LOOPBACK.search(text):
            found[name] = text
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, dict | list):
        return to_json(value, fallback=str).decode()
    return str(value)

"""The processes a deployment runs and the settings class each one reads.

The list of processes is the local stack's (``devstack.stack``): compose, Kubernetes and
``make run`` therefore cannot disagree on names, modules or ports. Each process's settings
class is found by convention in ``<module>.settings``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import cache

from pydantic_settings import BaseSettings

from eventkit.settings import ServiceSettings


@dataclass(frozen=True)
class Process:
    """One process of the stack: a compose service, a Kubernetes Deployment."""

    name: str
    module: str
    settings_cls: type[BaseSettings]

    @property
    def env_prefix(self) -> str:
        return str(self.settings_cls.model_config.get("env_prefix", ""))

    @property
    def port_variable(self) -> str:
        return f"{self.env_prefix}PORT"

    @property
    def host_variable(self) -> str:
        return f"{self.env_prefix}HOST"

    @property
    def port(self) -> int:
        return int(self.settings_cls.model_fields["port"].default)

    @property
    def is_service(self) -> bool:
        """An event-sourced service (database, broker, consumers), not the registry simulator."""
        return issubclass(self.settings_cls, ServiceSettings)

    @property
    def schema(self) -> str:
        """The PostgreSQL schema (and, in our deployments, the database role) of a service."""
        cls = self.settings_cls
        if not issubclass(cls, ServiceSettings):
            raise ValueError(f"{self.name} has no database")
        default = cls.model_fields["db_schema"].default
        return str(default or cls.service_name.replace("-", "_"))


def settings_class(module: str) -> type[BaseSettings]:
    """The one ``BaseSettings`` subclass defined in ``<module>.settings``."""
    settings_module = importlib.import_module(f"{module}.settings")
    found = [
        cls
        for _, cls in inspect.getmembers(settings_module, inspect.isclass)
        if issubclass(cls, BaseSettings) and cls.__module__ == settings_module.__name__
    ]
    if len(found) != 1:
        raise LookupError(f"{settings_module.__name__} must define exactly one settings class, found {found}")
    return found[0]


@cache
def processes() -> tuple[Process, ...]:
    """The four services, then the registry simulator."""
    from devstack.stack import SERVICES, SIMULATOR  # the local stack's list is the single source

    return tuple(Process(spec.name, spec.module, settings_class(spec.module)) for spec in [*SERVICES, SIMULATOR])


def services() -> tuple[Process, ...]:
    """The event-sourced services only."""
    return tuple(p for p in processes() if p.is_service)


def by_name(name: str) -> Process:
    for process in processes():
        if process.name == name:
            return process
    raise KeyError(name)

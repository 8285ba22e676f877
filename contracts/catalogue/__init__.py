"""The procedure catalogue, agency registry and linked-bundle definitions — data, with typed loaders.

Intake serves and validates against it, workflow routes, times and chains steps with it. Procedures,
agencies and bundles are JSON files under ``data/``; adding one is adding a file. Only pydantic and
the standard library are used, like the rest of ``contracts``.

    >>> from contracts.catalogue import load_catalogue
    >>> catalogue = load_catalogue()
    >>> catalogue.procedure("1.001193").name_vi
    'Đăng ký khai sinh'
"""

from .agency import Agency
from .base import AuthorityLevel, ProcessingTime
from .bundle import (
    BundleDefinition,
    BundleStep,
    Condition,
    ConstInput,
    DefaultedInput,
    Equals,
    Exists,
    InputUnavailable,
    OneOf,
    UnknownBundleStep,
)
from .loader import (
    Catalogue,
    CatalogueError,
    UnknownBundle,
    UnknownProcedure,
    catalogue_json,
    default_data_dir,
    load_catalogue,
)
from .procedure import (
    AgeLimit,
    OfficialPerformer,
    Procedure,
    RegistryPerformer,
    RegistrySystem,
    RequiredDocument,
    ResultSpec,
)
from .routing import NoCompetentAgency, UnknownAgency
from .schema_check import schema_problems

__all__ = [
    "AgeLimit",
    "Agency",
    "AuthorityLevel",
    "BundleDefinition",
    "BundleStep",
    "Catalogue",
    "CatalogueError",
    "Condition",
    "ConstInput",
    "DefaultedInput",
    "Equals",
    "Exists",
    "InputUnavailable",
    "NoCompetentAgency",
    "OfficialPerformer",
    "OneOf",
    "Procedure",
    "ProcessingTime",
    "RegistryPerformer",
    "RegistrySystem",
    "RequiredDocument",
    "ResultSpec",
    "UnknownAgency",
    "UnknownBundle",
    "UnknownBundleStep",
    "UnknownProcedure",
    "catalogue_json",
    "default_data_dir",
    "load_catalogue",
    "schema_problems",
]

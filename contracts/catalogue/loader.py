"""Loading the catalogue data into a validated, read-only :class:`Catalogue`.

Layout of a data directory (the packaged one is ``contracts/catalogue/data``)::

    catalogue.json          {"version": …, "description": …}
    agencies/*.json         one file per province: {"province_name_vi": …, "agencies": [...]}
    procedures/*.json       one procedure per file
    bundles/<type>.json     one bundle per file; discovered, so a new bundle is a new file

Files are read in name order so loading is deterministic. The packaged data is loaded once per
process (``load_catalogue()`` is cached); an explicit ``data_dir`` is read afresh each call, which
is what tests and tools that edit data want.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from .agency import Agency
from .base import CatalogueModel, ProcessingTime, UnknownKey
from .bundle import BundleDefinition, BundleStep
from .procedure import Procedure
from .routing import AgencyDirectory
from .validation import agency_problems, bundle_problems, routing_problems, taker_problems

M = TypeVar("M", bound=BaseModel)


class CatalogueError(ValueError):
    """The data is invalid; ``problems`` lists every problem found, each naming its file or item."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid catalogue data:\n  " + "\n  ".join(problems))


class UnknownProcedure(UnknownKey):
    """No procedure has this code."""

    missing = "unknown procedure"


class UnknownBundle(UnknownKey):
    """No bundle has this type."""

    missing = "unknown bundle"


class Manifest(CatalogueModel):
    """``catalogue.json``: what identifies this edition of the data."""

    version: str = Field(min_length=1, description="Catalogue version; events record it (catalogue_version).")
    description: str = Field(description="What this data set is.")


class AgencyFile(CatalogueModel):
    """One province's agencies."""

    province_name_vi: str = Field(min_length=1, description="The province, in Vietnamese.")
    agencies: list[Agency] = Field(min_length=1, description="Its agencies.")


@dataclass(frozen=True)
class Catalogue:
    """The procedure catalogue, agency registry and bundle definitions of one data edition."""

    version: str
    fingerprint: str  # sha256 of every data file: tells two editions apart even if version was not bumped
    procedures: Mapping[str, Procedure]
    agencies: Mapping[str, Agency]
    bundles: Mapping[str, BundleDefinition]
    _directory: AgencyDirectory = field(repr=False, compare=False)

    def procedure(self, code: str) -> Procedure:
        """The procedure with this code; :class:`UnknownProcedure` if none."""
        try:
            return self.procedures[code]
        except KeyError:
            raise UnknownProcedure(f"unknown procedure code {code!r}") from None

    def agency(self, code: str) -> Agency:
        """The agency with this code; :class:`~contracts.catalogue.routing.UnknownAgency` if none."""
        return self._directory.agency(code)

    def bundle(self, bundle_type: str) -> BundleDefinition:
        """The bundle of this type; :class:`UnknownBundle` if none."""
        try:
            return self.bundles[bundle_type]
        except KeyError:
            raise UnknownBundle(f"unknown bundle type {bundle_type!r}") from None

    def competent_agency(self, procedure_code: str, receiving_agency_code: str, area: str | None = None) -> Agency:
        """Where a dossier of this procedure received at that counter is decided (see ``routing``).

        ``area``: the code of an agency or People's Committee of the unit the case belongs to, when
        known (e.g. ``procedure.area_in(form)``); default: the receiving agency's unit.
        """
        return self._directory.competent(self.procedure(procedure_code), receiving_agency_code, area)

    def step_procedure(self, bundle_type: str, step_id: str) -> Procedure:
        """The procedure a bundle step runs (its performer, result, form)."""
        return self.procedure(self.bundle(bundle_type).step(step_id).procedure_code)

    def step_processing_time(self, bundle_type: str, step_id: str) -> ProcessingTime:
        """A step's statutory time inside its bundle: the step's own, else its procedure's."""
        step: BundleStep = self.bundle(bundle_type).step(step_id)
        return step.processing_time or self.procedure(step.procedure_code).processing_time

    def subordinates(self, code: str) -> list[Agency]:
        """Agencies whose parent is ``code``, by code."""
        return sorted((a for a in self.agencies.values() if a.parent == code), key=lambda a: a.code)


def default_data_dir() -> Traversable:
    """The data shipped inside the package."""
    return files(__package__ or "contracts.catalogue") / "data"


def _json_files(folder: Traversable) -> Iterator[Traversable]:
    if folder.is_dir():
        yield from sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)


def _parse(model: type[M], item: Traversable, where: str, problems: list[str]) -> M | None:
    try:
        return model.model_validate_json(item.read_bytes())
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in error["loc"]) or "(file)"
            problems.append(f"{where}: {loc}: {error['msg']}")
    return None


def _read(root: Traversable) -> tuple[Catalogue | None, list[str]]:
    problems: list[str] = []
    digest = hashlib.sha256()
    manifest_file = root / "catalogue.json"
    if not manifest_file.is_file():
        return None, [f"{root}: catalogue.json is missing"]
    manifest = _parse(Manifest, manifest_file, "catalogue.json", problems)
    digest.update(manifest_file.read_bytes())

    def each(sub: str, model: type[M]) -> Iterator[tuple[str, M]]:
        for item in _json_files(root / sub):
            digest.update(f"\0{sub}/{item.name}\0".encode())
            digest.update(item.read_bytes())
            parsed = _parse(model, item, f"{sub}/{item.name}", problems)
            if parsed is not None:
                yield item.name.removesuffix(".json"), parsed

    agencies: dict[str, Agency] = {}
    for name, agency_file in each("agencies", AgencyFile):
        for agency in agency_file.agencies:
            if agency.code in agencies:
                problems.append(f"agencies/{name}.json: agency code {agency.code} is defined twice")
            agencies[agency.code] = agency
    procedures: dict[str, Procedure] = {}
    for name, procedure in each("procedures", Procedure):
        if procedure.code in procedures:
            problems.append(f"procedures/{name}.json: procedure code {procedure.code} is defined twice")
        procedures[procedure.code] = procedure
    bundles: dict[str, BundleDefinition] = {}
    for name, bundle in each("bundles", BundleDefinition):
        if bundle.bundle_type != name:
            problems.append(f"bundles/{name}.json: defines bundle_type {bundle.bundle_type!r}; name the file after it")
        bundles[bundle.bundle_type] = bundle
    if problems or manifest is None:
        return None, problems

    directory = AgencyDirectory(agencies.values())
    problems.extend(agency_problems(directory))
    if not problems:
        problems.extend(routing_problems(procedures, directory))
    problems.extend(taker_problems(procedures))
    for bundle in bundles.values():
        problems.extend(bundle_problems(bundle, procedures))
    if problems:
        return None, problems
    return Catalogue(
        version=manifest.version,
        fingerprint=digest.hexdigest(),
        procedures=MappingProxyType(dict(sorted(procedures.items()))),
        agencies=MappingProxyType(dict(sorted(agencies.items()))),
        bundles=MappingProxyType(dict(sorted(bundles.items()))),
        _directory=directory,
    ), []


@functools.cache
def _packaged() -> Catalogue:
    return load_catalogue(default_data_dir())


def load_catalogue(data_dir: Path | Traversable | str | None = None) -> Catalogue:
    """The validated catalogue; :class:`CatalogueError` listing every problem if the data is invalid.

    Without ``data_dir``: the packaged data, loaded once per process. With it: that directory, read now.
    """
    if data_dir is None:
        return _packaged()
    root = Path(data_dir) if isinstance(data_dir, str) else data_dir
    catalogue, problems = _read(root)
    if catalogue is None:
        raise CatalogueError(problems)
    return catalogue


def catalogue_json(catalogue: Catalogue) -> dict[str, Any]:
    """The whole catalogue as JSON-ready data (for an API listing, or to diff two editions)."""
    return {
        "version": catalogue.version,
        "procedures": [p.model_dump(mode="json") for p in catalogue.procedures.values()],
        "agencies": [a.model_dump(mode="json") for a in catalogue.agencies.values()],
        "bundles": [b.model_dump(mode="json") for b in catalogue.bundles.values()],
    }

"""The catalogue as the portal reads it: procedures with their forms, agencies, bundle types.

The catalogue is immutable for the life of the process, so each document is serialised once."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from contracts.catalogue import BundleDefinition, Catalogue, Procedure
from contracts.catalogue.base import AuthorityLevel
from contracts.catalogue.procedure import OnlineLevel
from eventkit.http import error, invalid_parameter
from intake.domain.errors import NotFound
from intake.entrypoints.schemas import AgencyList, BundleTypeList, ProcedureList

router = APIRouter(prefix="/v1", tags=["catalogue"])


class CatalogueDocuments:
    """The catalogue's JSON, built at start-up."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.version = catalogue.version
        self.procedures = {c: p.model_dump(mode="json") for c, p in catalogue.procedures.items()}
        self.agencies = {c: a.model_dump(mode="json") for c, a in catalogue.agencies.items()}
        self.bundles = {t: b.model_dump(mode="json") for t, b in catalogue.bundles.items()}
        self.procedure_bytes = {c: orjson.dumps(p) for c, p in self.procedures.items()}
        self.bundle_bytes = {t: orjson.dumps(b) for t, b in self.bundles.items()}

    def listing(self, items: list[dict[str, Any]]) -> Response:
        body = orjson.dumps({"catalogue_version": self.version, "items": items})
        return Response(body, media_type="application/json")


def _docs(request: Request) -> CatalogueDocuments:
    docs: CatalogueDocuments = request.app.state.catalogue_documents
    return docs


def _matches(item: dict[str, Any], **wanted: str | None) -> bool:
    return all(value is None or item.get(key) == value for key, value in wanted.items())


def _known(value: str | None, parameter: str, items: Any, key: str) -> None:
    """A 422 naming ``parameter`` when no item has ``value`` at ``key``: a typo ("dat_dia") read as a
    filter nothing matched, an empty list the portal took for "none"."""
    known = {item.get(key) for item in items}
    if value is not None and value not in known:
        listed = ", ".join(sorted(str(k) for k in known if k))
        raise invalid_parameter("query", parameter, f"unknown {parameter} {value!r} (known: {listed})", value)


@router.get("/procedures", response_model=ProcedureList)
async def list_procedures(
    request: Request,
    field: Annotated[str | None, Query(description="Only this field, e.g. ho_tich.")] = None,
    authority_level: Annotated[AuthorityLevel | None, Query(description="commune, district or province.")] = None,
    online_level: Annotated[OnlineLevel | None, Query(description="full, partial or none.")] = None,
) -> Response:
    """Every procedure: code, name, field, level, statutory time, fee, online level, documents, form schema."""
    docs = _docs(request)
    _known(field, "field", docs.procedures.values(), "field")
    wanted = {"field": field, "authority_level": authority_level, "online_level": online_level}
    return docs.listing([p for p in docs.procedures.values() if _matches(p, **wanted)])


@router.get("/procedures/{code}", response_model=Procedure, responses={404: error("No such procedure.")})
async def get_procedure(code: str, request: Request) -> Response:
    """One procedure with the JSON Schema of its form."""
    body = _docs(request).procedure_bytes.get(code)
    if body is None:
        raise NotFound(f"no procedure {code!r}")
    return Response(body, media_type="application/json")


@router.get("/agencies", response_model=AgencyList)
async def list_agencies(
    request: Request,
    level: Annotated[AuthorityLevel | None, Query(description="commune, district or province.")] = None,
    kind: Annotated[str | None, Query(description="e.g. commune_pc, police_commune, social_insurance.")] = None,
) -> Response:
    """The agencies of the demo province, each with its code, level, kind and parent."""
    docs = _docs(request)
    _known(kind, "kind", docs.agencies.values(), "kind")
    return docs.listing([a for a in docs.agencies.values() if _matches(a, level=level, kind=kind)])


@router.get("/bundle-types", response_model=BundleTypeList)
async def list_bundle_types(request: Request) -> Response:
    """Linked bundles (birth, death, …): combined form schema and ordered steps with their conditions."""
    docs = _docs(request)
    return docs.listing(list(docs.bundles.values()))


@router.get(
    "/bundle-types/{bundle_type}", response_model=BundleDefinition, responses={404: error("No such bundle type.")}
)
async def get_bundle_type(bundle_type: str, request: Request) -> Response:
    """One bundle definition."""
    body = _docs(request).bundle_bytes.get(bundle_type)
    if body is None:
        raise NotFound(f"no bundle type {bundle_type!r}")
    return Response(body, media_type="application/json")

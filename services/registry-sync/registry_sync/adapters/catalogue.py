"""What registry-sync takes from the procedure catalogue: document names for the portal."""

from __future__ import annotations

from contracts.catalogue import Catalogue, UnknownProcedure, load_catalogue
from registry_sync.adapters.portal import DocumentNames


def catalogue_document_names(catalogue: Catalogue | None = None) -> DocumentNames:
    """(procedure code, document kind) → the document's Vietnamese name; the kind if unknown."""
    source = catalogue or load_catalogue()

    def name(procedure_code: str, kind: str) -> str:
        try:
            document = source.procedure(procedure_code).document(kind)
        except UnknownProcedure:
            document = None
        return document.name_vi if document else kind

    return name

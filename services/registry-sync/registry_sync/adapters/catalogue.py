"""What registry-sync takes from the procedure catalogue: document names for the portal, and which
registry operations its procedures need."""

from __future__ import annotations

from contracts.catalogue import Catalogue, RegistryPerformer, UnknownProcedure, load_catalogue
from registry_sync.adapters.operations import OperationTable
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


def unsupported_operations(catalogue: Catalogue, operations: OperationTable) -> list[str]:
    """``code: system/operation`` of each procedure whose registry operation this build cannot
    perform: every command for it would be refused (a catalogue edition ahead of the code)."""
    performers = [(p.code, p.performer) for p in catalogue.procedures.values()]
    return [
        f"{code}: {performer.system}/{performer.operation}"
        for code, performer in performers
        if isinstance(performer, RegistryPerformer) and not operations.supports(performer.system, performer.operation)
    ]

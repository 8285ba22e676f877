"""The checked-in OpenAPI (contracts/openapi/intake.json) is the app's."""

from __future__ import annotations

from intake import openapi


def test_checked_in_openapi_matches_the_app() -> None:
    assert openapi.DOCUMENT.read_text(encoding="utf-8") == openapi.render(openapi.current()), (
        "run `.venv/bin/python -m intake.openapi` and commit contracts/openapi/intake.json"
    )


def test_every_route_has_a_summary_and_the_fixed_interfaces_are_there() -> None:
    paths = openapi.current()["paths"]
    for path in ("/v1/procedures", "/v1/procedures/{code}", "/v1/agencies", "/v1/dossiers", "/v1/bundles",
                 "/v1/dossiers/{code}", "/v1/bundles/{bundle_id}", "/healthz", "/readyz"):
        assert path in paths
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("description") or operation.get("summary"), f"{method} {path}"

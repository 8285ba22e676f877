"""Where a result is taken back: the bundles' inputs, and the places the catalogue lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contracts.catalogue import load_catalogue, reuse
from tests.unit.catalogue.conftest import JsonEdit


def test_a_catalogue_listing_no_places_loads_and_its_bundles_still_take_results_back(
    data_dir: Path, edit_json: JsonEdit
) -> None:
    """A province's own catalogue from before `taken_back_by` would not load while the bundle steps
    taking an earlier result had to be listed there too: every service refused to start."""

    def unlisted(procedure: dict[str, Any]) -> None:
        procedure["result"].pop("taken_back_by", None)

    for path in sorted((data_dir / "procedures").glob("*.json")):
        edit_json(f"procedures/{path.name}", unlisted)
    takers = reuse.takers(load_catalogue(data_dir))
    extract = {t.procedure_code for t in takers["1.000656"]["death_extract_number"]}
    assert extract == {"1.003197", "9.000002", "1.001731"}  # the death bundle's steps
    assert "9.000004" not in takers  # a renewal is no bundle step: only listed, it is taken back


def test_the_listed_places_and_the_bundle_steps_are_each_taken_once() -> None:
    takers = reuse.takers(load_catalogue())
    assert [t.procedure_code for t in takers["9.000004"]["licence_number"]] == ["9.000004"]
    assert [t.procedure_code for t in takers["9.000003"]["certificate_number"]] == ["9.000006"]
    assert sorted(t.procedure_code for t in takers["1.001193"]["personal_id_number"]) == ["1.004222", "9.000001"]
    assert "9.000005" not in takers  # a criminal record certificate's number goes into no form

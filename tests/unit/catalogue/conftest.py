"""Fixtures: the packaged catalogue, and an editable copy of its data for tests that break or extend it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.catalogue import Catalogue, load_catalogue
from tests.support.catalogue import copy_of_packaged_data


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A private copy of the packaged data directory."""
    return copy_of_packaged_data(tmp_path / "data")


JsonEdit = Callable[[str, Callable[[Any], None]], None]


@pytest.fixture
def edit_json(data_dir: Path) -> JsonEdit:
    """``edit_json("bundles/birth.json", mutate)``: load a data file, mutate it in place, write it back."""

    def edit(relative: str, mutate: Callable[[Any], None]) -> None:
        path = data_dir / relative
        doc = json.loads(path.read_text(encoding="utf-8"))
        mutate(doc)
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")

    return edit

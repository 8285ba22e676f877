"""Catalogue editions for tests: a private copy of the packaged data, and a bundle that only a data
file defines."""

from __future__ import annotations

import json
import shutil
from importlib.resources import as_file
from pathlib import Path
from typing import Any

from contracts.catalogue import default_data_dir

#: Opening a household business after a criminal-record check: two steps, both decided by officials,
#: the second fed from the combined form. No code anywhere names it.
BUSINESS_START: dict[str, Any] = {
    "bundle_type": "business_start",
    "name_vi": "Liên thông đăng ký hộ kinh doanh và cấp phiếu lý lịch tư pháp",
    "statutory_limit": {"amount": 13, "unit": "working_days"},
    "form_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["owner", "business"],
        "properties": {
            "owner": {
                "type": "object",
                "properties": {
                    "id_number": {"type": "string", "pattern": "^[0-9]{12}$"},
                    "full_name": {"type": "string"},
                    "date_of_birth": {"type": "string", "format": "date"},
                },
            },
            "business": {"type": "object"},
        },
    },
    "steps": [
        {
            "step_id": "criminal_record",
            "procedure_code": "9.000005",
            "inputs": {
                "person": "form.owner",
                "certificate_type": {"const": "1"},
                "purpose": {"const": "Đăng ký hộ kinh doanh"},
            },
        },
        {
            "step_id": "household_business",
            "procedure_code": "1.001612",
            "inputs": {
                "owner.id_number": "form.owner.id_number",
                "owner.full_name": "form.owner.full_name",
                "business": "form.business",
            },
        },
    ],
}


def copy_of_packaged_data(target: Path) -> Path:
    """The packaged catalogue data, copied to ``target`` (to edit it there)."""
    with as_file(default_data_dir()) as source:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def add_bundle(data_dir: Path, bundle: dict[str, Any]) -> None:
    """Add a bundle the only way an operator has to: its data file."""
    path = data_dir / "bundles" / f"{bundle['bundle_type']}.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")

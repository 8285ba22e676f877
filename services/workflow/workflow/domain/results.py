"""What an official's approval produces: the result code and the data the procedure's result carries.

The catalogue names the data fields of each result (``ResultSpec.data_fields``); later bundle steps
read them. An official may state values in the decision; what they leave out is produced here
deterministically from the dossier, so a retried approval yields the same result. The child's
personal identification number follows the national layout (contracts.citizen_id) with the
province code of the registering province from settings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from contracts import citizen_id
from contracts.catalogue import Procedure
from workcal import vietnam_tz


def result_code(dossier_code: str, n: int) -> str:
    """``<dossier code>-KQ<n>``: the n-th electronic result of the dossier."""
    return f"{dossier_code}-KQ{n}"


def qr_code(*, dossier_code: str, procedure_code: str, applicant_id_number: str, document_name: str, code: str) -> str:
    """What the QR code on an issued paper encodes: at least the dossier code, the procedure code, the
    applicant's identification number and the document name, and here the result's own code.
    Compact UTF-8 JSON with fixed keys, so that any reader can parse it."""
    fields = {
        "ma_ho_so": dossier_code,
        "ma_thu_tuc": procedure_code,
        "so_dinh_danh": applicant_id_number,
        "ten_giay_to": document_name,
        "ma_ket_qua": code,
    }
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def result_data(
    procedure: Procedure | None,
    *,
    dossier_id: str,
    code: str,
    form: Mapping[str, Any],
    stated: Mapping[str, Any],
    issued_at: datetime,
    province_code: str,
    draw: int = 0,
) -> dict[str, Any]:
    """The result's data: the official's values, and the procedure's other fields filled in.
    ``draw`` picks among the dossier's candidate identification numbers (0: the first)."""
    data = dict(stated)
    fields = procedure.result.data_fields if procedure else {}
    for name in fields:
        if name not in data:
            data[name] = _produce(
                name,
                dossier_id=dossier_id,
                code=code,
                form=form,
                issued_at=issued_at,
                province_code=province_code,
                draw=draw,
            )
    return data


def _produce(
    name: str,
    *,
    dossier_id: str,
    code: str,
    form: Mapping[str, Any],
    issued_at: datetime,
    province_code: str,
    draw: int,
) -> Any:
    # A paper's dates are Vietnamese calendar dates: 06:30 in Hà Nội is still the previous day in UTC.
    today = issued_at.astimezone(vietnam_tz()).date()
    if name == "personal_id_number":
        return _personal_id_number(dossier_id, form, today, province_code, draw)
    if name.endswith("_on"):
        return today.isoformat()
    if name == "valid_until":
        return (
            (today.replace(day=28) if (today.month, today.day) == (2, 29) else today)
            .replace(year=today.year + 10)
            .isoformat()
        )
    return f"{code}/{name.upper()}"


def _personal_id_number(
    dossier_id: str, form: Mapping[str, Any], issued_on: date, province_code: str, draw: int
) -> str:
    person = form.get("child") if isinstance(form.get("child"), Mapping) else form
    sex = person.get("sex", "male") if isinstance(person, Mapping) else "male"
    born = _year(person.get("date_of_birth") if isinstance(person, Mapping) else None) or issued_on.year
    # Seeded by the dossier (and the draw): the same approval always yields the same number.
    rng = random.Random(f"personal-id:{dossier_id}" + (f":{draw}" if draw else ""))
    return citizen_id.generate(province_code, sex if sex in ("male", "female") else "male", born, rng)


def _year(value: Any) -> int | None:
    try:
        return date.fromisoformat(str(value)).year if value else None
    except ValueError:
        return None

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
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from contracts import citizen_id
from contracts.catalogue import Procedure
from contracts.catalogue.reuse import Taker
from workcal import vietnam_tz
from workflow.domain.errors import InvalidDecision


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
    form: Mapping[str, Any],
    stated: Mapping[str, Any],
    issued_at: datetime,
    province_code: str,
    draw: int = 0,
    takers: Mapping[str, Sequence[Taker]] | None = None,
) -> dict[str, Any]:
    """The result's data: the official's values, and the procedure's other fields filled in.
    ``draw`` picks among the dossier's candidate identification numbers (0: the first).

    The official states only fields of the procedure's result, as text; a personal identification
    number stated must be a valid one that fits the child (sex, birth year) and the registering
    province: it goes on the birth certificate and to the population database. A number another
    procedure's form takes back (``takers``, this procedure's by result field: a licence's on its
    renewal, a death extract's on the funeral allowance) must fit that form. InvalidDecision names
    the field otherwise."""
    fields = procedure.result.data_fields if procedure else {}
    _check_stated(stated, fields, form, province_code)
    _check_taken_back(stated, takers or {})
    data = dict(stated)
    for name in fields:
        if name not in data:
            data[name] = _produce(
                name,
                dossier_id=dossier_id,
                form=form,
                issued_at=issued_at,
                province_code=province_code,
                draw=draw,
            )
    return data


#: The longest text an official may state for one field of a result.
MAX_STATED_CHARS = 500


def _check_stated(stated: Mapping[str, Any], fields: Mapping[str, Any], form: Mapping[str, Any], province: str) -> None:
    for name, value in stated.items():
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise InvalidDecision(f"result.{name}", f"not a field of this procedure's result (its fields: {known})")
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_STATED_CHARS:
            raise InvalidDecision(f"result.{name}", f"a text of 1 to {MAX_STATED_CHARS} characters")
        if not numbered(name) and not (len(value) == 10 and _year(value)):  # "vĩnh viễn" was stored as a date
            raise InvalidDecision(f"result.{name}", "a date, YYYY-MM-DD")
    number = stated.get("personal_id_number")
    if number is None:
        return
    if not citizen_id.is_valid(number):
        raise InvalidDecision("result.personal_id_number", "not a valid 12-digit personal identification number")
    person = _person(form)
    mismatches = citizen_id.check_consistency(
        number,
        sex=person.get("sex") if person.get("sex") in ("male", "female") else None,
        birth_year=_year(person.get("date_of_birth")),
        province_code=province,
    )
    if mismatches:
        raise InvalidDecision("result.personal_id_number", "; ".join(mismatches))


def _check_taken_back(stated: Mapping[str, Any], takers: Mapping[str, Sequence[Taker]]) -> None:
    """Only its length was checked: a licence numbered "GP-2024/17" by the official (the renewal form
    takes 12 digits) or a death extract's 60-character number (the funeral allowance takes 50) was
    issued, and the citizen held a paper the next procedure refused, or a bundle's next step failed."""
    for name, value in stated.items():
        if name == "personal_id_number":
            continue  # checked above, with what it must fit of the person
        for taker in takers.get(name, ()):
            problems = taker.validator.validate(value, f"result.{name}")
            if problems:
                reason = f"{problems[0].msg}, as the form of procedure {taker.procedure_code} takes it back"
                raise InvalidDecision(f"result.{name}", reason)


def _person(form: Mapping[str, Any]) -> Mapping[str, Any]:
    """Whose number a result issues: the child of a birth registration, else the form's own person."""
    child = form.get("child")
    return child if isinstance(child, Mapping) else form


def _produce(
    name: str,
    *,
    dossier_id: str,
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
    return _issued_number(dossier_id, name, draw)


def numbered(name: str) -> bool:
    """Whether result field ``name`` is a number workflow issues when the official states none (an
    identification number, a licence's, a certificate's), not a date: each must be no one else's."""
    return not (name.endswith("_on") or name == "valid_until")


def _issued_number(dossier_id: str, name: str, draw: int) -> str:
    """The number of a paper the official did not number: 12 digits, seeded by the dossier and the
    draw (the same approval always yields the same number; one another paper holds is drawn again).
    The forms that take such a number back accept it (a licence to renew: 12 digits; a land
    certificate on a permit: at most 30 characters; a death extract: at most 50).
    ``<dossier code>/<FIELD>``, up to 53 characters, was refused by them: a paper issued here could
    not be used for the next procedure."""
    seed = f"{name}:{dossier_id}" + (f":{draw}" if draw else "")
    return f"{random.Random(seed).randrange(10**12):012d}"


def _personal_id_number(
    dossier_id: str, form: Mapping[str, Any], issued_on: date, province_code: str, draw: int
) -> str:
    person = _person(form)
    sex = person.get("sex", "male")
    born = _year(person.get("date_of_birth")) or issued_on.year
    # Seeded by the dossier (and the draw): the same approval always yields the same number.
    rng = random.Random(f"personal-id:{dossier_id}" + (f":{draw}" if draw else ""))
    return citizen_id.generate(province_code, sex if sex in ("male", "female") else "male", born, rng)


def _year(value: Any) -> int | None:
    try:
        return date.fromisoformat(str(value)).year if value else None
    except ValueError:
        return None

"""What an official's approval produces: the result code and the data the procedure's result carries.

The catalogue names the data fields of each result (``ResultSpec.data_fields``); later bundle steps
read them. An official may state values in the decision; what they leave out is produced here
deterministically from the dossier, so a retried approval yields the same result. The child's
personal identification number follows the national layout (contracts.citizen_id) with the
province code of the registering province from settings. A paper's expiry (``valid_until``) is ten
years from its issue, except an ID card's, which the holder's age decides (Law on Identification
2023, art. 21); one valid for life has none, since no date says "for life".
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
    the field otherwise. A stated expiry (``valid_until``) must come after the day of issue.

    An ID card issued for life carries no ``valid_until``: the field is a date, and no date says "for
    life" ("vĩnh viễn" was once stored in it)."""
    fields = procedure.result.data_fields if procedure else {}
    # A paper's dates are Vietnamese calendar dates: 06:30 in Hà Nội is still the previous day in UTC.
    issued_on = issued_at.astimezone(vietnam_tz()).date()
    _check_stated(stated, fields, form, province_code, issued_on)
    _check_taken_back(stated, takers or {})
    data = dict(stated)
    for name in fields:
        if name not in data:
            value = _produce(
                name,
                procedure_code=procedure.code if procedure else None,
                dossier_id=dossier_id,
                form=form,
                issued_on=issued_on,
                province_code=province_code,
                draw=draw,
            )
            if value is not None:
                data[name] = value
    return data


#: The longest text an official may state for one field of a result.
MAX_STATED_CHARS = 500


def _check_stated(
    stated: Mapping[str, Any], fields: Mapping[str, Any], form: Mapping[str, Any], province: str, issued_on: date
) -> None:
    for name, value in stated.items():
        if name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise InvalidDecision(f"result.{name}", f"not a field of this procedure's result (its fields: {known})")
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_STATED_CHARS:
            raise InvalidDecision(f"result.{name}", f"a text of 1 to {MAX_STATED_CHARS} characters")
        if numbered(name):
            continue
        stated_on = _date(value)
        # "vĩnh viễn" was stored as a date; so would be an ISO week date ("2034-W23-1"), 10 characters too.
        if stated_on is None or stated_on.isoformat() != value:
            raise InvalidDecision(f"result.{name}", "a date, YYYY-MM-DD")
        if name == "valid_until" and stated_on <= issued_on:
            # Only the shape was checked: a card issued in 2026 "valid until 2001-01-01" was accepted,
            # and the citizen held a paper that had expired before it was made.
            raise InvalidDecision(f"result.{name}", f"an expiry must come after the day of issue, {issued_on}")
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
    """Whom a result is for: the child of a birth registration (whose number it issues), else the
    form's person (an ID card's holder), else the form itself."""
    for key in ("child", "person"):
        person = form.get(key)
        if isinstance(person, Mapping):
            return person
    return form


def _produce(
    name: str,
    *,
    procedure_code: str | None,
    dossier_id: str,
    form: Mapping[str, Any],
    issued_on: date,
    province_code: str,
    draw: int,
) -> Any:
    """The value of result field ``name`` the official left out; None for an expiry there is none of."""
    if name == "personal_id_number":
        return _personal_id_number(dossier_id, form, issued_on, province_code, draw)
    if name.endswith("_on"):
        return issued_on.isoformat()
    if name == "valid_until":
        expiry = _valid_until(procedure_code, form, issued_on)
        return expiry.isoformat() if expiry else None
    return _issued_number(dossier_id, name, draw)


#: Procedure code of the ID card's renewal, whose expiry the holder's age decides.
ID_CARD_RENEWAL = "9.000007"

#: Law on Identification 2023, art. 21: the ages at which a holder must renew the ID card.
ID_CARD_RENEWAL_AGES = (14, 25, 40, 60)


def _valid_until(procedure_code: str | None, form: Mapping[str, Any], issued_on: date) -> date | None:
    """Until when a paper issued on ``issued_on`` is valid; None for life.

    An ID card's expiry is its holder's next renewal age, from the date of birth on the form: given
    ten years whatever the age, a card issued at 38 ran past the renewal due at 40, and one issued
    at 60, valid for life, expired at 70. Without a readable date of birth (or with one after the
    issue) the card, like every other paper, is valid ten years. Ten years for the driving licence
    is unconfirmed: the law may set its term by licence class."""
    if procedure_code == ID_CARD_RENEWAL:
        born = _date(_person(form).get("date_of_birth"))
        if born is not None and born <= issued_on:
            return _id_card_valid_until(born, issued_on)
    return _years_after(issued_on, 10)


def _id_card_valid_until(born: date, issued_on: date) -> date | None:
    """Law on Identification 2023, art. 21: the card is renewed when its holder turns 14, 25, 40 and
    60, and one issued within the 2 years before such an age stays valid until the next. A card
    issued from 58 on, no later age left, is valid for life (None)."""
    for age in ID_CARD_RENEWAL_AGES:
        if issued_on < _years_after(born, age - 2):
            return _years_after(born, age)
    return None


def _years_after(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February falls on the 28th in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


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
    born = _date(value)
    return born.year if born else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None

"""Bad requests are 4xx with the path of each bad field, never a 500 — checked without any server:
every one of these is refused before the database is touched."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request

from intake.bootstrap import create_app
from intake.entrypoints.dependencies import correlation_id
from tests.unit.intake.samples import birth_dossier


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())  # no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        yield client


async def post(client: httpx.AsyncClient, raw: str | bytes, **headers: str) -> httpx.Response:
    return await client.post("/v1/dossiers", content=raw, headers={"content-type": "application/json", **headers})


def paths(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_failed"
    return {e["path"] for e in response.json()["detail"]}


async def test_request_shape_problems(client: httpx.AsyncClient) -> None:
    body = birth_dossier()
    body["channel"] = "fax"
    body["applicant"]["id_number"] = "12AB"
    body["documents"][0]["digitized"] = "yes please"
    body["surprise"] = 1
    assert paths(await post(client, json.dumps(body))) == {
        "$.channel", "$.applicant.id_number", "$.documents[0].digitized", "$.surprise",
    }
    assert paths(await post(client, "[]")) == {"$"}
    assert (await post(client, "{nope")).status_code == 422


async def test_form_problems_list_every_field(client: httpx.AsyncClient) -> None:
    body = birth_dossier(born="10/06/2024")
    body["form"]["mother"] = {"id_number": "036095000123"}
    body["form"]["child"]["sex"] = None
    body["procedure_code"] = "1.001193"
    found = paths(await post(client, json.dumps(body)))
    assert found == {
        "$.form.child.date_of_birth", "$.form.child.sex", "$.form.mother.full_name", "$.form.mother.id_number",
    }


@pytest.mark.parametrize("depth", [40, 900, 50_000])
async def test_deeply_nested_bodies_are_refused_not_crashed_on(client: httpx.AsyncClient, depth: int) -> None:
    body = birth_dossier()
    body["form"]["child"]["full_name"] = "PLACEHOLDER"
    raw = json.dumps(body).replace('"PLACEHOLDER"', '{"a":' * depth + "1" + "}" * depth)
    response = await post(client, raw)
    assert 400 <= response.status_code < 500


async def test_a_bad_idempotency_key_is_named(client: httpx.AsyncClient) -> None:
    response = await post(client, json.dumps(birth_dossier()), **{"Idempotency-Key": "x" * 300})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"][0]["path"]


async def test_unknown_routes_and_procedures(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/procedures/0.000000")).json()["error"] == "not_found"
    assert (await client.get("/v1/bundle-types/wedding")).status_code == 404


@pytest.mark.parametrize(
    ("path", "parameter", "misspelt", "known"),
    [
        ("/v1/procedures", "field", "dat_dia", "ho_tich"),
        ("/v1/procedures", "online_level", "Full", "full"),
        ("/v1/procedures", "authority_level", "ward", "commune"),
        ("/v1/agencies", "level", "galaxy", "commune"),
        ("/v1/agencies", "kind", "police", "commune_pc"),
    ],
)
async def test_a_catalogue_filter_nothing_could_match_names_its_parameter(
    client: httpx.AsyncClient, path: str, parameter: str, misspelt: str, known: str
) -> None:
    """A misspelt filter was an empty list with a 200: the portal was told there were no procedures."""
    response = await client.get(path, params={parameter: misspelt})
    assert response.status_code == 422 and paths(response) == {f"$.{parameter}"}, response.text
    assert response.json()["detail"][0]["loc"] == ["query", parameter]  # not a body's: a GET has none
    listed = await client.get(path, params={parameter: known})
    assert listed.status_code == 200 and listed.json()["items"]


@pytest.mark.parametrize("key", [".[²].", "a.b", "x[0]", "it's \"quoted\"", "tên"])
async def test_a_field_is_named_whatever_its_key(client: httpx.AsyncClient, key: str) -> None:
    """The 422's ``loc`` is read back from the path: "²" is a digit to ``str.isdigit`` and not to
    ``int``, which made this answer a 500, and a key with a dot in it came back in pieces."""
    body = birth_dossier()
    body["form"]["child"][key] = 1
    response = await post(client, json.dumps(body))
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "form", "child", key] and problem["type"] == "extra_forbidden"


async def test_a_422_lists_the_first_hundred_problems_and_counts_the_rest(client: httpx.AsyncClient) -> None:
    """60,000 unknown keys in a body under the size limit were answered with every one: 8 MB of 422."""
    body = birth_dossier()
    body["form"]["child"].update({f"x{i}": 1 for i in range(300)})
    response = await post(client, json.dumps(body))
    answer = response.json()
    assert response.status_code == 422 and len(answer["detail"]) == 100 and answer["more"] == 200
    assert {d["type"] for d in answer["detail"]} == {"extra_forbidden"}
    body = birth_dossier()
    body["applicant"].update({f"x{i}": 1 for i in range(150)})  # refused by the request model itself
    answer = (await post(client, json.dumps(body))).json()
    assert len(answer["detail"]) == 100 and answer["more"] == 50
    few = birth_dossier()
    few["form"]["child"]["x"] = 1
    assert "more" not in (await post(client, json.dumps(few))).json()


async def test_a_name_that_shows_nothing_is_no_name(client: httpx.AsyncClient) -> None:
    # a zero-width space, a Hangul filler, Braille blank; a bell, an escape (also shown nothing)
    for blank in ("\u200b", "\u3164", "\u2800 \u115f", "\x07\x07", "\x1b\x1b"):
        body = birth_dossier()
        body["applicant"]["full_name"] = blank
        assert paths(await post(client, json.dumps(body))) == {"$.applicant.full_name"}
    body = birth_dossier()
    body["form"]["child"]["full_name"] = " \u200b "
    assert paths(await post(client, json.dumps(body))) == {"$.form.child.full_name"}


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("payments", {"amount": True, "method": "qr", "online": True}, "$.amount"),
        ("payments", {"amount": 50_000, "method": "qr", "online": "yes"}, "$.online"),
        ("ratings", {"score": True}, "$.score"),
        ("supplements", {"documents": [{"kind": "x", "digitized": "off", "reused": False}]}, "$.documents[0].digitized"),  # noqa: E501
        ("supplements", {"documents": [{"kind": "x", "digitized": True, "reused": 1}]}, "$.documents[0].reused"),
        ("withdrawals", {"reason": " \u200b "}, "$.reason"),
    ],
)
async def test_flags_and_amounts_take_json_types_not_guesses(
    client: httpx.AsyncClient, action: str, body: dict[str, object], field: str
) -> None:
    """``true`` was taken as 1 VND or a score of 1, and ``"yes"``/``1`` as true: facts the index counts."""
    key = {"Idempotency-Key": "k-1"}  # required on payments
    response = await client.post(f"/v1/dossiers/UBND-X-YENHOA-240617-0001/{action}", json=body, headers=key)
    assert paths(response) == {field}


async def test_cash_is_never_an_online_payment(client: httpx.AsyncClient) -> None:
    """Recorded as online, a cash payment counted its dossier as paid online in the index."""
    body = {"amount": 100_000, "method": "cash", "online": True}
    key = {"Idempotency-Key": "k-1"}
    response = await client.post("/v1/dossiers/UBND-X-YENHOA-240617-0001/payments", json=body, headers=key)
    assert response.status_code == 422
    assert [(d["path"], d["type"]) for d in response.json()["detail"]] == [("$.online", "cash_online")]


@pytest.mark.parametrize(
    ("written", "kept"),
    [("0912 345 678", "0912345678"), ("0912.345.678", "0912345678"), ("+84 912-345-678", "+84912345678"),
     ("(024) 3825 1234", "02438251234")],
)  # fmt: skip
def test_a_phone_number_is_taken_as_people_write_it(written: str, kept: str) -> None:
    """Spaces, dots, dashes or brackets between the digits were a 422 on an optional contact field."""
    from intake.entrypoints.schemas import ApplicantCreate

    applicant = ApplicantCreate.model_validate({"id_number": "036190001234", "full_name": "Trần Thị Bình",
                                                "phone": written})  # fmt: skip
    assert applicant.phone == kept
    with pytest.raises(ValueError, match="phone"):
        ApplicantCreate.model_validate({"id_number": "036190001234", "full_name": "A", "phone": "call me"})


def test_a_complaint_or_note_that_shows_nothing_is_none() -> None:
    """A zero-width space had counted as a complaint in the index's satisfaction."""
    from intake.entrypoints.schemas import RatingCreate, SupplementCreate

    assert RatingCreate.model_validate({"score": 3, "complaint": "\u200b "}).complaint is None
    assert RatingCreate.model_validate({"score": 3, "complaint": " Chờ lâu"}).complaint == "Chờ lâu"
    document = {"kind": "giay_chung_sinh", "digitized": True, "reused": False}
    assert SupplementCreate.model_validate({"documents": [document], "note": "   "}).note is None


def test_names_are_kept_as_they_show_without_invisible_characters_or_stray_spaces() -> None:
    """Kept raw, 'Nguyễn  Văn\u200b An\u202e ' went into the event and to the civil-status registry."""
    from intake.entrypoints.schemas import DossierCreate

    body = birth_dossier(child_name="  Nguyễn  Văn\u200b An\u202e ")
    body["applicant"]["full_name"] = "\ufeffTrần Thị\u00a0Bình  "
    body["form"]["child"]["place_of_birth"] = "Bệnh viện  tỉnh\r\nKhoa sản "
    dossier = DossierCreate.model_validate(body)
    assert dossier.form["child"]["full_name"] == "Nguyễn Văn An"
    assert dossier.applicant.full_name == "Trần Thị Bình"
    assert dossier.form["child"]["place_of_birth"] == "Bệnh viện tỉnh\nKhoa sản"  # its line break kept
    # A name is one line, wherever it is (it reached the registry and the portal as two).
    body["form"]["child"]["full_name"] = "Nguyễn Văn\r\nAn"
    body["applicant"]["full_name"] = "Trần Thị\u2028Bình"
    dossier = DossierCreate.model_validate(body)
    assert (dossier.form["child"]["full_name"], dossier.applicant.full_name) == ("Nguyễn Văn An", "Trần Thị Bình")
    assert dossier.procedure_code == body["procedure_code"]


@pytest.mark.parametrize("hidden", ["\x07", "\x7f", "\x1b", "\u034f", "\ufe00", "\U000e0100"])
def test_control_characters_and_ignorable_marks_are_no_part_of_a_name(hidden: str) -> None:
    """Kept, "Nguyễn Văn\x07 An" or "A\u034fn" was a second child to the duplicate check, the same name
    to a reader, and a bell or an escape code reached the events and the registries."""
    from intake.domain.text import canonical
    from intake.entrypoints.schemas import DossierCreate

    body = birth_dossier(child_name=f"Nguyễn Văn{hidden} An{hidden}")
    assert DossierCreate.model_validate(body).form["child"]["full_name"] == "Nguyễn Văn An"
    assert canonical(f"A{hidden}n") == canonical("An")


def test_emoji_made_of_several_keep_their_joiners_and_names_do_not() -> None:
    """Every format character was dropped: a family 👨‍👩‍👧 in a complaint became three people, a flag
    two pictures."""
    from intake.entrypoints.schemas import RatingCreate

    scotland = "🏴" + "".join(chr(0xE0000 + ord(c)) for c in "gbsct") + "\U000e007f"
    complaint = f"Gia đình 👨\u200d👩\u200d👧 chờ lâu 🏳️\u200d🌈 {scotland}"
    assert RatingCreate.model_validate({"score": 2, "complaint": complaint}).complaint == complaint
    hidden = "Nguyễn\u200dVăn\U000e0041 An"  # a joiner between letters, a tag letter: they show nothing
    assert RatingCreate.model_validate({"score": 2, "complaint": hidden}).complaint == "NguyễnVăn An"


async def test_a_submission_s_correlation_id_is_the_caller_s_only_when_usable_else_the_request_s() -> None:
    """It goes into every event of the dossier: a caller's 5,000 characters were copied into each, and
    with no header the request id the shell made up and answered with was not used."""

    def request(headers: dict[str, str]) -> Request:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        return Request({"type": "http", "headers": raw, "state": {"request_id": "req-1"}})

    assert await correlation_id(request({"x-correlation-id": "portal:2024-0042"})) == "portal:2024-0042"
    assert await correlation_id(request({"x-correlation-id": "x" * 5000})) == "req-1"
    assert await correlation_id(request({"x-correlation-id": "two words"})) == "req-1"
    assert await correlation_id(request({})) == "req-1"


async def test_a_payment_without_its_idempotency_key_is_refused_naming_the_header(client: httpx.AsyncClient) -> None:
    """Retried after a timeout without one, a payment was recorded twice: the dossier went on half paid."""
    body = {"amount": 100_000, "method": "qr", "online": True}
    response = await client.post("/v1/dossiers/UBND-X-YENHOA-240617-0001/payments", json=body)
    assert response.status_code == 422
    assert [d["path"] for d in response.json()["detail"]] == ["$.Idempotency-Key"], response.json()

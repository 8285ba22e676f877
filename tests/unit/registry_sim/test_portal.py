"""National portal: create, update, read and list synchronised dossiers."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

BASE = "/portal/v1/dossiers"


def processed(dossier: dict[str, Any]) -> dict[str, Any]:
    """The same dossier, later: processed, with a signed electronic result."""
    return {
        **dossier,
        "state": 9,
        "finished_at": "20240711100000",
        "results": [{"code": f"{dossier['code']}-KQ1", "name": "Giấy khai sinh", "signed": True}],
    }


async def test_create_then_update_then_get(client: AsyncClient, dossier: dict[str, Any], effects: Any) -> None:
    created = await client.post(BASE, json=dossier)
    assert created.status_code == 201
    assert created.json()["revision"] == 1 and created.json()["created_at"] == "20240715103000"
    updated = await client.put(f"{BASE}/{dossier['code']}", json=processed(dossier))
    assert updated.status_code == 200 and updated.json()["revision"] == 2
    got = (await client.get(f"{BASE}/{dossier['code']}")).json()
    assert got["state"] == 9 and got["results"][0]["code"].endswith("-KQ1")
    assert got["history"][0].items() >= dossier["history"][0].items()
    assert got["submitted_at"] == "20240710083000" and got["updated_at"] == "20240715103000"
    assert await effects("national_portal") == {"create_dossier": 1, "update_dossier": 1}


async def test_a_second_create_is_a_conflict_and_an_unknown_update_404(
    client: AsyncClient, dossier: dict[str, Any], field_error: Any
) -> None:
    field_error(await client.put(f"{BASE}/{dossier['code']}", json=dossier), 404, "code")
    await client.post(BASE, json=dossier)
    assert field_error(await client.post(BASE, json=dossier), 409, "code")["error"] == "dossier_exists"


async def test_if_match_makes_an_update_conditional(
    client: AsyncClient, dossier: dict[str, Any], field_error: Any
) -> None:
    await client.post(BASE, json=dossier)
    path = f"{BASE}/{dossier['code']}"
    assert (await client.put(path, json=dossier, headers={"If-Match": '"1"'})).status_code == 200
    stale = await client.put(path, json=processed(dossier), headers={"If-Match": "1"})
    assert field_error(stale, 412, "If-Match")["error"] == "revision_mismatch"
    field_error(await client.put(path, json=dossier, headers={"If-Match": "abc"}), 422, "If-Match")


async def test_bad_dossiers_name_the_field(client: AsyncClient, dossier: dict[str, Any], field_error: Any) -> None:
    cases = [
        ({"code": "H40-2407-1"}, "code"),
        ({"code": "H40-241332-0001"}, "code"),
        ({"procedure_code": "birth"}, "procedure_code"),
        ({"channel": 4}, "channel"),
        ({"state": 11}, "state"),
        ({"submitted_at": "2024-07-10 08:30"}, "submitted_at"),
        ({"received_at": "20240231090000"}, "received_at"),
        ({"received_at": None}, "received_at"),  # state 2 needs it
        ({"received_at": "20240709090000"}, "received_at"),  # before submitted_at
        ({"state": 10, "finished_at": "20240711100000"}, "returned_at"),
        ({"state": 9}, "finished_at"),
        ({"results": [{"code": "OTHER-KQ1", "name": "Giấy khai sinh"}]}, "results[0].code"),
        ({"history": [{**dossier["history"][0], "at": "yesterday"}]}, "history[0].at"),
        ({"fees": [{"name": "Lệ phí", "amount_vnd": -1}]}, "fees[0].amount_vnd"),
        ({"documents": [{"name": "x", "file_url": "ftp://x"}]}, "documents[0].file_url"),
        ({"sync_flag": True}, "sync_flag"),
    ]
    for change, field in cases:
        field_error(await client.post(BASE, json={**dossier, **change}), 422, field)
    await client.post(BASE, json=dossier)
    moved = {**dossier, "code": "000.00.12.H40-240710-0002"}
    field_error(await client.put(f"{BASE}/{dossier['code']}", json=moved), 422, "code")
    field_error(await client.get(f"{BASE}/not-a-code"), 422, "code")
    field_error(await client.get(f"{BASE}/H40-240710-0009"), 404, "code")


async def test_listing_filters_and_pages_for_reconciliation(
    client: AsyncClient, dossier: dict[str, Any], field_error: Any
) -> None:
    codes = [f"000.00.12.H40-240710-{n:04d}" for n in range(1, 6)]
    for code in codes:
        await client.post(BASE, json={**dossier, "code": code})
    await client.put(f"{BASE}/{codes[0]}", json=processed({**dossier, "code": codes[0]}))

    page = (await client.get(BASE, params={"limit": 2})).json()
    assert [d["code"] for d in page["items"]] == codes[:2] and page["total"] == 5
    assert page["next_after"] == codes[1]
    assert set(page["items"][0]) == {
        "code",
        "procedure_code",
        "state",
        "revision",
        "appointment_at",
        "finished_at",
        "updated_at",
    }
    rest = (await client.get(BASE, params={"limit": 10, "after": page["next_after"]})).json()
    assert [d["code"] for d in rest["items"]] == codes[2:] and rest["next_after"] is None

    processed_only = (await client.get(BASE, params={"state": 9, "view": "full"})).json()
    assert [d["code"] for d in processed_only["items"]] == codes[:1]
    assert processed_only["items"][0]["results"]
    recent = (await client.get(BASE, params={"updated_since": "20240715103000"})).json()
    assert recent["total"] == 5
    field_error(await client.get(BASE, params={"state": 0}), 422, "state")
    field_error(await client.get(BASE, params={"updated_since": "2024"}), 422, "updated_since")
    field_error(await client.get(BASE, params={"limit": 0}), 422, "limit")

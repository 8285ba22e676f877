"""Logs never carry personal identifiers in clear."""

from __future__ import annotations

from eventkit.logging import redact_personal_data


def test_personal_fields_are_masked_at_top_level_and_one_level_down() -> None:
    event = {
        "event": "dossier submitted",
        "dossier_id": "d-1",
        "id_number": "036095001234",
        "applicant": {"full_name": "Nguyễn Văn An", "phone": "0912345678", "channel": "online"},
    }
    out = redact_personal_data(None, "info", dict(event))
    assert out["dossier_id"] == "d-1"
    assert "036095001234" not in str(out)
    assert "Nguyễn Văn An" not in str(out)
    assert "0912345678" not in str(out)
    assert out["applicant"]["channel"] == "online"

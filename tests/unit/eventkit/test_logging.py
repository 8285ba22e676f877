"""Logs never carry personal identifiers in clear."""

from __future__ import annotations

import logging

from eventkit.logging import configure_logging, redact_personal_data


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


def test_http_client_request_lines_are_not_logged() -> None:
    """httpx logs each request's URL at INFO, and registry paths carry citizens' identification
    numbers (/citizens/{id_number}/permanent-residence): those lines must never be written."""
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging("tests", level="DEBUG")
        root.setLevel(logging.DEBUG)  # as in a service (here pytest's handlers keep basicConfig from it)
        for name in ("httpx", "httpcore"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO)
        assert logging.getLogger("registry_sync").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(level)

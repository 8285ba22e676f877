"""Structured logging. Every line carries the context bound with :func:`bind` (correlation_id,
dossier_id …) and never a personal identifier in clear."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

#: Keys whose values identify a person; they are masked wherever they appear in a log event.
PERSONAL_KEYS = frozenset({"id_number", "full_name", "phone", "email", "personal_id_number", "address"})


def _mask(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 4:
        return value[:2] + "***" + value[-2:]
    return "***"


def redact_personal_data(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: mask personal data, also one level down in dict values."""
    for key, value in list(event.items()):
        if key in PERSONAL_KEYS:
            event[key] = _mask(value)
        elif isinstance(value, dict):
            event[key] = {k: _mask(v) if k in PERSONAL_KEYS else v for k, v in value.items()}
    return event


def configure_logging(service: str, *, level: str = "INFO", fmt: str = "console") -> None:
    """Configure structlog and the stdlib root logger once per process."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    # aiokafka logs every reconnect attempt at ERROR while the broker is down; our loops log once.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    # httpx logs every request at INFO: registry-sync's calls to the registries, ~15 lines a bundle
    # (and their formatting) that repeat what its own outcome lines say. Failures still show.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    """A structlog logger."""
    return structlog.get_logger(name)

"""Load goes to this machine only: every target URL must name the loopback address."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class NotLoopback(ValueError):
    """A target outside this machine was given."""


def require_loopback(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``http://`` URL on loopback; :class:`NotLoopback` otherwise.

    ``localhost`` is accepted but connected to as 127.0.0.1, so a resolver cannot send it elsewhere.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # "9092,b:9092": a list, or not a port at all
        raise NotLoopback(f"{url!r}: one host:port on 127.0.0.1, with a numeric port") from None
    if parts.scheme != "http":
        raise NotLoopback(f"{url!r}: only plain http:// on 127.0.0.1 is allowed")
    host = (parts.hostname or "").lower()
    if host not in LOOPBACK_HOSTS:
        raise NotLoopback(f"{url!r}: refusing to send load anywhere but 127.0.0.1")
    if port is None:
        raise NotLoopback(f"{url!r}: give the port explicitly")
    return ("::1" if host == "::1" else "127.0.0.1"), port


def loopback_url(url: str) -> str:
    """``url`` (checked by :func:`require_loopback`) with its host as the loopback address, never a
    name a resolver could send elsewhere: ``http://localhost:8001/x`` → ``http://127.0.0.1:8001/x``."""
    host, port = require_loopback(url)
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"[{host}]:{port}" if ":" in host else f"{host}:{port}"))

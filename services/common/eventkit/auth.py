"""Who is calling: officials authenticated by the province's identity provider.

Officials sign in with an OpenID Connect provider (Keycloak, the province's single sign-on, …), which
issues short-lived JSON Web Tokens signed with its private key. A service checks a token's signature
against the provider's public keys (a JWKS: a file, or an https URL it caches), its issuer, audience
and expiry, then reads who the official is (``sub``, or the claim configured) and which agencies they act for (the
``agencies`` claim: agency codes of the catalogue) and what platform roles they have (``roles``:
``operator`` for the people who run it). What an official may do with a dossier is the service's rule
(workflow: only what their agency holds); operators' endpoints ask for the role here.

Only asymmetric algorithms are accepted: a service holds public keys and can verify, never sign.
Without ``AUTH_JWKS`` a service runs unauthenticated (development and tests; a service with such
endpoints refuses to start so in production), and requests name their official themselves.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from eventkit.logging import get_logger

log = get_logger(__name__)

#: Signatures a public key can verify. HS* would make the public key a shared secret; "none" no check.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
#: How often a JWKS file is read again when a token names a key it does not hold (the provider rotated).
_RELOAD_SECONDS = 30.0
#: How long the keys last fetched from a URL serve while the provider cannot be reached.
_STALE_GRACE = 3600.0
#: A fetch of the provider's keys gives up after this long (PyJWT's 30 s held a thread a request).
_FETCH_TIMEOUT = 5.0
#: Verified tokens kept in memory (a few per official signed in).
_REMEMBERED = 4096


#: The role (``roles`` claim) of the people who run the platform: rebuilds, reconciliations, the
#: registry commands' contents. Officials act for agencies; an operator for none.
OPERATOR = "operator"


@dataclass(frozen=True)
class Official:
    """An authenticated caller: their id, the agencies they act for and their platform roles."""

    official_id: str
    agencies: frozenset[str]
    roles: frozenset[str] = frozenset()


class Unauthenticated(Exception):
    """No token, or one that does not prove who is calling (401)."""


class Forbidden(Exception):
    """An authenticated caller asked for what their agencies or roles do not allow (403)."""


class KeysUnavailable(Exception):
    """The identity provider's key set cannot be fetched: no token can be checked now (503)."""


class TokenVerifier:
    """Verifies bearer tokens against the provider's public keys."""

    def __init__(
        self,
        jwks: str,
        *,
        audience: str,
        issuer: str | None = None,
        leeway_seconds: float = 30.0,
        reload_seconds: float = _RELOAD_SECONDS,
        official_claim: str = "sub",
    ) -> None:
        self._source = jwks
        self._official_claim = official_claim
        self._reload = reload_seconds
        self._audience = audience
        self._issuer = issuer
        self._leeway = leeway_seconds
        # The key set is fetched again once it is ``reload_seconds`` old (or names no key a token asks
        # for). No per-key cache: PyJWT's never expires, so a key the provider withdrew (compromised)
        # signed new tokens that were taken until the process restarted. http:// serves development
        # only: the settings refuse it in production. A scheme in capitals is a URL too (as the
        # settings take it), not a file path.
        self._client = (
            jwt.PyJWKClient(jwks, cache_keys=False, lifespan=max(reload_seconds, 0.001), timeout=_FETCH_TIMEOUT)
            if jwks.lower().startswith(("https://", "http://"))
            else None
        )
        self._keys: jwt.PyJWKSet | None = None
        self._loaded_at = float("-inf")
        self._verified: dict[str, tuple[Official, float]] = {}  # token → who, until when (exp + leeway)
        if self._client is None:
            self._load_file()  # a missing or broken file stops the service at start, not at the first request

    async def verify(self, token: str) -> Official:
        """The official ``token`` proves, or Unauthenticated saying why not.

        A token verified before is taken from memory until it expires: a client sends the same token
        with every request of its session, and checking the signature again costs ~100 µs of CPU."""
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        official, expires = await self._verify(token)
        if len(self._verified) >= _REMEMBERED:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = (official, expires + self._leeway)
        return official

    async def _verify(self, token: str) -> tuple[Official, float]:
        try:
            key = await self._key(jwt.get_unverified_header(token).get("kid"))
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", self._official_claim]},
            )
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        return _official(claims, self._official_claim), float(claims["exp"])

    async def _key(self, kid: str | None) -> jwt.PyJWK:
        if self._client is not None:  # the provider's JWKS URL: fetched (blocking) off the event loop, cached
            if kid is None:
                raise Unauthenticated("invalid token: it names no key (kid)")
            try:
                return await asyncio.to_thread(self._client.get_signing_key, kid)
            except jwt.PyJWKClientConnectionError as exc:
                held = self._held_key(kid)
                if held is None:
                    raise KeysUnavailable(f"the identity provider's keys cannot be fetched: {exc}") from exc
                log.warning("the identity provider's keys cannot be fetched; the keys held serve", error=str(exc))
                return held
        # Read again once the keys held are ``reload_seconds`` old: a key rotated in is found, and a key
        # withdrawn (compromised) signs nothing new. Only a key missing from the set read it again, so
        # a withdrawn one was taken until the process restarted.
        if time.monotonic() - self._loaded_at >= self._reload:
            try:
                self._load_file()
            except ValueError as exc:  # caught mid-rewrite, say: keep the keys held, try again later
                self._loaded_at = time.monotonic()
                log.error("cannot read the identity provider's keys again", error=str(exc))
        found = self._find(kid)
        if found is None:
            raise Unauthenticated(f"invalid token: no key {kid!r} in the identity provider's key set")
        return found

    def _held_key(self, kid: str) -> jwt.PyJWK | None:
        """``kid`` among the keys last fetched, while they are under :data:`_STALE_GRACE` old: a
        provider (or its CDN) down for a while must not stop every official's new session, as it did
        once the held set expired."""
        assert self._client is not None
        cache = self._client.jwk_set_cache
        held = cache.jwk_set_with_timestamp if cache is not None else None
        if held is None or time.monotonic() - held.get_timestamp() > _STALE_GRACE:
            return None
        return next((key for key in held.get_jwk_set().keys if key.key_id == kid), None)

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        assert self._keys is not None
        if kid is None:  # a provider with one key need not name it
            return self._keys.keys[0] if len(self._keys.keys) == 1 else None
        return next((key for key in self._keys.keys if key.key_id == kid), None)

    def _load_file(self) -> None:
        try:
            self._keys = jwt.PyJWKSet.from_json(Path(self._source).read_text())
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise ValueError(f"AUTH_JWKS {self._source}: not a readable key set (JWKS): {exc}") from exc
        self._loaded_at = time.monotonic()


def _official(claims: dict[str, Any], official_claim: str) -> Official:
    subject = claims.get(official_claim)
    if not isinstance(subject, str) or not 0 < len(subject) <= 64:
        raise Unauthenticated(f"invalid token: {official_claim} must be the official's id (1-64 characters)")
    return Official(subject, _names(claims, "agencies", "agency codes"), _names(claims, "roles", "role names"))


def _names(claims: dict[str, Any], claim: str, what: str) -> frozenset[str]:
    """A claim listing names; absent is none."""
    value = claims.get(claim, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Unauthenticated(f"invalid token: {claim} must be a list of {what}")
    return frozenset(value)


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="official",
    description="A token from the province's identity provider: `sub` the official's id, `agencies` the agency"
    " codes they act for. Required unless the service runs without AUTH_JWKS (development).",
)


async def _current_official(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Official | None:
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        return None
    if credentials is None:
        raise Unauthenticated("this endpoint needs an official's bearer token (Authorization: Bearer …)")
    official = await verifier.verify(credentials.credentials)
    structlog.contextvars.bind_contextvars(official=official.official_id)  # every log line of the request says who
    return official


#: The caller of an officials' endpoint: an Official, or None when the service runs unauthenticated.
CurrentOfficial = Annotated[Official | None, Depends(_current_official)]


async def require_operator(official: CurrentOfficial) -> None:
    """A dependency of operators' endpoints: 403 unless the token gives the operator role."""
    if official is not None and OPERATOR not in official.roles:
        raise Forbidden(f"{official.official_id} is not an operator of the platform (roles claim)")


#: Add to an operators' router or endpoint: ``dependencies=[OperatorOnly]``.
OperatorOnly = Depends(require_operator)

"""A stand-in for the province's identity provider, for the local stack and tests: a signing key of
its own, the public half as the JWKS file the services are pointed at (``AUTH_JWKS``), and tokens
for the officials the load generator and the tests play.

Production never uses this: there the provider (Keycloak, the province's single sign-on) holds the
private key and the services only its public keys. Here the key lives in the run directory, readable
by its owner alone, and is made anew with the stack's fresh databases.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

#: The issuer the local stack's tokens name and its services expect (``AUTH_ISSUER``).
ISSUER = "http://127.0.0.1/devstack-identity"
KEY_ID = "devstack-1"
_PRIVATE = "signing-key.pem"
_PUBLIC = "jwks.json"


class DevIdentity:
    """Signs officials' tokens with a key of the run directory's."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key = serialization.load_pem_private_key((directory / _PRIVATE).read_bytes(), password=None)

    @classmethod
    def create(cls, directory: Path) -> DevIdentity:
        """A new key in ``directory`` (replacing any), its public half as ``jwks.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = directory / _PRIVATE
        private.unlink(missing_ok=True)
        private.touch(mode=0o600)
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        (directory / _PUBLIC).write_text(
            json.dumps({"keys": [{**public, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]})
        )
        return cls(directory)

    @property
    def jwks_path(self) -> Path:
        return self.directory / _PUBLIC

    def token(
        self,
        official_id: str,
        agencies: Iterable[str] = (),
        *,
        roles: Iterable[str] = (),
        audience: str | Sequence[str] = "workflow",
        ttl_seconds: float = 8 * 3600,
    ) -> str:
        """A bearer token for ``official_id`` acting for ``agencies`` (with platform ``roles``) at the
        ``audience`` service, valid for a working day."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": audience if isinstance(audience, str) else list(audience),
            "sub": official_id,
            "agencies": sorted(agencies),
            "roles": sorted(roles),
            "iat": now,
            "exp": now + int(ttl_seconds),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KEY_ID})  # type: ignore[arg-type]

    def headers(
        self,
        official_id: str,
        agencies: Iterable[str] = (),
        *,
        roles: Iterable[str] = (),
        audience: str | Sequence[str] = "workflow",
    ) -> dict[str, str]:
        """The Authorization header of :meth:`token`'s official."""
        return {"Authorization": f"Bearer {self.token(official_id, agencies, roles=roles, audience=audience)}"}

    def environment(self) -> dict[str, str]:
        """What points a service at this provider."""
        return {"AUTH_JWKS": str(self.jwks_path), "AUTH_ISSUER": ISSUER}

"""Officials' tokens: what proves who is calling, and what does not."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter
from structlog.contextvars import get_contextvars

from devstack.identity import ISSUER, DevIdentity
from eventkit.auth import CurrentOfficial, KeysUnavailable, Official, TokenVerifier, Unauthenticated
from eventkit.http import create_service_app
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings
from tests.unit.eventkit.shell import NOWHERE


@pytest.fixture
def identity(tmp_path: Path) -> DevIdentity:
    return DevIdentity.create(tmp_path / "idp")


def verifier_of(identity: DevIdentity, **kwargs: object) -> TokenVerifier:
    return TokenVerifier(str(identity.jwks_path), audience="workflow", issuer=ISSUER, **kwargs)  # type: ignore[arg-type]


async def test_a_token_of_the_provider_names_the_official_and_their_agencies(identity: DevIdentity) -> None:
    official = await verifier_of(identity).verify(identity.token("cb-07", ["UBND-X-YENHOA", "CA-X-YENHOA"]))
    assert official == Official("cb-07", frozenset({"UBND-X-YENHOA", "CA-X-YENHOA"}))


async def test_the_official_may_be_named_by_another_claim(identity: DevIdentity) -> None:
    """Keycloak's sub is an opaque id; the control sheet reads better with the account name."""
    claims = _claims(sub="f3a1c2d4-0000-4000-8000-000000000001", preferred_username="cb.hotich.yenhoa")
    token = jwt.encode(claims, identity._key, algorithm="RS256", headers={"kid": "devstack-1"})  # type: ignore[arg-type]
    official = await verifier_of(identity, official_claim="preferred_username").verify(token)
    assert official.official_id == "cb.hotich.yenhoa"
    unnamed = jwt.encode(_claims(), identity._key, algorithm="RS256", headers={"kid": "devstack-1"})  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match='missing the "preferred_username" claim'):
        await verifier_of(identity, official_claim="preferred_username").verify(unnamed)


async def test_an_operator_acts_for_no_agency(identity: DevIdentity) -> None:
    official = await verifier_of(identity).verify(identity.token("ops-1", roles=["operator"]))
    assert official == Official("ops-1", frozenset(), frozenset({"operator"}))


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER, "aud": "workflow", "sub": "cb-07", "agencies": ["UBND-X-YENHOA"], "iat": now, "exp": now + 60,
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"exp": -3600}, "Signature has expired"),  # relative to now
        ({"aud": "reporting"}, "Audience doesn't match"),
        ({"iss": "https://someone-else.invalid"}, "Invalid issuer"),
        ({"exp": None}, 'missing the "exp" claim'),
        ({"sub": None}, 'missing the "sub" claim'),
        ({"agencies": "UBND-X-YENHOA"}, "agencies must be a list"),
        ({"roles": "operator"}, "roles must be a list"),
    ],
)
async def test_a_token_with_wrong_or_missing_claims_is_refused(
    identity: DevIdentity, changes: dict[str, object], why: str
) -> None:
    if changes.get("exp") == -3600:
        changes = {"exp": int(time.time()) - 3600}  # made when the test runs, not when it is collected
    token = jwt.encode(_claims(**changes), identity._key, algorithm="RS256", headers={"kid": "devstack-1"})  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match=why):
        await verifier_of(identity).verify(token)


async def test_a_token_signed_by_another_key_is_refused(identity: DevIdentity, tmp_path: Path) -> None:
    impostor = DevIdentity.create(tmp_path / "impostor")  # same key id, different key
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        await verifier_of(identity).verify(impostor.token("cb-07", ["UBND-X-YENHOA"]))


async def test_the_public_key_cannot_be_used_as_a_shared_secret(identity: DevIdentity) -> None:
    """Algorithm confusion: HS256 "signed" with the public key, which anyone can read."""
    public = jwt.PyJWK(json.loads(identity.jwks_path.read_text())["keys"][0]).key
    secret = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = b".".join(
        _b64(json.dumps(part).encode()) for part in ({"alg": "HS256", "kid": "devstack-1"}, _claims())
    )
    forged = (signing_input + b"." + _b64(hmac.new(secret, signing_input, hashlib.sha256).digest())).decode()
    with pytest.raises(Unauthenticated, match="alg value is not allowed"):
        await verifier_of(identity).verify(forged)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


async def test_an_unsigned_token_is_refused(identity: DevIdentity) -> None:
    unsigned = jwt.encode(_claims(), None, algorithm="none", headers={"kid": "devstack-1"})
    with pytest.raises(Unauthenticated):
        await verifier_of(identity).verify(unsigned)


async def test_garbage_is_refused(identity: DevIdentity) -> None:
    with pytest.raises(Unauthenticated, match="invalid token"):
        await verifier_of(identity).verify("not-a-token")


async def test_a_rotated_key_is_read_from_the_file_when_a_token_names_it(identity: DevIdentity, tmp_path: Path) -> None:
    verifier = verifier_of(identity, reload_seconds=0)
    rotated = DevIdentity.create(tmp_path / "next")
    keys = json.loads(rotated.jwks_path.read_text())["keys"]
    keys[0]["kid"] = "devstack-2"
    identity.jwks_path.write_text(json.dumps({"keys": keys}))  # the provider published its new key
    token = jwt.encode(_claims(), rotated._key, algorithm="RS256", headers={"kid": "devstack-2"})  # type: ignore[arg-type]
    assert (await verifier.verify(token)).official_id == "cb-07"


async def test_a_key_withdrawn_from_the_file_signs_no_new_token(identity: DevIdentity, tmp_path: Path) -> None:
    """The file was read again only for a key it lacked: a withdrawn key stayed good until a restart."""
    verifier = verifier_of(identity, reload_seconds=0)
    assert (await verifier.verify(identity.token("cb-07", ["UBND-X-YENHOA"]))).official_id == "cb-07"
    identity.jwks_path.write_text(DevIdentity.create(tmp_path / "next").jwks_path.read_text())  # another key
    with pytest.raises(Unauthenticated):
        await verifier.verify(identity.token("intruder", [], roles=["operator"]))


async def test_a_verified_token_is_remembered_until_it_expires(identity: DevIdentity, tmp_path: Path) -> None:
    verifier = verifier_of(identity, leeway_seconds=0, reload_seconds=0)
    lasting = identity.token("cb-07", ["UBND-X-YENHOA"])
    brief = identity.token("cb-08", ["UBND-X-YENHOA"], ttl_seconds=1)
    assert (await verifier.verify(lasting)).official_id == "cb-07"
    assert (await verifier.verify(brief)).official_id == "cb-08"
    # The provider's keys change: a token checked again would no longer verify.
    identity.jwks_path.write_text(DevIdentity.create(tmp_path / "other").jwks_path.read_text())
    assert (await verifier.verify(lasting)).official_id == "cb-07"  # from memory, not checked again
    await asyncio.sleep(1.1 - (time.time() % 1) + 0.05)  # past the brief token's whole-second expiry
    with pytest.raises(Unauthenticated):
        await verifier.verify(brief)  # expired: never taken from memory


async def test_a_key_file_caught_half_written_keeps_the_keys_held(identity: DevIdentity) -> None:
    verifier = verifier_of(identity, reload_seconds=0)
    identity.jwks_path.write_text('{"keys": [')  # the provider's rotation, half written
    unknown = jwt.encode(_claims(), identity._key, algorithm="RS256", headers={"kid": "devstack-2"})  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match="no key 'devstack-2'"):  # not the server's file path
        await verifier.verify(unknown)
    assert (await verifier.verify(identity.token("cb-07", ["UBND-X-YENHOA"]))).official_id == "cb-07"


def test_a_missing_or_broken_key_file_stops_the_service_at_start_saying_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"AUTH_JWKS .*nowhere\.json: not a readable key set"):
        TokenVerifier(str(tmp_path / "nowhere.json"), audience="workflow")
    (tmp_path / "hostname").write_text("not json")
    with pytest.raises(ValueError, match="not a readable key set"):
        TokenVerifier(str(tmp_path / "hostname"), audience="workflow")


@contextlib.contextmanager
def serving_keys(body: bytes | Callable[[], bytes]) -> Iterator[str]:
    """The provider's JWKS URL, on loopback; ``body`` may be asked for afresh at each fetch."""

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                content = body() if callable(body) else body
            except ConnectionError:  # the provider is down: an error, no key set
                self.send_response(503)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/certs"
    finally:
        server.shutdown()
        server.server_close()


async def test_keys_are_fetched_from_the_providers_url(identity: DevIdentity) -> None:
    with serving_keys(identity.jwks_path.read_bytes()) as url:
        verifier = TokenVerifier(url, audience="workflow", issuer=ISSUER)
        tokens = [identity.token(f"cb-{n}", ["UBND-X-YENHOA"]) for n in range(3)]
        officials = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert [o.official_id for o in officials] == ["cb-0", "cb-1", "cb-2"]


async def test_keys_are_fetched_from_a_url_whose_scheme_is_in_capitals(identity: DevIdentity) -> None:
    """The settings take HTTPS:// as a URL; the verifier read it as a file path, and the service did
    not start (its error naming the URL, a password in it included)."""
    with serving_keys(identity.jwks_path.read_bytes()) as url:
        verifier = TokenVerifier(url.replace("http://", "HTTP://"), audience="workflow", issuer=ISSUER)
        official = await verifier.verify(identity.token("cb-07", ["UBND-X-YENHOA"]))
    assert official.official_id == "cb-07"


async def test_a_key_the_provider_withdrew_signs_no_new_token_once_the_keys_are_fetched_again(
    identity: DevIdentity, tmp_path: Path
) -> None:
    """PyJWT's per-key cache never expires: a withdrawn (compromised) key went on signing tokens,
    an operator's included, that were taken until the service restarted."""
    rotated = json.loads(DevIdentity.create(tmp_path / "next").jwks_path.read_text())
    rotated["keys"][0]["kid"] = "devstack-2"
    published = {"keys": identity.jwks_path.read_bytes()}
    with serving_keys(lambda: published["keys"]) as url:
        verifier = TokenVerifier(url, audience="workflow", issuer=ISSUER, reload_seconds=0.05)
        assert (await verifier.verify(identity.token("cb-07", ["UBND-X-YENHOA"]))).official_id == "cb-07"
        published["keys"] = json.dumps(rotated).encode()  # the old key withdrawn, a new one published
        await asyncio.sleep(0.1)
        forged = identity.token("intruder", [], roles=["operator"])  # new, signed with the withdrawn key
        with pytest.raises(Unauthenticated, match="signing key"):
            await verifier.verify(forged)


async def test_the_keys_last_fetched_serve_while_the_provider_cannot_be_reached(identity: DevIdentity) -> None:
    """Without the per-key cache, every new session failed 503 once the held set had expired and
    the provider (or its CDN) was down."""
    up = {"now": True}

    def keys() -> bytes:
        if not up["now"]:
            raise ConnectionError("the provider is down")
        return identity.jwks_path.read_bytes()

    with serving_keys(keys) as url:
        verifier = TokenVerifier(url, audience="workflow", issuer=ISSUER, reload_seconds=0.05)
        assert (await verifier.verify(identity.token("cb-07", ["UBND-X-YENHOA"]))).official_id == "cb-07"
        up["now"] = False
        await asyncio.sleep(0.1)  # the held set is past its age: the next token fetches, and fails
        assert (await verifier.verify(identity.token("cb-08", ["UBND-X-YENHOA"]))).official_id == "cb-08"


async def test_an_unreachable_provider_is_unavailable_not_a_bad_token(identity: DevIdentity) -> None:
    with serving_keys(b"{}") as url:
        pass  # the port is closed again
    verifier = TokenVerifier(url, audience="workflow", issuer=ISSUER)
    with pytest.raises(KeysUnavailable):
        await verifier.verify(identity.token("cb-07", ["UBND-X-YENHOA"]))


async def test_the_official_is_on_every_log_line_of_their_request(identity: DevIdentity) -> None:
    router = APIRouter()

    @router.get("/who")
    async def who(official: CurrentOfficial) -> dict[str, object]:
        return {"official": official.official_id if official else None, "logged_as": get_contextvars().get("official")}

    settings = ServiceSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1")
    app = create_service_app(ServiceRuntime(settings), title="t", routers=[router])
    app.state.token_verifier = verifier_of(identity)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        token = identity.token("cb-07", ["UBND-X-YENHOA"])
        answer = await client.get("/who", headers={"Authorization": f"Bearer {token}"})
        assert answer.json() == {"official": "cb-07", "logged_as": "cb-07"}
        refused = await client.get("/who")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"

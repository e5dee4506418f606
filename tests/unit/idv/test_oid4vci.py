"""OpenID4VCI issuance over HTTP (in process): metadata, offers, the pre-authorized code with
its PIN, nonces, proofs of possession, the credential, revocation through the status list, and
the sealing of what waits for pick-up."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from ssar.clock import FixedClock
from ssar.credentials.jose import b64url_decode, parse_compact_jws
from ssar.credentials.statuslist import StaticStatusListFetcher
from ssar.credentials.trust import TrustConfig, TrustedIssuer
from ssar.credentials.verify import verify_credential
from ssar.errors import CredentialError
from ssar.idv.oid4vci import (
    CONFIGURATION_ID,
    PRE_AUTHORIZED_GRANT,
    PROOF_TYP,
    IssuanceService,
)
from ssar.idv.routes import get_issuance
from ssar.idv.routes import router as idv_router
from ssar.registry import Registry
from ssar.store.tables import IdvOfferRow
from ssar.wallet.store import HolderKey
from ssar.web.app import create_app
from tests.conftest import make_settings
from tests.support.issuer import PORTRAIT

BASE = "https://ssar.test"
ISSUER = BASE + "/idv"
JPEG = base64.b64decode(PORTRAIT.split(",", 1)[1])
IDENTITY: dict[str, Any] = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1984-01-26",
    "verification": {"document_type": "idcard", "issuing_country": "DE", "strength": "STRONG"},
}


@dataclass
class Idv:
    registry: Registry
    client: TestClient
    service: IssuanceService
    clock: FixedClock
    db_file: Path

    def offer(self, **kwargs: Any) -> Any:
        return self.service.create_offer(IDENTITY, JPEG, **kwargs)

    def token(self, code: str, tx_code: str | None) -> httpx.Response:
        form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}
        if tx_code is not None:
            form["tx_code"] = tx_code
        return self.client.post("/idv/token", data=form)

    def access_token(self, offer: Any) -> str:
        answer = self.token(_code(offer), offer.tx_code)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def nonce(self) -> str:
        answer = self.client.post("/idv/nonce")
        assert answer.headers["cache-control"] == "no-store"
        return str(answer.json()["c_nonce"])

    def credential(self, access_token: str, proof: str, **extra: Any) -> httpx.Response:
        body = {"credential_configuration_id": CONFIGURATION_ID, "proofs": {"jwt": [proof]}}
        body.update(extra)
        return self.client.post(
            "/idv/credential", json=body, headers={"Authorization": f"Bearer {access_token}"}
        )

    def trust(self) -> TrustConfig:
        jwks = self.client.get("/.well-known/jwt-vc-issuer/idv").json()["jwks"]
        return TrustConfig(issuers=(TrustedIssuer(iss=ISSUER, jwks=jwks),))


def _code(offer: Any) -> str:
    return str(offer.credential_offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"])


def make_proof(
    holder: HolderKey,
    *,
    nonce: str | None,
    now: int,
    aud: str = ISSUER,
    typ: str = PROOF_TYP,
    header: dict[str, Any] | None = None,
) -> str:
    payload: dict[str, Any] = {"aud": aud, "iat": now}
    if nonce is not None:
        payload["nonce"] = nonce
    return holder.sign_jwt({"typ": typ, "jwk": holder.public_jwk(), **(header or {})}, payload)


@pytest.fixture
def holder() -> HolderKey:
    return HolderKey(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture
def idv(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Idv]:
    registry = Registry(make_settings(sqlite_url, tmp_path, base_url=BASE), clock=clock)
    app = create_app(registry)
    app.include_router(idv_router)
    with TestClient(app, base_url=BASE) as client:
        yield Idv(registry, client, get_issuance(registry), clock, tmp_path / "ssar.db")
    registry.close()


def _issue(idv: Idv, holder: HolderKey) -> str:
    offer = idv.offer()
    token = idv.access_token(offer)
    proof = make_proof(holder, nonce=idv.nonce(), now=int(idv.clock.now().timestamp()))
    answer = idv.credential(token, proof)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["credentials"][0]["credential"])


# --- metadata ----------------------------------------------------------------------------------


def test_issuer_metadata_at_the_inserted_and_the_appended_well_known_path(idv: Idv) -> None:
    inserted = idv.client.get("/.well-known/openid-credential-issuer/idv").json()
    assert idv.client.get("/idv/.well-known/openid-credential-issuer").json() == inserted
    assert inserted["credential_issuer"] == ISSUER
    assert inserted["credential_endpoint"] == ISSUER + "/credential"
    assert inserted["nonce_endpoint"] == ISSUER + "/nonce"
    config = inserted["credential_configurations_supported"][CONFIGURATION_ID]
    assert config["format"] == "dc+sd-jwt"
    assert config["vct"] == "urn:ssar:identity:1"
    assert config["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"] == ["ES256"]
    server = idv.client.get("/.well-known/oauth-authorization-server/idv").json()
    assert server["issuer"] == ISSUER
    assert server["token_endpoint"] == ISSUER + "/token"
    assert server["pre-authorized_grant_anonymous_access_supported"] is True


def test_jwt_vc_issuer_metadata_publishes_the_issuer_key_with_its_kid(idv: Idv) -> None:
    metadata = idv.client.get("/.well-known/jwt-vc-issuer/idv").json()
    assert metadata["issuer"] == ISSUER
    (key,) = metadata["jwks"]["keys"]
    assert key["kid"]
    assert key["alg"] == "ES256"
    assert "d" not in key
    assert idv.client.get("/idv/jwks.json").json() == metadata["jwks"]
    # its own key file, not the service's signing key
    assert key["kid"] != idv.registry.signing_key.kid
    assert (idv.registry.settings.var_dir / "idv-issuer-key.pem").stat().st_mode & 0o077 == 0


# --- offers ------------------------------------------------------------------------------------


def test_offer_by_reference_link_qr_and_pin(idv: Idv) -> None:
    offer = idv.offer()
    assert offer.link.startswith("openid-credential-offer://?credential_offer_uri=")
    (uri,) = parse_qs(urlsplit(offer.link).query)["credential_offer_uri"]
    assert uri == offer.credential_offer_uri
    assert uri.startswith(ISSUER + "/offers/")
    fetched = idv.client.get(uri)
    assert fetched.status_code == 200
    assert fetched.headers["cache-control"] == "no-store"
    document = fetched.json()
    assert document == offer.credential_offer
    assert document["credential_issuer"] == ISSUER
    assert document["credential_configuration_ids"] == [CONFIGURATION_ID]
    grant = document["grants"][PRE_AUTHORIZED_GRANT]
    assert len(b64url_decode(grant["pre-authorized_code"])) * 8 >= 128
    assert grant["tx_code"]["input_mode"] == "numeric"
    assert offer.tx_code is not None
    assert offer.tx_code.isdigit()
    assert grant["tx_code"]["length"] == len(offer.tx_code)
    qr = idv.client.get(offer.qr_url)
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in qr.text
    by_value = parse_qs(urlsplit(offer.link_by_value).query)["credential_offer"][0]
    assert '"pre-authorized_code"' in by_value


def test_offer_refuses_bad_identity_and_non_jpeg_portraits(idv: Idv) -> None:
    from ssar.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        idv.service.create_offer({**IDENTITY, "birthdate": "26.01.1984"}, JPEG)
    with pytest.raises(ValidationFailed):
        idv.service.create_offer(
            {**IDENTITY, "verification": {**IDENTITY["verification"], "strength": "HIGH"}}, JPEG
        )
    with pytest.raises(ValidationFailed):
        idv.service.create_offer(IDENTITY, b"\x89PNG\r\n\x1a\n....")


# --- the happy path ----------------------------------------------------------------------------


def test_full_issuance_verifies_against_the_published_keys(idv: Idv, holder: HolderKey) -> None:
    text = _issue(idv, holder)
    verified = verify_credential(
        text, trust=idv.trust(), now=idv.clock.now(), allowed_types=["urn:ssar:identity:1"]
    )
    assert verified.format == "dc+sd-jwt"
    assert verified.issuer == ISSUER
    assert verified.claims["given_name"] == "Erika"
    assert verified.claims["birthdate"] == "1984-01-26"
    assert verified.claims["portrait"] == PORTRAIT
    assert verified.claims["verification"]["strength"] == "STRONG"
    assert verified.claims["verification"]["issuing_country"] == "DE"
    assert verified.holder_jwk is not None
    assert {k: verified.holder_jwk[k] for k in ("x", "y")} == {
        k: holder.public_jwk()[k] for k in ("x", "y")
    }
    payload = parse_compact_jws(text.split("~", 1)[0]).payload
    assert payload["status"]["status_list"]["uri"].startswith(ISSUER + "/status/")
    assert not {"given_name", "family_name", "birthdate", "portrait"} & set(payload)
    # the status list says valid
    uri = payload["status"]["status_list"]["uri"]
    token = idv.client.get(urlsplit(uri).path)
    assert token.headers["content-type"].startswith("application/statuslist+jwt")
    fetcher = StaticStatusListFetcher({uri: token.text})
    verify_credential(text, trust=idv.trust(), now=idv.clock.now(), status_fetcher=fetcher)


def test_legacy_single_proof_parameter_is_accepted(idv: Idv, holder: HolderKey) -> None:
    offer = idv.offer()
    token = idv.access_token(offer)
    proof = make_proof(holder, nonce=idv.nonce(), now=int(idv.clock.now().timestamp()))
    answer = idv.client.post(
        "/idv/credential",
        json={
            "credential_configuration_id": CONFIGURATION_ID,
            "proof": {"proof_type": "jwt", "jwt": proof},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text


# --- the pre-authorized code and its PIN ---------------------------------------------------------


def test_wrong_pre_authorized_code_is_invalid_grant(idv: Idv) -> None:
    idv.offer()
    answer = idv.token("not-the-code", "123456")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_pre_authorized_code_is_single_use(idv: Idv) -> None:
    offer = idv.offer()
    idv.access_token(offer)
    again = idv.token(_code(offer), offer.tx_code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # and the offer can no longer be fetched
    assert idv.client.get(offer.credential_offer_uri).status_code == 404


def test_wrong_grant_type_and_missing_pin(idv: Idv) -> None:
    offer = idv.offer()
    wrong = idv.client.post(
        "/idv/token",
        data={"grant_type": "authorization_code", "pre-authorized_code": _code(offer)},
    )
    assert wrong.json()["error"] == "unsupported_grant_type"
    missing = idv.token(_code(offer), None)
    assert missing.json()["error"] == "invalid_request"
    idv.access_token(offer)  # neither counted as an attempt


def test_wrong_tx_code_then_the_right_one(idv: Idv) -> None:
    offer = idv.offer()
    wrong = "0" * 6 if offer.tx_code != "0" * 6 else "1" * 6
    answer = idv.token(_code(offer), wrong)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    idv.access_token(offer)


def test_tx_code_attempt_limit_withdraws_the_offer(idv: Idv) -> None:
    offer = idv.offer()
    wrong = "0" * 6 if offer.tx_code != "0" * 6 else "1" * 6
    for _ in range(idv.service.max_tx_code_attempts):
        assert idv.token(_code(offer), wrong).json()["error"] == "invalid_grant"
    locked = idv.token(_code(offer), offer.tx_code)
    assert locked.status_code == 400
    assert locked.json()["error"] == "invalid_grant"
    with idv.registry.database.transaction() as session:
        row = session.get(IdvOfferRow, offer.id)
        assert row is not None
        assert row.status == "locked"
        assert row.sealed is None


def test_expired_offer_is_refused_and_erased(idv: Idv) -> None:
    offer = idv.offer()
    idv.clock.advance(idv.service.offer_lifetime + timedelta(seconds=1))
    assert idv.client.get(offer.credential_offer_uri).status_code == 404
    answer = idv.token(_code(offer), offer.tx_code)
    assert answer.json()["error"] == "invalid_grant"
    with idv.registry.database.transaction() as session:
        row = session.get(IdvOfferRow, offer.id)
        assert row is not None
        assert row.status == "expired"
        assert row.sealed is None


def test_purge_ends_expired_offers_and_unused_tokens(idv: Idv) -> None:
    waiting = idv.offer()
    redeemed = idv.offer()
    idv.access_token(redeemed)
    idv.clock.advance(idv.service.offer_lifetime + timedelta(seconds=1))
    assert idv.service.purge_expired() == 2
    with idv.registry.database.transaction() as session:
        for offer in (waiting, redeemed):
            row = session.get(IdvOfferRow, offer.id)
            assert row is not None
            assert row.status == "expired"
            assert row.sealed is None


# --- the credential request and its proof ---------------------------------------------------------


def _expect(answer: httpx.Response, error: str, status: int = 400) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error


def test_proof_with_wrong_nonce_is_invalid_nonce(idv: Idv, holder: HolderKey) -> None:
    token = idv.access_token(idv.offer())
    now = int(idv.clock.now().timestamp())
    _expect(idv.credential(token, make_proof(holder, nonce="made-up", now=now)), "invalid_nonce")
    _expect(idv.credential(token, make_proof(holder, nonce=None, now=now)), "invalid_nonce")
    # the access token survives: a fresh nonce works
    answer = idv.credential(token, make_proof(holder, nonce=idv.nonce(), now=now))
    assert answer.status_code == 200


def test_nonce_is_single_use_and_expires(idv: Idv, holder: HolderKey) -> None:
    now = int(idv.clock.now().timestamp())
    nonce = idv.nonce()
    first = idv.access_token(idv.offer())
    assert idv.credential(first, make_proof(holder, nonce=nonce, now=now)).status_code == 200
    second = idv.access_token(idv.offer())
    _expect(idv.credential(second, make_proof(holder, nonce=nonce, now=now)), "invalid_nonce")
    stale = idv.nonce()
    idv.clock.advance(idv.service.nonce_lifetime + timedelta(seconds=1))
    later = int(idv.clock.now().timestamp())
    third = idv.access_token(idv.offer())
    _expect(idv.credential(third, make_proof(holder, nonce=stale, now=later)), "invalid_nonce")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"aud": "https://other.example/idv"}, "audience"),
        ({"typ": "JWT"}, "typ"),
        ({"iat_offset": -3600}, "old iat"),
        ({"iat_offset": 3600}, "future iat"),
        ({"header": {"kid": "k1"}}, "kid besides jwk"),
    ],
)
def test_proof_checks_are_invalid_proof(
    idv: Idv, holder: HolderKey, change: dict[str, Any], why: str
) -> None:
    token = idv.access_token(idv.offer())
    now = int(idv.clock.now().timestamp()) + int(change.pop("iat_offset", 0))
    proof = make_proof(holder, nonce=idv.nonce(), now=now, **change)
    _expect(idv.credential(token, proof), "invalid_proof")


def test_proof_signed_by_another_key_than_its_jwk_is_invalid_proof(
    idv: Idv, holder: HolderKey
) -> None:
    token = idv.access_token(idv.offer())
    other = HolderKey(ec.generate_private_key(ec.SECP256R1()))
    now = int(idv.clock.now().timestamp())
    forged = other.sign_jwt(
        {"typ": PROOF_TYP, "jwk": holder.public_jwk()},
        {"aud": ISSUER, "iat": now, "nonce": idv.nonce()},
    )
    _expect(idv.credential(token, forged), "invalid_proof")
    header, payload, _ = make_proof(holder, nonce=idv.nonce(), now=now).split(".")
    _expect(idv.credential(token, f"{header}.{payload}.AAAA"), "invalid_proof")


def test_proof_alg_must_be_es256(idv: Idv, holder: HolderKey) -> None:
    token = idv.access_token(idv.offer())
    now = int(idv.clock.now().timestamp())
    proof = make_proof(holder, nonce=idv.nonce(), now=now, header={"alg": "ES384"})
    _expect(idv.credential(token, proof), "invalid_proof")


def test_credential_request_shape(idv: Idv, holder: HolderKey) -> None:
    token = idv.access_token(idv.offer())
    now = int(idv.clock.now().timestamp())
    proof = make_proof(holder, nonce=idv.nonce(), now=now)
    _expect(
        idv.credential(token, proof, credential_configuration_id="other"),
        "unknown_credential_configuration",
    )
    _expect(idv.credential(token, proof, proofs={"jwt": [proof, proof]}), "invalid_proof")
    _expect(idv.credential(token, proof, proofs={"ldp_vp": [{}]}), "invalid_proof")
    answer = idv.client.post(
        "/idv/credential", content=b"{not json", headers={"Authorization": f"Bearer {token}"}
    )
    _expect(answer, "invalid_credential_request")


def test_access_token_required_single_use_and_expiring(idv: Idv, holder: HolderKey) -> None:
    now = int(idv.clock.now().timestamp())
    unauthenticated = idv.client.post(
        "/idv/credential",
        json={"credential_configuration_id": CONFIGURATION_ID},
    )
    _expect(unauthenticated, "invalid_token", 401)
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    _expect(idv.credential("forged", make_proof(holder, nonce=None, now=now)), "invalid_token", 401)
    token = idv.access_token(idv.offer())
    assert idv.credential(token, make_proof(holder, nonce=idv.nonce(), now=now)).status_code == 200
    reused = idv.credential(token, make_proof(holder, nonce=idv.nonce(), now=now))
    _expect(reused, "invalid_token", 401)
    late = idv.access_token(idv.offer())
    idv.clock.advance(idv.service.token_lifetime + timedelta(seconds=1))
    fresh = int(idv.clock.now().timestamp())
    _expect(
        idv.credential(late, make_proof(holder, nonce=idv.nonce(), now=fresh)), "invalid_token", 401
    )


# --- revocation --------------------------------------------------------------------------------


def _admin_token(idv: Idv) -> str:
    return idv.registry.api_tokens.create(name="idv-admin", scopes=["admin"]).token


def _status_uri(text: str) -> str:
    return str(parse_compact_jws(text.split("~", 1)[0]).payload["status"]["status_list"]["uri"])


def _verify_with_fetched_status(idv: Idv, text: str) -> None:
    uri = _status_uri(text)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = idv.client.get(request.url.path)
        return httpx.Response(answer.status_code, content=answer.content)

    from ssar.credentials.statuslist import HttpStatusListFetcher

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        verify_credential(
            text, trust=idv.trust(), now=idv.clock.now(), status_fetcher=HttpStatusListFetcher(http)
        )
    assert uri.startswith("https://")


def test_R16_revoked_credential_shows_as_revoked_through_the_status_list(
    idv: Idv, holder: HolderKey
) -> None:
    text = _issue(idv, holder)
    other = _issue(idv, holder)
    _verify_with_fetched_status(idv, text)
    with idv.registry.database.transaction() as session:
        credential_id = (
            session.query(IdvOfferRow.credential_id)
            .filter(IdvOfferRow.credential_id.is_not(None))
            .first()
        )
    assert credential_id is not None
    revoked_id = str(credential_id[0])
    # which of the two it is: ask the admin API for its index
    bearer = {"Authorization": f"Bearer {_admin_token(idv)}"}
    status = idv.client.get(f"/idv/admin/credentials/{revoked_id}", headers=bearer).json()
    assert status["status"] == "valid"
    answer = idv.client.post(
        f"/idv/admin/credentials/{revoked_id}/revoke", json={"reason": "test"}, headers=bearer
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "revoked"
    by_index = {
        parse_compact_jws(t.split("~", 1)[0]).payload["status"]["status_list"]["idx"]: t
        for t in (text, other)
    }
    revoked_text = by_index.pop(status["index"])
    (still_valid,) = by_index.values()
    with pytest.raises(CredentialError) as refused:
        _verify_with_fetched_status(idv, revoked_text)
    assert refused.value.code == "revoked"
    _verify_with_fetched_status(idv, still_valid)
    # revoked is final; reinstating is a conflict
    again = idv.client.post(f"/idv/admin/credentials/{revoked_id}/reinstate", headers=bearer)
    assert again.status_code == 409


def test_status_changes_need_an_admin_token(idv: Idv, holder: HolderKey) -> None:
    _issue(idv, holder)
    answer = idv.client.post("/idv/admin/credentials/whatever/revoke")
    assert answer.status_code == 401
    unknown = idv.client.post(
        "/idv/admin/credentials/unknown/revoke",
        headers={"Authorization": f"Bearer {_admin_token(idv)}"},
    )
    assert unknown.status_code == 404


def test_R16_suspension_is_reversible(idv: Idv, holder: HolderKey) -> None:
    text = _issue(idv, holder)
    with idv.registry.database.transaction() as session:
        (credential_id,) = (
            session.query(IdvOfferRow.credential_id)
            .filter(IdvOfferRow.credential_id.is_not(None))
            .one()
        )
    idv.service.status_lists.suspend(credential_id)
    with pytest.raises(CredentialError) as refused:
        _verify_with_fetched_status(idv, text)
    assert refused.value.code == "suspended"
    idv.service.status_lists.reinstate(credential_id)
    _verify_with_fetched_status(idv, text)


# --- sealing -----------------------------------------------------------------------------------


def _database_bytes(idv: Idv) -> bytes:
    with sqlite3.connect(idv.db_file) as conn:  # fold the WAL into the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = idv.db_file.read_bytes()
    wal = idv.db_file.with_name(idv.db_file.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_R23_waiting_offer_leaves_no_portrait_or_claims_in_the_database(
    idv: Idv, holder: HolderKey
) -> None:
    offer = idv.offer()
    data = _database_bytes(idv)
    assert b"\xff\xd8\xff" not in data  # the JPEG header
    assert PORTRAIT.split(",", 1)[1][:40].encode() not in data  # nor its base64
    assert b"Mustermann" not in data
    assert b"1984-01-26" not in data
    assert _code(offer).encode() not in data
    assert offer.tx_code is not None
    assert f'"{offer.tx_code}"'.encode() not in data
    token = idv.access_token(offer)
    assert b"Mustermann" not in _database_bytes(idv)
    proof = make_proof(holder, nonce=idv.nonce(), now=int(idv.clock.now().timestamp()))
    assert idv.credential(token, proof).status_code == 200
    with idv.registry.database.transaction() as session:
        row = session.get(IdvOfferRow, offer.id)
        assert row is not None
        assert row.status == "issued"
        assert row.sealed is None
        assert row.code_blob == b""
    assert b"Mustermann" not in _database_bytes(idv)


def test_issuance_and_revocation_on_each_database(
    db_url: str, tmp_path: Path, clock: FixedClock, holder: HolderKey
) -> None:
    registry = Registry(make_settings(db_url, tmp_path, base_url=BASE), clock=clock)
    app = create_app(registry)
    app.include_router(idv_router)
    try:
        with TestClient(app, base_url=BASE) as client:
            idv = Idv(registry, client, get_issuance(registry), clock, tmp_path / "unused.db")
            wrong = "0" * 6
            offer = idv.offer()
            if offer.tx_code != wrong:
                assert idv.token(_code(offer), wrong).json()["error"] == "invalid_grant"
            text = _issue(idv, holder)
            _verify_with_fetched_status(idv, text)
            with registry.database.transaction() as session:
                (credential_id,) = (
                    session.query(IdvOfferRow.credential_id)
                    .filter(IdvOfferRow.credential_id.is_not(None))
                    .one()
                )
            idv.service.status_lists.revoke(credential_id)
            with pytest.raises(CredentialError) as refused:
                _verify_with_fetched_status(idv, text)
            assert refused.value.code == "revoked"
    finally:
        registry.close()

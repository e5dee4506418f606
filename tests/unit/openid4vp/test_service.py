"""PresentationService: request objects, the response endpoint's checks (R11, R12), single use,
expiry, DCQL satisfaction, encrypted responses and response codes."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ssar.credentials.dcql import ClaimQuery, CredentialQuery, DcqlQuery
from ssar.credentials.jose import b64url_decode
from ssar.errors import CredentialError, NotFound, ValidationFailed
from ssar.openid4vp.encryption import encrypt_response
from ssar.registry import Registry
from tests.support.issuer import VCT
from tests.unit.credentials.factory import Key
from tests.unit.openid4vp.conftest import CLAIMS, Started, Verifier


def _bits(value: str) -> int:
    return len(b64url_decode(value)) * 8


def _response_code(redirect_uri: str | None) -> str:
    assert redirect_uri is not None
    return parse_qs(urlsplit(redirect_uri).query)["response_code"][0]


def _two_query(nonce_ok: bool = True) -> DcqlQuery:
    claims = tuple(ClaimQuery(path=(n,)) for n in CLAIMS)
    return DcqlQuery(
        credentials=(
            CredentialQuery(id="a", format="dc+sd-jwt", meta={"vct_values": [VCT]}, claims=claims),
            CredentialQuery(id="b", format="dc+sd-jwt", meta={"vct_values": [VCT]}, claims=claims),
        )
    )


# --- the request ------------------------------------------------------------------------------


def test_request_object_is_signed_by_the_service_key(
    verifier: Verifier, registry: Registry
) -> None:
    started = verifier.start()
    token = verifier.service.request_object(request_id=started.request.request_id)
    head, payload, sig = token.split(".")
    assert started.header["typ"] == "oauth-authz-req+jwt"
    assert started.header["alg"] == "ES256"
    assert started.header["kid"] == registry.signing_key.kid
    raw = b64url_decode(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    registry.signing_key.private_key.public_key().verify(
        der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256())
    )


def test_request_object_claims(verifier: Verifier) -> None:
    started = verifier.start()
    claims = started.claims
    response_uri = "http://localhost:8000/openid4vp/response"
    assert claims["client_id"] == "redirect_uri:" + response_uri
    assert claims["response_uri"] == response_uri
    assert claims["response_type"] == "vp_token"
    assert claims["response_mode"] == "direct_post"
    assert claims["aud"] == "https://self-issued.me/v2"
    assert claims["dcql_query"]["credentials"][0]["meta"] == {"vct_values": [VCT]}
    assert [c["path"] for c in claims["dcql_query"]["credentials"][0]["claims"]] == [
        [n] for n in CLAIMS
    ]
    assert "jwks" not in claims["client_metadata"]
    assert "dc+sd-jwt" in claims["client_metadata"]["vp_formats_supported"]
    assert started.request.link.startswith("openid4vp://?client_id=redirect_uri%3A")
    assert started.request.request_uri.startswith("http://localhost:8000/openid4vp/request/")


def test_R11_nonce_and_state_have_128_bits_and_are_fresh(verifier: Verifier) -> None:
    first, second = verifier.start(), verifier.start()
    for started in (first, second):
        assert _bits(started.claims["nonce"]) >= 128
        assert _bits(started.claims["state"]) >= 128
        assert _bits(started.request.transaction_id) >= 128
        assert _bits(started.request.request_id) >= 128
    assert first.claims["nonce"] != second.claims["nonce"]
    assert first.claims["state"] != second.claims["state"]
    assert first.claims["nonce"] != first.claims["state"]


def test_R11_response_code_has_128_bits(verifier: Verifier) -> None:
    started = verifier.start(same_device=True)
    accepted = verifier.service.receive_response(
        form=verifier.form(started, {"identity": [verifier.presentation(started)]})
    )
    assert _bits(_response_code(accepted.redirect_uri)) >= 128


def test_direct_post_jwt_request_carries_an_ephemeral_key(verifier: Verifier) -> None:
    first, second = verifier.start(mode="direct_post.jwt"), verifier.start(mode="direct_post.jwt")
    metadata = first.claims["client_metadata"]
    (key,) = metadata["jwks"]["keys"]
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert key["alg"] == "ECDH-ES"
    assert key["use"] == "enc"
    assert "d" not in key
    assert metadata["encrypted_response_enc_values_supported"] == ["A128GCM", "A256GCM"]
    assert key["x"] != second.claims["client_metadata"]["jwks"]["keys"][0]["x"]


def test_request_object_accepts_wallet_nonce(verifier: Verifier) -> None:
    started = verifier.start()
    token = verifier.service.request_object(
        request_id=started.request.request_id,
        wallet_metadata=json.dumps({"vp_formats_supported": {}}),
        wallet_nonce="qPmxiNFCR3QTm19POc8u",
    )
    payload = json.loads(b64url_decode(token.split(".")[1]))
    assert payload["wallet_nonce"] == "qPmxiNFCR3QTm19POc8u"
    with pytest.raises(CredentialError):
        verifier.service.request_object(
            request_id=started.request.request_id, wallet_metadata="{not json"
        )


def test_unknown_request_id_is_not_found(verifier: Verifier) -> None:
    with pytest.raises(NotFound):
        verifier.service.request_object(request_id="nope")


def test_request_object_is_gone_after_expiry(verifier: Verifier) -> None:
    started = verifier.start()
    verifier.clock.advance(timedelta(minutes=10))
    with pytest.raises(NotFound):
        verifier.service.request_object(request_id=started.request.request_id)


def test_return_uri_needs_same_device(verifier: Verifier) -> None:
    with pytest.raises(ValidationFailed):
        verifier.service.create_request(
            dcql=DcqlQuery(credentials=()),
            trust=verifier.issuer.trust(),
            return_uri="https://x.test/back",
        )


def test_qr_code_is_svg_of_the_link(verifier: Verifier) -> None:
    started = verifier.start()
    svg = verifier.service.qr_svg(request_id=started.request.request_id)
    assert svg.startswith("<svg")
    assert "</svg>" in svg


# --- the response -----------------------------------------------------------------------------


def test_direct_post_verifies_and_hands_out_the_claims_once(verifier: Verifier) -> None:
    started = verifier.start()
    accepted = verifier.service.receive_response(
        form=verifier.form(started, {"identity": [verifier.presentation(started)]})
    )
    assert accepted.redirect_uri is None  # cross-device: nothing to redirect
    assert verifier.service.status(transaction_id=started.request.transaction_id).status == (
        "verified"
    )
    result = verifier.service.take_result(transaction_id=started.request.transaction_id)
    assert result.claims["given_name"] == "Erika"
    assert result.claims["family_name"] == "Mustermann"
    assert "portrait" not in result.claims  # not asked for, not disclosed
    (credential,) = result.credentials
    assert credential.key_binding is True
    assert credential.issuer == verifier.issuer.iss
    with pytest.raises(CredentialError) as second:
        verifier.service.take_result(transaction_id=started.request.transaction_id)
    assert second.value.code == "response_replayed"


def test_R12_one_wrong_nonce_rejects_whole_response(verifier: Verifier) -> None:
    started = verifier.start(query=_two_query())
    good = verifier.presentation(started)
    stale = verifier.presentation(started, nonce="a-nonce-from-another-request")
    with pytest.raises(CredentialError) as rejected:
        verifier.service.receive_response(form=verifier.form(started, {"a": [good], "b": [stale]}))
    assert rejected.value.code == "nonce_mismatch"
    status = verifier.service.status(transaction_id=started.request.transaction_id)
    assert status.status == "failed"
    assert status.error_code == "nonce_mismatch"
    with pytest.raises(CredentialError):
        verifier.service.take_result(transaction_id=started.request.transaction_id)


def test_R12_wrong_audience_rejects_whole_response(verifier: Verifier) -> None:
    started = verifier.start(query=_two_query())
    good = verifier.presentation(started)
    elsewhere = verifier.presentation(started, aud="redirect_uri:https://evil.test/response")
    with pytest.raises(CredentialError) as rejected:
        verifier.service.receive_response(
            form=verifier.form(started, {"a": [elsewhere], "b": [good]})
        )
    assert rejected.value.code == "audience_mismatch"
    assert verifier.service.status(transaction_id=started.request.transaction_id).status == "failed"


def test_R11_replayed_response_is_refused(verifier: Verifier) -> None:
    started = verifier.start()
    form = verifier.form(started, {"identity": [verifier.presentation(started)]})
    verifier.service.receive_response(form=form)
    with pytest.raises(CredentialError) as replay:
        verifier.service.receive_response(form=form)
    assert replay.value.code == "response_replayed"


def test_R11_late_response_is_refused(verifier: Verifier) -> None:
    started = verifier.start()
    presentation = verifier.presentation(started)
    verifier.clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(CredentialError) as late:
        verifier.service.receive_response(form=verifier.form(started, {"identity": [presentation]}))
    assert late.value.code == "transaction_expired"
    assert verifier.service.status(transaction_id=started.request.transaction_id).status == (
        "expired"
    )


def test_unknown_state_is_refused(verifier: Verifier) -> None:
    started = verifier.start()
    form = verifier.form(started, {"identity": [verifier.presentation(started)]})
    form["state"] = "A" * 43
    with pytest.raises(CredentialError) as unknown:
        verifier.service.receive_response(form=form)
    assert unknown.value.code == "state_unknown"
    assert verifier.service.status(transaction_id=started.request.transaction_id).status == (
        "pending"
    )


def test_undisclosed_required_claim_is_refused(verifier: Verifier) -> None:
    started = verifier.start()
    partial = verifier.presentation(started, names=["given_name", "family_name"])
    with pytest.raises(CredentialError) as missing:
        verifier.service.receive_response(form=verifier.form(started, {"identity": [partial]}))
    assert missing.value.code == "claims_missing"


def test_R14_presentation_without_key_binding_is_refused(verifier: Verifier) -> None:
    started = verifier.start()
    unbound = verifier.presentation(started, holder=False)
    with pytest.raises(CredentialError) as refused:
        verifier.service.receive_response(form=verifier.form(started, {"identity": [unbound]}))
    assert refused.value.code == "key_binding_missing"


def test_untrusted_issuer_is_refused(verifier: Verifier) -> None:
    started = verifier.start()
    from tests.support.issuer import IdentityIssuer

    rogue = IdentityIssuer(key=Key(kid="test-issuer-1"))  # same iss and kid, other key
    jwt, disclosures = rogue.issue(holder=verifier.holder, now=verifier.clock.now())
    from tests.support.issuer import disclose

    forged = disclose(
        jwt,
        disclosures,
        CLAIMS,
        holder=verifier.holder,
        nonce=started.claims["nonce"],
        aud=started.claims["client_id"],
        iat=int(verifier.clock.now().timestamp()),
    )
    with pytest.raises(CredentialError) as refused:
        verifier.service.receive_response(form=verifier.form(started, {"identity": [forged]}))
    assert refused.value.code == "bad_signature"


def test_answer_to_unknown_query_is_refused(verifier: Verifier) -> None:
    started = verifier.start()
    with pytest.raises(CredentialError) as refused:
        verifier.service.receive_response(
            form=verifier.form(started, {"other": [verifier.presentation(started)]})
        )
    assert refused.value.code == "malformed"


def test_wallet_error_response_fails_the_transaction(verifier: Verifier) -> None:
    started = verifier.start(same_device=True)
    accepted = verifier.service.receive_response(
        form={"error": "access_denied", "state": started.claims["state"]}
    )
    assert accepted.redirect_uri is not None
    status = verifier.service.status(transaction_id=started.request.transaction_id)
    assert status.status == "failed"
    assert status.error_code == "wallet_error"


# --- direct_post.jwt --------------------------------------------------------------------------


def _encrypted_form(verifier: Verifier, started: Started, enc: str = "A128GCM") -> dict[str, str]:
    (key,) = started.claims["client_metadata"]["jwks"]["keys"]
    payload = {
        "vp_token": {"identity": [verifier.presentation(started)]},
        "state": started.claims["state"],
    }
    return {"response": encrypt_response(payload, public_jwk=key, enc=enc)}


@pytest.mark.parametrize("enc", ["A128GCM", "A256GCM"])
def test_direct_post_jwt_round_trip(verifier: Verifier, enc: str) -> None:
    started = verifier.start(mode="direct_post.jwt")
    verifier.service.receive_response(form=_encrypted_form(verifier, started, enc))
    result = verifier.service.take_result(transaction_id=started.request.transaction_id)
    assert result.claims["birthdate"] == "1984-01-26"


def test_tampered_encrypted_response_is_refused(verifier: Verifier) -> None:
    started = verifier.start(mode="direct_post.jwt")
    token = _encrypted_form(verifier, started)["response"]
    parts = token.split(".")
    ciphertext = bytearray(b64url_decode(parts[3]))
    ciphertext[0] ^= 0x01
    parts[3] = base64.urlsafe_b64encode(bytes(ciphertext)).rstrip(b"=").decode()
    with pytest.raises(CredentialError) as refused:
        verifier.service.receive_response(form={"response": ".".join(parts)})
    assert refused.value.code == "decryption_failed"
    # the tampered message did not burn the transaction: the genuine one still works
    verifier.service.receive_response(form=_encrypted_form(verifier, started))
    assert verifier.service.status(transaction_id=started.request.transaction_id).status == (
        "verified"
    )


def test_encrypted_response_with_wrong_state_is_refused(verifier: Verifier) -> None:
    started = verifier.start(mode="direct_post.jwt")
    (key,) = started.claims["client_metadata"]["jwks"]["keys"]
    payload = {"vp_token": {"identity": [verifier.presentation(started)]}, "state": "x" * 43}
    with pytest.raises(CredentialError) as refused:
        verifier.service.receive_response(
            form={"response": encrypt_response(payload, public_jwk=key)}
        )
    assert refused.value.code == "state_mismatch"


def test_plain_response_to_encrypted_request_is_refused(verifier: Verifier) -> None:
    started = verifier.start(mode="direct_post.jwt")
    with pytest.raises(CredentialError) as refused:
        verifier.service.receive_response(
            form=verifier.form(started, {"identity": [verifier.presentation(started)]})
        )
    assert refused.value.code == "malformed"
    assert verifier.service.status(transaction_id=started.request.transaction_id).status == (
        "pending"
    )


# --- same-device response codes ---------------------------------------------------------------


def test_R11_same_device_result_needs_the_response_code(verifier: Verifier) -> None:
    started = verifier.start(same_device=True)
    accepted = verifier.service.receive_response(
        form=verifier.form(started, {"identity": [verifier.presentation(started)]})
    )
    assert accepted.redirect_uri is not None
    assert accepted.redirect_uri.startswith("http://localhost:8000/openid4vp/return?")
    code = _response_code(accepted.redirect_uri)
    tid = started.request.transaction_id
    for wrong in (None, "x" * 43, code[:-1]):
        with pytest.raises(CredentialError) as refused:
            verifier.service.take_result(transaction_id=tid, response_code=wrong)
        assert refused.value.code == "response_code_mismatch"
    assert verifier.service.take_result(transaction_id=tid, response_code=code).claims
    with pytest.raises(CredentialError):
        verifier.service.take_result(transaction_id=tid, response_code=code)


def test_default_return_page_finds_the_result_by_response_code(verifier: Verifier) -> None:
    started = verifier.start(same_device=True)
    accepted = verifier.service.receive_response(
        form=verifier.form(started, {"identity": [verifier.presentation(started)]})
    )
    code = _response_code(accepted.redirect_uri)
    with pytest.raises(CredentialError):
        verifier.service.take_result(response_code="y" * 43)
    assert verifier.service.take_result(response_code=code).claims["given_name"] == "Erika"
    with pytest.raises(CredentialError) as again:
        verifier.service.take_result(response_code=code)
    assert again.value.code == "response_replayed"


def test_result_expires(verifier: Verifier) -> None:
    started = verifier.start()
    verifier.service.receive_response(
        form=verifier.form(started, {"identity": [verifier.presentation(started)]})
    )
    verifier.clock.advance(timedelta(minutes=11))
    with pytest.raises(CredentialError) as late:
        verifier.service.take_result(transaction_id=started.request.transaction_id)
    assert late.value.code == "transaction_expired"
    assert verifier.service.purge_expired(older_than=timedelta(0)) == 1


def test_pending_result_is_not_available(verifier: Verifier) -> None:
    started = verifier.start()
    with pytest.raises(CredentialError) as pending:
        verifier.service.take_result(transaction_id=started.request.transaction_id)
    assert pending.value.code == "pending"
    with pytest.raises(NotFound):
        verifier.service.status(transaction_id="not-a-transaction")


def test_secrets_are_not_stored_in_clear(verifier: Verifier, registry: Registry) -> None:
    started = verifier.start(same_device=True, mode="direct_post.jwt")
    verifier.service.receive_response(form=_encrypted_form(verifier, started))
    from sqlalchemy import text

    with registry.database.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM vp_transactions")).mappings().one()
    dump = json.dumps({k: repr(v) for k, v in row.items()})
    assert started.request.transaction_id not in dump
    assert started.claims["state"] not in dump
    assert "Mustermann" not in dump  # the verified claims are encrypted at rest
    assert '"d"' not in dump

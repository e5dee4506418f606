"""An mdoc DeviceResponse through the response endpoint: the device signature must cover the
OpenID4VP SessionTranscript (client_id, nonce, encryption-key thumbprint, response_uri), R17."""

from __future__ import annotations

import base64
import json

import pytest

from ssar.credentials import cose
from ssar.credentials.dcql import build_identity_query
from ssar.credentials.jose import parse_compact_jws
from ssar.credentials.mdoc import openid4vp_session_transcript, sign_device_response
from ssar.errors import CredentialError
from ssar.openid4vp.encryption import encrypt_response, jwk_thumbprint
from tests.unit.credentials.mdoc_support import MDL, MdocIssuer, make_pki
from tests.unit.openid4vp.conftest import Started, Verifier


def _device_response(issuer: MdocIssuer, started: Started, *, nonce: str | None = None) -> str:
    claims = started.claims
    keys = claims["client_metadata"].get("jwks", {}).get("keys", [])
    transcript = openid4vp_session_transcript(
        client_id=claims["client_id"],
        nonce=nonce or claims["nonce"],
        jwk_thumbprint=jwk_thumbprint(keys[0]) if keys else None,
        response_uri=claims["response_uri"],
    )
    raw = sign_device_response(
        issuer_signed=issuer.issuer_signed(),
        doc_type=MDL,
        device_key=issuer.device_key,
        alg=cose.ES256,
        session_transcript=transcript,
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("mode", ["direct_post", "direct_post.jwt"])
def test_mdoc_presentation_is_verified(verifier: Verifier, mode: str) -> None:
    pki = make_pki()
    issuer = MdocIssuer(pki)
    request = verifier.service.create_request(
        dcql=build_identity_query(claims=["given_name", "family_name"], doctypes=[MDL]),
        trust=pki.trust,
        response_mode=mode,  # type: ignore[arg-type]
    )
    claims = parse_compact_jws(
        verifier.service.request_object(request_id=request.request_id)
    ).payload
    started = Started(request=request, claims=claims, header={})
    payload = {
        "vp_token": {"identity_mdoc": [_device_response(issuer, started)]},
        "state": claims["state"],
    }
    if mode == "direct_post":
        form = {"vp_token": json.dumps(payload["vp_token"]), "state": claims["state"]}
    else:
        key = claims["client_metadata"]["jwks"]["keys"][0]
        form = {"response": encrypt_response(payload, public_jwk=key)}
    verifier.service.receive_response(form=form)
    result = verifier.service.take_result(transaction_id=request.transaction_id)
    (credential,) = result.credentials
    assert credential.format == "mso_mdoc"
    assert credential.key_binding is True
    assert credential.claims["org.iso.18013.5.1"]["family_name"] == "Doe"


def test_mdoc_signed_over_another_nonce_is_refused(verifier: Verifier) -> None:
    pki = make_pki()
    issuer = MdocIssuer(pki)
    request = verifier.service.create_request(
        dcql=build_identity_query(claims=["given_name"], doctypes=[MDL]),
        trust=pki.trust,
        response_mode="direct_post",
    )
    claims = parse_compact_jws(
        verifier.service.request_object(request_id=request.request_id)
    ).payload
    started = Started(request=request, claims=claims, header={})
    stale = _device_response(issuer, started, nonce="another-nonce")
    with pytest.raises(CredentialError):
        verifier.service.receive_response(
            form={"vp_token": json.dumps({"identity_mdoc": [stale]}), "state": claims["state"]}
        )
    assert verifier.service.status(transaction_id=request.transaction_id).status == "failed"

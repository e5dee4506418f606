"""Cross-check against the SD-JWT reference implementation (``sd-jwt``, test-only): what it
issues and presents verifies here; tampered presentations fail with the right code; and on the
spec's vectors both produce the same processed payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

sd_jwt_issuer = pytest.importorskip("sd_jwt.issuer")
sd_jwt_holder = pytest.importorskip("sd_jwt.holder")
sd_jwt_verifier = pytest.importorskip("sd_jwt.verifier")
sd_jwt_common = pytest.importorskip("sd_jwt.common")
jwcrypto_jwk = pytest.importorskip("jwcrypto.jwk")

from ssar.credentials.jose import parse_compact_jws  # noqa: E402
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc  # noqa: E402
from ssar.credentials.trust import TrustConfig, TrustedIssuer  # noqa: E402
from ssar.errors import CredentialError  # noqa: E402
from tests.unit.credentials.test_sdjwt_vectors import NONCE, SD_JWTS  # noqa: E402

ISS = "https://ref-issuer.test"
AUD = "https://verifier.test"
SDObj = sd_jwt_common.SDObj


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    return (
        jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256"),
        jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256"),
    )


@pytest.fixture(scope="module")
def issuance(keys: tuple[Any, Any]) -> str:
    issuer_key, holder_key = keys
    iat = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": ISS,
        "iat": iat,
        "exp": iat + 3600,
        "vct": "urn:ssar:identity:1",
        SDObj("given_name"): "Erika",
        SDObj("family_name"): "Mustermann",
        SDObj("address"): {SDObj("locality"): "Berlin", "country": "DE"},
        "nationalities": [SDObj("DE"), SDObj("FR")],
    }
    issuer = sd_jwt_issuer.SDJWTIssuer(
        claims,
        issuer_key,
        holder_key,
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt"},
    )
    return str(issuer.sd_jwt_issuance)


def _trust(keys: tuple[Any, Any]) -> TrustConfig:
    jwk = keys[0].export_public(as_dict=True)
    return TrustConfig(issuers=(TrustedIssuer(iss=ISS, jwks={"keys": [jwk]}),))


def _present(issuance: str, keys: tuple[Any, Any], disclose: dict[str, Any]) -> str:
    holder = sd_jwt_holder.SDJWTHolder(issuance)
    holder.create_presentation(disclose, nonce=NONCE, aud=AUD, holder_key=keys[1])
    return str(holder.sd_jwt_presentation)


def _now_of(presentation: str) -> datetime:
    kb = parse_compact_jws(presentation.rsplit("~", 1)[1])
    return datetime.fromtimestamp(kb.payload["iat"], UTC)


def _verify(presentation: str, keys: tuple[Any, Any], **overrides: Any) -> Any:
    kwargs: dict[str, Any] = {
        "trust": _trust(keys),
        "now": _now_of(presentation),
        "expected_nonce": NONCE,
        "expected_audience": AUD,
        "require_key_binding": True,
    }
    kwargs.update(overrides)
    return verify_sd_jwt_vc(presentation, **kwargs)


def test_reference_presentation_verifies(issuance: str, keys: tuple[Any, Any]) -> None:
    presentation = _present(
        issuance,
        keys,
        {"given_name": True, "address": {"locality": True}, "nationalities": [False, True]},
    )
    result = _verify(presentation, keys)
    assert result.key_binding is True
    assert result.claims["given_name"] == "Erika"
    assert "family_name" not in result.claims
    assert result.claims["address"] == {"locality": "Berlin", "country": "DE"}
    assert result.claims["nationalities"] == ["FR"]


def test_reference_presentation_tampered_disclosure_is_digest_mismatch(
    issuance: str, keys: tuple[Any, Any]
) -> None:
    presentation = _present(issuance, keys, {"given_name": True})
    parts = presentation.split("~")
    from ssar.credentials.jose import b64url_decode, b64url_encode

    salt, name, _ = json.loads(b64url_decode(parts[1]))
    parts[1] = b64url_encode(json.dumps([salt, name, "Mallory"]).encode())
    with pytest.raises(CredentialError) as err:
        _verify("~".join(parts), keys)
    assert err.value.code == "digest_mismatch"


def test_reference_presentation_with_dropped_disclosure_is_sd_hash_mismatch(
    issuance: str, keys: tuple[Any, Any]
) -> None:
    presentation = _present(issuance, keys, {"given_name": True, "family_name": True})
    parts = presentation.split("~")
    del parts[1]
    with pytest.raises(CredentialError) as err:
        _verify("~".join(parts), keys)
    assert err.value.code == "sd_hash_mismatch"


def test_reference_presentation_with_edited_payload_is_bad_signature(
    issuance: str, keys: tuple[Any, Any]
) -> None:
    from ssar.credentials.jose import b64url_decode, b64url_encode

    presentation = _present(issuance, keys, {"given_name": True})
    head, payload, sig = presentation.split("~")[0].split(".")
    claims = json.loads(b64url_decode(payload))
    claims["vct"] = "urn:ssar:admin:1"
    forged = ".".join([head, b64url_encode(json.dumps(claims).encode()), sig])
    with pytest.raises(CredentialError) as err:
        _verify(presentation.replace(presentation.split("~")[0], forged), keys)
    assert err.value.code == "bad_signature"


def test_reference_presentation_with_other_nonce_fails(
    issuance: str, keys: tuple[Any, Any]
) -> None:
    presentation = _present(issuance, keys, {"given_name": True})
    with pytest.raises(CredentialError) as err:
        _verify(presentation, keys, expected_nonce="another")
    assert err.value.code == "nonce_mismatch"


@pytest.mark.parametrize("vector", SD_JWTS, ids=lambda v: f"{v.doc}:{v.line}")
def test_vectors_processed_alike_by_reference_and_us(vector: Any) -> None:
    import yaml

    from ssar.credentials.verify import verify_credential
    from tests.conftest import shared_path

    settings = yaml.safe_load(shared_path("vectors", "sd-jwt", "settings.yml").read_text())
    jwk = {k: v for k, v in settings["key_settings"]["issuer_keys"][0].items() if k != "d"}
    reference_key = jwcrypto_jwk.JWK(**jwk)
    reference = sd_jwt_verifier.SDJWTVerifier(
        vector.token,
        lambda iss, header: reference_key,
        expected_aud=vector.audience if vector.has_kb else None,
        expected_nonce=NONCE if vector.has_kb else None,
    ).get_verified_payload()
    iss = (
        parse_compact_jws(vector.token.split("~")[0]).payload.get("iss")
        or "https://example.com/issuer"
    )
    trust = TrustConfig(
        issuers=(TrustedIssuer(iss=iss, jwks={"keys": [{**jwk, "kid": "doc-signer-05-25-2022"}]}),)
    )
    ours = verify_credential(
        vector.token,
        trust=trust,
        now=vector.now,
        expected_nonce=NONCE,
        expected_audience=vector.audience,
    )
    reference.pop("_sd_alg", None)
    assert ours.claims == reference

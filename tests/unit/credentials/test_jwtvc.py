"""JWT-VC (R18) and DIDs: the web5 vc_jwt decode vectors and did:jwk resolution vectors, plus
one negative test per R18 rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ssar.credentials.did import did_web_url, resolution_result, resolve_did_key
from ssar.credentials.jwtvc import verify_jwt_vc
from ssar.credentials.trust import TrustConfig, TrustedIssuer
from ssar.credentials.verify import verify_credential
from ssar.errors import CredentialError
from tests.conftest import SHARED, shared_path
from tests.unit.credentials.factory import ISS, NOW, Key, T, enc, sign_jwt

DIDS = TrustConfig(allow_did_methods=frozenset({"jwk", "key"}))
VECTOR_NOW = datetime(2024, 3, 1, tzinfo=UTC)


def _load(*parts: str) -> list[dict[str, Any]]:
    path = SHARED.joinpath("vectors", "vc-jwt", *parts)
    return json.loads(path.read_text())["vectors"] if path.exists() else []


@pytest.mark.parametrize("vector", _load("vc_jwt", "decode.json"), ids=lambda v: v["description"])
def test_vc_jwt_decode_vector(vector: dict[str, Any]) -> None:
    shared_path("vectors", "vc-jwt", "vc_jwt", "decode.json")
    if vector["errors"]:
        with pytest.raises(CredentialError) as err:
            verify_jwt_vc(vector["input"], trust=DIDS, now=VECTOR_NOW)
        assert err.value.code == "malformed"
        return
    result = verify_jwt_vc(vector["input"], trust=DIDS, now=VECTOR_NOW)
    assert result.format == "jwt_vc"
    assert result.issuer.startswith("did:key:z6Mk")
    assert result.claims["username"] == "nitro"
    assert result.credential_type == "TBDeveloperCredential"
    # the same token is refused when did:key issuers are not allowed
    with pytest.raises(CredentialError) as err:
        verify_jwt_vc(vector["input"], trust=TrustConfig(), now=VECTOR_NOW)
    assert err.value.code == "untrusted_issuer"


def test_vc_jwt_vectors_present() -> None:
    shared_path("vectors", "vc-jwt", "vc_jwt", "decode.json")
    assert len(_load("vc_jwt", "decode.json")) == 5
    assert len(_load("did_jwk", "resolve.json")) == 3


@pytest.mark.parametrize("vector", _load("did_jwk", "resolve.json"), ids=lambda v: v["description"])
def test_did_jwk_resolution_vector(vector: dict[str, Any]) -> None:
    assert resolution_result(vector["input"]) == vector["output"]


def test_did_key_ed25519_resolves_to_its_jwk() -> None:
    document = resolve_did_key("did:key:z6Mks223pQWyM79dedLKXvBKCtJQBVC7Wt1syum8yqfeuLwz")
    jwk = document["verificationMethod"][0]["publicKeyJwk"]
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert document["assertionMethod"] == [document["verificationMethod"][0]["id"]]


def test_did_web_url() -> None:
    assert did_web_url("did:web:example.com") == "https://example.com/.well-known/did.json"
    assert (
        did_web_url("did:web:example.com:user:alice") == "https://example.com/user/alice/did.json"
    )
    assert did_web_url("did:web:localhost%3A8443") == "https://localhost:8443/.well-known/did.json"


# R18 -----------------------------------------------------------------------------------------


def _vc(key: Key, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    payload: dict[str, Any] = {
        "iss": ISS,
        "sub": "did:example:holder",
        "nbf": T - 60,
        "exp": T + 3600,
        "vc": {
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "type": ["VerifiableCredential", "VerifiedEmployee"],
            "issuer": ISS,
            "credentialSubject": {"givenName": "Erika", "surname": "Mustermann"},
        },
    }
    payload.update(claims)
    return sign_jwt({"typ": "JWT", "kid": "k1", **(header or {})}, payload, key)


@pytest.fixture
def key() -> Key:
    return Key(kid="k1")


@pytest.fixture
def trust(key: Key) -> TrustConfig:
    return TrustConfig(issuers=(TrustedIssuer(iss=ISS, jwks={"keys": [key.jwk]}),))


def _code(token: str, trust: TrustConfig, **kwargs: Any) -> str:
    with pytest.raises(CredentialError) as err:
        verify_jwt_vc(token, trust=trust, now=NOW, **kwargs)
    return err.value.code


def test_entra_style_vc_1_1_verifies(key: Key, trust: TrustConfig) -> None:
    result = verify_credential(_vc(key), trust=trust, now=NOW, allowed_types={"VerifiedEmployee"})
    assert result.format == "jwt_vc"
    assert result.issuer == ISS
    assert result.claims == {"givenName": "Erika", "surname": "Mustermann"}
    assert result.key_binding is False


def test_vc_2_0_verifies(key: Key, trust: TrustConfig) -> None:
    payload = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "EmployeeCredential"],
        "issuer": ISS,
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2027-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:holder", "name": "Erika"},
    }
    token = sign_jwt({"typ": "vc+jwt", "kid": "k1"}, payload, key)
    result = verify_jwt_vc(token, trust=trust, now=NOW)
    assert result.claims["name"] == "Erika"
    assert result.valid_until == datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(CredentialError) as err:
        verify_jwt_vc(token, trust=trust, now=datetime(2027, 2, 1, tzinfo=UTC))
    assert err.value.code == "expired"


@pytest.mark.parametrize("typ", ["dc+sd-jwt", "kb+jwt", "statuslist+jwt", None])
def test_R18_typ_checked(key: Key, trust: TrustConfig, typ: str | None) -> None:
    assert _code(_vc(key, header={"typ": typ}), trust) == "malformed"


def test_R18_issuer_must_equal_iss(key: Key, trust: TrustConfig) -> None:
    token = _vc(key)
    forged = _vc(key, vc={**_payload_vc(), "issuer": "https://other.test"})
    assert verify_jwt_vc(token, trust=trust, now=NOW)
    assert _code(forged, trust) == "malformed"


def _payload_vc() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential", "VerifiedEmployee"],
        "issuer": ISS,
        "credentialSubject": {"givenName": "Erika"},
    }


def test_R18_nbf_and_exp(key: Key, trust: TrustConfig) -> None:
    assert _code(_vc(key, exp=T - 3600), trust) == "expired"
    assert _code(_vc(key, nbf=T + 3600), trust) == "not_yet_valid"


@pytest.mark.parametrize("alg", ["none", "HS256", "RS384", "ES256K"])
def test_R18_alg_outside_allow_list_refused(trust: TrustConfig, alg: str) -> None:
    token = enc({"alg": alg, "typ": "JWT", "kid": "k1"}) + "." + enc({"iss": ISS}) + ".c2ln"
    assert _code(token, trust) == "unsupported_alg"


@pytest.mark.parametrize("header_name", ["jwk", "jku", "x5u"])
def test_R18_token_carried_keys_never_trusted(header_name: str) -> None:
    rogue = Key(kid="k1")
    value: Any = rogue.jwk if header_name == "jwk" else "https://attacker.test/keys"
    token = _vc(rogue, header={header_name: value})
    assert _code(token, TrustConfig()) == "untrusted_issuer"
    # and with a configured issuer, the configured key wins: the rogue signature fails
    legit = TrustConfig(issuers=(TrustedIssuer(iss=ISS, jwks={"keys": [Key(kid="k1").jwk]}),))
    assert _code(token, legit) == "bad_signature"


def test_R18_type_allow_list(key: Key, trust: TrustConfig) -> None:
    assert _code(_vc(key), trust, allowed_types={"PassportCredential"}) == "untrusted_issuer"


def test_R18_jwt_vc_cannot_satisfy_key_binding_policy(key: Key, trust: TrustConfig) -> None:
    with pytest.raises(CredentialError) as err:
        verify_credential(
            _vc(key),
            trust=trust,
            now=NOW,
            expected_nonce="n",
            expected_audience="a",
            require_key_binding=True,
        )
    assert err.value.code == "key_binding_missing"


def test_R18_eddsa_did_jwk_issuer(key: Key) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed = Key(private=ed25519.Ed25519PrivateKey.generate())
    did = "did:jwk:" + enc(ed.jwk)
    token = _vc(ed, header={"kid": did + "#0"}, iss=did, vc={**_payload_vc(), "issuer": did})
    result = verify_jwt_vc(token, trust=TrustConfig(allow_did_methods=frozenset({"jwk"})), now=NOW)
    assert result.issuer == did

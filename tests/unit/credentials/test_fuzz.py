"""R19: on any input the parsers raise nothing but ``CredentialError`` (fuzzed with hypothesis).

Random text reaches the outer parsers; signed tokens with random payloads and disclosures get
past the signature check and exercise the disclosure processor and claim checks."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssar.credentials.did import resolution_result, resolve_did
from ssar.credentials.jose import b64url_encode, parse_compact_jws, public_key_from_jwk
from ssar.credentials.jwtvc import verify_jwt_vc
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.credentials.statuslist import decode_status_list, verify_status_list_token
from ssar.credentials.verify import verify_credential
from ssar.errors import CredentialError
from tests.unit.credentials.factory import (
    AUD,
    ISS,
    NONCE,
    NOW,
    Issuer,
    Key,
    disclosure,
    present,
    sign_jwt,
)

ISSUER = Issuer()
HOLDER = Key()
TRUST = ISSUER.trust()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
segment = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.~ ", max_size=60
)


CODES = {
    "bad_signature",
    "untrusted_issuer",
    "expired",
    "not_yet_valid",
    "revoked",
    "suspended",
    "nonce_mismatch",
    "audience_mismatch",
    "key_binding_missing",
    "key_binding_invalid",
    "sd_hash_mismatch",
    "digest_mismatch",
    "malformed",
    "unsupported_alg",
    "status_unavailable",
}


def only_credential_errors(call: Any) -> None:
    """Run ``call``; anything but a CredentialError with a contract code fails the test."""
    error: CredentialError | None = None
    try:
        call()
    except CredentialError as exc:
        error = exc
    if error is not None:
        assert error.code in CODES, error.code


@FUZZ
@given(
    st.text(max_size=300)
    | st.lists(segment, max_size=6).map("~".join)
    | st.lists(segment, max_size=4).map(".".join)
)
def test_R19_verify_credential_text_only_raises_credential_error(text: str) -> None:
    only_credential_errors(lambda: verify_credential(text, trust=TRUST, now=NOW))


@FUZZ
@given(json_values, json_values)
def test_R19_jws_parser_on_encoded_json(header: Any, payload: Any) -> None:
    token = ".".join(
        [
            b64url_encode(json.dumps(header).encode()),
            b64url_encode(json.dumps(payload).encode()),
            "c2ln",
        ]
    )
    only_credential_errors(lambda: parse_compact_jws(token))
    only_credential_errors(lambda: verify_jwt_vc(token, trust=TRUST, now=NOW))


@FUZZ
@given(
    payload=st.dictionaries(
        st.sampled_from(["_sd", "...", "iss", "vct", "cnf", "exp", "nbf", "iat", "a", "status"]),
        json_values,
        max_size=6,
    ),
    disclosed=st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=5), st.sampled_from(["_sd", "..."])), json_values
        ),
        max_size=4,
    ),
    raw=st.lists(json_values.map(lambda v: b64url_encode(json.dumps(v).encode())), max_size=2),
    nest=st.booleans(),
)
def test_R19_signed_sd_jwt_with_random_structure(
    payload: dict[str, Any], disclosed: list[Any], raw: list[str], nest: bool
) -> None:
    encoded, digests = [], []
    for name, value in disclosed:
        d, h = disclosure(name, value)
        encoded.append(d)
        digests.append(h)
    body: dict[str, Any] = {"iss": ISS, "vct": "urn:x", **payload}
    if nest:
        body["nested"] = {"_sd": digests, "arr": [{"...": h} for h in digests]}
    else:
        body.setdefault("_sd", digests)
    jwt = sign_jwt({"typ": "dc+sd-jwt"}, body, ISSUER.key)
    presentation = present(jwt, encoded + raw, HOLDER, nonce=NONCE, aud=AUD)
    only_credential_errors(
        lambda: verify_sd_jwt_vc(
            presentation, trust=TRUST, now=NOW, expected_nonce=NONCE, expected_audience=AUD
        )
    )


@FUZZ
@given(
    st.fixed_dictionaries(
        {
            "bits": json_values | st.sampled_from([1, 2, 4, 8]),
            "lst": st.text(max_size=40) | json_values,
        }
    )
)
def test_R19_status_list_decoder(document: dict[str, Any]) -> None:
    only_credential_errors(lambda: decode_status_list(document))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["sub", "exp", "ttl", "iat", "status_list", "iss"]), json_values
    )
)
def test_R19_status_list_token(claims: dict[str, Any]) -> None:
    token = sign_jwt({"typ": "statuslist+jwt"}, {"iss": ISS, **claims}, ISSUER.key)
    only_credential_errors(
        lambda: verify_status_list_token(
            token, expected_uri="https://s.test/1", expected_issuer=ISS, trust=TRUST, now=NOW
        )
    )


@FUZZ
@given(st.text(max_size=120), json_values)
def test_R19_did_resolution_and_jwk(did: str, jwk: Any) -> None:
    only_credential_errors(lambda: resolve_did("did:jwk:" + did))
    only_credential_errors(lambda: resolve_did("did:key:z" + did))
    only_credential_errors(lambda: resolve_did(did, did_resolver=lambda d: {"id": d}))
    assert isinstance(resolution_result("did:jwk:" + did), dict)
    only_credential_errors(lambda: public_key_from_jwk(jwk))
    if isinstance(jwk, dict):
        only_credential_errors(lambda: public_key_from_jwk({"kty": "EC", "crv": "P-256", **jwk}))

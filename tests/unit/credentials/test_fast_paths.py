"""The verification fast paths give what the exact paths give, and refuse what they refuse.

The hot path decodes base64url/JSON with cheaper calls, unpacks flat SD-JWT payloads without
recursion, caches JWKS key resolution per trust configuration, and writes COSE/mdoc
structures from the received bytes instead of re-encoding them; each is checked here against
the straightforward construction.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssar.credentials import jose, sdjwt
from ssar.credentials.cose import cbor_head, cbor_loads, sig_structure
from ssar.credentials.jose import (
    b64url_decode,
    b64url_encode,
    loads_json,
    parse_compact_jws,
    public_key_from_jwk,
)
from ssar.credentials.mdoc import device_authentication_bytes
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.errors import CredentialError
from tests.unit.credentials.factory import (
    AUD,
    NONCE,
    NOW,
    Issuer,
    Key,
    disclosure,
    enc,
    present,
    sign_jwt,
)

# --- base64url -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_b64url_round_trip(data: bytes) -> None:
    encoded = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64url_encode(data) == encoded
    assert b64url_decode(encoded) == data


@pytest.mark.parametrize(
    "value",
    ["QQ==", "QQ=", "Q", "QUJD\n", " QUJD", "QU JD", "QU+D", "QU/D", "QU!D", "QUJDé", "QUJ\x00"],
)
def test_b64url_refuses_anything_but_unpadded_base64url(value: str) -> None:
    with pytest.raises(CredentialError) as err:
        b64url_decode(value)
    assert err.value.code == "malformed"


def test_b64url_refuses_non_text() -> None:
    with pytest.raises(CredentialError):
        b64url_decode(b"QUJD")  # type: ignore[arg-type]


# --- JSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1,"a":2}',
        '{"a":{"b":1,"b":1}}',
        '[{"x":1},{"y":2,"y":3}]',
        '{"a":1} x',
        '{"a":1}{"b":2}',
        "",
        "   ",
        '{"a":1',
    ],
)
def test_loads_json_refuses_duplicates_and_garbage(text: str) -> None:
    with pytest.raises(CredentialError) as err:
        loads_json(text)
    assert err.value.code == "malformed"


@pytest.mark.parametrize("text", ['{"a":1}', ' {"a":1}', '{"a":1}\n', "\t[1, 2]\r\n", '"x"'])
def test_loads_json_accepts_whitespace_around_the_value(text: str) -> None:
    assert loads_json(text) == json.loads(text)
    assert loads_json(text.encode()) == json.loads(text)


def _jws(header: Any, payload: Any, *, raw_header: str | None = None) -> str:
    head = raw_header if raw_header is not None else json.dumps(header)
    return (
        b64url_encode(head.encode())
        + "."
        + b64url_encode(json.dumps(payload).encode())
        + "."
        + b64url_encode(b"\x01" * 64)
    )


def test_jws_header_with_duplicate_member_is_refused() -> None:
    token = _jws(None, {"iss": "x"}, raw_header='{"alg":"ES256","alg":"none"}')
    with pytest.raises(CredentialError) as err:
        parse_compact_jws(token)
    assert err.value.code == "malformed"


def test_jws_payload_with_nested_duplicate_member_is_refused() -> None:
    head = b64url_encode(b'{"alg":"ES256"}')
    body = b64url_encode(b'{"cnf":{"jwk":{"x":"1","x":"2"}}}')
    with pytest.raises(CredentialError):
        parse_compact_jws(f"{head}.{body}.{b64url_encode(b'sig')}")


def test_jws_crit_null_takes_the_exact_path_and_is_accepted() -> None:
    jws = parse_compact_jws(_jws({"alg": "ES256", "crit": None}, {"a": 1}))
    assert jws.header["crit"] is None
    assert jws.payload == {"a": 1}


def test_jws_crit_present_is_refused() -> None:
    with pytest.raises(CredentialError) as err:
        parse_compact_jws(_jws({"alg": "ES256", "crit": ["b64"]}, {"a": 1}))
    assert err.value.code == "malformed"


def test_jws_padded_signature_is_refused() -> None:
    token = _jws({"alg": "ES256"}, {"a": 1}) + "=="
    with pytest.raises(CredentialError):
        parse_compact_jws(token)


def test_jws_with_whitespace_around_json_parses_like_the_exact_path() -> None:
    jws = parse_compact_jws(_jws(None, {"a": 1}, raw_header=' {"alg": "ES256"}\n'))
    assert jws.alg == "ES256"
    assert jws.signing_input == _jws(None, {"a": 1}, raw_header=' {"alg": "ES256"}\n').rsplit(
        ".", 1
    )[0].encode("ascii")


def test_jwk_keys_are_parsed_every_time_and_told_apart() -> None:
    a, b = Key(), Key()
    assert public_key_from_jwk(a.jwk).public_numbers() == a.private.public_key().public_numbers()  # type: ignore[union-attr]
    assert public_key_from_jwk(b.jwk).public_numbers() == b.private.public_key().public_numbers()  # type: ignore[union-attr]
    # no cache keyed by the JWK: every presentation's holder key is parsed and validated anew
    assert public_key_from_jwk(a.jwk) is not public_key_from_jwk(dict(a.jwk))
    broken = {**a.jwk, "y": b.jwk["y"]}  # not a point on the curve
    with pytest.raises(CredentialError):
        public_key_from_jwk(broken)


_P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
_P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B


def test_jwk_fast_p256_path_agrees_with_the_exact_path_on_odd_coordinates() -> None:
    x = 5  # the smallest x on P-256, so that x + p still fits 32 bytes
    y = pow((x**3 - 3 * x + _P256_B) % _P256_P, (_P256_P + 1) // 4, _P256_P)
    for coordinate in (x, x + _P256_P):
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(coordinate.to_bytes(32, "big")),
            "y": b64url_encode(y.to_bytes(32, "big")),
        }
        exact: Any
        try:
            exact = jose._public_key(jose._jwk_members(jwk)).public_numbers()  # type: ignore[union-attr]
        except CredentialError as exc:
            exact = exc.code
        try:
            fast: Any = public_key_from_jwk(jwk).public_numbers()  # type: ignore[union-attr]
        except CredentialError as exc:
            fast = exc.code
        assert fast == exact
    for x_text, y_text in (("", "AA"), ("A" * 43, "A" * 42), ("A" * 43 + "=", "A" * 43)):
        jwk = {"kty": "EC", "crv": "P-256", "x": x_text, "y": y_text}
        with pytest.raises(CredentialError) as err:
            public_key_from_jwk(jwk)
        assert err.value.code == "malformed"


# --- SD-JWT unpacking: flat fast path vs. full recursion ---------------------------------------


def _verify(presentation: str, issuer: Issuer) -> Any:
    return verify_sd_jwt_vc(
        presentation,
        trust=issuer.trust(),
        now=NOW,
        expected_nonce=NONCE,
        expected_audience=AUD,
        require_key_binding=True,
    )


def _code(presentation: str, issuer: Issuer) -> str:
    with pytest.raises(CredentialError) as err:
        _verify(presentation, issuer)
    return err.value.code


def test_nested_sd_is_processed_even_when_the_top_level_is_flat() -> None:
    issuer, holder = Issuer(), Key()
    street, street_digest = disclosure("street", "Heidestraße 17")
    top, top_digest = disclosure("given_name", "Erika")
    jwt, _ = issuer.sd_jwt(
        payload={"address": {"_sd": [street_digest], "country": "DE"}, "_sd": [top_digest]},
        holder=holder,
    )
    result = _verify(present(jwt, [top, street], holder), issuer)
    assert result.claims["address"] == {"country": "DE", "street": "Heidestraße 17"}
    assert result.claims["given_name"] == "Erika"


def test_escaped_sd_member_name_is_still_processed() -> None:
    issuer, holder = Issuer(), Key()
    street, street_digest = disclosure("street", "Heidestraße 17")
    body = {
        "iss": issuer.iss,
        "iat": 1,
        "vct": "urn:ssar:identity:1",
        "address": {"_sd": [street_digest]},
        "cnf": {"jwk": holder.jwk},
    }
    # "\u005fsd" is "_sd": only the decoded text shows it, so the flat path must not be taken
    text = json.dumps(body, separators=(",", ":")).replace('"_sd"', '"\\u005fsd"')
    head = enc({"alg": "ES256", "typ": "dc+sd-jwt"}) + "." + b64url_encode(text.encode())
    jwt = head + "." + b64url_encode(issuer.key.sign(head.encode()))
    result = _verify(present(jwt, [street], holder), issuer)
    assert result.claims["address"] == {"street": "Heidestraße 17"}


def test_disclosed_object_values_are_unpacked() -> None:
    issuer, holder = Issuer(), Key()
    inner, inner_digest = disclosure("locality", "Köln")
    outer, outer_digest = disclosure("address", {"_sd": [inner_digest]})
    jwt, _ = issuer.sd_jwt(payload={"_sd": [outer_digest]}, holder=holder)
    result = _verify(present(jwt, [outer, inner], holder), issuer)
    assert result.claims["address"] == {"locality": "Köln"}


def test_top_level_sd_null_is_refused() -> None:
    issuer, holder = Issuer(), Key()
    body = {"iss": issuer.iss, "iat": 1, "vct": "v", "_sd": None, "cnf": {"jwk": holder.jwk}}
    jwt = sign_jwt({"typ": "dc+sd-jwt"}, body, issuer.key)
    assert _code(present(jwt, [], holder), issuer) == "malformed"


def test_duplicate_digest_between_top_level_and_nested_is_refused() -> None:
    issuer, holder = Issuer(), Key()
    d, h = disclosure("a", 1)
    jwt, _ = issuer.sd_jwt(payload={"_sd": [h], "nested": {"_sd": [h]}}, holder=holder)
    assert _code(present(jwt, [d], holder), issuer) == "malformed"


def test_deep_payload_is_refused_by_both_paths() -> None:
    issuer, holder = Issuer(), Key()
    deep: Any = "leaf"
    for _ in range(70):
        deep = {"d": deep}
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, payload={"deep": deep}, holder=holder)
    assert _code(present(jwt, ds, holder), issuer) == "malformed"


_JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "_sd", "...", "x"]), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.sampled_from(["iss", "k", "_sd_alg", "n"]), _JSON, max_size=4))
def test_flat_path_agrees_with_full_unpacking(payload: dict[str, Any]) -> None:
    d1, h1 = disclosure("given_name", "Erika")
    d2, h2 = disclosure("age", 42)
    payload = {**payload, "_sd": [h1, h2, "decoy"]}
    text = json.dumps(payload)
    by_digest = {h: sdjwt._disclosure(d, hashlib.sha256) for d, h in ((d1, h1), (d2, h2))}

    def run(flat: bool) -> tuple[str, Any]:
        unpacker = sdjwt._Unpacker(by_digest)
        try:
            result = unpacker.top_only(payload) if flat else unpacker.unpack(payload, 0, top=True)
        except CredentialError as exc:
            return exc.code, None
        return "ok", (result, unpacker.used, sorted(unpacker.top_level))

    if sdjwt._flat(payload, text):
        assert run(True) == run(False)


# --- key resolution cache --------------------------------------------------------------------


def test_key_resolution_follows_the_trust_configuration_object() -> None:
    holder = Key()
    first, second = Issuer(), Issuer()  # same iss, different keys
    jwt, ds = second.sd_jwt(disclosed={"a": 1}, holder=holder)
    presentation = present(jwt, ds, holder)
    first_trust = first.trust()
    with pytest.raises(CredentialError) as err:
        verify_sd_jwt_vc(
            presentation,
            trust=first_trust,
            now=NOW,
            expected_nonce=NONCE,
            expected_audience=AUD,
            require_key_binding=True,
        )
    assert err.value.code == "bad_signature"
    assert _verify(presentation, second).claims["a"] == 1
    with pytest.raises(CredentialError):  # and the first configuration still says no
        verify_sd_jwt_vc(
            presentation,
            trust=first_trust,
            now=NOW,
            expected_nonce=NONCE,
            expected_audience=AUD,
            require_key_binding=True,
        )


def test_key_resolution_by_kid_is_not_shared_between_kids() -> None:
    holder = Key()
    issuer = Issuer(key=Key(kid="k1"))
    other = Key(kid="k2")
    trust = issuer.trust()
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder, header={"kid": "k1"})
    ok = verify_sd_jwt_vc(present(jwt, ds, holder), trust=trust, now=NOW)
    assert ok.claims["a"] == 1
    forged = sign_jwt(
        {"typ": "dc+sd-jwt", "kid": "k2"},
        json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "==")),
        other,
    )
    with pytest.raises(CredentialError) as err:
        verify_sd_jwt_vc(present(forged, ds, holder), trust=trust, now=NOW)
    assert err.value.code == "untrusted_issuer"


# --- CBOR written from received bytes --------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65535, 65536])
def test_cbor_head_matches_cbor2(size: int) -> None:
    data = b"\x07" * size
    assert cbor_head(0x40, size) + data == cbor2.dumps(data)
    text = "x" * size
    assert cbor_head(0x60, size) + text.encode() == cbor2.dumps(text)


@pytest.mark.parametrize("size", [0, 23, 24, 300, 70000])
def test_sig_structure_matches_cbor2(size: int) -> None:
    protected, aad, payload = b"\xa1\x01\x26", b"a" * (size % 50), b"p" * size
    assert sig_structure(protected=protected, external_aad=aad, payload=payload) == cbor2.dumps(
        ["Signature1", protected, aad, payload]
    )


@pytest.mark.parametrize("doc_type", ["org.iso.18013.5.1.mDL", "x" * 30, "ü" * 200])
@pytest.mark.parametrize("namespaces", [b"\xa0", cbor2.dumps({"ns": {"e": "v" * 300}})])
def test_device_authentication_bytes_match_cbor2(doc_type: str, namespaces: bytes) -> None:
    transcript = cbor2.dumps([None, None, ["OpenID4VPHandover", b"\x01" * 32]])
    expected = cbor2.dumps(
        cbor2.CBORTag(
            24,
            b"\x84"
            + cbor2.dumps("DeviceAuthentication")
            + transcript
            + cbor2.dumps(doc_type)
            + cbor2.dumps(cbor2.CBORTag(24, namespaces)),
        )
    )
    assert (
        device_authentication_bytes(
            session_transcript=transcript, doc_type=doc_type, device_namespaces_bytes=namespaces
        )
        == expected
    )


def test_empty_map_shortcut_and_trailing_bytes() -> None:
    assert cbor_loads(b"\xa0", what="x") == {}
    with pytest.raises(CredentialError):
        cbor_loads(b"\xa0\x00", what="x")

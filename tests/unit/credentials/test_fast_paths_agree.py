"""Every common-path shortcut on the verification hot path agrees with its step-by-step path.

Each shortcut either gives exactly what the step-by-step path gives or hands over to it; these
tests feed both random and near-miss inputs and compare outcomes (result or error code).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from ssar.credentials import cose, mdoc, sdjwt
from ssar.credentials.jose import _parse_compact_jws_exact, b64url_encode, parse_compact_jws_text
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.errors import CredentialError
from tests.unit.credentials.factory import AUD, NONCE, NOW, Issuer, Key, T, enc, present, sign_jwt


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except CredentialError as exc:
        return "error", exc.code


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "_sd", "...", "alg", "x"]), children, max_size=3)
    ),
    max_leaves=8,
)


# --- disclosures -----------------------------------------------------------------------------

_DISCLOSURE_ARRAYS = st.lists(
    st.one_of(st.sampled_from(["salt", "_sd", "...", "given_name", ""]), _JSON), max_size=4
)


def _encodings(value: Any) -> st.SearchStrategy[str]:
    text = json.dumps(value)
    return st.sampled_from(
        [
            b64url_encode(text.encode()),
            b64url_encode((" " + text).encode()),
            b64url_encode((text + "\n").encode()),
            b64url_encode(text.encode()) + "=",
            b64url_encode(text.encode()).replace("-", "+"),
            b64url_encode(text.encode())[:-1],
            b64url_encode(text.replace('"', '"', 1).encode("utf-16")),
        ]
    )


@settings(max_examples=400, deadline=None)
@given(st.one_of(_DISCLOSURE_ARRAYS.flatmap(_encodings), st.text(max_size=30)))
def test_disclosure_shortcut_agrees(encoded: str) -> None:
    fast = _outcome(lambda: sdjwt._disclosure(encoded, hashlib.sha256))
    exact = _outcome(lambda: sdjwt._disclosure_exact(encoded, hashlib.sha256))
    assert fast == exact


# --- compact JWS -----------------------------------------------------------------------------


def _part(value: Any, variant: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if variant == 1:
        text = " " + text
    encoded = b64url_encode(text.encode())
    if variant == 2:
        encoded += "="
    return encoded


@settings(max_examples=400, deadline=None)
@given(
    header=st.one_of(
        st.dictionaries(
            st.sampled_from(["alg", "typ", "crit", "kid"]),
            st.one_of(st.sampled_from(["ES256", "none", "kb+jwt"]), _JSON),
            max_size=3,
        ),
        _JSON,
        st.sampled_from(['{"alg":"ES256","alg":"none"}', '{"alg":"ES256"} x']),
    ),
    payload=st.one_of(st.dictionaries(st.sampled_from(["iss", "a", "cnf"]), _JSON), _JSON),
    variants=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 3)),
)
def test_compact_jws_shortcut_agrees(header: Any, payload: Any, variants: tuple[int, ...]) -> None:
    signature = b64url_encode(b"\x01" * 64)
    if variants[2] == 1:
        signature += "="
    parts = [_part(header, variants[0]), _part(payload, variants[1]), signature]
    token = ".".join(parts) + ("." if variants[2] == 2 else "")
    if variants[2] == 3:
        token = token.replace(".", "é", 1)
    fast = _outcome(lambda: parse_compact_jws_text(token)[0])
    exact = _outcome(lambda: _parse_compact_jws_exact(token, what="JWT"))
    assert fast == exact


# --- validity --------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(
    iat=st.one_of(st.integers(T - 400, T + 400), st.integers(), st.floats(allow_nan=False)),
    exp=st.one_of(st.integers(T - 400, T + 400), st.integers(), st.just(10**30)),
    nbf=st.one_of(st.none(), st.integers(T - 100, T + 100)),
    shift=st.integers(-200_000_000, 200_000_000),
    zone=st.sampled_from([UTC, None]),
)
def test_validity_shortcut_agrees(iat: Any, exp: Any, nbf: Any, shift: int, zone: Any) -> None:
    now = NOW + timedelta(microseconds=shift)
    if zone is None:
        now = now.astimezone(None)  # an aware local-time datetime
    payload = {"iat": iat, "exp": exp, **({"nbf": nbf} if nbf is not None else {})}
    fast = _outcome(lambda: sdjwt.check_validity(payload, now=now))
    exact = _outcome(lambda: sdjwt._check_validity(payload, now=now, what="credential"))
    assert fast == exact


@pytest.mark.parametrize("offset", [-61, -60, -59, 0, 59, 60, 61])
@pytest.mark.parametrize("micro", [-1, 0, 1])
@pytest.mark.parametrize("payload", [{"iat": T, "exp": T}, {"iat": T + 120, "exp": T + 10**6}])
def test_validity_shortcut_at_the_leeway_bounds(
    offset: int, micro: int, payload: dict[str, Any]
) -> None:
    now = NOW + timedelta(seconds=offset, microseconds=micro)
    fast = _outcome(lambda: sdjwt.check_validity(payload, now=now))
    exact = _outcome(lambda: sdjwt._check_validity(payload, now=now, what="credential"))
    assert fast == exact


# --- key binding: the ES256/P-256 shortcut against the general key handling --------------------


def _kb_variants(issuer: Issuer, holder: Key) -> list[str]:
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder)
    good = present(jwt, ds, holder)
    sd_part = good.rsplit("~", 1)[0] + "~"
    sd_hash = b64url_encode(hashlib.sha256(sd_part.encode()).digest())
    claims = {"nonce": NONCE, "aud": AUD, "iat": T, "sd_hash": sd_hash}
    other = Key()
    variants = [
        good,
        sd_part + sign_jwt({"typ": "kb+jwt"}, claims, other),  # wrong key
        sd_part + sign_jwt({"typ": "kb+jwt"}, {**claims, "nonce": "x"}, holder),
        sd_part + sign_jwt({"typ": "kb+jwt"}, {**claims, "iat": T - 3600}, holder),
        sd_part + sign_jwt({"typ": "JWT"}, claims, holder),
        sd_part + sign_jwt({"typ": "kb+jwt", "alg": "ES384"}, claims, holder),
        sd_part + sign_jwt({"typ": "kb+jwt", "alg": "none"}, claims, holder),
    ]
    token = sign_jwt({"typ": "kb+jwt"}, claims, holder)
    head, body, signature = token.split(".")
    variants.append(sd_part + f"{head}.{body}.{signature[:-4]}")  # short signature
    variants.append(sd_part + f"{head}.{body}." + b64url_encode(b"\x00" * 64))
    variants.append(sd_part + f"{head}.{enc({**claims, 'aud': 'x'})}.{signature}")
    return variants


def test_key_binding_shortcut_agrees_with_the_general_key_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issuer, holder = Issuer(), Key()
    trust = issuer.trust()

    def verify(presentation: str) -> tuple[str, Any]:
        return _outcome(
            lambda: (
                verify_sd_jwt_vc(
                    presentation,
                    trust=trust,
                    now=NOW,
                    expected_nonce=NONCE,
                    expected_audience=AUD,
                    require_key_binding=True,
                ).claims
            )
        )

    variants = _kb_variants(issuer, holder)
    fast = [verify(v) for v in variants]
    monkeypatch.setattr(sdjwt, "ec_p256_key", lambda x, y: None)
    general = [verify(v) for v in variants]
    assert fast == general
    assert fast[0][0] == "ok"
    assert {code for kind, code in fast[1:]} >= {"key_binding_invalid", "nonce_mismatch"}


def test_cnf_jwk_with_bad_coordinates_goes_to_the_general_path() -> None:
    issuer, holder = Issuer(), Key()
    bent = {**holder.jwk, "x": holder.jwk["x"][:-2]}
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, payload={"cnf": {"jwk": bent}})
    with pytest.raises(CredentialError) as err:
        verify_sd_jwt_vc(
            present(jwt, ds, holder),
            trust=issuer.trust(),
            now=NOW,
            expected_nonce=NONCE,
            expected_audience=AUD,
            require_key_binding=True,
        )
    assert err.value.code == "key_binding_invalid"


# --- COSE_Sign1 and the MSO ------------------------------------------------------------------

_CBOR_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-40, 40), st.binary(max_size=4), st.text(max_size=3)
)
_CBOR = st.recursive(
    _CBOR_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.integers(-3, 40), children, max_size=3)
    ),
    max_leaves=6,
)
_PROTECTED = st.one_of(
    st.just(b""),
    st.just(b"\xa1\x01\x26"),
    st.just(b"\xa2\x01\x26\x01\x26"),  # duplicate label
    st.just(b"\xa1\x01\x26\x00"),  # trailing byte
    st.just(b"\x80"),
    st.dictionaries(st.sampled_from([1, 2, 3, 4, 33]), _CBOR, max_size=3).map(cbor2.dumps),
    st.binary(max_size=5),
)


@settings(max_examples=500, deadline=None)
@given(
    protected=_PROTECTED,
    unprotected=st.one_of(st.dictionaries(st.sampled_from([1, 4, 33]), _CBOR, max_size=2), _CBOR),
    payload=st.one_of(st.none(), st.binary(max_size=4), _CBOR),
    signature=st.one_of(st.binary(max_size=4), _CBOR),
    shape=st.sampled_from(["list", "tuple", "tag18", "tag19", "short"]),
)
def test_cose_sign1_shortcut_agrees(
    protected: bytes, unprotected: Any, payload: Any, signature: Any, shape: str
) -> None:
    body: Any = [protected, unprotected, payload, signature]
    if shape == "tuple":
        body = tuple(body)
    elif shape == "tag18":
        body = cbor2.CBORTag(18, body)
    elif shape == "tag19":
        body = cbor2.CBORTag(19, body)
    elif shape == "short":
        body = body[:3]

    def read(parse: Callable[..., cose.CoseSign1]) -> tuple[str, Any]:
        return _outcome(lambda: tuple(parse(body, what="x")))

    assert read(cose.parse_cose_sign1) == read(cose._parse_cose_sign1)


_WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@settings(max_examples=400, deadline=None)
@given(
    version=st.sampled_from(["1.0", "1.1", "2.0", 1]),
    digest=st.sampled_from(["SHA-256", "SHA-512", "MD5", None]),
    value_digests=st.one_of(st.just({"ns": {0: b"x"}}), st.just(cbor2.frozendict({})), st.none()),
    key_info=st.one_of(st.just({"deviceKey": {1: 2}}), st.just([])),
    doc_type=st.sampled_from(["org.iso.18013.5.1.mDL", 7]),
    dates=st.lists(
        st.sampled_from([_WHEN, _WHEN.replace(tzinfo=None), "2026-01-01", None]),
        min_size=3,
        max_size=3,
    ),
    drop=st.sampled_from([None, "version", "validityInfo", "docType", "status"]),
    frozen=st.booleans(),
)
def test_mso_shortcut_agrees(
    version: Any,
    digest: Any,
    value_digests: Any,
    key_info: Any,
    doc_type: Any,
    dates: list[Any],
    drop: str | None,
    frozen: bool,
) -> None:
    item: Any = {
        "version": version,
        "digestAlgorithm": digest,
        "valueDigests": value_digests,
        "deviceKeyInfo": key_info,
        "docType": doc_type,
        "validityInfo": dict(zip(("signed", "validFrom", "validUntil"), dates, strict=True)),
        "status": {"x": 1},
    }
    if drop is not None:
        del item[drop]
    if frozen:
        item = cbor2.frozendict(item)
    assert _outcome(lambda: mdoc._parse_mso(item)) == _outcome(lambda: mdoc._parse_mso_exact(item))


def _numbers(cose_key: Any) -> Any:
    key = cose.cose_key_to_public_key(cose_key)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key.public_numbers()


def test_p256_cose_key_shortcut_agrees_with_the_general_path() -> None:
    cose_key = cose.public_key_to_cose_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    variants: list[dict[Any, Any]] = [
        cose_key,
        {**cose_key, -1: True},  # a bool is not a curve
        {**cose_key, -2: cose_key[-2][:31]},
        {**cose_key, -3: True},
        {**cose_key, -3: b"\x00" * 32},  # not on the curve
        {**cose_key, 1: 2.0},
    ]
    for variant in variants:
        fast = _outcome(lambda v=variant: _numbers(v))  # type: ignore[misc]
        # a frozendict takes the general path
        general = _outcome(lambda v=variant: _numbers(cbor2.frozendict(v)))  # type: ignore[misc]
        assert fast == general
        if fast[0] == "ok":
            assert cose.cose_key_profile(variant) is not None


def test_issuer_signature_shortcut_agrees_with_verify_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issuer, holder = Issuer(), Key()
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder)
    head, body, signature = jwt.split(".")
    variants = [
        jwt,
        f"{head}.{body}.{signature[:-4]}",  # short
        f"{head}.{body}." + b64url_encode(b"\x00" * 64),
        f"{head}.{enc({'iss': issuer.iss, 'vct': 'v'})}.{signature}",  # payload changed
    ]

    def outcomes() -> list[tuple[str, Any]]:
        return [
            _outcome(
                lambda v=v: (
                    verify_sd_jwt_vc(  # type: ignore[misc]
                        present(v, ds, holder),
                        trust=issuer.trust(),
                        now=NOW,
                        expected_nonce=NONCE,
                        expected_audience=AUD,
                        require_key_binding=True,
                    ).claims
                )
            )
            for v in variants
        ]

    fast = outcomes()
    monkeypatch.setattr(sdjwt, "key_profile", lambda key: ("general", ""))
    assert outcomes() == fast
    assert [kind for kind, _ in fast] == ["ok", "error", "error", "error"]
    assert {code for _, code in fast[1:]} == {"bad_signature"}

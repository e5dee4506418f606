"""The admin center's checks on trusted-issuer key material (``ssar.admin.trust``): JWKS, JWKS
URLs, X.509 anchors and DIDs, with the words an administrator sees, and how issuers across
profiles are listed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from ssar.admin.trust import (
    KeyMaterialRejected,
    NewIssuer,
    build_entry,
    check_anchors,
    check_did,
    check_jwks,
    check_jwks_uri,
    describe,
    iss_from_slug,
    issuer_slug,
    list_issuers,
)
from ssar.credentials.jose import b64url_encode
from ssar.profiles.models import TrustedIssuer

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def public_ec(kid: str = "k1", crv: str = "P-256") -> dict[str, Any]:
    return {**ECKey.generate_key(crv).as_dict(private=False), "kid": kid}


def certificate(
    *,
    ca: bool = True,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=3650),
    cn: str = "Test IACA",
    key_cert_sign: bool = True,
) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not key_cert_sign,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=key_cert_sign,
                crl_sign=key_cert_sign,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    cert = builder.sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def rsa_1024() -> dict[str, Any]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    n = numbers.public_numbers().n
    return {"kty": "RSA", "n": b64url_encode(n.to_bytes(128, "big")), "e": "AQAB"}


def rejected(field: str, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(KeyMaterialRejected) as caught:
        call(*args, **kwargs)
    assert caught.value.field == field
    return caught.value.detail


# --- JWKS ---------------------------------------------------------------------------------


def test_a_jwks_of_public_keys_is_accepted_as_is() -> None:
    jwks = {"keys": [public_ec("a"), public_ec("b", "P-384")]}
    assert check_jwks(json.dumps(jwks)) == jwks


def test_a_single_jwk_is_wrapped_in_a_set() -> None:
    jwk = public_ec("solo")
    assert check_jwks(json.dumps(jwk)) == {"keys": [jwk]}


def test_ed25519_and_rsa_2048_are_accepted() -> None:
    okp = OKPKey.generate_key("Ed25519").as_dict(private=False)
    rsa_key = RSAKey.generate_key(2048).as_dict(private=False)
    assert len(check_jwks(json.dumps({"keys": [okp, rsa_key]}))["keys"]) == 2


def test_a_private_key_is_refused_naming_the_member_not_the_value() -> None:
    private = ECKey.generate_key("P-256").as_dict(private=True)
    detail = rejected("jwks", check_jwks, json.dumps({"keys": [private]}))
    assert "private key" in detail
    assert "'d'" in detail
    assert private["d"] not in detail


def test_a_private_rsa_key_is_refused() -> None:
    private = RSAKey.generate_key(2048).as_dict(private=True)
    assert "private key" in rejected("jwks", check_jwks, json.dumps(private))


def test_a_symmetric_key_is_refused() -> None:
    secret = OctKey.generate_key(256).as_dict()
    detail = rejected("jwks", check_jwks, json.dumps({"keys": [secret]}))
    assert "symmetric" in detail


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: OKPKey.generate_key("X25519").as_dict(private=False), "X25519"),
        (lambda: public_ec("k", "secp256k1"), "secp256k1"),
        (lambda: rsa_1024(), "2048"),
        (lambda: {**public_ec(), "use": "enc"}, "'sig'"),
        (lambda: {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, "key 1"),
    ],
)
def test_keys_the_verifier_cannot_use_are_refused(make: Any, words: str) -> None:
    assert words in rejected("jwks", check_jwks, json.dumps({"keys": [make()]}))


def test_not_json_duplicate_kids_and_empty_sets_are_refused() -> None:
    assert "not valid JSON" in rejected("jwks", check_jwks, "{keys: nope}")
    assert "at least one key" in rejected("jwks", check_jwks, '{"keys": []}')
    assert "used twice" in rejected(
        "jwks", check_jwks, json.dumps({"keys": [public_ec("same"), public_ec("same")]})
    )
    assert "paste" in rejected("jwks", check_jwks, "   ")


# --- JWKS URL ------------------------------------------------------------------------------


def test_jwks_uri_must_be_https() -> None:
    assert check_jwks_uri(" https://issuer.example/jwks ") == "https://issuer.example/jwks"
    assert "https" in rejected("jwks_uri", check_jwks_uri, "http://issuer.example/jwks")
    assert "https" in rejected("jwks_uri", check_jwks_uri, "ftp://issuer.example/jwks")


# --- X.509 anchors -------------------------------------------------------------------------


def test_ca_certificates_are_accepted_and_deduplicated() -> None:
    first, second = certificate(cn="Root A"), certificate(cn="Root B")
    pems = check_anchors(first + second + first, now=NOW)
    assert len(pems) == 2
    assert [x509.load_pem_x509_certificate(p.encode()).subject.rfc4514_string() for p in pems] == [
        "CN=Root A",
        "CN=Root B",
    ]


def test_a_non_ca_certificate_is_refused() -> None:
    detail = rejected("x5c", check_anchors, certificate(ca=False, cn="Leaf"), now=NOW)
    assert "CN=Leaf is not a CA certificate" in detail


def test_a_ca_without_key_cert_sign_is_refused() -> None:
    detail = rejected("x5c", check_anchors, certificate(key_cert_sign=False), now=NOW)
    assert "keyCertSign" in detail


def test_an_expired_or_future_anchor_is_refused() -> None:
    expired = certificate(not_before=NOW - timedelta(days=900), not_after=NOW - timedelta(days=1))
    assert "expired on 2026-11-22" in rejected("x5c", check_anchors, expired, now=NOW)
    future = certificate(not_before=NOW + timedelta(days=2))
    assert "not valid before" in rejected("x5c", check_anchors, future, now=NOW)


def test_a_private_key_or_garbage_instead_of_a_certificate_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert "private key" in rejected("x5c", check_anchors, key.decode(), now=NOW)
    assert "PEM" in rejected("x5c", check_anchors, "hello", now=NOW)
    broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert "could not be read" in rejected("x5c", check_anchors, broken, now=NOW)


# --- DIDs ----------------------------------------------------------------------------------


def did_jwk(jwk: dict[str, Any]) -> str:
    return "did:jwk:" + b64url_encode(json.dumps(jwk).encode())


def test_a_did_jwk_becomes_its_key_with_the_did_url_as_kid() -> None:
    jwk = ECKey.generate_key("P-256").as_dict(private=False)
    did = did_jwk(jwk)
    jwks = check_did(did)
    assert jwks == {"keys": [{**jwk, "kid": f"{did}#0"}]}


def test_a_did_jwk_holding_a_private_or_symmetric_key_is_refused() -> None:
    private = did_jwk(ECKey.generate_key("P-256").as_dict(private=True))
    assert "private key" in rejected("did", check_did, private)
    symmetric = did_jwk(OctKey.generate_key(256).as_dict())
    assert "symmetric" in rejected("did", check_did, symmetric)


def test_bad_dids_are_refused() -> None:
    assert "not a DID" in rejected("did", check_did, "https://issuer.example")
    assert "did:ion is not supported" in rejected("did", check_did, "did:ion:abc")
    assert "does not hold a JWK" in rejected("did", check_did, "did:jwk:!!!")


def test_a_did_key_is_read_from_its_multibase() -> None:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number, encoded = int.from_bytes(b"\xed\x01" + raw, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        encoded = alphabet[digit] + encoded
    did = f"did:key:z{encoded}"
    (key,) = check_did(did)["keys"]
    assert key["kid"] == f"{did}#z{encoded}"
    assert key["crv"] == "Ed25519"
    assert key["x"] == b64url_encode(raw)


def did_web_client(document: Any, *, status: int = 200) -> tuple[httpx.Client, list[str]]:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(status, json=document)

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


def test_a_did_web_document_is_fetched_and_only_its_assertion_keys_are_kept() -> None:
    did = "did:web:issuer.example:tenants:42"
    signing, other = public_ec("x"), public_ec("y")
    signing.pop("kid")
    document = {
        "id": did,
        "verificationMethod": [
            {"id": "#sig", "type": "JsonWebKey", "controller": did, "publicKeyJwk": signing},
            {"id": f"{did}#auth", "type": "JsonWebKey", "controller": did, "publicKeyJwk": other},
        ],
        "assertionMethod": ["#sig"],
        "authentication": [f"{did}#auth"],
    }
    client, seen = did_web_client(document)
    assert check_did(did, http=client) == {"keys": [{**signing, "kid": f"{did}#sig"}]}
    assert seen == ["https://issuer.example/tenants/42/did.json"]


def test_a_did_web_that_cannot_be_used_is_refused() -> None:
    did = "did:web:issuer.example"
    client, _ = did_web_client({}, status=404)
    assert "HTTP 404" in rejected("did", check_did, did, http=client)
    client, _ = did_web_client({"id": "did:web:someone.else"})
    assert "not the document of" in rejected("did", check_did, did, http=client)
    client, _ = did_web_client({"id": did, "verificationMethod": [], "assertionMethod": []})
    assert "no key that may sign" in rejected("did", check_did, did, http=client)


# --- the entry an administrator's request becomes -----------------------------------------


def test_build_entry_per_source() -> None:
    jwks = {"keys": [public_ec()]}
    assert build_entry(
        NewIssuer(profile="p", iss=" https://i.example ", jwks=json.dumps(jwks)), now=NOW, http=None
    ) == {"iss": "https://i.example", "jwks": jwks}
    assert build_entry(
        NewIssuer(profile="p", iss="https://i.example", source="jwks_uri", jwks_uri="https://i/j"),
        now=NOW,
        http=None,
    ) == {"iss": "https://i.example", "jwks_uri": "https://i/j"}
    anchors = build_entry(
        NewIssuer(profile="p", iss="https://i.example", source="x5c", x5c=certificate()),
        now=NOW,
        http=None,
    )
    assert len(anchors["x5c"]) == 1
    did = did_jwk(ECKey.generate_key("P-256").as_dict(private=False))
    assert (
        build_entry(NewIssuer(profile="p", source="did", did=did), now=NOW, http=None)["iss"] == did
    )


def test_build_entry_refusals_name_their_field() -> None:
    assert "enter the issuer" in rejected(
        "iss", build_entry, NewIssuer(profile="p", jwks="{}"), now=NOW, http=None
    )
    did = did_jwk(ECKey.generate_key("P-256").as_dict(private=False))
    assert "the DID itself" in rejected(
        "iss",
        build_entry,
        NewIssuer(profile="p", iss="https://other", source="did", did=did),
        now=NOW,
        http=None,
    )
    assert "choose" in rejected(
        "source", build_entry, NewIssuer(profile="p", iss="x", source="pgp"), now=NOW, http=None
    )


# --- listing -------------------------------------------------------------------------------


def test_describe_reports_keys_anchors_and_problems() -> None:
    jwk = public_ec("k1")
    entry = describe(TrustedIssuer(iss="https://i", jwks={"keys": [jwk]}), now=NOW)
    (key,) = entry.keys
    assert (entry.source, key.kid, key.description) == ("jwks", "k1", "EC P-256")
    assert key.thumbprint == ECKey.import_key(jwk).thumbprint()
    expired = certificate(not_before=NOW - timedelta(days=900), not_after=NOW - timedelta(days=1))
    entry = describe(TrustedIssuer(iss="https://i", x5c=(expired,)), now=NOW)
    assert entry.anchors[0].expired
    assert any("expired" in p for p in entry.problems)
    uri = describe(TrustedIssuer(iss="https://i", jwks_uri="https://i/jwks"), now=NOW)
    assert uri.source == "jwks_uri"
    assert uri.problems == ()  # fetched when a presentation is requested
    did = did_jwk(ECKey.generate_key("P-256").as_dict(private=False))
    entry = describe(TrustedIssuer(iss=did, jwks=check_did(did)), now=NOW)
    assert (entry.source, entry.did_method, entry.source_label) == ("did", "jwk", "DID (did:jwk)")


def test_rsa_key_size_is_shown() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    jwk = RSAKey.import_key(key).as_dict(private=False)
    entry = describe(TrustedIssuer(iss="https://i", jwks={"keys": [jwk]}), now=NOW)
    assert entry.keys[0].description == "RSA 3072"


def test_slugs_round_trip() -> None:
    for iss in ("https://idv.example/path?x=1", "did:jwk:eyJ0", "ünïcode"):
        assert iss_from_slug(issuer_slug(iss)) == iss


def test_list_issuers_groups_profiles_and_adds_the_builtin_reference_issuer() -> None:
    from ssar.profiles.models import CredentialPolicy

    class P:
        def __init__(self, id: str, provider: str, issuers: tuple[TrustedIssuer, ...]) -> None:
            self.id = self.name = id
            self.mode = "evaluation"
            self.provider = provider
            self.provider_type = provider.partition(":")[0]
            self.credentials = CredentialPolicy(types=("t",), issuers=issuers) if issuers else None

    shared = TrustedIssuer(iss="https://b", jwks={"keys": [public_ec()]})
    profiles = [
        P("one", "openid4vp", (shared,)),
        P("two", "reference", (shared, TrustedIssuer(iss="https://a", jwks_uri="https://a/j"))),
        P("three", "oidc_ida:bank", ()),
    ]
    reference = {"iss": "https://ssar/idv", "jwks": {"keys": [public_ec("idv")]}}
    entries = list_issuers(profiles, now=NOW, reference=reference)  # type: ignore[arg-type]
    assert [(e.iss, [p.name for p in e.profiles], e.builtin) for e in entries] == [
        ("https://a", ["two"], False),
        ("https://b", ["one", "two"], False),
        ("https://ssar/idv", ["two"], True),
    ]

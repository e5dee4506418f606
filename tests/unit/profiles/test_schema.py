"""The profile schema: defaults, limits and precise messages that name the profile and field."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ssar.profiles.schema import ProfileValidationFailed, parse_document, parse_yaml, trust_config


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk() -> dict[str, Any]:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def profile(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Employees",
        "priority": 1,
        "include_groups": ["All Staff"],
        "provider": "reference",
    }
    base.update(overrides)
    return base


def problems(document: Any) -> tuple[str, ...]:
    with pytest.raises(ProfileValidationFailed) as caught:
        parse_document(document)
    return caught.value.problems


def test_defaults_follow_the_reference() -> None:
    spec = parse_document({"profiles": [profile()]}).profiles[0]
    assert spec.mode is None  # a new profile starts in evaluation (the service decides)
    assert spec.exclude_groups == []
    assert spec.allow_privileged is False
    assert spec.validation.match == "exact"
    assert spec.validation.claims == {"given_name": "given_name", "family_name": "family_name"}
    assert spec.validation.extension is None
    assert spec.face_check.required is True
    assert spec.face_check.threshold == 70


@pytest.mark.parametrize("threshold", [49, 101, 0])
def test_threshold_out_of_range_names_profile_and_field(threshold: int) -> None:
    lines = problems({"profiles": [profile(face_check={"threshold": threshold})]})
    assert len(lines) == 1
    assert lines[0].startswith("profiles[0] 'Employees': face_check.threshold:")
    assert repr(threshold) in lines[0]


@pytest.mark.parametrize("threshold", [50, 100])
def test_threshold_limits_are_inclusive(threshold: int) -> None:
    spec = parse_document({"profiles": [profile(face_check={"threshold": threshold})]}).profiles[0]
    assert spec.face_check.threshold == threshold


@pytest.mark.parametrize("provider", ["openid4vp_v2", "oidc_ida:", "oidc_ida:bad name", "saml"])
def test_unknown_provider_is_refused(provider: str) -> None:
    lines = problems({"profiles": [profile(provider=provider)]})
    assert any("provider" in line and "unknown provider" in line for line in lines), lines


@pytest.mark.parametrize("provider", ["reference", "oidc_ida:bankid-se"])
def test_known_providers_pass(provider: str) -> None:
    assert parse_document({"profiles": [profile(provider=provider)]}).profiles[0].provider == (
        provider
    )


def test_openid4vp_needs_credentials_and_oidc_ida_refuses_them() -> None:
    assert any(
        "needs credentials" in p for p in problems({"profiles": [profile(provider="openid4vp")]})
    )
    credentials = {
        "types": ["urn:ssar:identity:1"],
        "issuers": [{"iss": "https://idv.example.org", "jwks": {"keys": [public_jwk()]}}],
    }
    lines = problems({"profiles": [profile(provider="oidc_ida:bank", credentials=credentials)]})
    assert any("not oidc_ida" in p for p in lines)


def test_extra_key_is_refused_by_name() -> None:
    lines = problems({"profiles": [profile(colour="blue", face_check={"treshold": 80})]})
    assert "profiles[0] 'Employees': colour: unknown field 'colour'" in lines
    assert "profiles[0] 'Employees': face_check.treshold: unknown field 'treshold'" in lines


def test_extra_top_level_key_is_refused() -> None:
    assert any("unknown field 'profile'" in p for p in problems({"profiles": [], "profile": {}}))


def test_duplicate_priority_in_one_document_names_both_profiles() -> None:
    with pytest.raises(ProfileValidationFailed) as caught:
        parse_document({"profiles": [profile(), profile(name="Contractors")]})
    assert caught.value.code == "duplicate_priority"
    lines = caught.value.problems
    assert any(
        "priority 1 is used by both 'Employees' and 'Contractors'" in line for line in lines
    ), lines


def test_duplicate_name_in_one_document() -> None:
    lines = problems({"profiles": [profile(), profile(name="employees", priority=2)]})
    assert any("'employees' is used twice" in line for line in lines)


def test_group_both_included_and_excluded() -> None:
    lines = problems({"profiles": [profile(exclude_groups=["all staff"])]})
    assert any("both included and excluded: All Staff" in line for line in lines)


def test_profile_needs_an_included_group_and_priority() -> None:
    lines = problems({"profiles": [{"name": "X", "provider": "reference", "include_groups": []}]})
    assert any(line.startswith("profiles[0] 'X': include_groups:") for line in lines)
    assert "profiles[0] 'X': priority: is required" in lines


def test_mode_must_be_known() -> None:
    lines = problems({"profiles": [profile(mode="live")]})
    assert any(line.startswith("profiles[0] 'Employees': mode:") for line in lines)


def test_claims_map_to_allowed_user_attributes_and_cover_names() -> None:
    lines = problems(
        {
            "profiles": [
                profile(
                    validation={"claims": {"given_name": "given_name", "family_name": "salary"}}
                )
            ]
        }
    )
    assert any("validation.claims.family_name" in line for line in lines), lines
    lines = problems({"profiles": [profile(validation={"claims": {"birthdate": "birthdate"}})]})
    assert any("given_name and family_name" in line for line in lines), lines
    spec = parse_document(
        {
            "profiles": [
                profile(
                    validation={
                        "match": "relaxed",
                        "claims": {
                            "given_name": "given_name",
                            "family_name": "family_name",
                            "personal_administrative_number": "employee_id",
                        },
                    }
                )
            ]
        }
    ).profiles[0]
    assert spec.validation.claims["personal_administrative_number"] == "employee_id"
    assert spec.validation.match == "relaxed"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://hr.example.org/validate", True),
        ("http://127.0.0.1:9000/validate", True),
        ("http://localhost/validate", True),
        ("http://hr.example.org/validate", False),
        ("ftp://hr.example.org/", False),
    ],
)
def test_extension_url_is_https_or_loopback(url: str, ok: bool) -> None:
    document = {"profiles": [profile(validation={"extension": {"url": url}})]}
    if ok:
        extension = parse_document(document).profiles[0].validation.extension
        assert extension is not None
        assert extension.timeout_seconds == 2
    else:
        assert any("validation.extension.url" in p for p in problems(document))


@pytest.mark.parametrize("timeout", [0, 10.5, 11])
def test_extension_timeout_at_most_ten_seconds(timeout: float) -> None:
    document = {
        "profiles": [
            profile(
                validation={
                    "extension": {"url": "https://hr.example.org", "timeout_seconds": timeout}
                }
            )
        ]
    }
    assert any("validation.extension.timeout_seconds" in p for p in problems(document))


def test_issuer_needs_exactly_one_anchor() -> None:
    document = {
        "profiles": [
            profile(
                provider="openid4vp",
                credentials={"types": ["t"], "issuers": [{"iss": "https://idv.example.org"}]},
            )
        ]
    }
    assert any("exactly one of jwks, jwks_uri or x5c" in p for p in problems(document))
    both = {
        "iss": "https://idv.example.org",
        "jwks": {"keys": [public_jwk()]},
        "jwks_uri": "https://idv.example.org/jwks",
    }
    document = {
        "profiles": [profile(provider="openid4vp", credentials={"types": ["t"], "issuers": [both]})]
    }
    assert any("(got jwks, jwks_uri)" in p for p in problems(document))


def test_issuer_jwks_must_hold_valid_public_keys() -> None:
    bad = dict(public_jwk(), x="AAAA")
    document = {
        "profiles": [
            profile(
                provider="openid4vp",
                credentials={
                    "types": ["t"],
                    "issuers": [{"iss": "https://i", "jwks": {"keys": [bad]}}],
                },
            )
        ]
    }
    assert any("credentials.issuers[0].jwks" in p and "keys[0]" in p for p in problems(document))
    private = dict(public_jwk(), d="secret")
    document["profiles"][0]["credentials"]["issuers"][0]["jwks"] = {"keys": [private]}
    assert any("private key members" in p for p in problems(document))


def test_jwks_uri_must_be_https() -> None:
    document = {
        "profiles": [
            profile(
                provider="openid4vp",
                credentials={
                    "types": ["t"],
                    "issuers": [{"iss": "https://i", "jwks_uri": "http://i/jwks"}],
                },
            )
        ]
    }
    assert any("jwks_uri must be an https URL" in p for p in problems(document))


def _certificate() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test IACA")])
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def test_issuers_become_a_trust_config() -> None:
    certificate = _certificate()
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    der = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    jwk = public_jwk()
    spec = parse_document(
        {
            "profiles": [
                profile(
                    provider="openid4vp",
                    credentials={
                        "types": ["urn:ssar:identity:1", "org.iso.18013.5.1.mDL"],
                        "issuers": [
                            {"iss": "https://idv.example.org", "jwks": {"keys": [jwk]}},
                            {"iss": "https://pid.example.eu", "x5c": [pem, der]},
                            {
                                "iss": "https://other.example",
                                "jwks_uri": "https://other.example/jwks",
                            },
                        ],
                    },
                )
            ]
        }
    ).profiles[0]
    assert spec.credentials is not None
    trust = trust_config(spec.credentials.issuers)
    assert [i.iss for i in trust.issuers] == ["https://idv.example.org", "https://other.example"]
    assert trust.x509_anchors == (certificate, certificate)


def test_bad_x5c_anchor_is_refused() -> None:
    document = {
        "profiles": [
            profile(
                provider="openid4vp",
                credentials={
                    "types": ["t"],
                    "issuers": [
                        {
                            "iss": "https://i",
                            "x5c": [
                                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                            ],
                        }
                    ],
                },
            )
        ]
    }
    assert (
        "profiles[0] 'Employees': credentials.issuers[0].x5c: "
        "x5c[0] is not a valid X.509 certificate"
    ) in problems(document)


def test_yaml_errors_are_reported_not_raised() -> None:
    with pytest.raises(ProfileValidationFailed) as caught:
        parse_yaml("profiles: [\n  - name: x")
    assert caught.value.code == "invalid_yaml"
    with pytest.raises(ProfileValidationFailed) as caught:
        parse_yaml("- just a list")
    assert "mapping with a 'profiles' list" in caught.value.detail


def test_wrong_types_are_not_coerced() -> None:
    lines = problems({"profiles": [profile(priority="1", allow_privileged="yes")]})
    assert any(line.startswith("profiles[0] 'Employees': priority:") for line in lines)
    assert any(line.startswith("profiles[0] 'Employees': allow_privileged:") for line in lines)

"""RFC 9901 and SD-JWT VC draft examples, replayed: every token verifies with the spec's issuer
key and yields the spec's Processed SD-JWT Payload; KB-JWTs bind to the spec's nonce/audience."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from ssar.credentials.jose import parse_compact_jws, public_key_from_jwk, verify_signature
from ssar.credentials.sdjwt import verify_sd_jwt
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.credentials.trust import TrustConfig, TrustedIssuer
from ssar.credentials.verify import verify_credential
from ssar.errors import CredentialError
from tests.conftest import SHARED, shared_path

NONCE = "1234567890"
# the KB-JWTs of each document were made at these instants, with these audiences
KB_CONTEXT = {
    "sd-jwt": (1748536865, "https://verifier.example.org"),
    "sd-jwt-vc": (1787325881, "https://example.com/verifier"),
}
SPEC_TEXT = {
    "sd-jwt": "draft-ietf-oauth-selective-disclosure-jwt.gh-pages.txt",
    "sd-jwt-vc": "draft-ietf-oauth-sd-jwt-vc.gh-pages.txt",
}


@dataclass(frozen=True)
class Vector:
    doc: str
    line: int
    section: str
    token: str
    expected: dict[str, Any] | None  # the spec's Processed SD-JWT Payload, where it gives one

    @property
    def has_kb(self) -> bool:
        return "~" in self.token and not self.token.endswith("~")

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(KB_CONTEXT[self.doc][0], UTC)

    @property
    def audience(self) -> str:
        return KB_CONTEXT[self.doc][1]


def _processed_payloads(text: str) -> list[tuple[int, dict[str, Any]]]:
    lines = text.split("\n")
    found = []
    for i, line in enumerate(lines):
        if "Verifier will have" not in line:
            continue
        start = next(
            (j for j in range(i, min(i + 6, len(lines))) if lines[j].rstrip() == "   {"), None
        )
        if start is None:
            continue
        end = next(j for j in range(start, len(lines)) if lines[j].rstrip() == "   }")
        found.append((i + 1, json.loads("\n".join(lines[start : end + 1]))))
    return found


def _vectors(doc: str) -> list[Vector]:
    directory = SHARED / "vectors" / doc
    if not directory.exists():
        return []
    tokens = [
        json.loads(line) for line in (directory / "extracted_tokens.jsonl").read_text().splitlines()
    ]
    payloads = _processed_payloads((directory / SPEC_TEXT[doc]).read_text())
    expected: dict[int, dict[str, Any]] = {}
    for at, payload in payloads:
        token_line = max(t["line"] for t in tokens if t["line"] < at)
        expected[token_line] = payload
    return [
        Vector(doc, t["line"], t["section"], t["token"], expected.get(t["line"])) for t in tokens
    ]


ALL = _vectors("sd-jwt") + _vectors("sd-jwt-vc")
SD_JWTS = [v for v in ALL if "~" in v.token]


def _id(v: Vector) -> str:
    return f"{v.doc}:{v.line}"


@pytest.fixture(scope="module")
def trust() -> TrustConfig:
    settings = yaml.safe_load(shared_path("vectors", "sd-jwt", "settings.yml").read_text())
    jwk = {k: v for k, v in settings["key_settings"]["issuer_keys"][0].items() if k != "d"}
    issuers = {parse_compact_jws(v.token.split("~")[0]).payload.get("iss") for v in ALL}
    issuers |= {"https://example.com/issuer"}  # the W3C VC example names its issuer in "issuer"
    return TrustConfig(
        issuers=tuple(
            TrustedIssuer(iss=iss, jwks={"keys": [{**jwk, "kid": "doc-signer-05-25-2022"}]})
            for iss in sorted(i for i in issuers if i)
        )
    )


def test_vectors_are_all_found() -> None:
    shared_path("vectors", "sd-jwt", "extracted_tokens.jsonl")
    assert len(ALL) == 14
    assert sum(v.has_kb for v in ALL) == 5
    assert sum(v.expected is not None for v in ALL) == 8


@pytest.mark.parametrize("vector", SD_JWTS, ids=_id)
def test_vector_verifies_and_yields_spec_payload(vector: Vector, trust: TrustConfig) -> None:
    result = verify_credential(
        vector.token,
        trust=trust,
        now=vector.now,
        expected_nonce=NONCE,
        expected_audience=vector.audience,
    )
    assert result.key_binding is vector.has_kb
    if vector.expected is not None:
        assert result.claims == vector.expected
    assert "_sd" not in json.dumps(result.claims)
    assert "_sd_alg" not in result.claims


def test_bare_issuer_jwt_vector_is_the_issuer_part_of_the_issuance(trust: TrustConfig) -> None:
    bare = next(v for v in ALL if "~" not in v.token)
    issuance = next(v for v in ALL if v.line == 1125)
    assert issuance.token.startswith(bare.token + "~")
    jws = parse_compact_jws(bare.token)
    settings = yaml.safe_load(shared_path("vectors", "sd-jwt", "settings.yml").read_text())
    jwk = {k: v for k, v in settings["key_settings"]["issuer_keys"][0].items() if k != "d"}
    verify_signature(jws, public_key_from_jwk(jwk))
    # with no disclosures nothing selectively disclosable is revealed
    result = verify_sd_jwt(bare.token + "~", trust=trust, now=bare.now)
    assert "given_name" not in result.claims
    assert result.claims["nationalities"] == []


@pytest.mark.parametrize("vector", [v for v in ALL if v.has_kb], ids=_id)
def test_kb_vector_binds_to_spec_nonce_and_audience(vector: Vector, trust: TrustConfig) -> None:
    result = verify_credential(
        vector.token,
        trust=trust,
        now=vector.now,
        expected_nonce=NONCE,
        expected_audience=vector.audience,
        require_key_binding=True,
    )
    assert result.key_binding is True
    with pytest.raises(CredentialError) as nonce:
        verify_credential(
            vector.token,
            trust=trust,
            now=vector.now,
            expected_nonce="0987654321",
            expected_audience=vector.audience,
            require_key_binding=True,
        )
    assert nonce.value.code == "nonce_mismatch"
    with pytest.raises(CredentialError) as aud:
        verify_credential(
            vector.token,
            trust=trust,
            now=vector.now,
            expected_nonce=NONCE,
            expected_audience="https://attacker.example",
            require_key_binding=True,
        )
    assert aud.value.code == "audience_mismatch"
    with pytest.raises(CredentialError) as late:
        verify_credential(
            vector.token,
            trust=trust,
            now=vector.now + timedelta(minutes=6),
            expected_nonce=NONCE,
            expected_audience=vector.audience,
        )
    assert late.value.code == "key_binding_invalid"


@pytest.mark.parametrize("vector", [v for v in SD_JWTS if not v.has_kb], ids=_id)
def test_issuance_without_kb_fails_when_policy_requires_it(
    vector: Vector, trust: TrustConfig
) -> None:
    with pytest.raises(CredentialError) as err:
        verify_credential(
            vector.token,
            trust=trust,
            now=vector.now,
            expected_nonce=NONCE,
            expected_audience=vector.audience,
            require_key_binding=True,
        )
    assert err.value.code == "key_binding_missing"


@pytest.mark.parametrize("vector", SD_JWTS, ids=_id)
def test_vector_refused_under_another_issuer_key(vector: Vector) -> None:
    from tests.unit.credentials.factory import Key

    other = Key(kid="doc-signer-05-25-2022").jwk
    issuers = (
        "https://issuer.example.com",
        "https://pid-issuer.bund.de.example",
        "https://example.com/issuer",
        "https://pid-issuer.aendgard.example",
    )
    trust = TrustConfig(
        issuers=tuple(TrustedIssuer(iss=i, jwks={"keys": [other]}) for i in issuers)
    )
    with pytest.raises(CredentialError) as err:
        verify_credential(vector.token, trust=trust, now=vector.now)
    assert err.value.code == "bad_signature"


def _is_vc(v: Vector) -> bool:
    return parse_compact_jws(v.token.split("~")[0]).typ == "dc+sd-jwt"


@pytest.mark.parametrize("vector", [v for v in SD_JWTS if _is_vc(v)], ids=_id)
def test_vc_vectors_are_sd_jwt_vcs(vector: Vector, trust: TrustConfig) -> None:
    result = verify_sd_jwt_vc(vector.token, trust=trust, now=vector.now)
    assert result.format == "dc+sd-jwt"
    assert result.credential_type == result.claims["vct"]
    with pytest.raises(CredentialError) as err:
        verify_sd_jwt_vc(vector.token, trust=trust, now=vector.now, allowed_types={"urn:other"})
    assert err.value.code == "untrusted_issuer"


def test_vectors_expire_after_exp(trust: TrustConfig) -> None:
    vector = next(v for v in SD_JWTS if v.line == 1125)
    with pytest.raises(CredentialError) as err:
        verify_credential(
            vector.token, trust=trust, now=datetime.fromtimestamp(1883000000 + 3600, UTC)
        )
    assert err.value.code == "expired"
    with pytest.raises(CredentialError) as early:
        verify_credential(
            vector.token, trust=trust, now=datetime.fromtimestamp(1683000000 - 3600, UTC)
        )
    assert early.value.code == "not_yet_valid"


def test_processed_payload_extraction_found_the_w3c_example() -> None:
    vector = next(v for v in ALL if v.line == 3900)
    assert vector.expected is not None
    assert vector.expected["credentialSubject"]["order"] == "3/3"
    assert re.match(r"https://", vector.expected["issuer"])

"""The oidc_ida provider against a fake OpenID provider: the happy path end to end, and one
negative test per check (each must fail with its own stable code)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from ssar.clock import FixedClock
from ssar.errors import ConfigurationError, CredentialError
from ssar.providers import errors as codes
from ssar.providers.base import VerifiedIdentity
from ssar.providers.errors import ProviderError
from ssar.providers.oidc_ida import (
    OidcIdaConfig,
    OidcIdaProvider,
    load_providers,
    pkce_challenge,
)
from tests.support.oidc_op import (
    CLIENT_ID,
    DROP,
    ISSUER,
    REDIRECT_URI,
    FakeOpenIdProvider,
    OpKey,
    b64url,
    make_jwt,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def es256_key() -> OpKey:
    return OpKey.generate("ES256", kid="op-es256")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def op(clock: FixedClock, es256_key: OpKey) -> FakeOpenIdProvider:
    return FakeOpenIdProvider(clock=clock, key=es256_key)


def config(**overrides: Any) -> OidcIdaConfig:
    fields: dict[str, Any] = {
        "name": "eid",
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "trust_frameworks": ["eidas", "de_aml"],
    }
    fields.update(overrides)
    return OidcIdaConfig.model_validate(fields)


@pytest.fixture
def http(op: FakeOpenIdProvider) -> Iterator[httpx.Client]:
    with op.client() as client:
        yield client


def provider(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock, **overrides: Any
) -> OidcIdaProvider:
    return OidcIdaProvider(config(**overrides), http=http, clock=clock)


def run_flow(
    op: FakeOpenIdProvider,
    rp: OidcIdaProvider,
    *,
    params: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
) -> VerifiedIdentity:
    """begin → the person at the OP → complete, with parameters or secrets replaced."""
    start = rp.begin(redirect_uri=REDIRECT_URI)
    back = op.authorize(start.url)
    back.update(params or {})
    kept = dict(start.secrets)
    kept.update(secrets or {})
    return rp.complete(params=back, secrets=kept)


def fails_with(
    code: str, op: FakeOpenIdProvider, rp: OidcIdaProvider, **kwargs: Any
) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        run_flow(op, rp, **kwargs)
    assert caught.value.code == code, caught.value.detail
    return caught.value


# --- the happy path --------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256"])
def test_happy_path_end_to_end(alg: str, clock: FixedClock, es256_key: OpKey) -> None:
    key = es256_key if alg == "ES256" else OpKey.generate(alg)
    op = FakeOpenIdProvider(clock=clock, key=key)
    with op.client() as http:
        identity = run_flow(op, provider(op, http, clock))
    assert identity == VerifiedIdentity(
        provider="oidc_ida:eid",
        issuer=ISSUER,
        format="oidc_ida",
        credential_type="eidas",
        # only the requested claims: nationalities was not asked for
        claims={"given_name": "Zoë", "family_name": "Ågren", "birthdate": "1990-05-17"},
        subject=f"{ISSUER}#user-4711",
        evidence={
            "trust_framework": "eidas",
            "evidence_types": ["electronic_record"],
            "verification_time": (NOW - timedelta(days=1)).isoformat(),
            "assurance_level": "high",
        },
        portrait=None,
    )
    assert [r.url.path for r in op.requests] == [
        "/.well-known/openid-configuration",
        "/token",
        "/jwks",
        "/userinfo",
    ]


def test_other_requested_verified_claims_are_mapped(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock, claims=["given_name", "family_name", "nationalities"])
    identity = run_flow(op, rp)
    assert identity.claims == {"given_name": "Zoë", "family_name": "Ågren", "nationalities": ["SE"]}


def test_begin_builds_the_authorization_request(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock, max_age_days=30, evidence_types=["document"])
    start = rp.begin(redirect_uri=REDIRECT_URI)
    parts = urlsplit(start.url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ISSUER}/authorize"
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI
    assert query["scope"] == "openid"
    assert query["state"] == start.secrets["state"]
    assert query["nonce"] == start.secrets["nonce"]
    assert query["code_challenge_method"] == "S256"
    assert "code_verifier" not in query
    verified = {
        "verification": {
            "trust_framework": None,
            "time": {"max_age": 30 * 86400},
            "evidence": [{"type": None}],
        },
        "claims": {"given_name": None, "family_name": None, "birthdate": None},
    }
    assert json.loads(query["claims"]) == {
        "userinfo": {"verified_claims": verified},
        "id_token": {"verified_claims": verified},
    }
    assert set(start.secrets) >= {"state", "nonce", "code_verifier", "redirect_uri"}
    assert start.secrets["redirect_uri"] == REDIRECT_URI


def test_R11_state_nonce_and_verifier_are_fresh_and_at_least_128_bits(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    first, second = rp.begin(redirect_uri=REDIRECT_URI), rp.begin(redirect_uri=REDIRECT_URI)
    for name in ("state", "nonce", "code_verifier"):
        raw = base64.urlsafe_b64decode(first.secrets[name] + "==")
        assert len(raw) * 8 >= 128, name
        assert first.secrets[name] != second.secrets[name], name
    assert 43 <= len(first.secrets["code_verifier"]) <= 128  # RFC 7636 §4.1


def test_pkce_verifier_is_sent_and_the_challenge_is_its_s256(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    start = rp.begin(redirect_uri=REDIRECT_URI)
    challenge = parse_qs(urlsplit(start.url).query)["code_challenge"][0]
    verifier = start.secrets["code_verifier"]
    assert challenge == b64url(hashlib.sha256(verifier.encode()).digest())
    assert challenge == pkce_challenge(verifier)
    rp.complete(params=op.authorize(start.url), secrets=start.secrets)
    (token_request,) = op.requests_to("token")
    form = {k: v[0] for k, v in parse_qs(token_request.content.decode()).items()}
    assert form["code_verifier"] == verifier
    assert form["grant_type"] == "authorization_code"
    assert form["redirect_uri"] == REDIRECT_URI


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    fails_with(codes.TOKEN_ERROR, op, rp, secrets={"code_verifier": "x" * 43})


def test_public_client_sends_client_id_and_no_authorization(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    run_flow(op, provider(op, http, clock))
    (token_request,) = op.requests_to("token")
    assert "authorization" not in token_request.headers
    assert parse_qs(token_request.content.decode())["client_id"] == [CLIENT_ID]


def test_confidential_client_uses_client_secret_basic(clock: FixedClock, es256_key: OpKey) -> None:
    op = FakeOpenIdProvider(clock=clock, key=es256_key, client_secret="s3cret:+/ é")
    with op.client() as http:
        run_flow(op, provider(op, http, clock, client_secret="s3cret:+/ é"))
        (token_request,) = op.requests_to("token")
        form = parse_qs(token_request.content.decode())
        assert token_request.headers["authorization"].startswith("Basic ")
        assert "client_secret" not in form
        assert "client_id" not in form
        # and a wrong secret is refused by the OP, so the header is really checked
        rp = provider(op, http, clock, client_secret="wrong")
        fails_with(codes.TOKEN_ERROR, op, rp)


def test_discovery_and_jwks_are_cached_per_instance(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    run_flow(op, rp)
    run_flow(op, rp)
    assert len(op.requests_to("discovery")) == 1
    assert len(op.requests_to("jwks")) == 1


def test_verified_claims_from_the_id_token_when_userinfo_has_none(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.verified_claims_in = "id_token"
    identity = run_flow(op, provider(op, http, clock))
    assert identity.claims["family_name"] == "Ågren"


def test_verified_claims_array_takes_the_first_element_that_passes(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    untrusted = op.default_verified_claims()
    untrusted["verification"]["trust_framework"] = "self_asserted"
    untrusted["claims"]["family_name"] = "Mallory"
    trusted = op.default_verified_claims()
    trusted["verification"]["trust_framework"] = "de_aml"
    op.verified_claims = [untrusted, trusted]
    identity = run_flow(op, provider(op, http, clock))
    assert identity.credential_type == "de_aml"
    assert identity.claims["family_name"] == "Ågren"


def test_verified_claims_array_where_none_passes_fails_with_the_first_reason(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    untrusted = op.default_verified_claims()
    untrusted["verification"]["trust_framework"] = "self_asserted"
    no_time = op.default_verified_claims()
    del no_time["verification"]["time"]
    op.verified_claims = [untrusted, no_time]
    fails_with(codes.UNTRUSTED_FRAMEWORK, op, provider(op, http, clock))


def test_leeway_accepts_an_id_token_just_expired(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["exp"] = int((NOW - timedelta(minutes=4)).timestamp())
    assert run_flow(op, provider(op, http, clock)).subject == f"{ISSUER}#user-4711"


def test_several_audiences_with_azp_are_accepted(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides.update(aud=[CLIENT_ID, "other"], azp=CLIENT_ID)
    run_flow(op, provider(op, http, clock))


def test_a_rotated_key_is_fetched_again_after_the_refresh_interval(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    run_flow(op, rp)
    op.key = OpKey.generate("ES256", kid="op-es256-next")
    clock.advance(timedelta(minutes=6))
    run_flow(op, rp)
    assert len(op.requests_to("jwks")) == 2


# --- one negative test per check ---------------------------------------------------------


def test_R11_wrong_state_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    fails_with(codes.STATE_MISMATCH, op, provider(op, http, clock), params={"state": "x" * 43})
    assert op.requests_to("token") == []  # nothing redeemed


def test_missing_state_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    start = rp.begin(redirect_uri=REDIRECT_URI)
    back = op.authorize(start.url)
    del back["state"]
    with pytest.raises(ProviderError) as caught:
        rp.complete(params=back, secrets=start.secrets)
    assert caught.value.code == codes.STATE_MISMATCH


def test_wrong_iss_parameter_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    fails_with(codes.ISSUER_MISMATCH, op, rp, params={"iss": "https://evil.example"})
    assert op.requests_to("token") == []


def test_missing_iss_parameter_is_refused_when_the_provider_advertises_it(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    start = rp.begin(redirect_uri=REDIRECT_URI)
    back = op.authorize(start.url)
    del back["iss"]
    with pytest.raises(ProviderError) as caught:
        rp.complete(params=back, secrets=start.secrets)
    assert caught.value.code == codes.ISSUER_MISMATCH


def test_missing_iss_parameter_is_accepted_when_the_provider_does_not_send_it(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.iss_in_response = False
    run_flow(op, provider(op, http, clock))


def test_discovery_for_another_issuer_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.discovery_overrides["issuer"] = "https://op.example.net/other"
    with pytest.raises(ProviderError) as caught:
        provider(op, http, clock).begin(redirect_uri=REDIRECT_URI)
    assert caught.value.code == codes.ISSUER_MISMATCH


def test_discovery_without_pkce_s256_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.discovery_overrides["code_challenge_methods_supported"] = ["plain"]
    with pytest.raises(ProviderError) as caught:
        provider(op, http, clock).begin(redirect_uri=REDIRECT_URI)
    assert caught.value.code == codes.PROVIDER_ERROR


def test_flow_secrets_of_another_provider_are_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    fails_with(codes.ISSUER_MISMATCH, op, rp, secrets={"issuer": "https://other.example"})


def test_error_response_access_denied(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    start = rp.begin(redirect_uri=REDIRECT_URI)
    back = {"error": "access_denied", "state": start.secrets["state"], "iss": ISSUER}
    with pytest.raises(ProviderError) as caught:
        rp.complete(params=back, secrets=start.secrets)
    assert caught.value.code == codes.ACCESS_DENIED


def test_error_response_with_a_wrong_state_is_a_state_mismatch(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    start = rp.begin(redirect_uri=REDIRECT_URI)
    with pytest.raises(ProviderError) as caught:
        rp.complete(params={"error": "server_error", "state": "nope"}, secrets=start.secrets)
    assert caught.value.code == codes.STATE_MISMATCH


def test_token_endpoint_refusal_is_a_token_error(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.failures["token"] = 400
    fails_with(codes.TOKEN_ERROR, op, provider(op, http, clock))


def test_token_response_without_id_token_is_a_token_error(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.token_overrides["id_token"] = DROP
    fails_with(codes.TOKEN_ERROR, op, provider(op, http, clock))


def test_tampered_id_token_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    def tamper(token: str) -> str:
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["sub"] = "someone-else"
        forged = b64url(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{forged}.{signature}"

    op.id_token_transform = tamper
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_unsigned_id_token_alg_none_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    def unsigned(token: str) -> str:
        _, payload, _ = token.split(".")
        header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{payload}."

    op.id_token_transform = unsigned
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_with_an_alg_outside_the_allow_list_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_header_overrides["alg"] = "HS256"
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_with_a_real_signature_but_an_alg_outside_the_allow_list_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.key = OpKey.generate("RS384", kid="op-rs384")  # published and really signing
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_signed_by_a_key_not_in_the_jwks_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.signing_key = OpKey.generate("ES256", kid="attacker")
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_signed_by_another_key_under_the_published_kid_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock, es256_key: OpKey
) -> None:
    op.signing_key = OpKey.generate("ES256", kid=es256_key.kid)
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_with_an_embedded_jwk_is_not_trusted(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    attacker = OpKey.generate("ES256", kid="attacker")
    op.signing_key = attacker
    op.id_token_header_overrides["jwk"] = attacker.public_jwk()
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_for_another_audience_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["aud"] = "another-client"
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_with_several_audiences_and_no_azp_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["aud"] = [CLIENT_ID, "another-client"]
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_from_another_issuer_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["iss"] = "https://evil.example"
    fails_with(codes.ISSUER_MISMATCH, op, provider(op, http, clock))


def test_expired_id_token_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["exp"] = int((NOW - timedelta(minutes=6)).timestamp())
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_id_token_issued_in_the_future_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["iat"] = int((NOW + timedelta(minutes=6)).timestamp())
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_R12_wrong_nonce_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["nonce"] = "n" * 43
    fails_with(codes.NONCE_MISMATCH, op, provider(op, http, clock))


def test_missing_nonce_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["nonce"] = DROP
    fails_with(codes.NONCE_MISMATCH, op, provider(op, http, clock))


def test_id_token_with_a_wrong_at_hash_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.id_token_overrides["at_hash"] = b64url(b"\0" * 16)
    fails_with(codes.ID_TOKEN_INVALID, op, provider(op, http, clock))


def test_userinfo_for_another_subject_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.userinfo_overrides["sub"] = "user-0815"
    fails_with(codes.SUBJECT_MISMATCH, op, provider(op, http, clock))


def test_untrusted_framework_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    vc = op.default_verified_claims()
    vc["verification"]["trust_framework"] = "uk_tfida"
    op.verified_claims = vc
    fails_with(codes.UNTRUSTED_FRAMEWORK, op, provider(op, http, clock))


def test_missing_verified_claims_are_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.verified_claims_in = "none"
    fails_with(codes.CLAIMS_MISSING, op, provider(op, http, clock))


def test_verified_claims_without_a_required_claim_are_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    vc = op.default_verified_claims()
    del vc["claims"]["family_name"]
    op.verified_claims = vc
    fails_with(codes.CLAIMS_MISSING, op, provider(op, http, clock))


def test_a_malformed_birthdate_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    vc = op.default_verified_claims()
    vc["claims"]["birthdate"] = "17.05.1990"
    op.verified_claims = vc
    fails_with(codes.CLAIMS_INVALID, op, provider(op, http, clock))


def test_verification_without_time_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    vc = op.default_verified_claims()
    del vc["verification"]["time"]
    op.verified_claims = vc
    fails_with(codes.VERIFICATION_INVALID, op, provider(op, http, clock))


def test_verification_older_than_max_age_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    vc = op.default_verified_claims()
    vc["verification"]["time"] = (NOW - timedelta(days=31)).isoformat()
    op.verified_claims = vc
    fails_with(codes.VERIFICATION_TOO_OLD, op, provider(op, http, clock, max_age_days=30))
    # the same verification passes when it is recent enough
    vc["verification"]["time"] = (NOW - timedelta(days=29)).isoformat()
    assert run_flow(op, provider(op, http, clock, max_age_days=30)).credential_type == "eidas"


def test_evidence_of_a_type_not_allowed_is_refused(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock, evidence_types=["document"])
    fails_with(codes.EVIDENCE_NOT_ALLOWED, op, rp)
    rp = provider(op, http, clock, evidence_types=["document", "electronic_record"])
    assert run_flow(op, rp).evidence["evidence_types"] == ["electronic_record"]


@pytest.mark.parametrize("endpoint", ["discovery", "jwks", "token", "userinfo"])
def test_provider_500_fails_closed(
    endpoint: str, op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.failures[endpoint] = 500
    fails_with(codes.PROVIDER_UNREACHABLE, op, provider(op, http, clock))


@pytest.mark.parametrize("exception", [httpx.ReadTimeout, httpx.ConnectError])
@pytest.mark.parametrize("endpoint", ["discovery", "token", "userinfo"])
def test_provider_timeout_or_connection_error_fails_closed(
    endpoint: str,
    exception: type[Exception],
    op: FakeOpenIdProvider,
    http: httpx.Client,
    clock: FixedClock,
) -> None:
    op.failures[endpoint] = exception
    fails_with(codes.PROVIDER_UNREACHABLE, op, provider(op, http, clock))


def test_userinfo_refusal_is_a_provider_error(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    op.failures["userinfo"] = 401
    fails_with(codes.PROVIDER_ERROR, op, provider(op, http, clock))


def test_an_oversized_answer_is_refused(clock: FixedClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"issuer": ISSUER, "padding": "x" * 600_000})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        rp = OidcIdaProvider(config(), http=http, clock=clock)
        with pytest.raises(ProviderError) as caught:
            rp.begin(redirect_uri=REDIRECT_URI)
    assert caught.value.code == codes.PROVIDER_ERROR


def test_a_request_uses_a_timeout_and_no_redirects(clock: FixedClock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://evil.example/"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        rp = OidcIdaProvider(config(timeout_seconds=2), http=http, clock=clock)
        with pytest.raises(ProviderError) as caught:
            rp.begin(redirect_uri=REDIRECT_URI)
    assert caught.value.code == codes.PROVIDER_ERROR
    assert len(seen) == 1  # the redirect was not followed
    assert seen[0].extensions["timeout"] == httpx.Timeout(2).as_dict()


def test_no_tokens_codes_or_claims_are_logged(
    op: FakeOpenIdProvider, http: httpx.Client, clock: FixedClock
) -> None:
    rp = provider(op, http, clock)
    start = rp.begin(redirect_uri=REDIRECT_URI)
    back = op.authorize(start.url)
    with capture_logs() as logs:
        rp.complete(params=back, secrets=start.secrets)
    access_token = next(iter(op.issued))
    text = json.dumps(logs, default=str)
    assert logs
    for secret in (back["code"], access_token, start.secrets["nonce"], "Zoë", "Ågren", "1990"):
        assert secret not in text
    assert logs[-1]["outcome"] == "verified"


def test_provider_error_is_a_credential_error_with_stable_codes() -> None:
    assert issubclass(ProviderError, CredentialError)
    assert ProviderError("x").code == "provider_error"
    expected = {
        "provider_error",
        "provider_unreachable",
        "state_mismatch",
        "issuer_mismatch",
        "access_denied",
        "token_error",
        "id_token_invalid",
        "nonce_mismatch",
        "subject_mismatch",
        "claims_missing",
        "claims_invalid",
        "verification_invalid",
        "untrusted_framework",
        "evidence_not_allowed",
        "verification_too_old",
    }
    assert set(codes.CODES) == expected


# --- configuration ---------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_providers_reads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKID_SECRET", "from-env")
    path = write(
        tmp_path,
        """
providers:
  - name: eid
    issuer: https://op.example.net
    client_id: ssar
    trust_frameworks: [eidas]
  - name: bankid
    issuer: https://bank.example.com/oidc
    client_id: ssar-bank
    client_secret_env: BANKID_SECRET
    scopes: [openid, profile]
    trust_frameworks: [de_aml]
    evidence_types: [document]
    claims: [given_name, family_name, birthdate, place_of_birth]
    max_age_days: 365
""",
    )
    providers = load_providers(path)
    assert list(providers) == ["eid", "bankid"]
    eid, bank = providers["eid"], providers["bankid"]
    assert eid.client_secret is None
    assert eid.scopes == ("openid",)
    assert eid.claims == ("given_name", "family_name", "birthdate")
    assert bank.client_secret is not None
    assert bank.client_secret.get_secret_value() == "from-env"
    assert "from-env" not in repr(bank)
    assert bank.evidence_types == ("document",)
    assert bank.max_age_days == 365


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("providers: [", "not valid YAML"),
        ("- name: eid", "a 'providers' list"),
        ("providers:\n  - name: eid\n    client_id: c\n    trust_frameworks: [eidas]", "issuer"),
        (
            "providers:\n  - {name: e, issuer: 'http://op.example.net', client_id: c, "
            "trust_frameworks: [eidas]}",
            "https",
        ),
        (
            "providers:\n  - {name: e, issuer: 'https://o.example', client_id: c, "
            "trust_frameworks: []}",
            "trust_frameworks",
        ),
        (
            "providers:\n  - {name: e, issuer: 'https://o.example', client_id: c, "
            "trust_frameworks: [eidas], scopes: [profile]}",
            "openid",
        ),
        (
            "providers:\n  - {name: e, issuer: 'https://o.example', client_id: c, "
            "trust_frameworks: [eidas], colour: blue}",
            "unknown field",
        ),
        (
            "providers:\n  - {name: e, issuer: 'https://o.example', client_id: c, "
            "trust_frameworks: [eidas]}\n  - {name: e, issuer: 'https://p.example', "
            "client_id: d, trust_frameworks: [eidas]}",
            "duplicate name",
        ),
        (
            "providers:\n  - {name: e, issuer: 'https://o.example', client_id: c, "
            "trust_frameworks: [eidas], client_secret_env: SSAR_TEST_UNSET_VARIABLE}",
            "SSAR_TEST_UNSET_VARIABLE",
        ),
    ],
)
def test_load_providers_refuses_bad_files(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_providers(write(tmp_path, text))
    assert fragment in caught.value.detail


def test_load_providers_never_shows_the_secret(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "providers:\n  - {name: e, issuer: 'https://o.example', client_id: c, "
        "trust_frameworks: [eidas], client_secret: [hunter2]}",
    )
    with pytest.raises(ConfigurationError) as caught:
        load_providers(path)
    assert "client_secret" in caught.value.detail
    assert "hunter2" not in caught.value.detail


def test_load_providers_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_providers(tmp_path / "absent.yaml")


# --- robustness (R19): whatever the provider sends, only ProviderError -------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _fuzz_op(es256_key: OpKey) -> tuple[FakeOpenIdProvider, FixedClock]:
    clock = FixedClock(NOW)
    return FakeOpenIdProvider(clock=clock, key=es256_key), clock


def _only_provider_errors(op: FakeOpenIdProvider, clock: FixedClock) -> None:
    outcome = "verified"
    with op.client() as http:
        try:
            run_flow(op, provider(op, http, clock))
        except ProviderError as exc:
            outcome = exc.code
    assert outcome in {*codes.CODES, "verified"}


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    token=st.text(max_size=300)
    | st.builds(
        lambda parts: ".".join(parts),
        st.lists(st.text(alphabet="eyJ0-_.=abc", max_size=40), min_size=1, max_size=4),
    )
)
def test_R19_any_id_token_text_raises_only_provider_errors(es256_key: OpKey, token: str) -> None:
    op, clock = _fuzz_op(es256_key)
    op.token_overrides["id_token"] = token
    _only_provider_errors(op, clock)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "crit", "jwk", "b64"]), _json_values, max_size=4
    ),
    payload=_json_values,
)
def test_R19_any_signed_id_token_content_raises_only_provider_errors(
    es256_key: OpKey, header: dict[str, Any], payload: Any
) -> None:
    op, clock = _fuzz_op(es256_key)
    signed = {"alg": "ES256", "kid": es256_key.kid, **header}
    op.id_token_transform = lambda _: make_jwt(signed, payload, es256_key)
    _only_provider_errors(op, clock)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(verified_claims=_json_values, jwks=st.lists(_json_values, max_size=3))
def test_R19_any_verified_claims_or_jwks_raise_only_provider_errors(
    es256_key: OpKey, verified_claims: Any, jwks: list[Any]
) -> None:
    op, clock = _fuzz_op(es256_key)
    op.verified_claims = verified_claims if verified_claims is not None else []
    op.jwks_keys = [*jwks, es256_key.public_jwk()]
    _only_provider_errors(op, clock)

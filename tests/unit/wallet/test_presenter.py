"""The reference wallet against the verifier app: request checks, DCQL selection, minimal
disclosure, key binding, direct_post and direct_post.jwt, x509_san_dns authentication."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ssar.credentials.dcql import build_identity_query
from ssar.credentials.jose import b64url_decode
from ssar.errors import CredentialError, ValidationFailed
from ssar.keys import SigningKey
from ssar.openid4vp.links import build_link
from ssar.openid4vp.service import PresentationService
from ssar.wallet.disclosure import UnpackedSdJwt
from ssar.wallet.presenter import PresentationRefused
from tests.support.issuer import VCT, IdentityIssuer, holder_from
from tests.unit.credentials.factory import Key
from tests.unit.wallet.conftest import Setup


def _start(setup: Setup, *, claims: list[str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    return setup.registry.presentations.create_request(
        dcql=build_identity_query(claims=claims or ["given_name", "family_name"], vct_values=[VCT]),
        trust=setup.issuer.trust(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_wallet_refuses_credential_bound_to_another_key(setup: Setup) -> None:
    other = setup.issuer.issue_text(holder=Key(), now=setup.clock.now())
    with pytest.raises(CredentialError) as refused:
        setup.wallet.add(other, now=setup.clock.now())
    assert refused.value.code == "key_binding_invalid"
    assert len(setup.wallet.credentials()) == 1


def test_disclosures_for_only_the_requested_claims(setup: Setup) -> None:
    (stored,) = setup.wallet.credentials()
    unpacked = UnpackedSdJwt(stored.credential)
    assert unpacked.claims["portrait"].startswith("data:image/jpeg")
    chosen = unpacked.disclosures_for([("given_name",), ("birthdate",)])
    names = sorted(json.loads(b64url_decode(d))[1] for d in chosen)
    assert names == ["birthdate", "given_name"]


@pytest.mark.parametrize("mode", ["direct_post", "direct_post.jwt"])
def test_cross_device_presentation_discloses_only_what_was_asked(setup: Setup, mode: str) -> None:
    request = _start(setup, response_mode=mode)
    outcome = setup.presenter().present_link(request.link)
    assert outcome.redirect_uri is None
    assert outcome.response_mode == mode
    assert outcome.disclosed == {"identity": ["given_name", "family_name"]}
    result = setup.registry.presentations.take_result(transaction_id=request.transaction_id)
    assert result.claims["given_name"] == "Erika"
    assert "birthdate" not in result.claims
    assert "portrait" not in result.claims
    assert result.credentials[0].key_binding is True


def test_same_device_presentation_returns_the_response_code_redirect(setup: Setup) -> None:
    request = _start(setup, same_device=True, claims=["given_name", "portrait"])
    outcome = setup.presenter().present_link(request.link)
    assert outcome.redirect_uri is not None
    page = setup.client.get(outcome.redirect_uri)
    assert page.status_code == 200
    assert 'data-status="verified"' in page.text
    assert "Erika" in page.text
    assert "(image)" in page.text  # the portrait is never echoed into the page
    again = setup.client.get(outcome.redirect_uri)
    assert again.status_code == 400


def test_request_uri_method_post_sends_wallet_nonce(setup: Setup) -> None:
    request = _start(setup)
    link = build_link(
        client_id=request.client_id, request_uri=request.request_uri, request_uri_method="post"
    )
    verifier_request = setup.presenter().fetch_request(link)
    assert verifier_request.client_id == request.client_id
    assert verifier_request.authenticated is False


def test_wallet_refuses_link_for_another_client(setup: Setup) -> None:
    request = _start(setup)
    link = build_link(
        client_id="redirect_uri:https://evil.test/cb", request_uri=request.request_uri
    )
    with pytest.raises(PresentationRefused) as refused:
        setup.presenter().present_link(link)
    assert refused.value.code == "invalid_request"


def test_authenticated_only_wallet_refuses_redirect_uri_clients(setup: Setup) -> None:
    request = _start(setup)
    with pytest.raises(PresentationRefused) as refused:
        setup.presenter(allow_unauthenticated_verifiers=False).present_link(request.link)
    assert refused.value.code == "invalid_client"


def test_wallet_without_matching_credential_denies(setup: Setup) -> None:
    request = setup.registry.presentations.create_request(
        dcql=build_identity_query(claims=["given_name"], vct_values=["urn:other:type"]),
        trust=setup.issuer.trust(),
    )
    with pytest.raises(PresentationRefused) as refused:
        setup.presenter().present_link(request.link)
    assert refused.value.code == "access_denied"


def test_wallet_refuses_bad_links_and_unknown_requests(setup: Setup) -> None:
    with pytest.raises(ValidationFailed):
        setup.presenter().present_link("https://example.test/no-params")
    link = build_link(
        client_id="redirect_uri:http://localhost:8000/openid4vp/response",
        request_uri="http://localhost:8000/openid4vp/request/unknown",
    )
    with pytest.raises(PresentationRefused) as refused:
        setup.presenter().present_link(link)
    assert refused.value.code == "verifier_unavailable"


def test_verifier_rejection_reaches_the_wallet(setup: Setup) -> None:
    request = _start(setup)
    presenter = setup.presenter()
    verifier_request = presenter.fetch_request(request.link)
    presenter.present(verifier_request)
    with pytest.raises(PresentationRefused) as replay:
        presenter.present(verifier_request)
    assert replay.value.code == "verifier_rejected"
    assert "response_replayed" in replay.value.detail


def test_refusing_wrong_typ(setup: Setup) -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    with pytest.raises(PresentationRefused):
        setup.presenter().check_request(f"{header}.e30.", expected_client_id="x")


# --- x509_san_dns -----------------------------------------------------------------------------


def _pki(signing_key: SigningKey, host: str) -> tuple[x509.Certificate, x509.Certificate]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test verifier CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(signing_key.private_key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca, leaf


def test_x509_san_dns_verifier_is_authenticated_by_the_wallet(setup: Setup) -> None:
    ca, leaf = _pki(setup.registry.signing_key, "localhost")
    # the registry hook: a chain file in var/ switches the client id prefix
    chain_file = setup.registry.settings.var_dir / "openid4vp-verifier-chain.pem"
    chain_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    service = setup.registry.presentations
    assert service.client_id == "x509_san_dns:localhost"
    request = service.create_request(
        dcql=build_identity_query(claims=["given_name"], vct_values=[VCT]),
        trust=setup.issuer.trust(),
    )
    verifier_request = setup.presenter(trusted_verifier_anchors=[ca]).fetch_request(request.link)
    assert verifier_request.authenticated is True
    setup.presenter(trusted_verifier_anchors=[ca]).present(verifier_request)
    result = service.take_result(transaction_id=request.transaction_id)
    assert result.claims["given_name"] == "Erika"

    other_ca, _ = _pki(setup.registry.signing_key, "localhost")
    with pytest.raises(PresentationRefused) as untrusted:
        setup.presenter(trusted_verifier_anchors=[other_ca]).fetch_request(
            service.create_request(
                dcql=build_identity_query(claims=["given_name"], vct_values=[VCT]),
                trust=setup.issuer.trust(),
            ).link
        )
    assert untrusted.value.code == "invalid_client"


def test_certificate_must_name_the_host_and_key(setup: Setup) -> None:
    from ssar.errors import ConfigurationError

    _, wrong_host = _pki(setup.registry.signing_key, "elsewhere.test")
    with pytest.raises(ConfigurationError):
        PresentationService(
            database=setup.registry.database,
            clock=setup.clock,
            secret_key=setup.registry.secret_key,
            signing_key=setup.registry.signing_key,
            base_url="http://localhost:8000",
            certificate_chain=[wrong_host],
        )
    _, other_key = _pki(SigningKey(ec.generate_private_key(ec.SECP256R1())), "localhost")
    with pytest.raises(ConfigurationError):
        PresentationService(
            database=setup.registry.database,
            clock=setup.clock,
            secret_key=setup.registry.secret_key,
            signing_key=setup.registry.signing_key,
            base_url="http://localhost:8000",
            certificate_chain=[other_key],
        )


def test_issuer_helper_binds_to_wallet_key(setup: Setup) -> None:
    key = setup.wallet.holder_key()
    text = IdentityIssuer().issue_text(holder=holder_from(key.private_key), now=setup.clock.now())
    payload = json.loads(b64url_decode(text.split(".")[1]))
    assert payload["cnf"]["jwk"] == key.public_jwk()

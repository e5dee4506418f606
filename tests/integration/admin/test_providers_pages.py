"""The admin center's providers page: OpenID4VP (client id scheme), the reference service, OIDC
IDA providers from the settings file (never the client secret) with a "Check now" that fetches
the discovery document through the injected HTTP client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from ssar.registry import Registry
from tests.support.admin import AdminBrowser, admin_browser
from tests.support.oidc_op import CLIENT_ID, ISSUER, FakeOpenIdProvider
from tests.support.web import INLINE

SECRET = "s3cr3t-never-shown"


def write_providers(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "oidc_ida.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "providers": [
                    {
                        "name": "bankid",
                        "issuer": ISSUER,
                        "client_id": CLIENT_ID,
                        "client_secret": SECRET,
                        "trust_frameworks": ["eidas", "de_aml"],
                        "claims": ["given_name", "family_name", "birthdate"],
                    }
                ]
            }
        )
    )
    registry.settings.oidc_ida_providers_file = path


def make_profiles(registry: Registry) -> None:
    registry.directory.add_group("Staff")
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Bank customers",
                    "priority": 10,
                    "include_groups": ["Staff"],
                    "provider": "oidc_ida:bankid",
                },
                {
                    "name": "Everyone else",
                    "priority": 20,
                    "include_groups": ["Staff"],
                    "provider": "reference",
                },
                {
                    "name": "Legacy bank",
                    "priority": 30,
                    "include_groups": ["Staff"],
                    "provider": "oidc_ida:oldbank",
                },
            ]
        },
        actor="test",
    )


@pytest.fixture
def admin(registry: Registry, tmp_path: Path) -> Iterator[AdminBrowser]:
    write_providers(registry, tmp_path)
    make_profiles(registry)
    with admin_browser(registry) as browser:
        yield browser


def test_the_page_describes_each_provider_and_who_uses_it(
    admin: AdminBrowser, registry: Registry
) -> None:
    page = admin.client.get("/admin/providers")
    assert page.status_code == 200
    text = page.text
    # OpenID4VP without a verifier certificate: redirect_uri client id, flagged for production
    client_id = registry.presentations.client_id
    assert client_id.startswith("redirect_uri:")
    assert client_id in text
    assert "Development mode" in text
    assert "direct_post.jwt" in text
    # the reference service: its issuer and the /idv link
    assert registry.idv_issuance.issuer_id in text
    assert f'href="{registry.settings.base_url}/idv"' in text
    everyone = registry.profiles.get("Everyone else")
    assert f'href="/admin/profiles/{everyone.id}/edit"' in text
    # the OIDC IDA provider from the settings file, without its secret
    assert ISSUER in text
    assert CLIENT_ID in text
    assert "eidas" in text
    assert "de_aml" in text
    assert "confidential client" in text
    assert SECRET not in text
    bank = registry.profiles.get("Bank customers")
    assert f'href="/admin/profiles/{bank.id}/edit"' in text
    assert "Check now" in text
    # a profile naming a provider that is not configured is called out
    assert "oidc_ida:oldbank" in text
    assert "not configured" in text
    assert f"{registry.settings.base_url}/recover/callback" in text
    assert INLINE.search(text) is None


def test_check_now_fetches_the_discovery_document(admin: AdminBrowser, registry: Registry) -> None:
    op = FakeOpenIdProvider(clock=registry.clock)
    registry.http = op.client()
    response = admin.post("/admin/providers/oidc_ida/bankid/check")
    assert response.status_code == 200
    assert "Reachable" in response.text
    assert f"{ISSUER}/token" in response.text
    assert len(op.requests_to("discovery")) == 1
    assert SECRET not in response.text
    assert INLINE.search(response.text) is None


def test_check_now_reports_the_error(admin: AdminBrowser, registry: Registry) -> None:
    op = FakeOpenIdProvider(clock=registry.clock, discovery_overrides={"issuer": "https://evil"})
    registry.http = op.client()
    response = admin.post("/admin/providers/oidc_ida/bankid/check")
    assert response.status_code == 200
    assert "Not reachable" in response.text
    assert "issuer_mismatch" in response.text

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    registry.http = httpx.Client(transport=httpx.MockTransport(down))
    response = admin.post("/admin/providers/oidc_ida/bankid/check")
    assert "Not reachable" in response.text
    assert "provider_unreachable" in response.text


def test_check_now_of_an_unknown_provider_says_so(admin: AdminBrowser) -> None:
    # the result belongs to no card, so the page just shows the providers again
    response = admin.post("/admin/providers/oidc_ida/nobody/check")
    assert response.status_code == 200
    assert "Reachable" not in response.text


def test_a_reader_may_check_but_needs_the_csrf_token(registry: Registry, tmp_path: Path) -> None:
    write_providers(registry, tmp_path)
    op = FakeOpenIdProvider(clock=registry.clock)
    registry.http = op.client()
    with admin_browser(registry, username="viewer", role="reader") as reader:
        assert reader.client.get("/admin/providers").status_code == 200
        assert reader.post("/admin/providers/oidc_ida/bankid/check").status_code == 200
        forged = reader.client.post("/admin/providers/oidc_ida/bankid/check")
        assert forged.status_code == 403
    assert len(op.requests_to("discovery")) == 1


def test_a_broken_providers_file_is_shown_not_fatal(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("providers: [{name: x}]\n")
    registry.settings.oidc_ida_providers_file = path
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin/providers")
    assert page.status_code == 200
    assert "could not be loaded" in page.text
    assert "How to add an OpenID provider" in page.text


def verifier_chain(registry: Registry) -> None:
    """A self-signed certificate for the signing key, naming the base URL's host."""
    key = registry.signing_key.private_key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ssar verifier")])
    now = registry.clock.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now.replace(year=now.year - 1))
        .not_valid_after(now.replace(year=now.year + 1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    registry.settings.var_dir.mkdir(parents=True, exist_ok=True)
    (registry.settings.var_dir / "openid4vp-verifier-chain.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
    )


def test_with_a_verifier_certificate_the_client_id_is_x509_san_dns(registry: Registry) -> None:
    verifier_chain(registry)
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin/providers")
    assert page.status_code == 200
    assert "x509_san_dns:localhost" in page.text
    assert "CN=ssar verifier" in page.text
    assert "Development mode" not in page.text


def test_the_api_lists_the_oidc_ida_provider_without_its_secret(
    admin: AdminBrowser, registry: Registry
) -> None:
    token = registry.api_tokens.create(name="r", scopes=["admin:read"]).token
    response = admin.client.get(
        "/api/admin/providers", headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    (bank,) = response.json()["oidc_ida"]
    assert bank["provider"] == "oidc_ida:bankid"
    assert bank["issuer"] == ISSUER
    assert bank["client_type"] == "confidential"
    assert bank["trust_frameworks"] == ["eidas", "de_aml"]
    assert [p["name"] for p in bank["profiles"]] == ["Bank customers"]
    assert SECRET not in response.text


def test_a_verifier_certificate_for_another_key_is_reported(registry: Registry) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wrong key")])
    now = registry.clock.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(other.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now.replace(year=now.year - 1))
        .not_valid_after(now.replace(year=now.year + 1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(other, hashes.SHA256())
    )
    registry.settings.var_dir.mkdir(parents=True, exist_ok=True)
    (registry.settings.var_dir / "openid4vp-verifier-chain.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
    )
    with admin_browser(registry) as admin:
        page = admin.client.get("/admin/providers")
    assert page.status_code == 200
    assert "Not working" in page.text
    assert "not for the signing key" in page.text


def test_the_forms_carry_a_real_csrf_token(admin: AdminBrowser) -> None:
    page = admin.client.get("/admin/providers")
    tokens = re.findall(r'name="csrf_token" value="([^"]*)"', page.text)
    assert tokens
    assert all(t == admin.csrf for t in tokens)

"""The admin center's trusted issuers: the list across profiles, adding an issuer by JWKS, X.509
anchors or DID (and then a credential of that issuer really verifies), refusals next to their
field, removal, the audit trail with the admin as actor, and what a reader may not do."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import cbor2
import httpx
import pytest
from joserfc.jwk import ECKey, OctKey
from sqlalchemy import select

from ssar.admin.trust import issuer_slug
from ssar.credentials.jose import b64url_encode
from ssar.credentials.mdoc import verify_mdoc
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.credentials.trust import TrustConfig
from ssar.errors import CredentialError
from ssar.profiles.models import Profile
from ssar.registry import Registry
from ssar.store.tables import AuditEventRow
from tests.support.admin import AdminBrowser, admin_browser
from tests.support.web import INLINE
from tests.unit.admin.test_trust import certificate
from tests.unit.credentials.factory import NOW, Issuer, Key, present
from tests.unit.credentials.mdoc_support import MdocIssuer, make_pki

FIRST_ISS = "https://first-issuer.example"
NEW_ISS = "https://new-issuer.example"


def make_profiles(registry: Registry) -> None:
    registry.directory.add_group("Staff")
    first = Key(kid="first-1")
    registry.profiles.apply(
        {
            "profiles": [
                {
                    "name": "Wallet users",
                    "priority": 10,
                    "include_groups": ["Staff"],
                    "provider": "openid4vp",
                    "credentials": {
                        "types": ["urn:ssar:identity:1"],
                        "issuers": [{"iss": FIRST_ISS, "jwks": {"keys": [first.jwk]}}],
                    },
                },
                {
                    "name": "Reference",
                    "priority": 20,
                    "include_groups": ["Staff"],
                    "provider": "reference",
                },
            ]
        },
        actor="test",
    )


@pytest.fixture
def admin(registry: Registry) -> Iterator[AdminBrowser]:
    make_profiles(registry)
    with admin_browser(registry) as browser:
        yield browser


def profile(registry: Registry, name: str = "Wallet users") -> Profile:
    return registry.profiles.get(name)


def trust_of(registry: Registry, name: str = "Wallet users") -> TrustConfig:
    """The trust the recovery flow hands the verifier for this profile."""
    return registry.recovery._trust(profile(registry, name))


def events(registry: Registry, prefix: str) -> list[tuple[str, str, dict[str, Any]]]:
    with registry.database.transaction() as session:
        rows = session.execute(
            select(AuditEventRow)
            .where(AuditEventRow.type.like(f"{prefix}%"))
            .order_by(AuditEventRow.seq)
        ).scalars()
        return [(r.type, r.actor, r.data) for r in rows]


def add(admin: AdminBrowser, **fields: str) -> httpx.Response:
    return admin.post("/admin/trust/issuers", {"profile": "Wallet users", **fields})


def sd_jwt_vc(key: Key, iss: str, *, header: dict[str, Any] | None = None) -> str:
    jwt, disclosures = Issuer(key=key, iss=iss).sd_jwt(
        disclosed={"given_name": "Erika", "family_name": "Mustermann"}, header=header
    )
    return present(jwt, disclosures)


def test_the_page_lists_issuers_across_profiles_with_their_keys(
    admin: AdminBrowser, registry: Registry
) -> None:
    page = admin.client.get("/admin/trust")
    assert page.status_code == 200
    assert FIRST_ISS in page.text
    assert "EC P-256" in page.text
    assert "first-1" in page.text
    wallet = profile(registry)
    assert f'href="/admin/profiles/{wallet.id}/edit"' in page.text
    # the reference verification service's own issuer, trusted by the reference profile
    assert registry.idv_issuance.issuer_id in page.text
    assert "Built in" in page.text
    assert "Add a trusted issuer" in page.text
    detail = admin.client.get(f"/admin/trust/issuers/{issuer_slug(FIRST_ISS)}")
    assert detail.status_code == 200
    thumbprint = ECKey.import_key(wallet.credentials.issuers[0].jwks["keys"][0]).thumbprint()  # type: ignore[union-attr,index]
    assert thumbprint in detail.text
    assert "Remove from profile" in detail.text


def test_adding_a_jwks_makes_its_credentials_verify(
    admin: AdminBrowser, registry: Registry
) -> None:
    key = Key(kid="new-1")
    credential = sd_jwt_vc(key, NEW_ISS)
    with pytest.raises(CredentialError) as before:
        verify_sd_jwt_vc(credential, trust=trust_of(registry), now=NOW)
    assert before.value.code == "untrusted_issuer"

    response = add(admin, iss=NEW_ISS, source="jwks", jwks=json.dumps({"keys": [key.jwk]}))
    assert response.status_code == 303, response.text
    assert response.headers["location"] == (
        f"/admin/trust/issuers/{issuer_slug(NEW_ISS)}?done=trust_issuer_added"
    )
    issuers = profile(registry).credentials.issuers  # type: ignore[union-attr]
    assert [i.iss for i in issuers] == [FIRST_ISS, NEW_ISS]
    verified = verify_sd_jwt_vc(credential, trust=trust_of(registry), now=NOW)
    assert verified.issuer == NEW_ISS
    assert verified.claims["given_name"] == "Erika"
    # a key the issuer did not publish still fails
    with pytest.raises(CredentialError):
        verify_sd_jwt_vc(sd_jwt_vc(Key(kid="new-1"), NEW_ISS), trust=trust_of(registry), now=NOW)

    ((kind, actor, data),) = events(registry, "trust.")
    assert (kind, actor) == ("trust.issuer_added", f"user:{admin.username}")
    assert data["profile"] == "Wallet users"
    assert data["iss"] == NEW_ISS
    assert data["source"] == "jwks"
    assert data["thumbprints"] == [ECKey.import_key(key.jwk).thumbprint()]
    updated = [e for e in events(registry, "profile.updated")]
    assert updated[-1][1] == f"user:{admin.username}"
    page = admin.client.get(response.headers["location"])
    assert "The issuer is trusted now" in page.text


def test_a_private_key_is_refused_and_not_echoed_back(
    admin: AdminBrowser, registry: Registry
) -> None:
    private = ECKey.generate_key("P-256").as_dict(private=True)
    response = add(admin, iss=NEW_ISS, source="jwks", jwks=json.dumps({"keys": [private]}))
    assert response.status_code == 422
    assert 'id="jwks-error"' in response.text
    assert "is a private key" in response.text
    assert private["d"] not in response.text  # the pasted secret is not sent back
    assert f'value="{NEW_ISS}"' in response.text  # the other values are kept
    assert len(profile(registry).credentials.issuers) == 1  # type: ignore[union-attr]
    assert events(registry, "trust.") == []


def test_a_symmetric_key_is_refused(admin: AdminBrowser) -> None:
    secret = OctKey.generate_key(256).as_dict()
    response = add(admin, iss=NEW_ISS, source="jwks", jwks=json.dumps({"keys": [secret]}))
    assert response.status_code == 422
    assert "symmetric key" in response.text


def test_bad_json_keeps_the_pasted_text(admin: AdminBrowser) -> None:
    response = add(admin, iss=NEW_ISS, source="jwks", jwks='{"keys": [')
    assert response.status_code == 422
    assert "not valid JSON" in response.text
    assert "{&#34;keys&#34;: [</textarea>" in response.text


def test_the_same_issuer_twice_on_a_profile_is_refused(admin: AdminBrowser) -> None:
    response = add(admin, iss=FIRST_ISS, source="jwks", jwks=json.dumps(Key().jwk))
    assert response.status_code == 422
    assert "already trusts" in response.text


def test_x509_anchors_verify_an_mdoc_and_bad_anchors_are_refused(
    admin: AdminBrowser, registry: Registry
) -> None:
    from cryptography.hazmat.primitives import serialization

    pki = make_pki()
    mdoc = cbor2.dumps(MdocIssuer(pki).issuer_signed())
    with pytest.raises(CredentialError):
        verify_mdoc(mdoc, trust=trust_of(registry), now=NOW)

    leaf = certificate(ca=False, cn="Document Signer")
    refused = add(admin, iss="https://dmv.example", source="x5c", x5c=leaf)
    assert refused.status_code == 422
    assert "CN=Document Signer is not a CA certificate" in refused.text
    assert 'id="x5c-error"' in refused.text
    expired = certificate(not_before=NOW.replace(year=2020), not_after=NOW.replace(year=2025))
    refused = add(admin, iss="https://dmv.example", source="x5c", x5c=expired)
    assert refused.status_code == 422
    assert "expired on 2025-11-23" in refused.text

    iaca = pki.iaca.public_bytes(serialization.Encoding.PEM).decode()
    response = add(admin, iss="https://dmv.example", source="x5c", x5c=iaca)
    assert response.status_code == 303, response.text
    verified = verify_mdoc(mdoc, trust=trust_of(registry), now=NOW)
    assert verified.claims
    detail = admin.client.get(response.headers["location"])
    assert "SSAR Test IACA" in detail.text
    assert "SHA-256 fingerprint" in detail.text
    (event,) = events(registry, "trust.")
    assert event[2]["source"] == "x5c"
    assert len(event[2]["anchors"]) == 1


def did_jwk(key: Key) -> str:
    return "did:jwk:" + b64url_encode(json.dumps(key.jwk).encode())


def test_a_did_jwk_issuer_verifies_and_a_bad_did_is_refused(
    admin: AdminBrowser, registry: Registry
) -> None:
    key = Key()
    did = did_jwk(key)
    credential = sd_jwt_vc(key, did, header={"kid": f"{did}#0"})
    with pytest.raises(CredentialError):
        verify_sd_jwt_vc(credential, trust=trust_of(registry), now=NOW)

    bad = add(admin, source="did", did="did:example:123")
    assert bad.status_code == 422
    assert "did:example is not supported" in bad.text
    assert 'value="did:example:123"' in bad.text

    response = add(admin, source="did", did=did)
    assert response.status_code == 303, response.text
    verify_sd_jwt_vc(credential, trust=trust_of(registry), now=NOW)
    # another did:jwk is not trusted by this entry
    other = Key()
    with pytest.raises(CredentialError):
        verify_sd_jwt_vc(sd_jwt_vc(other, did_jwk(other)), trust=trust_of(registry), now=NOW)
    page = admin.client.get("/admin/trust")
    assert "DID (did:jwk)" in page.text


def test_a_did_web_document_is_fetched_through_the_http_client(
    admin: AdminBrowser, registry: Registry
) -> None:
    key = Key()
    did = "did:web:issuer.example"
    document = {
        "id": did,
        "verificationMethod": [
            {"id": f"{did}#k1", "type": "JsonWebKey", "controller": did, "publicKeyJwk": key.jwk}
        ],
        "assertionMethod": [f"{did}#k1"],
    }
    fetched: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json=document)

    registry.http = httpx.Client(transport=httpx.MockTransport(handle))
    response = add(admin, source="did", did=did)
    assert response.status_code == 303, response.text
    assert fetched == ["https://issuer.example/.well-known/did.json"]
    verify_sd_jwt_vc(
        sd_jwt_vc(key, did, header={"kid": f"{did}#k1"}), trust=trust_of(registry), now=NOW
    )


def test_a_jwks_uri_issuer_is_added(admin: AdminBrowser, registry: Registry) -> None:
    refused = add(admin, iss=NEW_ISS, source="jwks_uri", jwks_uri="http://new-issuer.example/j")
    assert refused.status_code == 422
    assert "must be an https URL" in refused.text
    response = add(admin, iss=NEW_ISS, source="jwks_uri", jwks_uri=f"{NEW_ISS}/jwks.json")
    assert response.status_code == 303
    assert profile(registry).credentials.issuers[-1].jwks_uri == f"{NEW_ISS}/jwks.json"  # type: ignore[union-attr]
    page = admin.client.get("/admin/trust")
    assert f"{NEW_ISS}/jwks.json" in page.text


def test_an_issuer_can_be_added_to_a_reference_profile_without_credentials(
    admin: AdminBrowser, registry: Registry
) -> None:
    reference = profile(registry, "Reference")
    assert reference.credentials is None
    response = admin.post(
        "/admin/trust/issuers",
        {"profile": reference.id, "iss": NEW_ISS, "source": "jwks", "jwks": json.dumps(Key().jwk)},
    )
    assert response.status_code == 303, response.text
    credentials = profile(registry, "Reference").credentials
    assert credentials is not None
    assert credentials.types == ("urn:ssar:identity:1",)
    # the reference profile still trusts the built-in issuer as well
    assert {i.iss for i in trust_of(registry, "Reference").issuers} == {
        NEW_ISS,
        registry.idv_issuance.issuer_id,
    }


def test_removing_an_issuer_is_audited_and_the_last_one_of_a_wallet_profile_stays(
    admin: AdminBrowser, registry: Registry
) -> None:
    key = Key(kid="new-1")
    add(admin, iss=NEW_ISS, source="jwks", jwks=json.dumps(key.jwk))
    wallet = profile(registry)
    response = admin.post(
        f"/admin/trust/issuers/{issuer_slug(NEW_ISS)}/remove", {"profile": wallet.id}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/trust?done=trust_issuer_removed"
    assert [i.iss for i in profile(registry).credentials.issuers] == [FIRST_ISS]  # type: ignore[union-attr]
    with pytest.raises(CredentialError):
        verify_sd_jwt_vc(sd_jwt_vc(key, NEW_ISS), trust=trust_of(registry), now=NOW)
    kinds = [(k, a, d["iss"]) for k, a, d in events(registry, "trust.")]
    assert kinds[-1] == ("trust.issuer_removed", f"user:{admin.username}", NEW_ISS)

    last = admin.post(
        f"/admin/trust/issuers/{issuer_slug(FIRST_ISS)}/remove", {"profile": wallet.id}
    )
    assert last.status_code == 422
    assert "the only issuer" in last.text
    assert [i.iss for i in profile(registry).credentials.issuers] == [FIRST_ISS]  # type: ignore[union-attr]


def test_removing_an_issuer_a_profile_does_not_trust_is_not_found(
    admin: AdminBrowser, registry: Registry
) -> None:
    response = admin.post(
        f"/admin/trust/issuers/{issuer_slug(NEW_ISS)}/remove", {"profile": profile(registry).id}
    )
    assert response.status_code == 404


def test_a_reader_sees_the_list_but_cannot_change_it(registry: Registry) -> None:
    make_profiles(registry)
    with admin_browser(registry, username="viewer", role="reader") as reader:
        page = reader.client.get("/admin/trust")
        assert page.status_code == 200
        assert FIRST_ISS in page.text
        assert "Add a trusted issuer" not in page.text
        denied = reader.post(
            "/admin/trust/issuers",
            {"profile": "Wallet users", "iss": NEW_ISS, "jwks": json.dumps(Key().jwk)},
        )
        assert denied.status_code == 403
        detail = reader.client.get(f"/admin/trust/issuers/{issuer_slug(FIRST_ISS)}")
        assert "Remove from profile" not in detail.text
        removal = reader.post(
            f"/admin/trust/issuers/{issuer_slug(FIRST_ISS)}/remove",
            {"profile": profile(registry).id},
        )
        assert removal.status_code == 403
    assert len(profile(registry).credentials.issuers) == 1  # type: ignore[union-attr]
    assert events(registry, "trust.") == []


def test_without_csrf_nothing_changes(admin: AdminBrowser, registry: Registry) -> None:
    response = admin.client.post(
        "/admin/trust/issuers",
        data={"profile": "Wallet users", "iss": NEW_ISS, "jwks": json.dumps(Key().jwk)},
    )
    assert response.status_code == 403
    assert len(profile(registry).credentials.issuers) == 1  # type: ignore[union-attr]


def test_trust_pages_have_no_inline_script_style_or_handlers(admin: AdminBrowser) -> None:
    for url in ("/admin/trust", f"/admin/trust/issuers/{issuer_slug(FIRST_ISS)}"):
        page = admin.client.get(url)
        assert page.status_code == 200, url
        assert INLINE.search(page.text) is None, url
    refused = add(admin, iss="", source="jwks", jwks="")
    assert refused.status_code == 422
    assert INLINE.search(refused.text) is None


def test_adding_on_postgresql_too(any_registry: Registry) -> None:
    make_profiles(any_registry)
    with admin_browser(any_registry) as admin:
        response = add(admin, iss=NEW_ISS, source="jwks", jwks=json.dumps(Key(kid="pg").jwk))
        assert response.status_code == 303, response.text
    assert [i.iss for i in profile(any_registry).credentials.issuers] == [FIRST_ISS, NEW_ISS]  # type: ignore[union-attr]
    assert [k for k, _, _ in events(any_registry, "trust.")] == ["trust.issuer_added"]


# --- the admin API ---------------------------------------------------------------------------


def bearer(registry: Registry, scope: str, name: str = "automation") -> dict[str, str]:
    token = registry.api_tokens.create(name=name, scopes=[scope]).token
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def api(registry: Registry) -> Iterator[Any]:
    from tests.support.web import page_client

    make_profiles(registry)
    with page_client(registry) as client:
        yield client


def test_api_lists_adds_and_removes_issuers(api: Any, registry: Registry) -> None:
    admin_headers = bearer(registry, "admin")
    listed = api.get("/api/admin/trust/issuers", headers=bearer(registry, "admin:read", "r"))
    assert listed.status_code == 200
    issuers = {i["iss"]: i for i in listed.json()["issuers"]}
    assert issuers[FIRST_ISS]["source"] == "jwks"
    assert issuers[FIRST_ISS]["keys"][0]["kid"] == "first-1"
    assert issuers[FIRST_ISS]["profiles"][0]["name"] == "Wallet users"
    assert issuers[registry.idv_issuance.issuer_id]["builtin"] is True

    key = Key(kid="api-1")
    added = api.post(
        "/api/admin/trust/issuers",
        json={"profile": "Wallet users", "iss": NEW_ISS, "jwks": {"keys": [key.jwk]}},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["keys"][0]["thumbprint"] == ECKey.import_key(key.jwk).thumbprint()
    verify_sd_jwt_vc(sd_jwt_vc(key, NEW_ISS), trust=trust_of(registry), now=NOW)

    pki = make_pki()
    from cryptography.hazmat.primitives import serialization

    anchor = pki.iaca.public_bytes(serialization.Encoding.PEM).decode()
    added = api.post(
        "/api/admin/trust/issuers",
        json={"profile": "Wallet users", "iss": "https://dmv.example", "x5c": [anchor]},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["anchors"][0]["is_ca"] is True

    removed = api.delete(
        "/api/admin/trust/issuers",
        params={"profile": "Wallet users", "iss": NEW_ISS},
        headers=admin_headers,
    )
    assert removed.status_code == 204
    assert [i.iss for i in profile(registry).credentials.issuers] == [  # type: ignore[union-attr]
        FIRST_ISS,
        "https://dmv.example",
    ]
    assert [(k, a) for k, a, _ in events(registry, "trust.")] == [
        ("trust.issuer_added", "token:automation"),
        ("trust.issuer_added", "token:automation"),
        ("trust.issuer_removed", "token:automation"),
    ]


def test_api_refusals_are_problems(api: Any, registry: Registry) -> None:
    headers = bearer(registry, "admin")
    private = ECKey.generate_key("P-256").as_dict(private=True)
    refused = api.post(
        "/api/admin/trust/issuers",
        json={"profile": "Wallet users", "iss": NEW_ISS, "jwks": private},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_key_material"
    assert "private key" in refused.json()["detail"]
    assert private["d"] not in refused.text
    both = api.post(
        "/api/admin/trust/issuers",
        json={"profile": "Wallet users", "iss": NEW_ISS, "jwks_uri": "https://x/j", "did": "x"},
        headers=headers,
    )
    assert both.status_code == 422
    missing = api.delete(
        "/api/admin/trust/issuers", params={"profile": "nobody", "iss": NEW_ISS}, headers=headers
    )
    assert missing.status_code == 404
    last = api.delete(
        "/api/admin/trust/issuers",
        params={"profile": "Wallet users", "iss": FIRST_ISS},
        headers=headers,
    )
    assert last.status_code == 422
    assert last.json()["code"] == "last_issuer"


def test_api_reader_token_cannot_change_trust(api: Any, registry: Registry) -> None:
    headers = bearer(registry, "admin:read")
    denied = api.post(
        "/api/admin/trust/issuers",
        json={"profile": "Wallet users", "iss": NEW_ISS, "jwks": {"keys": [Key().jwk]}},
        headers=headers,
    )
    assert denied.status_code == 403
    denied = api.delete(
        "/api/admin/trust/issuers",
        params={"profile": "Wallet users", "iss": FIRST_ISS},
        headers=headers,
    )
    assert denied.status_code == 403
    assert api.get("/api/admin/trust/issuers").status_code == 401
    assert events(registry, "trust.") == []


def test_api_lists_providers(api: Any, registry: Registry) -> None:
    response = api.get("/api/admin/providers", headers=bearer(registry, "admin:read"))
    assert response.status_code == 200
    body = response.json()
    assert body["openid4vp"]["client_id"] == registry.presentations.client_id
    assert body["openid4vp"]["client_id_scheme"] == "redirect_uri"
    assert body["reference"]["issuer"] == registry.idv_issuance.issuer_id
    assert [p["name"] for p in body["reference"]["profiles"]] == ["Reference"]
    assert body["oidc_ida"] == []
    assert body["callback_url"].endswith("/recover/callback")


def test_the_trust_forms_carry_a_real_csrf_token(admin: AdminBrowser) -> None:
    for url in ("/admin/trust", f"/admin/trust/issuers/{issuer_slug(FIRST_ISS)}"):
        tokens = re.findall(r'name="csrf_token" value="([^"]*)"', admin.client.get(url).text)
        assert tokens, url
        assert all(t == admin.csrf for t in tokens), url

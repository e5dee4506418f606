"""One negative test per SD-JWT / SD-JWT VC requirement (R12–R15), named by id."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest

from ssar.credentials.jose import b64url_encode
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.credentials.trust import TrustConfig, TrustedIssuer
from ssar.credentials.verify import verify_credential
from ssar.errors import CredentialError
from tests.unit.credentials.factory import (
    AUD,
    ISS,
    NONCE,
    NOW,
    Issuer,
    Key,
    T,
    disclosure,
    enc,
    present,
    sign_jwt,
)


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def holder() -> Key:
    return Key()


def verify(presentation: str, issuer: Issuer, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "trust": issuer.trust(),
        "now": NOW,
        "expected_nonce": NONCE,
        "expected_audience": AUD,
        "require_key_binding": True,
    }
    options.update(kwargs)
    return verify_sd_jwt_vc(presentation, **options)


def code_of(presentation: str, issuer: Issuer, **kwargs: Any) -> str:
    with pytest.raises(CredentialError) as err:
        verify(presentation, issuer, **kwargs)
    return err.value.code


def test_baseline_presentation_verifies(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    result = verify(present(jwt, ds, holder), issuer)
    assert result.claims["given_name"] == "Erika"
    assert result.key_binding is True
    assert result.format == "dc+sd-jwt"
    assert result.issuer == ISS


# R12 -----------------------------------------------------------------------------------------


def test_R12_wrong_nonce_rejects_presentation(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert code_of(present(jwt, ds, holder, nonce="replayed"), issuer) == "nonce_mismatch"


def test_R12_wrong_audience_rejects_presentation(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert code_of(present(jwt, ds, holder, aud="https://evil.test"), issuer) == "audience_mismatch"


# R13 -----------------------------------------------------------------------------------------


def test_R13_alg_none_refused(issuer: Issuer) -> None:
    body = {"iss": ISS, "vct": "urn:ssar:identity:1", "iat": T}
    token = enc({"alg": "none", "typ": "dc+sd-jwt"}) + "." + enc(body) + ".~"
    assert code_of(token, issuer, require_key_binding=False) == "unsupported_alg"


def test_R13_alg_outside_allow_list_refused(issuer: Issuer) -> None:
    body = {"iss": ISS, "vct": "urn:ssar:identity:1", "iat": T}
    token = enc({"alg": "HS256", "typ": "dc+sd-jwt"}) + "." + enc(body) + ".c2lnbmF0dXJl~"
    assert code_of(token, issuer, require_key_binding=False) == "unsupported_alg"


def test_R13_malformed_disclosure_refused(issuer: Issuer, holder: Key) -> None:
    bad = b64url_encode(json.dumps(["salt-only"]).encode())
    digest = b64url_encode(hashlib.sha256(bad.encode()).digest())
    jwt, _ = issuer.sd_jwt(holder=holder, extra_digests=(digest,))
    assert code_of(present(jwt, [bad], holder), issuer) == "malformed"


def test_R13_disclosure_not_json_refused(issuer: Issuer, holder: Key) -> None:
    jwt, _ = issuer.sd_jwt(holder=holder)
    assert code_of(present(jwt, ["bm90IGpzb24"], holder), issuer) == "malformed"


@pytest.mark.parametrize("reserved", ["_sd", "..."])
def test_R13_reserved_claim_name_in_disclosure_refused(
    issuer: Issuer, holder: Key, reserved: str
) -> None:
    d, h = disclosure(reserved, ["x"])
    jwt, _ = issuer.sd_jwt(holder=holder, extra_digests=(h,))
    assert code_of(present(jwt, [d], holder), issuer) == "malformed"


def test_R13_duplicate_digest_refused(issuer: Issuer, holder: Key) -> None:
    d, h = disclosure("given_name", "Erika")
    jwt, _ = issuer.sd_jwt(holder=holder, payload={"address": {"_sd": [h]}}, extra_digests=(h,))
    assert code_of(present(jwt, [d], holder), issuer) == "malformed"


def test_R13_duplicate_decoy_digest_refused(issuer: Issuer, holder: Key) -> None:
    _, h = disclosure("never_presented", 1)
    jwt, _ = issuer.sd_jwt(holder=holder, extra_digests=(h, h))
    assert code_of(present(jwt, [], holder), issuer) == "malformed"


def test_R13_same_disclosure_presented_twice_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert code_of(present(jwt, ds + ds, holder), issuer) == "malformed"


def test_R13_unreferenced_disclosure_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    stray, _ = disclosure("is_admin", True)
    assert code_of(present(jwt, [*ds, stray], holder), issuer) == "digest_mismatch"


def test_R13_claim_name_collision_refused(issuer: Issuer, holder: Key) -> None:
    d, h = disclosure("given_name", "Mallory")
    jwt, _ = issuer.sd_jwt(holder=holder, payload={"given_name": "Erika"}, extra_digests=(h,))
    assert code_of(present(jwt, [d], holder), issuer) == "malformed"


def test_R13_unknown_sd_alg_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder, payload={"_sd_alg": "md5"})
    assert code_of(present(jwt, ds, holder), issuer) == "unsupported_alg"


def test_R13_array_disclosure_in_object_refused(issuer: Issuer, holder: Key) -> None:
    d, h = disclosure(None, "DE")
    jwt, _ = issuer.sd_jwt(holder=holder, extra_digests=(h,))
    assert code_of(present(jwt, [d], holder), issuer) == "malformed"


def test_R13_array_elements_nested_and_decoys_processed(issuer: Issuer, holder: Key) -> None:
    de, de_h = disclosure(None, "DE")
    inner, inner_h = disclosure("locality", "Berlin")
    addr, addr_h = disclosure("address", {"_sd": [inner_h], "country": "DE"})
    _, decoy = disclosure(None, "decoy")
    jwt, _ = issuer.sd_jwt(
        holder=holder,
        payload={"nationalities": [{"...": de_h}, {"...": decoy}, "FR"]},
        extra_digests=(addr_h,),
    )
    result = verify(present(jwt, [de, addr, inner], holder), issuer)
    assert result.claims["nationalities"] == ["DE", "FR"]
    assert result.claims["address"] == {"country": "DE", "locality": "Berlin"}


# R14 -----------------------------------------------------------------------------------------


def test_R14_key_binding_required_by_policy_not_presence(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert code_of(present(jwt, ds), issuer) == "key_binding_missing"
    assert verify(present(jwt, ds), issuer, require_key_binding=False).key_binding is False


def test_R14_kb_jwt_wrong_typ_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert code_of(present(jwt, ds, holder, typ="JWT"), issuer) == "key_binding_invalid"


def test_R14_kb_jwt_signed_by_other_key_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert code_of(present(jwt, ds, Key()), issuer) == "key_binding_invalid"


@pytest.mark.parametrize("offset", [-301 - 60, 120])
def test_R14_kb_jwt_iat_outside_window_refused(issuer: Issuer, holder: Key, offset: int) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert code_of(present(jwt, ds, holder, iat=T + offset), issuer) == "key_binding_invalid"


def test_R14_kb_jwt_iat_within_window_accepted(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert verify(present(jwt, ds, holder, iat=T - 290), issuer).key_binding


def test_R14_sd_hash_mismatch_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    presentation = present(jwt, ds, holder, hash_override=b64url_encode(b"\0" * 32))
    assert code_of(presentation, issuer) == "sd_hash_mismatch"


def test_R14_kb_jwt_without_cnf_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"})
    assert code_of(present(jwt, ds, holder), issuer) == "key_binding_invalid"


def test_R14_kb_jwt_alg_none_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    sd_part = present(jwt, ds)
    kb = enc({"alg": "none", "typ": "kb+jwt"}) + "." + enc({"nonce": NONCE}) + "."
    assert code_of(sd_part + kb, issuer) == "unsupported_alg"


# R15 -----------------------------------------------------------------------------------------


def test_R15_typ_must_be_dc_sd_jwt(holder: Key) -> None:
    issuer = Issuer(typ="JWT")
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert code_of(present(jwt, ds, holder), issuer) == "malformed"


def test_R15_legacy_vc_sd_jwt_typ_accepted(holder: Key) -> None:
    issuer = Issuer(typ="vc+sd-jwt")
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    assert verify(present(jwt, ds, holder), issuer).format == "vc+sd-jwt"


def test_R15_vct_required(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder, payload={"vct": None})
    assert code_of(present(jwt, ds, holder), issuer) == "malformed"


def test_R15_vct_outside_allow_list_refused(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"given_name": "Erika"}, holder=holder)
    presentation = present(jwt, ds, holder)
    assert code_of(presentation, issuer, allowed_types={"urn:other:1"}) == "untrusted_issuer"
    assert verify(presentation, issuer, allowed_types={"urn:ssar:identity:1"}).credential_type


@pytest.mark.parametrize("claim", ["iss", "nbf", "exp", "cnf", "vct", "status"])
def test_R15_structural_claim_never_selectively_disclosed(
    issuer: Issuer, holder: Key, claim: str
) -> None:
    values: dict[str, Any] = {
        "iss": ISS,
        "vct": "urn:ssar:identity:1",
        "cnf": {"jwk": holder.jwk},
        "status": {"status_list": {"idx": 0, "uri": "https://s.test/1"}},
    }
    jwt, ds = issuer.sd_jwt(
        disclosed={claim: values.get(claim, T + 60)},
        holder=None if claim == "cnf" else holder,
        payload={claim: None},  # signed only as a disclosure
    )
    with pytest.raises(CredentialError) as err:
        verify(present(jwt, ds, holder), issuer)
    assert err.value.code in ("malformed", "untrusted_issuer")
    assert "must not be selectively disclosed" in err.value.detail or claim == "iss"


def test_R15_issuer_key_only_from_trust_configuration(holder: Key) -> None:
    rogue = Issuer()
    jwt, ds = rogue.sd_jwt(disclosed={"a": 1}, holder=holder, header={"jwk": rogue.key.jwk})
    trusted_elsewhere = TrustConfig(
        issuers=(TrustedIssuer(iss="https://other.test", jwks={"keys": [rogue.key.jwk]}),)
    )
    assert code_of(present(jwt, ds, holder), rogue, trust=trusted_elsewhere) == "untrusted_issuer"
    assert code_of(present(jwt, ds, holder), rogue, trust=TrustConfig()) == "untrusted_issuer"


def test_R15_did_jwk_issuer_only_when_allowed(holder: Key) -> None:
    key = Key()
    did = "did:jwk:" + enc(key.jwk)
    issuer = Issuer(key=key, iss=did)
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder, header={"kid": did + "#0"})
    presentation = present(jwt, ds, holder)
    assert code_of(presentation, issuer, trust=TrustConfig()) == "untrusted_issuer"
    allowed = TrustConfig(allow_did_methods=frozenset({"jwk"}))
    assert verify(presentation, issuer, trust=allowed).issuer == did


def test_R15_did_web_issuer_through_injected_resolver(holder: Key) -> None:
    key = Key()
    did = "did:web:issuer.test"
    document = {
        "id": did,
        "verificationMethod": [
            {"id": "#k1", "type": "JsonWebKey", "controller": did, "publicKeyJwk": key.jwk}
        ],
        "assertionMethod": ["#k1"],
    }
    issuer = Issuer(key=key, iss=did)
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder, header={"kid": did + "#k1"})
    trust = TrustConfig(allow_did_methods=frozenset({"web"}))
    result = verify(present(jwt, ds, holder), issuer, trust=trust, did_resolver=lambda d: document)
    assert result.issuer == did
    document_without_assertion = {**document, "assertionMethod": []}
    assert (
        code_of(
            present(jwt, ds, holder),
            issuer,
            trust=trust,
            did_resolver=lambda d: document_without_assertion,
        )
        == "untrusted_issuer"
    )


def test_R15_expired_and_not_yet_valid(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder, payload={"exp": T - 3600})
    assert code_of(present(jwt, ds, holder), issuer) == "expired"
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder, payload={"nbf": T + 3600})
    assert code_of(present(jwt, ds, holder), issuer) == "not_yet_valid"
    # the leeway tolerates a small clock skew
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder, payload={"nbf": T + 30})
    assert verify(present(jwt, ds, holder), issuer).valid_from is not None


def test_R15_signature_over_edited_disclosure_list_still_binds(issuer: Issuer, holder: Key) -> None:
    # the KB-JWT covers the exact disclosures presented: adding one afterwards breaks sd_hash
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1, "b": 2}, holder=holder)
    presentation = present(jwt, ds[:1], holder)
    sd_part, kb = presentation.rsplit("~", 1)
    assert code_of(f"{sd_part}~{ds[1]}~{kb}", issuer) == "sd_hash_mismatch"


def test_verify_credential_dispatches_on_typ(issuer: Issuer, holder: Key) -> None:
    jwt, ds = issuer.sd_jwt(disclosed={"a": 1}, holder=holder)
    result = verify_credential(
        present(jwt, ds, holder).encode(),
        trust=issuer.trust(),
        now=NOW + timedelta(seconds=1),
        expected_nonce=NONCE,
        expected_audience=AUD,
        require_key_binding=True,
    )
    assert result.format == "dc+sd-jwt"
    plain = Issuer(typ="example+sd-jwt")
    jwt, ds = plain.sd_jwt(disclosed={"a": 1})
    result = verify_credential(present(jwt, ds), trust=plain.trust(), now=NOW)
    assert result.format == "sd-jwt"
    with pytest.raises(CredentialError) as err:
        verify_credential(present(jwt, ds), trust=plain.trust(), now=NOW, allowed_types={"x"})
    assert err.value.code == "untrusted_issuer"


def test_sign_jwt_helper_really_signs(issuer: Issuer) -> None:
    # guards the factory: a token signed by another key must not verify
    token = sign_jwt({"typ": "dc+sd-jwt"}, {"iss": ISS, "vct": "v"}, Key()) + "~"
    assert code_of(token, issuer, require_key_binding=False) == "bad_signature"

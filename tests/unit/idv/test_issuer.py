"""The SD-JWT VC issuer and the status lists on their own: claim validation, what is disclosable
and what is signed directly, decoys, the key file, status list encoding, allocation and
changes, and the Status List Token against the verifier's own checks."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ssar.clock import FixedClock
from ssar.credentials.jose import b64url_decode, parse_compact_jws
from ssar.credentials.sdjwt_vc import NEVER_DISCLOSED
from ssar.credentials.statuslist import (
    decode_status_list,
    verify_status_list_token,
)
from ssar.credentials.trust import TrustConfig, TrustedIssuer
from ssar.credentials.verify import verify_credential
from ssar.errors import Conflict, ValidationFailed
from ssar.idv.issuer import (
    KEY_FILE,
    SdJwtVcIssuer,
    check_portrait,
    load_issuer_key,
    parse_identity,
)
from ssar.idv.statuslist import StatusListService, encode_status_list
from ssar.registry import Registry
from ssar.store.types import new_id
from ssar.wallet.store import HolderKey
from tests.support.issuer import PORTRAIT

ISSUER = "https://ssar.test/idv"
JPEG = base64.b64decode(PORTRAIT.split(",", 1)[1])
IDENTITY: dict[str, Any] = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1984-01-26",
    "verification": {
        "document_type": "passport",
        "issuing_country": "DEU",
        "strength": "SUPERIOR",
        "time": "2026-11-23T08:55:00Z",
    },
}


@pytest.fixture
def issuer(tmp_path: Path) -> SdJwtVcIssuer:
    return SdJwtVcIssuer(key=load_issuer_key(tmp_path), issuer=ISSUER)


def _trust(issuer: SdJwtVcIssuer) -> TrustConfig:
    return TrustConfig(issuers=(TrustedIssuer(iss=ISSUER, jwks=issuer.jwks()),))


def _holder() -> HolderKey:
    return HolderKey(ec.generate_private_key(ec.SECP256R1()))


def _issue(issuer: SdJwtVcIssuer, clock: FixedClock, **kwargs: Any) -> str:
    claims = parse_identity(IDENTITY, now=clock.now()).to_claims(JPEG)
    return issuer.issue(
        claims=claims,
        holder_jwk=_holder().public_jwk(),
        status=kwargs.get("status"),
        now=clock.now(),
    ).credential


def test_issuer_key_is_its_own_private_file(tmp_path: Path) -> None:
    key = load_issuer_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_issuer_key(tmp_path).kid == key.kid  # loaded, not regenerated
    assert key.public_jwk()["kid"] == key.kid


def test_R15_every_personal_claim_is_a_disclosure_and_the_rest_is_signed(
    issuer: SdJwtVcIssuer, clock: FixedClock
) -> None:
    status = {"status_list": {"idx": 7, "uri": ISSUER + "/status/x"}}
    text = _issue(issuer, clock, status=status)
    jwt, *disclosures, last = text.split("~")
    assert last == ""
    jws = parse_compact_jws(jwt)
    assert jws.typ == "dc+sd-jwt"
    assert jws.alg == "ES256"
    assert jws.kid == issuer.key.kid
    payload = jws.payload
    for name in ("iss", "iat", "nbf", "exp", "vct", "cnf", "status"):
        assert name in payload
    assert payload["status"] == status
    assert "d" not in payload["cnf"]["jwk"]
    named = {json.loads(b64url_decode(d))[1] for d in disclosures}
    assert named == {"given_name", "family_name", "birthdate", "portrait", "verification"}
    assert not named & NEVER_DISCLOSED
    # decoys: more digests than disclosures
    assert len(payload["_sd"]) > len(disclosures)
    assert payload["_sd"] == sorted(payload["_sd"])
    verified = verify_credential(text, trust=_trust(issuer), now=clock.now())
    assert verified.claims["verification"] == {
        "document_type": "passport",
        "issuing_country": "DEU",
        "strength": "SUPERIOR",
        "time": "2026-11-23T08:55:00Z",
    }
    assert verified.claims["portrait"].startswith("data:image/jpeg;base64,/9j/")
    assert verified.valid_until is not None
    assert verified.valid_until - clock.now() == issuer.lifetime


def test_credential_is_not_valid_before_issuance_or_after_its_lifetime(
    issuer: SdJwtVcIssuer, clock: FixedClock
) -> None:
    from ssar.errors import CredentialError

    text = _issue(issuer, clock)
    with pytest.raises(CredentialError) as early:
        verify_credential(text, trust=_trust(issuer), now=clock.now() - timedelta(hours=1))
    assert early.value.code == "not_yet_valid"
    with pytest.raises(CredentialError) as late:
        verify_credential(
            text, trust=_trust(issuer), now=clock.now() + issuer.lifetime + timedelta(hours=1)
        )
    assert late.value.code == "expired"


def test_reserved_claim_names_cannot_be_disclosures(
    issuer: SdJwtVcIssuer, clock: FixedClock
) -> None:
    with pytest.raises(ValidationFailed):
        issuer.issue(
            claims={"vct": "other"}, holder_jwk=_holder().public_jwk(), status=None, now=clock.now()
        )


@pytest.mark.parametrize(
    "change",
    [
        {"given_name": ""},
        {"family_name": "Muster\x00mann"},
        {"birthdate": "1984-1-26"},
        {"birthdate": "2999-01-01"},
        {
            "verification": {
                "document_type": "passport",
                "issuing_country": "de",
                "strength": "STRONG",
            }
        },
        {
            "verification": {
                "document_type": "selfie",
                "issuing_country": "DE",
                "strength": "STRONG",
            }
        },
        {"verification": {"document_type": "passport", "issuing_country": "DE", "strength": "LOW"}},
        {
            "verification": {
                "document_type": "passport",
                "issuing_country": "DE",
                "strength": "FAIR",
                "time": "2026-11-23T08:55:00",
            }
        },
        {"nationality": "DE"},
    ],
)
def test_identity_that_breaks_a_rule_is_refused(change: dict[str, Any], clock: FixedClock) -> None:
    with pytest.raises(ValidationFailed):
        parse_identity({**IDENTITY, **change}, now=clock.now())


def test_verification_time_defaults_to_now(clock: FixedClock) -> None:
    identity = {**IDENTITY, "verification": {**IDENTITY["verification"]}}
    del identity["verification"]["time"]
    claims = parse_identity(identity, now=clock.now())
    assert claims.evidence.time == clock.now()


@pytest.mark.parametrize(
    "portrait", [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff" + b"\x00" * 10, JPEG * 0]
)
def test_portrait_must_be_a_jpeg(portrait: bytes) -> None:
    with pytest.raises(ValidationFailed):
        check_portrait(portrait)


def test_oversized_portrait_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        check_portrait(b"\xff\xd8\xff" + b"\x00" * (600 * 1024) + b"\xff\xd9")
    check_portrait(JPEG)


# --- status lists ----------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_encoded_status_list_decodes_with_the_verifier(bits: int) -> None:
    entries = {0: 1, 5: 1, 63: (1 << bits) - 1, 64: 1}
    decoded = decode_status_list(encode_status_list(entries, size=128, bits=bits))
    assert len(decoded) == 128
    for index in range(128):
        assert decoded.status(index) == entries.get(index, 0)


def test_encoding_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_status_list({0: 4}, size=8, bits=2)
    with pytest.raises(ValueError, match="does not fit"):
        encode_status_list({8: 1}, size=8, bits=2)


@pytest.fixture
def lists(registry: Registry, tmp_path: Path) -> StatusListService:
    return StatusListService(
        database=registry.database,
        clock=registry.clock,
        key=load_issuer_key(tmp_path),
        issuer=ISSUER,
        list_size=64,
    )


def _allocate(lists: StatusListService, now: Any) -> tuple[str, Any]:
    credential_id = new_id()
    with lists.database.transaction() as session:
        reference = lists.allocate(
            session,
            credential_id=credential_id,
            offer_id=None,
            vct="urn:ssar:identity:1",
            holder_thumbprint="t",
            issued_at=now,
            expires_at=now + timedelta(days=1),
        )
    return credential_id, reference


def test_allocation_is_random_unique_and_rolls_over_to_a_new_list(
    lists: StatusListService, clock: FixedClock
) -> None:
    references = [_allocate(lists, clock.now())[1] for _ in range(40)]
    by_list: dict[str, set[int]] = {}
    for reference in references:
        by_list.setdefault(reference.list_id, set()).add(reference.index)
        assert reference.uri == f"{ISSUER}/status/{reference.list_id}"
        assert reference.to_claim() == {
            "status_list": {"idx": reference.index, "uri": reference.uri}
        }
    # a list of 64 is used until half full, then the next one starts
    assert len(by_list) == 2
    assert sum(len(v) for v in by_list.values()) == 40
    first = references[0].list_id
    assert len(by_list[first]) == 32
    assert by_list[first] != set(range(32))  # not handed out in order


def test_R16_status_list_token_verifies_and_shows_changes(
    lists: StatusListService, clock: FixedClock
) -> None:
    revoked, reference = _allocate(lists, clock.now())
    suspended, suspended_ref = _allocate(lists, clock.now())
    valid, valid_ref = _allocate(lists, clock.now())
    assert lists.revoke(revoked, reason="lost").status == "revoked"
    assert lists.suspend(suspended).status == "suspended"
    trust = TrustConfig(
        issuers=(TrustedIssuer(iss=ISSUER, jwks={"keys": [lists.key.public_jwk()]}),)
    )
    token = lists.token(reference.list_id)
    jws = parse_compact_jws(token)
    assert jws.typ == "statuslist+jwt"
    assert jws.payload["ttl"] == int(lists.ttl.total_seconds())
    verified = verify_status_list_token(
        token, expected_uri=reference.uri, expected_issuer=ISSUER, trust=trust, now=clock.now()
    )
    assert verified.status_list.bits == 2
    assert verified.status_list.status(reference.index) == 1
    assert verified.status_list.status(suspended_ref.index) == 2
    assert verified.status_list.status(valid_ref.index) == 0
    assert lists.status(valid).status == "valid"


def test_revocation_is_final_and_suspension_reversible(
    lists: StatusListService, clock: FixedClock
) -> None:
    credential_id, _ = _allocate(lists, clock.now())
    lists.suspend(credential_id)
    assert lists.reinstate(credential_id).status == "valid"
    lists.revoke(credential_id)
    assert lists.revoke(credential_id).status == "revoked"  # idempotent
    with pytest.raises(Conflict):
        lists.reinstate(credential_id)
    with pytest.raises(Conflict):
        lists.suspend(credential_id)


def test_unknown_credentials_and_lists(lists: StatusListService) -> None:
    from ssar.errors import NotFound

    with pytest.raises(NotFound):
        lists.revoke("nope")
    with pytest.raises(NotFound):
        lists.token("nope")
    with pytest.raises(ValidationFailed):
        lists.revoke("nope", reason="x" * 200)


def test_allocation_and_publishing_on_each_database(
    any_registry: Registry, tmp_path: Path, clock: FixedClock
) -> None:
    """Index collisions are retried under a savepoint (PostgreSQL aborts the transaction on an
    integrity error otherwise); a list of 8 fills up within a few allocations."""
    lists = StatusListService(
        database=any_registry.database,
        clock=clock,
        key=load_issuer_key(tmp_path),
        issuer=ISSUER,
        list_size=8,
    )
    allocated = [_allocate(lists, clock.now()) for _ in range(12)]
    pairs = {(reference.list_id, reference.index) for _, reference in allocated}
    assert len(pairs) == 12
    credential_id, reference = allocated[0]
    lists.revoke(credential_id)
    trust = TrustConfig(
        issuers=(TrustedIssuer(iss=ISSUER, jwks={"keys": [lists.key.public_jwk()]}),)
    )
    verified = verify_status_list_token(
        lists.token(reference.list_id),
        expected_uri=reference.uri,
        expected_issuer=ISSUER,
        trust=trust,
        now=clock.now(),
    )
    assert verified.status_list.status(reference.index) == 1


def test_R16_status_list_is_published_while_a_writer_holds_the_sqlite_lock(
    lists: StatusListService, clock: FixedClock
) -> None:
    """The verifier checks status inside its own write transaction; when it fetches a list of
    this issuer in the same process, publishing must not wait for that lock."""
    from sqlalchemy import text

    credential_id, reference = _allocate(lists, clock.now())
    lists.revoke(credential_id)
    with lists.database.transaction() as session:
        session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE has run: the write lock is held
        token = lists.token(reference.list_id)
    assert parse_compact_jws(token).payload["sub"] == reference.uri

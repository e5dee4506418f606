"""OpenID4VCI 1.0 for the reference IDV: credential offers with a pre-authorized code and a
transaction code, the token, nonce and credential endpoints, and the issuer's metadata.

Every method is one unit of work; all state lives in ``idv_offers`` and ``idv_nonces`` so any
process serves any step. Secrets are 256-bit values from ``secrets`` and only their keyed hashes
are looked up. What the verification found (claims, evidence, portrait) is sealed
(``ssar.sealing``) to a key derived from the pre-authorized code, re-sealed to one derived
from the access token at the token endpoint, and erased once the credential is issued or the
offer ends: the database alone never shows it.

Offer states (single use by guarded ``UPDATE … WHERE status = …``)::

    create_offer ──▶ offered ──exchange_token──▶ token_issued ──issue_credential──▶ issued
                       │  └── too many wrong tx_codes ──▶ locked        │
                       └─────────── expires_at / token expiry ──────────┴──▶ expired
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.clock import Clock
from ssar.credentials.jose import parse_compact_jws, public_key_from_jwk, verify_signature
from ssar.errors import CredentialError, NotFound
from ssar.idv.errors import IssuanceError
from ssar.idv.issuer import (
    CREDENTIAL_TYP,
    DEFAULT_LIFETIME,
    VCT,
    SdJwtVcIssuer,
    check_portrait,
    parse_identity,
)
from ssar.idv.statuslist import LIST_SIZE, StatusListService
from ssar.keys import SecretKey, SigningKey
from ssar.openid4vp.links import qr_svg
from ssar.sealing import SealError, derive_private_key, open_sealed, public_bytes, seal
from ssar.store.db import Database
from ssar.store.tables import IdvNonceRow, IdvOfferRow
from ssar.store.types import new_id

if TYPE_CHECKING:
    from ssar.registry import Registry

PREFIX = "/idv"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
OFFER_SCHEME = "openid-credential-offer"
CONFIGURATION_ID = "ssar_identity_sd_jwt"
SCOPE = "ssar_identity"
TOKEN_BYTES = 32  # 256 bits (≥ 128 asked for pre-authorized codes, tokens and nonces)
CLAIM_DISPLAY = {
    "given_name": "Given name",
    "family_name": "Family name",
    "birthdate": "Date of birth",
    "portrait": "Portrait",
    "verification": "Verification evidence",
}

_PURPOSE_REF = "idv/offer-ref"
_PURPOSE_CODE = "idv/pre-authorized-code"
_PURPOSE_TX = "idv/tx-code"
_PURPOSE_TOKEN = "idv/access-token"  # noqa: S105 - a hash purpose, not a secret
_PURPOSE_NONCE = "idv/c-nonce"
_SEAL_CODE = "idv/offer"
_SEAL_TOKEN = "idv/access"  # noqa: S105 - a seal purpose, not a secret
_CLOCK_SKEW = timedelta(seconds=60)


def new_secret() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of an EC public JWK."""
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, sort_keys=True, separators=(",", ":")
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


def _error(code: str, detail: str) -> IssuanceError:
    return IssuanceError(detail, code=code)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """A credential offer for the person just verified: show ``link`` (or the QR code at
    ``qr_url``) and tell them ``tx_code``, which the wallet asks for."""

    id: str
    credential_offer: dict[str, Any]  # the offer object, pre-authorized code included
    credential_offer_uri: str
    link: str  # openid-credential-offer://?credential_offer_uri=…
    qr_url: str
    tx_code: str | None
    expires_at: datetime

    @property
    def link_by_value(self) -> str:
        """``openid-credential-offer://?credential_offer=…`` (the offer itself in the link)."""
        offer = json.dumps(self.credential_offer, separators=(",", ":"))
        return f"{OFFER_SCHEME}://?{urlencode({'credential_offer': offer}, quote_via=quote)}"


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True)
class IssuedCredential:
    credential_id: str
    credential: str  # the SD-JWT VC, ``jwt~d1~…~dn~``

    def to_json(self) -> dict[str, Any]:
        return {"credentials": [{"credential": self.credential}]}


@dataclass(frozen=True)
class OfferStatus:
    """Where an offer stands (for the page that shows it, and to find the credential)."""

    id: str
    status: str  # offered | token_issued | issued | locked | expired
    credential_id: str | None
    expires_at: datetime
    issued_at: datetime | None


@dataclass(frozen=True)
class VerifiedProof:
    holder_jwk: dict[str, str]
    nonce: str


# --- the proof of possession -----------------------------------------------------------------


def verify_proof_jwt(
    proof: Any,
    *,
    expected_audience: str,
    now: datetime,
    max_age: timedelta,
) -> VerifiedProof:
    """Check a ``jwt`` proof (OpenID4VCI §8.2.1.1, Appendix F.1) in order: shape, ``typ``
    ``openid4vci-proof+jwt``, ``alg`` ES256, a public P-256 ``jwk`` header (no ``kid``/``x5c``),
    the signature by that key, ``aud`` = the issuer, ``iat`` within ``max_age`` (and not ahead
    by more than a minute), a ``nonce``. Every failure is ``invalid_proof``; whether the nonce
    is one of ours is the caller's check (``invalid_nonce``)."""
    if not isinstance(proof, str):
        raise _error("invalid_proof", "the jwt proof is not a string")
    try:
        jws = parse_compact_jws(proof, what="proof")
    except CredentialError as exc:
        raise _error("invalid_proof", exc.detail) from exc
    if jws.typ != PROOF_TYP:
        raise _error("invalid_proof", f"proof typ must be {PROOF_TYP}")
    if jws.alg != "ES256":
        raise _error("invalid_proof", "proof alg must be ES256")
    jwk = jws.header.get("jwk")
    if "kid" in jws.header or "x5c" in jws.header or not isinstance(jwk, dict):
        raise _error("invalid_proof", "the proof must carry its key as a jwk header")
    if "d" in jwk or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise _error("invalid_proof", "the proof jwk must be a public P-256 key")
    try:
        key = public_key_from_jwk(jwk)
        verify_signature(jws, key, allowed_algs=("ES256",), what="proof")
    except CredentialError as exc:
        raise _error("invalid_proof", exc.detail) from exc
    payload = jws.payload
    aud = payload.get("aud")
    if not (aud == expected_audience or (isinstance(aud, list) and aud == [expected_audience])):
        raise _error("invalid_proof", "proof aud is not this credential issuer")
    iat = payload.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise _error("invalid_proof", "proof iat is missing")
    at = now.timestamp()
    if iat > at + _CLOCK_SKEW.total_seconds() or iat < at - max_age.total_seconds():
        raise _error("invalid_proof", "proof iat is not recent")
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise _error("invalid_nonce", "the proof carries no c_nonce")
    return VerifiedProof({k: str(jwk[k]) for k in ("kty", "crv", "x", "y")}, nonce)


def _proof_from_request(request: Mapping[str, Any]) -> str:
    """The one ``jwt`` proof of a Credential Request: ``proofs: {"jwt": [...]}`` (1.0) or the
    older ``proof: {"proof_type": "jwt", "jwt": ...}``."""
    proofs, proof = request.get("proofs"), request.get("proof")
    if proofs is not None and proof is not None:
        raise _error("invalid_credential_request", "send proofs or proof, not both")
    if proofs is not None:
        if not isinstance(proofs, Mapping) or set(proofs) != {"jwt"}:
            raise _error("invalid_proof", "only the jwt proof type is supported")
        jwts = proofs["jwt"]
        if not isinstance(jwts, list) or len(jwts) != 1:
            raise _error("invalid_proof", "exactly one jwt proof is accepted (no batches)")
        return jwts[0]  # type: ignore[no-any-return]
    if isinstance(proof, Mapping):
        if proof.get("proof_type") != "jwt":
            raise _error("invalid_proof", "only the jwt proof type is supported")
        return proof.get("jwt")  # type: ignore[return-value]
    raise _error("invalid_proof", "the credential request carries no proof")


# --- the service -----------------------------------------------------------------------------


class IssuanceService:
    """The issuer side of OpenID4VCI 1.0 (pre-authorized code flow) for identity credentials."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        secret_key: SecretKey,
        key: SigningKey,
        base_url: str,
        offer_lifetime: timedelta = timedelta(minutes=15),
        token_lifetime: timedelta = timedelta(minutes=5),
        nonce_lifetime: timedelta = timedelta(minutes=5),
        proof_max_age: timedelta = timedelta(minutes=5),
        credential_lifetime: timedelta = DEFAULT_LIFETIME,
        tx_code_length: int = 6,
        max_tx_code_attempts: int = 5,
        status_list_size: int = LIST_SIZE,
    ) -> None:
        if not 4 <= tx_code_length <= 12:
            raise ValueError("tx_code_length must be 4 to 12 digits")
        self.database = database
        self.clock = clock
        self.secret_key = secret_key
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.issuer_id = self.base_url + PREFIX
        self.offer_lifetime = offer_lifetime
        self.token_lifetime = token_lifetime
        self.nonce_lifetime = nonce_lifetime
        self.proof_max_age = proof_max_age
        self.tx_code_length = tx_code_length
        self.max_tx_code_attempts = max_tx_code_attempts
        self.issuer = SdJwtVcIssuer(
            key=key, issuer=self.issuer_id, vct=VCT, lifetime=credential_lifetime
        )
        self.status_lists = StatusListService(
            database=database,
            clock=clock,
            key=key,
            issuer=self.issuer_id,
            list_size=status_list_size,
        )

    def _hash(self, purpose: str, value: str) -> str:
        return self.secret_key.keyed_hash(purpose, value)

    def _offer_uri(self, offer_ref: str) -> str:
        return f"{self.issuer_id}/offers/{offer_ref}"

    # --- metadata ------------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        return self.issuer.jwks()

    def credential_issuer_metadata(self) -> dict[str, Any]:
        """``/.well-known/openid-credential-issuer`` (OpenID4VCI §12.2); the issuer is its own
        authorization server."""
        return {
            "credential_issuer": self.issuer_id,
            "credential_endpoint": f"{self.issuer_id}/credential",
            "nonce_endpoint": f"{self.issuer_id}/nonce",
            "display": [{"name": "SSAR identity verification", "locale": "en"}],
            "credential_configurations_supported": {
                CONFIGURATION_ID: {
                    "format": CREDENTIAL_TYP,
                    "vct": VCT,
                    "scope": SCOPE,
                    "cryptographic_binding_methods_supported": ["jwk"],
                    "credential_signing_alg_values_supported": ["ES256"],
                    "proof_types_supported": {
                        "jwt": {"proof_signing_alg_values_supported": ["ES256"]}
                    },
                    "credential_metadata": {
                        "display": [{"name": "Verified identity", "locale": "en"}],
                        "claims": [
                            {"path": [name], "display": [{"name": label, "locale": "en"}]}
                            for name, label in CLAIM_DISPLAY.items()
                        ],
                    },
                }
            },
        }

    def authorization_server_metadata(self) -> dict[str, Any]:
        """``/.well-known/oauth-authorization-server`` (RFC 8414) for the token endpoint."""
        return {
            "issuer": self.issuer_id,
            "token_endpoint": f"{self.issuer_id}/token",
            "grant_types_supported": [PRE_AUTHORIZED_GRANT],
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": ["none"],
            "pre-authorized_grant_anonymous_access_supported": True,
        }

    def jwt_vc_issuer_metadata(self) -> dict[str, Any]:
        """``/.well-known/jwt-vc-issuer`` (SD-JWT VC §5): the issuer's keys by value."""
        return {"issuer": self.issuer_id, "jwks": self.jwks()}

    # --- offers --------------------------------------------------------------------------------

    def create_offer(
        self, identity: Mapping[str, Any], portrait_jpeg: bytes, *, tx_code: bool = True
    ) -> Offer:
        """Offer an identity credential for a person the IDV has just verified.

        ``identity``: ``given_name``, ``family_name``, ``birthdate`` and ``verification``
        (``document_type``, ``issuing_country``, ``strength``, optional ``time``); see
        :func:`ssar.idv.issuer.parse_identity`. The claims and portrait are sealed until the
        wallet picks the credential up; the offer is single use and expires."""
        now = self.clock.now()
        claims = parse_identity(identity, now=now)
        check_portrait(portrait_jpeg)
        offer_ref, code = new_secret(), new_secret()
        pin = (
            "".join(str(secrets.randbelow(10)) for _ in range(self.tx_code_length))
            if tx_code
            else None
        )
        offer_id = new_id()
        sealed = seal(
            public_bytes(derive_private_key(self.secret_key, code, purpose=_SEAL_CODE)),
            json.dumps(claims.to_claims(portrait_jpeg)).encode("utf-8"),
            context=f"{_SEAL_CODE}/{offer_id}",
        )
        expires_at = now + self.offer_lifetime
        self.purge_expired()
        with self.database.transaction() as session:
            session.add(
                IdvOfferRow(
                    id=offer_id,
                    offer_ref_hash=self._hash(_PURPOSE_REF, offer_ref),
                    code_hash=self._hash(_PURPOSE_CODE, code),
                    code_blob=self.secret_key.encrypt(
                        f"{_PURPOSE_CODE}/{offer_ref}", code.encode()
                    ),
                    tx_code_hash=self._hash(f"{_PURPOSE_TX}/{offer_id}", pin) if pin else None,
                    tx_code_length=len(pin) if pin else None,
                    tx_attempts=0,
                    status="offered",
                    sealed=sealed,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        uri = self._offer_uri(offer_ref)
        return Offer(
            id=offer_id,
            credential_offer=self._offer_object(code, len(pin) if pin else None),
            credential_offer_uri=uri,
            link=f"{OFFER_SCHEME}://?{urlencode({'credential_offer_uri': uri})}",
            qr_url=f"{uri}/qr.svg",
            tx_code=pin,
            expires_at=expires_at,
        )

    def offer_status(self, offer_id: str) -> OfferStatus:
        """The state of offer ``offer_id`` (the id the caller got, not a secret)."""
        with self.database.transaction() as session:
            row = session.get(IdvOfferRow, offer_id)
            if row is None:
                raise NotFound(f"no credential offer {offer_id}")
            status = row.status
            if status in ("offered", "token_issued") and row.expires_at <= self.clock.now():
                status = "expired"
            return OfferStatus(row.id, status, row.credential_id, row.expires_at, row.issued_at)

    def _offer_object(self, code: str, tx_code_length: int | None) -> dict[str, Any]:
        grant: dict[str, Any] = {"pre-authorized_code": code}
        if tx_code_length is not None:
            grant["tx_code"] = {
                "input_mode": "numeric",
                "length": tx_code_length,
                "description": "The PIN shown on the page where you were verified",
            }
        return {
            "credential_issuer": self.issuer_id,
            "credential_configuration_ids": [CONFIGURATION_ID],
            "grants": {PRE_AUTHORIZED_GRANT: grant},
        }

    def _open_offer(self, session: Session, offer_ref: str) -> tuple[IdvOfferRow, str]:
        row = session.execute(
            select(IdvOfferRow).where(
                IdvOfferRow.offer_ref_hash == self._hash(_PURPOSE_REF, offer_ref)
            )
        ).scalar_one_or_none()
        if row is None or row.status != "offered" or row.expires_at <= self.clock.now():
            raise NotFound("no such credential offer, or it is no longer valid")
        try:
            code = self.secret_key.decrypt(f"{_PURPOSE_CODE}/{offer_ref}", row.code_blob)
        except Exception as exc:  # a tampered row: the offer is unusable
            raise NotFound("no such credential offer, or it is no longer valid") from exc
        return row, code.decode()

    def credential_offer(self, *, offer_ref: str) -> dict[str, Any]:
        """The offer object behind ``credential_offer_uri`` (while it can be redeemed)."""
        with self.database.transaction() as session:
            row, code = self._open_offer(session, offer_ref)
            return self._offer_object(code, row.tx_code_length)

    def offer_qr_svg(self, *, offer_ref: str) -> str:
        with self.database.transaction() as session:
            self._open_offer(session, offer_ref)
        uri = self._offer_uri(offer_ref)
        return qr_svg(f"{OFFER_SCHEME}://?{urlencode({'credential_offer_uri': uri})}")

    # --- token endpoint ------------------------------------------------------------------------

    def exchange_token(
        self, *, grant_type: str | None, pre_authorized_code: str | None, tx_code: str | None
    ) -> AccessToken:
        """The Token Request of the pre-authorized code flow (§6.1). Wrong, reused or expired
        codes and wrong transaction codes are ``invalid_grant``; after ``max_tx_code_attempts``
        wrong PINs the offer is locked and its sealed data erased."""
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise _error(
                "unsupported_grant_type", "only the pre-authorized code grant is supported"
            )
        if not pre_authorized_code or len(pre_authorized_code) > 512:
            raise _error("invalid_request", "pre-authorized_code is missing")
        now = self.clock.now()
        failure: IssuanceError | None = None
        token = new_secret()
        with self.database.transaction() as session:
            row = session.execute(
                select(IdvOfferRow).where(
                    IdvOfferRow.code_hash == self._hash(_PURPOSE_CODE, pre_authorized_code)
                )
            ).scalar_one_or_none()
            if row is None or row.status != "offered":
                raise _error("invalid_grant", "the pre-authorized code is invalid or was used")
            if row.expires_at <= now:
                self._end(session, row.id, from_status="offered", to_status="expired")
                failure = _error("invalid_grant", "the credential offer has expired")
            elif row.tx_code_hash is not None:
                failure = self._check_tx_code(session, row, tx_code)
            if failure is None:
                failure = self._redeem(session, row, pre_authorized_code, token, now)
        if failure is not None:
            raise failure  # after the commit: attempts and locks are kept
        return AccessToken(token, int(self.token_lifetime.total_seconds()))

    def _check_tx_code(
        self, session: Session, row: IdvOfferRow, tx_code: str | None
    ) -> IssuanceError | None:
        if not tx_code:
            return _error("invalid_request", "this offer needs the tx_code (PIN)")
        # the attempt is counted in its own guarded statement before the comparison, so
        # concurrent guesses cannot exceed the limit
        counted = session.execute(
            update(IdvOfferRow)
            .where(
                IdvOfferRow.id == row.id,
                IdvOfferRow.status == "offered",
                IdvOfferRow.tx_attempts < self.max_tx_code_attempts,
            )
            .values(tx_attempts=IdvOfferRow.tx_attempts + 1)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(counted, CursorResult)
        expected = row.tx_code_hash or ""
        if counted.rowcount == 1 and hmac.compare_digest(
            self._hash(f"{_PURPOSE_TX}/{row.id}", tx_code.strip()), expected
        ):
            return None
        session.refresh(row)
        if counted.rowcount != 1 or row.tx_attempts >= self.max_tx_code_attempts:
            self._end(session, row.id, from_status="offered", to_status="locked")
            return _error("invalid_grant", "too many wrong tx_codes: the offer is withdrawn")
        return _error("invalid_grant", "the tx_code is wrong")

    def _redeem(
        self, session: Session, row: IdvOfferRow, code: str, token: str, now: datetime
    ) -> IssuanceError | None:
        if row.sealed is None:
            return _error("invalid_grant", "the credential offer is no longer valid")
        try:
            payload = open_sealed(
                derive_private_key(self.secret_key, code, purpose=_SEAL_CODE),
                row.sealed,
                context=f"{_SEAL_CODE}/{row.id}",
            )
        except SealError:
            return _error("invalid_grant", "the credential offer is no longer valid")
        resealed = seal(
            public_bytes(derive_private_key(self.secret_key, token, purpose=_SEAL_TOKEN)),
            payload,
            context=f"{_SEAL_TOKEN}/{row.id}",
        )
        redeemed = session.execute(
            update(IdvOfferRow)
            .where(IdvOfferRow.id == row.id, IdvOfferRow.status == "offered")
            .values(
                status="token_issued",
                token_hash=self._hash(_PURPOSE_TOKEN, token),
                token_expires_at=now + self.token_lifetime,
                sealed=resealed,
                code_blob=b"",
            )
            .execution_options(synchronize_session=False)
        )
        assert isinstance(redeemed, CursorResult)
        if redeemed.rowcount != 1:
            return _error("invalid_grant", "the pre-authorized code is invalid or was used")
        return None

    def _end(self, session: Session, offer_id: str, *, from_status: str, to_status: str) -> None:
        session.execute(
            update(IdvOfferRow)
            .where(IdvOfferRow.id == offer_id, IdvOfferRow.status == from_status)
            .values(status=to_status, sealed=None, code_blob=b"")
            .execution_options(synchronize_session=False)
        )

    # --- nonce endpoint ------------------------------------------------------------------------

    def new_nonce(self) -> str:
        """A fresh ``c_nonce`` (§7), single use, valid for ``nonce_lifetime``."""
        nonce = new_secret()
        now = self.clock.now()
        with self.database.transaction() as session:
            session.execute(delete(IdvNonceRow).where(IdvNonceRow.expires_at <= now))
            session.add(
                IdvNonceRow(
                    nonce_hash=self._hash(_PURPOSE_NONCE, nonce),
                    expires_at=now + self.nonce_lifetime,
                )
            )
        return nonce

    # --- credential endpoint -------------------------------------------------------------------

    def issue_credential(
        self, *, access_token: str | None, request: Mapping[str, Any]
    ) -> IssuedCredential:
        """The Credential Request (§8): bearer access token, ``credential_configuration_id``
        and one ``jwt`` proof of possession with a fresh ``c_nonce``. One credential per offer."""
        now = self.clock.now()
        if not access_token:
            raise _error("invalid_token", "an access token is required")
        token_hash = self._hash(_PURPOSE_TOKEN, access_token)
        with self.database.transaction() as session:
            row = session.execute(
                select(IdvOfferRow).where(IdvOfferRow.token_hash == token_hash)
            ).scalar_one_or_none()
            if (
                row is None
                or row.status != "token_issued"
                or row.token_expires_at is None
                or row.token_expires_at <= now
            ):
                raise _error("invalid_token", "the access token is invalid or expired")
        if not isinstance(request, Mapping):
            raise _error("invalid_credential_request", "the request is not a JSON object")
        if "credential_identifier" in request:
            raise _error("unknown_credential_identifier", "credential identifiers are not issued")
        if request.get("credential_configuration_id") != CONFIGURATION_ID:
            raise _error(
                "unknown_credential_configuration",
                f"credential_configuration_id must be {CONFIGURATION_ID}",
            )
        proof = verify_proof_jwt(
            _proof_from_request(request),
            expected_audience=self.issuer_id,
            now=now,
            max_age=self.proof_max_age,
        )
        with self.database.transaction() as session:
            consumed = session.execute(
                delete(IdvNonceRow).where(
                    IdvNonceRow.nonce_hash == self._hash(_PURPOSE_NONCE, proof.nonce),
                    IdvNonceRow.expires_at > now,
                )
            )
            assert isinstance(consumed, CursorResult)
            if consumed.rowcount != 1:
                raise _error("invalid_nonce", "the c_nonce is unknown, used or expired")
            return self._issue(session, row, access_token, proof, now)

    def _issue(
        self,
        session: Session,
        row: IdvOfferRow,
        access_token: str,
        proof: VerifiedProof,
        now: datetime,
    ) -> IssuedCredential:
        credential_id = new_id()
        taken = session.execute(
            update(IdvOfferRow)
            .where(IdvOfferRow.id == row.id, IdvOfferRow.status == "token_issued")
            .values(status="issued", sealed=None, credential_id=credential_id, issued_at=now)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(taken, CursorResult)
        if taken.rowcount != 1 or row.sealed is None:
            raise _error("invalid_token", "the access token was already used")
        try:
            claims = json.loads(
                open_sealed(
                    derive_private_key(self.secret_key, access_token, purpose=_SEAL_TOKEN),
                    row.sealed,
                    context=f"{_SEAL_TOKEN}/{row.id}",
                )
            )
        except SealError as exc:
            raise _error("invalid_token", "the access token does not open this offer") from exc
        issued_at = now.replace(microsecond=0)
        reference = self.status_lists.allocate(
            session,
            credential_id=credential_id,
            offer_id=row.id,
            vct=self.issuer.vct,
            holder_thumbprint=jwk_thumbprint(proof.holder_jwk),
            issued_at=issued_at,
            expires_at=issued_at + self.issuer.lifetime,
        )
        issued = self.issuer.issue(
            claims=claims,
            holder_jwk=proof.holder_jwk,
            status=reference.to_claim(),
            now=issued_at,
        )
        AuditLog(session).append(
            "idv.credential_issued",
            at=now,
            actor="idv",
            data={
                "credential_id": credential_id,
                "offer_id": row.id,
                "vct": self.issuer.vct,
                "status_list": reference.list_id,
                "status_idx": reference.index,
            },
        )
        return IssuedCredential(credential_id, issued.credential)

    # --- housekeeping --------------------------------------------------------------------------

    def purge_expired(self) -> int:
        """End offers past their expiry (or whose access token expired unused): their sealed
        identity and encrypted code are erased. Returns how many ended."""
        now = self.clock.now()
        with self.database.transaction() as session:
            ended = session.execute(
                update(IdvOfferRow)
                .where(
                    or_(
                        (IdvOfferRow.status == "offered") & (IdvOfferRow.expires_at <= now),
                        (IdvOfferRow.status == "token_issued")
                        & (IdvOfferRow.token_expires_at <= now),
                    )
                )
                .values(status="expired", sealed=None, code_blob=b"")
                .execution_options(synchronize_session=False)
            )
            session.execute(delete(IdvNonceRow).where(IdvNonceRow.expires_at <= now))
            assert isinstance(ended, CursorResult)
            return ended.rowcount


def build_issuance(registry: Registry) -> IssuanceService:
    """The issuance service of a deployment: issuer identifier ``SSAR_BASE_URL`` + ``/idv``,
    its own ES256 key in ``var/idv-issuer-key.pem``."""
    from ssar.idv.issuer import load_issuer_key

    return IssuanceService(
        database=registry.database,
        clock=registry.clock,
        secret_key=registry.secret_key,
        key=load_issuer_key(registry.settings.var_dir),
        base_url=registry.settings.base_url,
    )

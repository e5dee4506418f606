"""The OpenID4VP verifier: create presentation requests, serve their Request Objects, receive and
verify Authorization Responses at the response endpoint, hand the result to the front end.

Every method is one unit of work; all state lives in ``vp_transactions`` so any process can
serve any step. Secrets (OpenID4VP §14, SECURITY.md R11): ``nonce``, ``state``, the caller's
transaction id and the response code are 256-bit values from ``secrets``; only keyed hashes of
the last three are looked up. A transaction answers one response, until it expires.

Flow (same-device adds the response code; cross-device polls with the transaction id)::

    create_request ──▶ pending ──receive_response──▶ verified ──take_result──▶ consumed
                          │                     └──▶ failed
                          └── expires_at passed: every later step is refused
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ssar.clock import Clock
from ssar.credentials.dcql import MSO_MDOC, DcqlQuery, check_vp_token, parse_dcql
from ssar.credentials.did import DidResolver
from ssar.credentials.jose import loads_json
from ssar.credentials.results import VerifiedCredential
from ssar.credentials.statuslist import StatusListFetcher
from ssar.credentials.trust import TrustConfig, load_trust
from ssar.credentials.verify import verify_credential
from ssar.errors import ConfigurationError, CredentialError, NotFound, ValidationFailed
from ssar.keys import SecretKey, SigningKey
from ssar.openid4vp.encryption import (
    ENC_VALUES,
    decrypt_response,
    generate_response_key,
    jwe_header,
    jwk_thumbprint,
)
from ssar.openid4vp.links import build_link, qr_svg
from ssar.openid4vp.repository import VpTransactionRepository
from ssar.openid4vp.request_object import (
    PREFIX_REDIRECT_URI,
    PREFIX_X509_SAN_DNS,
    STATIC_AUDIENCE,
    sign_request_object,
    vp_formats_supported,
)
from ssar.openid4vp.response import AuthorizationResponse, parse_form, parse_response_parameters
from ssar.sealing import open_sealed, seal
from ssar.store.db import Database
from ssar.store.tables import VpTransactionRow

ResponseMode = Literal["direct_post", "direct_post.jwt"]
RESPONSE_MODES: tuple[str, ...] = ("direct_post", "direct_post.jwt")
DEFAULT_LIFETIME = timedelta(minutes=10)
#: 32 bytes from ``secrets`` → 43 base64url characters: 256 bits (R11 asks for ≥ 128).
TOKEN_BYTES = 32
PREFIX = "/openid4vp"

_PURPOSE_HANDLE = "openid4vp/transaction"
_PURPOSE_STATE = "openid4vp/state"
_PURPOSE_CODE = "openid4vp/response-code"
_PURPOSE_KEY = "openid4vp/response-key"
_PURPOSE_RESULT = "openid4vp/result"


def new_secret() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PresentationRequest:
    """What the caller gets when it asks for a presentation."""

    transaction_id: str  # the caller's secret handle: status, result
    request_id: str  # public: part of request_uri and the QR code
    client_id: str
    request_uri: str
    link: str  # openid4vp://?client_id=…&request_uri=… (QR code and same-device link)
    qr_url: str  # an SVG of the link
    response_mode: str
    expires_at: datetime


@dataclass(frozen=True)
class ResponseAccepted:
    """What the response endpoint answers the wallet (§8.2): ``redirect_uri`` for same-device."""

    redirect_uri: str | None


TransactionState = Literal["pending", "verified", "failed", "consumed", "expired"]


@dataclass(frozen=True)
class TransactionStatus:
    status: TransactionState
    error_code: str | None
    expires_at: datetime
    same_device: bool


@dataclass(frozen=True)
class PresentedCredential:
    query_id: str
    format: str
    issuer: str
    credential_type: str | None
    claims: Mapping[str, Any]
    key_binding: bool


@dataclass(frozen=True)
class PresentationResult:
    """Verified credentials that satisfied the query, for the caller to act on once."""

    credentials: tuple[PresentedCredential, ...]

    @property
    def claims(self) -> Mapping[str, Any]:
        """Claims of the first credential (a query for one identity credential)."""
        return self.credentials[0].claims if self.credentials else {}


# --- helpers ---------------------------------------------------------------------------------


def trust_to_json(trust: TrustConfig) -> dict[str, Any]:
    """The TRUST.json shape of CONTRACTS.md, which :func:`load_trust` reads back."""
    return {
        "issuers": [
            {
                "iss": i.iss,
                **({"jwks": dict(i.jwks)} if i.jwks is not None else {}),
                **({"jwks_uri": i.jwks_uri} if i.jwks_uri is not None else {}),
            }
            for i in trust.issuers
        ],
        "x509_anchors": [
            a.public_bytes(serialization.Encoding.PEM).decode("ascii") for a in trust.x509_anchors
        ],
        "allow_did_methods": sorted(trust.allow_did_methods),
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _b64url_bytes(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CredentialError("an mdoc presentation is not base64url", code="malformed") from exc


class PresentationService:
    """The verifier side of OpenID4VP 1.0 for SSAR (same- and cross-device, request by
    reference, ``direct_post`` and ``direct_post.jwt``)."""

    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        secret_key: SecretKey,
        signing_key: SigningKey,
        base_url: str,
        certificate_chain: Sequence[x509.Certificate] = (),
        lifetime: timedelta = DEFAULT_LIFETIME,
        status_fetcher: StatusListFetcher | None = None,
        did_resolver: DidResolver | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        self.secret_key = secret_key
        self.signing_key = signing_key
        self.base_url = base_url.rstrip("/")
        self.certificate_chain = tuple(certificate_chain)
        self.lifetime = lifetime
        self.status_fetcher = status_fetcher
        self.did_resolver = did_resolver
        self.response_uri = f"{self.base_url}{PREFIX}/response"
        self.client_id = self._client_id()

    def _client_id(self) -> str:
        """``x509_san_dns:<host>`` when a certificate for the signing key is configured,
        otherwise ``redirect_uri:<response_uri>`` (development; the wallet cannot authenticate
        the request, OpenID4VP §5.9.3)."""
        if not self.certificate_chain:
            return PREFIX_REDIRECT_URI + self.response_uri
        host = urlsplit(self.base_url).hostname or ""
        leaf = self.certificate_chain[0]
        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound as exc:
            raise ConfigurationError("the verifier certificate has no subjectAltName") from exc
        if host not in san.get_values_for_type(x509.DNSName):
            raise ConfigurationError(f"the verifier certificate does not name {host}")
        ours = self.signing_key.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        theirs = leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if ours != theirs:
            raise ConfigurationError("the verifier certificate is not for the signing key")
        return PREFIX_X509_SAN_DNS + host

    def _hash(self, purpose: str, value: str) -> str:
        return self.secret_key.keyed_hash(purpose, value)

    def _request_uri(self, request_id: str) -> str:
        return f"{self.base_url}{PREFIX}/request/{request_id}"

    # --- creating a request ------------------------------------------------------------------

    def create_request(
        self,
        *,
        dcql: DcqlQuery,
        trust: TrustConfig,
        response_mode: ResponseMode = "direct_post.jwt",
        same_device: bool = False,
        return_uri: str | None = None,
        result_public_key: bytes | None = None,
    ) -> PresentationRequest:
        """Start a transaction asking for ``dcql``, to be verified against ``trust``.

        ``same_device``: the response endpoint sends the wallet back to ``return_uri`` (default:
        this service's result page) with a fresh ``response_code``, which :meth:`take_result`
        then requires. Cross-device transactions are fetched with the transaction id alone.

        ``result_public_key`` (X25519): the verified result is sealed to it instead of encrypted
        with the service key, and :meth:`take_result` then needs the matching private key.
        """
        if response_mode not in RESPONSE_MODES:
            raise ValidationFailed(f"response_mode {response_mode!r} is not supported")
        if return_uri is not None and not same_device:
            raise ValidationFailed("return_uri only applies to same-device requests")
        now = self.clock.now()
        transaction_id, request_id, state, nonce = (new_secret() for _ in range(4))
        if same_device and return_uri is None:
            # the demo front end: it finds the result by the response code alone
            return_uri = f"{self.base_url}{PREFIX}/return"
        kid = key_enc = None
        if response_mode == "direct_post.jwt":
            private_jwk, _ = generate_response_key()
            kid = str(private_jwk["kid"])
            key_enc = self.secret_key.encrypt(_PURPOSE_KEY, json.dumps(private_jwk).encode())
        expires_at = now + self.lifetime
        row = VpTransactionRow(
            handle_hash=self._hash(_PURPOSE_HANDLE, transaction_id),
            request_id=request_id,
            state_hash=self._hash(_PURPOSE_STATE, state),
            state_enc=self.secret_key.encrypt(_PURPOSE_STATE, state.encode()),
            nonce=nonce,
            client_id=self.client_id,
            response_uri=self.response_uri,
            response_mode=response_mode,
            dcql=dcql.to_json(),
            trust=trust_to_json(trust),
            encryption_kid=kid,
            encryption_key_enc=key_enc,
            return_uri=return_uri if same_device else None,
            result_public_key=result_public_key,
            status="pending",
            created_at=now,
            expires_at=expires_at,
        )
        with self.database.transaction() as session:
            VpTransactionRepository(session).add(row)
        request_uri = self._request_uri(request_id)
        return PresentationRequest(
            transaction_id=transaction_id,
            request_id=request_id,
            client_id=self.client_id,
            request_uri=request_uri,
            link=build_link(client_id=self.client_id, request_uri=request_uri),
            qr_url=f"{request_uri}/qr.svg",
            response_mode=response_mode,
            expires_at=expires_at,
        )

    # --- serving the request object ----------------------------------------------------------

    def _pending_by_request_id(self, request_id: str) -> VpTransactionRow:
        with self.database.transaction() as session:
            row = VpTransactionRepository(session).by_request_id(request_id)
        if row is None or row.status != "pending" or self.clock.now() >= row.expires_at:
            # unknown, answered and expired look the same to whoever holds the link
            raise NotFound("this presentation request does not exist or has expired")
        return row

    def request_object(
        self,
        *,
        request_id: str,
        wallet_metadata: str | None = None,
        wallet_nonce: str | None = None,
    ) -> str:
        """The signed Request Object for ``request_id`` (GET, or POST with the optional
        ``wallet_metadata`` / ``wallet_nonce`` of §5.10)."""
        if wallet_metadata is not None:
            metadata = loads_json(wallet_metadata, what="wallet_metadata")
            if not isinstance(metadata, dict):
                raise ValidationFailed("wallet_metadata is not a JSON object")
        if wallet_nonce is not None and (not wallet_nonce or len(wallet_nonce) > 256):
            raise ValidationFailed("wallet_nonce is empty or too long")
        row = self._pending_by_request_id(request_id)
        now = self.clock.now()
        state = self.secret_key.decrypt(_PURPOSE_STATE, row.state_enc).decode()
        client_metadata: dict[str, Any] = {"vp_formats_supported": vp_formats_supported()}
        if row.response_mode == "direct_post.jwt":
            client_metadata["jwks"] = {"keys": [self._public_response_key(row)]}
            client_metadata["encrypted_response_enc_values_supported"] = list(ENC_VALUES)
        claims: dict[str, Any] = {
            "iss": row.client_id,
            "aud": STATIC_AUDIENCE,
            "client_id": row.client_id,
            "response_type": "vp_token",
            "response_mode": row.response_mode,
            "response_uri": row.response_uri,
            "nonce": row.nonce,
            "state": state,
            "dcql_query": row.dcql,
            "client_metadata": client_metadata,
            "iat": int(now.timestamp()),
            "exp": int(row.expires_at.timestamp()),
        }
        if wallet_nonce is not None:
            claims["wallet_nonce"] = wallet_nonce
        return sign_request_object(
            claims, signing_key=self.signing_key, certificate_chain=self.certificate_chain
        )

    def _private_response_key(self, row: VpTransactionRow) -> dict[str, Any]:
        if row.encryption_key_enc is None:
            raise CredentialError("this request has no encryption key", code="malformed")
        key = json.loads(self.secret_key.decrypt(_PURPOSE_KEY, row.encryption_key_enc))
        return cast(dict[str, Any], key)

    def _public_response_key(self, row: VpTransactionRow) -> dict[str, Any]:
        private = self._private_response_key(row)
        return {k: v for k, v in private.items() if k != "d"}

    def qr_svg(self, *, request_id: str) -> str:
        """The QR code of the wallet link of a pending request (cross-device)."""
        row = self._pending_by_request_id(request_id)
        return qr_svg(
            build_link(client_id=row.client_id, request_uri=self._request_uri(request_id))
        )

    # --- the response endpoint ---------------------------------------------------------------

    def receive_response(self, *, form: Mapping[str, Any]) -> ResponseAccepted:
        """Handle a POST to the response endpoint (§8.2). Every presentation is verified with
        the request's nonce and client id (a wrong one anywhere rejects the whole response,
        R12), then the DCQL query is checked on what was verified. Raises ``CredentialError``
        for unknown state (``state_unknown``), a second response (``response_replayed``), a late
        one (``transaction_expired``) and any failed check (the check's code; the transaction
        is then ``failed`` for good)."""
        jwe, plain = parse_form(form)
        now = self.clock.now()
        failure: CredentialError | None = None
        with self.database.transaction() as session:
            row, response = self._find_transaction(
                VpTransactionRepository(session), jwe=jwe, plain=plain
            )
        if now >= row.expires_at:
            raise CredentialError(
                "the presentation request has expired", code="transaction_expired"
            )
        if row.status != "pending":
            raise CredentialError("this request was already answered", code="response_replayed")
        # verification (signatures, status lists fetched over HTTP, possibly from this very
        # service) runs outside any transaction; the answer is recorded by a conditional
        # UPDATE, so of two concurrent responses exactly one is taken
        values: dict[str, Any] = {"responded_at": now, "expires_at": now + self.lifetime}
        if response.error is not None:
            values.update(status_to="failed", error_code="wallet_error")
        else:
            try:
                result = self._verify(row, response, now=now)
            except CredentialError as exc:
                failure = exc
                values.update(status_to="failed", error_code=exc.code[:64])
            else:
                payload = json.dumps(_json_safe(result)).encode()
                sealed = (
                    seal(row.result_public_key, payload, context=_PURPOSE_RESULT)
                    if row.result_public_key is not None
                    else self.secret_key.encrypt(_PURPOSE_RESULT, payload)
                )
                values.update(status_to="verified", result_enc=sealed)
        redirect_uri = None
        if row.return_uri is not None:
            code = new_secret()
            values["response_code_hash"] = self._hash(_PURPOSE_CODE, code)
            separator = "&" if "?" in row.return_uri else "?"
            redirect_uri = f"{row.return_uri}{separator}{urlencode({'response_code': code})}"
        to_status = values.pop("status_to")
        with self.database.transaction() as session:
            taken = VpTransactionRepository(session).transition(
                row.id, from_status="pending", to_status=to_status, **values
            )
        if not taken:
            raise CredentialError("this request was already answered", code="response_replayed")
        if failure is not None:
            raise failure
        return ResponseAccepted(redirect_uri=redirect_uri)

    def _find_transaction(
        self,
        repo: VpTransactionRepository,
        *,
        jwe: str | None,
        plain: AuthorizationResponse | None,
    ) -> tuple[VpTransactionRow, AuthorizationResponse]:
        if jwe is not None:
            kid = jwe_header(jwe).get("kid")
            row = repo.by_encryption_kid(kid) if isinstance(kid, str) and kid else None
            if row is None:
                raise CredentialError("no request uses this encryption key", code="state_unknown")
            payload = decrypt_response(
                jwe, private_jwk=self._private_response_key(row), expected_kid=kid or ""
            )
            response = parse_response_parameters(payload)
            if response.state is None or not hmac.compare_digest(
                self._hash(_PURPOSE_STATE, response.state), row.state_hash
            ):
                raise CredentialError("state does not match the request", code="state_mismatch")
            return row, response
        assert plain is not None
        if plain.state is None:
            raise CredentialError("the response has no state", code="state_unknown")
        row = repo.by_state_hash(self._hash(_PURPOSE_STATE, plain.state))
        if row is None:
            raise CredentialError("no request has this state", code="state_unknown")
        if row.response_mode == "direct_post.jwt" and plain.error is None:
            # an encrypted response was asked for: a plain one could be a downgrade
            raise CredentialError("this request requires an encrypted response", code="malformed")
        return row, plain

    def _verify(
        self, row: VpTransactionRow, response: AuthorizationResponse, *, now: datetime
    ) -> dict[str, Any]:
        query = parse_dcql(row.dcql)
        trust = load_trust(row.trust)
        assert response.vp_token is not None
        transcript: bytes | None = None
        verified: dict[str, list[VerifiedCredential]] = {}
        # verify everything first: one bad presentation rejects the whole response (R12)
        for query_id, presentations in response.vp_token.items():
            credential_query = query.credential(query_id)
            if credential_query is None:
                raise CredentialError(
                    f"vp_token answers unknown credential query {query_id!r}", code="malformed"
                )
            for presentation in presentations:
                data: str | bytes = presentation
                if credential_query.format == MSO_MDOC:
                    data = _b64url_bytes(presentation)
                    if transcript is None:
                        transcript = self._session_transcript(row)
                verified.setdefault(query_id, []).append(
                    verify_credential(
                        data,
                        trust=trust,
                        now=now,
                        expected_nonce=row.nonce,
                        expected_audience=row.client_id,
                        require_key_binding=credential_query.require_cryptographic_holder_binding,
                        status_fetcher=self.status_fetcher,
                        allowed_types=credential_query.allowed_types,
                        did_resolver=self.did_resolver,
                        expected_session_transcript=(
                            transcript if credential_query.format == MSO_MDOC else None
                        ),
                    )
                )
        match = check_vp_token(query, verified)
        return {
            "credentials": [
                {
                    "query_id": query_id,
                    "format": c.format,
                    "issuer": c.issuer,
                    "credential_type": c.credential_type,
                    "claims": c.claims,
                    "key_binding": c.key_binding,
                }
                for query_id, creds in match.credentials.items()
                for c in creds
            ]
        }

    def _session_transcript(self, row: VpTransactionRow) -> bytes:
        """The mdoc SessionTranscript with the OpenID4VP handover (Appendix B.2.6.1)."""
        import importlib

        module = importlib.import_module("ssar.credentials.mdoc")
        transcript_fn = cast(Callable[..., bytes], module.openid4vp_session_transcript)
        thumbprint = None
        if row.response_mode == "direct_post.jwt":
            thumbprint = jwk_thumbprint(self._public_response_key(row))
        return transcript_fn(
            client_id=row.client_id,
            nonce=row.nonce,
            jwk_thumbprint=thumbprint,
            response_uri=row.response_uri,
        )

    # --- the front end's side ----------------------------------------------------------------

    def _by_transaction_id(
        self, repo: VpTransactionRepository, transaction_id: str
    ) -> VpTransactionRow:
        row = repo.by_handle_hash(self._hash(_PURPOSE_HANDLE, transaction_id))
        if row is None:
            raise NotFound("no such presentation transaction")
        return row

    def _state_of(self, row: VpTransactionRow, now: datetime) -> TransactionState:
        if row.status in ("pending", "verified", "failed") and now >= row.expires_at:
            return "expired"
        return cast(TransactionState, row.status)

    def status(self, *, transaction_id: str) -> TransactionStatus:
        """Where a transaction stands (for polling); never any claim."""
        with self.database.transaction() as session:
            row = self._by_transaction_id(VpTransactionRepository(session), transaction_id)
        return TransactionStatus(
            status=self._state_of(row, self.clock.now()),
            error_code=row.error_code,
            expires_at=row.expires_at,
            same_device=row.return_uri is not None,
        )

    def take_result(
        self,
        *,
        transaction_id: str | None = None,
        response_code: str | None = None,
        result_private_key: X25519PrivateKey | None = None,
    ) -> PresentationResult:
        """The verified presentation, once. Same-device transactions need the response code
        the wallet's redirect carried (session fixation, OpenID4VP §14.3); a caller without
        the transaction id (the default return page) finds the transaction by that code. The
        stored claims are erased as they are handed out."""
        now = self.clock.now()
        with self.database.transaction() as session:
            repo = VpTransactionRepository(session)
            if transaction_id is not None:
                row = self._by_transaction_id(repo, transaction_id)
            elif response_code is not None:
                found = repo.by_response_code_hash(self._hash(_PURPOSE_CODE, response_code))
                if found is None:
                    raise CredentialError(
                        "the response code is unknown", code="response_code_mismatch"
                    )
                row = found
            else:
                raise ValidationFailed("take_result needs a transaction id or a response code")
            same_device = row.response_code_hash is not None and row.return_uri is not None
            if same_device and (
                response_code is None
                or not hmac.compare_digest(
                    self._hash(_PURPOSE_CODE, response_code), str(row.response_code_hash)
                )
            ):
                raise CredentialError(
                    "the response code is missing or wrong", code="response_code_mismatch"
                )
            state = self._state_of(row, now)
            if state == "pending":
                raise CredentialError("no response has arrived yet", code="pending")
            if state == "expired":
                raise CredentialError("the presentation has expired", code="transaction_expired")
            if state == "consumed":
                raise CredentialError("the result was already taken", code="response_replayed")
            if state == "failed":
                raise CredentialError(
                    f"the presentation failed ({row.error_code})", code=row.error_code or "failed"
                )
            assert row.result_enc is not None
            if row.result_public_key is not None:
                if result_private_key is None:
                    raise CredentialError("the result is sealed to the caller", code="sealed")
                opened = open_sealed(result_private_key, row.result_enc, context=_PURPOSE_RESULT)
            else:
                opened = self.secret_key.decrypt(_PURPOSE_RESULT, row.result_enc)
            payload = json.loads(opened)
            if not repo.transition(
                row.id, from_status="verified", to_status="consumed", used_at=now, result_enc=None
            ):
                raise CredentialError("the result was already taken", code="response_replayed")
        return PresentationResult(
            credentials=tuple(
                PresentedCredential(
                    query_id=c["query_id"],
                    format=c["format"],
                    issuer=c["issuer"],
                    credential_type=c["credential_type"],
                    claims=c["claims"],
                    key_binding=c["key_binding"],
                )
                for c in payload["credentials"]
            )
        )

    def purge_expired(self, *, older_than: timedelta = timedelta(hours=1)) -> int:
        """Delete transactions that expired more than ``older_than`` ago."""
        with self.database.transaction() as session:
            return VpTransactionRepository(session).delete_expired(
                before=self.clock.now() - older_than
            )

"""Self-service account recovery: the flow of ARCHITECTURE.md, persisted, any step on any process.

A person types the account they lost; SSAR finds the identity verification profile that applies
and asks the profile's provider for proof of identity (a wallet presentation, or a redirect to an
OpenID Connect for Identity Assurance provider); then a live face check against the credential's
portrait; then account validation (names by the profile's rule, the namesake guard R32, the
organisation's extension R29, the evidence guard R10). Only when all of it passed does anything
change: production restores the account in one transaction (:mod:`ssar.recovery.restore`, R3),
evaluation records the case and changes nothing (R4).

Uniformity (R1): unknown, ineligible, excluded, privileged and locked accounts get a flow of the
same shape as everyone else (shaped like the first profile's), run through the same steps, and
fail with the same message at validation, after the evidence was checked. Only the case record
holds the reason.

Secrets: the person's flow handle is a 256-bit value stored as a keyed hash; evidence (claims,
portrait) is sealed to a key derived from that handle (:mod:`ssar.sealing`), so the database
never holds an image or claims it could open on its own (R23), and it is erased when the flow
ends. Frames and embeddings live only inside the face-check request.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.clock import Clock
from ssar.config import Settings
from ssar.credentials.dcql import build_identity_query
from ssar.credentials.trust import TrustConfig, load_trust
from ssar.directory.names import username_key
from ssar.errors import CredentialError, Gone, NotFound, SsarError, Throttled
from ssar.keys import SecretKey
from ssar.openid4vp.service import PresentationService
from ssar.profiles.models import Profile
from ssar.profiles.service import ProfileService
from ssar.providers.base import RedirectStart, VerifiedIdentity
from ssar.recovery.evidence import evidence_key, identity_from_presentation, is_doctype
from ssar.recovery.states import TERMINAL, next_state
from ssar.sealing import SealError, derive_private_key, open_sealed, public_bytes, seal
from ssar.store.db import Database
from ssar.store.tables import RecoveryFlowRow, RecoveryLockRow

log = structlog.get_logger(__name__)

UNIFORM_MESSAGE = (
    "We couldn't verify your identity, so nothing on the account was changed. "
    "You can try again later, or contact your administrator for help."
)
EVALUATION_MESSAGE = (
    "Your identity was verified. Account recovery is being trialled for your organisation, "
    "so nothing on your account was changed and no pass was issued."
)


class RecoveryThrottled(Throttled):
    """Too many recovery flows for this account or from this address (R8). The person sees the
    uniform message like any other refusal; the limits are in docs/RECOVERY.md."""

    code = "recovery_throttled"
    title = UNIFORM_MESSAGE


SEAL_PURPOSE = "recovery/flow"
_EVIDENCE = "recovery/evidence"
_TAP = "recovery/tap"
_PROVIDER_STATE = "recovery/provider-state"
DEFAULT_CLAIMS = ("given_name", "family_name", "birthdate")
DEFAULT_TYPES = ("urn:ssar:identity:1",)
HANDLE_BYTES = 32


# --- what callers get ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceChallengeView:
    poses: tuple[str, ...]
    token: str
    deadline: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "poses": list(self.poses),
            "token": self.token,
            "deadline": self.deadline.isoformat(),
        }


@dataclass(frozen=True)
class FlowView:
    """Where a flow stands, for the person: never a reason, a claim or a score."""

    handle: str = field(repr=False)
    state: str
    verification: Mapping[str, Any] | None = None
    face: FaceChallengeView | None = None
    attempts_left: int | None = None
    message: str | None = None
    evaluation: bool = False

    @property
    def failed(self) -> bool:
        return self.state in ("failed", "expired", "cancelled")


@dataclass(frozen=True)
class RecoveredTap:
    tap: str = field(repr=False)
    expires_at: datetime
    one_time: bool
    username: str


@dataclass(frozen=True)
class FlowContext:
    """A flow row's facts, read without a lock for the slow steps."""

    id: str
    state: str
    updated_at: datetime


def new_handle() -> str:
    return secrets.token_urlsafe(HANDLE_BYTES)


# --- the service ----------------------------------------------------------------------------------


class RecoveryService:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        settings: Settings,
        secret_key: SecretKey,
        presentations: PresentationService,
        profiles: ProfileService,
        validator: Callable[[], Any],
        redirect_providers: Callable[[], Mapping[str, Any]] = dict,
        reference_issuer: Callable[[], Mapping[str, Any]] | None = None,
        jwks_uri_fetcher: Callable[[str], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._settings = settings
        self._policy = settings.recovery
        self._key = secret_key
        self._presentations = presentations
        self._profiles = profiles
        self._validator = validator  # -> ssar.recovery.validation.Validator (lazy: httpx)
        self._redirect_providers = redirect_providers
        self._reference = reference_issuer
        self._fetch_jwks = jwks_uri_fetcher  # jwks_uri → its public keys, or None (fail closed)
        self.face_key = secret_key.derive("recovery/face-challenge")

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def database(self) -> Database:
        return self._db

    @property
    def secret_key(self) -> SecretKey:
        return self._key

    @property
    def clock(self) -> Clock:
        return self._clock

    # --- keys and lookups ------------------------------------------------------------------

    def _handle_hash(self, handle: str) -> str:
        return self._key.keyed_hash("recovery/handle", handle)

    def _private_key(self, handle: str) -> X25519PrivateKey:
        return derive_private_key(self._key, handle, purpose=SEAL_PURPOSE)

    def row(self, session: Session, handle: str, *, lock: bool = False) -> RecoveryFlowRow:
        query = select(RecoveryFlowRow).where(
            RecoveryFlowRow.handle_hash == self._handle_hash(handle)
        )
        if lock:
            query = query.with_for_update()
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            raise NotFound("no such recovery flow")
        return row

    def _expire_if_due(self, session: Session, row: RecoveryFlowRow, now: datetime) -> None:
        if row.state not in TERMINAL and now >= row.expires_at:
            self.transition(session, row, "expire", now=now, reason="expired")

    def transition(
        self,
        session: Session,
        row: RecoveryFlowRow,
        event: str,
        *,
        now: datetime,
        reason: str | None = None,
        check: dict[str, Any] | None = None,
    ) -> None:
        row.state = next_state(row.state, event)
        row.updated_at = now
        if check is not None:
            row.checks = [*row.checks, {"at": now.isoformat(), **check}]
        if row.state in TERMINAL or row.state == "restored":
            row.evidence_sealed = None
            row.provider_state_enc = None
        if row.state in TERMINAL:
            row.finished_at = now
            if row.state != "completed":
                row.tap_sealed = None
        if event in ("fail", "expire", "cancel"):
            row.reason = (reason or event)[:64]
            self._audit(session, row, f"recovery.{row.state}", now=now, data={"reason": row.reason})

    def _audit(
        self,
        session: Session,
        row: RecoveryFlowRow,
        event: str,
        *,
        now: datetime,
        data: dict[str, Any] | None = None,
    ) -> None:
        AuditLog(session).append(
            event,
            at=now,
            actor="recovery",
            user_id=row.user_id,
            ip=row.ip,
            data={"flow_id": row.id, "profile": row.profile_name, "mode": row.mode, **(data or {})},
        )

    # --- start ------------------------------------------------------------------------------

    def start(
        self, *, username: str, ip: str | None = None, user_agent: str | None = None
    ) -> FlowView:
        """Start a flow for the account typed. Throttled (R8) per account and per address
        before anything else; otherwise every username gets a flow of the same shape (R1)."""
        self.purge_expired()
        now = self._clock.now()
        typed = username.strip()[:256]
        account_key = self._key.keyed_hash("recovery/account", username_key(typed) or typed)
        address_key = self._key.keyed_hash("recovery/address", ip or "-")
        decision = self._profiles.which(typed)
        profile = decision.profile
        eligibility = decision.code
        user_id: str | None = None
        with self._db.transaction() as session:
            if decision.code != "unknown_user":
                from ssar.signin.common import find_user

                found = find_user(session, typed)
                user_id = found.id if found is not None else None
                if user_id is not None and session.get(RecoveryLockRow, user_id) is not None:
                    eligibility = "locked"
            self._check_limits(session, account_key, address_key, now, ip=ip, user_id=user_id)
        shape = profile or self._shape_profile()
        handle = new_handle()
        private_key = self._private_key(handle)
        row = RecoveryFlowRow(
            handle_hash=self._handle_hash(handle),
            public_key=public_bytes(private_key),
            account=typed,
            account_key=account_key,
            address_key=address_key,
            user_id=user_id,
            eligibility=eligibility,
            profile_id=profile.id if profile else None,
            profile_name=profile.name if profile else None,
            mode=shape.mode if shape is not None else "evaluation",
            provider=shape.provider if shape else "openid4vp",
            face_required=shape.face_check.required if shape else True,
            face_threshold=shape.face_check.threshold if shape else 70,
            state="started",
            nonce=secrets.token_urlsafe(32),
            face_attempts=0,
            face_failures=0,
            checks=[],
            ip=ip,
            user_agent=(user_agent or "")[:512] or None,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(minutes=self._policy.flow_minutes),
        )
        failure: str | None = None
        try:
            verification, provider_state = self._begin_provider(row, shape, handle)
        except SsarError as exc:  # the provider is down or misconfigured: a case, not a crash
            verification, provider_state, failure = None, {}, exc.code
        row.provider_state_enc = self._key.encrypt(
            _PROVIDER_STATE, json.dumps(provider_state).encode()
        )
        with self._db.transaction() as session:
            session.add(row)
            session.flush()
            row.checks = [
                {
                    "at": now.isoformat(),
                    "check": "profile",
                    "outcome": "applies" if eligibility == "applies" else "not_eligible",
                    "detail": row.eligibility,
                }
            ]
            self._audit(session, row, "recovery.started", now=now, data={"account": typed})
            self.transition(session, row, "begin", now=now)
            self._audit(
                session,
                row,
                "recovery.identity_verification_started",
                now=now,
                data={"provider": row.provider},
            )
            if failure is not None:
                self.transition(
                    session,
                    row,
                    "fail",
                    now=now,
                    reason=failure,
                    check={"check": "provider", "outcome": "failed", "detail": failure},
                )
        if failure is not None:
            return FlowView(handle=handle, state=row.state, message=UNIFORM_MESSAGE)
        return FlowView(handle=handle, state=row.state, verification=verification)

    def purge_expired(self) -> int:
        """Erase the sealed evidence and passes of flows past their expiry (they are useless
        without the person's handle anyway) and drop stale presentation transactions. Runs at
        every start, so no evidence outlives its flow by more than one start."""
        from sqlalchemy import update

        now = self._clock.now()
        with self._db.transaction() as session:
            erased = session.execute(
                update(RecoveryFlowRow)
                .where(
                    RecoveryFlowRow.expires_at < now,
                    (RecoveryFlowRow.evidence_sealed.is_not(None))
                    | (RecoveryFlowRow.tap_sealed.is_not(None))
                    | (RecoveryFlowRow.provider_state_enc.is_not(None)),
                )
                .values(evidence_sealed=None, tap_sealed=None, provider_state_enc=None)
            ).rowcount  # type: ignore[attr-defined]
        self._presentations.purge_expired()
        return int(erased or 0)

    def _check_limits(
        self,
        session: Session,
        account_key: str,
        address_key: str,
        now: datetime,
        *,
        ip: str | None,
        user_id: str | None,
    ) -> None:
        by_account = session.execute(
            select(func.count())
            .select_from(RecoveryFlowRow)
            .where(
                RecoveryFlowRow.account_key == account_key,
                RecoveryFlowRow.created_at > now - timedelta(days=1),
            )
        ).scalar_one()
        by_address = session.execute(
            select(func.count())
            .select_from(RecoveryFlowRow)
            .where(
                RecoveryFlowRow.address_key == address_key,
                RecoveryFlowRow.created_at > now - timedelta(hours=1),
            )
        ).scalar_one()
        limit = None
        if by_account >= self._policy.account_flows_per_day:
            limit = "account"
        elif by_address >= self._policy.address_flows_per_hour:
            limit = "address"
        if limit is None:
            return
        AuditLog(session).append(
            "recovery.throttled",
            at=now,
            actor="recovery",
            user_id=user_id,
            ip=ip,
            data={"limit": limit},
        )
        raise RecoveryThrottled(UNIFORM_MESSAGE)

    def _shape_profile(self) -> Profile | None:
        """The profile whose shape flows of ineligible accounts take (R1): the first by priority."""
        profiles = self._profiles.list()
        return profiles[0] if profiles else None

    # --- providers ---------------------------------------------------------------------------

    def _begin_provider(
        self, row: RecoveryFlowRow, profile: Profile | None, handle: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start the provider's step: the view for the person and the state to keep."""
        if profile is not None and profile.provider_type == "oidc_ida":
            name = profile.oidc_ida_provider or ""
            provider = self._redirect_providers().get(name)
            if provider is None:
                raise SsarError(f"the OpenID provider {name!r} is not configured")
            started: RedirectStart = provider.begin(redirect_uri=self.redirect_uri)
            verification = {"type": "redirect", "url": started.url}
            return verification, {
                "kind": "oidc_ida",
                "name": name,
                "secrets": dict(started.secrets),
                "verification": verification,
            }
        return self._begin_presentation(
            row.face_required, row.public_key, profile, same_device=False
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self._settings.base_url}/recover/callback"

    def _presentation_query(self, face_required: bool, profile: Profile | None) -> Any:
        types = profile.credentials.types if profile and profile.credentials else DEFAULT_TYPES
        claims = list(DEFAULT_CLAIMS)
        if profile is not None:
            for rule in profile.validation.claims:
                if rule.claim not in claims:
                    claims.append(rule.claim)
        if face_required:
            claims.append("portrait")
        vcts = [t for t in types if not is_doctype(t)]
        doctypes = [t for t in types if is_doctype(t)]
        return build_identity_query(claims=claims, vct_values=vcts, doctypes=doctypes)

    def _trust(self, profile: Profile | None) -> TrustConfig:
        """The profile's issuers; a ``reference`` profile also trusts the built-in reference
        verification service's issuer (its own key, published at ``/idv/jwks.json``)."""
        document: dict[str, Any] = {"issuers": [], "x509_anchors": []}
        if profile is not None and profile.credentials is not None:
            for issuer in profile.credentials.issuers:
                jwks = issuer.jwks
                if jwks is None and issuer.jwks_uri is not None and self._fetch_jwks is not None:
                    jwks = self._fetch_jwks(issuer.jwks_uri)  # pinned into this request's trust
                if jwks is not None or issuer.jwks_uri is not None:
                    document["issuers"].append(
                        {"iss": issuer.iss, "jwks": jwks, "jwks_uri": issuer.jwks_uri}
                    )
                document["x509_anchors"].extend(issuer.x5c)
        if profile is not None and profile.provider_type == "reference":
            document["issuers"].append(dict(self._reference_issuer()))
        return load_trust(document)

    def _reference_issuer(self) -> Mapping[str, Any]:
        if self._reference is None:
            raise SsarError("the reference verification service is not available here")
        return self._reference()

    def _begin_presentation(
        self,
        face_required: bool,
        public_key: bytes,
        profile: Profile | None,
        *,
        same_device: bool,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        request = self._presentations.create_request(
            dcql=self._presentation_query(face_required, profile),
            trust=self._trust(profile),
            response_mode="direct_post.jwt",
            same_device=same_device,
            return_uri=f"{self._settings.base_url}/recover/return" if same_device else None,
            result_public_key=public_key,
        )
        verification = {
            "type": "openid4vp",
            "request_uri": request.request_uri,
            "link": request.link,
            "qr": request.qr_url,
            "client_id": request.client_id,
            "expires_at": request.expires_at.isoformat(),
        }
        if profile is not None and profile.provider_type == "reference":
            # no credential yet? the reference verification service issues one
            verification["issuance_url"] = f"{self._settings.base_url}/idv"
        state = {
            "kind": "openid4vp",
            "transaction_id": request.transaction_id,
            "same_device": same_device,
            "verification": verification,
        }
        return verification, state

    def _provider_state(self, row: RecoveryFlowRow) -> dict[str, Any]:
        if row.provider_state_enc is None:
            return {}
        state: dict[str, Any] = json.loads(
            self._key.decrypt(_PROVIDER_STATE, row.provider_state_enc)
        )
        return state

    def _profile_of(self, name: str | None) -> Profile | None:
        """The flow's profile as it is now (None: the flow had none, or it was deleted)."""
        if name is None:
            return None
        try:
            return self._profiles.get(name)
        except NotFound:
            return None

    def same_device(self, handle: str) -> Mapping[str, Any]:
        """A same-device presentation request for a flow waiting for one (replaces the
        cross-device one); the wallet's redirect comes back with a response code."""
        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle)
            self._expire_if_due(session, row, now)
            if row.state != "verifying" or self._provider_state(row).get("kind") != "openid4vp":
                raise Gone("this flow is not waiting for a presentation")
            name, face_required, public_key = row.profile_name, row.face_required, row.public_key
        profile = self._profile_of(name) if name else self._shape_profile()
        verification, state = self._begin_presentation(
            face_required, public_key, profile, same_device=True
        )
        with self._db.transaction() as session:
            row = self.row(session, handle, lock=True)
            if row.state != "verifying":
                raise Gone("this flow is not waiting for a presentation")
            row.provider_state_enc = self._key.encrypt(_PROVIDER_STATE, json.dumps(state).encode())
            row.updated_at = now
        return verification

    # --- status and advancing ----------------------------------------------------------------

    def status(self, handle: str, *, response_code: str | None = None) -> FlowView:
        """Where the flow stands, advancing it when the provider's answer has arrived."""
        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle)
            self._expire_if_due(session, row, now)
            state = row.state
            provider_state = self._provider_state(row) if state == "verifying" else {}
        if state == "verifying" and provider_state.get("kind") == "openid4vp":
            self._collect_presentation(handle, provider_state, response_code=response_code)
        elif state == "validating":
            # every check passed but the decision was never written (the process died in
            # the middle of restoration, R3): decide again; it is all-or-nothing
            self._validate(handle)
        return self.view(handle)

    def _collect_presentation(
        self, handle: str, provider_state: Mapping[str, Any], *, response_code: str | None
    ) -> None:
        same_device = bool(provider_state.get("same_device"))
        if same_device and response_code is None:
            return  # only the wallet's redirect (with its code) may collect it
        try:
            result = self._presentations.take_result(
                transaction_id=str(provider_state["transaction_id"]),
                response_code=response_code,
                result_private_key=self._private_key(handle),
            )
        except CredentialError as exc:
            if exc.code == "pending":
                return
            self._fail(handle, reason=exc.code, check="credential", expected_state="verifying")
            return
        identity = identity_from_presentation(result, provider="openid4vp")
        self._credential_verified(handle, identity)

    def complete_redirect(self, handle: str, params: Mapping[str, str]) -> FlowView:
        """The person is back from a redirect provider (``/recover/callback``)."""
        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle)
            self._expire_if_due(session, row, now)
            provider_state = self._provider_state(row) if row.state == "verifying" else {}
        if provider_state.get("kind") != "oidc_ida":
            return self.view(handle)
        provider = self._redirect_providers().get(str(provider_state.get("name")))
        try:
            if provider is None:
                raise CredentialError("the provider is no longer configured", code="provider_error")
            identity: VerifiedIdentity = provider.complete(
                params=params, secrets=provider_state.get("secrets", {})
            )
        except SsarError as exc:
            self._fail(handle, reason=exc.code, check="credential", expected_state="verifying")
            return self.view(handle)
        self._credential_verified(handle, identity)
        return self.view(handle)

    def _credential_verified(self, handle: str, identity: VerifiedIdentity) -> None:
        now = self._clock.now()
        sealed = seal(self._row_public_key(handle), _encode_identity(identity), context=_EVIDENCE)
        with self._db.transaction() as session:
            row = self.row(session, handle, lock=True)
            if row.state != "verifying":
                return
            row.evidence_sealed = sealed
            row.issuer = identity.issuer[:512]
            row.credential_type = (identity.credential_type or "")[:256] or None
            self.transition(
                session,
                row,
                "verified",
                now=now,
                check={
                    "check": "credential",
                    "outcome": "passed",
                    "issuer": identity.issuer,
                    "format": identity.format,
                    "type": identity.credential_type,
                },
            )
            self._audit(
                session,
                row,
                "recovery.presentation_completed",
                now=now,
                data={"issuer": identity.issuer, "format": identity.format},
            )
            if row.face_required and identity.portrait is None:
                self.transition(
                    session,
                    row,
                    "fail",
                    now=now,
                    reason="portrait_missing",
                    check={"check": "face", "outcome": "failed", "detail": "portrait_missing"},
                )
                return
            self.transition(
                session, row, "face_check" if row.face_required else "validate", now=now
            )
            go_validate = row.state == "validating"
        if go_validate:
            self._validate(handle)

    def _row_public_key(self, handle: str) -> bytes:
        return public_bytes(self._private_key(handle))

    def _fail(
        self,
        handle: str,
        *,
        reason: str,
        check: str,
        expected_state: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle, lock=True)
            if row.state != expected_state:
                return
            self.transition(
                session,
                row,
                "fail",
                now=now,
                reason=reason,
                check={"check": check, "outcome": "failed", "detail": reason, **(data or {})},
            )

    def _identity(self, handle: str, row: RecoveryFlowRow) -> VerifiedIdentity:
        if row.evidence_sealed is None:
            raise Gone("the evidence of this flow is gone")
        try:
            data = open_sealed(self._private_key(handle), row.evidence_sealed, context=_EVIDENCE)
        except SealError as exc:
            raise Gone("the evidence of this flow cannot be opened") from exc
        return _decode_identity(data)

    # --- face check ------------------------------------------------------------------------

    def face_challenge(self, handle: str) -> FaceChallengeView:
        from ssar.face.liveness import issue_challenge

        with self._db.transaction() as session:
            row = self.row(session, handle)
            nonce = row.nonce
            if row.state != "face_checking":
                raise Gone("this flow is not at the face check")
        challenge = issue_challenge(nonce=nonce, key=self.face_key, clock=self._clock)
        return FaceChallengeView(
            poses=tuple(p.value for p in challenge.poses),
            token=challenge.token,
            deadline=challenge.deadline,
        )

    def probe_frame(self, handle: str, frame: bytes) -> dict[str, Any]:
        """The pose one frame shows, for the capture page's guidance (nothing is kept)."""
        with self._db.transaction() as session:
            if self.row(session, handle).state != "face_checking":
                raise Gone("this flow is not at the face check")
        return probe_pose(frame)

    def submit_face(self, handle: str, *, token: str, frames: Sequence[bytes]) -> FlowView:
        """One face-check attempt: liveness of the burst, then its straight frame against the
        credential's portrait at the profile's threshold. Consecutive failures end the flow
        after ``max_face_failures`` (R24). Frames and embeddings never leave this call (R23)."""
        from ssar.recovery.facecheck import run_face_check

        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle)
            self._expire_if_due(session, row, now)
            if row.state != "face_checking":
                raise Gone("this flow is not at the face check")
            identity = self._identity(handle, row)
            nonce, threshold = row.nonce, row.face_threshold
        outcome = run_face_check(
            portrait=identity.portrait,
            token=token,
            frames=frames,
            nonce=nonce,
            key=self.face_key,
            clock=self._clock,
            threshold=threshold,
            database=self._db,
            flow_id=row.id,
        )
        del identity
        with self._db.transaction() as session:
            row = self.row(session, handle, lock=True)
            if row.state != "face_checking":
                raise Gone("this flow is not at the face check")
            row.face_attempts += 1
            check = {
                "check": "face",
                "outcome": "passed" if outcome.passed else "failed",
                "detail": outcome.code,
                "score": outcome.confidence,
                "attempt": row.face_attempts,
            }
            if outcome.confidence is not None:
                row.face_score = outcome.confidence
            if outcome.passed:
                row.face_failures = 0
                self.transition(session, row, "face_matched", now=now, check=check)
                self._audit(
                    session,
                    row,
                    "recovery.face_check_passed",
                    now=now,
                    data={"score": outcome.confidence},
                )
            else:
                # a challenge that ran out before the person was ready costs no attempt: it is
                # refused before any frame is looked at, and the retry brings a fresh one
                if outcome.code != "challenge_expired":
                    row.face_failures += 1
                self._audit(
                    session,
                    row,
                    "recovery.face_check_failed",
                    now=now,
                    data={"score": outcome.confidence, "code": outcome.code},
                )
                if outcome.code.startswith("portrait_"):
                    # the credential's own photo is unusable: no retry can help
                    self.transition(session, row, "fail", now=now, reason=outcome.code, check=check)
                elif row.face_failures >= self._policy.max_face_failures:
                    self.transition(
                        session, row, "fail", now=now, reason="face_check_failed", check=check
                    )
                else:
                    self.transition(session, row, "face_retry", now=now, check=check)
            passed = row.state == "validating"
        if passed:
            self._validate(handle)
        view = self.view(handle)
        if not outcome.passed and view.state == "face_checking":
            return FlowView(
                handle=view.handle,
                state=view.state,
                face=view.face,
                attempts_left=view.attempts_left,
                message=outcome.message,
            )
        return view

    # --- validation and the decision -------------------------------------------------------

    def _validate(self, handle: str) -> None:
        from ssar.recovery.restore import evaluate, restore
        from ssar.recovery.validation import Validator

        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle)
            if row.state != "validating":
                return
            identity = self._identity(handle, row)
            snapshot = FlowContext(id=row.id, state=row.state, updated_at=row.updated_at)
            name = row.profile_name
            eligibility, user_id, mode = row.eligibility, row.user_id, row.mode
        profile = self._profile_of(name)
        validator: Validator = self._validator()
        evidence_hash = evidence_key(self._key, identity)
        decision = validator.decide(
            flow_id=snapshot.id,
            eligibility=eligibility,
            user_id=user_id,
            profile=profile,
            identity=identity,
            evidence_hash=evidence_hash,
            now=now,
        )
        if not decision.passed:
            with self._db.transaction() as session:
                row = self.row(session, handle, lock=True)
                if row.state != "validating":
                    return
                for check in decision.checks:
                    row.checks = [*row.checks, {"at": now.isoformat(), **check}]
                self._audit(
                    session,
                    row,
                    "recovery.account_not_matched",
                    now=now,
                    data={"reason": decision.reason},
                )
                if decision.alert:
                    validator.alert_evidence_reused(session, row=row, now=now)
                self.transition(session, row, "fail", now=now, reason=decision.reason)
            return
        if mode == "production":
            restore(
                self,
                handle=handle,
                decision=decision,
                evidence_hash=evidence_hash,
                profile=profile,
                now=now,
            )
        else:
            evaluate(self, handle=handle, decision=decision, evidence_hash=evidence_hash, now=now)

    # --- TAP, cancel, views -----------------------------------------------------------------

    def take_tap(self, handle: str) -> RecoveredTap:
        """The TAP of a restored flow, once (then the flow is ``completed``); 410 afterwards."""
        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle, lock=True)
            self._expire_if_due(session, row, now)
            if row.state != "restored" or row.tap_sealed is None:
                raise Gone("the pass was already shown or was never issued")
            try:
                payload = json.loads(
                    open_sealed(self._private_key(handle), row.tap_sealed, context=_TAP)
                )
            except SealError as exc:
                raise Gone("the pass cannot be opened") from exc
            row.tap_sealed = None
            self.transition(
                session, row, "tap_taken", now=now, check={"check": "tap", "outcome": "shown"}
            )
            self._audit(session, row, "recovery.completed", now=now)
        return RecoveredTap(
            tap=payload["tap"],
            expires_at=datetime.fromisoformat(payload["expires_at"]),
            one_time=bool(payload["one_time"]),
            username=str(payload["username"]),
        )

    def seal_tap(
        self, row: RecoveryFlowRow, *, tap: str, expires_at: datetime, one_time: bool, username: str
    ) -> None:
        row.tap_sealed = seal(
            row.public_key,
            json.dumps(
                {
                    "tap": tap,
                    "expires_at": expires_at.isoformat(),
                    "one_time": one_time,
                    "username": username,
                }
            ).encode(),
            context=_TAP,
        )

    def cancel(self, handle: str) -> FlowView:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle, lock=True)
            if row.state not in TERMINAL and row.state != "restored":
                self.transition(session, row, "cancel", now=now, reason="cancelled")
        return self.view(handle)

    def view(self, handle: str) -> FlowView:
        now = self._clock.now()
        with self._db.transaction() as session:
            row = self.row(session, handle)
            self._expire_if_due(session, row, now)
            state = row.state
            provider_state = self._provider_state(row) if state == "verifying" else {}
            attempts_left = self._policy.max_face_failures - row.face_failures
            evaluation = row.mode == "evaluation" and state == "evaluated"
        if state == "verifying":
            return FlowView(
                handle=handle, state=state, verification=provider_state.get("verification")
            )
        if state == "face_checking":
            return FlowView(
                handle=handle,
                state=state,
                face=self.face_challenge(handle),
                attempts_left=attempts_left,
            )
        if state in ("failed", "expired", "cancelled"):
            return FlowView(handle=handle, state=state, message=UNIFORM_MESSAGE)
        if evaluation:
            return FlowView(handle=handle, state=state, message=EVALUATION_MESSAGE, evaluation=True)
        return FlowView(handle=handle, state=state)

    # --- maintenance --------------------------------------------------------------------------

    def case(self, flow_id: str) -> dict[str, Any]:
        """A flow's case record for admins: who, when, from where, profile, provider, every
        check's outcome and score, and the decision (never claims, never images)."""
        with self._db.transaction() as session:
            row = session.get(RecoveryFlowRow, flow_id)
            if row is None:
                raise NotFound("no such recovery case")
            return _case_json(row)

    def cases(self, *, limit: int = 100) -> list[dict[str, Any]]:
        with self._db.transaction() as session:
            rows = session.execute(
                select(RecoveryFlowRow).order_by(RecoveryFlowRow.created_at.desc()).limit(limit)
            ).scalars()
            return [_case_json(row) for row in rows]


def probe_pose(frame: bytes) -> dict[str, Any]:
    """The head pose one frame shows, or why no single usable face is in it (R21), with the
    message for the person. Nothing is kept."""
    from ssar.face.detection import find_single_face
    from ssar.face.errors import FaceError
    from ssar.face.image import decode_image
    from ssar.face.pose import classify_yaw, estimate_yaw
    from ssar.recovery.facecheck import DEFAULT_RETRY, RETRY_MESSAGES

    try:
        image = decode_image(frame)
        face = find_single_face(image, with_landmarks68=True)
    except FaceError as exc:
        return {
            "pose": None,
            "error": exc.code,
            "message": RETRY_MESSAGES.get(exc.code, DEFAULT_RETRY),
        }
    assert face.landmarks68 is not None
    yaw = estimate_yaw(face.landmarks68, width=image.shape[1], height=image.shape[0])
    pose = classify_yaw(yaw)
    return {"pose": pose.value if pose else None, "error": None, "message": None}


def _case_json(row: RecoveryFlowRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "account": row.account,
        "user_id": row.user_id,
        "eligibility": row.eligibility,
        "profile": row.profile_name,
        "mode": row.mode,
        "provider": row.provider,
        "state": row.state,
        "reason": row.reason,
        "issuer": row.issuer,
        "credential_type": row.credential_type,
        "face_attempts": row.face_attempts,
        "face_score": row.face_score,
        "checks": list(row.checks),
        "ip": row.ip,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "disputed_at": row.disputed_at.isoformat() if row.disputed_at else None,
    }


def _encode_identity(identity: VerifiedIdentity) -> bytes:
    return json.dumps(
        {
            "provider": identity.provider,
            "issuer": identity.issuer,
            "format": identity.format,
            "credential_type": identity.credential_type,
            "claims": dict(identity.claims),
            "subject": identity.subject,
            "evidence": dict(identity.evidence),
            "portrait": base64.b64encode(identity.portrait).decode() if identity.portrait else None,
        },
        default=str,
    ).encode()


def _decode_identity(data: bytes) -> VerifiedIdentity:
    raw = json.loads(data)
    return VerifiedIdentity(
        provider=raw["provider"],
        issuer=raw["issuer"],
        format=raw["format"],
        credential_type=raw["credential_type"],
        claims=raw["claims"],
        subject=raw["subject"],
        evidence=raw["evidence"],
        portrait=base64.b64decode(raw["portrait"]) if raw["portrait"] else None,
    )

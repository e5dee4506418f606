"""Table mappings. These are persistence rows, not API schemas (those live in each package).

Migrations in ``migrations/versions`` mirror this module; ``tests/integration/test_migrations.py``
fails when they drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ssar.store.types import UTCDateTime, new_id

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


# --- directory -------------------------------------------------------------------------------


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(256))
    # lower-cased, NFC-normalised username: the unique key sign-in looks up
    username_key: Mapped[str] = mapped_column(String(256), unique=True)
    given_name: Mapped[str] = mapped_column(String(256))
    family_name: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(512))
    employee_id: Mapped[str | None] = mapped_column(String(128), index=True)
    external_id: Mapped[str | None] = mapped_column(String(256))
    birthdate: Mapped[str | None] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    privileged: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UserEmailRow(Base):
    """An address of a user; ``notify`` marks the notification addresses (R5, R27)."""

    __tablename__ = "user_emails"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32), default="work")
    primary: Mapped[bool] = mapped_column(Boolean, default=False)
    notify: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("user_id", "address"),)


class GroupRow(Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(256))
    name_key: Mapped[str] = mapped_column(String(256), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class GroupMemberRow(Base):
    """A user directly in a group."""

    __tablename__ = "group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class GroupNestingRow(Base):
    """A group directly inside another group; membership is transitive through these edges."""

    __tablename__ = "group_nesting"

    parent_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    child_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# --- sign-in ---------------------------------------------------------------------------------


class AuthMethodRow(Base):
    """Every sign-in method ever bound to a user. Removal sets ``revoked_at``; rows are kept as
    the record of what was bound. Typed columns are filled for their ``type`` only."""

    __tablename__ = "auth_methods"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))  # passkey | totp | tap
    label: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    # set when the method was registered in a session that signed in with a TAP
    registered_with_method_id: Mapped[str | None] = mapped_column(String(36))
    # passkey
    credential_id: Mapped[bytes | None] = mapped_column(LargeBinary(1024), unique=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary(2048))
    sign_count: Mapped[int | None] = mapped_column(BigInteger)
    transports: Mapped[list[str] | None] = mapped_column(JSON)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    backed_up: Mapped[bool | None] = mapped_column(Boolean)
    # totp: the shared secret, encrypted with a key derived from the secret key
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary(256))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # tap: keyed hash only (R25)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    one_time: Mapped[bool | None] = mapped_column(Boolean)
    used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_auth_methods_user_type", "user_id", "type"),)


class SessionRow(Base):
    """A browser session. The cookie carries a random token; only its keyed hash is stored."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method_id: Mapped[str | None] = mapped_column(String(36))
    method_type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    authenticated_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class WebAuthnChallengeRow(Base):
    """A WebAuthn challenge, single use (R28), bound to the browser that asked for it."""

    __tablename__ = "webauthn_challenges"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # registration | authentication
    binding_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class ApiTokenRow(Base):
    """Bearer tokens for the admin API and SCIM; only a keyed hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(256))  # space-separated
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


# --- admin center (owned by ssar.admin) -----------------------------------------------------


class AdminRoleRow(Base):
    """A user's role in the admin center. Holding a role makes the user privileged (R6)."""

    __tablename__ = "admin_roles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32))  # global_admin | helpdesk | reader
    granted_at: Mapped[datetime]
    granted_by: Mapped[str] = mapped_column(String(256))


class TenantSettingRow(Base):
    """A setting an admin changed in the admin center (e.g. ``tap_policy``); it overrides the
    environment's default for every process."""

    __tablename__ = "tenant_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(256))


# --- notifications and audit ---------------------------------------------------------------


class OutboxRow(Base):
    """A message queued in the same transaction as the change it reports; sent after commit."""

    __tablename__ = "outbox"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(512))
    body_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(512))


class AuditEventRow(Base):
    """One append-only, hash-chained audit event (R30)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    at: Mapped[datetime] = mapped_column(index=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(256))
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The single row that appenders lock, so the chain has one order across processes."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


# --- openid4vp: verifier transactions (owned by ssar.openid4vp) -------------------------------


class VpTransactionRow(Base):
    """One OpenID4VP presentation request and its outcome; all a process needs to serve it.

    Secrets are stored as keyed hashes (the caller's transaction id, ``state``, the response
    code) or encrypted with the secret key (``state`` for rebuilding the Request Object, the
    ephemeral response key, the verified claims). ``status``: pending → verified | failed →
    consumed; each step is one ``UPDATE … WHERE status = …`` so a response is used once.
    """

    __tablename__ = "vp_transactions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state_enc: Mapped[bytes] = mapped_column(LargeBinary(256))
    nonce: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(512))
    response_uri: Mapped[str] = mapped_column(String(512))
    response_mode: Mapped[str] = mapped_column(String(32))
    dcql: Mapped[dict[str, Any]]
    trust: Mapped[dict[str, Any]]
    encryption_kid: Mapped[str | None] = mapped_column(String(64), unique=True)
    encryption_key_enc: Mapped[bytes | None] = mapped_column(LargeBinary(1024))
    return_uri: Mapped[str | None] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    result_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: X25519 public key the result is sealed to (the caller holds the private key): recovery
    #: flows keep evidence out of reach of the database and the service key alone (R23)
    result_public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    response_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    responded_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]


# --- throttling (shared by every process) ----------------------------------------------------


class ThrottleRow(Base):
    """Consecutive failures under one key (an account or a client address) and until when
    further attempts are refused. Keys are keyed hashes, never the raw username or address."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_failure_at: Mapped[datetime]
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None]


# --- identity verification profiles (owned by ssar.profiles) ---------------------------------


class VerificationProfileRow(Base):
    """An identity verification profile. ``settings`` holds the nested parts (credentials,
    validation, face_check, tap) in the YAML shape; groups live in
    ``verification_profile_groups`` by id, so renaming a group keeps the profile working."""

    __tablename__ = "verification_profiles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(128))
    name_key: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(String(1024), default="")
    mode: Mapped[str] = mapped_column(String(16))  # evaluation | production
    priority: Mapped[int] = mapped_column(Integer, unique=True)
    allow_privileged: Mapped[bool] = mapped_column(Boolean, default=False)
    provider: Mapped[str] = mapped_column(String(128))
    settings: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VerificationProfileGroupRow(Base):
    """A group a profile includes or excludes (``kind``), in the order the profile lists it."""

    __tablename__ = "verification_profile_groups"

    profile_id: Mapped[str] = mapped_column(
        ForeignKey("verification_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # include | exclude
    position: Mapped[int] = mapped_column(Integer)


# --- recovery (owned by ssar.recovery) ---------------------------------------------------------


class RecoveryFlowRow(Base):
    """One recovery attempt: the flow's state and, for ever after, its case record.

    The person's handle (a 256-bit secret) is stored as a keyed hash only. Evidence (claims,
    portrait) and the TAP are *sealed* to ``public_key``, whose private key is derived from the
    handle: the database and the service key together cannot open them (R23); they are erased
    when the flow ends. ``checks`` is the case record, one entry per check with its outcome.
    """

    __tablename__ = "recovery_flows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    account: Mapped[str] = mapped_column(String(256))  # as typed
    account_key: Mapped[str] = mapped_column(String(96), index=True)  # keyed hash, throttling
    address_key: Mapped[str] = mapped_column(String(96), index=True)  # keyed hash, throttling
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    eligibility: Mapped[str] = mapped_column(String(32))  # applies | unknown_user | excluded ...
    profile_id: Mapped[str | None] = mapped_column(String(36), index=True)
    profile_name: Mapped[str | None] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))  # evaluation | production
    provider: Mapped[str] = mapped_column(String(128))
    face_required: Mapped[bool] = mapped_column(Boolean)
    face_threshold: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(24), index=True)
    reason: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))  # binds face challenges to this flow
    provider_state_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    evidence_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    tap_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(512))
    tap_method_id: Mapped[str | None] = mapped_column(String(36))
    evidence_hash: Mapped[str | None] = mapped_column(String(64))
    issuer: Mapped[str | None] = mapped_column(String(512))
    credential_type: Mapped[str | None] = mapped_column(String(256))
    face_attempts: Mapped[int] = mapped_column(Integer, default=0)
    face_failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive (R24)
    face_score: Mapped[float | None]
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    dispute_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    disputed_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class RecoveryEvidenceRow(Base):
    """Identity evidence (keyed hash of issuer + subject/document number) bound to the account it
    first recovered; the same evidence for another account is refused (R10)."""

    __tablename__ = "recovery_evidence"

    evidence_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    flow_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]


class RecoveryFrameRow(Base):
    """SHA-256 digests of face-check frames already submitted, in any flow: a frame is never
    accepted twice (R20). A digest is not an image: nothing biometric is kept (R23)."""

    __tablename__ = "recovery_frames"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(36), index=True)
    seen_at: Mapped[datetime]


class RecoveryLockRow(Base):
    """Self-service recovery locked for an account ("this wasn't me", R5) until an admin unlocks."""

    __tablename__ = "recovery_locks"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    locked_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(64))
    flow_id: Mapped[str | None] = mapped_column(String(36))


# --- namesake index (owned by ssar.directory, R32) -------------------------------------------


class UserNameKeyRow(Base):
    """A key a user's family name is indexed under (``ssar.directory.namesakes``), so recovery
    finds every account whose names fit a credential's without scanning ``users`` (R32). The
    primary key leads with ``key``: a lookup is an index scan. Keys are names: stored like them."""

    __tablename__ = "user_name_keys"

    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# --- reference IDV issuance (owned by ssar.idv: OpenID4VCI and the Token Status List) ---------


class IdvOfferRow(Base):
    """A credential offer waiting for pick-up (OpenID4VCI pre-authorized code flow). Every secret
    (offer reference, pre-authorized code, transaction code, access token) is kept only as a
    keyed hash; the code itself only encrypted under a key derived from the offer reference. The
    verified identity is sealed to a key derived from the code (then from the access token) and
    erased when the credential is issued or the offer ends."""

    __tablename__ = "idv_offers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    offer_ref_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_blob: Mapped[bytes] = mapped_column(LargeBinary)
    tx_code_hash: Mapped[str | None] = mapped_column(String(64))
    tx_code_length: Mapped[int | None] = mapped_column(Integer)
    tx_attempts: Mapped[int] = mapped_column(Integer, default=0)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # offered | token_issued | issued | locked | expired
    status: Mapped[str] = mapped_column(String(16), index=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    credential_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    token_expires_at: Mapped[datetime | None]
    issued_at: Mapped[datetime | None]


class IdvNonceRow(Base):
    """A ``c_nonce`` from the nonce endpoint (keyed hash), consumed by one credential request."""

    __tablename__ = "idv_nonces"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IdvStatusListRow(Base):
    """One published Token Status List of the issuer (``/idv/status/{id}``)."""

    __tablename__ = "idv_status_lists"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bits: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class IdvCredentialRow(Base):
    """A credential the issuer signed: its place in a status list and its status (0 valid,
    1 revoked, 2 suspended). No claim of the person is kept here."""

    __tablename__ = "idv_credentials"
    __table_args__ = (UniqueConstraint("status_list_id", "status_idx"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    offer_id: Mapped[str | None] = mapped_column(String(36), index=True)
    vct: Mapped[str] = mapped_column(String(256))
    status_list_id: Mapped[str] = mapped_column(
        ForeignKey("idv_status_lists.id", ondelete="RESTRICT")
    )
    status_idx: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer, default=0, index=True)
    holder_thumbprint: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status_changed_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(String(128))


# --- reference identity verification sessions (owned by ssar.idv.service) --------------------


class IdvSessionRow(Base):
    """One person's identity verification at the reference service: document checked → live
    selfie matched → credential offered. The document's claims and portrait are sealed to a key
    derived from the person's handle (like recovery flows) and erased when the session ends;
    what stays is the outcome and a keyed hash of the document number."""

    __tablename__ = "idv_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    state: Mapped[str] = mapped_column(String(24), index=True)  # selfie | offered | failed
    reason: Mapped[str | None] = mapped_column(String(64))
    document_type: Mapped[str] = mapped_column(String(32))
    issuing_country: Mapped[str] = mapped_column(String(8))
    strength: Mapped[str] = mapped_column(String(16))
    document_hash: Mapped[str] = mapped_column(String(64), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    evidence_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    offer_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    face_failures: Mapped[int] = mapped_column(Integer, default=0)
    face_score: Mapped[float | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class IdvOidcGrantRow(Base):
    """An authorization the reference service's OpenID provider granted after a verification:
    the code (then the access token) by keyed hash, the verified claims encrypted, erased when
    the token expires or is used up."""

    __tablename__ = "idv_oidc_grants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(256))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    code_challenge: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(String(64))
    claims_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]

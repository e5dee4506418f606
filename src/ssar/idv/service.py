"""The reference identity verification service: a document checked, a live selfie matched with
the document's portrait, then a verifiable credential offered (OpenID4VCI).

A session starts with evidence that passed its own checks:

* a driving licence or ID card: photos of the front (the portrait) and the back (the AAMVA
  PDF417), evidence strength ``STRONG``;
* an ePassport's chip files (EF.SOD, DG1, DG2) that pass passive authentication against the
  configured CSCA certificates, strength ``SUPERIOR`` (NIST SP 800-63A);
* a typed machine readable zone (every check digit) and a photo of the data page, ``FAIR``.

The person then takes a live selfie with a liveness challenge (the recovery flow's face check,
R20-R24) matched against the document portrait. Only then is the credential offered.

No retention: the document's claims and portrait are sealed to a key derived from the person's
session handle (their cookie) and erased when the session ends; the images uploaded are never
written anywhere. What stays is the outcome and a keyed hash of the document number.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ssar.clock import Clock
from ssar.errors import Gone, NotFound
from ssar.idv.errors import DocumentError
from ssar.idv.oid4vci import IssuanceService
from ssar.keys import SecretKey
from ssar.sealing import SealError, derive_private_key, open_sealed, public_bytes, seal
from ssar.store.db import Database
from ssar.store.tables import IdvSessionRow

SESSION_LIFETIME = timedelta(minutes=30)
MAX_FACE_FAILURES = 5
_SEAL = "idv/session"
_EVIDENCE = "idv/evidence"
_OFFER = "idv/offer-view"
#: ISO 3166-1 alpha-3 for the AAMVA countries
_AAMVA_COUNTRY = {"USA": "USA", "CAN": "CAN"}


@dataclass(frozen=True)
class DocumentEvidence:
    """What a checked document says about its holder (never persisted in clear)."""

    document_type: str  # passport | idcard | driving_permit
    issuing_country: str
    strength: str  # SUPERIOR | STRONG | FAIR
    given_name: str
    family_name: str
    birthdate: str
    document_number: str
    portrait_jpeg: bytes = field(repr=False)


@dataclass(frozen=True)
class SessionView:
    handle: str = field(repr=False)
    state: str  # selfie | offered | failed | expired
    attempts_left: int = MAX_FACE_FAILURES
    message: str | None = None
    offer: Mapping[str, Any] | None = None  # link, qr_url, tx_code (shown to the person only)
    #: the verified identity, handed to the OpenID provider role instead of an offer
    identity: Mapping[str, Any] | None = field(default=None, repr=False)
    document_hash: str | None = None


def licence_evidence(front: bytes, back: bytes, *, now: datetime) -> DocumentEvidence:
    """A driving licence / ID card from photos of its two sides."""
    from ssar.idv.aamva import parse_aamva
    from ssar.idv.barcode import read_pdf417
    from ssar.idv.portrait import extract_portrait

    licence = parse_aamva(read_pdf417(back), now=now)
    portrait = extract_portrait(front)
    return DocumentEvidence(
        document_type="driving_permit" if licence.document_type == "driving_licence" else "idcard",
        issuing_country=_AAMVA_COUNTRY[licence.country],
        strength="STRONG",
        given_name=licence.given_name,
        family_name=licence.family_name,
        birthdate=licence.birthdate,
        document_number=licence.document_number,
        portrait_jpeg=portrait,
    )


def passport_evidence(
    *, sod: bytes, dg1: bytes, dg2: bytes, csca: Sequence[x509.Certificate], now: datetime
) -> DocumentEvidence:
    """An ePassport from its chip files, after passive authentication."""
    from ssar.idv.epassport import verify_passport

    evidence = verify_passport(sod=sod, dg1=dg1, dg2=dg2, csca_certificates=csca, now=now)
    mrz = evidence.mrz
    return DocumentEvidence(
        document_type="passport",
        issuing_country=mrz.issuing_state,
        strength=evidence.strength,
        given_name=mrz.given_names,
        family_name=mrz.family_name,
        birthdate=mrz.birthdate,
        document_number=mrz.document_number,
        portrait_jpeg=evidence.portrait_jpeg,
    )


def mrz_evidence(mrz_text: str, photo: bytes, *, now: datetime) -> DocumentEvidence:
    """A passport or ID card from its machine readable zone (typed) and a photo of the data
    page. Nothing cryptographic backs it, so the evidence is only ``FAIR``."""
    from ssar.idv.mrz import parse_mrz
    from ssar.idv.portrait import extract_portrait

    mrz = parse_mrz(mrz_text, now=now)
    portrait = extract_portrait(photo)
    return DocumentEvidence(
        document_type="passport" if mrz.document_type.startswith("P") else "idcard",
        issuing_country=mrz.issuing_state,
        strength="FAIR",
        given_name=mrz.given_names,
        family_name=mrz.family_name,
        birthdate=mrz.birthdate,
        document_number=mrz.document_number,
        portrait_jpeg=portrait,
    )


def load_csca(directory: Path) -> tuple[x509.Certificate, ...]:
    """The CSCA trust list: every ``*.pem`` / ``*.der`` certificate in ``directory``."""
    from ssar.idv.epassport import load_csca_certificates

    if not directory.is_dir():
        return ()
    blobs = [p.read_bytes() for p in sorted(directory.iterdir()) if p.suffix in (".pem", ".der")]
    return load_csca_certificates(blobs) if blobs else ()


class VerificationService:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        secret_key: SecretKey,
        issuance: IssuanceService,
        csca_dir: Path,
    ) -> None:
        self._db = database
        self._clock = clock
        self._key = secret_key
        self._issuance = issuance
        self._csca_dir = csca_dir
        self.face_key = secret_key.derive("idv/face-challenge")

    @property
    def csca(self) -> tuple[x509.Certificate, ...]:
        return load_csca(self._csca_dir)

    def _hash(self, handle: str) -> str:
        return self._key.keyed_hash("idv/handle", handle)

    def _private(self, handle: str) -> X25519PrivateKey:
        return derive_private_key(self._key, handle, purpose=_SEAL)

    def _row(self, session: Session, handle: str, *, lock: bool = False) -> IdvSessionRow:
        query = select(IdvSessionRow).where(IdvSessionRow.handle_hash == self._hash(handle))
        if lock:
            query = query.with_for_update()
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            raise NotFound("no identity verification in progress")
        now = self._clock.now()
        if row.state == "selfie" and now >= row.expires_at:
            row.state, row.reason, row.finished_at = "expired", "expired", now
            row.evidence_sealed = None
        return row

    # --- the document --------------------------------------------------------------------

    def start(self, evidence: DocumentEvidence) -> SessionView:
        """A session for a person whose document passed its checks; next: the selfie."""
        now = self._clock.now()
        handle = secrets.token_urlsafe(32)
        public = public_bytes(self._private(handle))
        sealed = seal(
            public,
            json.dumps(
                {
                    "given_name": evidence.given_name,
                    "family_name": evidence.family_name,
                    "birthdate": evidence.birthdate,
                    "document_type": evidence.document_type,
                    "issuing_country": evidence.issuing_country,
                    "strength": evidence.strength,
                    "portrait": base64.b64encode(evidence.portrait_jpeg).decode(),
                }
            ).encode(),
            context=_EVIDENCE,
        )
        with self._db.transaction() as session:
            session.add(
                IdvSessionRow(
                    handle_hash=self._hash(handle),
                    public_key=public,
                    state="selfie",
                    document_type=evidence.document_type,
                    issuing_country=evidence.issuing_country,
                    strength=evidence.strength,
                    document_hash=self._key.keyed_hash(
                        "idv/document",
                        f"{evidence.issuing_country}\0{evidence.document_number}",
                    ),
                    nonce=secrets.token_urlsafe(32),
                    evidence_sealed=sealed,
                    face_failures=0,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                )
            )
        return SessionView(handle=handle, state="selfie")

    # --- the selfie -----------------------------------------------------------------------

    def challenge(self, handle: str) -> dict[str, Any]:
        from ssar.face.liveness import issue_challenge

        with self._db.transaction() as session:
            row = self._row(session, handle)
            if row.state != "selfie":
                raise Gone("this verification is not at the selfie")
            nonce = row.nonce
        challenge = issue_challenge(nonce=nonce, key=self.face_key, clock=self._clock)
        return {
            "poses": [p.value for p in challenge.poses],
            "token": challenge.token,
            "deadline": challenge.deadline.isoformat(),
        }

    def submit_selfie(
        self, handle: str, *, token: str, frames: Sequence[bytes], offer: bool = True
    ) -> SessionView:
        """Liveness + match with the document portrait (threshold 70); then the offer."""
        from ssar.recovery.facecheck import run_face_check

        with self._db.transaction() as session:
            row = self._row(session, handle)
            if row.state != "selfie" or row.evidence_sealed is None:
                raise Gone("this verification is not at the selfie")
            try:
                evidence = json.loads(
                    open_sealed(self._private(handle), row.evidence_sealed, context=_EVIDENCE)
                )
            except SealError as exc:
                raise Gone("the document evidence cannot be opened") from exc
            nonce, session_id, document_hash = row.nonce, row.id, row.document_hash
        portrait = base64.b64decode(evidence.pop("portrait"))
        outcome = run_face_check(
            portrait=portrait,
            token=token,
            frames=frames,
            nonce=nonce,
            key=self.face_key,
            clock=self._clock,
            threshold=70,
            database=self._db,
            flow_id=session_id,
        )
        now = self._clock.now()
        if not outcome.passed:
            with self._db.transaction() as session:
                row = self._row(session, handle, lock=True)
                if outcome.code != "challenge_expired":
                    row.face_failures += 1
                row.face_score = outcome.confidence
                row.reason = outcome.code[:64]  # the last refusal's code (e.g. mismatch)
                if row.face_failures >= MAX_FACE_FAILURES or outcome.code.startswith("portrait_"):
                    row.state, row.reason, row.finished_at = "failed", outcome.code, now
                    row.evidence_sealed = None
                    return SessionView(handle=handle, state="failed")
                return SessionView(
                    handle=handle,
                    state="selfie",
                    attempts_left=MAX_FACE_FAILURES - row.face_failures,
                    message=outcome.message,
                )
        identity = {
            "given_name": evidence["given_name"],
            "family_name": evidence["family_name"],
            "birthdate": evidence["birthdate"],
            "verification": {
                "document_type": evidence["document_type"],
                "issuing_country": evidence["issuing_country"],
                "strength": evidence["strength"],
                "time": now.isoformat(),
            },
        }
        if not offer:  # an OpenID Connect relying party asked: it gets verified_claims instead
            with self._db.transaction() as session:
                row = self._row(session, handle, lock=True)
                row.state, row.face_score, row.finished_at = "asserted", outcome.confidence, now
                row.evidence_sealed = None
            return SessionView(
                handle=handle, state="asserted", identity=identity, document_hash=document_hash
            )
        created = self._issuance.create_offer(identity, portrait)
        view = {"link": created.link, "qr_url": created.qr_url, "tx_code": created.tx_code}
        with self._db.transaction() as session:
            row = self._row(session, handle, lock=True)
            row.state, row.face_score, row.finished_at = "offered", outcome.confidence, now
            row.evidence_sealed = None
            row.offer_sealed = seal(row.public_key, json.dumps(view).encode(), context=_OFFER)
        return SessionView(handle=handle, state="offered", offer=view)

    def view(self, handle: str) -> SessionView:
        with self._db.transaction() as session:
            row = self._row(session, handle)
            state, failures, sealed = row.state, row.face_failures, row.offer_sealed
        offer = None
        if state == "offered" and sealed is not None:
            offer = json.loads(open_sealed(self._private(handle), sealed, context=_OFFER))
        return SessionView(
            handle=handle,
            state=state,
            attempts_left=MAX_FACE_FAILURES - failures,
            offer=offer,
        )


def document_error_message(exc: DocumentError) -> str:
    """What the person is told about a document that failed (the code is for the record)."""
    messages = {
        "barcode_unreadable": "We couldn't read the barcode on the back. Take a sharper, "
        "well-lit photo of the whole back of the card.",
        "document_expired": "This document has expired.",
        "document_not_yet_valid": "This document is not valid yet.",
        "no_face": "We couldn't find the photo on the front of the card.",
    }
    return messages.get(
        exc.code, "We couldn't verify this document. Check the files and try again."
    )

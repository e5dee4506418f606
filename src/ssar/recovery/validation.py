"""Account validation (step 6 of the story): is the verified person the owner of the account?

In order, each failing closed with its reason for the case record:

1. eligibility: a profile applies, the account exists, is enabled and not locked (R1, R9, R5);
2. the same evidence never recovers a second account (R10, alerted);
3. the credential's claims match the account under the profile's rule, and no namesake in the
   directory fits as well unless a bound claim or the extension tells them apart (R7, R32);
4. the organisation's custom authentication extension, when the profile names one (R29).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.directory.namesakes import TooManyNamesakes
from ssar.directory.service import DirectoryService
from ssar.errors import NotFound
from ssar.notify.outbox import queue_message
from ssar.profiles.models import Profile
from ssar.providers.base import VerifiedIdentity
from ssar.recovery.extension import CandidateUser, DocumentClaims, ExtensionClient, VerifiedClaims
from ssar.recovery.matching import AMBIGUOUS_NAMESAKES, MatchRule, select_account
from ssar.store.db import Database
from ssar.store.tables import RecoveryEvidenceRow, RecoveryFlowRow, RecoveryLockRow, UserRow


@dataclass(frozen=True)
class Decision:
    passed: bool
    reason: str  # matched | singled_out_by_* | not_eligible | evidence_reused | not_matched | ...
    checks: tuple[dict[str, Any], ...]
    user_id: str | None = None
    alert: bool = False


def _fail(reason: str, checks: list[dict[str, Any]], *, alert: bool = False) -> Decision:
    return Decision(False, reason, tuple(checks), None, alert)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Validator:
    def __init__(
        self,
        *,
        database: Database,
        directory: DirectoryService,
        extension: ExtensionClient | None,
        base_url: str,
    ) -> None:
        self._db = database
        self._directory = directory
        self._extension = extension
        self._base_url = base_url

    def decide(
        self,
        *,
        flow_id: str,
        eligibility: str,
        user_id: str | None,
        profile: Profile | None,
        identity: VerifiedIdentity,
        evidence_hash: str,
        now: datetime,
    ) -> Decision:
        checks: list[dict[str, Any]] = []
        if eligibility != "applies" or user_id is None or profile is None:
            checks.append({"check": "eligibility", "outcome": "failed", "detail": eligibility})
            return _fail("not_eligible", checks)
        with self._db.transaction() as session:
            locked = session.get(RecoveryLockRow, user_id) is not None
            bound = session.get(RecoveryEvidenceRow, evidence_hash)
            bound_user = bound.user_id if bound is not None else None
        try:
            user = self._directory.get_user_by_id(user_id)
        except NotFound:
            user = None
        if locked or user is None or not user.enabled:
            detail = "locked" if locked else "unknown_user" if user is None else "disabled"
            checks.append({"check": "eligibility", "outcome": "failed", "detail": detail})
            return _fail("not_eligible", checks)
        checks.append({"check": "eligibility", "outcome": "passed", "detail": "applies"})
        if bound_user is not None and bound_user != user_id:
            checks.append({"check": "evidence", "outcome": "failed", "detail": "evidence_reused"})
            return _fail("evidence_reused", checks, alert=True)
        checks.append({"check": "evidence", "outcome": "passed", "detail": "unused"})

        claim_map = {rule.claim: rule.attribute for rule in profile.validation.claims}
        rule: MatchRule = "relaxed" if profile.validation.match == "relaxed" else "exact"
        given_claim = next((c for c, a in claim_map.items() if a == "given_name"), "given_name")
        family_claim = next((c for c, a in claim_map.items() if a == "family_name"), "family_name")
        try:
            others = self._directory.find_namesakes(
                given=_text(identity.claims.get(given_claim)) or "",
                family=_text(identity.claims.get(family_claim)) or "",
                rule=rule,
            )
        except TooManyNamesakes:
            # more accounts fit the names than can be told apart: never guess (R32)
            checks.append(
                {"check": "account_match", "outcome": "failed", "detail": "too_many_namesakes"}
            )
            return _fail(AMBIGUOUS_NAMESAKES, checks)
        account = select_account(
            claims=identity.claims, candidate=user, others=others, claim_map=claim_map, rule=rule
        )
        checks.append(
            {
                "check": "account_match",
                "outcome": "passed" if account.selected else "failed",
                "detail": account.reason,
                "rule": rule,
                "claims": [
                    {"claim": c.claim, "attribute": c.attribute, "outcome": c.reason}
                    for c in account.claim_match.checks
                ],
                "namesakes": len(account.namesakes),
            }
        )
        extension = profile.validation.extension
        if extension is None or self._extension is None:
            if not account.selected:
                return _fail(account.reason, checks)
            return Decision(True, account.reason, tuple(checks), user_id)
        if not account.selected and account.reason != AMBIGUOUS_NAMESAKES:
            return _fail(account.reason, checks)
        result = self._extension.validate(
            url=extension.url,
            timeout_seconds=extension.timeout_seconds,
            claims=_verified_claims(identity.claims, given_claim, family_claim),
            user=CandidateUser.from_user(user),
            flow_id=flow_id,
        )
        checks.append(
            {
                "check": "extension",
                "outcome": "passed" if result.passed else "failed",
                "detail": result.reason,
                "failed_claims": list(result.failed_claims),
                "attempts": result.attempts,
            }
        )
        if not result.passed:
            return _fail("extension_failed", checks)
        if not account.selected:
            account = select_account(
                claims=identity.claims,
                candidate=user,
                others=others,
                claim_map=claim_map,
                rule=rule,
                extension_confirmed=True,
            )
            if not account.selected:
                return _fail(account.reason, checks)
        return Decision(True, account.reason, tuple(checks), user_id)

    def alert_evidence_reused(
        self, session: Session, *, row: RecoveryFlowRow, now: datetime
    ) -> None:
        """R10: the same evidence for another account is an incident: audit it and tell admins."""
        AuditLog(session).append(
            "recovery.evidence_reused",
            at=now,
            actor="recovery",
            user_id=row.user_id,
            ip=row.ip,
            data={"flow_id": row.id, "profile": row.profile_name},
        )
        admins = admin_addresses(session)
        if admins:
            queue_message(
                session,
                kind="recovery.alert",
                to_addresses=admins,
                subject="Account recovery refused: identity evidence reused",
                body_text=(
                    "A recovery attempt presented identity evidence that already recovered a "
                    f"different account. It was refused.\n\nAccount typed: {row.account}\n"
                    f"Time: {now:%Y-%m-%d %H:%M} UTC\nCase {row.id}: {self._base_url}"
                    f"/admin/reports/cases/{row.id}\n"
                ),
                at=now,
            )


def admin_addresses(session: Session) -> list[str]:
    """Notification addresses of every enabled privileged user (the admins, R5)."""
    from sqlalchemy import select

    from ssar.store.tables import UserEmailRow

    return list(
        session.execute(
            select(UserEmailRow.address)
            .join(UserRow, UserRow.id == UserEmailRow.user_id)
            .where(
                UserRow.privileged.is_(True),
                UserRow.enabled.is_(True),
                UserEmailRow.notify.is_(True),
            )
            .order_by(UserEmailRow.address)
        ).scalars()
    )


def _verified_claims(claims: Mapping[str, Any], given: str, family: str) -> VerifiedClaims:
    document = None
    number = _text(claims.get("document_number"))
    if number:
        document = DocumentClaims(
            type=_text(claims.get("document_type")) or "unknown",
            number=number,
            expiry=_text(claims.get("expiry_date")),
        )
    return VerifiedClaims(
        given_name=_text(claims.get(given)) or "",
        family_name=_text(claims.get(family)) or "",
        birthdate=_text(claims.get("birthdate")),
        document=document,
    )

"""The profiles service: apply, read, delete and switch the mode of identity verification
profiles, and decide which profile applies to a user (and say why).

Every public method is one unit of work and writes its audit events inside it.

Precedence (``which``): a disabled or unknown account gets no profile. Otherwise profiles are
tried in ascending priority; for each, exclusion wins over inclusion (through nested groups),
and a privileged account passes only a profile with ``allow_privileged`` (R9). The first
profile that passes applies.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ssar.audit.log import AuditLog
from ssar.clock import Clock
from ssar.config import Settings
from ssar.directory.names import group_key, username_key
from ssar.directory.repository import DirectoryRepository
from ssar.errors import Conflict, NotFound, ValidationFailed
from ssar.profiles.models import ApplyReport, Profile, ProfileDecision, TraceStep
from ssar.profiles.repository import (
    GroupPath,
    ProfileRepository,
    bump_profiles_version,
    profile_key,
)
from ssar.profiles.schema import (
    MODES,
    ProfileFields,
    ProfilesDocument,
    ProfileSpec,
    ProfileValidationFailed,
    parse_document,
    problems_from,
)
from ssar.store.db import Database
from ssar.store.tables import VerificationProfileRow
from ssar.store.types import new_id


@dataclass(frozen=True)
class PutResult:
    """The profile after ``put`` and what happened: created, updated or unchanged."""

    profile: Profile
    outcome: str


@dataclass(frozen=True)
class _Desired:
    """A profile as it should be stored, resolved against the directory and the settings."""

    spec: ProfileSpec
    include_ids: tuple[str, ...]
    exclude_ids: tuple[str, ...]
    settings: dict[str, Any]


_COMPARED = ("name", "description", "mode", "priority", "allow_privileged", "provider", "settings")


class ProfileService:
    def __init__(
        self,
        *,
        database: Database,
        clock: Clock,
        settings: Settings,
        oidc_ida_providers: Collection[str] | None = None,
    ) -> None:
        """``oidc_ida_providers``: the configured OpenID Connect for Identity Assurance
        providers; when given, profiles naming another one are refused."""
        self._db = database
        self._clock = clock
        self._settings = settings
        self._oidc_providers = (
            frozenset(oidc_ida_providers) if oidc_ida_providers is not None else None
        )
        # (version token, profiles built at it): ``which`` rebuilds them only when the token it
        # reads in its own transaction differs, so a change any process commits is seen next
        self._cached: tuple[Any, tuple[Profile, ...]] | None = None

    # --- writes --------------------------------------------------------------------------------

    def apply(self, document: Mapping[str, Any] | ProfilesDocument, *, actor: str) -> ApplyReport:
        """Create or update every profile of the document by name; profiles it does not name
        are left alone. Idempotent: the same document again reports them all unchanged.
        Raises ProfileValidationFailed (every fault, one line each) and changes nothing when
        any profile is invalid."""
        parsed = document if isinstance(document, ProfilesDocument) else parse_document(document)
        try:
            with self._db.transaction() as session:
                outcomes = self._apply_specs(session, parsed.profiles, actor=actor)
        except IntegrityError as exc:
            raise Conflict(
                "another change to the profiles happened at the same time; apply again",
                code="profile_conflict",
            ) from exc
        return ApplyReport(
            created=tuple(n for n, o in outcomes if o == "created"),
            updated=tuple(n for n, o in outcomes if o == "updated"),
            unchanged=tuple(n for n, o in outcomes if o == "unchanged"),
        )

    def put(self, *, name: str, fields: ProfileFields, actor: str) -> PutResult:
        """Create or update one profile (the admin API's ``PUT``)."""
        raw = {**fields.model_dump(exclude_none=True), "name": name}
        try:
            spec = ProfileSpec.model_validate(raw)
        except ValidationError as exc:
            raise ProfileValidationFailed(problems_from(exc, None)) from None
        try:
            with self._db.transaction() as session:
                ((_, outcome),) = self._apply_specs(session, [spec], actor=actor)
                repo = ProfileRepository(session)
                row = repo.row_by_name(spec.name)
                assert row is not None
                profile = repo.profiles([row])[0]
        except IntegrityError as exc:
            raise Conflict(
                "another change to the profiles happened at the same time; try again",
                code="profile_conflict",
            ) from exc
        return PutResult(profile=profile, outcome=outcome)

    def delete(self, name: str, *, actor: str) -> None:
        with self._db.transaction() as session:
            repo = ProfileRepository(session)
            repo.lock()
            row = repo.row_by_name(name)
            if row is None:
                raise NotFound(f"no profile named {name!r}", code="profile_not_found")
            data = {"name": row.name, "priority": row.priority, "mode": row.mode}
            session.delete(row)
            now = self._clock.now()
            bump_profiles_version(session, at=now, actor=actor)
            AuditLog(session).append("profile.deleted", at=now, actor=actor, data=data)

    def set_mode(self, name: str, mode: str, *, actor: str) -> Profile:
        """Switch a profile between ``evaluation`` and ``production``; the same mode again
        changes nothing and records nothing."""
        if mode not in MODES:
            raise ValidationFailed(
                f"mode must be evaluation or production, not {mode!r}", field="mode"
            )
        with self._db.transaction() as session:
            repo = ProfileRepository(session)
            repo.lock()
            row = repo.row_by_name(name)
            if row is None:
                raise NotFound(f"no profile named {name!r}", code="profile_not_found")
            if row.mode != mode:
                now = self._clock.now()
                AuditLog(session).append(
                    "profile.mode_changed",
                    at=now,
                    actor=actor,
                    data={"name": row.name, "from": row.mode, "to": mode},
                )
                row.mode = mode
                row.updated_at = now
                session.flush()
                bump_profiles_version(session, at=now, actor=actor)
            return repo.profiles([row])[0]

    def set_issuers(
        self,
        name: str,
        issuers: Sequence[Mapping[str, Any]],
        *,
        default_types: Sequence[str],
        actor: str,
        event: tuple[str, Mapping[str, Any]] | None = None,
    ) -> Profile:
        """Replace the trusted issuers (``credentials.issuers``) of one profile, everything else
        unchanged, validated as a whole profile in one unit of work with ``profile.updated``
        and, when given, one more audit ``event`` (type, data). A profile without credentials
        gets ``default_types``; no issuers left drops the credentials (openid4vp refuses)."""
        try:
            with self._db.transaction() as session:
                repo = ProfileRepository(session)
                repo.lock()
                row = repo.row_by_name(name)
                if row is None:
                    raise NotFound(f"no profile named {name!r}", code="profile_not_found")
                document = repo.profiles([row])[0].to_document()
                types = document.get("credentials", {}).get("types") or list(default_types)
                document.pop("credentials", None)
                if issuers:
                    document["credentials"] = {
                        "types": types,
                        "issuers": [dict(i) for i in issuers],
                    }
                try:
                    spec = ProfileSpec.model_validate(document)
                except ValidationError as exc:
                    raise ProfileValidationFailed(problems_from(exc, None)) from None
                self._apply_specs(session, [spec], actor=actor)
                if event is not None:
                    AuditLog(session).append(
                        event[0], at=self._clock.now(), actor=actor, data=dict(event[1])
                    )
                return repo.profiles([row])[0]
        except IntegrityError as exc:
            raise Conflict(
                "another change to the profiles happened at the same time; try again",
                code="profile_conflict",
            ) from exc

    # --- reads ---------------------------------------------------------------------------------

    def get(self, name: str) -> Profile:
        with self._db.transaction() as session:
            repo = ProfileRepository(session)
            row = repo.row_by_name(name)
            if row is None:
                raise NotFound(f"no profile named {name!r}", code="profile_not_found")
            return repo.profiles([row])[0]

    def get_by_id(self, profile_id: str) -> Profile:
        with self._db.transaction() as session:
            repo = ProfileRepository(session)
            row = session.get(VerificationProfileRow, profile_id)
            if row is None:
                raise NotFound("no such profile", code="profile_not_found")
            return repo.profiles([row])[0]

    def which(self, username: str) -> ProfileDecision:
        """The profile that applies to the user, the reason, and how each profile judged.

        One statement reads the user, their group paths and the profiles' version token; the
        profiles are rebuilt (two more statements, same transaction) only when the token differs
        from the one this process built them at."""
        with self._db.transaction() as session:
            repo = ProfileRepository(session)
            found = repo.resolution(username_key(username))
            if found is None:
                return ProfileDecision(None, "unknown user", "unknown_user")
            if not found.enabled:
                return ProfileDecision(None, "the user is disabled", "disabled")
            cached = self._cached
            if cached is not None and cached[0] == found.profiles_version:
                profiles = cached[1]
            else:
                profiles = tuple(repo.profiles(repo.rows()))
                self._cached = (found.profiles_version, profiles)
        paths = found.paths
        trace: list[TraceStep] = []
        for profile in profiles:
            step = _judge(profile, paths=paths, privileged=found.privileged)
            trace.append(step)
            if step.outcome == "applies":
                return ProfileDecision(profile, step.detail, "applies", tuple(trace))
        for step in trace:  # the first profile that included the user but refused it explains
            if step.outcome in ("excluded", "privileged"):
                return ProfileDecision(None, step.detail, step.outcome, tuple(trace))
        reason = "no profile includes the user" if profiles else "no profiles exist"
        return ProfileDecision(None, reason, "not_included", tuple(trace))

    # --- internals -----------------------------------------------------------------------------

    def _apply_specs(
        self, session: Session, specs: Sequence[ProfileSpec], *, actor: str
    ) -> Sequence[tuple[str, str]]:
        repo = ProfileRepository(session)
        repo.lock()
        existing = {r.name_key: r for r in repo.rows()}
        desired = self._resolve(session, specs, existing=existing)
        now = self._clock.now()
        audit = AuditLog(session)
        outcomes: list[tuple[str, str]] = []
        updates: list[tuple[VerificationProfileRow, _Desired, str, list[str]]] = []
        creates: list[_Desired] = []
        for item in desired:
            row = existing.get(profile_key(item.spec.name))
            if row is None:
                creates.append(item)
                outcomes.append((item.spec.name, "created"))
                continue
            mode = item.spec.mode or row.mode
            before = _stored_state(row, repo.group_ids(row.id))
            after = _desired_state(item, mode=mode)
            changed = sorted(k for k in after if after[k] != before[k])
            outcomes.append((item.spec.name, "updated" if changed else "unchanged"))
            if changed:
                updates.append((row, item, mode, changed))
        # priorities are unique in the table: park the moving ones first, so a swap of two
        # priorities never collides half-way
        moving = [row for row, item, _, _ in updates if row.priority != item.spec.priority]
        for index, row in enumerate(moving):
            row.priority = -(index + 1)
        session.flush()
        for row, item, mode, changed in updates:
            old_mode = row.mode
            row.name = item.spec.name
            row.description = item.spec.description
            row.mode = mode
            row.priority = item.spec.priority
            row.allow_privileged = item.spec.allow_privileged
            row.provider = item.spec.provider
            row.settings = item.settings
            row.updated_at = now
            repo.replace_groups(row.id, include=item.include_ids, exclude=item.exclude_ids)
            audit.append(
                "profile.updated",
                at=now,
                actor=actor,
                data={"name": row.name, "changed": changed, "priority": row.priority},
            )
            if old_mode != mode:
                audit.append(
                    "profile.mode_changed",
                    at=now,
                    actor=actor,
                    data={"name": row.name, "from": old_mode, "to": mode},
                )
        session.flush()
        for item in creates:
            row = VerificationProfileRow(
                id=new_id(),
                name=item.spec.name,
                name_key=profile_key(item.spec.name),
                description=item.spec.description,
                mode=item.spec.mode or "evaluation",
                priority=item.spec.priority,
                allow_privileged=item.spec.allow_privileged,
                provider=item.spec.provider,
                settings=item.settings,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            repo.replace_groups(row.id, include=item.include_ids, exclude=item.exclude_ids)
            audit.append(
                "profile.created",
                at=now,
                actor=actor,
                data={
                    "name": row.name,
                    "priority": row.priority,
                    "mode": row.mode,
                    "provider": row.provider,
                    "include_groups": item.spec.include_groups,
                    "exclude_groups": item.spec.exclude_groups,
                    "allow_privileged": row.allow_privileged,
                },
            )
        session.flush()
        if updates or creates:
            bump_profiles_version(session, at=now, actor=actor)
        return outcomes

    def _resolve(
        self,
        session: Session,
        specs: Sequence[ProfileSpec],
        *,
        existing: Mapping[str, VerificationProfileRow],
    ) -> list[_Desired]:
        """Check what needs the directory and the settings; collect every fault first."""
        from ssar.signin.tap import effective_policy  # the admin center's policy, if set

        directory = DirectoryRepository(session)
        policy = effective_policy(session, self._settings.tap)
        problems: list[tuple[str, str]] = []  # (code, message)
        desired: list[_Desired] = []
        named = {profile_key(s.name) for s in specs}
        taken = {r.priority: r.name for key, r in existing.items() if key not in named}
        for spec in specs:
            where = f"profile {spec.name!r}"
            ids: dict[str, list[str]] = {"include_groups": [], "exclude_groups": []}
            unknown: list[str] = []
            for field_name in ids:
                for group in getattr(spec, field_name):
                    row = directory.group_row_by_key(group_key(group))
                    if row is None:
                        unknown.append(group)
                    else:
                        ids[field_name].append(row.id)
            if unknown:
                problems.append(
                    (
                        "unknown_group",
                        f"{where}: unknown groups (create them first): "
                        + ", ".join(repr(g) for g in unknown),
                    )
                )
            if spec.priority in taken:
                problems.append(
                    (
                        "duplicate_priority",
                        f"{where}: priority {spec.priority} is already used by profile "
                        f"{taken[spec.priority]!r}; priorities must be unique",
                    )
                )
            lifetime = spec.tap.lifetime_minutes
            if lifetime is None:
                lifetime = policy.lifetime_minutes
            elif not policy.min_lifetime_minutes <= lifetime <= policy.max_lifetime_minutes:
                problems.append(
                    (
                        "tap_policy",
                        f"{where}: tap.lifetime_minutes {lifetime} is outside the tenant TAP "
                        f"policy ({policy.min_lifetime_minutes} to "
                        f"{policy.max_lifetime_minutes} minutes)",
                    )
                )
            oidc = spec.provider.partition(":")[2] if spec.provider.startswith("oidc_ida:") else ""
            if oidc and self._oidc_providers is not None and oidc not in self._oidc_providers:
                known = ", ".join(sorted(self._oidc_providers)) or "none"
                problems.append(
                    (
                        "unknown_provider",
                        f"{where}: provider: no oidc_ida provider named {oidc!r} is configured "
                        f"(configured: {known})",
                    )
                )
            settings: dict[str, Any] = {
                "validation": spec.validation.model_dump(exclude_none=True),
                "face_check": spec.face_check.model_dump(),
                "tap": {
                    "lifetime_minutes": lifetime,
                    "one_time": policy.one_time if spec.tap.one_time is None else spec.tap.one_time,
                },
            }
            if spec.credentials is not None:
                settings["credentials"] = spec.credentials.model_dump(exclude_none=True)
            desired.append(
                _Desired(
                    spec=spec,
                    include_ids=tuple(ids["include_groups"]),
                    exclude_ids=tuple(ids["exclude_groups"]),
                    settings=settings,
                )
            )
        if problems:
            codes = {c for c, _ in problems}
            raise ProfileValidationFailed(
                [m for _, m in problems],
                code=codes.pop() if len(codes) == 1 else "invalid_profile",
            )
        return desired

    def list(self) -> tuple[Profile, ...]:
        """Every profile in priority order (the order ``which`` tries them)."""
        with self._db.transaction() as session:
            repo = ProfileRepository(session)
            return tuple(repo.profiles(repo.rows()))


def _stored_state(
    row: VerificationProfileRow, groups: tuple[tuple[str, ...], tuple[str, ...]]
) -> dict[str, Any]:
    return {
        **{k: getattr(row, k) for k in _COMPARED},
        "include_groups": groups[0],
        "exclude_groups": groups[1],
    }


def _desired_state(item: _Desired, *, mode: str) -> dict[str, Any]:
    spec = item.spec
    return {
        "name": spec.name,
        "description": spec.description,
        "mode": mode,
        "priority": spec.priority,
        "allow_privileged": spec.allow_privileged,
        "provider": spec.provider,
        "settings": item.settings,
        "include_groups": item.include_ids,
        "exclude_groups": item.exclude_ids,
    }


def _via(group: str, path: GroupPath) -> str:
    if len(path) > 1:
        return f'group "{group}" via {" ⊂ ".join(path)}'
    return f'group "{group}" (direct member)'


def _judge(profile: Profile, *, paths: Mapping[str, GroupPath], privileged: bool) -> TraceStep:
    def step(outcome: str, detail: str) -> TraceStep:
        return TraceStep(profile.name, profile.priority, outcome, detail)

    for group in profile.exclude_groups:  # exclusion wins over inclusion
        if group.id in paths:
            return step(
                "excluded",
                f"excluded by {_via(group.name, paths[group.id])} from profile {profile.name!r}",
            )
    included = next((g for g in profile.include_groups if g.id in paths), None)
    if included is None:
        return step("not_included", f"profile {profile.name!r} includes none of the user's groups")
    via = _via(included.name, paths[included.id])
    if privileged and not profile.allow_privileged:
        return step(
            "privileged",
            f"privileged account: profile {profile.name!r} includes it by {via} but does not "
            "allow privileged accounts (R9)",
        )
    return step("applies", f"included by {via} in profile {profile.name!r}")

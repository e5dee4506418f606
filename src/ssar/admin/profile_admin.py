"""What the profile pages and the guided set-up read besides the profiles themselves: the
directory's groups (for the form's choices and checks), the providers that can be chosen, the
TAP policy's bounds, and how many recovery flows a profile has seen lately."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from ssar.admin.profile_forms import FormContext
from ssar.directory.names import group_key
from ssar.profiles.models import Profile
from ssar.registry import Registry
from ssar.store.tables import GroupMemberRow, GroupRow, RecoveryFlowRow, UserRow

#: up to this many groups the form offers checkboxes; beyond, a text field with suggestions
CHECKBOX_GROUPS = 40
#: suggestions offered in the text field's datalist
SUGGESTED_GROUPS = 500

#: flow states as the mode page counts them
FLOW_OUTCOMES = ("evaluated", "restored", "failed")


@dataclass(frozen=True)
class GroupChoices:
    """The directory's groups as the form offers them."""

    names: tuple[str, ...]  # the first ``SUGGESTED_GROUPS`` by name
    total: int

    @property
    def as_checkboxes(self) -> bool:
        return 0 < self.total <= CHECKBOX_GROUPS


@dataclass(frozen=True)
class DirectoryCounts:
    users: int
    groups: int

    @property
    def empty(self) -> bool:
        """Nothing a profile could name: no groups, or nobody but the admins themselves."""
        return self.groups == 0


def group_choices(registry: Registry) -> GroupChoices:
    with registry.database.transaction() as session:
        total = session.execute(select(func.count()).select_from(GroupRow)).scalar_one()
        names = session.execute(
            select(GroupRow.name).order_by(GroupRow.name_key).limit(SUGGESTED_GROUPS)
        ).scalars()
        return GroupChoices(names=tuple(names), total=int(total))


def known_groups(registry: Registry, names: Iterable[str]) -> dict[str, str]:
    """group key → name of those of ``names`` that exist (one query, however big the
    directory)."""
    keys = sorted({group_key(n) for n in names if n.strip()})
    if not keys:
        return {}
    with registry.database.transaction() as session:
        rows = session.execute(
            select(GroupRow.name_key, GroupRow.name).where(GroupRow.name_key.in_(keys))
        ).all()
    return {key: name for key, name in rows}


def largest_group(registry: Registry) -> str | None:
    """The group with the most direct members (the set-up proposes it: usually "All Staff")."""
    with registry.database.transaction() as session:
        row = session.execute(
            select(GroupRow.name, func.count(GroupMemberRow.user_id).label("members"))
            .join(GroupMemberRow, GroupMemberRow.group_id == GroupRow.id)
            .group_by(GroupRow.id, GroupRow.name, GroupRow.name_key)
            .order_by(func.count(GroupMemberRow.user_id).desc(), GroupRow.name_key)
            .limit(1)
        ).first()
    return None if row is None else str(row[0])


def directory_counts(registry: Registry) -> DirectoryCounts:
    with registry.database.transaction() as session:
        users = session.execute(select(func.count()).select_from(UserRow)).scalar_one()
        groups = session.execute(select(func.count()).select_from(GroupRow)).scalar_one()
    return DirectoryCounts(users=int(users), groups=int(groups))


def provider_choices(registry: Registry) -> list[tuple[str, str]]:
    """(value, label) of every provider a profile can use here."""
    choices = [
        ("reference", "Reference verification service (built in)"),
        ("openid4vp", "Wallet credential (OpenID4VP)"),
    ]
    for name in sorted(registry.oidc_ida_providers):
        choices.append((f"oidc_ida:{name}", f"OpenID Connect for Identity Assurance: {name}"))
    return choices


def form_context(
    registry: Registry, *, names: Iterable[str], editing: Profile | None = None
) -> FormContext:
    """What ``profile_forms.to_fields`` needs to judge a form naming the groups ``names``."""
    policy = registry.signin.taps.policy
    profiles = registry.profiles.list()
    taken = {p.priority: p.name for p in profiles if editing is None or p.id != editing.id}
    issuers: list[dict[str, object]] = []
    if editing is not None:
        credentials = editing.to_document().get("credentials")
        if credentials:
            issuers = list(credentials["issuers"])
    providers = [value for value, _ in provider_choices(registry)]
    if editing is not None and editing.provider not in providers:
        providers.append(editing.provider)  # a provider since removed from the configuration
    return FormContext(
        groups=known_groups(registry, names),
        taken_priorities=taken,
        tap_min=policy.min_lifetime_minutes,
        tap_max=policy.max_lifetime_minutes,
        providers=tuple(providers),
        issuers=tuple(issuers),
        taken_names=frozenset(
            p.name.casefold() for p in profiles if editing is None or p.id != editing.id
        ),
    )


def flow_counts(registry: Registry, profile_id: str, *, days: int = 30) -> dict[str, int]:
    """The profile's recovery flows of the last ``days`` days: total and by outcome."""
    since = registry.clock.now() - timedelta(days=days)
    with registry.database.transaction() as session:
        rows = session.execute(
            select(RecoveryFlowRow.state, func.count())
            .where(RecoveryFlowRow.profile_id == profile_id, RecoveryFlowRow.created_at >= since)
            .group_by(RecoveryFlowRow.state)
        ).all()
    by_state = {state: int(count) for state, count in rows}
    counts = {state: by_state.get(state, 0) for state in FLOW_OUTCOMES}
    counts["total"] = sum(by_state.values())
    return counts

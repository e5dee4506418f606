"""The demo organisation: a few people in nested groups and one administrator.

Seeding is idempotent: what exists is left alone, so ``make demo`` can run again and again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssar.registry import Registry

# (name, parent)
DEMO_GROUPS: tuple[tuple[str, str | None], ...] = (
    ("All Staff", None),
    ("Engineering", "All Staff"),
    ("Platform", "Engineering"),
    ("Sales", "All Staff"),
    ("Executives", "All Staff"),
    ("Administrators", None),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    given_name: str
    family_name: str
    group: str
    privileged: bool = False
    employee_id: str | None = None
    birthdate: str | None = None

    @property
    def email(self) -> str:
        return f"{self.username}@example.org"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("ada", "Ada", "Lovelace", "Platform", employee_id="E1001", birthdate="1990-12-10"),
    DemoUser("grace", "Grace", "Hopper", "Engineering", employee_id="E1002"),
    DemoUser("alan", "Alan", "Turing", "Sales", employee_id="E1003"),
    DemoUser("katherine", "Katherine", "Johnson", "Executives", employee_id="E1004"),
    DemoUser("margaret", "Margaret", "Hamilton", "Administrators", privileged=True),
)

#: the demo user who gets a Temporary Access Pass to register a first passkey
NEWCOMER = "ada"


@dataclass(frozen=True)
class SeedReport:
    groups_created: int
    users_created: int


def seed_demo(registry: Registry) -> SeedReport:
    directory = registry.directory
    groups_created = 0
    for name, parent in DEMO_GROUPS:
        if directory.find_group(name) is None:
            directory.add_group(name=name, parent=parent, actor="demo")
            groups_created += 1
    users_created = 0
    for user in DEMO_USERS:
        if directory.find_user(user.username) is None:
            directory.add_user(
                username=user.username,
                given_name=user.given_name,
                family_name=user.family_name,
                emails=[user.email],
                employee_id=user.employee_id,
                birthdate=user.birthdate,
                privileged=user.privileged,
                groups=[user.group],
                actor="demo",
            )
            users_created += 1
    return SeedReport(groups_created=groups_created, users_created=users_created)

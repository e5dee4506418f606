"""The guided first-run set-up's state: what the admin chose so far, carried from step to step
in the query string and hidden fields (no server session), and turned into a profile form at
the end, so the set-up and the profile form judge a profile the same way. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ssar.admin.profile_forms import ProfileForm

#: the wizard's steps: (key, title, path)
STEPS: tuple[tuple[str, str, str], ...] = (
    ("directory", "Directory", "/admin/setup"),
    ("who", "Who can recover", "/admin/setup/who"),
    ("how", "How people prove who they are", "/admin/setup/how"),
    ("review", "Review and create", "/admin/setup/review"),
)

WHO_FIELDS = frozenset({"include_groups", "exclude_groups"})
HOW_FIELDS = frozenset(
    {"provider", "credential_types", "issuer_iss", "issuer_jwks_uri", "face_required"}
)
DEFAULT_NAME = "Everyone"
DEFAULT_WALLET_TYPE = "urn:eudi:pid:1"


@dataclass(frozen=True)
class SetupState:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    provider: str = "reference"
    credential_type: str = ""
    issuer_iss: str = ""
    issuer_jwks_uri: str = ""
    face: bool = True
    name: str = DEFAULT_NAME
    chosen: frozenset[str] = field(default_factory=frozenset)  # steps already answered

    @classmethod
    def parse(cls, data: Mapping[str, Sequence[str]]) -> SetupState:
        def one(key: str, default: str = "") -> str:
            values = data.get(key) or [default]
            return values[-1].strip()

        def many(key: str) -> tuple[str, ...]:
            names: list[str] = []
            for value in data.get(key, ()):
                for line in value.splitlines():
                    name = " ".join(line.split())
                    if name and name not in names:
                        names.append(name)
            return tuple(names)

        chosen = {s for s in ("who", "how") if one(f"{s}_done")}
        return cls(
            include=many("include"),
            exclude=many("exclude"),
            provider=one("provider", "reference") or "reference",
            credential_type=one("credential_type"),
            issuer_iss=one("issuer_iss"),
            issuer_jwks_uri=one("issuer_jwks_uri"),
            face=one("face", "on") != "off",
            name=one("name", DEFAULT_NAME) or DEFAULT_NAME,
            chosen=frozenset(chosen),
        )

    def fields(self, *, through: str) -> list[tuple[str, str]]:
        """The state as (name, value) pairs for hidden fields and links, up to the answers of
        step ``through`` (``who``, ``how`` or ``review``)."""
        pairs: list[tuple[str, str]] = []
        if through in ("who", "how", "review"):
            pairs += [("include", g) for g in self.include]
            pairs += [("exclude", g) for g in self.exclude]
            pairs.append(("who_done", "1"))
        if through in ("how", "review"):
            pairs.append(("provider", self.provider))
            if self.provider == "openid4vp":
                pairs += [
                    ("credential_type", self.credential_type),
                    ("issuer_iss", self.issuer_iss),
                    ("issuer_jwks_uri", self.issuer_jwks_uri),
                ]
            pairs.append(("face", "on" if self.face else "off"))
            pairs.append(("how_done", "1"))
        if through == "review":
            pairs.append(("name", self.name))
        return pairs

    def link(self, path: str, *, through: str) -> str:
        query = urlencode(self.fields(through=through))
        return f"{path}?{query}" if query else path

    def to_form(self, *, priority: int, tap_lifetime: int, tap_one_time: bool) -> ProfileForm:
        """The profile the set-up creates: always in evaluation, defaults everywhere else."""
        wallet = self.provider == "openid4vp"
        return ProfileForm(
            name=self.name,
            description="Created by the guided set-up",
            priority=str(priority),
            mode="evaluation",
            include_groups="\n".join(self.include),
            exclude_groups="\n".join(self.exclude),
            provider=self.provider,
            credential_types=self.credential_type if wallet else "",
            issuer_iss=self.issuer_iss if wallet else "",
            issuer_jwks_uri=self.issuer_jwks_uri if wallet else "",
            claims={"given_name": "given_name", "family_name": "family_name"},
            face_required=self.face,
            tap_lifetime=str(tap_lifetime),
            tap_one_time=tap_one_time,
        )


def step_for(errors: Mapping[str, str]) -> str:
    """The step whose answers an error belongs to (the earliest one)."""
    if WHO_FIELDS & errors.keys():
        return "who"
    if HOW_FIELDS & errors.keys():
        return "how"
    return "review"


def progress(current: str) -> list[tuple[str, str, str]]:
    """(title, state, href) of each step for the ``.wizard-steps`` list: ``done``, ``current``
    or ``todo``."""
    keys = [key for key, _, _ in STEPS]
    position = keys.index(current) if current in keys else len(keys)
    items = []
    for index, (_key, title, path) in enumerate(STEPS):
        state = "done" if index < position else "current" if index == position else "todo"
        items.append((title, state, path))
    return items

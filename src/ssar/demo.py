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
#: the demo's global administrator (admin center at /admin), also given a TAP
DEMO_ADMIN = "margaret"


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
    if registry.admin_roles.role_of(directory.get_user(DEMO_ADMIN).id) is None:
        registry.admin_roles.grant(DEMO_ADMIN, "global_admin", actor="demo")
    return SeedReport(groups_created=groups_created, users_created=users_created)


# --- recovery in the demo -------------------------------------------------------------------
#
# The demo profile uses the reference verification service (/idv) and also trusts a demo issuer
# whose key lives in var/: the demo web wallet already holds the newcomer's identity credential
# from it, so recovery can be tried at once. The profile is in evaluation mode with the face
# check off (the demo credential carries no photo of the person at the keyboard), so trying
# recovery changes nothing.

DEMO_ISSUER = "https://demo-issuer.ssar.invalid"
DEMO_VCT = "urn:ssar:identity:1"
DEMO_PROFILE = "Demo: everyone but executives"


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _demo_issuer_key(registry: Registry) -> object:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = registry.settings.var_dir / "demo-issuer.pem"
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _public_jwk(key: object) -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric import ec

    assert isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey)
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
        "kid": "demo-issuer",
    }


def issue_demo_credential(
    key: object, *, holder_jwk: dict[str, str], claims: dict[str, str], now: int
) -> str:
    """An SD-JWT VC (every claim selectively disclosable) from the demo issuer."""
    import hashlib
    import json
    import secrets

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    assert isinstance(key, ec.EllipticCurvePrivateKey)
    disclosures = [
        _b64(json.dumps([_b64(secrets.token_bytes(16)), name, value]).encode())
        for name, value in claims.items()
    ]
    payload = {
        "iss": DEMO_ISSUER,
        "iat": now,
        "exp": now + 365 * 86400,
        "vct": DEMO_VCT,
        "_sd_alg": "sha-256",
        "_sd": sorted(_b64(hashlib.sha256(d.encode()).digest()) for d in disclosures),
        "cnf": {"jwk": holder_jwk},
    }
    header = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": "demo-issuer"}
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    signature = _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return "~".join([f"{signing_input}.{signature}", *disclosures]) + "~"


def seed_recovery_demo(registry: Registry) -> bool:
    """The demo issuer, an evaluation-mode profile trusting it, and a credential for the
    newcomer in the demo web wallet. Returns whether the wallet got a new credential."""
    from ssar.errors import NotFound
    from ssar.wallet.store import Wallet

    key = _demo_issuer_key(registry)
    try:
        registry.profiles.get(DEMO_PROFILE)
    except NotFound:
        registry.profiles.apply(
            {
                "profiles": [
                    {
                        "name": DEMO_PROFILE,
                        "description": "Try self-service recovery with the demo wallet",
                        "mode": "evaluation",
                        "priority": 100,
                        "include_groups": ["All Staff"],
                        "exclude_groups": ["Executives"],
                        "provider": "reference",
                        "credentials": {
                            "types": [DEMO_VCT],
                            "issuers": [{"iss": DEMO_ISSUER, "jwks": {"keys": [_public_jwk(key)]}}],
                        },
                        "validation": {"match": "relaxed"},
                        "face_check": {"required": False, "threshold": 70},
                    }
                ]
            },
            actor="demo",
        )
    wallet = Wallet(registry.settings.var_dir / "wallet")
    holder = wallet.init()
    if wallet.credentials():
        return False
    newcomer = next(u for u in DEMO_USERS if u.username == NEWCOMER)
    claims = {"given_name": newcomer.given_name, "family_name": newcomer.family_name}
    if newcomer.birthdate:
        claims["birthdate"] = newcomer.birthdate
    now = registry.clock.now()
    text = issue_demo_credential(
        key, holder_jwk=holder.public_jwk(), claims=claims, now=int(now.timestamp())
    )
    wallet.add(text, now=now)
    return True

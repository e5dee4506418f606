"""The verification providers of this deployment as the admin center shows them: what each is,
how it is configured (never a client secret), which profiles use it, and a reachability check
for OpenID providers with identity assurance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ssar.errors import ConfigurationError, CredentialError, SsarError
from ssar.profiles.models import Profile

if TYPE_CHECKING:
    from ssar.registry import Registry

CHECK_TIMEOUT_SECONDS = 3.0
RESPONSE_MODE = "direct_post.jwt"  # what the recovery flow asks wallets for


@dataclass(frozen=True)
class ProfileUse:
    id: str
    name: str
    mode: str


@dataclass(frozen=True)
class VerifierCertificate:
    subject: str
    not_after: datetime
    expired: bool


@dataclass(frozen=True)
class OpenId4VpInfo:
    client_id: str
    scheme: str  # x509_san_dns | redirect_uri
    response_uri: str
    response_mode: str
    certificate: VerifierCertificate | None
    profiles: tuple[ProfileUse, ...]
    error: str | None = None  # the verifier cannot start (a bad certificate chain)


@dataclass(frozen=True)
class ReferenceInfo:
    issuer: str
    service_url: str
    jwks_url: str
    key_ids: tuple[str, ...]
    profiles: tuple[ProfileUse, ...]


@dataclass(frozen=True)
class OidcIdaInfo:
    name: str  # the name in the file; profiles say oidc_ida:<name>
    issuer: str
    client_id: str
    client_type: str  # confidential | public
    scopes: tuple[str, ...]
    claims: tuple[str, ...]
    required_claims: tuple[str, ...]
    trust_frameworks: tuple[str, ...]
    evidence_types: tuple[str, ...] | None
    max_age_days: int | None
    timeout_seconds: float
    discovery_url: str
    profiles: tuple[ProfileUse, ...]

    @property
    def provider(self) -> str:
        return f"oidc_ida:{self.name}"


@dataclass(frozen=True)
class ProvidersOverview:
    openid4vp: OpenId4VpInfo
    reference: ReferenceInfo | None
    oidc_ida: tuple[OidcIdaInfo, ...]
    oidc_ida_file: str | None
    oidc_ida_error: str | None  # the providers file could not be loaded
    callback_url: str  # the redirect URI to register with an OpenID provider
    unconfigured: tuple[tuple[str, ProfileUse], ...]  # profiles naming an unknown oidc_ida:


@dataclass(frozen=True)
class CheckResult:
    provider: str
    reachable: bool
    detail: str
    endpoints: tuple[tuple[str, str], ...] = ()


def _uses(profiles: Iterable[Profile], provider: str) -> tuple[ProfileUse, ...]:
    return tuple(ProfileUse(p.id, p.name, p.mode) for p in profiles if p.provider == provider)


def overview(registry: Registry) -> ProvidersOverview:
    profiles = registry.profiles.list()
    base = registry.settings.base_url
    return ProvidersOverview(
        openid4vp=_openid4vp(registry, profiles),
        reference=_reference(registry, profiles),
        oidc_ida=tuple(_oidc_ida(registry, profiles)),
        oidc_ida_file=(
            str(registry.settings.oidc_ida_providers_file)
            if registry.settings.oidc_ida_providers_file
            else None
        ),
        oidc_ida_error=_oidc_ida_error(registry),
        callback_url=f"{base}/recover/callback",
        unconfigured=tuple(_unconfigured(registry, profiles)),
    )


def _openid4vp(registry: Registry, profiles: Sequence[Profile]) -> OpenId4VpInfo:
    try:
        verifier = registry.presentations
    except (ConfigurationError, ValueError) as exc:
        return OpenId4VpInfo(
            client_id="",
            scheme="x509_san_dns",
            response_uri=f"{registry.settings.base_url}/openid4vp/response",
            response_mode=RESPONSE_MODE,
            certificate=None,
            profiles=_uses(profiles, "openid4vp"),
            error=exc.detail if isinstance(exc, ConfigurationError) else str(exc),
        )
    scheme = verifier.client_id.split(":", 1)[0]
    certificate = None
    if verifier.certificate_chain:
        leaf = verifier.certificate_chain[0]
        certificate = VerifierCertificate(
            subject=leaf.subject.rfc4514_string(),
            not_after=leaf.not_valid_after_utc,
            expired=leaf.not_valid_after_utc < registry.clock.now(),
        )
    return OpenId4VpInfo(
        client_id=verifier.client_id,
        scheme=scheme,
        response_uri=verifier.response_uri,
        response_mode=RESPONSE_MODE,
        certificate=certificate,
        profiles=_uses(profiles, "openid4vp"),
    )


def _reference(registry: Registry, profiles: Sequence[Profile]) -> ReferenceInfo | None:
    try:
        issuance = registry.idv_issuance
        keys = issuance.jwks().get("keys") or []
    except (SsarError, OSError):
        return None
    return ReferenceInfo(
        issuer=issuance.issuer_id,
        service_url=f"{registry.settings.base_url}/idv",
        jwks_url=f"{issuance.issuer_id}/jwks.json",
        key_ids=tuple(str(k.get("kid")) for k in keys if isinstance(k, Mapping) and k.get("kid")),
        profiles=_uses(profiles, "reference"),
    )


def _providers(registry: Registry) -> Mapping[str, Any]:
    try:
        return registry.oidc_ida_providers
    except ConfigurationError:
        return {}


def _oidc_ida_error(registry: Registry) -> str | None:
    try:
        registry.oidc_ida_providers  # noqa: B018 - loads (and caches) the providers file
    except ConfigurationError as exc:
        return exc.detail
    return None


def _oidc_ida(registry: Registry, profiles: Sequence[Profile]) -> list[OidcIdaInfo]:
    infos = []
    for name, provider in sorted(_providers(registry).items()):
        config = provider.config
        infos.append(
            OidcIdaInfo(
                name=name,
                issuer=config.issuer,
                client_id=config.client_id,
                client_type="confidential" if config.client_secret is not None else "public",
                scopes=tuple(config.scopes),
                claims=tuple(config.claims),
                required_claims=tuple(config.required_claims),
                trust_frameworks=tuple(config.trust_frameworks),
                evidence_types=(
                    tuple(config.evidence_types) if config.evidence_types is not None else None
                ),
                max_age_days=config.max_age_days,
                timeout_seconds=config.timeout_seconds,
                discovery_url=config.issuer.rstrip("/") + "/.well-known/openid-configuration",
                profiles=_uses(profiles, f"oidc_ida:{name}"),
            )
        )
    return infos


def _unconfigured(registry: Registry, profiles: Sequence[Profile]) -> list[tuple[str, ProfileUse]]:
    known = _providers(registry)
    return [
        (p.provider, ProfileUse(p.id, p.name, p.mode))
        for p in profiles
        if p.oidc_ida_provider is not None and p.oidc_ida_provider not in known
    ]


def check_oidc_ida(registry: Registry, name: str) -> CheckResult:
    """Fetch the provider's discovery document now (a fresh client, a short timeout, through
    ``registry.http``) and say whether it answers as the protocol says, or what went wrong."""
    from ssar.providers.oidc_ida import OidcIdaProvider

    configured = _providers(registry).get(name)
    provider_name = f"oidc_ida:{name}"
    if configured is None:
        return CheckResult(provider_name, False, f"no provider named {name!r} is configured")
    config = configured.config.model_copy(
        update={"timeout_seconds": min(configured.config.timeout_seconds, CHECK_TIMEOUT_SECONDS)}
    )
    probe = OidcIdaProvider(config, http=registry.http, clock=registry.clock)
    try:
        metadata = probe.metadata()
    except CredentialError as exc:
        return CheckResult(provider_name, False, f"{exc.detail} ({exc.code})")
    endpoints = [
        ("Authorization", metadata.authorization_endpoint),
        ("Token", metadata.token_endpoint),
        ("Keys (JWKS)", metadata.jwks_uri),
    ]
    if metadata.userinfo_endpoint:
        endpoints.append(("Userinfo", metadata.userinfo_endpoint))
    return CheckResult(
        provider_name,
        True,
        "The discovery document answered with the configured issuer.",
        tuple(endpoints),
    )

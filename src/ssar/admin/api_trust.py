"""Admin REST API for trusted issuers and verification providers. Routes translate HTTP to
``ssar.admin.trust`` and ``ssar.admin.providers``; the checks are the admin center's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ssar.admin import providers as provider_facts
from ssar.admin.trust import IssuerEntry, NewIssuer, trust_service
from ssar.web.auth import AdminPrincipal, AdminReader
from ssar.web.deps import RegistryDep

router = APIRouter(prefix="/api/admin", tags=["admin"])


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    code: str
    title: str
    status: int
    detail: str


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    words = {
        401: "No or an invalid bearer token",
        403: "The token's scope does not allow this",
        404: "No such profile, or the profile does not trust the issuer",
        422: "The key material or the issuer is refused (``code`` invalid_key_material, "
        "last_issuer or invalid_profile; ``detail`` says why)",
    }
    return {
        s: {
            "model": Problem,
            "description": words[s],
            "content": {"application/problem+json": {}},
        }
        for s in statuses
    }


# --- trusted issuers ----------------------------------------------------------------------


class KeyView(BaseModel):
    kid: str | None
    kty: str = Field(description="EC, OKP or RSA")
    curve: str | None = Field(description="P-256, Ed25519, …; null for RSA")
    bits: int | None = Field(description="RSA modulus length")
    alg: str | None
    thumbprint: str = Field(description="RFC 7638 JWK thumbprint (SHA-256, base64url)")


class AnchorView(BaseModel):
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint: str = Field(description="SHA-256 of the DER certificate, hex pairs")
    is_ca: bool
    expired: bool


class ProfileRefView(BaseModel):
    id: str
    name: str
    mode: Literal["evaluation", "production"]
    provider: str


class IssuerView(BaseModel):
    """A trusted issuer with one set of key material and the profiles that trust it."""

    iss: str
    source: Literal["jwks", "jwks_uri", "x5c", "did"]
    did_method: str | None = None
    keys: list[KeyView] = Field(default_factory=list)
    jwks_uri: str | None = None
    anchors: list[AnchorView] = Field(default_factory=list)
    profiles: list[ProfileRefView]
    builtin: bool = Field(
        description="The reference verification service's own issuer (not removable)."
    )
    problems: list[str] = Field(description="Why some of the key material is unusable.")

    @classmethod
    def of(cls, entry: IssuerEntry) -> IssuerView:
        return cls(
            iss=entry.iss,
            source=entry.source,
            did_method=entry.did_method,
            keys=[
                KeyView(
                    kid=k.kid,
                    kty=k.kty,
                    curve=k.curve,
                    bits=k.bits,
                    alg=k.alg,
                    thumbprint=k.thumbprint,
                )
                for k in entry.keys
            ],
            jwks_uri=entry.jwks_uri,
            anchors=[
                AnchorView(
                    subject=a.subject,
                    issuer=a.issuer,
                    not_before=a.not_before,
                    not_after=a.not_after,
                    fingerprint=a.fingerprint,
                    is_ca=a.is_ca,
                    expired=a.expired,
                )
                for a in entry.anchors
            ],
            profiles=[
                ProfileRefView(id=p.id, name=p.name, mode=p.mode, provider=p.provider)
                for p in entry.profiles
            ],
            builtin=entry.builtin,
            problems=list(entry.problems),
        )


class IssuerList(BaseModel):
    issuers: list[IssuerView] = Field(description="Sorted by issuer id.")


class AddIssuerRequest(BaseModel):
    """Exactly one of ``jwks``, ``jwks_uri``, ``x5c`` or ``did``."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Field(min_length=1, description="The profile's id or name.")
    iss: str | None = Field(
        default=None, description="The issuer identifier; omit it for a DID (the DID is the iss)."
    )
    jwks: dict[str, Any] | None = Field(
        default=None, description="Public keys: a JWKS {keys: [...]} or one JWK."
    )
    jwks_uri: str | None = Field(default=None, description="https URL of the issuer's JWKS.")
    x5c: list[str] | str | None = Field(
        default=None, description="PEM CA certificate(s) as trust anchors (e.g. an IACA root)."
    )
    did: str | None = Field(
        default=None,
        description="did:jwk, did:key or did:web (its document is fetched and its keys pinned).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> AddIssuerRequest:
        given = [k for k in ("jwks", "jwks_uri", "x5c", "did") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of jwks, jwks_uri, x5c or did")
        return self

    def to_request(self) -> NewIssuer:
        import json

        source = next(k for k in ("jwks", "jwks_uri", "x5c", "did") if getattr(self, k) is not None)
        x5c = "\n".join(self.x5c) if isinstance(self.x5c, list) else (self.x5c or "")
        return NewIssuer(
            profile=self.profile,
            iss=self.iss or "",
            source=source,
            jwks=json.dumps(self.jwks) if self.jwks is not None else "",
            jwks_uri=self.jwks_uri or "",
            x5c=x5c,
            did=self.did or "",
        )


@router.get(
    "/trust/issuers",
    response_model=IssuerList,
    summary="List every trusted issuer across the profiles",
    responses=_errors(401, 403),
)
def list_trusted_issuers(principal: AdminReader, registry: RegistryDep) -> IssuerList:
    return IssuerList(issuers=[IssuerView.of(e) for e in trust_service(registry).issuers()])


@router.post(
    "/trust/issuers",
    status_code=201,
    response_model=IssuerView,
    summary="Trust an issuer in a profile (JWKS, JWKS URL, CA certificates or a DID)",
    responses=_errors(401, 403, 404, 422),
)
def add_trusted_issuer(
    body: AddIssuerRequest, principal: AdminPrincipal, registry: RegistryDep
) -> IssuerView:
    entry = trust_service(registry).add(body.to_request(), actor=principal.actor)
    return IssuerView.of(entry)


@router.delete(
    "/trust/issuers",
    status_code=204,
    summary="Stop trusting an issuer in a profile",
    responses=_errors(401, 403, 404, 422),
)
def remove_trusted_issuer(
    principal: AdminPrincipal,
    registry: RegistryDep,
    profile: str = Query(min_length=1, description="The profile's id or name."),
    iss: str = Query(min_length=1, description="The issuer identifier."),
) -> Response:
    trust_service(registry).remove(profile=profile, iss=iss, actor=principal.actor)
    return Response(status_code=204)


# --- providers ----------------------------------------------------------------------------


class ProfileUseView(BaseModel):
    id: str
    name: str
    mode: Literal["evaluation", "production"]


class OpenId4VpView(BaseModel):
    client_id: str
    client_id_scheme: Literal["redirect_uri", "x509_san_dns"]
    response_uri: str
    response_mode: str
    certificate_subject: str | None
    certificate_not_after: datetime | None
    profiles: list[ProfileUseView]


class ReferenceView(BaseModel):
    issuer: str
    service_url: str
    jwks_url: str
    profiles: list[ProfileUseView]


class OidcIdaView(BaseModel):
    """One configured OpenID provider with identity assurance (the client secret is never
    shown; ``client_type`` says whether one is set)."""

    name: str
    provider: str = Field(description="What a profile names: oidc_ida:<name>.")
    issuer: str
    client_id: str
    client_type: Literal["confidential", "public"]
    scopes: list[str]
    claims: list[str]
    required_claims: list[str]
    trust_frameworks: list[str]
    evidence_types: list[str] | None
    max_age_days: int | None
    profiles: list[ProfileUseView]


class ProvidersView(BaseModel):
    openid4vp: OpenId4VpView
    reference: ReferenceView | None
    oidc_ida: list[OidcIdaView]
    oidc_ida_error: str | None = Field(description="Why the providers file could not be loaded.")
    callback_url: str = Field(description="The redirect URI to register with an OpenID provider.")


def _uses(uses: tuple[provider_facts.ProfileUse, ...]) -> list[ProfileUseView]:
    return [ProfileUseView(id=u.id, name=u.name, mode=u.mode) for u in uses]


@router.get(
    "/providers",
    response_model=ProvidersView,
    summary="The verification providers of this deployment and the profiles using them",
    responses=_errors(401, 403),
)
def list_providers(principal: AdminReader, registry: RegistryDep) -> ProvidersView:
    facts = provider_facts.overview(registry)
    vp = facts.openid4vp
    return ProvidersView(
        openid4vp=OpenId4VpView(
            client_id=vp.client_id,
            client_id_scheme=vp.scheme,
            response_uri=vp.response_uri,
            response_mode=vp.response_mode,
            certificate_subject=vp.certificate.subject if vp.certificate else None,
            certificate_not_after=vp.certificate.not_after if vp.certificate else None,
            profiles=_uses(vp.profiles),
        ),
        reference=(
            ReferenceView(
                issuer=facts.reference.issuer,
                service_url=facts.reference.service_url,
                jwks_url=facts.reference.jwks_url,
                profiles=_uses(facts.reference.profiles),
            )
            if facts.reference
            else None
        ),
        oidc_ida=[
            OidcIdaView(
                name=o.name,
                provider=o.provider,
                issuer=o.issuer,
                client_id=o.client_id,
                client_type=o.client_type,
                scopes=list(o.scopes),
                claims=list(o.claims),
                required_claims=list(o.required_claims),
                trust_frameworks=list(o.trust_frameworks),
                evidence_types=list(o.evidence_types) if o.evidence_types is not None else None,
                max_age_days=o.max_age_days,
                profiles=_uses(o.profiles),
            )
            for o in facts.oidc_ida
        ],
        oidc_ida_error=facts.oidc_ida_error,
        callback_url=facts.callback_url,
    )

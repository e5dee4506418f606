"""W3C Verifiable Credentials secured as JWT (R18): VC Data Model 1.1 with a ``vc`` claim (as
Microsoft Entra Verified ID issues them, ``typ`` ``JWT``) and VC Data Model 2.0 secured with
VC-JOSE-COSE (``typ`` ``vc+jwt``, the payload is the credential)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from ssar.credentials.did import DidResolver
from ssar.credentials.jose import ALLOWED_ALGS, check_alg, parse_compact_jws, verify_signature
from ssar.credentials.results import VerifiedCredential
from ssar.credentials.sdjwt import LEEWAY, check_validity, require_aware
from ssar.credentials.statuslist import StatusListFetcher, check_status
from ssar.credentials.trust import TrustConfig, resolve_issuer_key
from ssar.errors import CredentialError

VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
V1_TYPS = frozenset({"JWT"})
V2_TYPS = frozenset({"vc+jwt", "vc+ld+json+jwt"})


def _issuer_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _check_credential(vc: Any, *, context: str) -> tuple[list[str], dict[str, Any]]:
    if not isinstance(vc, dict):
        raise CredentialError("the credential is not an object", code="malformed")
    contexts = vc.get("@context")
    if not isinstance(contexts, list) or not contexts or contexts[0] != context:
        raise CredentialError(f"@context must start with {context}", code="malformed")
    types = vc.get("type")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise CredentialError(
            "credential type is missing or not a list of strings", code="malformed"
        )
    if "VerifiableCredential" not in types:
        raise CredentialError("credential type lacks VerifiableCredential", code="malformed")
    subject = vc.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    if not isinstance(subject, dict):
        raise CredentialError("credentialSubject is not one object", code="malformed")
    return types, subject


def _xsd_datetime(vc: Mapping[str, Any], name: str) -> datetime | None:
    value = vc.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CredentialError(f"{name} is not a dateTime string", code="malformed")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CredentialError(f"{name} is not a dateTime", code="malformed") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def verify_jwt_vc(
    token: str,
    *,
    trust: TrustConfig,
    now: datetime,
    allowed_types: Collection[str] | None = None,
    status_fetcher: StatusListFetcher | None = None,
    did_resolver: DidResolver | None = None,
    allowed_algs: Collection[str] = ALLOWED_ALGS,
) -> VerifiedCredential:
    """Verify a JWT-VC: ``typ``, ``alg`` allow-list, ``iss`` present, signature by a key the
    trust configuration gives for ``iss`` (never one the token carries: ``jwk``/``jku``/``x5u``),
    the credential's issuer equal to ``iss``, ``nbf``/``exp`` (and 2.0 ``validFrom``/
    ``validUntil``), the type allow-list, and an IETF ``status`` reference when a fetcher is
    given. ``claims`` are the ``credentialSubject``."""
    require_aware(now)
    if not isinstance(token, str):
        raise CredentialError("JWT-VC is not text", code="malformed")
    jws = parse_compact_jws(token.strip(), what="JWT-VC")
    typ = jws.typ
    if typ not in V1_TYPS | V2_TYPS:
        raise CredentialError(f"JWT-VC typ {typ!r} is not JWT or vc+jwt", code="malformed")
    check_alg(jws.alg, allowed_algs=allowed_algs, what="JWT-VC")
    payload = jws.payload
    iss = payload.get("iss")
    v2 = typ in V2_TYPS
    if v2 and iss is None:
        iss = _issuer_id(payload.get("issuer"))
    if not isinstance(iss, str) or not iss:
        raise CredentialError("JWT-VC has no iss", code="malformed")
    keys = resolve_issuer_key(trust, iss=iss, header=jws.header, now=now, did_resolver=did_resolver)
    last: CredentialError | None = None
    for key in keys:
        try:
            verify_signature(jws, key, allowed_algs=allowed_algs, what="JWT-VC")
            break
        except CredentialError as exc:
            last = exc
    else:
        raise last or CredentialError("no issuer key", code="untrusted_issuer")

    vc = payload if v2 else payload.get("vc")
    if not v2 and vc is None:
        raise CredentialError("JWT-VC has no vc claim", code="malformed")
    types, subject = _check_credential(vc, context=VC_V2_CONTEXT if v2 else VC_V1_CONTEXT)
    assert isinstance(vc, dict)  # checked by _check_credential
    stated_issuer = vc.get("issuer")
    if stated_issuer is not None and _issuer_id(stated_issuer) != iss:
        raise CredentialError("the credential's issuer is not the JWT iss", code="malformed")
    if v2 and stated_issuer is None:
        raise CredentialError("the credential has no issuer", code="malformed")
    valid_from, valid_until = check_validity(payload, now=now, what="JWT-VC")
    if v2:
        starts, ends = _xsd_datetime(vc, "validFrom"), _xsd_datetime(vc, "validUntil")
        if ends is not None and now >= ends + LEEWAY:
            raise CredentialError(f"credential expired at {ends.isoformat()}", code="expired")
        if starts is not None and now + LEEWAY < starts:
            raise CredentialError(
                f"credential is not valid before {starts.isoformat()}", code="not_yet_valid"
            )
        valid_from, valid_until = valid_from or starts, valid_until or ends
    specific = [t for t in types if t != "VerifiableCredential"]
    if allowed_types is not None and not any(t in allowed_types for t in specific):
        raise CredentialError(
            f"credential types {specific} are not accepted", code="untrusted_issuer"
        )
    status = payload.get("status")
    if status is not None and status_fetcher is not None:
        check_status(
            status,
            issuer=iss,
            fetcher=status_fetcher,
            trust=trust,
            now=now,
            did_resolver=did_resolver,
        )
    return VerifiedCredential(
        format="jwt_vc",
        issuer=iss,
        claims=subject,
        key_binding=False,
        credential_type=specific[-1] if specific else "VerifiableCredential",
        valid_from=valid_from,
        valid_until=valid_until,
        status=status if isinstance(status, dict) else None,
        extra={"types": types, "status_checked": status is not None and status_fetcher is not None},
    )

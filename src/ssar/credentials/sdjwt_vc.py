"""SD-JWT VC verification (draft-ietf-oauth-sd-jwt-vc): RFC 9901 processing plus the VC rules
of R15 — ``typ``, ``vct`` allow-list, claims that are never selectively disclosed, issuer keys
from the trust configuration only, and the Token Status List."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from ssar.credentials.did import DidResolver
from ssar.credentials.jose import ALLOWED_ALGS
from ssar.credentials.results import Format, VerifiedCredential, verified_credential
from ssar.credentials.sdjwt import _process, trust_key_resolver
from ssar.credentials.statuslist import StatusListFetcher, check_status
from ssar.credentials.trust import TrustConfig
from ssar.errors import CredentialError

SD_JWT_VC_TYPES: dict[str, Format] = {"dc+sd-jwt": "dc+sd-jwt", "vc+sd-jwt": "vc+sd-jwt"}
#: Claims an issuer must sign directly (SD-JWT VC §3.2.2.2).
NEVER_DISCLOSED = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})


def verify_sd_jwt_vc(
    presentation: str,
    *,
    trust: TrustConfig,
    now: datetime,
    expected_nonce: str | None = None,
    expected_audience: str | None = None,
    require_key_binding: bool = False,
    allowed_types: Collection[str] | None = None,
    status_fetcher: StatusListFetcher | None = None,
    did_resolver: DidResolver | None = None,
) -> VerifiedCredential:
    """Verify an SD-JWT VC (``typ`` ``dc+sd-jwt``, or the legacy ``vc+sd-jwt``).

    ``allowed_types`` lists the acceptable ``vct`` values (any when ``None``); a ``vct`` outside
    it is refused as ``untrusted_issuer`` (the issuer is not trusted for that type). A ``status``
    reference is checked when ``status_fetcher`` is given, failing closed; without a fetcher the
    reference is returned in ``VerifiedCredential.status`` for the caller to act on.
    """
    jws, claims, _, top_level, key_binding, holder_jwk, valid_from, valid_until = _process(
        presentation,
        key_resolver=trust_key_resolver(trust, now=now, did_resolver=did_resolver),
        now=now,
        expected_nonce=expected_nonce,
        expected_audience=expected_audience,
        require_key_binding=require_key_binding,
        expected_typ=SD_JWT_VC_TYPES,
        allowed_algs=ALLOWED_ALGS,
    )
    signed = jws.payload
    disclosed = top_level & NEVER_DISCLOSED
    if disclosed:
        raise CredentialError(
            f"{', '.join(sorted(disclosed))} must not be selectively disclosed", code="malformed"
        )
    iss = signed.get("iss")
    if not isinstance(iss, str):
        raise CredentialError("SD-JWT VC has no iss", code="malformed")
    vct = signed.get("vct")
    if not isinstance(vct, str) or not vct:
        raise CredentialError("SD-JWT VC has no vct", code="malformed")
    if allowed_types is not None and vct not in allowed_types:
        raise CredentialError(f"credential type {vct!r} is not accepted", code="untrusted_issuer")
    status = signed.get("status")
    if status is not None and status_fetcher is not None:
        check_status(
            status,
            issuer=iss,
            fetcher=status_fetcher,
            trust=trust,
            now=now,
            did_resolver=did_resolver,
        )
    return verified_credential(
        SD_JWT_VC_TYPES[jws.typ or ""],
        iss,
        claims,
        key_binding,
        vct,
        holder_jwk,
        valid_from,
        valid_until,
        status if isinstance(status, dict) else None,
        {"status_checked": status is not None and status_fetcher is not None},
    )

"""The verification-provider port: what every adapter hands the recovery flow.

A provider proves who the person is and returns a :class:`VerifiedIdentity`: the claims it
vouches for (flat, OpenID names: ``given_name``, ``family_name``, ``birthdate`` ...), who vouched
(``issuer``), a stable evidence subject for the same-evidence guard (R10), and the portrait
when the evidence carries one (image bytes, memory only: R23).

Two shapes of start exist: a wallet presentation (OpenID4VP request) and a redirect to an
external provider (``oidc_ida``). The flow stores what it needs to finish (encrypted) and calls
the adapter again when the person comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VerifiedIdentity:
    provider: str  # openid4vp | reference | oidc_ida:<name>
    issuer: str  # credential issuer / OpenID provider issuer
    format: str  # dc+sd-jwt | vc+sd-jwt | mso_mdoc | jwt_vc | oidc_ida
    credential_type: str | None  # vct / doctype / VC type / trust framework
    claims: Mapping[str, Any]  # flat identity claims, never the portrait
    subject: str | None = None  # document number or stable subject id, for R10 (hashed by the flow)
    evidence: Mapping[str, Any] = field(default_factory=dict)  # non-biometric evidence facts
    portrait: bytes | None = field(default=None, repr=False)  # image bytes (JPEG/PNG), memory only


@dataclass(frozen=True)
class RedirectStart:
    """A redirect provider's first step: send the person to ``url``; keep ``secrets`` (state,
    nonce, PKCE verifier) with the flow, encrypted, to finish with."""

    url: str
    secrets: Mapping[str, str] = field(repr=False)

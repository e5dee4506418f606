"""From a verified presentation to the identity the flow acts on, and the evidence key (R10).

Pure functions: no I/O, no logging (claims and portraits are personal data).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from ssar.credentials.dcql import MDL_DOCTYPE, MDL_NAMESPACE
from ssar.keys import SecretKey
from ssar.openid4vp.service import PresentationResult
from ssar.providers.base import VerifiedIdentity

#: mdoc element names → the SD-JWT VC / OpenID claim names the flow speaks
_MDOC_NAMES = {"birth_date": "birthdate"}
_DOCTYPE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+){2,}$", re.IGNORECASE)
_DATA_URI = re.compile(r"^data:image/(jpeg|jpg|png);base64,(?P<data>[A-Za-z0-9+/=\s]+)$", re.I)
#: claims naming the document or the person uniquely, best first, for the evidence key
_SUBJECT_CLAIMS = ("document_number", "personal_administrative_number", "sub")


def is_doctype(credential_type: str) -> bool:
    """mdoc doctypes are reverse-DNS names (``org.iso.18013.5.1.mDL``); SD-JWT VC types are URIs."""
    return ":" not in credential_type and bool(_DOCTYPE.match(credential_type))


def _flatten(claims: Mapping[str, Any], credential_type: str | None, fmt: str) -> dict[str, Any]:
    if fmt != "mso_mdoc":
        return dict(claims)
    flat: dict[str, Any] = {}
    namespaces = [MDL_NAMESPACE] if credential_type == MDL_DOCTYPE else []
    namespaces += [credential_type or ""]
    for namespace, elements in claims.items():
        if isinstance(elements, Mapping):
            for name, value in elements.items():
                flat.setdefault(_MDOC_NAMES.get(str(name), str(name)), value)
        elif namespace not in namespaces:
            flat.setdefault(str(namespace), elements)
    return flat


def portrait_bytes(value: object) -> bytes | None:
    """The image bytes of a portrait claim: a ``data:image/...;base64,`` URI (SD-JWT VC) or
    base64url text (an mdoc bstr after JSON transport)."""
    if not isinstance(value, str) or not value:
        return None
    match = _DATA_URI.match(value)
    try:
        if match:
            return base64.b64decode(re.sub(r"\s+", "", match.group("data")), validate=True)
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def identity_from_presentation(result: PresentationResult, *, provider: str) -> VerifiedIdentity:
    """The first verified credential of ``result`` as the flow's identity; the portrait is taken
    out of the claims."""
    credential = result.credentials[0]
    claims = _flatten(credential.claims, credential.credential_type, credential.format)
    portrait = portrait_bytes(claims.pop("portrait", None))
    subject = next(
        (str(claims[name]) for name in _SUBJECT_CLAIMS if isinstance(claims.get(name), str)),
        None,
    )
    return VerifiedIdentity(
        provider=provider,
        issuer=credential.issuer,
        format=credential.format,
        credential_type=credential.credential_type,
        claims=claims,
        subject=subject,
        evidence={"key_binding": credential.key_binding},
        portrait=portrait,
    )


def _norm(value: object) -> str:
    return " ".join(str(value).split()).casefold() if value is not None else ""


def evidence_key(secret_key: SecretKey, identity: VerifiedIdentity) -> str:
    """A keyed hash naming the evidence (R10): the issuer and the document number or subject
    when the credential has one, else the issuer and the person's names and birth date (what
    the same document presented twice would repeat). Only this hash is stored."""
    if identity.subject:
        material = f"subject\0{identity.issuer}\0{identity.subject}"
    else:
        claims = identity.claims
        material = "person\0" + "\0".join(
            (
                identity.issuer,
                _norm(claims.get("given_name")),
                _norm(claims.get("family_name")),
                _norm(claims.get("birthdate")),
            )
        )
    return secret_key.keyed_hash("recovery/evidence", material)

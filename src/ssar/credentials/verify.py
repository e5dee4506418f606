"""One entry point for every credential format: detect SD-JWT, JWT-VC or mdoc and verify it."""

from __future__ import annotations

import binascii
import importlib
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Literal, cast

from ssar.credentials.did import DidResolver
from ssar.credentials.jose import b64url_decode, loads_json_object
from ssar.credentials.jwtvc import verify_jwt_vc
from ssar.credentials.results import VerifiedCredential
from ssar.credentials.sdjwt import require_aware, verify_sd_jwt
from ssar.credentials.sdjwt_vc import SD_JWT_VC_TYPES, verify_sd_jwt_vc
from ssar.credentials.statuslist import StatusListFetcher
from ssar.credentials.trust import TrustConfig
from ssar.errors import CredentialError

Detected = Literal["sd-jwt", "jwt", "mdoc"]
_HEX = frozenset("0123456789abcdefABCDEF")


def detect_format(data: bytes | str) -> tuple[Detected, str | bytes]:
    """``("sd-jwt", text)``, ``("jwt", text)`` or ``("mdoc", cbor bytes)``: text with ``~`` is an
    SD-JWT, a compact JWS is a JWT, hex text or anything that is not text is CBOR."""
    if isinstance(data, bytes):
        try:
            text = data.decode("ascii").strip()
        except UnicodeDecodeError:
            return "mdoc", data
    elif isinstance(data, str):
        text = data.strip()
    else:
        raise CredentialError("credential is neither bytes nor text", code="malformed")
    if not text:
        raise CredentialError("credential is empty", code="malformed")
    if "~" in text:
        return "sd-jwt", text
    if text.count(".") == 2:
        return "jwt", text
    if len(text) % 2 == 0 and set(text) <= _HEX:
        try:
            return "mdoc", bytes.fromhex(text)
        except ValueError:  # pragma: no cover - checked above
            pass
    if isinstance(data, bytes):
        return "mdoc", data
    raise CredentialError("credential is neither an SD-JWT, a JWT nor CBOR", code="malformed")


def _sd_jwt_typ(text: str) -> str | None:
    header_part = text.split("~", 1)[0].split(".", 1)[0]
    header = loads_json_object(
        b64url_decode(header_part, what="SD-JWT header"), what="SD-JWT header"
    )
    typ = header.get("typ")
    return typ if isinstance(typ, str) else None


def verify_credential(
    data: bytes | str,
    *,
    trust: TrustConfig,
    now: datetime,
    expected_nonce: str | None = None,
    expected_audience: str | None = None,
    require_key_binding: bool = False,
    status_fetcher: StatusListFetcher | None = None,
    allowed_types: Collection[str] | None = None,
    did_resolver: DidResolver | None = None,
    expected_session_transcript: bytes | None = None,
) -> VerifiedCredential:
    """Verify one credential or presentation of any supported format, or raise
    ``CredentialError``. ``allowed_types`` restricts ``vct`` / VC types / mdoc docTypes.

    A plain SD-JWT (no VC ``typ``) has no type, so ``allowed_types`` refuses it. A JWT-VC has no
    key binding, so ``require_key_binding`` refuses it. mdoc is delegated to
    ``ssar.credentials.mdoc.verify_mdoc`` with ``expected_session_transcript``.
    """
    require_aware(now)
    kind, payload = detect_format(data)
    if kind == "sd-jwt":
        assert isinstance(payload, str)
        if _sd_jwt_typ(payload) in SD_JWT_VC_TYPES:
            return verify_sd_jwt_vc(
                payload,
                trust=trust,
                now=now,
                expected_nonce=expected_nonce,
                expected_audience=expected_audience,
                require_key_binding=require_key_binding,
                allowed_types=allowed_types,
                status_fetcher=status_fetcher,
                did_resolver=did_resolver,
            )
        result = verify_sd_jwt(
            payload,
            trust=trust,
            now=now,
            expected_nonce=expected_nonce,
            expected_audience=expected_audience,
            require_key_binding=require_key_binding,
            did_resolver=did_resolver,
        )
        if allowed_types is not None:
            raise CredentialError(
                "an untyped SD-JWT is not an accepted credential type", code="untrusted_issuer"
            )
        return result
    if kind == "jwt":
        assert isinstance(payload, str)
        if require_key_binding:
            raise CredentialError("a JWT-VC carries no key binding", code="key_binding_missing")
        return verify_jwt_vc(
            payload,
            trust=trust,
            now=now,
            allowed_types=allowed_types,
            status_fetcher=status_fetcher,
            did_resolver=did_resolver,
        )
    assert isinstance(payload, bytes)
    try:
        # imported lazily: mdoc (and its CBOR/COSE stack) is only needed for mdoc input
        verify_mdoc = cast(
            Callable[..., VerifiedCredential],
            importlib.import_module("ssar.credentials.mdoc").verify_mdoc,
        )
    except (ImportError, AttributeError) as exc:
        raise CredentialError(
            "mdoc verification is not available in this build", code="malformed"
        ) from exc
    try:
        result = verify_mdoc(
            payload,
            trust=trust,
            now=now,
            expected_session_transcript=expected_session_transcript,
            expected_doctypes=allowed_types,
        )
    except CredentialError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error) as exc:
        # R19 at the boundary: whatever the CBOR layer lets slip is still a typed error
        raise CredentialError(f"mdoc is malformed: {exc}", code="malformed") from exc
    if require_key_binding and not result.key_binding:
        raise CredentialError(
            "mdoc device authentication was not verified", code="key_binding_missing"
        )
    return result

"""Request Objects (JAR, RFC 9101, as profiled by OpenID4VP §5): the claims of an
Authorization Request, signed ES256 with the service's key, ``typ: oauth-authz-req+jwt``."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ssar.credentials.jose import ALLOWED_ALGS, b64url_encode
from ssar.keys import SigningKey

TYP = "oauth-authz-req+jwt"
MEDIA_TYPE = "application/oauth-authz-req+jwt"
#: ``aud`` of a Request Object when the wallet's metadata is static (§5.8).
STATIC_AUDIENCE = "https://self-issued.me/v2"
PREFIX_REDIRECT_URI = "redirect_uri:"
PREFIX_X509_SAN_DNS = "x509_san_dns:"


def vp_formats_supported() -> dict[str, Any]:
    """What this verifier accepts (client metadata ``vp_formats_supported``, §11.1)."""
    jose_algs = sorted(a for a in ALLOWED_ALGS if a != "EdDSA")
    return {
        "dc+sd-jwt": {"sd-jwt_alg_values": jose_algs, "kb-jwt_alg_values": jose_algs},
        "mso_mdoc": {
            "issuerauth_alg_values": [-7, -9, -35, -36],
            "deviceauth_alg_values": [-7, -9],
        },
    }


def _b64(obj: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def sign_request_object(
    claims: Mapping[str, Any],
    *,
    signing_key: SigningKey,
    certificate_chain: Sequence[x509.Certificate] = (),
) -> str:
    """A compact JWS of ``claims``. With ``certificate_chain`` (leaf first; its key must be the
    signing key) the header carries ``x5c`` for the ``x509_san_dns`` prefix; otherwise ``kid``
    names the key published at ``/.well-known/jwks.json``."""
    header: dict[str, Any] = {"alg": "ES256", "typ": TYP, "kid": signing_key.kid}
    if certificate_chain:
        header["x5c"] = [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for c in certificate_chain
        ]
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    der = signing_key.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

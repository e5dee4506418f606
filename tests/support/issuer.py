"""A test issuer of SD-JWT VCs for the OpenID4VP tests: identity credentials bound to a holder
key, with every claim selectively disclosable, and its trust configuration."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from ssar.credentials.trust import TrustConfig
from tests.unit.credentials.factory import Issuer, Key, present

VCT = "urn:ssar:identity:1"
ISS = "https://idv.test"
# a 1x1 JPEG is enough to stand for a portrait
PORTRAIT = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////2wBDAf//////////////////////////////////////////////////////////////////////////////////////wAARCAABAAEDASIAAhEBAxEB/8QAFAABAAAAAAAAAAAAAAAAAAAAA//EABQQAQAAAAAAAAAAAAAAAAAAAAD/xAAUAQEAAAAAAAAAAAAAAAAAAAAA/8QAFBEBAAAAAAAAAAAAAAAAAAAAAP/aAAwDAQACEQMRAD8AP//Z"
IDENTITY = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1984-01-26",
    "portrait": PORTRAIT,
}


@dataclass
class IdentityIssuer:
    """Issues ``dc+sd-jwt`` identity credentials; ``trust()`` is what a verifier configures."""

    key: Key = field(default_factory=lambda: Key(kid="test-issuer-1"))
    iss: str = ISS
    vct: str = VCT

    def trust(self) -> TrustConfig:
        return Issuer(key=self.key, iss=self.iss).trust()

    def trust_json(self) -> dict[str, Any]:
        return {"issuers": [{"iss": self.iss, "jwks": {"keys": [self.key.jwk]}}]}

    def issue(
        self,
        *,
        holder: Key,
        now: datetime,
        claims: dict[str, Any] | None = None,
        lifetime_seconds: int = 3600,
    ) -> tuple[str, list[str]]:
        """``(issuer-signed JWT, disclosures)`` valid from a minute before ``now``."""
        t = int(now.timestamp())
        return Issuer(key=self.key, iss=self.iss).sd_jwt(
            disclosed=dict(IDENTITY if claims is None else claims),
            holder=holder,
            payload={"iat": t - 60, "exp": t + lifetime_seconds, "vct": self.vct},
        )

    def issue_text(self, *, holder: Key, now: datetime, **kwargs: Any) -> str:
        """The credential as a wallet stores it: ``jwt~d1~…~dn~``."""
        jwt, disclosures = self.issue(holder=holder, now=now, **kwargs)
        return "~".join([jwt, *disclosures]) + "~"

    def write(self, path: Path, *, holder: Key, now: datetime) -> Path:
        path.write_text(self.issue_text(holder=holder, now=now))
        return path

    def write_trust(self, path: Path) -> Path:
        path.write_text(json.dumps(self.trust_json()))
        return path


def holder_from(private_key: ec.EllipticCurvePrivateKey) -> Key:
    """A factory ``Key`` around a wallet's holder key."""
    return Key(private=private_key)


def disclose(
    jwt: str,
    disclosures: list[str],
    names: list[str],
    *,
    holder: Key | None,
    nonce: str,
    aud: str,
    iat: int,
) -> str:
    """A presentation disclosing only the disclosures for ``names`` (top-level), with a KB-JWT
    when ``holder`` is given."""
    from ssar.credentials.jose import b64url_decode

    picked = [d for d in disclosures if json.loads(b64url_decode(d))[1] in names]
    return present(jwt, picked, holder, nonce=nonce, aud=aud, iat=iat)

"""The reference wallet's storage: a P-256 holder key (PEM) and the held credentials (one JSON
file), both in one directory (default ``var/wallet``). Demo and test use only: the files are
protected by file permissions, not by a hardware key store."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ssar.credentials.jose import b64url_encode, parse_compact_jws
from ssar.credentials.sdjwt import split_presentation
from ssar.errors import ConfigurationError, CredentialError, NotFound

KEY_FILE = "holder-key.pem"
STORE_FILE = "credentials.json"
SD_JWT_TYPES = ("dc+sd-jwt", "vc+sd-jwt")


@dataclass(frozen=True)
class HolderKey:
    """The wallet's ES256 key; credentials are bound to it (``cnf.jwk``)."""

    private_key: ec.EllipticCurvePrivateKey

    def public_jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }

    def thumbprint(self) -> str:
        canonical = json.dumps(self.public_jwk(), sort_keys=True, separators=(",", ":"))
        return b64url_encode(hashlib.sha256(canonical.encode()).digest())

    def sign_jwt(self, header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
        def enc(obj: Mapping[str, Any]) -> str:
            return b64url_encode(json.dumps(dict(obj), separators=(",", ":")).encode())

        signing_input = f"{enc({'alg': 'ES256', **header})}.{enc(payload)}"
        der = self.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@dataclass(frozen=True)
class StoredCredential:
    id: str
    format: str
    credential: str  # the SD-JWT as issued: issuer-signed JWT and every disclosure, no KB-JWT
    credential_type: str | None
    issuer: str | None
    added_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "format": self.format,
            "credential": self.credential,
            "credential_type": self.credential_type,
            "issuer": self.issuer,
            "added_at": self.added_at,
        }


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Wallet:
    """A holder key and a credential store in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def key_file(self) -> Path:
        return self.directory / KEY_FILE

    @property
    def store_file(self) -> Path:
        return self.directory / STORE_FILE

    def initialised(self) -> bool:
        return self.key_file.exists()

    def init(self) -> HolderKey:
        """Create the holder key unless it exists; returns the key either way."""
        if not self.key_file.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            self.directory.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
        return self.holder_key()

    def holder_key(self) -> HolderKey:
        if not self.key_file.exists():
            raise ConfigurationError(f"no wallet at {self.directory}; run `ssar wallet init` first")
        loaded = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
            raise ConfigurationError(f"{self.key_file} is not a P-256 private key")
        return HolderKey(loaded)

    def credentials(self) -> list[StoredCredential]:
        if not self.store_file.exists():
            return []
        try:
            document = json.loads(self.store_file.read_text(encoding="utf-8"))
            return [StoredCredential(**entry) for entry in document["credentials"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"{self.store_file} is not a wallet store") from exc

    def _save(self, credentials: list[StoredCredential]) -> None:
        document = {"credentials": [c.to_json() for c in credentials]}
        _write_atomic(self.store_file, json.dumps(document, indent=2).encode("utf-8"))

    def add(self, text: str, *, now: datetime) -> StoredCredential:
        """Store an SD-JWT VC issued to this wallet's holder key (any KB-JWT is dropped)."""
        key = self.holder_key()
        issuer_jwt, disclosures, _kb, _ = split_presentation(text.strip())
        jws = parse_compact_jws(issuer_jwt, what="issuer-signed JWT")
        if jws.typ not in SD_JWT_TYPES:
            raise CredentialError(
                f"only SD-JWT VCs ({', '.join(SD_JWT_TYPES)}) can be stored", code="malformed"
            )
        cnf = jws.payload.get("cnf")
        holder = cnf.get("jwk") if isinstance(cnf, dict) else None
        if not isinstance(holder, dict) or {k: holder.get(k) for k in ("kty", "crv", "x", "y")} != (
            key.public_jwk()
        ):
            raise CredentialError(
                "the credential is not bound to this wallet's holder key",
                code="key_binding_invalid",
            )
        vct = jws.payload.get("vct")
        iss = jws.payload.get("iss")
        stored = StoredCredential(
            id=str(uuid.uuid4()),
            format="dc+sd-jwt",
            credential="~".join([issuer_jwt, *disclosures]) + "~",
            credential_type=vct if isinstance(vct, str) else None,
            issuer=iss if isinstance(iss, str) else None,
            added_at=now.isoformat(),
        )
        self._save([*self.credentials(), stored])
        return stored

    def remove(self, credential_id: str) -> None:
        remaining = [c for c in self.credentials() if c.id != credential_id]
        if len(remaining) == len(self.credentials()):
            raise NotFound(f"no credential {credential_id}")
        self._save(remaining)

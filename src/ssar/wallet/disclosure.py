"""Selective disclosure on the holder side: where each disclosure of an SD-JWT sits in the
credential (as a claims path), the claims the holder can show, and the smallest set of
disclosures that reveals the claims a DCQL query asked for (OpenID4VP §6.4.1: never more)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ssar.credentials.dcql import ClaimPath
from ssar.credentials.jose import b64url_decode, b64url_encode, loads_json, parse_compact_jws
from ssar.credentials.sdjwt import SD_ALGS, split_presentation
from ssar.errors import CredentialError


class UnpackedSdJwt:
    """An SD-JWT as its holder sees it: every claim, and the path of every disclosure."""

    def __init__(self, credential: str) -> None:
        issuer_jwt, encoded, _kb, _ = split_presentation(credential)
        jws = parse_compact_jws(issuer_jwt, what="issuer-signed JWT")
        sd_alg = jws.payload.get("_sd_alg", "sha-256")
        hash_fn = SD_ALGS.get(sd_alg) if isinstance(sd_alg, str) else None
        if hash_fn is None:
            raise CredentialError(f"_sd_alg {sd_alg!r} is not supported", code="unsupported_alg")
        self.issuer_jwt = issuer_jwt
        self.hash_fn: Callable[[bytes], Any] = hash_fn
        self.payload = jws.payload
        self._by_digest: dict[str, tuple[str, str | None, Any]] = {}
        for disclosure in encoded:
            value = loads_json(b64url_decode(disclosure, what="disclosure"), what="disclosure")
            if not isinstance(value, list) or len(value) not in (2, 3):
                raise CredentialError(
                    "a disclosure is not a 2 or 3 element array", code="malformed"
                )
            name = value[1] if len(value) == 3 else None
            if len(value) == 3 and not isinstance(name, str):
                raise CredentialError("a disclosure claim name is not a string", code="malformed")
            digest = b64url_encode(hash_fn(disclosure.encode("ascii")).digest())
            self._by_digest[digest] = (disclosure, name, value[-1])
        self.paths: dict[str, ClaimPath] = {}
        self.claims: dict[str, Any] = self._unpack(jws.payload, ())

    def _unpack(self, value: Any, path: ClaimPath) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for digest in value.get("_sd", []):
                found = self._by_digest.get(digest) if isinstance(digest, str) else None
                if found is None or found[1] is None:
                    continue  # a decoy, or a disclosure this holder does not have
                encoded, name, disclosed = found[0], found[1], found[2]
                self.paths[encoded] = (*path, name)
                out[name] = self._unpack(disclosed, (*path, name))
            for key, item in value.items():
                if key not in ("_sd", "_sd_alg"):
                    out[key] = self._unpack(item, (*path, key))
            return out
        if isinstance(value, list):
            items: list[Any] = []
            for item in value:
                if isinstance(item, dict) and set(item) == {"..."}:
                    found = self._by_digest.get(item["..."])
                    if found is None:
                        continue
                    encoded, _, disclosed = found
                    self.paths[encoded] = (*path, len(items))
                    items.append(self._unpack(disclosed, (*path, len(items))))
                else:
                    items.append(self._unpack(item, (*path, len(items))))
            return items
        return value

    def disclosures_for(self, requested: Iterable[ClaimPath]) -> list[str]:
        """The disclosures on the way to, or inside, each requested claim; nothing else."""
        wanted = list(requested)
        return [
            encoded
            for encoded, path in self.paths.items()
            if any(_prefix(path, q) or _prefix(q, path) for q in wanted)
        ]

    def presentation(self, disclosures: Iterable[str]) -> str:
        """``issuer-jwt~d1~…~`` (the part a KB-JWT's ``sd_hash`` covers)."""
        return "~".join([self.issuer_jwt, *disclosures]) + "~"

    def sd_hash(self, presentation: str) -> str:
        return b64url_encode(self.hash_fn(presentation.encode("ascii")).digest())


def _prefix(short: ClaimPath, long: ClaimPath) -> bool:
    if len(short) > len(long):
        return False
    return all(a is None or b is None or a == b for a, b in zip(short, long, strict=False))

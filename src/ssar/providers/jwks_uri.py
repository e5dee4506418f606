"""Issuer keys published at a ``jwks_uri`` (a profile's ``credentials.issuers[].jwks_uri``).

The JWKS is fetched when a presentation request is created and pinned into that request's trust,
so the response is verified against exactly the keys that were current when it was asked for.
Each JWKS is cached for ``max_age`` (10 minutes by default). Anything but a 200 with a JSON
``{"keys": [...]}`` of public keys fails closed: the issuer then stays untrusted for that
request. Private (``d``) and symmetric (``oct``) members are never accepted as trust.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from ssar.credentials.statuslist import _fetchable

log = structlog.get_logger(__name__)

MAX_BYTES = 256 * 1024


class JwksUriFetcher:
    def __init__(self, client: httpx.Client, *, max_age: timedelta = timedelta(minutes=10)) -> None:
        self._client = client
        self._max_age = max_age
        self._cache: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def fetch(self, uri: str, *, now: datetime) -> dict[str, Any] | None:
        """The public keys at ``uri``, or None (logged with the reason) when they cannot be had."""
        with self._lock:
            cached = self._cache.get(uri)
        if cached is not None and now < cached[0]:
            return cached[1]
        reason = None
        jwks: dict[str, Any] | None = None
        if not _fetchable(uri):
            reason = "not https"
        else:
            try:
                response = self._client.get(uri, headers={"Accept": "application/json"})
                if response.status_code != 200:
                    reason = f"status {response.status_code}"
                elif len(response.content) > MAX_BYTES:
                    reason = "larger than 256 KB"
                else:
                    jwks = public_jwks(json.loads(response.content))
                    reason = None if jwks else "no public keys"
            except (httpx.HTTPError, ValueError) as exc:
                reason = type(exc).__name__
        if jwks is None or reason is not None:
            log.warning("jwks_uri_unavailable", uri=uri, reason=reason)
            return None
        with self._lock:
            self._cache[uri] = (now + self._max_age, jwks)
        return jwks


def public_jwks(document: object) -> dict[str, Any] | None:
    """``{"keys": [...]}`` with only the public, asymmetric keys of ``document``."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        return None
    keys = [
        dict(k)
        for k in document["keys"]
        if isinstance(k, Mapping) and "d" not in k and k.get("kty") in ("EC", "RSA", "OKP")
    ]
    return {"keys": keys} if keys else None

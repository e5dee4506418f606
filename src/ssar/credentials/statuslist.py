"""IETF Token Status List: verify a ``statuslist+jwt``, decode its compressed bit array, and
look up a referenced token's status (R16). Fetching is injected; failures fail closed.

Status values: 0 valid, 1 invalid (``revoked``), 2 suspended (``suspended``); anything else
is not understood and refused as ``revoked``.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from ssar.credentials.did import DidResolver
from ssar.credentials.jose import parse_compact_jws, verify_signature
from ssar.credentials.trust import TrustConfig, resolve_issuer_key
from ssar.errors import CredentialError

STATUSLIST_TYP = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"
VALID, INVALID, SUSPENDED = 0, 1, 2
#: Refuse lists that inflate beyond this (decompression bombs); 2^24 bytes = 16M 8-bit entries.
MAX_LIST_BYTES = 1 << 24
_LEEWAY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class StatusList:
    bits: int
    data: bytes

    def __len__(self) -> int:
        return len(self.data) * 8 // self.bits

    def status(self, index: int) -> int:
        """The status of entry ``index``; an index outside the list is an error (R16)."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0 or index >= len(self):
            raise CredentialError(
                f"status index {index!r} is outside the list of {len(self)} entries",
                code="malformed",
            )
        bit = index * self.bits
        return (self.data[bit >> 3] >> (bit & 7)) & ((1 << self.bits) - 1)


def decode_status_list(document: Any) -> StatusList:
    """Decode the ``status_list`` claim ``{"bits": 1|2|4|8, "lst": base64url(zlib(bytes))}``."""
    from ssar.credentials.jose import b64url_decode

    if not isinstance(document, Mapping):
        raise CredentialError("status_list is not an object", code="malformed")
    bits, lst = document.get("bits"), document.get("lst")
    if isinstance(bits, bool) or bits not in (1, 2, 4, 8):
        raise CredentialError(f"status_list bits {bits!r} is not 1, 2, 4 or 8", code="malformed")
    compressed = b64url_decode(lst if isinstance(lst, str) else "", what="status_list lst")
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_LIST_BYTES)
        if inflater.unconsumed_tail:
            raise CredentialError("status list is too large", code="malformed")
        data += inflater.flush()
    except zlib.error as exc:
        raise CredentialError(f"status list is not zlib data: {exc}", code="malformed") from exc
    if not inflater.eof or inflater.unused_data:
        raise CredentialError("status list is not one complete zlib stream", code="malformed")
    if not data:
        raise CredentialError("status list is empty", code="malformed")
    return StatusList(bits=bits, data=data)


@dataclass(frozen=True, slots=True)
class VerifiedStatusList:
    uri: str
    status_list: StatusList
    issued_at: datetime | None
    expires_at: datetime | None
    ttl: int | None


def _date(payload: Mapping[str, Any], name: str) -> datetime | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CredentialError(f"status list {name} is not a NumericDate", code="malformed")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise CredentialError(f"status list {name} is out of range", code="malformed") from exc


def verify_status_list_token(
    token: str,
    *,
    expected_uri: str,
    expected_issuer: str,
    trust: TrustConfig,
    now: datetime,
    did_resolver: DidResolver | None = None,
) -> VerifiedStatusList:
    """Verify a Status List Token (draft-ietf-oauth-status-list §5.1, §8.3) in order: ``typ``,
    signature by a key the trust configuration gives for its ``iss`` (the referenced token's
    issuer when it names none), ``sub`` equal to the URI it was fetched from, ``exp``/``ttl``."""
    if not isinstance(token, str):
        raise CredentialError("status list token is not text", code="malformed")
    jws = parse_compact_jws(token.strip(), what="status list token")
    if jws.typ != STATUSLIST_TYP:
        raise CredentialError(f"status list token typ is {jws.typ!r}", code="malformed")
    iss = jws.payload.get("iss", expected_issuer)
    if not isinstance(iss, str):
        raise CredentialError("status list token iss is not a string", code="malformed")
    keys = resolve_issuer_key(trust, iss=iss, header=jws.header, now=now, did_resolver=did_resolver)
    last: CredentialError | None = None
    for key in keys:
        try:
            verify_signature(jws, key, what="status list token")
            break
        except CredentialError as exc:
            last = exc
    else:
        raise last or CredentialError("no status list key", code="untrusted_issuer")
    payload = jws.payload
    if payload.get("sub") != expected_uri:
        raise CredentialError(
            "status list token sub is not the URI it was fetched from", code="malformed"
        )
    issued_at = _date(payload, "iat")
    expires_at = _date(payload, "exp")
    if expires_at is not None and now >= expires_at + _LEEWAY:
        raise CredentialError("status list token has expired", code="expired")
    ttl = payload.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0):
        raise CredentialError("status list token ttl is not a positive integer", code="malformed")
    return VerifiedStatusList(
        uri=expected_uri,
        status_list=decode_status_list(payload.get("status_list")),
        issued_at=issued_at,
        expires_at=expires_at,
        ttl=ttl,
    )


class StatusListFetcher(Protocol):
    """Returns the Status List Token published at ``uri``; raises ``CredentialError`` (code
    ``status_unavailable``) when it cannot."""

    def fetch(self, uri: str, *, now: datetime) -> str: ...


class StaticStatusListFetcher:
    """Tokens given up front (the CLI's ``--status-list URI=FILE``, tests)."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    def fetch(self, uri: str, *, now: datetime) -> str:
        try:
            return self._tokens[uri]
        except KeyError:
            raise CredentialError(f"no status list for {uri}", code="status_unavailable") from None


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _fetchable(uri: str) -> bool:
    """https, or http to the loopback interface (a development deployment on localhost, as
    OAuth allows for loopback redirects); never plain http across a network."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in _LOOPBACK


class HttpStatusListFetcher:
    """Fetch Status List Tokens over HTTPS with an injected ``httpx.Client``, caching each for
    its ``ttl`` (bounded by ``exp`` and ``max_age``). Anything but a 200 with a token fails
    closed. Cached tokens are still verified on every use."""

    def __init__(self, client: httpx.Client, *, max_age: timedelta = timedelta(hours=1)) -> None:
        self._client = client
        self._max_age = max_age
        self._cache: dict[str, tuple[datetime, str]] = {}
        self._lock = threading.Lock()

    def fetch(self, uri: str, *, now: datetime) -> str:
        with self._lock:
            cached = self._cache.get(uri)
        if cached is not None and now < cached[0]:
            return cached[1]
        if not _fetchable(uri):
            raise CredentialError(
                f"status list URI {uri!r} is not https", code="status_unavailable"
            )
        try:
            response = self._client.get(uri, headers={"Accept": MEDIA_TYPE})
        except httpx.HTTPError as exc:
            raise CredentialError(
                f"status list {uri} could not be fetched: {exc}", code="status_unavailable"
            ) from exc
        if response.status_code != 200:
            raise CredentialError(
                f"status list {uri} answered {response.status_code}", code="status_unavailable"
            )
        token = response.text.strip()
        until = self._cache_until(token, now)
        if until is not None:
            with self._lock:
                self._cache[uri] = (until, token)
        return token

    def _cache_until(self, token: str, now: datetime) -> datetime | None:
        # unverified claims only decide how long to keep the text; it is verified on each use
        try:
            payload = parse_compact_jws(token, what="status list token").payload
        except CredentialError:
            return None
        until = now + self._max_age
        ttl = payload.get("ttl")
        if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl > 0:
            until = min(until, now + timedelta(seconds=ttl))
        exp = payload.get("exp")
        if isinstance(exp, int) and not isinstance(exp, bool):
            try:
                until = min(until, datetime.fromtimestamp(exp, tz=UTC))
            except (OverflowError, OSError, ValueError):
                return None
        return until if until > now else None


def check_status(
    reference: Any,
    *,
    issuer: str,
    fetcher: StatusListFetcher,
    trust: TrustConfig,
    now: datetime,
    did_resolver: DidResolver | None = None,
) -> int:
    """Check a credential's ``status`` claim (``{"status_list": {"idx": N, "uri": "..."}}``);
    return 0 (valid) or raise ``revoked``/``suspended``/``malformed``/``status_unavailable``."""
    entry = reference.get("status_list") if isinstance(reference, Mapping) else None
    if not isinstance(entry, Mapping):
        raise CredentialError("status claim has no status_list reference", code="malformed")
    index, uri = entry.get("idx"), entry.get("uri")
    if not isinstance(uri, str) or isinstance(index, bool) or not isinstance(index, int):
        raise CredentialError(
            "status_list reference needs integer idx and string uri", code="malformed"
        )
    try:
        token = fetcher.fetch(uri, now=now)
    except CredentialError:
        raise
    except Exception as exc:  # an injected fetcher does I/O: fail closed on anything
        raise CredentialError(
            f"status list {uri} could not be fetched: {exc}", code="status_unavailable"
        ) from exc
    verified = verify_status_list_token(
        token,
        expected_uri=uri,
        expected_issuer=issuer,
        trust=trust,
        now=now,
        did_resolver=did_resolver,
    )
    value = verified.status_list.status(index)
    if value == VALID:
        return value
    if value == SUSPENDED:
        raise CredentialError(
            f"credential is suspended (status list {uri}, index {index})", code="suspended"
        )
    detail = "revoked" if value == INVALID else f"in status {value:#x}, which is not understood"
    raise CredentialError(
        f"credential is {detail} (status list {uri}, index {index})", code="revoked"
    )

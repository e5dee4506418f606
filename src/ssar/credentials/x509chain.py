"""X.509 chain validation up to a configured anchor (mdoc IACA, SD-JWT ``x5c``).

Trust comes only from ``anchors``; a chain proves that its leaf was issued, link by link, by one
of them. Successful path validations are cached (keyed by leaf and anchor fingerprints), because
the same document-signer certificate arrives with every credential; validity windows are still
checked on every call. No revocation checking (no I/O in this tier).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID

from ssar.errors import CredentialError

_CACHE_SIZE = 1024
# (leaf fp, anchor fp) -> (latest notBefore, earliest notAfter) over the validated path
_cache: OrderedDict[tuple[bytes, bytes], tuple[datetime, datetime]] = OrderedDict()
_cache_lock = threading.Lock()

# Critical extensions this validator either checks or may safely ignore for signing chains.
_KNOWN_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.CERTIFICATE_POLICIES,
    }
)


def _untrusted(detail: str) -> CredentialError:
    return CredentialError(detail, code="untrusted_issuer")


_FINGERPRINTS: dict[int, tuple[x509.Certificate, bytes]] = {}
_ANCHOR_MAPS: dict[int, tuple[Sequence[x509.Certificate], dict[bytes, x509.Certificate]]] = {}


def _fingerprint(cert: x509.Certificate) -> bytes:
    """SHA-256 of the certificate, once per certificate object (keyed by identity: hashing a
    certificate for a dictionary costs as much as a lookup should save)."""
    cached = _FINGERPRINTS.get(id(cert))
    if cached is not None and cached[0] is cert:
        return cached[1]
    fingerprint = cert.fingerprint(hashes.SHA256())
    if len(_FINGERPRINTS) >= 1024:
        _FINGERPRINTS.clear()
    _FINGERPRINTS[id(cert)] = (cert, fingerprint)
    return fingerprint


def _anchor_map(anchors: Sequence[x509.Certificate]) -> dict[bytes, x509.Certificate]:
    """Fingerprint → anchor, once per (immutable) anchors tuple; other sequences each time."""
    if type(anchors) is not tuple:
        return {_fingerprint(a): a for a in anchors}
    cached = _ANCHOR_MAPS.get(id(anchors))
    if cached is not None and cached[0] is anchors:
        return cached[1]
    anchor_map = {_fingerprint(a): a for a in anchors}
    if len(_ANCHOR_MAPS) >= 64:
        _ANCHOR_MAPS.clear()
    _ANCHOR_MAPS[id(anchors)] = (anchors, anchor_map)
    return anchor_map


def _name(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:  # pragma: no cover - undecodable names
        return "<unprintable subject>"


def clear_chain_cache() -> None:
    """Forget every cached path validation (tests, or after the trust configuration changes)."""
    with _cache_lock:
        _cache.clear()


def _check_window(cert: x509.Certificate, now: datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise CredentialError(
            f"certificate {_name(cert)!r} is not valid before "
            f"{cert.not_valid_before_utc.isoformat()}",
            code="not_yet_valid",
        )
    if now > cert.not_valid_after_utc:
        raise CredentialError(
            f"certificate {_name(cert)!r} expired at {cert.not_valid_after_utc.isoformat()}",
            code="expired",
        )


def _check_critical_extensions(cert: x509.Certificate) -> None:
    try:
        extensions = cert.extensions
    except ValueError as exc:
        raise _untrusted(f"certificate {_name(cert)!r} has unparseable extensions: {exc}") from exc
    for ext in extensions:
        if ext.critical and ext.oid not in _KNOWN_CRITICAL:
            raise _untrusted(
                f"certificate {_name(cert)!r} has an unsupported critical extension "
                f"{ext.oid.dotted_string}"
            )


def _check_issuer_role(issuer: x509.Certificate, cas_below: int) -> None:
    """``issuer`` signs another certificate: it must be a CA allowed to sign certificates and
    its pathLenConstraint must admit the ``cas_below`` intermediate CAs under it."""
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise _untrusted(f"issuer {_name(issuer)!r} has no basicConstraints") from exc
    if not constraints.ca:
        raise _untrusted(f"issuer {_name(issuer)!r} is not a CA (basicConstraints cA=false)")
    if constraints.path_length is not None and cas_below > constraints.path_length:
        raise _untrusted(f"issuer {_name(issuer)!r} pathLenConstraint is exceeded")
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise _untrusted(f"issuer {_name(issuer)!r} has no keyUsage") from exc
    if not usage.key_cert_sign:
        raise _untrusted(f"issuer {_name(issuer)!r} keyUsage lacks keyCertSign")


def _check_link(child: x509.Certificate, issuer: x509.Certificate) -> None:
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, x509.UnsupportedGeneralNameType) as exc:
        raise _untrusted(
            f"certificate {_name(child)!r} is not validly signed by {_name(issuer)!r}"
        ) from exc


def _build_path(
    chain: Sequence[x509.Certificate], anchors: dict[bytes, x509.Certificate]
) -> tuple[bytes, tuple[x509.Certificate, ...]]:
    """Find the anchor the chain ends at and validate every link; returns the anchor's
    fingerprint and the path leaf → anchor (the anchor last)."""
    path: list[x509.Certificate] = []
    anchor_fp: bytes | None = None
    for cert in chain:
        fp = _fingerprint(cert)
        if fp in anchors:
            anchor_fp = fp
            path.append(anchors[fp])
            break
        path.append(cert)
    if anchor_fp is None:
        last = path[-1]
        for fp, anchor in anchors.items():
            if anchor.subject == last.issuer:
                try:
                    _check_link(last, anchor)
                except CredentialError:
                    continue
                anchor_fp = fp
                path.append(anchor)
                break
    if anchor_fp is None:
        raise _untrusted(
            f"certificate chain of {_name(chain[0])!r} does not lead to a configured anchor"
        )
    for index, cert in enumerate(path):
        _check_critical_extensions(cert)
        if index == 0:
            continue
        child = path[index - 1]
        _check_issuer_role(cert, cas_below=max(0, index - 1))
        _check_link(child, cert)
    return anchor_fp, tuple(path)


def verify_chain_to_anchor(
    chain: Sequence[x509.Certificate], *, anchors: Sequence[x509.Certificate], now: datetime
) -> tuple[x509.Certificate, x509.Certificate]:
    """Like :func:`verify_chain`, but return ``(leaf, anchor)``."""
    if not chain:
        raise _untrusted("no certificate chain was presented")
    if not anchors:
        raise _untrusted("no trust anchors are configured")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    leaf = chain[0]
    leaf_fp = _fingerprint(leaf)
    anchor_map = _anchor_map(anchors)
    window: tuple[datetime, datetime] | None = None
    anchor_fp = b""
    with _cache_lock:
        for fp in anchor_map:
            window = _cache.get((leaf_fp, fp))
            if window is not None:
                _cache.move_to_end((leaf_fp, fp))
                anchor_fp = fp
                break
    if window is None:
        try:
            anchor_fp, path = _build_path(chain, anchor_map)
        except (ValueError, TypeError) as exc:  # lazily parsed names or keys that are broken
            raise _untrusted(f"certificate chain cannot be processed: {exc}") from exc
        for cert in path:  # the first certificate out of its window names the error
            _check_window(cert, now)
        window = (
            max(c.not_valid_before_utc for c in path),
            min(c.not_valid_after_utc for c in path),
        )
        with _cache_lock:
            _cache[(leaf_fp, anchor_fp)] = window
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    elif not window[0] <= now <= window[1]:
        # rebuild the path only to name the certificate that is out of its window
        try:
            _, path = _build_path(chain, {anchor_fp: anchor_map[anchor_fp]})
        except (CredentialError, ValueError, TypeError):
            path = (chain[0], anchor_map[anchor_fp])
        for cert in path:
            _check_window(cert, now)
        raise CredentialError("certificate chain is outside its validity window", code="expired")
    return leaf, anchor_map[anchor_fp]


def verify_chain(
    chain: Sequence[x509.Certificate], *, anchors: Sequence[x509.Certificate], now: datetime
) -> x509.Certificate:
    """Validate ``chain`` (leaf first, as in ``x5chain``/``x5c``) up to one of ``anchors`` and
    return the leaf.

    The anchor may be the last element of the chain or the issuer of the last element (the
    first element that equals an anchor ends the path). Every issuer must be a CA with
    keyUsage keyCertSign whose signature verifies; every certificate on the path, the anchor
    included, must be valid at ``now``. Raises ``CredentialError`` with ``untrusted_issuer``,
    ``expired`` or ``not_yet_valid``.
    """
    leaf, _ = verify_chain_to_anchor(chain, anchors=anchors, now=now)
    return leaf

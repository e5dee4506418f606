"""Trusted issuers across the verification profiles: what the admin center lists about them,
the checks on the key material an administrator adds, and adding or removing one.

An issuer is trusted by a profile's ``credentials.issuers`` (docs/PROFILES.md). Its key material
is one of:

* ``jwks``: the issuer's public keys, inline;
* ``jwks_uri``: where the issuer publishes them;
* ``x5c``: X.509 trust anchors (an IACA root for mdoc, a CA for x5c-signed SD-JWT VCs);
* a DID: ``did:jwk`` and ``did:key`` carry their key; a ``did:web`` document is fetched once,
  when the issuer is added. Either way the profile stores ``iss: <the DID>`` with the DID's
  assertion keys as its ``jwks`` (kid = the verification method's DID URL), so the verifier
  checks a DID issuer's credentials against keys the administrator saw and pinned, and no
  other DID is trusted by the same entry.

Every check here raises :class:`KeyMaterialRejected` naming the form field at fault, in words an
administrator can act on. Nothing here keeps or logs private key material: a pasted private key
is refused, and the message says which member gave it away, never its value.
"""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from ssar.clock import Clock
from ssar.credentials.did import (
    did_method,
    did_web_url,
    jwk_from_multibase,
    resolve_did_jwk,
    resolve_did_key,
)
from ssar.credentials.jose import public_key_from_jwk
from ssar.errors import CredentialError, NotFound, SsarError, ValidationFailed
from ssar.profiles.models import Profile, TrustedIssuer
from ssar.profiles.service import ProfileService

if TYPE_CHECKING:
    from ssar.registry import Registry

KeySource = Literal["jwks", "jwks_uri", "x5c", "did"]
KEY_SOURCES: tuple[KeySource, ...] = ("jwks", "jwks_uri", "x5c", "did")
SOURCE_LABELS: dict[str, str] = {
    "jwks": "Public keys (JWKS)",
    "jwks_uri": "JWKS URL",
    "x5c": "X.509 trust anchors",
    "did": "Decentralised identifier (DID)",
}
DID_METHODS = ("jwk", "key", "web")
#: private members of a JWK (RFC 7517/7518); ``k`` is a symmetric key's secret
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth")
SIGNING_CURVES = {"EC": ("P-256", "P-384", "P-521"), "OKP": ("Ed25519", "Ed448")}
MAX_KEYS = 20
MAX_ANCHORS = 10
MAX_DID_DOCUMENT_BYTES = 256 * 1024
DID_WEB_TIMEOUT_SECONDS = 5.0
#: the credential types a profile without a credential policy gets with its first issuer
DEFAULT_TYPES = ("urn:ssar:identity:1",)
REFERENCE = "reference"


class KeyMaterialRejected(ValidationFailed):
    """The key material (or the issuer id) cannot be trusted; ``field`` names the form field."""

    code = "invalid_key_material"

    def __init__(self, field: str, detail: str, *, secret: bool = False) -> None:
        """``secret``: the rejected value holds private key material, so a form must not
        echo it back."""
        super().__init__(detail, field=field, code="invalid_key_material")
        self.secret = secret


# --- what the page shows ------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    kid: str | None
    kty: str  # EC | OKP | RSA
    curve: str | None  # P-256, Ed25519, ... ; None for RSA
    bits: int | None  # RSA modulus length
    alg: str | None
    thumbprint: str  # RFC 7638 SHA-256, base64url

    @property
    def description(self) -> str:
        return f"RSA {self.bits}" if self.kty == "RSA" else f"{self.kty} {self.curve}"


@dataclass(frozen=True)
class AnchorInfo:
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER, hex pairs
    is_ca: bool
    expired: bool
    not_yet_valid: bool


@dataclass(frozen=True)
class ProfileRef:
    id: str
    name: str
    mode: str
    provider: str


@dataclass(frozen=True)
class IssuerEntry:
    """One trusted issuer with one set of key material, and the profiles that trust it."""

    iss: str
    source: KeySource
    keys: tuple[KeyInfo, ...] = ()
    jwks_uri: str | None = None
    anchors: tuple[AnchorInfo, ...] = ()
    did_method: str | None = None
    profiles: tuple[ProfileRef, ...] = ()
    builtin: bool = False  # the reference verification service's own issuer
    problems: tuple[str, ...] = ()  # why some key material is unusable (shown as warnings)

    @property
    def source_label(self) -> str:
        if self.did_method:
            return f"DID (did:{self.did_method})"
        return SOURCE_LABELS[self.source]

    @property
    def slug(self) -> str:
        """A stable, URL-safe id for the issuer's detail page."""
        return issuer_slug(self.iss)


def issuer_slug(iss: str) -> str:
    return base64.urlsafe_b64encode(iss.encode()).decode().rstrip("=")


def iss_from_slug(slug: str) -> str:
    try:
        return base64.urlsafe_b64decode(slug + "=" * (-len(slug) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise NotFound("no such issuer", code="issuer_not_found") from None


def key_info(jwk: Mapping[str, Any]) -> KeyInfo:
    """What a public JWK is: type, curve or size, kid and RFC 7638 thumbprint."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns on short keys; the checks refuse them
        key = import_key(dict(jwk))
    kty = str(jwk.get("kty"))
    bits = None
    if kty == "RSA":
        public = public_key_from_jwk(jwk)
        bits = public.key_size if isinstance(public, rsa.RSAPublicKey) else None
    kid = jwk.get("kid")
    alg = jwk.get("alg")
    return KeyInfo(
        kid=kid if isinstance(kid, str) else None,
        kty=kty,
        curve=str(jwk["crv"]) if kty in ("EC", "OKP") else None,
        bits=bits,
        alg=alg if isinstance(alg, str) else None,
        thumbprint=key.thumbprint(),
    )


def anchor_info(certificate: x509.Certificate, *, now: datetime) -> AnchorInfo:
    der = certificate.public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).hexdigest().upper()
    return AnchorInfo(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        is_ca=_is_ca(certificate),
        expired=certificate.not_valid_after_utc < now,
        not_yet_valid=certificate.not_valid_before_utc > now,
    )


def describe(issuer: TrustedIssuer, *, now: datetime) -> IssuerEntry:
    """An issuer of a profile as the trust page shows it (never raises: stored material that
    no longer parses is reported in ``problems``)."""
    problems: list[str] = []
    method = _did_method_of(issuer.iss)
    if issuer.jwks is not None:
        keys: list[KeyInfo] = []
        raw = issuer.jwks.get("keys")
        for index, jwk in enumerate(raw if isinstance(raw, list) else []):
            try:
                keys.append(key_info(jwk))
            except (
                CredentialError,
                JoseError,
                ValueError,
                KeyError,
                TypeError,
                AttributeError,
            ) as exc:
                problems.append(f"key {index + 1} cannot be read: {exc}")
        return IssuerEntry(
            iss=issuer.iss,
            source="did" if method else "jwks",
            keys=tuple(keys),
            did_method=method,
            problems=tuple(problems),
        )
    if issuer.jwks_uri is not None:
        return IssuerEntry(
            iss=issuer.iss,
            source="jwks_uri",
            jwks_uri=issuer.jwks_uri,
        )
    anchors: list[AnchorInfo] = []
    for index, pem in enumerate(issuer.x5c):
        try:
            anchors.append(anchor_info(x509.load_pem_x509_certificate(pem.encode()), now=now))
        except ValueError:
            problems.append(f"anchor {index + 1} is not a readable certificate")
    for anchor in anchors:
        if anchor.expired:
            problems.append(f"The anchor {anchor.subject} expired on {anchor.not_after:%Y-%m-%d}.")
    return IssuerEntry(
        iss=issuer.iss, source="x5c", anchors=tuple(anchors), problems=tuple(problems)
    )


def _did_method_of(iss: str) -> str | None:
    if not iss.startswith("did:"):
        return None
    try:
        return did_method(iss)
    except CredentialError:
        return None


def _material_key(issuer: TrustedIssuer) -> str:
    """Issuers with the same id and the same key material are one row of the trust page."""
    material = {"jwks": issuer.jwks, "jwks_uri": issuer.jwks_uri, "x5c": list(issuer.x5c)}
    return issuer.iss + "\n" + json.dumps(material, sort_keys=True, default=str)


def list_issuers(
    profiles: Iterable[Profile],
    *,
    now: datetime,
    reference: Mapping[str, Any] | None = None,
) -> list[IssuerEntry]:
    """Every trusted issuer across ``profiles``, once per (issuer id, key material), with the
    profiles that trust it, sorted by issuer id. ``reference``: the built-in reference
    verification service's issuer (``{"iss", "jwks"}``), trusted by every profile with the
    ``reference`` provider."""
    grouped: dict[str, tuple[TrustedIssuer, list[ProfileRef]]] = {}
    users_of_reference: list[ProfileRef] = []
    for profile in profiles:
        ref = ProfileRef(profile.id, profile.name, profile.mode, profile.provider)
        if profile.provider_type == REFERENCE:
            users_of_reference.append(ref)
        if profile.credentials is None:
            continue
        for issuer in profile.credentials.issuers:
            entry = grouped.setdefault(_material_key(issuer), (issuer, []))
            entry[1].append(ref)
    entries = [_with_profiles(describe(issuer, now=now), refs) for issuer, refs in grouped.values()]
    if reference is not None:
        builtin = describe(TrustedIssuer(iss=reference["iss"], jwks=reference["jwks"]), now=now)
        entries.append(_with_profiles(builtin, users_of_reference, builtin=True))
    return sorted(entries, key=lambda e: (e.iss.casefold(), e.builtin))


def _with_profiles(
    entry: IssuerEntry, refs: Sequence[ProfileRef], *, builtin: bool = False
) -> IssuerEntry:
    return IssuerEntry(
        iss=entry.iss,
        source=entry.source,
        keys=entry.keys,
        jwks_uri=entry.jwks_uri,
        anchors=entry.anchors,
        did_method=entry.did_method,
        profiles=tuple(refs),
        builtin=builtin,
        problems=entry.problems,
    )


@dataclass(frozen=True)
class IssuerCounts:
    issuers: int  # distinct issuer ids the profiles name (the built-in one not counted)
    profiles: int  # profiles that name at least one issuer
    warnings: int  # rows with unusable or expired key material
    split: frozenset[str]  # issuer ids whose key material differs between profiles


def issuer_counts(entries: Sequence[IssuerEntry]) -> IssuerCounts:
    configured = [e for e in entries if not e.builtin]
    ids = [e.iss for e in configured]
    return IssuerCounts(
        issuers=len(set(ids)),
        profiles=len({p.id for e in configured for p in e.profiles}),
        warnings=sum(1 for e in entries if e.problems),
        split=frozenset(i for i in ids if ids.count(i) > 1),
    )


# --- checking key material ----------------------------------------------------------------


def check_jwk(jwk: Any, *, where: str, field: str = "jwks") -> dict[str, Any]:
    """A public signing JWK, or :class:`KeyMaterialRejected` saying what is wrong with it."""
    if not isinstance(jwk, dict):
        raise KeyMaterialRejected(field, f"{where} is not a JSON object")
    kty = jwk.get("kty")
    if kty == "oct" or "k" in jwk:
        raise KeyMaterialRejected(
            field,
            f"{where} is a symmetric key (kty oct): an issuer signs with a private key and "
            "publishes the public one, so only EC, OKP or RSA public keys can be trusted",
            secret=True,
        )
    private = [m for m in PRIVATE_MEMBERS if m in jwk]
    if private:
        raise KeyMaterialRejected(
            field,
            f"{where} is a private key (it has {', '.join(repr(m) for m in private)}). Never paste "
            "an issuer's private key here; paste its public key only, and if the private key "
            "left its owner, have it replaced",
            secret=True,
        )
    if kty not in SIGNING_CURVES and kty != "RSA":
        raise KeyMaterialRejected(
            field, f"{where} has key type {kty!r}; use an EC, OKP or RSA public key"
        )
    curve = jwk.get("crv")
    if kty in SIGNING_CURVES and curve not in SIGNING_CURVES[kty]:
        raise KeyMaterialRejected(
            field,
            f"{where} uses curve {curve!r}, which cannot verify credentials here; supported: "
            + ", ".join(SIGNING_CURVES[kty]),
        )
    if jwk.get("use", "sig") != "sig":
        raise KeyMaterialRejected(
            field, f"{where} is marked use {jwk.get('use')!r}; an issuer key must be for 'sig'"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import_key(jwk)
        public_key_from_jwk(jwk)
    except CredentialError as exc:
        raise KeyMaterialRejected(field, f"{where}: {exc.detail}") from None
    except (JoseError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyMaterialRejected(field, f"{where} is not a valid public key ({exc})") from None
    return jwk


def check_jwks(text: str) -> dict[str, Any]:
    """A pasted JWKS (``{"keys": [...]}``, or one JWK) as a JWKS of public signing keys."""
    text = text.strip()
    if not text:
        raise KeyMaterialRejected("jwks", "paste the issuer's public keys as a JWKS")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyMaterialRejected(
            "jwks", f"this is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return check_jwks_document(document)


def check_jwks_document(document: Any) -> dict[str, Any]:
    if isinstance(document, dict) and "keys" not in document and "kty" in document:
        document = {"keys": [document]}  # one JWK on its own
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise KeyMaterialRejected("jwks", 'a JWKS is {"keys": [...]} with at least one key')
    if len(keys) > MAX_KEYS:
        raise KeyMaterialRejected("jwks", f"at most {MAX_KEYS} keys, got {len(keys)}")
    checked = [check_jwk(k, where=_key_name(i, k), field="jwks") for i, k in enumerate(keys)]
    kids = [k["kid"] for k in checked if "kid" in k]
    twice = sorted({k for k in kids if kids.count(k) > 1})
    if twice:
        raise KeyMaterialRejected("jwks", f"kid {', '.join(map(str, twice))} is used twice")
    return {"keys": checked}


def _key_name(index: int, jwk: Any) -> str:
    kid = jwk.get("kid") if isinstance(jwk, dict) else None
    return f"key {index + 1}" + (f" ({kid})" if isinstance(kid, str) else "")


def check_jwks_uri(url: str) -> str:
    """An https URL with a host (what the profile schema accepts for ``jwks_uri``)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if not url:
        raise KeyMaterialRejected("jwks_uri", "enter the URL where the issuer publishes its JWKS")
    raise KeyMaterialRejected("jwks_uri", "the JWKS URL must be an https URL")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_anchors(text: str, *, now: datetime) -> list[str]:
    """Pasted PEM certificates as trust anchors: each a CA certificate (basicConstraints CA,
    keyCertSign when key usage is given), valid now, with a key the verifier supports."""
    if "PRIVATE KEY-----" in text:
        raise KeyMaterialRejected(
            "x5c",
            "this holds a private key. Paste only the CA certificate(s) "
            "(-----BEGIN CERTIFICATE-----), never a private key",
            secret=True,
        )
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise KeyMaterialRejected(
            "x5c", "paste one or more PEM certificates (-----BEGIN CERTIFICATE----- …)"
        )
    try:
        certificates = x509.load_pem_x509_certificates(text.strip().encode())
    except ValueError:
        raise KeyMaterialRejected(
            "x5c", "a certificate could not be read (is the PEM complete?)"
        ) from None
    if len(certificates) > MAX_ANCHORS:
        raise KeyMaterialRejected("x5c", f"at most {MAX_ANCHORS} anchors, got {len(certificates)}")
    pems: list[str] = []
    seen: set[str] = set()
    for certificate in certificates:
        info = anchor_info(certificate, now=now)
        name = info.subject or "(no subject)"
        if not info.is_ca:
            raise KeyMaterialRejected(
                "x5c",
                f"{name} is not a CA certificate (basicConstraints CA is not set). A trust "
                "anchor is the issuing authority's root, such as an IACA certificate for mdoc, "
                "not a document signer or end-entity certificate",
            )
        try:
            usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is not None and not usage.key_cert_sign:
            raise KeyMaterialRejected(
                "x5c", f"{name} may not sign certificates (key usage lacks keyCertSign)"
            )
        if info.expired:
            raise KeyMaterialRejected(
                "x5c",
                f"{name} expired on {info.not_after:%Y-%m-%d}; ask the issuer for its current root",
            )
        if info.not_yet_valid:
            raise KeyMaterialRejected(
                "x5c", f"{name} is not valid before {info.not_before:%Y-%m-%d}"
            )
        key = certificate.public_key()
        supported = isinstance(
            key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
        ) or (isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048)
        if not supported:
            raise KeyMaterialRejected("x5c", f"{name} has a key type the verifier does not support")
        if info.fingerprint in seen:
            continue
        seen.add(info.fingerprint)
        pems.append(certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"))
    return pems


def check_did(did: str, *, http: httpx.Client | None = None) -> dict[str, Any]:
    """The assertion keys of a DID as a JWKS (kid = the verification method's DID URL).

    ``did:jwk`` and ``did:key`` carry their key; ``did:web`` is fetched through ``http``."""
    did = did.strip()
    try:
        method = did_method(did)
    except CredentialError:
        raise KeyMaterialRejected(
            "did", "this is not a DID (did:jwk:…, did:key:… or did:web:…)"
        ) from None
    if method not in DID_METHODS:
        raise KeyMaterialRejected(
            "did", f"did:{method} is not supported; use did:jwk, did:key or did:web"
        )
    if method == "jwk":
        return _did_jwk_keys(did)
    if method == "key":
        try:
            document = resolve_did_key(did)
        except CredentialError as exc:
            raise KeyMaterialRejected("did", f"this did:key cannot be read: {exc.detail}") from None
        return _assertion_jwks(document, did=did)
    if http is None:
        raise KeyMaterialRejected("did", "did:web cannot be resolved here")
    return _assertion_jwks(_fetch_did_web(did, http=http), did=did)


def _did_jwk_keys(did: str) -> dict[str, Any]:
    from ssar.credentials.jose import b64url_decode, loads_json_object

    try:  # look at the key first, so a private or symmetric key gets the precise message
        jwk = loads_json_object(b64url_decode(did.split(":", 2)[2], what="did:jwk"), what="key")
    except CredentialError:
        raise KeyMaterialRejected(
            "did", "this did:jwk does not hold a JWK (the part after did:jwk: is base64url JSON)"
        ) from None
    check_jwk(jwk, where="the did:jwk key", field="did")
    try:
        document = resolve_did_jwk(did)
    except CredentialError as exc:
        raise KeyMaterialRejected("did", f"this did:jwk cannot be read: {exc.detail}") from None
    return _assertion_jwks(document, did=did)


def _fetch_did_web(did: str, *, http: httpx.Client) -> dict[str, Any]:
    try:
        url = did_web_url(did)
    except CredentialError as exc:
        raise KeyMaterialRejected("did", f"this did:web is not valid: {exc.detail}") from None
    try:
        response = http.get(
            url,
            headers={"Accept": "application/did+json, application/json"},
            timeout=httpx.Timeout(DID_WEB_TIMEOUT_SECONDS),
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise KeyMaterialRejected(
            "did", f"{url} could not be fetched ({type(exc).__name__})"
        ) from None
    if response.status_code != 200:
        raise KeyMaterialRejected("did", f"{url} answered HTTP {response.status_code}")
    if len(response.content) > MAX_DID_DOCUMENT_BYTES:
        raise KeyMaterialRejected("did", f"the DID document at {url} is too large")
    try:
        document = json.loads(response.content)
    except ValueError:
        raise KeyMaterialRejected("did", f"{url} did not answer with JSON") from None
    if not isinstance(document, dict) or document.get("id") != did:
        raise KeyMaterialRejected("did", f"the DID document at {url} is not the document of {did}")
    return document


def _assertion_jwks(document: Mapping[str, Any], *, did: str) -> dict[str, Any]:
    """The public keys the DID document lists under ``assertionMethod`` (the keys that may sign
    credentials), each with ``kid`` = its absolute DID URL."""

    def absolute(ref: str) -> str:
        return f"{did}{ref}" if ref.startswith("#") else ref

    methods = {
        absolute(m["id"]): m
        for m in document.get("verificationMethod") or []
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    }
    keys: list[dict[str, Any]] = []
    for item in document.get("assertionMethod") or []:
        method = methods.get(absolute(item)) if isinstance(item, str) else item
        if not isinstance(method, dict) or not isinstance(method.get("id"), str):
            continue
        kid = absolute(method["id"])
        if not kid.startswith(did + "#"):
            continue
        if isinstance(method.get("publicKeyJwk"), dict):
            jwk = dict(method["publicKeyJwk"])
        elif isinstance(method.get("publicKeyMultibase"), str):
            try:
                jwk = jwk_from_multibase(method["publicKeyMultibase"])
            except CredentialError as exc:
                raise KeyMaterialRejected("did", f"{kid}: {exc.detail}") from None
        else:
            continue
        jwk.pop("use", None)
        jwk.pop("key_ops", None)
        jwk["kid"] = kid
        keys.append(check_jwk(jwk, where=kid, field="did"))
    if not keys:
        raise KeyMaterialRejected(
            "did",
            f"the DID document of {did} lists no key that may sign credentials (assertionMethod)",
        )
    return {"keys": keys[:MAX_KEYS]}


def check_iss(iss: str) -> str:
    iss = iss.strip()
    if not iss:
        raise KeyMaterialRejected("iss", "enter the issuer identifier (the iss of its credentials)")
    if len(iss) > 512 or any(c.isspace() for c in iss):
        raise KeyMaterialRejected(
            "iss", "an issuer identifier is one word of at most 512 characters"
        )
    return iss


@dataclass(frozen=True)
class NewIssuer:
    """What an administrator asks to trust: raw form or API values, checked by :func:`build`."""

    profile: str
    iss: str = ""
    source: str = "jwks"
    jwks: str = ""
    jwks_uri: str = ""
    x5c: str = ""
    did: str = ""


def build_entry(request: NewIssuer, *, now: datetime, http: httpx.Client | None) -> dict[str, Any]:
    """The ``credentials.issuers`` entry a request stands for, every check passed."""
    if request.source not in KEY_SOURCES:
        raise KeyMaterialRejected("source", "choose JWKS, JWKS URL, certificates or a DID")
    if request.source == "did":
        did = request.did.strip()
        jwks = check_did(did, http=http)
        iss = request.iss.strip()
        if iss and iss != did:
            raise KeyMaterialRejected(
                "iss", "a DID issuer's identifier is the DID itself; leave this empty or repeat it"
            )
        return {"iss": did, "jwks": jwks}
    iss = check_iss(request.iss)
    if iss.startswith("did:"):
        raise KeyMaterialRejected(
            "iss", "for a DID issuer choose “Decentralised identifier” as the key material"
        )
    if request.source == "jwks":
        return {"iss": iss, "jwks": check_jwks(request.jwks)}
    if request.source == "jwks_uri":
        return {"iss": iss, "jwks_uri": check_jwks_uri(request.jwks_uri)}
    return {"iss": iss, "x5c": check_anchors(request.x5c, now=now)}


# --- changing a profile's issuers ---------------------------------------------------------


def find_profile(profiles: Iterable[Profile], ref: str) -> Profile:
    """A profile by id or by name (names compare case-insensitively)."""
    key = " ".join(ref.split()).casefold()
    for profile in profiles:
        if profile.id == ref or profile.name.casefold() == key:
            return profile
    raise NotFound(f"no profile {ref!r}", code="profile_not_found")


def _stored(issuer: TrustedIssuer) -> dict[str, Any]:
    entry: dict[str, Any] = {"iss": issuer.iss}
    if issuer.jwks is not None:
        entry["jwks"] = dict(issuer.jwks)
    if issuer.jwks_uri is not None:
        entry["jwks_uri"] = issuer.jwks_uri
    if issuer.x5c:
        entry["x5c"] = list(issuer.x5c)
    return entry


def _event_data(profile: Profile, entry: Mapping[str, Any], *, now: datetime) -> dict[str, Any]:
    """What the audit log keeps about an issuer: its id, the kind of key material and key
    fingerprints (never the material itself)."""
    issuer = TrustedIssuer(
        iss=entry["iss"],
        jwks=entry.get("jwks"),
        jwks_uri=entry.get("jwks_uri"),
        x5c=tuple(entry.get("x5c") or ()),
    )
    described = describe(issuer, now=now)
    data: dict[str, Any] = {
        "profile": profile.name,
        "iss": described.iss,
        "source": described.source,
    }
    if described.keys:
        data["thumbprints"] = [k.thumbprint for k in described.keys]
    if described.anchors:
        data["anchors"] = [a.fingerprint for a in described.anchors]
    if described.jwks_uri:
        data["jwks_uri"] = described.jwks_uri
    return data


class TrustService:
    """Adds and removes trusted issuers on profiles (audited ``trust.issuer_added`` and
    ``trust.issuer_removed``, next to the ``profile.updated`` the change also records)."""

    def __init__(
        self,
        *,
        profiles: ProfileService,
        clock: Clock,
        http: httpx.Client | None = None,
        reference: Any = None,
    ) -> None:
        """``reference``: a callable returning the built-in reference issuer ``{iss, jwks}``."""
        self._profiles = profiles
        self._clock = clock
        self._http = http
        self._reference = reference

    def issuers(self) -> list[IssuerEntry]:
        reference = None
        if self._reference is not None:
            try:
                reference = self._reference()
            except SsarError:
                reference = None
        return list_issuers(self._profiles.list(), now=self._clock.now(), reference=reference)

    def targets(self) -> list[Profile]:
        """Profiles an issuer can be added to (the oidc_ida provider takes no credentials)."""
        return [p for p in self._profiles.list() if p.provider_type != "oidc_ida"]

    def add(self, request: NewIssuer, *, actor: str) -> IssuerEntry:
        now = self._clock.now()
        if not request.profile.strip():
            raise KeyMaterialRejected("profile", "choose the profile that should trust the issuer")
        try:
            profile = find_profile(self._profiles.list(), request.profile)
        except NotFound:
            raise KeyMaterialRejected("profile", "choose an existing profile") from None
        if profile.provider_type == "oidc_ida":
            raise KeyMaterialRejected(
                "profile",
                f"profile {profile.name!r} uses an OpenID provider ({profile.provider}), which "
                "trusts its provider, not credential issuers",
            )
        entry = build_entry(request, now=now, http=self._http)
        current = [_stored(i) for i in (profile.credentials.issuers if profile.credentials else ())]
        if any(i["iss"] == entry["iss"] for i in current):
            raise KeyMaterialRejected(
                "iss",
                f"profile {profile.name!r} already trusts {entry['iss']}; remove it first to "
                "replace its keys",
            )
        updated = self._profiles.set_issuers(
            profile.name,
            [*current, entry],
            default_types=DEFAULT_TYPES,
            actor=actor,
            event=("trust.issuer_added", _event_data(profile, entry, now=now)),
        )
        ref = ProfileRef(updated.id, updated.name, updated.mode, updated.provider)
        return _with_profiles(describe(_as_issuer(entry), now=now), [ref])

    def remove(self, *, profile: str, iss: str, actor: str) -> Profile:
        target = find_profile(self._profiles.list(), profile)
        current = [_stored(i) for i in (target.credentials.issuers if target.credentials else ())]
        removed = [i for i in current if i["iss"] == iss]
        if not removed:
            raise NotFound(
                f"profile {target.name!r} does not trust {iss!r}", code="issuer_not_found"
            )
        kept = [i for i in current if i["iss"] != iss]
        if not kept and target.provider_type == "openid4vp":
            raise ValidationFailed(
                f"{iss} is the only issuer profile {target.name!r} trusts; a wallet-credential "
                "profile needs at least one. Add the replacement issuer first, then remove this one",
                code="last_issuer",
            )
        return self._profiles.set_issuers(
            target.name,
            kept,
            default_types=DEFAULT_TYPES,
            actor=actor,
            event=(
                "trust.issuer_removed",
                _event_data(target, removed[0], now=self._clock.now()),
            ),
        )


def _as_issuer(entry: Mapping[str, Any]) -> TrustedIssuer:
    return TrustedIssuer(
        iss=entry["iss"],
        jwks=entry.get("jwks"),
        jwks_uri=entry.get("jwks_uri"),
        x5c=tuple(entry.get("x5c") or ()),
    )


def trust_service(registry: Registry) -> TrustService:
    """The service over a registry: its profiles, clock and HTTP client (for did:web), and the
    reference verification service's issuer."""
    return TrustService(
        profiles=registry.profiles,
        clock=registry.clock,
        http=registry.http,
        reference=lambda: {
            "iss": registry.idv_issuance.issuer_id,
            "jwks": registry.idv_issuance.jwks(),
        },
    )

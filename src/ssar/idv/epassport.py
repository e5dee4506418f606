"""Passive authentication of ePassport chip files (EF.SOD, DG1, DG2) as an NFC reader app exports
them: ICAO Doc 9303 Part 10 (LDS), Part 11 §5.1 (passive authentication), Part 12 (PKI).

The checks run in the order of Part 11 §5.1 — the signer's signature over the security object,
the Document Signer certificate up to a configured CSCA, then every data group's hash — before
DG1 (the MRZ) and DG2 (the portrait) are read. Every failure is a :class:`DocumentError` with a
stable code; nothing else escapes (R19).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from asn1crypto import algos, cms, core  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ssar.credentials.x509chain import verify_chain_to_anchor
from ssar.errors import ConfigurationError, CredentialError
from ssar.idv.errors import DocumentError
from ssar.idv.mrz import MrzData, parse_mrz

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"  # id-icao-mrtd-security-ldsSecurityObject
SOD_TAG = 0x77
DG1_TAG = 0x61
DG2_TAG = 0x75
MAX_SOD_BYTES = 256 * 1024
MAX_DG_BYTES = 4 * 1024 * 1024
MAX_PORTRAIT_PIXELS = 16_000_000
MIN_RSA_BITS = 2048

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_HASH_OIDS = {
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
# signature algorithm OID -> (scheme, hash or None: the SignerInfo's digest algorithm)
_SIGNATURE_OIDS: dict[str, tuple[str, str | None]] = {
    "1.2.840.10045.4.3.1": ("ecdsa", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa", "sha512"),
    "1.2.840.10045.2.1": ("ecdsa", None),  # id-ecPublicKey, seen in the field as a signature OID
    "1.2.840.113549.1.1.14": ("pkcs1v15", "sha224"),
    "1.2.840.113549.1.1.11": ("pkcs1v15", "sha256"),
    "1.2.840.113549.1.1.12": ("pkcs1v15", "sha384"),
    "1.2.840.113549.1.1.13": ("pkcs1v15", "sha512"),
    "1.2.840.113549.1.1.1": ("pkcs1v15", None),  # rsaEncryption
    "1.2.840.113549.1.1.10": ("pss", None),
}
_CURVES = (
    ec.SECP256R1,
    ec.SECP384R1,
    ec.SECP521R1,
    ec.BrainpoolP256R1,
    ec.BrainpoolP384R1,
    ec.BrainpoolP512R1,
)
_JPEG_MAGIC = b"\xff\xd8\xff"
_JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_MAGIC = b"\xff\x4f\xff\x51"


# --- ASN.1 of the LDS security object (Part 10 §4.6.2.3) -------------------------------------


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LDSVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LDSSecurityObject(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LDSVersionInfo, {"optional": True}),
    ]


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecurityObject:
    """EF.SOD taken apart (nothing in it verified yet)."""

    certificates: tuple[bytes, ...]  # DER, as carried in SignedData.certificates
    signer_issuer: bytes | None  # DER Name of issuerAndSerialNumber
    signer_serial: int | None
    signer_key_id: bytes | None  # subjectKeyIdentifier choice
    digest_algorithm: str
    signature_scheme: str  # "ecdsa", "pkcs1v15", "pss"
    signature_hash: str
    pss_salt_length: int
    signed_attributes: bytes  # DER SET OF Attribute, the signed bytes
    content_type_attribute: str
    message_digest_attribute: bytes
    signature: bytes
    econtent: bytes
    lds_version: int
    hash_algorithm: str
    data_group_hashes: Mapping[int, bytes]


@dataclass(frozen=True, slots=True)
class Portrait:
    jpeg: bytes
    source_format: Literal["jpeg", "jpeg2000"]
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class PassportEvidence:
    """Chip data that passed passive authentication. ``strength`` is the evidence strength of
    NIST SP 800-63A for an ePassport whose chip signature was verified."""

    mrz: MrzData
    portrait_jpeg: bytes
    portrait_source_format: Literal["jpeg", "jpeg2000"]
    ds_subject: str
    csca_subject: str
    hash_algorithm: str
    signature_algorithm: str
    data_groups: tuple[int, ...]
    strength: Literal["SUPERIOR"] = "SUPERIOR"


# --- helpers -------------------------------------------------------------------------------


def _sod_error(detail: str) -> DocumentError:
    return DocumentError(f"EF.SOD: {detail}", code="sod_malformed")


@contextmanager
def _asn1_errors(code: str, what: str) -> Iterator[None]:
    """asn1crypto parses lazily and reports broken input with several built-in exception types;
    inside this block they all become one typed error."""
    try:
        yield
    except DocumentError:
        raise
    except (ValueError, TypeError, LookupError, AttributeError, OverflowError) as exc:
        raise DocumentError(
            f"{what} cannot be parsed: {exc.__class__.__name__}", code=code
        ) from exc


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """One BER-TLV (Doc 9303 Part 10 §3.4, definite lengths only) at ``offset``: returns
    ``(tag, value_start, value_end)``; raises ``ValueError`` when it does not fit ``data``."""
    end = len(data)
    if offset >= end:
        raise ValueError("no tag")
    tag = data[offset]
    offset += 1
    if tag & 0x1F == 0x1F:
        for _ in range(2):
            if offset >= end:
                raise ValueError("truncated tag")
            tag = (tag << 8) | data[offset]
            offset += 1
            if not tag & 0x80:
                break
        else:
            raise ValueError("tag longer than three bytes")
    if offset >= end:
        raise ValueError("no length")
    first = data[offset]
    offset += 1
    if first < 0x80:
        length = first
    elif first == 0x80 or first > 0x84:
        raise ValueError("indefinite or oversized length")
    else:
        count = first & 0x7F
        if offset + count > end:
            raise ValueError("truncated length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > end:
        raise ValueError("value longer than the data")
    return tag, offset, offset + length


def _children(data: bytes) -> list[tuple[int, bytes]]:
    """The TLVs that exactly fill ``data``."""
    items: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        tag, start, stop = read_tlv(data, offset)
        items.append((tag, data[start:stop]))
        offset = stop
    return items


def _unwrap(data: bytes, tag: int) -> bytes:
    found, start, stop = read_tlv(data)
    if found != tag:
        raise ValueError(f"tag {found:#x} instead of {tag:#x}")
    if stop != len(data):
        raise ValueError("bytes after the data")
    return data[start:stop]


def _hash_name(algorithm: object) -> str:
    """Allow-listed hash name of a DigestAlgorithm (absent or NULL parameters only)."""
    assert isinstance(algorithm, algos.DigestAlgorithm)
    name = _HASH_OIDS.get(algorithm["algorithm"].dotted)
    if name is None:
        raise _sod_error(f"hash algorithm {algorithm['algorithm'].dotted} is not supported")
    if algorithm["parameters"].native is not None:
        raise _sod_error("hash algorithm parameters must be absent or NULL")
    return name


# --- EF.SOD --------------------------------------------------------------------------------


def parse_sod(sod: bytes) -> SecurityObject:
    """Take EF.SOD apart: tag 0x77 around a CMS ContentInfo of SignedData whose eContent is an
    LDSSecurityObject (Part 10 §4.6.2). Raises ``DocumentError`` (``sod_malformed``)."""
    if not isinstance(sod, bytes | bytearray) or not sod:
        raise _sod_error("no data")
    if len(sod) > MAX_SOD_BYTES:
        raise _sod_error(f"larger than {MAX_SOD_BYTES} bytes")
    sod = bytes(sod)
    try:
        content = _unwrap(sod, SOD_TAG) if sod[0] == SOD_TAG else sod
    except ValueError as exc:
        raise _sod_error(f"the 0x77 wrapper is broken ({exc})") from exc
    with _asn1_errors("sod_malformed", "EF.SOD"):
        info = cms.ContentInfo.load(content, strict=True)
        if info["content_type"].native != "signed_data":
            raise _sod_error("the content is not CMS SignedData")
        signed = info["content"]
        if signed["version"].native != "v3":
            raise _sod_error("SignedData version is not v3")
        encap = signed["encap_content_info"]
        econtent_type = encap["content_type"].dotted
        if econtent_type != LDS_SECURITY_OBJECT_OID:
            raise _sod_error("the signed content is not an LDS security object")
        if encap["content"].native is None:
            raise _sod_error("the LDS security object is not included")
        econtent = bytes(encap["content"])
        certificates = tuple(
            choice.chosen.dump()
            for choice in (signed["certificates"] or [])
            if choice.name == "certificate"
        )
        signer_infos = signed["signer_infos"]
        if len(signer_infos) != 1:
            raise _sod_error("exactly one SignerInfo is expected")
        signer = signer_infos[0]
        sid = signer["sid"]
        signer_issuer: bytes | None = None
        signer_serial: int | None = None
        signer_key_id: bytes | None = None
        expected_version = "v1" if sid.name == "issuer_and_serial_number" else "v3"
        if signer["version"].native != expected_version:  # RFC 5652 §5.3
            raise _sod_error("SignerInfo version does not fit its signer identifier")
        if sid.name == "issuer_and_serial_number":
            signer_issuer = sid.chosen["issuer"].dump()
            signer_serial = int(sid.chosen["serial_number"].native)
        else:
            signer_key_id = bytes(sid.chosen.native)
        digest_algorithm = _hash_name(signer["digest_algorithm"])
        scheme, signature_hash, salt = _signature_algorithm(
            signer["signature_algorithm"], digest_algorithm
        )
        attributes = signer["signed_attrs"]
        if not attributes:
            raise _sod_error("the SignerInfo has no signed attributes")
        content_type_attribute, message_digest = _signed_attribute_values(attributes)
        # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF (tag 0x31),
        # not their [0] IMPLICIT encoding inside the SignerInfo
        encoded = attributes.dump()
        signed_attributes = b"\x31" + encoded[1:]
        signature = bytes(signer["signature"].native)
        lds = LDSSecurityObject.load(econtent, strict=True)
        version = int(lds["version"].native)
        if version not in (0, 1):
            raise _sod_error(f"LDSSecurityObject version {version} is not supported")
        if version == 1 and lds["lds_version_info"].native is None:
            raise _sod_error("LDSSecurityObject v1 without ldsVersionInfo")
        hash_algorithm = _hash_name(lds["hash_algorithm"])
        digest_size = _HASHES[hash_algorithm]().digest_size
        data_group_hashes: dict[int, bytes] = {}
        for item in lds["data_group_hash_values"]:
            number = int(item["data_group_number"].native)
            value = bytes(item["data_group_hash_value"].native)
            if not 1 <= number <= 16 or number in data_group_hashes:
                raise _sod_error(f"data group number {number} is invalid or repeated")
            if len(value) != digest_size:
                raise _sod_error(f"the hash of DG{number} has the wrong length")
            data_group_hashes[number] = value
        if not data_group_hashes:
            raise _sod_error("the security object lists no data group")
    return SecurityObject(
        certificates=certificates,
        signer_issuer=signer_issuer,
        signer_serial=signer_serial,
        signer_key_id=signer_key_id,
        digest_algorithm=digest_algorithm,
        signature_scheme=scheme,
        signature_hash=signature_hash,
        pss_salt_length=salt,
        signed_attributes=signed_attributes,
        content_type_attribute=content_type_attribute,
        message_digest_attribute=message_digest,
        signature=signature,
        econtent=econtent,
        lds_version=version,
        hash_algorithm=hash_algorithm,
        data_group_hashes=data_group_hashes,
    )


def _signature_algorithm(algorithm: object, digest_algorithm: str) -> tuple[str, str, int]:
    assert isinstance(algorithm, algos.SignedDigestAlgorithm)
    oid = algorithm["algorithm"].dotted
    known = _SIGNATURE_OIDS.get(oid)
    if known is None:
        raise _sod_error(f"signature algorithm {oid} is not supported")
    scheme, hash_name = known
    if scheme != "pss":
        return scheme, hash_name or digest_algorithm, 0
    params = algorithm["parameters"]
    if not isinstance(params, algos.RSASSAPSSParams):
        raise _sod_error("RSASSA-PSS without parameters")
    hash_name = _hash_name(params["hash_algorithm"])
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].native != "mgf1" or _hash_name(mgf["parameters"]) != hash_name:
        raise _sod_error("RSASSA-PSS must use MGF1 with the signature's hash")
    if params["trailer_field"].native != "trailer_field_bc":
        raise _sod_error("RSASSA-PSS trailer field is not 1")
    salt = int(params["salt_length"].native)
    if not 0 <= salt <= 1024:
        raise _sod_error("RSASSA-PSS salt length is out of range")
    return scheme, hash_name, salt


def _signed_attribute_values(attributes: object) -> tuple[str, bytes]:
    """The content-type and message-digest attributes, each exactly once with one value."""
    assert isinstance(attributes, cms.CMSAttributes)
    content_type: str | None = None
    message_digest: bytes | None = None
    seen: set[str] = set()
    for attribute in attributes:
        kind = attribute["type"].dotted
        if kind in seen:
            raise _sod_error(f"signed attribute {kind} appears twice")
        seen.add(kind)
        values = attribute["values"]
        if kind == "1.2.840.113549.1.9.3":  # content-type
            if len(values) != 1:
                raise _sod_error("content-type attribute must have one value")
            content_type = values[0].dotted
        elif kind == "1.2.840.113549.1.9.4":  # message-digest
            if len(values) != 1:
                raise _sod_error("message-digest attribute must have one value")
            message_digest = bytes(values[0].native)
    if content_type is None or message_digest is None:
        raise _sod_error("signed attributes lack content-type or message-digest")
    return content_type, message_digest


# --- signer, signature, certificate path --------------------------------------------------


def _signer_certificate(sod: SecurityObject) -> x509.Certificate:
    """The Document Signer certificate the SignerInfo names, from SignedData.certificates."""
    if not sod.certificates:
        raise _sod_error("the Document Signer certificate is not included")
    for der in sod.certificates:
        try:
            cert = x509.load_der_x509_certificate(der)
            # every lazily parsed part the later checks read, so they fail here and typed
            _ = (cert.issuer, cert.subject, cert.serial_number, cert.extensions)
            _ = (cert.not_valid_before_utc, cert.not_valid_after_utc, cert.public_key())
            if sod.signer_key_id is not None:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
                matches = ski.value.digest == sod.signer_key_id
            else:
                matches = (
                    cert.issuer.public_bytes() == sod.signer_issuer
                    and cert.serial_number == sod.signer_serial
                )
        except x509.ExtensionNotFound:
            continue
        except (ValueError, x509.InvalidVersion, UnsupportedAlgorithm, Warning) as exc:
            # Warning: cryptography's lenient-parsing warnings (non-positive serial, bad name
            # lengths) are exceptions where warnings are errors (the test suite): typed here
            raise DocumentError(
                f"the Document Signer certificate cannot be read: {exc}",
                code="ds_certificate_invalid",
            ) from exc
        if matches:
            return cert
    raise _sod_error("no included certificate matches the SignerInfo")


def _verify_signature(sod: SecurityObject, cert: x509.Certificate) -> None:
    invalid = DocumentError(
        "the security object's signature does not verify", code="sod_signature_invalid"
    )
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise DocumentError(
            "the Document Signer key cannot be used", code="ds_certificate_invalid"
        ) from exc
    algorithm = _HASHES[sod.signature_hash]()
    try:
        if sod.signature_scheme == "ecdsa":
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, _CURVES):
                raise DocumentError(
                    "the Document Signer key is not an EC key on an allowed curve",
                    code="ds_certificate_invalid",
                )
            key.verify(sod.signature, sod.signed_attributes, ec.ECDSA(algorithm))
        else:
            if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
                raise DocumentError(
                    f"the Document Signer key is not an RSA key of at least {MIN_RSA_BITS} bits",
                    code="ds_certificate_invalid",
                )
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15()
                if sod.signature_scheme == "pkcs1v15"
                else padding.PSS(
                    mgf=padding.MGF1(_HASHES[sod.signature_hash]()),
                    salt_length=sod.pss_salt_length,
                )
            )
            key.verify(sod.signature, sod.signed_attributes, pad, algorithm)
    except (InvalidSignature, ValueError) as exc:
        raise invalid from exc


def _check_ds_certificate(cert: x509.Certificate, now: datetime) -> None:
    """Part 12 §7.1.1 DS profile: a signing (not CA) certificate with keyUsage digitalSignature,
    valid at ``now``."""

    def invalid(detail: str) -> DocumentError:
        return DocumentError(
            f"Document Signer certificate: {detail}", code="ds_certificate_invalid"
        )

    try:
        extensions = cert.extensions
        if now < cert.not_valid_before_utc:
            raise invalid(f"not valid before {cert.not_valid_before_utc.isoformat()}")
        if now > cert.not_valid_after_utc:
            raise invalid(f"expired at {cert.not_valid_after_utc.isoformat()}")
        try:
            usage = extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound as exc:
            raise invalid("no keyUsage") from exc
        if not usage.digital_signature:
            raise invalid("keyUsage lacks digitalSignature")
        try:
            constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is not None and constraints.ca:
            raise invalid("it is a CA certificate")
    except ValueError as exc:
        raise invalid(f"cannot be read ({exc})") from exc


def _subject(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:  # pragma: no cover - undecodable names
        return "<unprintable subject>"


def _verify_path(
    cert: x509.Certificate, cscas: Sequence[x509.Certificate], now: datetime
) -> x509.Certificate:
    try:
        _, anchor = verify_chain_to_anchor([cert], anchors=cscas, now=now)
    except CredentialError as exc:
        # the DS's own window was checked before: an expired certificate here is the CSCA
        raise DocumentError(
            f"the Document Signer does not chain to a trusted CSCA: {exc.detail}",
            code="csca_untrusted",
        ) from exc
    return anchor


# --- data groups ---------------------------------------------------------------------------


def parse_dg1(dg1: bytes, *, now: datetime | None = None) -> MrzData:
    """The MRZ in DG1 (tag 0x61 around 0x5F1F, Part 10 §4.7.1). Raises ``dg1_malformed``, or
    ``document_expired`` with ``now``."""
    try:
        inner = _children(_unwrap(dg1, DG1_TAG))
        if len(inner) != 1 or inner[0][0] != 0x5F1F:
            raise ValueError("DG1 holds no single MRZ element 0x5F1F")
        text = inner[0][1].decode("ascii")
    except ValueError as exc:
        raise DocumentError(f"DG1: {exc}", code="dg1_malformed") from exc
    if "\n" in text or "\r" in text:
        raise DocumentError("DG1: line breaks inside the MRZ", code="dg1_malformed")
    try:
        return parse_mrz(text, now=now)
    except DocumentError as exc:
        if exc.code == "document_expired":
            raise
        raise DocumentError(f"DG1: {exc.detail}", code="dg1_malformed") from exc


def _facial_image(bdb: bytes) -> tuple[int, bytes]:
    """Image data type and image bytes of the first image of an ISO/IEC 19794-5:2005 facial
    record (Part 10 §4.7.2; the record layout as read by JMRTD's FaceInfo/FaceImageInfo)."""
    if len(bdb) < 14 or bdb[0:4] != b"FAC\x00":
        raise ValueError("the biometric data block is not an ISO 19794-5 facial record")
    if bdb[4:8] != b"010\x00":
        raise ValueError("only the 2005 facial record format (version 010) is supported")
    record_length = int.from_bytes(bdb[8:12], "big")
    count = int.from_bytes(bdb[12:14], "big")
    if record_length != len(bdb) or count < 1:
        raise ValueError("the facial record header does not match its data")
    offset = 14
    block_length = int.from_bytes(bdb[offset : offset + 4], "big")
    if block_length < 32 or offset + block_length > len(bdb):
        raise ValueError("the facial record data length is out of range")
    feature_points = int.from_bytes(bdb[offset + 4 : offset + 6], "big")
    info = offset + 20 + 8 * feature_points
    if info + 12 > offset + block_length:
        raise ValueError("the feature points overrun the facial record")
    data_type = bdb[info + 1]
    if data_type not in (0, 1):
        raise ValueError(f"image data type {data_type} is neither JPEG nor JPEG 2000")
    image = bdb[info + 12 : offset + block_length]
    if not image:
        raise ValueError("the facial record holds no image")
    return data_type, image


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            raise ValueError("JPEG markers are broken")
        marker = data[i + 1]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                data[i + 5 : i + 7], "big"
            )
        if marker == 0xFF:
            i += 1
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    raise ValueError("JPEG without a frame header")


def _j2k_size(data: bytes, offset: int) -> tuple[int, int]:
    """Width and height from the SIZ marker right after SOC (ISO/IEC 15444-1 A.5.1)."""
    if data[offset : offset + 4] != _J2K_MAGIC or len(data) < offset + 24:
        raise ValueError("JPEG 2000 codestream without SIZ")
    x = int.from_bytes(data[offset + 8 : offset + 12], "big")
    y = int.from_bytes(data[offset + 12 : offset + 16], "big")
    x0 = int.from_bytes(data[offset + 16 : offset + 20], "big")
    y0 = int.from_bytes(data[offset + 20 : offset + 24], "big")
    return x - x0, y - y0


def _jp2_size(data: bytes) -> tuple[int, int]:
    """Width and height from the JP2 header's ihdr box (ISO/IEC 15444-1 I.5.3.1)."""
    offset = 0
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        header = 8
        if length == 1:
            length = int.from_bytes(data[offset + 8 : offset + 16], "big")
            header = 16
        elif length == 0:
            length = len(data) - offset
        if length < header:
            raise ValueError("JP2 box length is broken")
        if kind == b"jp2h":
            inner = data[offset + header : offset + length]
            if inner[4:8] == b"ihdr" and len(inner) >= 16:
                height = int.from_bytes(inner[8:12], "big")
                width = int.from_bytes(inner[12:16], "big")
                return width, height
            raise ValueError("JP2 header without ihdr")
        offset += length
    raise ValueError("JP2 file without a header box")


def decode_portrait(image: bytes) -> Portrait:
    """JPEG or JPEG 2000 portrait bytes → :class:`Portrait` with JPEG bytes (JPEG passes through
    unchanged once it decodes; JPEG 2000 is decoded by OpenCV's OpenJPEG and re-encoded)."""
    import cv2

    source: Literal["jpeg", "jpeg2000"]
    if image.startswith(_JPEG_MAGIC):
        source = "jpeg"
        width, height = _jpeg_size(image)
    elif image.startswith(_JP2_MAGIC):
        source = "jpeg2000"
        width, height = _jp2_size(image)
    elif image.startswith(_J2K_MAGIC):
        source = "jpeg2000"
        width, height = _j2k_size(image, 0)
    else:
        raise ValueError("the portrait is neither JPEG nor JPEG 2000")
    if width < 1 or height < 1 or width * height > MAX_PORTRAIT_PIXELS:
        raise ValueError(f"the portrait size {width}x{height} is out of range")
    try:
        bgr = cv2.imdecode(np.frombuffer(image, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ValueError("the portrait cannot be decoded") from exc
    if bgr is None or bgr.ndim != 3 or bgr.shape[0] != height or bgr.shape[1] != width:
        raise ValueError("the portrait cannot be decoded")
    if source == "jpeg":
        return Portrait(jpeg=image, source_format=source, width=width, height=height)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:  # pragma: no cover - encoding a decoded 8-bit image does not fail
        raise ValueError("the portrait cannot be re-encoded")
    return Portrait(jpeg=encoded.tobytes(), source_format=source, width=width, height=height)


def parse_dg2(dg2: bytes) -> Portrait:
    """The first facial image in DG2: 0x75 → 0x7F61 (count 0x02, then 0x7F60 templates) → the
    first 0x7F60 → its header 0xA1 and data block 0x5F2E (Part 10 §4.7.2). Raises
    ``dg2_malformed``."""
    try:
        group = _children(_unwrap(dg2, DG2_TAG))
        if len(group) != 1 or group[0][0] != 0x7F61:
            raise ValueError("DG2 holds no biometric information group template 0x7F61")
        templates = _children(group[0][1])
        if not templates or templates[0][0] != 0x02 or len(templates[0][1]) != 1:
            raise ValueError("the template count 0x02 is missing")
        count = templates[0][1][0]
        faces = [value for tag, value in templates[1:] if tag == 0x7F60]
        if count < 1 or len(faces) != count or len(templates) != count + 1:
            raise ValueError("the template count does not match the templates")
        elements = _children(faces[0])
        tags = [tag for tag, _ in elements]
        if 0x7F2E in tags:
            raise ValueError("enciphered biometric data (0x7F2E) is not supported")
        if tags != [0xA1, 0x5F2E]:
            raise ValueError("the template is not a header 0xA1 and a data block 0x5F2E")
        header = dict(_children(elements[0][1]))
        if header.get(0x81, b"\x02") != b"\x02":
            raise ValueError("the biometric type is not facial features")
        _, image = _facial_image(elements[1][1])
        return decode_portrait(image)
    except ValueError as exc:
        raise DocumentError(f"DG2: {exc}", code="dg2_malformed") from exc


# --- trust list and the whole check --------------------------------------------------------


def load_csca_certificates(blobs: Iterable[bytes]) -> tuple[x509.Certificate, ...]:
    """CSCA certificates from PEM (one or more per blob) or DER blobs, for ``verify_passport``.
    Raises ``ConfigurationError`` for anything that is not a certificate."""
    certificates: list[x509.Certificate] = []
    for blob in blobs:
        try:
            if b"-----BEGIN" in blob:
                certificates.extend(x509.load_pem_x509_certificates(blob))
            else:
                certificates.append(x509.load_der_x509_certificate(blob))
        except ValueError as exc:
            raise ConfigurationError(f"CSCA trust list: not a certificate ({exc})") from exc
    if not certificates:
        raise ConfigurationError("CSCA trust list is empty")
    return tuple(certificates)


def _check_hash(sod: SecurityObject, number: int, data: bytes) -> None:
    expected = sod.data_group_hashes.get(number)
    if expected is None:
        raise DocumentError(f"the security object lists no hash for DG{number}", code="dg_missing")
    if len(data) > MAX_DG_BYTES:
        raise DocumentError(f"DG{number} is too large", code="dg_hash_mismatch")
    actual = hashlib.new(sod.hash_algorithm, data).digest()
    if actual != expected:
        raise DocumentError(
            f"DG{number} does not match its hash in the security object", code="dg_hash_mismatch"
        )


def verify_passport(
    *,
    sod: bytes,
    dg1: bytes | None,
    dg2: bytes | None,
    csca_certificates: Sequence[x509.Certificate],
    now: datetime,
    other_data_groups: Mapping[int, bytes] | None = None,
) -> PassportEvidence:
    """Passive authentication of chip files, then the MRZ (DG1) and the portrait (DG2).

    Order (Part 11 §5.1): EF.SOD parsed; the Document Signer certificate found in it; signed
    attributes (content-type, message-digest over the eContent) and the signature over them;
    the DS certificate's profile and window at ``now``; its path to one of
    ``csca_certificates``; each given data group's hash; DG1's MRZ and its expiry; DG2's image.
    ``other_data_groups`` (e.g. DG11, DG14) are hash-checked too.
    """
    if not dg1:
        raise DocumentError("DG1 (the MRZ) was not provided", code="dg_missing")
    if not dg2:
        raise DocumentError("DG2 (the portrait) was not provided", code="dg_missing")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    security = parse_sod(sod)
    cert = _signer_certificate(security)
    if security.content_type_attribute != LDS_SECURITY_OBJECT_OID:
        raise _sod_error("the content-type attribute does not name the LDS security object")
    digest = hashlib.new(security.digest_algorithm, security.econtent).digest()
    if digest != security.message_digest_attribute:
        raise DocumentError(
            "the message-digest attribute does not match the security object",
            code="sod_signature_invalid",
        )
    _verify_signature(security, cert)
    _check_ds_certificate(cert, now)
    # a tuple goes through as is: x509chain caches its anchor map per (immutable) tuple
    anchors = (
        csca_certificates if isinstance(csca_certificates, tuple) else tuple(csca_certificates)
    )
    anchor = _verify_path(cert, anchors, now)
    groups: dict[int, bytes] = {1: bytes(dg1), 2: bytes(dg2)}
    for number, data in (other_data_groups or {}).items():
        if number in groups or not 1 <= number <= 16:
            raise DocumentError(f"data group number {number} is invalid", code="dg_missing")
        groups[number] = bytes(data)
    for number in sorted(groups):
        _check_hash(security, number, groups[number])
    mrz = parse_dg1(groups[1], now=now)
    portrait = parse_dg2(groups[2])
    return PassportEvidence(
        mrz=mrz,
        portrait_jpeg=portrait.jpeg,
        portrait_source_format=portrait.source_format,
        ds_subject=_subject(cert),
        csca_subject=_subject(anchor),
        hash_algorithm=security.hash_algorithm,
        signature_algorithm=f"{security.signature_scheme}-{security.signature_hash}",
        data_groups=tuple(sorted(groups)),
    )

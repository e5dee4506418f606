"""Test ePassport chip data for the fictitious state Utopia (``UTO``): a CSCA, a Document Signer
it certifies, DG1 (TD3 MRZ), DG2 (portrait in an ISO 19794-5 record) and EF.SOD signing their
hashes — so tests and the demo never need a real document. Never trust this CSCA in production.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from asn1crypto import cms, core  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from ssar.idv.epassport import DG1_TAG, DG2_TAG, LDS_SECURITY_OBJECT_OID, SOD_TAG, LDSSecurityObject
from ssar.idv.mrz import check_digit

KeyType = Literal["ec-p256", "ec-p384", "rsa-pkcs1", "rsa-pss"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# ICAO Doc 9303 Part 12 §7.1.1.2: the Document Type List extension of DS certificates
_DOCUMENT_TYPE_LIST_OID = x509.ObjectIdentifier("2.23.136.1.1.6.2")


def tlv(tag: int, value: bytes) -> bytes:
    """A BER-TLV with a definite length (the encoding of Doc 9303 Part 10 §3.4)."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    length = len(value)
    if length < 0x80:
        length_bytes = bytes([length])
    else:
        size = (length.bit_length() + 7) // 8
        length_bytes = bytes([0x80 | size]) + length.to_bytes(size, "big")
    return tag_bytes + length_bytes + value


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TestCsca:
    """A Country Signing CA (Part 12 §7.1.1: self-signed, cA with pathLen 0, keyUsage
    keyCertSign and cRLSign, private key usage period)."""

    __test__ = False  # not a pytest test class

    key: PrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def make_csca(
    *,
    country: str = "UT",
    organization: str = "Utopia",
    common_name: str = "CSCA Utopia TEST",
    key_type: KeyType = "ec-p384",
    not_before: date = date(2015, 1, 1),
    not_after: date = date(2060, 1, 1),
) -> TestCsca:
    """A test CSCA. X.509 names carry the two-letter country (``UT``), the MRZ the three-letter
    code (``UTO``)."""
    key = _new_key(key_type)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_at(not_before))
        .not_valid_after(_at(not_after))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.PrivateKeyUsagePeriod(
                not_before=_at(not_before), not_after=_at(not_before) + timedelta(days=3 * 365)
            ),
            critical=False,
        )
        .sign(key, _cert_hash(key))
    )
    return TestCsca(key=key, certificate=certificate)


def make_document_signer(
    csca: TestCsca, *, key_type: KeyType = "ec-p256", not_before: date, not_after: date
) -> tuple[PrivateKey, x509.Certificate]:
    """A Document Signer certificate (Part 12 §7.1.1: keyUsage digitalSignature, critical;
    authority key identifier; document type list "P")."""
    key = _new_key(key_type)
    country = csca.certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, str(country)),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Utopia"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Document Signer Utopia TEST"),
        ]
    )
    csca_ski = csca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    document_types = (
        b"\x30\x08\x02\x01\x00\x31\x03" + b"\x13\x01P"
    )  # SEQUENCE { version 0, SET { PrintableString "P" } }
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(csca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_at(not_before))
        .not_valid_after(_at(not_after))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(csca_ski.value),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(_DOCUMENT_TYPE_LIST_OID, document_types), critical=False
        )
        .sign(csca.key, _cert_hash(csca.key))
    )
    return key, certificate


def td3_zone(
    *,
    given: str,
    family: str,
    number: str,
    birthdate: date,
    expiry: date,
    sex: str = "F",
    issuing_state: str = "UTO",
    nationality: str = "UTO",
    personal_number: str = "",
) -> str:
    """A TD3 MRZ (Part 4 §4.2.2) with its check digits: two lines of 44 characters."""

    def field(text: str) -> str:
        return "<".join(text.upper().replace("-", " ").split())

    name = field(family) + ("<<" + field(given) if given else "")
    line1 = ("P<" + issuing_state.ljust(3, "<") + name)[:44].ljust(44, "<")
    doc = number.upper().ljust(9, "<")[:9]
    birth = birthdate.strftime("%y%m%d")
    end = expiry.strftime("%y%m%d")
    personal = personal_number.upper().ljust(14, "<")[:14]
    personal_cd = "<" if set(personal) == {"<"} else str(check_digit(personal))
    line2 = (
        f"{doc}{check_digit(doc)}{nationality.ljust(3, '<')}{birth}{check_digit(birth)}{sex}"
        f"{end}{check_digit(end)}{personal}{personal_cd}"
    )
    line2 += str(check_digit(line2[0:10] + line2[13:20] + line2[21:43]))
    return f"{line1}\n{line2}"


def make_dg1(zone: str) -> bytes:
    """DG1: 0x61 around 0x5F1F holding the MRZ without line breaks (Part 10 §4.7.1)."""
    return tlv(DG1_TAG, tlv(0x5F1F, zone.replace("\n", "").encode("ascii")))


def encode_portrait(
    portrait_rgb: npt.NDArray[np.uint8], image_format: Literal["jpeg", "jpeg2000"] = "jpeg"
) -> bytes:
    import cv2

    bgr = np.ascontiguousarray(portrait_rgb[:, :, ::-1])
    extension = ".jpg" if image_format == "jpeg" else ".jp2"
    ok, encoded = cv2.imencode(extension, bgr)
    if not ok:  # pragma: no cover
        raise ValueError("the portrait could not be encoded")
    return bytes(encoded.tobytes())


def facial_record(image: bytes, *, width: int, height: int, jpeg2000: bool, sex: str) -> bytes:
    """An ISO/IEC 19794-5:2005 facial record holding one full-frontal image, no feature points."""
    gender = {"M": 1, "F": 2}.get(sex, 0)
    image_info = (
        bytes([1, 1 if jpeg2000 else 0])  # full frontal; JPEG / JPEG 2000
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([1, 2])  # 24-bit RGB; digital still camera
        + b"\x00\x00"  # device type
        + b"\x00\x00"  # quality
    )
    block_length = 20 + len(image_info) + len(image)
    facial_information = (
        block_length.to_bytes(4, "big")
        + b"\x00\x00"  # no feature points
        + bytes([gender, 0, 0])  # gender, eye colour, hair colour
        + b"\x00\x00\x00"  # feature mask
        + b"\x00\x00"  # expression
        + b"\x00\x00\x00"  # pose angles
        + b"\x00\x00\x00"  # pose angle uncertainty
    )
    total = 14 + block_length
    header = b"FAC\x00" + b"010\x00" + total.to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + facial_information + image_info + image


def make_dg2(facial_record_bytes: bytes) -> bytes:
    """DG2: 0x75 → 0x7F61 {0x02 count, 0x7F60 {0xA1 header, 0x5F2E data}} (Part 10 §4.7.2)."""
    header = (
        tlv(0x80, b"\x01\x01")  # ICAO header version
        + tlv(0x81, b"\x02")  # biometric type: facial features
        + tlv(0x82, b"\x00")  # biometric subtype: none
        + tlv(0x87, b"\x01\x01")  # format owner: ISO/IEC JTC 1/SC 37
        + tlv(0x88, b"\x00\x08")  # format type: face image
    )
    template = tlv(0x7F60, tlv(0xA1, header) + tlv(0x5F2E, facial_record_bytes))
    return tlv(DG2_TAG, tlv(0x7F61, tlv(0x02, b"\x01") + template))


def _signature_identifier(key: PrivateKey, key_type: KeyType, hash_name: str) -> dict[str, object]:
    if key_type == "rsa-pss":
        size = _HASHES[hash_name]().digest_size
        return {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": hash_name},
                "mask_gen_algorithm": {
                    "algorithm": "mgf1",
                    "parameters": {"algorithm": hash_name},
                },
                "salt_length": size,
                "trailer_field": "trailer_field_bc",
            },
        }
    if isinstance(key, rsa.RSAPrivateKey):
        return {"algorithm": f"{hash_name}_rsa"}
    return {"algorithm": f"{hash_name}_ecdsa"}


def _sign(key: PrivateKey, key_type: KeyType, hash_name: str, data: bytes) -> bytes:
    algorithm = _HASHES[hash_name]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm))
    if key_type == "rsa-pss":
        pss = padding.PSS(mgf=padding.MGF1(_HASHES[hash_name]()), salt_length=algorithm.digest_size)
        return key.sign(data, pss, algorithm)
    return key.sign(data, padding.PKCS1v15(), algorithm)


def make_sod(
    groups: dict[int, bytes],
    *,
    ds_key: PrivateKey,
    ds_certificate: x509.Certificate,
    key_type: KeyType,
    hash_name: str = "sha256",
    signing_time: datetime | None = None,
) -> bytes:
    """EF.SOD: 0x77 around CMS SignedData (v3) over an LDSSecurityObject (v0) listing the hashes
    of ``groups``, signed with signed attributes by ``ds_key`` (Part 10 §4.6.2)."""
    lds = LDSSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": hash_name},
            "data_group_hash_values": [
                {
                    "data_group_number": number,
                    "data_group_hash_value": hashlib.new(hash_name, data).digest(),
                }
                for number, data in sorted(groups.items())
            ],
        }
    )
    econtent = lds.dump()
    attributes = [
        {"type": "content_type", "values": [LDS_SECURITY_OBJECT_OID]},
        {"type": "message_digest", "values": [hashlib.new(hash_name, econtent).digest()]},
    ]
    if signing_time is not None:
        when = cms.Time({"utc_time": signing_time})
        attributes.insert(1, {"type": "signing_time", "values": [when]})
    signed_attributes = cms.CMSAttributes(attributes)
    signature = _sign(ds_key, key_type, hash_name, signed_attributes.dump())
    certificate = asn1_x509.Certificate.load(
        ds_certificate.public_bytes(serialization.Encoding.DER)
    )
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": certificate.issuer,
                        "serial_number": certificate.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": hash_name},
            "signed_attrs": signed_attributes,
            "signature_algorithm": _signature_identifier(ds_key, key_type, hash_name),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": hash_name}],
            "encap_content_info": {
                "content_type": LDS_SECURITY_OBJECT_OID,
                "content": core.ParsableOctetString(econtent),
            },
            "certificates": [certificate],
            "signer_infos": [signer],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tlv(SOD_TAG, info.dump())


@dataclass(frozen=True, slots=True)
class TestPassport:
    """The chip files of a test passport and the PKI that signed them."""

    __test__ = False  # not a pytest test class

    sod: bytes
    dg1: bytes
    dg2: bytes
    mrz: str
    csca: TestCsca
    ds_certificate: x509.Certificate
    portrait: bytes  # the encoded image inside DG2

    @property
    def csca_pem(self) -> bytes:
        return self.csca.pem

    @property
    def ds_pem(self) -> bytes:
        return self.ds_certificate.public_bytes(serialization.Encoding.PEM)


def make_passport(
    *,
    given: str,
    family: str,
    birthdate: date,
    expiry: date,
    number: str,
    portrait_rgb: npt.NDArray[np.uint8],
    csca: TestCsca | None = None,
    sex: str = "F",
    nationality: str = "UTO",
    personal_number: str = "",
    key_type: KeyType = "ec-p256",
    hash_algorithm: str = "sha256",
    image_format: Literal["jpeg", "jpeg2000"] = "jpeg",
    ds_not_before: date | None = None,
    ds_not_after: date | None = None,
) -> TestPassport:
    """Chip data of a Utopian TD3 passport for the given holder, signed by a fresh Document
    Signer under ``csca`` (a new test CSCA when ``None``). The DS certificate is valid from ten
    years before ``expiry`` to three months after it (Part 12: key usage period plus document
    validity), unless given."""
    csca = csca or make_csca()
    issued = date(expiry.year - 10, expiry.month, min(expiry.day, 28))
    ds_key, ds_certificate = make_document_signer(
        csca,
        key_type=key_type,
        not_before=ds_not_before or issued,
        not_after=ds_not_after or expiry + timedelta(days=92),
    )
    zone = td3_zone(
        given=given,
        family=family,
        number=number,
        birthdate=birthdate,
        expiry=expiry,
        sex=sex,
        nationality=nationality,
        personal_number=personal_number,
    )
    dg1 = make_dg1(zone)
    height, width = portrait_rgb.shape[:2]
    image = encode_portrait(portrait_rgb, image_format)
    dg2 = make_dg2(
        facial_record(
            image, width=width, height=height, jpeg2000=image_format == "jpeg2000", sex=sex
        )
    )
    sod = make_sod(
        {1: dg1, 2: dg2},
        ds_key=ds_key,
        ds_certificate=ds_certificate,
        key_type=key_type,
        hash_name=hash_algorithm,
        signing_time=_at(ds_not_before or issued),
    )
    return TestPassport(
        sod=sod,
        dg1=dg1,
        dg2=dg2,
        mrz=zone,
        csca=csca,
        ds_certificate=ds_certificate,
        portrait=image,
    )

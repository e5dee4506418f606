"""Test helpers for mdoc: read the shared ISO 18013-5 vectors, a tiny PKI (IACA → DS) and a
test issuer on cbor2 + cryptography whose every field can be bent for negative tests."""

from __future__ import annotations

import binascii
import hashlib
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from ssar.credentials import cose
from ssar.credentials.trust import TrustConfig
from tests.conftest import shared_path

MDL = "org.iso.18013.5.1.mDL"
MDL_NS = "org.iso.18013.5.1"
# Inside the Annex D MSO and DS certificate windows (2020-10-01 – 2021-10-01).
ANNEX_D_NOW = datetime(2021, 3, 1, 12, 0, tzinfo=UTC)
TODAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def vector_hex(*parts: str) -> bytes:
    """A hex-text vector under shared/vectors/mdoc/test/, decoded."""
    text = shared_path("vectors", "mdoc", "test", *parts).read_text()
    return binascii.unhexlify("".join(text.split()))


def vector_pem(*parts: str) -> x509.Certificate:
    data = shared_path("vectors", "mdoc", "test", *parts).read_bytes()
    with warnings.catch_warnings():
        # the multipaz DS has a non-positive serial number (cryptography warns, still loads)
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_pem_x509_certificate(data)


def annex_d_issuer_signed() -> bytes:
    return vector_hex("definitions", "issuer_signed.cbor")


def annex_d_ds_certificate() -> x509.Certificate:
    """The Annex D document-signer certificate, taken from the vector's own x5chain (the shared
    folder has no "utopia iaca" root, so tests pin the DS certificate as the anchor)."""
    item = cbor2.loads(annex_d_issuer_signed())
    return cose.x5chain(cose.parse_cose_sign1(item["issuerAuth"]))[0]


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )


@dataclass
class Pki:
    iaca_key: ec.EllipticCurvePrivateKey
    iaca: x509.Certificate
    ds_key: ec.EllipticCurvePrivateKey
    ds: x509.Certificate

    @property
    def trust(self) -> TrustConfig:
        return TrustConfig(x509_anchors=(self.iaca,))


def make_pki(
    *,
    not_before: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    not_after: datetime = datetime(2034, 1, 1, tzinfo=UTC),
    iaca_is_ca: bool = True,
    iaca_key_cert_sign: bool = True,
    ds_is_ca: bool = False,
    cn: str = "SSAR Test IACA",
) -> Pki:
    iaca_key = ec.generate_private_key(ec.SECP256R1())
    ds_key = ec.generate_private_key(ec.SECP256R1())
    iaca = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(iaca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=iaca_is_ca, path_length=0 if iaca_is_ca else None),
            critical=True,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=not iaca_key_cert_sign,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=iaca_key_cert_sign,
                crl_sign=iaca_key_cert_sign,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(iaca_key, hashes.SHA256())
    )
    ds = (
        x509.CertificateBuilder()
        .subject_name(_name("SSAR Test DS"))
        .issuer_name(_name(cn))
        .public_key(ds_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after - timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ds_is_ca, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.0.18013.5.1.2")]), critical=True
        )
        .sign(iaca_key, hashes.SHA256())
    )
    return Pki(iaca_key=iaca_key, iaca=iaca, ds_key=ds_key, ds=ds)


def der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


DEFAULT_CLAIMS: dict[str, dict[str, Any]] = {
    MDL_NS: {
        "family_name": "Doe",
        "given_name": "Jane",
        "birth_date": cbor2.CBORTag(1004, "1990-05-17"),
        "document_number": "D1234567",
        "portrait": b"\xff\xd8\xff\xe0fake-jpeg",
        "age_over_18": True,
    }
}


@dataclass
class MdocIssuer:
    """Issues IssuerSigned structures; every field of the MSO can be overridden."""

    pki: Pki
    device_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def issuer_signed(
        self,
        *,
        claims: Mapping[str, Mapping[str, Any]] = DEFAULT_CLAIMS,
        doc_type: str = MDL,
        signed: datetime = datetime(2025, 1, 1, tzinfo=UTC),
        valid_from: datetime = datetime(2025, 1, 1, tzinfo=UTC),
        valid_until: datetime = datetime(2030, 1, 1, tzinfo=UTC),
        digest_algorithm: str = "SHA-256",
        mso_overrides: Mapping[str, Any] | None = None,
        x5chain: list[x509.Certificate] | None = None,
    ) -> dict[str, Any]:
        namespaces: dict[str, list[cbor2.CBORTag]] = {}
        digests: dict[str, dict[int, bytes]] = {}
        hasher = {"SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384}.get(
            digest_algorithm, hashlib.sha256
        )
        digest_id = 0
        for ns, elements in claims.items():
            namespaces[ns] = []
            digests[ns] = {}
            for identifier, value in elements.items():
                item = cbor2.CBORTag(
                    24,
                    cbor2.dumps(
                        {
                            "digestID": digest_id,
                            "random": secrets.token_bytes(16),
                            "elementIdentifier": identifier,
                            "elementValue": value,
                        }
                    ),
                )
                namespaces[ns].append(item)
                digests[ns][digest_id] = hasher(cbor2.dumps(item)).digest()
                digest_id += 1
        mso: dict[str, Any] = {
            "version": "1.0",
            "digestAlgorithm": digest_algorithm,
            "valueDigests": digests,
            "deviceKeyInfo": {
                "deviceKey": cose.public_key_to_cose_key(self.device_key.public_key())
            },
            "docType": doc_type,
            "validityInfo": {"signed": signed, "validFrom": valid_from, "validUntil": valid_until},
        }
        mso.update(mso_overrides or {})
        payload = cbor2.dumps(cbor2.CBORTag(24, cbor2.dumps(mso)))
        chain = x5chain if x5chain is not None else [self.pki.ds]
        header = der(chain[0]) if len(chain) == 1 else [der(c) for c in chain]
        issuer_auth = cbor2.loads(
            cose.sign_cose_sign1(
                key=self.pki.ds_key, alg=cose.ES256, payload=payload, unprotected={33: header}
            )
        )
        return {"nameSpaces": namespaces, "issuerAuth": issuer_auth}


def transcript(nonce: str = "n-0S6_WzA2Mj") -> bytes:
    from ssar.credentials.mdoc import openid4vp_session_transcript

    return openid4vp_session_transcript(
        client_id="x509_san_dns:ssar.example.org",
        nonce=nonce,
        jwk_thumbprint=None,
        response_uri="https://ssar.example.org/oid4vp/response",
    )


def iso_date(value: str) -> date:
    return date.fromisoformat(value)

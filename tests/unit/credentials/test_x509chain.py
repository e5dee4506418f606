"""verify_chain: paths to configured anchors (isomdl / multipaz vectors and a generated PKI)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509

from ssar.credentials.x509chain import clear_chain_cache, verify_chain, verify_chain_to_anchor
from ssar.errors import CredentialError
from tests.unit.credentials.mdoc_support import make_pki, vector_pem

ISOMDL_NOW = datetime(2024, 3, 1, tzinfo=UTC)
OWF_NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_chain_cache()


def _code(call: object) -> str:
    assert callable(call)
    with pytest.raises(CredentialError) as err:
        call()
    return err.value.code


@pytest.mark.parametrize(
    ("leaf", "anchor", "now"),
    [
        ("isomdl_iaca_signer.pem", "isomdl_iaca_root_cert.pem", ISOMDL_NOW),
        ("owf_multipaz_ds_p384.pem", "owf_multipaz_iaca_p384.pem", OWF_NOW),
    ],
)
def test_vector_chains_verify(leaf: str, anchor: str, now: datetime) -> None:
    ds = vector_pem("presentation", leaf)
    iaca = vector_pem("presentation", anchor)
    assert verify_chain([ds], anchors=[iaca], now=now) == ds
    assert verify_chain([ds, iaca], anchors=[iaca], now=now) == ds  # anchor as last element


def test_vector_intermediate_without_ca_rights_is_untrusted() -> None:
    # isomdl's "intermediate" has keyUsage digitalSignature only and no basicConstraints
    leaf = vector_pem("presentation", "isomdl_iaca_leaf_signer.pem")
    intermediate = vector_pem("presentation", "isomdl_iaca_intermediate.pem")
    root = vector_pem("presentation", "isomdl_iaca_root_cert.pem")
    chain = [leaf, intermediate]
    assert _code(lambda: verify_chain(chain, anchors=[root], now=ISOMDL_NOW)) == "untrusted_issuer"


def test_vector_incorrect_signer_still_chains() -> None:
    # isomdl's "incorrect" signer is validly signed by the root; what is wrong with it (cA=true
    # on a document signer) is an mdoc profile rule, checked by verify_mdoc, not by verify_chain
    wrong = vector_pem("presentation", "isomdl_incorrect_iaca_signer.pem")
    root = vector_pem("presentation", "isomdl_iaca_root_cert.pem")
    assert verify_chain([wrong], anchors=[root], now=ISOMDL_NOW) == wrong


def test_vector_chain_expired_today() -> None:
    ds = vector_pem("presentation", "isomdl_iaca_signer.pem")
    root = vector_pem("presentation", "isomdl_iaca_root_cert.pem")
    assert _code(lambda: verify_chain([ds], anchors=[root], now=OWF_NOW)) == "expired"


def test_unrelated_anchor_is_untrusted() -> None:
    pki, other = make_pki(), make_pki()
    assert _code(lambda: verify_chain([pki.ds], anchors=[other.iaca], now=OWF_NOW)) == (
        "untrusted_issuer"
    )


def test_same_name_other_key_is_untrusted() -> None:
    pki, impostor = make_pki(), make_pki()  # both IACAs are called "SSAR Test IACA"
    chain = [impostor.ds]
    assert _code(lambda: verify_chain(chain, anchors=[pki.iaca], now=OWF_NOW)) == (
        "untrusted_issuer"
    )


def test_no_chain_or_no_anchor_is_untrusted() -> None:
    pki = make_pki()
    assert _code(lambda: verify_chain([], anchors=[pki.iaca], now=OWF_NOW)) == "untrusted_issuer"
    assert _code(lambda: verify_chain([pki.ds], anchors=[], now=OWF_NOW)) == "untrusted_issuer"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"iaca_is_ca": False}, "untrusted_issuer"),
        ({"iaca_key_cert_sign": False}, "untrusted_issuer"),
    ],
)
def test_issuer_must_be_a_ca_with_key_cert_sign(kwargs: dict[str, bool], code: str) -> None:
    pki = make_pki(**kwargs)
    assert _code(lambda: verify_chain([pki.ds], anchors=[pki.iaca], now=OWF_NOW)) == code


def test_validity_windows_checked_even_when_cached() -> None:
    pki = make_pki(
        not_before=datetime(2026, 1, 1, tzinfo=UTC), not_after=datetime(2028, 1, 1, tzinfo=UTC)
    )
    inside = datetime(2026, 6, 1, tzinfo=UTC)
    assert verify_chain([pki.ds], anchors=[pki.iaca], now=inside) == pki.ds
    assert verify_chain([pki.ds], anchors=[pki.iaca], now=inside) == pki.ds  # cached
    before = datetime(2025, 6, 1, tzinfo=UTC)
    after = datetime(2027, 6, 1, tzinfo=UTC)  # the DS ends a year before the IACA
    assert _code(lambda: verify_chain([pki.ds], anchors=[pki.iaca], now=before)) == (
        "not_yet_valid"
    )
    assert _code(lambda: verify_chain([pki.ds], anchors=[pki.iaca], now=after)) == "expired"


def test_cache_does_not_leak_to_other_anchors() -> None:
    pki, other = make_pki(), make_pki()
    verify_chain([pki.ds], anchors=[pki.iaca], now=OWF_NOW)
    assert _code(lambda: verify_chain([pki.ds], anchors=[other.iaca], now=OWF_NOW)) == (
        "untrusted_issuer"
    )


def test_returns_the_anchor_used() -> None:
    pki, other = make_pki(), make_pki()
    leaf, anchor = verify_chain_to_anchor([pki.ds], anchors=[other.iaca, pki.iaca], now=OWF_NOW)
    assert (leaf, anchor) == (pki.ds, pki.iaca)


def test_pinned_leaf_as_anchor() -> None:
    pki = make_pki()
    assert verify_chain([pki.ds], anchors=[pki.ds], now=OWF_NOW) == pki.ds


def test_naive_now_is_taken_as_utc() -> None:
    pki = make_pki()
    assert verify_chain([pki.ds], anchors=[pki.iaca], now=datetime(2026, 11, 23)) == pki.ds


def test_vical_certificates_form_a_chain() -> None:
    from tests.conftest import shared_path

    root = x509.load_pem_x509_certificate(
        shared_path("vectors", "mdoc", "test", "vical", "aamva_ca_root.crt").read_bytes()
    )
    issuing = x509.load_pem_x509_certificate(
        shared_path("vectors", "mdoc", "test", "vical", "aamva_ca_intermediate.crt").read_bytes()
    )
    # the AAMVA issuing CA is itself a CA under the root; as a "leaf" it must still chain
    assert verify_chain([issuing], anchors=[root], now=OWF_NOW) == issuing

"""The identity verification service's errors: one class per kind, each with stable codes.

SsarError
└── DocumentError        a document failed a check (``code``: e.g. ``barcode_unreadable``,
    │                    ``aamva_malformed``, ``mandatory_element_missing``, ``document_expired``,
    │                    ``mrz_check_digit``, ``sod_signature_invalid``, ``dg_hash_mismatch``,
    │                    ``csca_untrusted``)
└── IssuanceError        an OpenID4VCI request failed (``invalid_grant``, ``invalid_proof``, ...)
"""

from __future__ import annotations

from ssar.errors import SsarError


class DocumentError(SsarError):
    code = "document_invalid"
    title = "The document could not be verified"


class IssuanceError(SsarError):
    code = "invalid_request"
    title = "The credential could not be issued"

"""The one error verification providers raise when the person's proof does not hold.

ProviderError (a CredentialError) carries a stable ``code`` for the case record and the audit
log; the person sees the flow's uniform message, never the code or the detail.
"""

from __future__ import annotations

from typing import Final

from ssar.errors import CredentialError

# Stable codes of ProviderError (add freely, never rename).
PROVIDER_ERROR: Final = "provider_error"  # the provider answered, but not as the protocol says
PROVIDER_UNREACHABLE: Final = "provider_unreachable"  # timeout, connection error, 5xx
STATE_MISMATCH: Final = "state_mismatch"
ISSUER_MISMATCH: Final = "issuer_mismatch"  # RFC 9207 `iss` or discovery issuer
ACCESS_DENIED: Final = "access_denied"  # the person cancelled or the provider refused them
TOKEN_ERROR: Final = "token_error"  # noqa: S105 - the token endpoint refused the code or answered badly
ID_TOKEN_INVALID: Final = "id_token_invalid"  # noqa: S105
NONCE_MISMATCH: Final = "nonce_mismatch"
SUBJECT_MISMATCH: Final = "subject_mismatch"  # userinfo `sub` is not the ID token's
CLAIMS_MISSING: Final = "claims_missing"  # no verified_claims, or a required claim absent
CLAIMS_INVALID: Final = "claims_invalid"  # a verified claim of the wrong shape
VERIFICATION_INVALID: Final = "verification_invalid"  # `verification` absent or malformed
UNTRUSTED_FRAMEWORK: Final = "untrusted_framework"
EVIDENCE_NOT_ALLOWED: Final = "evidence_not_allowed"
VERIFICATION_TOO_OLD: Final = "verification_too_old"

CODES: Final = frozenset(
    {
        PROVIDER_ERROR,
        PROVIDER_UNREACHABLE,
        STATE_MISMATCH,
        ISSUER_MISMATCH,
        ACCESS_DENIED,
        TOKEN_ERROR,
        ID_TOKEN_INVALID,
        NONCE_MISMATCH,
        SUBJECT_MISMATCH,
        CLAIMS_MISSING,
        CLAIMS_INVALID,
        VERIFICATION_INVALID,
        UNTRUSTED_FRAMEWORK,
        EVIDENCE_NOT_ALLOWED,
        VERIFICATION_TOO_OLD,
    }
)


class ProviderError(CredentialError):
    """A verification provider's answer failed a check; ``code`` is one of :data:`CODES`."""

    code = PROVIDER_ERROR
    title = "Identity verification failed"

"""The exception tree of SSAR. Domain code raises these; one mapping in ``ssar.web.problems``
turns them into RFC 9457 problem responses, and the CLI into exit codes.

SsarError
├── ConfigurationError            bad settings or files (CLI exit 2)
├── NotFound                      a named thing does not exist
├── Conflict                      uniqueness or state conflict
├── ValidationFailed              input that breaks a rule (carries a field)
├── AuthenticationFailed          sign-in did not succeed (always one uniform message)
│   ├── ReauthenticationRequired  the action needs a sign-in within the last minutes (R27)
│   └── Throttled                 too many failed attempts: wait, then try again (R8)
├── PermissionDenied              signed in, but not allowed
├── CsrfFailed                    a state-changing request without a valid CSRF token (R26)
└── CredentialError               a credential or presentation failed a check (``code``)
"""

from __future__ import annotations


class SsarError(Exception):
    """Base of every error SSAR raises on purpose."""

    code: str = "error"
    title: str = "Error"

    def __init__(self, detail: str = "", *, code: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code


class ConfigurationError(SsarError):
    code = "configuration_error"
    title = "Configuration error"


class NotFound(SsarError):
    code = "not_found"
    title = "Not found"


class Conflict(SsarError):
    code = "conflict"
    title = "Conflict"


class Gone(SsarError):
    """Something that was handed out once (a recovery TAP) is asked for again."""

    code = "gone"
    title = "No longer available"


class ValidationFailed(SsarError):
    code = "validation_failed"
    title = "Invalid input"

    def __init__(self, detail: str = "", *, field: str | None = None, code: str | None = None):
        super().__init__(detail, code=code)
        self.field = field


class AuthenticationFailed(SsarError):
    code = "authentication_failed"
    title = "Sign-in failed"


class ReauthenticationRequired(AuthenticationFailed):
    code = "reauthentication_required"
    title = "Please sign in again to continue"


class Throttled(AuthenticationFailed):
    code = "throttled"
    title = "Too many attempts. Wait a few minutes, then try again"


class PermissionDenied(SsarError):
    code = "permission_denied"
    title = "Permission denied"


class CsrfFailed(SsarError):
    code = "csrf_failed"
    title = "The form expired; reload the page and try again"


class CredentialError(SsarError):
    """A credential, presentation or status list failed a check. ``code`` is one of the stable
    codes of CONTRACTS.md (``bad_signature``, ``expired``, ``malformed``, ...)."""

    code = "malformed"
    title = "Invalid credential"

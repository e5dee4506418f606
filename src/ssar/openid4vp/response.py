"""Parsing Authorization Responses posted to the response endpoint (OpenID4VP §8.1-8.3):
``vp_token`` + ``state`` (``direct_post``), ``response`` (``direct_post.jwt``), or an error
response. Pure; anything malformed raises ``CredentialError`` (code ``malformed``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ssar.credentials.jose import loads_json
from ssar.errors import CredentialError

_MAX_FIELD = 2_000_000
_MAX_PRESENTATIONS = 32
#: ``state`` and error codes are URL-safe ASCII (§5.2).
_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]{1,512}$")
_ERROR_CODE = re.compile(r"^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,128}$")  # RFC 6749 §4.1.2.1


def _malformed(detail: str) -> CredentialError:
    return CredentialError(detail, code="malformed")


@dataclass(frozen=True)
class AuthorizationResponse:
    """A parsed (not yet verified) response. Exactly one of ``vp_token`` / ``error`` is set."""

    state: str | None
    vp_token: Mapping[str, tuple[str, ...]] | None = None
    error: str | None = None
    error_description: str | None = None


def parse_vp_token(value: Any) -> dict[str, tuple[str, ...]]:
    """A ``vp_token``: a JSON object (or its JSON text) of credential query id → non-empty
    array of presentations (strings: SD-JWT, or base64url ``DeviceResponse`` for mdoc)."""
    if isinstance(value, str):
        if len(value) > _MAX_FIELD:
            raise _malformed("vp_token is too large")
        value = loads_json(value, what="vp_token")
    if not isinstance(value, dict) or not value:
        raise _malformed("vp_token is not a non-empty JSON object")
    out: dict[str, tuple[str, ...]] = {}
    for query_id, presentations in value.items():
        if not isinstance(presentations, list) or not presentations:
            raise _malformed(f"vp_token[{query_id!r}] is not a non-empty array")
        if len(presentations) > _MAX_PRESENTATIONS:
            raise _malformed(f"vp_token[{query_id!r}] holds too many presentations")
        if not all(isinstance(p, str) and p for p in presentations):
            raise _malformed(f"vp_token[{query_id!r}] holds a presentation that is not a string")
        out[query_id] = tuple(presentations)
    if len(out) > _MAX_PRESENTATIONS:
        raise _malformed("vp_token answers too many credential queries")
    return out


def _state(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _URL_SAFE.match(value):
        raise _malformed("state is not a URL-safe string")
    return value


def parse_response_parameters(params: Mapping[str, Any]) -> AuthorizationResponse:
    """The response parameters, from a ``direct_post`` form or a decrypted JWT payload."""
    state = _state(params.get("state"))
    error = params.get("error")
    if error is not None:
        if not isinstance(error, str) or not _ERROR_CODE.match(error):
            raise _malformed("error is not an error code")
        description = params.get("error_description")
        if description is not None and (
            not isinstance(description, str) or len(description) > 1024
        ):
            raise _malformed("error_description is not a short string")
        return AuthorizationResponse(state=state, error=error, error_description=description)
    if "vp_token" not in params:
        raise _malformed("the response has neither vp_token nor error")
    return AuthorizationResponse(state=state, vp_token=parse_vp_token(params["vp_token"]))


def parse_form(form: Mapping[str, Any]) -> tuple[str | None, AuthorizationResponse | None]:
    """A posted form: ``("<JWE>", None)`` for ``direct_post.jwt`` (``response`` field), or
    ``(None, response)`` for ``direct_post``."""
    response = form.get("response")
    if response is not None:
        if not isinstance(response, str) or not response or len(response) > _MAX_FIELD:
            raise _malformed("response is not a JWT")
        return response, None
    return None, parse_response_parameters(form)

"""Wallet invocation links (``openid4vp://?client_id=…&request_uri=…``, OpenID4VP §8) and their
QR codes. Shared by the verifier (which builds them) and the reference wallet (which parses
them); parsing any input raises only ``ValidationFailed``."""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import segno

from ssar.errors import ValidationFailed

SCHEME = "openid4vp"
_MAX_LINK = 8192


@dataclass(frozen=True)
class AuthorizationLink:
    """A by-reference Authorization Request: where to fetch the Request Object."""

    client_id: str
    request_uri: str
    request_uri_method: str = "get"  # get | post


def build_link(
    *, client_id: str, request_uri: str, request_uri_method: str | None = None, base: str = ""
) -> str:
    """``openid4vp://?client_id=…&request_uri=…`` (or ``base`` + ``?…`` for a wallet's web
    entry point such as ``https://wallet.example/authorize``)."""
    params = {"client_id": client_id, "request_uri": request_uri}
    if request_uri_method is not None:
        params["request_uri_method"] = request_uri_method
    return f"{base or SCHEME + '://'}?{urlencode(params)}"


def _invalid(detail: str) -> ValidationFailed:
    return ValidationFailed(detail, field="link", code="invalid_link")


def parse_link(link: str, *, allowed_schemes: tuple[str, ...] = (SCHEME,)) -> AuthorizationLink:
    """Parse a wallet invocation link by reference. ``allowed_schemes`` may add ``https``/``http``
    for web wallets; the query must carry exactly one ``client_id`` and one ``request_uri``, an
    http(s) URL."""
    if not isinstance(link, str) or not link or len(link) > _MAX_LINK:
        raise _invalid("the link is empty or too long")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in link):
        raise _invalid("the link holds control characters")
    try:
        parts = urlsplit(link.strip())
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise _invalid(f"the link is not a URL: {exc}") from exc
    if parts.scheme.lower() not in allowed_schemes:
        raise _invalid(f"links with scheme {parts.scheme!r} are not wallet invocations")
    if "request" in query:
        raise _invalid("Request Objects by value are not supported; use request_uri")
    client_ids = query.get("client_id", [])
    request_uris = query.get("request_uri", [])
    if len(client_ids) != 1 or len(request_uris) != 1:
        raise _invalid("the link needs exactly one client_id and one request_uri")
    client_id, request_uri = client_ids[0], request_uris[0]
    if not client_id:
        raise _invalid("client_id is empty")
    try:
        target = urlsplit(request_uri)
        host = target.hostname
    except ValueError as exc:
        raise _invalid(f"request_uri is not a URL: {exc}") from exc
    if target.scheme not in ("https", "http") or not host:
        raise _invalid("request_uri is not an http(s) URL")
    methods = query.get("request_uri_method", ["get"])
    if len(methods) != 1 or methods[0] not in ("get", "post"):
        raise ValidationFailed(
            "request_uri_method must be get or post",
            field="link",
            code="invalid_request_uri_method",
        )
    return AuthorizationLink(
        client_id=client_id, request_uri=request_uri, request_uri_method=methods[0]
    )


def qr_svg(link: str) -> str:
    """An SVG QR code of ``link`` (for a phone wallet on another device)."""
    qr = segno.make(link, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, border=4, xmldecl=False, svgns=True, title="Wallet link")
    return out.getvalue().decode("utf-8")

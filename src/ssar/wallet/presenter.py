"""The reference wallet's OpenID4VP presenter: take a wallet link, fetch and check the Request
Object, pick credentials with the DCQL query, disclose only what was asked, bind the
presentation to the verifier (KB-JWT: nonce, aud = client_id, iat, sd_hash), and post it with
``direct_post`` or ``direct_post.jwt``.

Verifier authentication follows the client identifier prefix (OpenID4VP §5.9.3):
- ``x509_san_dns:<host>``: the Request Object must be signed by the leaf of its ``x5c`` chain,
  the chain must reach one of the wallet's trusted anchors, the leaf must name ``<host>`` and
  the ``response_uri`` must be on ``<host>``;
- ``redirect_uri:<uri>``: the spec gives the wallet no key to check, so any signature is
  ignored and the request is *unauthenticated*: ``<uri>`` must equal ``response_uri`` (the
  response can only go where the client id says). Refused when
  ``allow_unauthenticated_verifiers`` is false.
Other prefixes are refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ssar.clock import Clock
from ssar.credentials.dcql import (
    ClaimPath,
    CredentialQuery,
    DcqlQuery,
    credential_matches,
    parse_dcql,
    satisfied_claim_option,
)
from ssar.credentials.jose import CompactJws, parse_compact_jws, verify_signature
from ssar.errors import CredentialError, SsarError
from ssar.openid4vp.encryption import ENC_VALUES, KEY_ALG, encrypt_response
from ssar.openid4vp.links import AuthorizationLink, parse_link
from ssar.openid4vp.request_object import (
    MEDIA_TYPE,
    PREFIX_REDIRECT_URI,
    PREFIX_X509_SAN_DNS,
    TYP,
)
from ssar.wallet.disclosure import UnpackedSdJwt
from ssar.wallet.store import StoredCredential, Wallet

RESPONSE_MODES = ("direct_post", "direct_post.jwt")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class PresentationRefused(SsarError):
    """The wallet will not (or could not) complete a presentation. ``code`` follows OpenID4VP
    §8.5 where it can: ``invalid_request``, ``invalid_client``, ``access_denied``; plus
    ``verifier_unavailable`` and ``verifier_rejected`` (the response endpoint said no)."""

    code = "invalid_request"
    title = "The wallet refused the request"


@dataclass(frozen=True)
class VerifierRequest:
    """A checked Authorization Request."""

    client_id: str
    response_uri: str
    response_mode: str
    nonce: str
    state: str | None
    dcql: DcqlQuery
    client_metadata: Mapping[str, Any]
    authenticated: bool  # True only when the verifier was authenticated (x509_san_dns)


@dataclass(frozen=True)
class Selection:
    """The credential picked for one credential query and the claims it will disclose."""

    query_id: str
    credential: StoredCredential
    paths: tuple[ClaimPath, ...]


@dataclass(frozen=True)
class PresentationOutcome:
    client_id: str
    response_mode: str
    redirect_uri: str | None
    disclosed: Mapping[str, list[str]] = field(default_factory=dict)  # query id → claim paths


def _refuse(detail: str, code: str = "invalid_request") -> PresentationRefused:
    return PresentationRefused(detail, code=code)


def _check_uri(uri: Any, name: str) -> str:
    if not isinstance(uri, str):
        raise _refuse(f"{name} is missing")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError as exc:
        raise _refuse(f"{name} is not a URL") from exc
    if not host or parts.scheme not in ("https", "http"):
        raise _refuse(f"{name} is not an http(s) URL")
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise _refuse(f"{name} must use https")
    return uri


class Presenter:
    """Presents credentials from a :class:`Wallet` to OpenID4VP verifiers."""

    def __init__(
        self,
        *,
        wallet: Wallet,
        http: httpx.Client,
        clock: Clock,
        trusted_verifier_anchors: Sequence[x509.Certificate] = (),
        allow_unauthenticated_verifiers: bool = True,
    ) -> None:
        self.wallet = wallet
        self.http = http
        self.clock = clock
        self.trusted_verifier_anchors = tuple(trusted_verifier_anchors)
        self.allow_unauthenticated_verifiers = allow_unauthenticated_verifiers

    # --- the request -------------------------------------------------------------------------

    def fetch_request(self, link: str | AuthorizationLink) -> VerifierRequest:
        """Resolve a wallet link to a checked request (GET, or POST per ``request_uri_method``)."""
        if isinstance(link, str):
            link = parse_link(link, allowed_schemes=("openid4vp", "https", "http"))
        _check_uri(link.request_uri, "request_uri")
        wallet_nonce = None
        try:
            if link.request_uri_method == "post":
                wallet_nonce = secrets.token_urlsafe(16)
                metadata = {
                    "vp_formats_supported": {
                        "dc+sd-jwt": {
                            "sd-jwt_alg_values": ["ES256"],
                            "kb-jwt_alg_values": ["ES256"],
                        }
                    },
                    "authorization_encryption_alg_values_supported": [KEY_ALG],
                    "authorization_encryption_enc_values_supported": list(ENC_VALUES),
                }
                response = self.http.post(
                    link.request_uri,
                    data={"wallet_metadata": json.dumps(metadata), "wallet_nonce": wallet_nonce},
                    headers={"Accept": MEDIA_TYPE},
                    follow_redirects=False,
                )
            else:
                response = self.http.get(
                    link.request_uri, headers={"Accept": MEDIA_TYPE}, follow_redirects=False
                )
        except httpx.HTTPError as exc:
            raise _refuse(
                f"the request could not be fetched: {type(exc).__name__}", "verifier_unavailable"
            ) from exc
        if response.status_code != 200:
            # §5.10.2: any error (redirects included, §14.6) ends the process
            raise _refuse(
                f"the request_uri answered {response.status_code}", "verifier_unavailable"
            )
        return self.check_request(
            response.text.strip(), expected_client_id=link.client_id, wallet_nonce=wallet_nonce
        )

    def check_request(
        self, token: str, *, expected_client_id: str, wallet_nonce: str | None = None
    ) -> VerifierRequest:
        """Check a Request Object against the link's client id (§5, §5.10.1)."""
        try:
            jws = parse_compact_jws(token, what="Request Object")
        except CredentialError as exc:
            raise _refuse(exc.detail) from exc
        if jws.typ != TYP:
            raise _refuse(f"Request Object typ is {jws.typ!r}, not {TYP}")
        claims = jws.payload
        client_id = claims.get("client_id")
        if client_id != expected_client_id:
            raise _refuse("the Request Object's client_id is not the link's client_id")
        assert isinstance(client_id, str)
        if wallet_nonce is not None and claims.get("wallet_nonce") != wallet_nonce:
            raise _refuse("the Request Object does not carry our wallet_nonce")
        if claims.get("response_type") != "vp_token":
            raise _refuse("response_type is not vp_token")
        mode = claims.get("response_mode")
        if mode not in RESPONSE_MODES:
            raise _refuse(f"response_mode {mode!r} is not supported")
        if "redirect_uri" in claims:
            raise _refuse("redirect_uri must not be present with direct_post")
        if "transaction_data" in claims:
            raise _refuse("transaction_data is not supported")
        response_uri = _check_uri(claims.get("response_uri"), "response_uri")
        exp = claims.get("exp")
        if (
            isinstance(exp, int | float)
            and not isinstance(exp, bool)
            and exp <= self.clock.now().timestamp()
        ):
            raise _refuse("the Request Object has expired")
        nonce = claims.get("nonce")
        state = claims.get("state")
        if not isinstance(nonce, str) or not nonce:
            raise _refuse("nonce is missing")
        if state is not None and not isinstance(state, str):
            raise _refuse("state is not a string")
        client_metadata = claims.get("client_metadata", {})
        if not isinstance(client_metadata, dict):
            raise _refuse("client_metadata is not an object")
        try:
            dcql = parse_dcql(claims.get("dcql_query"))
        except CredentialError as exc:
            raise _refuse(f"dcql_query: {exc.detail}") from exc
        authenticated = self._authenticate(jws, client_id=client_id, response_uri=response_uri)
        return VerifierRequest(
            client_id=client_id,
            response_uri=response_uri,
            response_mode=str(mode),
            nonce=nonce,
            state=state,
            dcql=dcql,
            client_metadata=client_metadata,
            authenticated=authenticated,
        )

    def _authenticate(self, jws: CompactJws, *, client_id: str, response_uri: str) -> bool:
        if client_id.startswith(PREFIX_REDIRECT_URI):
            if client_id[len(PREFIX_REDIRECT_URI) :] != response_uri:
                raise _refuse(
                    "a redirect_uri: client id must name the response_uri", "invalid_client"
                )
            if not self.allow_unauthenticated_verifiers:
                raise _refuse("this wallet only talks to authenticated verifiers", "invalid_client")
            return False  # §5.9.3: no key to check a signature with
        if client_id.startswith(PREFIX_X509_SAN_DNS):
            self._check_x509_san_dns(
                jws, dns_name=client_id[len(PREFIX_X509_SAN_DNS) :], response_uri=response_uri
            )
            return True
        raise _refuse(f"client id prefix of {client_id!r} is not supported", "invalid_client")

    def _check_x509_san_dns(self, jws: CompactJws, *, dns_name: str, response_uri: str) -> None:
        from ssar.credentials.x509chain import verify_chain

        x5c = jws.header.get("x5c")
        if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
            raise _refuse("x509_san_dns requests must carry an x5c chain", "invalid_client")
        try:
            chain = [
                x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in x5c
            ]
        except (ValueError, binascii.Error) as exc:
            raise _refuse("x5c holds an invalid certificate", "invalid_client") from exc
        if not self.trusted_verifier_anchors:
            raise _refuse("no trusted verifier anchors are configured", "invalid_client")
        try:
            leaf = verify_chain(chain, anchors=self.trusted_verifier_anchors, now=self.clock.now())
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            if dns_name not in san.get_values_for_type(x509.DNSName):
                raise _refuse("the certificate does not name the client id", "invalid_client")
            key = leaf.public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise _refuse("the certificate key is not an EC key", "invalid_client")
            verify_signature(jws, key, what="Request Object")
        except (CredentialError, x509.ExtensionNotFound) as exc:
            raise _refuse(f"the verifier is not trusted: {exc}", "invalid_client") from exc
        if urlsplit(response_uri).hostname != dns_name:
            raise _refuse("response_uri is not on the client id's host", "invalid_client")

    # --- choosing and presenting -------------------------------------------------------------

    def select(self, request: VerifierRequest) -> list[Selection]:
        """Credentials per DCQL (§6.4): every required credential query or set, else refused
        with ``access_denied``."""
        candidates: dict[str, Selection] = {}
        for query in request.dcql.credentials:
            selection = self._candidate(query)
            if selection is not None:
                candidates[query.id] = selection
        if request.dcql.credential_sets is None:
            missing = [q.id for q in request.dcql.credentials if q.id not in candidates]
            if missing:
                raise _refuse(f"no credential answers {', '.join(missing)}", "access_denied")
            return list(candidates.values())
        chosen: dict[str, Selection] = {}
        for credential_set in request.dcql.credential_sets:
            option = next(
                (o for o in credential_set.options if all(i in candidates for i in o)), None
            )
            if option is None:
                if credential_set.required:
                    raise _refuse(
                        "no credential answers a required credential set", "access_denied"
                    )
                continue
            chosen.update({i: candidates[i] for i in option})
        return list(chosen.values())

    def _candidate(self, query: CredentialQuery) -> Selection | None:
        for stored in self.wallet.credentials():
            if not credential_matches(
                query, format=stored.format, credential_type=stored.credential_type
            ):
                continue
            unpacked = UnpackedSdJwt(stored.credential)
            option = satisfied_claim_option(query, unpacked.claims)
            if option is not None:
                return Selection(
                    query_id=query.id, credential=stored, paths=tuple(c.path for c in option)
                )
        return None

    def build_vp_token(
        self, request: VerifierRequest, selections: Sequence[Selection]
    ) -> dict[str, list[str]]:
        key = self.wallet.holder_key()
        vp_token: dict[str, list[str]] = {}
        for selection in selections:
            unpacked = UnpackedSdJwt(selection.credential.credential)
            sd_part = unpacked.presentation(unpacked.disclosures_for(selection.paths))
            kb_jwt = key.sign_jwt(
                {"typ": "kb+jwt"},
                {
                    "nonce": request.nonce,
                    "aud": request.client_id,
                    "iat": int(self.clock.now().timestamp()),
                    "sd_hash": unpacked.sd_hash(sd_part),
                },
            )
            vp_token[selection.query_id] = [sd_part + kb_jwt]
        return vp_token

    def _response_form(self, request: VerifierRequest, payload: dict[str, Any]) -> dict[str, str]:
        if request.response_mode == "direct_post":
            form = {"vp_token": json.dumps(payload["vp_token"], separators=(",", ":"))}
            if "state" in payload:
                form["state"] = payload["state"]
            return form
        jwks = request.client_metadata.get("jwks")
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        chosen = next(
            (
                k
                for k in (keys if isinstance(keys, list) else [])
                if isinstance(k, dict)
                and k.get("use", "enc") == "enc"
                and k.get("alg") == KEY_ALG
                and k.get("kty") == "EC"
                and k.get("crv") == "P-256"
            ),
            None,
        )
        if chosen is None:
            raise _refuse("the verifier offers no P-256 ECDH-ES encryption key")
        offered = request.client_metadata.get(
            "encrypted_response_enc_values_supported", ["A128GCM"]
        )
        enc = (
            next((e for e in offered if e in ENC_VALUES), None)
            if isinstance(offered, list)
            else None
        )
        if enc is None:
            raise _refuse("no content encryption algorithm in common with the verifier")
        return {"response": encrypt_response(payload, public_jwk=chosen, enc=enc)}

    def present(self, request: VerifierRequest) -> PresentationOutcome:
        """Select, disclose, bind and post; returns where the verifier wants the user next."""
        selections = self.select(request)
        payload: dict[str, Any] = {"vp_token": self.build_vp_token(request, selections)}
        if request.state is not None:
            payload["state"] = request.state
        form = self._response_form(request, payload)
        try:
            response = self.http.post(request.response_uri, data=form, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise _refuse(
                f"the response could not be sent: {type(exc).__name__}", "verifier_unavailable"
            ) from exc
        if response.status_code != 200:
            code = None
            try:
                body = response.json()
                code = body.get("code") if isinstance(body, dict) else None
            except ValueError:
                pass
            raise _refuse(
                f"the verifier rejected the presentation ({code or response.status_code})",
                "verifier_rejected",
            )
        redirect_uri = None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if isinstance(body, dict) and isinstance(body.get("redirect_uri"), str):
            redirect_uri = _check_uri(body["redirect_uri"], "redirect_uri")
        return PresentationOutcome(
            client_id=request.client_id,
            response_mode=request.response_mode,
            redirect_uri=redirect_uri,
            disclosed={
                s.query_id: [".".join(str(p) for p in path) for path in s.paths] for s in selections
            },
        )

    def decline(self, request: VerifierRequest) -> PresentationOutcome:
        """Tell the verifier the user said no (``access_denied``, sent unencrypted, §8.3.1)."""
        form = {"error": "access_denied", "error_description": "the user declined"}
        if request.state is not None:
            form["state"] = request.state
        redirect_uri = None
        try:
            response = self.http.post(request.response_uri, data=form, follow_redirects=False)
            body = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            body = {}
        if isinstance(body, dict) and isinstance(body.get("redirect_uri"), str):
            redirect_uri = _check_uri(body["redirect_uri"], "redirect_uri")
        return PresentationOutcome(
            client_id=request.client_id,
            response_mode=request.response_mode,
            redirect_uri=redirect_uri,
        )

    def present_link(self, link: str) -> PresentationOutcome:
        return self.present(self.fetch_request(link))

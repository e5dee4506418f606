"""The reference wallet's OpenID4VCI 1.0 client (pre-authorized code flow): resolve a credential
offer, read the issuer's metadata, redeem the code (with the ``tx_code`` PIN), fetch a
``c_nonce``, prove possession of the holder key, receive the SD-JWT VC, check it against the
issuer's published keys and store it.

All HTTP goes through the injected ``httpx.Client``; any failure is a ``ReceiveError`` whose
``code`` is the issuer's OAuth error (``invalid_grant``, ``invalid_proof``, …) or one of ours
(``invalid_offer``, ``issuer_unavailable``, ``tx_code_required``, ``invalid_credential``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ssar.clock import Clock
from ssar.credentials.trust import TrustConfig, TrustedIssuer
from ssar.credentials.verify import verify_credential
from ssar.errors import CredentialError, SsarError
from ssar.wallet.store import StoredCredential, Wallet

OFFER_SCHEME = "openid-credential-offer"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
SD_JWT_FORMATS = ("dc+sd-jwt", "vc+sd-jwt")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_MAX_LINK = 16384


class ReceiveError(SsarError):
    code = "receive_failed"
    title = "The credential could not be received"


def _refuse(detail: str, code: str) -> ReceiveError:
    return ReceiveError(detail, code=code)


def _check_url(url: Any, name: str) -> str:
    """An https URL (http only on loopback, for demos and tests)."""
    if not isinstance(url, str):
        raise _refuse(f"{name} is missing", "invalid_offer")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise _refuse(f"{name} is not a URL", "invalid_offer") from exc
    if not host or parts.scheme not in ("https", "http"):
        raise _refuse(f"{name} is not an http(s) URL", "invalid_offer")
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise _refuse(f"{name} must use https", "invalid_offer")
    return url


def well_known(identifier: str, name: str) -> list[str]:
    """Where the metadata of ``identifier`` lives: the well-known segment inserted between host
    and path (RFC 8414 §3, OpenID4VCI §12.2.2) first, appended to it second."""
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    inserted = f"{parts.scheme}://{parts.netloc}/.well-known/{name}{path}"
    appended = f"{identifier.rstrip('/')}/.well-known/{name}"
    return [inserted] if inserted == appended else [inserted, appended]


@dataclass(frozen=True)
class CredentialOffer:
    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    pre_authorized_code: str
    tx_code: Mapping[str, Any] | None


@dataclass(frozen=True)
class Received:
    stored: StoredCredential
    claims: dict[str, Any]
    credential_configuration_id: str


def parse_offer(document: Any) -> CredentialOffer:
    if not isinstance(document, Mapping):
        raise _refuse("the credential offer is not a JSON object", "invalid_offer")
    issuer = _check_url(document.get("credential_issuer"), "credential_issuer")
    ids = document.get("credential_configuration_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise _refuse("the offer names no credential configuration", "invalid_offer")
    grants = document.get("grants")
    grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, Mapping) else None
    if not isinstance(grant, Mapping) or not isinstance(grant.get("pre-authorized_code"), str):
        raise _refuse("only pre-authorized code offers are supported", "invalid_offer")
    tx_code = grant.get("tx_code")
    if tx_code is not None and not isinstance(tx_code, Mapping):
        raise _refuse("the offer's tx_code is not an object", "invalid_offer")
    return CredentialOffer(issuer, tuple(ids), grant["pre-authorized_code"], tx_code)


class Receiver:
    """Receives credentials into a :class:`Wallet` from OpenID4VCI issuers."""

    def __init__(self, *, wallet: Wallet, http: httpx.Client, clock: Clock) -> None:
        self.wallet = wallet
        self.http = http
        self.clock = clock

    # --- HTTP ----------------------------------------------------------------------------------

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            detail = body.get("error_description") if isinstance(body, dict) else None
            raise _refuse(
                f"{what} answered {response.status_code}: {detail or error or 'no detail'}",
                error if isinstance(error, str) and error.isidentifier() else "issuer_unavailable",
            )
        if not isinstance(body, dict):
            raise _refuse(f"{what} is not a JSON object", "issuer_unavailable")
        return body

    def _request(self, method: str, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, url, follow_redirects=False, **kwargs)
        except httpx.HTTPError as exc:
            raise _refuse(
                f"{what} could not be reached: {type(exc).__name__}", "issuer_unavailable"
            ) from exc
        return self._json(response, what)

    def _metadata(self, identifier: str, name: str, what: str) -> dict[str, Any]:
        last: ReceiveError | None = None
        for url in well_known(identifier, name):
            try:
                return self._request("GET", url, what)
            except ReceiveError as exc:
                last = exc
        assert last is not None
        raise last

    # --- the steps -----------------------------------------------------------------------------

    def resolve_offer(self, link: str) -> CredentialOffer:
        """``openid-credential-offer://?credential_offer_uri=…`` or ``…?credential_offer=…``
        (also on an https wallet entry point)."""
        if not isinstance(link, str) or not link.strip() or len(link) > _MAX_LINK:
            raise _refuse("the offer link is empty or too long", "invalid_offer")
        link = link.strip()
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in link):
            raise _refuse("the offer link holds control characters", "invalid_offer")
        parts = urlsplit(link)
        if parts.scheme not in (OFFER_SCHEME, "https", "http"):
            raise _refuse(f"links with scheme {parts.scheme!r} are not offers", "invalid_offer")
        query = parse_qs(parts.query, keep_blank_values=True)
        by_value, by_reference = query.get("credential_offer"), query.get("credential_offer_uri")
        if bool(by_value) == bool(by_reference) or len(by_value or by_reference or []) != 1:
            raise _refuse(
                "the link needs one credential_offer or one credential_offer_uri", "invalid_offer"
            )
        if by_value:
            try:
                document = json.loads(by_value[0])
            except ValueError as exc:
                raise _refuse("credential_offer is not JSON", "invalid_offer") from exc
        else:
            assert by_reference is not None
            uri = _check_url(by_reference[0], "credential_offer_uri")
            document = self._request("GET", uri, "the credential offer")
        return parse_offer(document)

    def issuer_metadata(self, issuer: str) -> dict[str, Any]:
        metadata = self._metadata(issuer, "openid-credential-issuer", "the issuer metadata")
        if metadata.get("credential_issuer") != issuer:
            raise _refuse("the metadata is for another issuer", "invalid_offer")
        return metadata

    def _configuration(self, offer: CredentialOffer, metadata: Mapping[str, Any]) -> str:
        supported = metadata.get("credential_configurations_supported")
        if not isinstance(supported, Mapping):
            raise _refuse("the issuer supports no credential configuration", "invalid_offer")
        for config_id in offer.credential_configuration_ids:
            config = supported.get(config_id)
            if not isinstance(config, Mapping) or config.get("format") not in SD_JWT_FORMATS:
                continue
            proofs = config.get("proof_types_supported", {})
            jwt = proofs.get("jwt") if isinstance(proofs, Mapping) else None
            algs = jwt.get("proof_signing_alg_values_supported") if isinstance(jwt, dict) else None
            if isinstance(algs, list) and "ES256" in algs:
                return config_id
        raise _refuse("the offer holds no SD-JWT VC this wallet can bind", "invalid_offer")

    def _token_endpoint(self, issuer: str, metadata: Mapping[str, Any]) -> str:
        servers = metadata.get("authorization_servers")
        server = servers[0] if isinstance(servers, list) and servers else issuer
        server = _check_url(server, "authorization server")
        as_metadata = self._metadata(
            server, "oauth-authorization-server", "the authorization server metadata"
        )
        return _check_url(as_metadata.get("token_endpoint"), "token_endpoint")

    def _check_tx_code(self, offer: CredentialOffer, tx_code: str | None) -> str | None:
        if offer.tx_code is None:
            return None
        if not tx_code:
            raise _refuse(
                "this offer needs the PIN (tx_code) shown by the issuer", "tx_code_required"
            )
        tx_code = tx_code.strip()
        length = offer.tx_code.get("length")
        if offer.tx_code.get("input_mode", "numeric") == "numeric" and not tx_code.isdigit():
            raise _refuse("the PIN is numeric", "tx_code_required")
        if isinstance(length, int) and len(tx_code) != length:
            raise _refuse(f"the PIN has {length} characters", "tx_code_required")
        return tx_code

    def _nonce(self, metadata: Mapping[str, Any]) -> str | None:
        endpoint = metadata.get("nonce_endpoint")
        if endpoint is None:
            return None
        body = self._request("POST", _check_url(endpoint, "nonce_endpoint"), "the nonce endpoint")
        nonce = body.get("c_nonce")
        if not isinstance(nonce, str) or not nonce:
            raise _refuse("the nonce endpoint returned no c_nonce", "issuer_unavailable")
        return nonce

    def _proof(self, issuer: str, nonce: str | None) -> str:
        key = self.wallet.holder_key()
        payload: dict[str, Any] = {"aud": issuer, "iat": int(self.clock.now().timestamp())}
        if nonce is not None:
            payload["nonce"] = nonce
        return key.sign_jwt({"typ": PROOF_TYP, "jwk": key.public_jwk()}, payload)

    def _credential(
        self, metadata: Mapping[str, Any], issuer: str, access_token: str, config_id: str
    ) -> str:
        endpoint = _check_url(metadata.get("credential_endpoint"), "credential_endpoint")
        for attempt in range(2):
            body = {
                "credential_configuration_id": config_id,
                "proofs": {"jwt": [self._proof(issuer, self._nonce(metadata))]},
            }
            try:
                answer = self._request(
                    "POST",
                    endpoint,
                    "the credential endpoint",
                    json=body,
                    headers={"Authorization": f"Bearer {access_token}"},
                )
            except ReceiveError as exc:
                if exc.code == "invalid_nonce" and attempt == 0:
                    continue  # the nonce went stale between the two calls: one more try
                raise
            credentials = answer.get("credentials")
            first = credentials[0] if isinstance(credentials, list) and credentials else None
            text = first.get("credential") if isinstance(first, dict) else None
            if not isinstance(text, str):
                raise _refuse("the issuer returned no credential", "invalid_credential")
            return text
        raise _refuse("the issuer kept refusing the nonce", "invalid_nonce")  # pragma: no cover

    def _check_credential(self, issuer: str, text: str) -> dict[str, Any]:
        """The credential verifies with the keys the issuer publishes (SD-JWT VC §5) and names
        the issuer that offered it: the wallet never stores a forgery or a mix-up."""
        keys = self._metadata(issuer, "jwt-vc-issuer", "the issuer's keys")
        if keys.get("issuer") != issuer or not isinstance(keys.get("jwks"), dict):
            raise _refuse("the issuer publishes no keys by value", "invalid_credential")
        trust = TrustConfig(issuers=(TrustedIssuer(iss=issuer, jwks=keys["jwks"]),))
        try:
            verified = verify_credential(text, trust=trust, now=self.clock.now())
        except CredentialError as exc:
            raise _refuse(
                f"the credential does not verify: {exc.detail}", "invalid_credential"
            ) from exc
        if verified.issuer != issuer:
            raise _refuse("the credential names another issuer", "invalid_credential")
        return dict(verified.claims)

    def receive(self, link: str, *, tx_code: str | None = None) -> Received:
        """Run the whole pre-authorized code flow for the offer behind ``link``."""
        offer = self.resolve_offer(link)
        pin = self._check_tx_code(offer, tx_code)
        metadata = self.issuer_metadata(offer.credential_issuer)
        config_id = self._configuration(offer, metadata)
        form = {
            "grant_type": PRE_AUTHORIZED_GRANT,
            "pre-authorized_code": offer.pre_authorized_code,
        }
        if pin is not None:
            form["tx_code"] = pin
        token = self._request(
            "POST",
            self._token_endpoint(offer.credential_issuer, metadata),
            "the token endpoint",
            data=form,
        )
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise _refuse("the token endpoint returned no access token", "issuer_unavailable")
        text = self._credential(metadata, offer.credential_issuer, access_token, config_id)
        claims = self._check_credential(offer.credential_issuer, text)
        stored = self.wallet.add(text, now=self.clock.now())
        return Received(stored=stored, claims=claims, credential_configuration_id=config_id)

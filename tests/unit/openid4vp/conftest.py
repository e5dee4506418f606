"""Shared set-up for the verifier tests: an issuer, a holder, and a started transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from ssar.clock import FixedClock
from ssar.credentials.dcql import DcqlQuery, build_identity_query
from ssar.credentials.jose import parse_compact_jws
from ssar.openid4vp.service import PresentationRequest, PresentationService
from ssar.registry import Registry
from tests.support.issuer import VCT, IdentityIssuer, disclose
from tests.unit.credentials.factory import Key

CLAIMS = ["given_name", "family_name", "birthdate"]


@dataclass
class Started:
    request: PresentationRequest
    claims: dict[str, Any]  # the Request Object's payload
    header: dict[str, Any]


@dataclass
class Verifier:
    service: PresentationService
    clock: FixedClock
    issuer: IdentityIssuer
    holder: Key

    def start(
        self,
        *,
        mode: str = "direct_post",
        same_device: bool = False,
        query: DcqlQuery | None = None,
    ) -> Started:
        request = self.service.create_request(
            dcql=query or build_identity_query(claims=CLAIMS, vct_values=[VCT]),
            trust=self.issuer.trust(),
            response_mode=mode,  # type: ignore[arg-type]
            same_device=same_device,
        )
        token = self.service.request_object(request_id=request.request_id)
        jws = parse_compact_jws(token)
        return Started(request=request, claims=jws.payload, header=jws.header)

    def presentation(
        self,
        started: Started,
        *,
        names: list[str] = CLAIMS,
        nonce: str | None = None,
        aud: str | None = None,
        holder: Key | bool | None = True,
    ) -> str:
        jwt, disclosures = self.issuer.issue(holder=self.holder, now=self.clock.now())
        return disclose(
            jwt,
            disclosures,
            names,
            holder=self.holder if holder is True else (holder or None),
            nonce=nonce or started.claims["nonce"],
            aud=aud or started.claims["client_id"],
            iat=int(self.clock.now().timestamp()),
        )

    def form(self, started: Started, vp_token: dict[str, list[str]]) -> dict[str, str]:
        return {"vp_token": json.dumps(vp_token), "state": started.claims["state"]}


@pytest.fixture
def verifier(registry: Registry, clock: FixedClock) -> Verifier:
    return Verifier(
        service=registry.presentations, clock=clock, issuer=IdentityIssuer(), holder=Key()
    )

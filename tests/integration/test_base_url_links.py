"""R31: links SSAR sends out (notifications, the OpenID4VP request) come from the configured base
URL, never from the Host header of the request that caused them."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from ssar.credentials.dcql import build_identity_query
from ssar.credentials.jose import b64url_decode
from ssar.credentials.trust import TrustConfig
from ssar.registry import Registry
from ssar.store.tables import AuthMethodRow, OutboxRow
from tests.support.users import add_user
from tests.support.web import csrf_of, page_client, signin_with_tap

EVIL = {"host": "evil.example"}


def test_R31_notification_links_ignore_the_host_header(registry: Registry) -> None:
    add_user(registry, "ada", emails=["ada@example.org"])
    with page_client(registry) as client:
        signin_with_tap(client, "ada", registry.signin.taps.issue(username="ada", actor="t").tap)
        with registry.database.transaction() as session:
            tap_id = session.execute(
                select(AuthMethodRow.id).where(AuthMethodRow.type == "tap")
            ).scalar_one()
        page = client.get("/security-info", headers=EVIL)
        removed = client.post(
            f"/security-info/methods/{tap_id}/remove",
            data={"csrf_token": csrf_of(page.text)},
            headers=EVIL,
        )
        assert removed.status_code == 303
    with registry.database.transaction() as session:
        bodies = [r.body_text for r in session.execute(select(OutboxRow)).scalars()]
    assert bodies, "removing a method must notify the user (R27)"
    links = [link for body in bodies for link in re.findall(r"https?://\S+", body)]
    assert links
    assert all(link.startswith("http://localhost:8000/") for link in links), links
    assert not any("evil.example" in body for body in bodies)


def test_R31_openid4vp_request_uses_the_configured_origin(registry: Registry) -> None:
    request = registry.presentations.create_request(
        dcql=build_identity_query(claims=["given_name"], vct_values=["urn:ssar:identity:1"]),
        trust=TrustConfig(),
    )
    with page_client(registry) as client:
        answer = client.get(f"/openid4vp/request/{request.request_id}", headers=EVIL)
    assert answer.status_code == 200
    payload = json.loads(b64url_decode(answer.text.strip().split(".")[1]))
    assert payload["response_uri"] == "http://localhost:8000/openid4vp/response"
    assert payload["client_id"] == "redirect_uri:http://localhost:8000/openid4vp/response"
    assert request.request_uri.startswith("http://localhost:8000/")
    assert request.client_id == "redirect_uri:http://localhost:8000/openid4vp/response"

"""An admin signed in to the admin center over HTTP, the way a browser does it: TAP sign-in,
passkey registration, then a passkey sign-in (the admin center accepts passkey sessions only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from starlette.testclient import TestClient

from ssar.registry import Registry
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.users import add_user
from tests.support.web import csrf_of, page_client, signin_with_tap


@dataclass
class AdminBrowser:
    client: TestClient
    csrf: str  # the CSRF token for forms (header ``x-csrf-token`` or field ``csrf_token``)
    username: str
    user_id: str

    def post(self, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        """A form POST with the CSRF field."""
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf})


def passkey_session(client: TestClient, registry: Registry, username: str) -> str:
    """Sign ``username`` in with a new passkey (registered after a TAP sign-in); returns the
    CSRF token of the admin overview (or of the landing page when it is not an admin)."""
    tap = registry.signin.taps.issue(username=username, actor="test").tap
    authenticator = SoftAuthenticator(origin=registry.settings.origin)
    csrf = signin_with_tap(client, username, tap)
    headers = {"x-csrf-token": csrf, "accept": "application/json"}
    options = client.post("/security-info/passkey/options", json={}, headers=headers).json()
    done = client.post(
        "/security-info/passkey",
        json={"credential": authenticator.create(options["publicKey"]), "label": "Admin key"},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    client.post("/signout", data={"csrf_token": csrf})
    csrf = csrf_of(client.get("/admin/signin").text)
    headers = {"x-csrf-token": csrf, "accept": "application/json"}
    options = client.post("/signin/passkey/options", json={}, headers=headers).json()
    response = client.post(
        "/signin/passkey",
        json={"credential": authenticator.get(options["publicKey"]), "next": "/admin"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    landing = client.get(response.json()["redirect"])
    if landing.status_code != 200:
        return csrf_of(client.get("/security-info").text)
    return csrf_of(landing.text)


@contextmanager
def admin_browser(
    registry: Registry, *, username: str = "root", role: str = "global_admin"
) -> Iterator[AdminBrowser]:
    """A new user holding ``role``, signed in to the admin center with a passkey::

    with admin_browser(registry) as admin:
        admin.client.get("/admin/users")
    """
    user_id = add_user(
        registry,
        username,
        given_name="Grace",
        family_name="Hopper",
        emails=[f"{username}@example.org"],
    )
    registry.admin_roles.grant(username, role, actor="test")
    with page_client(registry) as client:
        csrf = passkey_session(client, registry, username)
        yield AdminBrowser(client=client, csrf=csrf, username=username, user_id=user_id)

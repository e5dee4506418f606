"""Helpers for driving the pages with Starlette's TestClient like a browser would."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from ssar.registry import Registry
from ssar.web.app import create_app

#: inline script, style attributes or event handlers: none may appear on a page (R31)
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=", re.IGNORECASE)
CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


def csrf_of(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def page_client(registry: Registry, base_url: str | None = None) -> TestClient:
    return TestClient(
        create_app(registry),
        base_url=base_url or registry.settings.base_url,
        follow_redirects=False,
    )


def signin_with_tap(client: TestClient, username: str, tap: str) -> str:
    """Sign in through the pages; returns the CSRF token of the page after sign-in."""
    page = client.get("/signin")
    response = client.post(
        "/signin/tap", data={"username": username, "tap": tap, "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 303, response.text
    landing = client.get(response.headers["location"])
    assert landing.status_code == 200, landing.text
    return csrf_of(landing.text)

"""Browser end to end: TAP → passkey registration → passkey sign-in (username-first and
discoverable) → the TAP is spent. A CDP virtual authenticator stands in for the platform one."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServedSsar

pytestmark = pytest.mark.e2e


def _sign_out(page: object, base_url: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base_url}/signin?signed_out=true")
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def _enter_username(page: object, username: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Choose how to sign in")).to_be_visible()


def test_tap_then_passkey_signin_in_the_browser(
    ssar_server: ServedSsar, chromium: object, artifacts: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(chromium, Browser)
    base = ssar_server.base_url
    ssar_server.add_user("ada.lovelace", emails=["ada@example.org"])
    token = ssar_server.cli("tokens", "create", "--name", "e2e", "--scope", "admin", "--json")
    response = httpx.post(
        f"{base}/api/admin/users/ada.lovelace/tap",
        json={"lifetime_minutes": 30},
        headers={"authorization": f"Bearer {token['token']}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    tap = response.json()["tap"]

    context = chromium.new_context(viewport={"width": 1100, "height": 820})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # 1. username + TAP → straight to passkey registration
    page.goto(f"{base}/signin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-01-signin.png"), full_page=True)
    _enter_username(page, "ada.lovelace")
    page.screenshot(path=str(artifacts / "signin-02-methods.png"), full_page=True)
    page.get_by_role("textbox", name="Temporary Access Pass").fill(tap)
    page.get_by_role("button", name="Sign in with pass").click()
    page.wait_for_url(f"{base}/security-info/passkey")
    expect(page.get_by_role("heading", name="Register a passkey")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-03-register-passkey.png"), full_page=True)

    # 2. register a passkey with the virtual authenticator
    page.get_by_label("Name this passkey").fill("Virtual authenticator")
    page.get_by_role("button", name="Create a passkey").click()
    page.wait_for_url(f"{base}/security-info?added=passkey")
    expect(page.get_by_text("Your passkey was added.")).to_be_visible()
    expect(page.locator(".method-label", has_text="Virtual authenticator")).to_be_visible()
    expect(page.get_by_role("button", name="Remove Virtual authenticator")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-04-security-info.png"), full_page=True)
    credentials = cdp.send(
        "WebAuthn.getCredentials", {"authenticatorId": authenticator["authenticatorId"]}
    )["credentials"]
    assert len(credentials) == 1
    assert credentials[0]["isResidentCredential"] is True
    page.get_by_role("link", name="Add an authenticator app").click()
    expect(page.get_by_role("img", name="QR code")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-04b-totp.png"), full_page=True)
    page.get_by_role("link", name="Back to security info").click()
    _sign_out(page, base)

    # 3. username-first passkey sign-in
    _enter_username(page, "ada.lovelace")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(f"{base}/security-info")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(page.get_by_text("Ada Lovelace")).to_be_visible()
    _sign_out(page, base)

    # 4. discoverable passkey sign-in, no username typed
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(f"{base}/security-info")
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    _sign_out(page, base)

    # 5. the one-time TAP is spent: the uniform failure page
    _enter_username(page, "ada.lovelace")
    page.get_by_role("textbox", name="Temporary Access Pass").fill(tap)
    page.get_by_role("button", name="Sign in with pass").click()
    expect(page.get_by_role("heading", name="Sign-in failed")).to_be_visible()
    page.screenshot(path=str(artifacts / "signin-05-tap-spent.png"), full_page=True)
    assert page.url == f"{base}/signin/tap"

    # the recovery placeholder and a narrow screen, for the record
    page.goto(f"{base}/recover")
    page.screenshot(path=str(artifacts / "signin-06-recover.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{base}/signin")
    page.screenshot(path=str(artifacts / "signin-07-signin-mobile.png"), full_page=True)
    # the only console error is the browser reporting the expected 401 of the spent TAP
    assert [p for p in problems if "status of 401" not in p] == []
    context.close()

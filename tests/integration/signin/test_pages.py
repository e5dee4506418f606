"""The sign-in pages through HTTP: cookies, CSRF, uniform answers, CSP-clean markup (R26, R27)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ssar.clock import FixedClock
from ssar.registry import Registry
from ssar.store.tables import SessionRow
from tests.conftest import make_settings
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.users import add_user
from tests.support.web import INLINE, csrf_of, page_client, signin_with_tap


@pytest.fixture
def https_registry(registry: Registry, tmp_path: Path, clock: FixedClock) -> Registry:
    reg = Registry(
        make_settings(registry.settings.database_url, tmp_path, base_url="https://id.example.org"),
        clock=clock,
    )
    add_user(reg, "ada", emails=["ada@example.org"])
    return reg


def _set_cookies(response: object) -> list[str]:
    return response.headers.get_list("set-cookie")  # type: ignore[attr-defined, no-any-return]


def test_R26_session_cookie_attributes_over_https(https_registry: Registry) -> None:
    tap = https_registry.signin.taps.issue(username="ada", actor="test").tap
    with page_client(https_registry, "https://id.example.org") as client:
        page = client.get("/signin")
        [browser_cookie] = _set_cookies(page)
        assert browser_cookie.startswith("__Host-ssar_browser=")
        response = client.post(
            "/signin/tap", data={"username": "ada", "tap": tap, "csrf_token": csrf_of(page.text)}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/security-info/passkey"
        [cookie] = [c for c in _set_cookies(response) if c.startswith("__Host-ssar_session=")]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "path", "samesite"} <= attributes
        assert "domain" not in attributes
        assert "Path=/" in cookie
        assert "SameSite=lax" in cookie
        token = cookie.split(";")[0].split("=", 1)[1]
        assert len(token) >= 43  # 256 bits, base64url
        assert client.get("/security-info").status_code == 200


def test_R26_session_cookie_over_http_has_no_host_prefix(registry: Registry) -> None:
    add_user(registry, "ada")
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    with page_client(registry) as client:
        page = client.get("/signin")
        response = client.post(
            "/signin/tap", data={"username": "ada", "tap": tap, "csrf_token": csrf_of(page.text)}
        )
        [cookie] = [c for c in _set_cookies(response) if "ssar_session=" in c]
        assert cookie.startswith("ssar_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/signin/tap", "form"),
        ("/signin", "form"),
        ("/signout", "form"),
        ("/signin/passkey/options", "json"),
        ("/signin/passkey", "json"),
    ],
)
def test_R26_post_without_or_with_wrong_csrf_token_is_forbidden(
    registry: Registry, path: str, kind: str
) -> None:
    add_user(registry, "ada")
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    with page_client(registry) as client:
        client.get("/signin")  # the pre-session cookie exists
        for token in (None, "0" * 64):
            if kind == "form":
                data = {"username": "ada", "tap": tap}
                if token:
                    data["csrf_token"] = token
                response = client.post(path, data=data)
            else:
                headers = {"accept": "application/json"}
                if token:
                    headers["x-csrf-token"] = token
                response = client.post(path, json={"username": "ada"}, headers=headers)
            assert response.status_code == 403
            assert "ssar_session" not in response.headers.get("set-cookie", "")
    # the TAP is still unused: the forged request changed nothing
    assert registry.signin.signin_with_tap(username="ada", tap=tap)


def test_R26_new_session_cookie_on_every_signin(registry: Registry) -> None:
    add_user(registry, "ada")
    with page_client(registry) as client:
        tap = registry.signin.taps.issue(username="ada", actor="test").tap
        signin_with_tap(client, "ada", tap)
        first = client.cookies.get("ssar_session")
        tap = registry.signin.taps.issue(username="ada", actor="test").tap
        signin_with_tap(client, "ada", tap)
        second = client.cookies.get("ssar_session")
    assert first
    assert second
    assert first != second
    assert registry.signin.sessions.resolve(first) is None
    assert registry.signin.sessions.resolve(second) is not None


def test_R26_idle_session_sends_the_browser_back_to_signin(
    registry: Registry, clock: FixedClock
) -> None:
    add_user(registry, "ada")
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    with page_client(registry) as client:
        signin_with_tap(client, "ada", tap)
        assert client.get("/security-info").status_code == 200
        clock.advance(timedelta(minutes=61))
        response = client.get("/security-info")
        assert response.status_code == 303
        assert response.headers["location"] == "/signin"


def test_signout_revokes_and_clears_the_cookie(registry: Registry) -> None:
    add_user(registry, "ada")
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    with page_client(registry) as client:
        csrf = signin_with_tap(client, "ada", tap)
        token = client.cookies.get("ssar_session")
        response = client.post("/signout", data={"csrf_token": csrf})
        assert response.status_code == 303
        assert response.headers["location"] == "/signin?signed_out=true"
        assert 'ssar_session=""' in response.headers["set-cookie"]
    assert registry.signin.sessions.resolve(token) is None
    with registry.database.transaction() as session:
        [row] = session.execute(select(SessionRow)).scalars()
        assert row.revoked_at is not None


def test_method_choice_page_is_the_same_for_unknown_users(registry: Registry) -> None:
    add_user(registry, "ada")
    with page_client(registry) as client:
        csrf = csrf_of(client.get("/signin").text)
        known = client.post("/signin", data={"username": "ada", "csrf_token": csrf})
        unknown = client.post("/signin", data={"username": "zed", "csrf_token": csrf})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("ada", "zed") == unknown.text
    for marker in ("data-passkey-signin", 'action="/signin/totp"', 'action="/signin/tap"'):
        assert marker in known.text


def test_failed_tap_signin_shows_one_uniform_message(registry: Registry) -> None:
    add_user(registry, "ada")
    registry.signin.taps.issue(username="ada", actor="test")
    bodies = []
    with page_client(registry) as client:
        csrf = csrf_of(client.get("/signin").text)
        for username in ("ada", "nobody"):
            response = client.post(
                "/signin/tap",
                data={"username": username, "tap": "WrongWrongWrong1", "csrf_token": csrf},
                headers={"accept": "text/html"},
            )
            assert response.status_code == 401
            bodies.append(response.text)
    assert bodies[0] == bodies[1]
    assert "Sign-in failed" in bodies[0]
    assert 'href="/signin"' in bodies[0]


def test_R27_security_info_asks_to_sign_in_again_when_not_recent(
    registry: Registry, clock: FixedClock
) -> None:
    add_user(registry, "ada", emails=["ada@example.org"])
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    with page_client(registry) as client:
        signin_with_tap(client, "ada", tap)
        clock.advance(timedelta(minutes=11))
        page = client.get("/security-info")
        assert "sign in again" in page.text
        response = client.post(
            "/security-info/passkey/options",
            json={},
            headers={"x-csrf-token": csrf_of(page.text), "accept": "text/html"},
        )
        assert response.status_code == 401
        assert "Sign in again" in response.text


def test_passkey_pages_register_and_sign_in_over_http(registry: Registry) -> None:
    add_user(registry, "ada")
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    authenticator = SoftAuthenticator(origin=registry.settings.origin)
    with page_client(registry) as client:
        csrf = signin_with_tap(client, "ada", tap)
        headers = {"x-csrf-token": csrf, "accept": "application/json"}
        options = client.post("/security-info/passkey/options", json={}, headers=headers).json()
        credential = authenticator.create(options["publicKey"])
        done = client.post(
            "/security-info/passkey",
            json={"credential": credential, "label": "Laptop"},
            headers=headers,
        )
        assert done.json() == {"redirect": "/security-info?added=passkey"}
        listing = client.get(done.json()["redirect"]).text
        assert "Laptop" in listing
        assert "Your passkey was added." in listing
        client.post("/signout", data={"csrf_token": csrf})
        csrf = csrf_of(client.get("/signin").text)
        headers = {"x-csrf-token": csrf, "accept": "application/json"}
        options = client.post("/signin/passkey/options", json={}, headers=headers).json()
        response = client.post(
            "/signin/passkey",
            json={"credential": authenticator.get(options["publicKey"])},
            headers=headers,
        )
        assert response.json() == {"redirect": "/security-info"}
        assert client.get("/security-info").status_code == 200


def test_R31_pages_have_no_inline_script_style_or_handlers(registry: Registry) -> None:
    add_user(registry, "ada")
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    with page_client(registry) as client:
        pages = [client.get("/signin"), client.get("/recover")]
        csrf = csrf_of(pages[0].text)
        pages.append(client.post("/signin", data={"username": "ada", "csrf_token": csrf}))
        pages.append(client.get("/nope", headers={"accept": "text/html"}))
        signin_with_tap(client, "ada", tap)
        pages += [
            client.get("/security-info"),
            client.get("/security-info/passkey"),
            client.get("/security-info/totp"),
        ]
    for page in pages:
        assert "text/html" in page.headers["content-type"]
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert INLINE.search(page.text) is None, page.text
        assert '<link rel="stylesheet" href="/static/ssar.css">' in page.text


def test_signin_page_links_to_recovery(registry: Registry) -> None:
    with page_client(registry) as client:
        signin = client.get("/signin").text
        recover = client.get("/recover").text
        assert client.get("/static/webauthn.js").status_code == 200
    assert 'href="/recover"' in signin
    assert "Can&#39;t access your account?" in signin or "Can't access your account?" in signin
    assert "Recover my account" in recover
    assert 'action="/recover"' in recover


def test_totp_wrong_code_shows_the_same_form_again(registry: Registry) -> None:
    from ssar.signin.totp import code_at_step, time_step

    add_user(registry, "ada")
    tap = registry.signin.taps.issue(username="ada", actor="test").tap
    with page_client(registry) as client:
        signin_with_tap(client, "ada", tap)
        page = client.get("/security-info/totp").text
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page)
        token = re.search(r'name="enrolment_token" value="([^"]+)"', page)
        assert secret is not None
        assert token is not None
        right = code_at_step(secret.group(1), time_step(registry.clock.now()))
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        again = client.post(
            "/security-info/totp",
            data={
                "csrf_token": csrf_of(page),
                "enrolment_token": token.group(1),
                "code": wrong,
                "label": "Work phone",
            },
        )
        assert again.status_code == 422
        assert "That code did not work" in again.text
        assert secret.group(1) in again.text  # the same enrolment, not a new secret
        assert 'value="Work phone"' in again.text
        done = client.post(
            "/security-info/totp",
            data={
                "csrf_token": csrf_of(again.text),
                "enrolment_token": token.group(1),
                "code": right,
                "label": "Work phone",
            },
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/security-info?added=totp"
        assert "Work phone" in client.get("/security-info").text

"""The admin center's Done-when story (issue #7), in a real browser against ``ssar serve``.

An admin signs in with a passkey, creates a verification profile in evaluation mode through the
pages and trusts the credential issuer, a user runs a recovery (wallet credential + live face
check with the fake camera), the admin finds the case in the report with each check's outcome,
switches the profile to production, and reads the cost-savings estimator. Every page is
screenshotted into ``test-artifacts/admin-*.png`` (also at a phone's width, to show it adapts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ssar.clock import SystemClock
from ssar.config import Settings
from ssar.registry import Registry
from ssar.wallet.store import Wallet
from tests.e2e.test_recovery_story import (
    USERNAME,
    _authenticator,
    _cli,
)
from tests.support.faces import portrait_data_uri
from tests.support.issuer import IdentityIssuer, holder_from
from tests.support.server import free_port, running_server, server_env

pytestmark = pytest.mark.e2e

ADMIN = "rita.admin"


def _seed(registry: Registry, env: dict[str, str], tmp_path: Path) -> IdentityIssuer:
    """The organisation before the admin starts: groups, Ada, an admin, and Ada's credential
    from an identity issuer in her wallet (the issuer is not trusted yet)."""
    directory = registry.directory
    for name, parent in (("All Staff", None), ("Engineering", "All Staff"), ("Executives", None)):
        directory.add_group(name=name, parent=parent, actor="test")
    directory.add_user(
        username=USERNAME,
        given_name="Ada",
        family_name="Lovelace",
        emails=("ada@example.org",),
        birthdate="1990-12-10",
        groups=["Engineering"],
    )
    directory.add_user(
        username=ADMIN, given_name="Rita", family_name="Admin", emails=("rita@example.org",)
    )
    registry.admin_roles.grant(ADMIN, "global_admin", actor="test")
    issuer = IdentityIssuer()
    _cli(env, "wallet", "init")
    key = Wallet(registry.settings.var_dir / "wallet").holder_key()
    credential = issuer.issue_text(
        holder=holder_from(key.private_key),
        now=SystemClock().now(),
        claims={
            "given_name": "Ada",
            "family_name": "Lovelace",
            "birthdate": "1990-12-10",
            "portrait": portrait_data_uri(),
        },
    )
    (tmp_path / "ada.sd-jwt").write_text(credential)
    _cli(env, "wallet", "import", str(tmp_path / "ada.sd-jwt"))
    return issuer


def _register_passkey_with_tap(page: object, base: str, username: str, tap: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(f"{base}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("textbox", name="Temporary Access Pass").fill(tap)
    page.get_by_role("button", name="Sign in with pass").click()
    page.wait_for_url(f"{base}/security-info/passkey")
    page.get_by_label("Name this passkey").fill("Admin laptop")
    page.get_by_role("button", name="Create a passkey").click()
    page.wait_for_url(f"{base}/security-info?added=passkey")
    expect(page.locator(".method-label", has_text="Admin laptop")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/signin?signed_out=true")


def test_admin_center_story(camera_chromium: object, tmp_path: Path, artifacts: Path) -> None:
    from playwright.sync_api import Browser, Page, expect

    assert isinstance(camera_chromium, Browser)
    port = free_port()
    var_dir = tmp_path / "var"
    database_url = f"sqlite:///{tmp_path}/ssar.db"
    shots: list[str] = []

    def shot(page: Page, name: str) -> None:
        path = artifacts / f"admin-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path.name)

    with running_server(
        database_url=database_url, var_dir=var_dir, port=port, demo=True, log=tmp_path / "serve.log"
    ) as base:
        env = server_env(database_url=database_url, var_dir=var_dir, base_url=base, demo=True)
        registry = Registry(Settings(database_url=database_url, var_dir=var_dir, base_url=base))
        try:
            issuer = _seed(registry, env, tmp_path)
            admin_context = camera_chromium.new_context(viewport={"width": 1280, "height": 900})
            page = admin_context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            cdp = admin_context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            _authenticator(cdp)

            # the admin: a TAP from the CLI, a passkey, then the admin center
            tap = str(_cli(env, "tap", "issue", ADMIN)["tap"])
            _register_passkey_with_tap(page, base, ADMIN, tap)
            page.goto(f"{base}/admin")
            page.wait_for_url(f"{base}/admin/signin")
            shot(page, "00-signin")
            page.get_by_role("button", name="Sign in with a passkey").click()
            page.wait_for_url(f"{base}/admin")
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            expect(page.get_by_text("Start the guided set-up")).to_be_visible()
            shot(page, "01-overview-first-run")

            _story_steps(page, base, registry, issuer, shot, camera_chromium, env)
            admin_context.close()
        finally:
            registry.close()
    assert problems == []
    (artifacts / "admin-screenshots.json").write_text(json.dumps(shots, indent=2))


def _story_steps(
    page: object,
    base: str,
    registry: Registry,
    issuer: IdentityIssuer,
    shot: Callable[[object, str], None],
    browser: object,
    env: dict[str, str],
) -> None:
    """Filled in as the pages land (profiles, trust, reports, estimator)."""

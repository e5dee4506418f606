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
    _face_check_passes,
    _methods,
    _tap_to_passkey,
)
from tests.support.faces import portrait_data_uri
from tests.support.issuer import IdentityIssuer, holder_from
from tests.support.server import free_port, running_server, server_env

pytestmark = pytest.mark.e2e

ADMIN = "rita.admin"
#: the outermost elements that stick out past the right edge of the viewport (to name the culprit)
WIDEST = """() => {
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.right > window.innerWidth + 1 && !clipped(el)) {
      out.push(el.tagName.toLowerCase() + "." + String(el.className).split(" ").join(".") + " " + Math.round(r.right));
    }
  }
  return out.slice(0, 6);
}"""


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
            _tap_to_passkey(page, base, tap, "Admin laptop", username=ADMIN)
            page.goto(f"{base}/admin")
            page.wait_for_url(f"{base}/admin/signin")
            shot(page, "00-signin")
            page.get_by_role("button", name="Sign in with a passkey").click()
            page.wait_for_url(f"{base}/admin")
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            expect(page.get_by_text("Start the guided set-up")).to_be_visible()
            shot(page, "01-overview-first-run")

            _story_steps(page, base, registry, issuer, shot, camera_chromium)
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
) -> None:
    from playwright.sync_api import Browser, Page, expect

    assert isinstance(page, Page)
    assert isinstance(browser, Browser)

    # a profile in evaluation mode, through the form
    page.get_by_role("link", name="Verification profiles").click()
    page.get_by_role("link", name="New profile").click()
    expect(page.get_by_role("heading", name="New verification profile")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Employees")
    page.get_by_label("Description").fill("Everyone on staff but executives")
    page.get_by_label("Priority").fill("1")
    page.locator('input[name="include_groups"][value="All Staff"]').check()
    page.locator('input[name="exclude_groups"][value="Executives"]').check()
    page.get_by_label("Verification provider").select_option("reference")
    page.locator('input[name="match"][value="relaxed"]').check()
    page.locator('input[name="face_required"]').check()
    page.get_by_label("Match threshold", exact=False).fill("70")
    shot(page, "02-profile-new")
    page.get_by_role("button", name="Create profile").click()
    expect(page.get_by_role("status")).to_be_visible()
    profile = registry.profiles.get("Employees")
    assert (profile.mode, profile.provider, profile.face_check.required) == (
        "evaluation",
        "reference",
        True,
    )
    shot(page, "03-profile-created")

    # the issuer of Ada's credential becomes trusted for the profile
    page.get_by_role("link", name="Trusted issuers").click()
    page.get_by_label("Profile").select_option(label="Employees (reference, evaluation)")
    page.get_by_label("Issuer identifier").fill(issuer.iss)
    page.locator("#source-jwks").check()
    page.get_by_role("textbox", name="Public keys (JWKS)").fill(
        json.dumps({"keys": [issuer.key.jwk]})
    )
    page.get_by_role("button", name="Trust this issuer").click()
    expect(page.get_by_role("status")).to_be_visible()
    expect(page.get_by_text(issuer.iss).first).to_be_visible()
    shot(page, "04-trust")
    assert registry.profiles.which(USERNAME).profile is not None

    # Ada recovers in another browser (evaluation: nothing on her account changes)
    before = _methods(registry)
    person = browser.new_context(viewport={"width": 1000, "height": 900})
    person.grant_permissions(["camera"], origin=base)
    ada = person.new_page()
    ada.goto(f"{base}/recover")
    ada.get_by_label("Username of the account to recover").fill(USERNAME)
    ada.get_by_role("button", name="Recover my account").click()
    ada.wait_for_url(f"{base}/recover/verify")
    ada.get_by_role("button", name="Open the demo wallet").click()
    ada.click("#share")
    ada.wait_for_url(f"{base}/recover/face")
    _face_check_passes(ada, registry, f"{base}/recover/result")
    expect(ada.get_by_role("heading", name="Identity verified")).to_be_visible()
    person.close()
    assert _methods(registry) == before

    # the case in the report, check by check
    page.get_by_role("link", name="Recovery reports").click()
    expect(page.locator("#funnel-table")).to_be_visible()
    shot(page, "05-reports")
    page.locator("#cases-table").get_by_role("link", name=USERNAME).click()
    expect(page.get_by_role("heading", name="Check by check")).to_be_visible()
    outcomes = dict(
        zip(
            page.locator("#checks-table tr[data-check]").evaluate_all(
                "rows => rows.map(r => r.dataset.check)"
            ),
            page.locator("#checks-table tr[data-check]").evaluate_all(
                "rows => rows.map(r => r.dataset.outcome)"
            ),
            strict=True,
        )
    )
    for check in ("credential", "face", "account_match"):
        assert outcomes.get(check) == "passed", outcomes
    assert "decision" in outcomes, outcomes
    shot(page, "06-case")

    # to production, behind its confirmation
    page.get_by_role("link", name="Verification profiles").click()
    shot(page, "07-profiles")
    page.get_by_role("link", name="Switch mode").first.click()
    shot(page, "08-mode-confirm")
    page.locator('input[name="confirm"]').check()
    page.get_by_role("button", name="Switch to production").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert registry.profiles.get("Employees").mode == "production"

    # the estimator: a projection for the directory, and the organisation's own actuals
    page.get_by_role("link", name="Cost savings").click()
    projection = page.locator("#projection-table")
    expect(projection).to_be_visible()
    monthly = projection.locator('[data-value="net_monthly"]').inner_text()
    assert monthly.startswith("$"), monthly
    assert page.locator('#actuals-table [data-value="evaluated"]').inner_text().strip() == "1"
    expect(page.locator("pre.formula")).to_be_visible()
    # 5,000 people, 2 % a month, 90 % self-served: 90 × $60 − 100 × $1.50 = $5,250.00
    page.get_by_label("Users", exact=True).fill("5000")
    page.get_by_role("button", name="Calculate").click()
    assert projection.locator('[data-value="net_monthly"]').inner_text() == "$5,250.00"
    assert projection.locator('[data-value="attempts"]').inner_text() == "100"
    # (90 × (60 − 5) − 10 × 5) min ÷ 60
    assert projection.locator('[data-value="hours_regained"]').inner_text().startswith("81.7")
    shot(page, "09-estimator")

    # every other page, for the record (and the phone-sized layout)
    for name, link in (
        ("10-users", "Users"),
        ("11-groups", "Groups"),
        ("12-providers", "Verification providers"),
        ("13-tap-policy", "Temporary Access Pass"),
        ("14-audit", "Audit log"),
        ("15-settings", "Settings"),
    ):
        page.locator(".admin-nav").get_by_role("link", name=link, exact=True).click()
        expect(page.locator("h1")).to_be_visible()
        shot(page, name)
    page.goto(f"{base}/admin/users?q=ada")
    page.locator("table").get_by_role("link").first.click()
    expect(page.locator("h1")).to_contain_text("Ada")
    shot(page, "16-user")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/admin/reports")
    shot(page, "17-reports-phone")
    wide = {}
    for path in (
        "/admin",
        "/admin/reports",
        "/admin/users",
        "/admin/groups",
        "/admin/profiles",
        "/admin/profiles/new",
        "/admin/providers",
        "/admin/trust",
        "/admin/tap-policy",
        "/admin/estimator",
        "/admin/audit",
        "/admin/settings",
        "/admin/setup",
    ):
        page.goto(f"{base}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide[path] = (width, page.evaluate(WIDEST))
            shot(page, "phone" + path.replace("/", "-"))
    assert wide == {}, f"pages that scroll sideways on a phone: {wide}"

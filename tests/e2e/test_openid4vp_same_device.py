"""Browser end to end: a same-device presentation through the demo web wallet of a real
``ssar serve`` — link → consent → share → back to the verifier with the response code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssar.cli.main import app as cli
from ssar.clock import SystemClock
from ssar.credentials.dcql import build_identity_query
from ssar.registry import Registry
from ssar.wallet.store import Wallet
from tests.conftest import make_settings
from tests.support.issuer import VCT, IdentityIssuer, holder_from
from tests.support.server import free_port, running_server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.e2e


@pytest.fixture
def browser_page() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: install Debian's chromium (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_same_device_presentation_in_the_browser(
    browser_page: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import Page, expect

    page = browser_page
    assert isinstance(page, Page)
    port = free_port()
    var_dir = tmp_path / "var"
    database_url = f"sqlite:///{tmp_path}/ssar.db"
    monkeypatch.setenv("SSAR_VAR_DIR", str(var_dir))
    monkeypatch.delenv("SSAR_WALLET_DIR", raising=False)

    # the demo web wallet keeps its key and credentials in var/wallet
    result = CliRunner().invoke(cli, ["wallet", "init", "--json"])
    assert result.exit_code == 0, result.output
    key = Wallet(var_dir / "wallet").holder_key()
    issuer = IdentityIssuer()
    credential = issuer.write(
        tmp_path / "id.sd-jwt", holder=holder_from(key.private_key), now=SystemClock().now()
    )
    result = CliRunner().invoke(cli, ["wallet", "import", str(credential), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["credential_type"] == VCT

    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    with running_server(
        database_url=database_url, var_dir=var_dir, port=port, log=tmp_path / "serve.log"
    ) as base_url:
        registry = Registry(
            make_settings(database_url, tmp_path, base_url=base_url), clock=SystemClock()
        )
        try:
            request = registry.presentations.create_request(
                dcql=build_identity_query(
                    claims=["given_name", "family_name", "birthdate"], vct_values=[VCT]
                ),
                trust=issuer.trust(),
                response_mode="direct_post.jwt",
                same_device=True,
            )
            page.goto(f"{base_url}/wallet")
            expect(page.locator("#credentials li")).to_have_count(1)
            page.fill("#link", request.link)
            page.click("#open-link")
            expect(page.locator("#verifier")).to_have_text(request.client_id)
            expect(page.locator("#requested")).to_contain_text("birthdate")
            page.click("#share")
            page.wait_for_url(f"{base_url}/openid4vp/return?response_code=*")
            expect(page.locator("#result")).to_have_attribute("data-status", "verified")
            expect(page.locator('[data-claim="family_name"]')).to_have_text("Mustermann")
            expect(page.locator('[data-claim="birthdate"]')).to_have_text("1984-01-26")
            expect(page.locator('[data-claim="portrait"]')).to_have_count(0)  # not requested

            # the response code works once: reloading the return page shows nothing more
            page.reload()
            expect(page.locator("#result")).to_have_attribute("data-status", "failed")
            status = registry.presentations.status(transaction_id=request.transaction_id)
            assert status.status == "consumed"
        finally:
            registry.close()
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors

"""The acceptance story of ARCHITECTURE.md, end to end in a real browser against ``ssar serve``.

1. Ada is onboarded: directory user in a nested group, signs in with a TAP, registers a passkey.
2. She loses her phone (the virtual authenticator goes). At the sign-in page she types her
   username and chooses "Can't access your account?" → "Recover my account".
3./4. She shares her identity credential (SD-JWT VC with name, birth date and portrait from a test
   issuer, until the reference verification service lands) from the demo web wallet, same device.
5. Face check: Chromium's fake camera plays a video of her turning her head (scikit-image's
   astronaut, the portrait's person) through the challenge; it is matched with the portrait.
6./7. Names match; production revokes the lost passkey and shows a TAP once; she and the admin
   are mailed. Evaluation mode: she is told it was a trial, and the account is provably unchanged.
8. She signs in with the TAP, registers a new passkey and signs in with it.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from ssar.clock import SystemClock
from ssar.config import Settings
from ssar.registry import Registry
from ssar.wallet.store import Wallet
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.face_videos import fake_camera_args, head_turn_video
from tests.support.faces import portrait_data_uri
from tests.support.issuer import VCT, IdentityIssuer, holder_from
from tests.support.server import free_port, running_server, server_env, ssar_command

pytestmark = pytest.mark.e2e

USERNAME = "ada.lovelace"


@pytest.fixture(scope="module")
def second_head_turn_y4m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same person on another day: other sensor noise, so no frame repeats the first
    video's bytes (the service refuses a frame it has seen in any flow, R20)."""
    from skimage import data

    return head_turn_video(
        np.ascontiguousarray(data.astronaut()),
        tmp_path_factory.mktemp("video") / "ada-again.y4m",
        seed=1,
    )


@pytest.fixture
def two_cameras(head_turn_y4m: Path, second_head_turn_y4m: Path) -> Iterator[tuple[object, object]]:
    """Two browsers whose fake cameras show the same person with different sensor noise."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: install Debian's chromium (`make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        first, second = (
            playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *fake_camera_args(video)]
            )
            for video in (head_turn_y4m, second_head_turn_y4m)
        )
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def _cli(env: dict[str, str], *args: str) -> dict[str, object]:
    result = subprocess.run(
        ssar_command(*args, "--json"), env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr or result.stdout
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _organisation(
    registry: Registry, tmp_path: Path, env: dict[str, str], mode: str, portrait: str
) -> None:
    directory = registry.directory
    for name, parent in (
        ("All Staff", None),
        ("Engineering", "All Staff"),
        ("Platform", "Engineering"),
    ):
        directory.add_group(name=name, parent=parent, actor="test")
    directory.add_user(
        username=USERNAME,
        given_name="Ada",
        family_name="Lovelace",
        emails=("ada@example.org",),
        birthdate="1990-12-10",
    )
    directory.add_member(group="Platform", username=USERNAME)
    directory.add_user(
        username="root",
        given_name="Rita",
        family_name="Admin",
        emails=("admin@example.org",),
        privileged=True,
    )
    issuer = IdentityIssuer()
    profile = {
        "profiles": [
            {
                "name": "Employees",
                "description": "Everyone on staff",
                "mode": mode,
                "priority": 1,
                "include_groups": ["All Staff"],
                "provider": "openid4vp",
                "credentials": {
                    "types": [VCT],
                    "issuers": [{"iss": issuer.iss, "jwks": {"keys": [issuer.key.jwk]}}],
                },
                "validation": {"match": "relaxed"},
                "face_check": {"required": True, "threshold": 70},
                "tap": {"lifetime_minutes": 60, "one_time": True},
            }
        ]
    }
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump(profile))
    _cli(env, "profiles", "apply", str(path))
    which = _cli(env, "profiles", "which", USERNAME)
    assert which["profile"] == "Employees", which
    # Ada's wallet (the demo web wallet of this server) holds her identity credential
    _cli(env, "wallet", "init")
    key = Wallet(registry.settings.var_dir / "wallet").holder_key()
    credential = issuer.issue_text(
        holder=holder_from(key.private_key),
        now=SystemClock().now(),
        claims={
            "given_name": "Ada",
            "family_name": "Lovelace",
            "birthdate": "1990-12-10",
            "portrait": portrait,
        },
    )
    (tmp_path / "ada.sd-jwt").write_text(credential)
    _cli(env, "wallet", "import", str(tmp_path / "ada.sd-jwt"))


def _methods(registry: Registry) -> list[tuple[str, bool]]:
    """(type, active) of every sign-in method Ada has or had."""
    from sqlalchemy import select

    from ssar.store.tables import AuthMethodRow

    user = registry.directory.get_user(USERNAME)
    with registry.database.transaction() as session:
        rows = session.execute(
            select(AuthMethodRow.type, AuthMethodRow.revoked_at, AuthMethodRow.used_at).where(
                AuthMethodRow.user_id == user.id
            )
        ).all()
    # a one-time TAP that was used is spent: no longer active
    return sorted(
        (t, revoked is None and (t != "tap" or used is None)) for t, revoked, used in rows
    )


def _authenticator(cdp: object) -> str:
    answer = cdp.send(  # type: ignore[attr-defined]
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
    return str(answer["authenticatorId"])


def _face_check_passes(page: object, registry: Registry, url: str) -> None:
    """Press Start and wait for ``url``; a retry instead (a person would try again) fails the
    test with the case's face checks, so a flaky capture shows its reason."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.locator("[data-face-start]").click()
    retry = page.get_by_role("button", name="Try the face check again")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if page.url.startswith(url):
            return
        if retry.is_visible():
            cases = registry.recovery.cases()
            checks = [c for case in cases for c in case["checks"] if c["check"] == "face"]
            raise AssertionError(f"the face check asked for a retry: {checks}")
        page.wait_for_timeout(250)
    raise AssertionError(f"no {url} after 90 s")


def _tap_to_passkey(
    page: object, base: str, tap: str, label: str, *, username: str = USERNAME
) -> None:
    """Sign in with a TAP, register a passkey named ``label``, sign out."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(f"{base}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("textbox", name="Temporary Access Pass").fill(tap)
    page.get_by_role("button", name="Sign in with pass").click()
    page.wait_for_url(f"{base}/security-info/passkey")
    page.get_by_label("Name this passkey").fill(label)
    page.get_by_role("button", name="Create a passkey").click()
    page.wait_for_url(f"{base}/security-info?added=passkey")
    expect(page.locator(".method-label", has_text=label)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/signin?signed_out=true")


def _someone_else() -> str:
    """The portrait of another person (a labelled photo from ../shared/faces, read in place)."""
    import base64

    from tests.conftest import shared_path

    photo = shared_path("faces", "tests", "test_images", "biden.jpg").read_bytes()
    return "data:image/jpeg;base64," + base64.b64encode(photo).decode()


@pytest.mark.parametrize("mode", ["production", "evaluation", "someone_else"])
def test_acceptance_story(
    camera_chromium: object, tmp_path: Path, artifacts: Path, mode: str
) -> None:
    """``someone_else``: the credential's portrait shows another person than the camera."""
    from playwright.sync_api import Browser, expect

    assert isinstance(camera_chromium, Browser)
    portrait = _someone_else() if mode == "someone_else" else portrait_data_uri()
    profile_mode = "evaluation" if mode == "evaluation" else "production"
    port = free_port()
    var_dir = tmp_path / "var"
    database_url = f"sqlite:///{tmp_path}/ssar.db"
    shot = lambda page, name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"story-{mode}-{name}.png"), full_page=True
    )
    with running_server(
        database_url=database_url, var_dir=var_dir, port=port, demo=True, log=tmp_path / "serve.log"
    ) as base:
        env = server_env(database_url=database_url, var_dir=var_dir, base_url=base, demo=True)
        registry = Registry(Settings(database_url=database_url, var_dir=var_dir, base_url=base))
        try:
            _organisation(registry, tmp_path, env, profile_mode, portrait)
            context = camera_chromium.new_context(viewport={"width": 1000, "height": 900})
            context.grant_permissions(["camera"], origin=base)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")

            # 1. onboarding: a TAP from the helpdesk, then her passkey
            phone = _authenticator(cdp)
            first_tap = str(_cli(env, "tap", "issue", USERNAME)["tap"])
            _tap_to_passkey(page, base, first_tap, "Ada's phone")
            before = _methods(registry)
            assert before == [("passkey", True), ("tap", False)]

            # 2. the phone is lost
            cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": phone})
            page.get_by_label("Username").fill(USERNAME)
            page.get_by_role("button", name="Next").click()
            shot(page, "01-signin-methods")
            page.get_by_role("link", name="Can't access your account?").click()
            expect(page.get_by_role("heading", name="Recover your account")).to_be_visible()
            expect(page.get_by_label("Username of the account to recover")).to_have_value(USERNAME)
            shot(page, "02-recover")
            page.get_by_role("button", name="Recover my account").click()

            # 3./4. present the credential from the wallet on this device
            page.wait_for_url(f"{base}/recover/verify")
            expect(page.get_by_role("heading", name="Verify your identity")).to_be_visible()
            expect(
                page.get_by_role(
                    "img", name="QR code to open the presentation request in your wallet"
                )
            ).to_be_visible()
            shot(page, "03-verify")
            page.get_by_role("button", name="Open the demo wallet").click()
            expect(page.locator("#requested")).to_contain_text("portrait")
            shot(page, "04-wallet-consent")
            page.click("#share")

            # 5. the face check with the fake camera
            page.wait_for_url(f"{base}/recover/face")
            expect(page.get_by_role("heading", name="Check your face")).to_be_visible()
            shot(page, "05-face")
            if mode == "someone_else":
                page.locator("[data-face-start]").click()
                # the burst is live and follows the challenge, but it is not the portrait's person
                expect(page.get_by_text("The face check did not succeed")).to_be_visible(
                    timeout=90_000
                )
                shot(page, "06-face-mismatch")
                assert _methods(registry) == before  # R2
                case = registry.recovery.cases()[0]
                assert case["state"] == "face_checking"
                face = [c for c in case["checks"] if c["check"] == "face"]
                assert face[0]["detail"] == "mismatch"
                assert face[0]["score"] < 70
                return
            _face_check_passes(page, registry, f"{base}/recover/result")
            shot(page, "06-result")

            if mode == "evaluation":
                expect(page.get_by_role("heading", name="Identity verified")).to_be_visible()
                expect(page.locator("#message")).to_contain_text(
                    "nothing on your account was changed"
                )
                assert _methods(registry) == before  # R4: provably unchanged
                outbox = registry.recovery.cases()
                assert outbox[0]["state"] == "evaluated"
                assert [c["check"] for c in outbox[0]["checks"]][-4:] == [
                    "eligibility",
                    "evidence",
                    "account_match",
                    "decision",
                ]
                return

            # 6./7. restored: the TAP, once
            expect(page.get_by_role("heading", name="You're verified")).to_be_visible()
            page.get_by_role("button", name="Show my Temporary Access Pass").click()
            expect(page.get_by_role("heading", name="Your Temporary Access Pass")).to_be_visible()
            tap = page.locator("#tap code").inner_text().strip()
            shot(page, "07-tap")
            assert len(tap) >= 11
            assert _methods(registry) == [("passkey", False), ("tap", False), ("tap", True)]
            page.go_back()
            page.reload()
            expect(page.get_by_role("heading", name="Recovery complete")).to_be_visible()

            # 8. a new passkey with the TAP, then sign in with it
            _authenticator(cdp)
            _tap_to_passkey(page, base, tap, "Ada's new phone")
            page.get_by_label("Username").fill(USERNAME)
            page.get_by_role("button", name="Next").click()
            page.get_by_role("button", name="Sign in with a passkey").click()
            page.wait_for_url(f"{base}/security-info")
            expect(page.locator(".method-label", has_text="Ada's new phone")).to_be_visible()
            expect(page.locator(".method-label", has_text="Ada's phone")).to_have_count(0)
            shot(page, "08-security-info")
            case = registry.recovery.cases()[0]
            assert case["state"] == "completed"
            face = next(c for c in case["checks"] if c["check"] == "face")
            assert face["outcome"] == "passed"
            assert face["score"] >= 70
            context.close()
        finally:
            registry.close()
    assert problems == []


def test_acceptance_story_with_the_reference_verification_service(
    two_cameras: tuple[object, object], tmp_path: Path, artifacts: Path
) -> None:
    """The story with nothing mocked: Ada gets her credential from the built-in reference
    identity verification service (a generated driving licence, card images, and a live selfie
    from the fake camera), receives it in the web wallet, presents it and recovers."""
    from datetime import date

    from playwright.sync_api import Browser, expect
    from skimage import data

    from ssar.idv.testdocs import make_licence

    camera_chromium, later_camera = two_cameras
    assert isinstance(camera_chromium, Browser)
    assert isinstance(later_camera, Browser)
    front, back, _ = make_licence(
        given="Ada",
        family="Lovelace",
        birthdate=date(1990, 12, 10),
        portrait_rgb=np.ascontiguousarray(data.astronaut()),
        issued=date(2024, 1, 15),
        expires=date(2030, 12, 10),
    )
    (tmp_path / "front.png").write_bytes(front)
    (tmp_path / "back.png").write_bytes(back)
    port = free_port()
    var_dir = tmp_path / "var"
    database_url = f"sqlite:///{tmp_path}/ssar.db"
    shot = lambda page, name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"story-reference-{name}.png"), full_page=True
    )
    with running_server(
        database_url=database_url, var_dir=var_dir, port=port, demo=True, log=tmp_path / "serve.log"
    ) as base:
        env = server_env(database_url=database_url, var_dir=var_dir, base_url=base, demo=True)
        registry = Registry(Settings(database_url=database_url, var_dir=var_dir, base_url=base))
        try:
            directory = registry.directory
            directory.add_group(name="All Staff", actor="test")
            directory.add_user(
                username=USERNAME,
                given_name="Ada",
                family_name="Lovelace",
                emails=("ada@example.org",),
                groups=["All Staff"],
            )
            profile = {
                "profiles": [
                    {
                        "name": "Staff",
                        "mode": "production",
                        "priority": 1,
                        "include_groups": ["All Staff"],
                        "provider": "reference",
                        "validation": {"match": "relaxed"},
                        "face_check": {"required": True, "threshold": 70},
                    }
                ]
            }
            (tmp_path / "profiles.yaml").write_text(yaml.safe_dump(profile))
            _cli(env, "profiles", "apply", str(tmp_path / "profiles.yaml"))
            _cli(env, "wallet", "init")
            context = camera_chromium.new_context(viewport={"width": 1000, "height": 900})
            context.grant_permissions(["camera"], origin=base)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            phone = _authenticator(cdp)
            _tap_to_passkey(
                page, base, str(_cli(env, "tap", "issue", USERNAME)["tap"]), "Ada's phone"
            )
            cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": phone})

            # recovery starts; she has no credential yet: the verify page sends her to the IDV
            page.goto(f"{base}/recover?username={USERNAME}")
            page.get_by_role("button", name="Recover my account").click()
            page.wait_for_url(f"{base}/recover/verify")
            page.get_by_role("link", name="Get one from the identity verification service").click()
            page.wait_for_url(f"{base}/idv")
            shot(page, "01-idv")
            page.get_by_label("Front of the card").set_input_files(str(tmp_path / "front.png"))
            page.get_by_label("Back of the card (with the barcode)").set_input_files(
                str(tmp_path / "back.png")
            )
            page.get_by_role("button", name="Check my card").click()
            page.wait_for_url(f"{base}/idv/selfie")
            _face_check_passes(page, registry, f"{base}/idv/offer")
            expect(
                page.get_by_role("heading", name="Your identity credential is ready")
            ).to_be_visible()
            pin = page.locator("#tx-code code").inner_text().strip()
            shot(page, "02-offer")
            page.get_by_role("link", name="Open the demo wallet").click()
            page.wait_for_url(f"{base}/wallet/receive?*")
            page.fill("#tx_code", pin)
            page.click("#receive")
            expect(page.locator("#received")).to_be_visible()
            shot(page, "03-received")

            # back at SSAR: present it, face check, TAP, new passkey. The camera is a second
            # browser with the same cookies (a fake camera's frames repeat byte for byte when
            # it restarts; a real one never does, and the service refuses repeated frames)
            state = context.storage_state()
            context.close()
            context = later_camera.new_context(
                viewport={"width": 1000, "height": 900}, storage_state=state
            )
            context.grant_permissions(["camera"], origin=base)
            page = context.new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            page.goto(f"{base}/recover/verify")
            page.get_by_role("button", name="Open the demo wallet").click()
            page.click("#share")
            page.wait_for_url(f"{base}/recover/face")
            _face_check_passes(page, registry, f"{base}/recover/result")
            expect(page.get_by_role("heading", name="You're verified")).to_be_visible()
            page.get_by_role("button", name="Show my Temporary Access Pass").click()
            tap = page.locator("#tap code").inner_text().strip()
            shot(page, "04-tap")
            _authenticator(cdp)
            _tap_to_passkey(page, base, tap, "Ada's new phone")
            case = registry.recovery.cases()[0]
            assert case["state"] == "completed"
            assert case["issuer"] == f"{base}/idv"
            context.close()
        finally:
            registry.close()
    assert problems == []

"""Browser tests of the face check page (R20, R21): Chromium's fake camera plays a synthetic
video of scikit-image's astronaut; face-capture.js probes frames against the real face engine
and submits them to the real ``verify_liveness`` (tests/support/face_capture_app.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from ssar.face.image import RgbImage
from ssar.face.pose import Pose
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.face_capture_app import (
    RETRY_MESSAGE,
    FaceCaptureState,
    face_capture_app,
    serving,
)
from tests.support.face_videos import fake_camera_args, head_turn_video, still_video
from tests.support.y4m import write_y4m

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def astronaut() -> RgbImage:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="module")
def head_turn_y4m(astronaut: RgbImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return head_turn_video(astronaut, tmp_path_factory.mktemp("video") / "head-turn.y4m")


@pytest.fixture(scope="module")
def still_y4m(astronaut: RgbImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return still_video(astronaut, tmp_path_factory.mktemp("video") / "still.y4m")


@pytest.fixture
def camera_browser() -> Iterator[object]:
    """Launch Debian's chromium with extra flags: ``camera_browser(fake_camera_args(video))``."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: install Debian's chromium (`make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browsers: list[object] = []

        def launch(flags: list[str]) -> object:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *flags]
            )
            browsers.append(browser)
            return browser

        try:
            yield launch
        finally:
            for browser in browsers:
                browser.close()  # type: ignore[attr-defined]


def _open_face_page(
    browser: object, base_url: str, *, camera_allowed: bool = True
) -> tuple[object, list[str]]:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    if camera_allowed:
        context.grant_permissions(["camera"], origin=base_url)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base_url}/face")
    expect(page.get_by_role("heading", name="Check your face")).to_be_visible()
    return page, problems


def _start_with_keyboard(page: object) -> int:
    """Tab to the Start button and press Enter; returns how many Tabs it took."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    for tabs in range(1, 11):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.hasAttribute('data-face-start')"):
            page.keyboard.press("Enter")
            return tabs
    raise AssertionError("the Start button is not reachable with Tab")


def _figures(state: FaceCaptureState) -> str:
    probes = [(p.pose or p.error or "-", p.yaw) for p in state.probes]
    mean = sum(p.seconds for p in state.probes) / max(1, len(state.probes))
    return f"probes {probes} (mean {mean:.3f} s); submits {state.submits}"


def test_R20_a_turning_head_passes_the_face_check_in_the_browser(
    camera_browser: object, head_turn_y4m: Path, artifacts: Path
) -> None:
    from playwright.sync_api import Page, expect

    app = face_capture_app(poses=(Pose.STRAIGHT, Pose.LEFT, Pose.RIGHT))
    state: FaceCaptureState = app.state.face
    with serving(app) as base_url:
        page, problems = _open_face_page(camera_browser(fake_camera_args(head_turn_y4m)), base_url)  # type: ignore[operator]
        assert isinstance(page, Page)
        steps = page.get_by_role("list", name="What you'll be asked to do").get_by_role("listitem")
        expect(steps).to_have_text(
            [
                "Look straight at the camera",
                "Turn your head to your left",
                "Turn your head to your right",
            ]
        )
        expect(page.locator("[aria-live='polite']")).to_have_count(1)
        page.screenshot(path=str(artifacts / "face-01-intro.png"), full_page=True)

        started = time.monotonic()
        tabs = _start_with_keyboard(page)
        assert tabs <= 4, f"{tabs} Tabs to reach Start"
        expect(page.locator("[data-face-progress]")).to_have_text("Step 1 of 3")
        expect(page.locator("video[data-face-video]")).to_be_visible()
        expect(page.locator("li[aria-current='step']")).to_have_text("Look straight at the camera")
        page.screenshot(path=str(artifacts / "face-02-capturing.png"), full_page=True)
        expect(page.locator("li[aria-current='step']")).to_have_text(
            "Turn your head to your right", timeout=30_000
        )
        page.screenshot(path=str(artifacts / "face-03-last-pose.png"), full_page=True)
        page.wait_for_url(f"{base_url}/done?ok=1", timeout=45_000)
        elapsed = time.monotonic() - started
        expect(page.get_by_role("heading", name="Face check passed")).to_be_visible()
        page.screenshot(path=str(artifacts / "face-04-passed.png"), full_page=True)

    figures = _figures(state)
    print(f"head turn: {elapsed:.1f} s from Start to the redirect; {figures}")
    assert [s.outcome for s in state.submits] == ["passed"], figures
    assert state.submits[0].frames == 3
    yaws = state.submits[0].yaws
    assert abs(yaws[0]) <= 10, figures
    assert yaws[1] >= 18, figures
    assert yaws[2] <= -18, figures
    assert not problems, problems


def test_R20_a_still_photo_fails_the_face_check_and_may_try_again(
    camera_browser: object, still_y4m: Path, artifacts: Path
) -> None:
    from playwright.sync_api import Page, expect

    app = face_capture_app(poses=(Pose.STRAIGHT, Pose.LEFT), lifetime=timedelta(seconds=7))
    state: FaceCaptureState = app.state.face
    with serving(app) as base_url:
        page, problems = _open_face_page(camera_browser(fake_camera_args(still_y4m)), base_url)  # type: ignore[operator]
        assert isinstance(page, Page)
        expect(page.locator("[data-face-attempts]")).to_have_text("You have 5 attempts left.")
        _start_with_keyboard(page)
        expect(page.locator("li[aria-current='step']")).to_have_text(
            "Turn your head to your left", timeout=8_000
        )
        page.screenshot(path=str(artifacts / "face-05-still-waiting.png"), full_page=True)
        message = page.locator("[data-face-message]")
        expect(message).to_have_text(RETRY_MESSAGE, timeout=20_000)
        expect(message).to_have_attribute("role", "alert")
        expect(page.locator("[data-face-attempts]")).to_have_text("You have 4 attempts left.")
        start = page.get_by_role("button", name="Try the face check again")
        expect(start).to_be_enabled()
        expect(start).to_be_focused()
        expect(page.locator("video[data-face-video]")).to_be_hidden()
        page.screenshot(path=str(artifacts / "face-06-still-retry.png"), full_page=True)
        assert page.url == f"{base_url}/face"

        # again with Enter on the focused button: the new challenge's token is the one sent
        page.keyboard.press("Enter")
        expect(page.locator("[data-face-attempts]")).to_have_text(
            "You have 3 attempts left.", timeout=20_000
        )

    figures = _figures(state)
    print(f"still photo: {figures}")
    # one straight frame kept, the turn never seen: too few frames for the challenge (an old
    # token would fail as expired first)
    assert [(s.outcome, s.frames) for s in state.submits] == [("frame_count", 1)] * 2, figures
    assert all(p.pose in (Pose.STRAIGHT, None) for p in state.probes), figures
    assert not problems, problems


@pytest.mark.parametrize(
    ("flags", "camera_allowed", "expected"),
    [
        (["--use-fake-device-for-media-stream"], False, "Camera access was refused."),
        ([], True, "No camera was found."),
    ],
    ids=["refused", "missing"],
)
def test_a_refused_or_missing_camera_is_explained(
    camera_browser: object,
    artifacts: Path,
    flags: list[str],
    camera_allowed: bool,
    expected: str,
) -> None:
    from playwright.sync_api import Page, expect

    app = face_capture_app(poses=(Pose.STRAIGHT, Pose.RIGHT))
    with serving(app) as base_url:
        page, _ = _open_face_page(
            camera_browser(flags),  # type: ignore[operator]
            base_url,
            camera_allowed=camera_allowed,
        )
        assert isinstance(page, Page)
        _start_with_keyboard(page)
        message = page.locator("[data-face-message]")
        expect(message).to_contain_text(expected)
        expect(page.get_by_role("button", name="Start the face check")).to_be_focused()
        expect(page.locator("video[data-face-video]")).to_be_hidden()
        page.screenshot(
            path=str(artifacts / f"face-07-camera-{'missing' if camera_allowed else 'refused'}.png")
        )
    assert app.state.face.probes == []


def test_R21_a_frame_without_a_face_gets_a_hint(
    camera_browser: object, tmp_path: Path, artifacts: Path
) -> None:
    from playwright.sync_api import Page, expect

    blank = tmp_path / "blank.y4m"
    write_y4m(blank, [np.full((480, 640, 3), 128, np.uint8)] * 5)
    app = face_capture_app(poses=(Pose.STRAIGHT, Pose.LEFT), lifetime=timedelta(seconds=5))
    with serving(app) as base_url:
        page, problems = _open_face_page(camera_browser(fake_camera_args(blank)), base_url)  # type: ignore[operator]
        assert isinstance(page, Page)
        _start_with_keyboard(page)
        expect(page.locator("[data-face-hint]")).to_have_text(
            "We can't see your face clearly. Face the camera in good light."
        )
        page.screenshot(path=str(artifacts / "face-08-no-face.png"), full_page=True)
        expect(page.locator("[data-face-message]")).to_be_visible(timeout=15_000)
    assert {p.error for p in app.state.face.probes} == {"no_face"}
    assert [s.frames for s in app.state.face.submits] == [0]
    assert not problems, problems

"""A test-only web app around the face-check page: the real template, static files, security
headers (CSP) and face engine, without a recovery flow. ``GET /face`` renders
``recovery/face.html`` for a challenge of fixed poses; the probe runs the real detector and pose
estimator on each frame, the submit runs the real ``verify_liveness``.

    app = face_capture_app(poses=(Pose.STRAIGHT, Pose.LEFT))
    with serving(app) as base_url: ...         # uvicorn on a free loopback port, in a thread
    app.state.face.probes / .submits           # what the page sent and what it was told

Endpoints (the contract face-capture.js expects, header ``X-CSRF-Token`` required):
    POST /face/probe   multipart ``frame``  -> {"pose", "error", "message"}
    POST /face/submit  multipart ``token``, ``frames``... -> {"redirect": "/done?ok=1"}
                       or {"retry": {"message", "attempts_left", "challenge": {...}}}
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

import ssar.web
from ssar.clock import SystemClock
from ssar.face.detection import find_single_face
from ssar.face.errors import FaceError
from ssar.face.image import decode_image
from ssar.face.liveness import MAX_FRAMES, Challenge, Frame, issue_challenge, verify_liveness
from ssar.face.pose import Pose, classify_yaw, estimate_yaw
from ssar.web.security import SecurityHeadersMiddleware
from tests.support.server import free_port

WEB = Path(ssar.web.__file__).parent
NONCE = "face-capture-test-flow"
RETRY_MESSAGE = "We couldn't confirm it was you. Please try again and follow the prompts."
PROBE_MESSAGES = {
    "no_face": "We can't see your face clearly.",
    "many_faces": "Make sure only your face is in the picture.",
    "too_small": "Move a little closer to the camera.",
    "low_quality": "The picture is blurred or badly lit.",
}


@dataclass
class Probe:
    pose: str | None
    error: str | None
    yaw: float | None
    seconds: float


@dataclass
class Submit:
    frames: int
    outcome: str  # "passed" or the LivenessError / FaceError code
    detail: str
    yaws: tuple[float, ...] = ()


@dataclass
class FaceCaptureState:
    poses: tuple[Pose, ...]
    lifetime: timedelta
    attempts_left: int
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    csrf_token: str = field(default_factory=lambda: secrets.token_hex(16))
    probes: list[Probe] = field(default_factory=list)
    submits: list[Submit] = field(default_factory=list)
    seen_digests: set[str] = field(default_factory=set)

    def challenge(self) -> Challenge:
        """A fresh challenge of ``poses`` (the seed that gives them, as a flow's rng would)."""
        for seed in range(1000):
            challenge = issue_challenge(
                nonce=NONCE,
                key=self.key,
                clock=SystemClock(),
                lifetime=self.lifetime,
                rng=random.Random(seed),
            )
            if challenge.poses == self.poses:
                return challenge
        raise ValueError(f"no challenge gives {self.poses}")


def challenge_json(challenge: Challenge) -> dict[str, Any]:
    return {
        "poses": [p.value for p in challenge.poses],
        "token": challenge.token,
        "deadline": challenge.deadline.isoformat(),
    }


def _state(request: Request) -> FaceCaptureState:
    state: FaceCaptureState = request.app.state.face
    return state


def _csrf_ok(request: Request) -> bool:
    given = request.headers.get("x-csrf-token", "")
    return secrets.compare_digest(given, _state(request).csrf_token)


def _probe_frame(data: bytes) -> tuple[Probe, str | None]:
    started = time.perf_counter()
    try:
        image = decode_image(data)
        face = find_single_face(image, with_landmarks68=True)
        assert face.landmarks68 is not None
        yaw = estimate_yaw(face.landmarks68, width=image.shape[1], height=image.shape[0])
    except FaceError as exc:
        probe = Probe(None, exc.code, None, time.perf_counter() - started)
        return probe, PROBE_MESSAGES.get(exc.code, "We can't see your face clearly.")
    pose = classify_yaw(yaw)
    value = pose.value if pose else None
    return Probe(value, None, round(yaw, 1), time.perf_counter() - started), None


async def face_page(request: Request) -> Response:
    state = _state(request)
    challenge = state.challenge()
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "recovery/face.html",
        {
            "challenge": SimpleNamespace(
                poses=[p.value for p in challenge.poses],
                token=challenge.token,
                deadline=challenge.deadline.isoformat(),
            ),
            "probe_url": "/face/probe",
            "submit_url": "/face/submit",
            "attempts_left": state.attempts_left,
            "csrf_token": state.csrf_token,
            "message": request.query_params.get("message"),
        },
        headers={"cache-control": "no-store"},
    )


async def probe(request: Request) -> Response:
    if not _csrf_ok(request):
        return JSONResponse({"detail": "CSRF token missing or wrong"}, status_code=403)
    async with request.form(max_files=1) as form:
        upload = form.get("frame")
        if not isinstance(upload, UploadFile):
            return JSONResponse({"detail": "no frame"}, status_code=422)
        data = await upload.read()
    result, message = await run_in_threadpool(_probe_frame, data)
    _state(request).probes.append(result)
    return JSONResponse({"pose": result.pose, "error": result.error, "message": message})


async def submit(request: Request) -> Response:
    state = _state(request)
    if not _csrf_ok(request):
        return JSONResponse({"detail": "CSRF token missing or wrong"}, status_code=403)
    async with request.form(max_files=MAX_FRAMES + 1) as form:
        token = form.get("token")
        uploads = [f for f in form.getlist("frames") if isinstance(f, UploadFile)]
        frames = [Frame(await f.read()) for f in uploads]
    try:
        result = await run_in_threadpool(
            lambda: verify_liveness(
                token=str(token or ""),
                frames=frames,
                expected_nonce=NONCE,
                key=state.key,
                clock=SystemClock(),
                already_seen=frozenset(state.seen_digests),
            )
        )
    except FaceError as exc:
        state.submits.append(Submit(len(frames), exc.code, str(exc)))
        state.attempts_left -= 1
        return JSONResponse(
            {
                "retry": {
                    "message": RETRY_MESSAGE,
                    "attempts_left": state.attempts_left,
                    "challenge": challenge_json(state.challenge()),
                }
            }
        )
    state.seen_digests.update(result.frame_digests)
    state.submits.append(Submit(len(frames), "passed", "", result.yaws))
    return JSONResponse({"redirect": "/done?ok=1"})


async def done(request: Request) -> Response:
    ok = request.query_params.get("ok") == "1"
    text = "Face check passed" if ok else "Face check not passed"
    return HTMLResponse(
        f'<!doctype html><title>{text}</title><link rel="icon" href="/static/favicon.svg">'
        f"<h1>{text}</h1>"
    )


def face_capture_app(
    *,
    poses: tuple[Pose, ...],
    lifetime: timedelta = timedelta(seconds=60),
    attempts_left: int = 5,
) -> Starlette:
    """The app; its ``state.face`` (a ``FaceCaptureState``) records every probe and submit."""
    app = Starlette(
        routes=[
            Route("/face", face_page),
            Route("/face/probe", probe, methods=["POST"]),
            Route("/face/submit", submit, methods=["POST"]),
            Route("/done", done),
            Mount("/static", StaticFiles(directory=WEB / "static"), name="static"),
        ]
    )
    templates = Jinja2Templates(directory=WEB / "templates")
    templates.env.globals["settings"] = SimpleNamespace(rp_name="SSAR face check test")
    app.state.templates = templates
    app.state.face = FaceCaptureState(poses=poses, lifetime=lifetime, attempts_left=attempts_left)
    app.add_middleware(SecurityHeadersMiddleware, hsts=False)
    return app


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name=f"face-capture-app-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the face capture test app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

"""The custom authentication extension client (R29): signed, short-lived, bounded in time, fails
closed, and its answer is schema-checked."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import KeySet
from structlog.testing import capture_logs

from ssar.clock import FixedClock, SystemClock
from ssar.credentials.jose import (
    b64url_encode,
    parse_compact_jws,
    public_key_from_jwk,
    verify_signature,
)
from ssar.errors import ValidationFailed
from ssar.keys import SigningKey
from ssar.recovery.extension import (
    EVENT_TYPE,
    MAX_RESPONSE_BYTES,
    CandidateUser,
    DocumentClaims,
    ExtensionClient,
    ExtensionResult,
    VerifiedClaims,
    parse_answer,
)

URL = "https://hr.example.org/ssar/validate?code=s3cret"
ISSUER = "https://id.example.org"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CLAIMS = VerifiedClaims(
    given_name="Zoë",
    family_name="Ågren",
    birthdate="1990-05-17",
    document=DocumentClaims(type="passport", number="X1234567", expiry="2030-01-01"),
)
USER = CandidateUser(
    id="u-1", username="zoe@example.org", given_name="Zoe", family_name="Agren", employee_id="E-7"
)

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()))


class Recorder:
    """A MockTransport handler that plays answers in order and keeps the requests."""

    def __init__(self, *answers: httpx.Response | type[Exception]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, type):
            raise answer("simulated", request=request)  # type: ignore[call-arg]
        return answer


def client(signing_key: SigningKey, handler: Handler, **kwargs: object) -> ExtensionClient:
    http = httpx.Client(transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]
    return ExtensionClient(http=http, signing_key=signing_key, issuer=ISSUER, clock=FixedClock(NOW))


def call(signing_key: SigningKey, recorder: Recorder, **kwargs: object) -> ExtensionResult:
    return client(signing_key, recorder).validate(
        url=URL,
        claims=CLAIMS,
        user=USER,
        flow_id="flow-1",
        **kwargs,  # type: ignore[arg-type]
    )


def ok(answer: object) -> httpx.Response:
    return httpx.Response(200, json=answer)


# --------------------------------------------------------------------------- outcomes


def test_R29_pass(signing_key: SigningKey) -> None:
    recorder = Recorder(ok({"result": "pass"}))
    result = call(signing_key, recorder)
    assert result == ExtensionResult(True, (), "passed", attempts=1, status_code=200)
    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "type": EVENT_TYPE,
        "flow_id": "flow-1",
        "claims": {
            "given_name": "Zoë",
            "family_name": "Ågren",
            "birthdate": "1990-05-17",
            "document": {"type": "passport", "number": "X1234567", "expiry": "2030-01-01"},
        },
        "user": {
            "id": "u-1",
            "username": "zoe@example.org",
            "given_name": "Zoe",
            "family_name": "Agren",
            "employee_id": "E-7",
        },
    }


def test_R29_optional_claims_are_left_out(signing_key: SigningKey) -> None:
    recorder = Recorder(ok({"result": "pass"}))
    client(signing_key, recorder).validate(
        url=URL,
        claims=VerifiedClaims(given_name="Zoe", family_name="Agren"),
        user=CandidateUser("u-2", "z", "Zoe", "Agren"),
        flow_id="f",
    )
    body = json.loads(recorder.requests[0].content)
    assert body["claims"] == {"given_name": "Zoe", "family_name": "Agren"}
    assert body["user"]["employee_id"] is None


def test_R29_pass_with_a_message_ignored(signing_key: SigningKey) -> None:
    result = call(signing_key, Recorder(ok({"result": "pass", "message": "welcome back"})))
    assert result.passed


def test_R29_fail_with_failed_claims(signing_key: SigningKey) -> None:
    answer = {"result": "fail", "failed_claims": ["birthdate", "document.number"], "message": "x"}
    result = call(signing_key, Recorder(ok(answer)))
    assert result == ExtensionResult(
        False, ("birthdate", "document.number"), "failed", attempts=1, status_code=200
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429])
def test_R29_4xx_fails_closed_without_retry(signing_key: SigningKey, status: int) -> None:
    recorder = Recorder(httpx.Response(status, json={"result": "pass"}))
    result = call(signing_key, recorder)
    assert (result.passed, result.reason, result.attempts, result.status_code) == (
        False,
        "unexpected_status",
        1,
        status,
    )
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("status", [201, 202, 204])
def test_R29_other_2xx_fail_closed(signing_key: SigningKey, status: int) -> None:
    result = call(signing_key, Recorder(httpx.Response(status, json={"result": "pass"})))
    assert (result.passed, result.reason) == (False, "unexpected_status")


def test_R29_500_then_pass_is_retried_once(signing_key: SigningKey) -> None:
    recorder = Recorder(httpx.Response(500), ok({"result": "pass"}))
    result = call(signing_key, recorder)
    assert (result.passed, result.reason, result.attempts) == (True, "passed", 2)
    first, second = (parse_compact_jws(r.headers["authorization"][7:]) for r in recorder.requests)
    assert first.payload["jti"] != second.payload["jti"]  # a fresh token per attempt
    assert recorder.requests[0].content == recorder.requests[1].content


def test_R29_500_twice_fails_closed(signing_key: SigningKey) -> None:
    recorder = Recorder(httpx.Response(500), httpx.Response(503))
    result = call(signing_key, recorder)
    assert (result.passed, result.reason, result.attempts, result.status_code) == (
        False,
        "server_error",
        2,
        503,
    )


def test_R29_timeout_twice_fails_closed(signing_key: SigningKey) -> None:
    recorder = Recorder(httpx.ReadTimeout, httpx.ReadTimeout)
    result = call(signing_key, recorder)
    assert (result.passed, result.reason, result.attempts) == (False, "timeout", 2)
    assert len(recorder.requests) == 2


def test_R29_timeout_then_pass(signing_key: SigningKey) -> None:
    result = call(signing_key, Recorder(httpx.ConnectTimeout, ok({"result": "pass"})))
    assert (result.passed, result.attempts) == (True, 2)


def test_R29_connection_error_twice_fails_closed(signing_key: SigningKey) -> None:
    result = call(signing_key, Recorder(httpx.ConnectError, httpx.ConnectError))
    assert (result.passed, result.reason, result.attempts) == (False, "connection_error", 2)


def test_R29_no_second_retry(signing_key: SigningKey) -> None:
    recorder = Recorder(httpx.Response(502), httpx.ReadTimeout, ok({"result": "pass"}))
    result = call(signing_key, recorder)
    assert (result.passed, result.reason, result.attempts) == (False, "timeout", 2)
    assert len(recorder.requests) == 2


def test_R29_5xx_then_4xx_fails_with_the_last_reason(signing_key: SigningKey) -> None:
    result = call(signing_key, Recorder(httpx.Response(500), httpx.Response(400)))
    assert (result.reason, result.attempts) == ("unexpected_status", 2)


def test_R29_malformed_json_fails_closed(signing_key: SigningKey) -> None:
    recorder = Recorder(httpx.Response(200, content=b'{"result": "pass"'))
    result = call(signing_key, recorder)
    assert (result.passed, result.reason, result.attempts) == (False, "malformed_json", 1)


@pytest.mark.parametrize(
    "answer",
    [
        b'{"result": "pass", "result": "fail"}',  # duplicate members
        b'"pass"',
        b"[]",
        b'{"result": "PASS"}',
        b'{"result": true}',
        b"{}",
        b'{"result": "pass", "failed_claims": []}',
        b'{"result": "pass", "override": true}',  # unknown member: fail closed
        b'{"result": "pass", "message": 1}',
        b'{"result": "fail"}',
        b'{"result": "fail", "failed_claims": "birthdate"}',
        b'{"result": "fail", "failed_claims": [1]}',
        b'{"result": "fail", "failed_claims": ["bad claim\\n"]}',
        b'{"result": "fail", "failed_claims": [], "extra": 1}',
    ],
)
def test_R29_schema_mismatch_fails_closed(signing_key: SigningKey, answer: bytes) -> None:
    result = call(signing_key, Recorder(httpx.Response(200, content=answer)))
    assert not result.passed
    assert result.reason in {"schema_mismatch", "malformed_json"}
    assert result.failed_claims == ()


def test_R29_fail_with_no_named_claims_is_a_fail(signing_key: SigningKey) -> None:
    result = call(signing_key, Recorder(ok({"result": "fail", "failed_claims": []})))
    assert (result.passed, result.reason, result.failed_claims) == (False, "failed", ())


def test_R29_parse_answer_contract() -> None:
    assert parse_answer(b'{"result":"pass"}') == ("passed", ())
    assert parse_answer(b'{"result":"fail","failed_claims":["x"]}') == ("failed", ("x",))
    assert parse_answer(b"\xff") == ("malformed_json", ())


def test_R29_redirect_is_not_followed(signing_key: SigningKey) -> None:
    recorder = Recorder(
        httpx.Response(307, headers={"Location": "https://evil.example/collect"}),
        ok({"result": "pass"}),
    )
    # even a client configured to follow redirects does not follow them here
    result = client(signing_key, recorder, follow_redirects=True).validate(
        url=URL, claims=CLAIMS, user=USER, flow_id="flow-1"
    )
    assert (result.passed, result.reason, result.status_code) == (False, "redirect_refused", 307)
    assert len(recorder.requests) == 1


def test_R29_response_body_is_limited(signing_key: SigningKey) -> None:
    big = b'{"result": "pass", "message": "' + b"x" * MAX_RESPONSE_BYTES + b'"}'
    result = call(signing_key, Recorder(httpx.Response(200, content=big)))
    assert (result.passed, result.reason) == (False, "response_too_large")

    def streamed(request: httpx.Request) -> httpx.Response:
        # no Content-Length: the limit is enforced while reading
        return httpx.Response(200, content=iter([b'{"result":"pass","message":"', big, b'"}']))

    result = client(signing_key, streamed).validate(
        url=URL, claims=CLAIMS, user=USER, flow_id="flow-1"
    )
    assert result.reason == "response_too_large"


def test_R29_compressed_answers_are_refused(signing_key: SigningKey) -> None:
    answer = httpx.Response(
        200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"\x1f\x8b...")
    )
    result = call(signing_key, Recorder(answer))
    assert (result.passed, result.reason) == (False, "unsupported_encoding")


@pytest.mark.parametrize(
    "url", ["ftp://hr.example.org/x", "hr.example.org/validate", "https://user:pw@hr.example.org/"]
)
def test_R29_unusable_urls_are_not_called(signing_key: SigningKey, url: str) -> None:
    recorder = Recorder()
    result = client(signing_key, recorder).validate(
        url=url, claims=CLAIMS, user=USER, flow_id="flow-1"
    )
    assert (result.passed, result.reason, result.attempts) == (False, "invalid_url", 0)
    assert recorder.requests == []


@pytest.mark.parametrize("timeout", [0, -1, 31])
def test_R29_timeout_must_be_sensible(signing_key: SigningKey, timeout: float) -> None:
    with pytest.raises(ValidationFailed) as raised:
        call(signing_key, Recorder(), timeout_seconds=timeout)
    assert raised.value.field == "timeout_seconds"


def test_R29_default_timeout_is_two_seconds(signing_key: SigningKey) -> None:
    recorder = Recorder(ok({"result": "pass"}))
    call(signing_key, recorder)
    assert recorder.requests[0].extensions["timeout"] == {
        "connect": 2.0,
        "read": 2.0,
        "write": 2.0,
        "pool": 2.0,
    }


def test_R29_claims_are_never_logged(signing_key: SigningKey) -> None:
    with capture_logs() as logs:
        call(signing_key, Recorder(ok({"result": "fail", "failed_claims": ["birthdate"]})))
    assert logs
    text = json.dumps(logs, default=str)
    for secret in ("Zoë", "Ågren", "1990-05-17", "X1234567", "s3cret", "/ssar/validate"):
        assert secret not in text
    assert logs[0]["host"] == "hr.example.org"
    assert logs[0]["reason"] == "failed"


# --------------------------------------------------------------------------- the token


def test_R29_jwt_verifies_against_the_public_jwk(signing_key: SigningKey) -> None:
    recorder = Recorder(ok({"result": "pass"}))
    call(signing_key, recorder)
    request = recorder.requests[0]
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    jws = parse_compact_jws(token)
    jwk = signing_key.public_jwk()
    verify_signature(jws, public_key_from_jwk(jwk), allowed_algs={"ES256"})
    assert jws.header == {"alg": "ES256", "typ": "JWT", "kid": jwk["kid"]}
    claims = jws.payload
    assert claims["iss"] == ISSUER
    assert claims["aud"] == URL  # the endpoint URL exactly
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["exp"] - claims["iat"] == 60
    assert len(claims["jti"]) >= 22  # at least 128 random bits
    assert claims["body_sha256"] == b64url_encode(hashlib.sha256(request.content).digest())


def test_R29_jwt_verifies_with_joserfc_and_the_jwks(signing_key: SigningKey) -> None:
    """What docs/EXTENSION.md tells organisations to do."""
    recorder = Recorder(ok({"result": "pass"}))
    call(signing_key, recorder)
    request = recorder.requests[0]
    jwks = KeySet.import_key_set({"keys": [signing_key.public_jwk()]})
    token = jwt.decode(request.headers["authorization"].removeprefix("Bearer "), jwks, ["ES256"])
    registry = jwt.JWTClaimsRegistry(
        now=int(NOW.timestamp()) + 30,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": URL},
        exp={"essential": True},
        jti={"essential": True},
    )
    registry.validate(token.claims)
    digest = b64url_encode(hashlib.sha256(request.content).digest())
    assert token.claims["body_sha256"] == digest


def test_R29_jwt_is_bound_to_its_body(signing_key: SigningKey) -> None:
    extension = client(signing_key, Recorder())
    one = parse_compact_jws(extension.request_token(url=URL, body=b"{}"))
    other = parse_compact_jws(extension.request_token(url=URL, body=b'{"a":1}'))
    assert one.payload["body_sha256"] != other.payload["body_sha256"]
    assert one.payload["jti"] != other.payload["jti"]


# --------------------------------------------------------------------------- a real server


class _SlowHandler(BaseHTTPRequestHandler):
    release: threading.Event
    hits: list[float]

    def do_POST(self) -> None:
        self.hits.append(time.monotonic())
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.release.wait(10)  # far longer than the client's timeout
        try:
            payload = b'{"result": "pass"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client is long gone

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[tuple[str, list[float]]]:
    release = threading.Event()
    hits: list[float] = []
    handler = type("Handler", (_SlowHandler,), {"release": release, "hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/validate", hits
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_R29_real_server_slower_than_the_timeout_fails_closed(
    signing_key: SigningKey, slow_server: tuple[str, list[float]]
) -> None:
    url, hits = slow_server
    timeout = 0.5
    with httpx.Client(trust_env=False) as http:
        extension = ExtensionClient(
            http=http, signing_key=signing_key, issuer=ISSUER, clock=FixedClock(NOW)
        )
        started = time.monotonic()
        result = extension.validate(
            url=url, timeout_seconds=timeout, claims=CLAIMS, user=USER, flow_id="flow-1"
        )
        elapsed = time.monotonic() - started
    assert (result.passed, result.reason, result.attempts) == (False, "timeout", 2)
    assert len(hits) == 2
    assert 2 * timeout <= elapsed < 2 * timeout + 0.75


# --------------------------------------------------------------------------- the documented helper


def _documented_example() -> dict[str, Any]:
    text = (Path(__file__).resolve().parents[3] / "docs" / "EXTENSION.md").read_text()
    source = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(source, "docs/EXTENSION.md", "exec"), namespace)
    namespace["SSAR_BASE_URL"] = ISSUER
    namespace["ENDPOINT_URL"] = URL
    return namespace


def _live_request(signing_key: SigningKey) -> httpx.Request:
    recorder = Recorder(ok({"result": "pass"}))
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    ExtensionClient(
        http=http, signing_key=signing_key, issuer=ISSUER, clock=SystemClock()
    ).validate(url=URL, claims=CLAIMS, user=USER, flow_id="flow-1")
    return recorder.requests[0]


def test_R29_documented_verifier_accepts_a_real_call(signing_key: SigningKey) -> None:
    example = _documented_example()
    jwks = KeySet.import_key_set({"keys": [signing_key.public_jwk()]})
    request = _live_request(signing_key)
    verify = example["verify_ssar_request"]
    body = verify(request.headers["authorization"], request.content, jwks)
    assert body["user"]["id"] == "u-1"
    assert example["decide"](body, {"E-7": "1990-05-17"}) == {"result": "pass"}
    assert example["decide"](body, {"E-7": "1991-01-01"}) == {
        "result": "fail",
        "failed_claims": ["birthdate"],
    }
    assert parse_answer(json.dumps(example["decide"](body, {})).encode())[0] == "failed"
    with pytest.raises(ValueError, match="replayed"):
        verify(request.headers["authorization"], request.content, jwks)


def test_R29_documented_verifier_refuses_tampering(signing_key: SigningKey) -> None:
    example = _documented_example()
    verify = example["verify_ssar_request"]
    jwks = KeySet.import_key_set({"keys": [signing_key.public_jwk()]})
    request = _live_request(signing_key)
    tampered = request.content.replace(b"1990-05-17", b"1970-01-01")
    with pytest.raises(ValueError, match="another body"):
        verify(request.headers["authorization"], tampered, jwks)
    example["ENDPOINT_URL"] = "https://other.example.org/validate"
    with pytest.raises(ValueError, match="invalid token"):
        verify(request.headers["authorization"], request.content, jwks)
    other_key = SigningKey(ec.generate_private_key(ec.SECP256R1()))
    example["ENDPOINT_URL"] = URL
    with pytest.raises(ValueError, match="invalid token"):
        verify(
            request.headers["authorization"],
            request.content,
            KeySet.import_key_set({"keys": [other_key.public_jwk()]}),
        )

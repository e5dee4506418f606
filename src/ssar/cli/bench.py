"""``ssar bench credentials``: verification throughput, measured in one process run.

Every figure verifies inputs that differ the way real traffic does, so that no cache keyed by
token bytes, signatures or MSO bytes could inflate it:

* a pool of :data:`_HOLDERS` holders (distinct keys, cycled, as returning users would be);
* for every single verification a freshly issued credential (new salts, new issuer
  signature) and a fresh presentation (KB-JWT or mdoc device signature over a new nonce);
* the raw ES256 anchor verifies a fresh ``r || s`` signature over a fresh 512-byte message
  per call with a cached public key, converting it to DER as the JOSE/COSE paths must.

Inputs are made in batches outside the timed windows; only the verifications are timed, and
the four figures take turns batch by batch, so that load from elsewhere hits them alike.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import typer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ssar.cli.common import JsonOption, print_json
from ssar.credentials.jwtvc import verify_jwt_vc
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.credentials.trust import TrustConfig, TrustedIssuer

app = typer.Typer(help="Benchmarks.", no_args_is_help=True)

_ISS = "https://issuer.bench"
_AUD = "https://verifier.bench"
_HOLDERS = 200
_BATCH = 50
_ES256 = ec.ECDSA(hashes.SHA256())
_CLAIMS = (
    ("given_name", "Erika"),
    ("family_name", "Mustermann"),
    ("birthdate", "1964-08-12"),
    ("email", "erika@example.org"),
)

#: One verification to time: a zero-argument call made (untimed) by a batch factory.
Job = Callable[[], object]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


def _raw_es256(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(message, _ES256))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _sign(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    return head + "." + _b64(_raw_es256(key, head.encode()))


def _rates(
    makers: dict[str, Callable[[int], list[Job]] | None], seconds: float
) -> dict[str, float | None]:
    """Verifications per second of timed time for every maker (``None`` stays ``None``).

    The makers take turns, one batch each, until every one has been timed for ``seconds``, so
    that a machine whose load changes during the run shifts all figures alike and the ratios
    between them stay meaningful. Batches are made between the timed windows.
    """
    active = {name: make for name, make in makers.items() if make is not None}
    for make in active.values():
        for job in make(2):  # warm caches (parsed keys) as a running service would have them
            job()
    counts = dict.fromkeys(active, 0)
    elapsed = dict.fromkeys(active, 0.0)
    while any(elapsed[name] < seconds for name in active):
        for name, make in active.items():
            if elapsed[name] >= seconds:
                continue
            jobs = make(_BATCH)
            start = time.perf_counter()
            for job in jobs:
                job()
            elapsed[name] += time.perf_counter() - start
            counts[name] += len(jobs)
    return {
        name: round(counts[name] / elapsed[name], 1) if name in active else None for name in makers
    }


def _cycle(items: list[Any]) -> Iterator[Any]:
    while True:
        yield from items


def _raw_batches() -> Callable[[int], list[Job]]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()

    def verify(signature: bytes, message: bytes) -> None:
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public.verify(der, message, _ES256)

    def make(count: int) -> list[Job]:
        jobs: list[Job] = []
        for _ in range(count):
            message = os.urandom(512)
            signature = _raw_es256(key, message)
            jobs.append(partial(verify, signature, message))
        return jobs

    return make


def _sd_jwt_vc_batches(
    issuer: ec.EllipticCurvePrivateKey, trust: TrustConfig
) -> Callable[[int], list[Job]]:
    holders = _cycle(
        [
            (key, _jwk(key))
            for key in (ec.generate_private_key(ec.SECP256R1()) for _ in range(_HOLDERS))
        ]
    )

    def issue(jwk: dict[str, str], t: int) -> str:
        disclosures = [
            _b64(json.dumps([_b64(secrets.token_bytes(16)), name, value]).encode())
            for name, value in _CLAIMS
        ]
        payload = {
            "iss": _ISS,
            "iat": t - 60,
            "exp": t + 86400,
            "vct": "urn:ssar:identity:1",
            "_sd_alg": "sha-256",
            "_sd": sorted(_b64(hashlib.sha256(d.encode()).digest()) for d in disclosures),
            "cnf": {"jwk": jwk},
        }
        header = {"alg": "ES256", "typ": "dc+sd-jwt"}
        return "~".join([_sign(issuer, header, payload), *disclosures]) + "~"

    def make(count: int) -> list[Job]:
        now = datetime.now(UTC)
        t = int(now.timestamp())
        jobs: list[Job] = []
        for _ in range(count):
            holder, jwk = next(holders)
            sd_part = issue(jwk, t)
            nonce = secrets.token_urlsafe(16)
            kb = _sign(
                holder,
                {"alg": "ES256", "typ": "kb+jwt"},
                {
                    "nonce": nonce,
                    "aud": _AUD,
                    "iat": t,
                    "sd_hash": _b64(hashlib.sha256(sd_part.encode()).digest()),
                },
            )
            jobs.append(
                partial(
                    verify_sd_jwt_vc,
                    sd_part + kb,
                    trust=trust,
                    now=now,
                    expected_nonce=nonce,
                    expected_audience=_AUD,
                    require_key_binding=True,
                )
            )
        return jobs

    return make


def _jwt_vc_batches(
    issuer: ec.EllipticCurvePrivateKey, trust: TrustConfig
) -> Callable[[int], list[Job]]:
    def make(count: int) -> list[Job]:
        now = datetime.now(UTC)
        t = int(now.timestamp())
        jobs: list[Job] = []
        for index in range(count):
            token = _sign(
                issuer,
                {"alg": "ES256", "typ": "JWT"},
                {
                    "iss": _ISS,
                    "sub": f"did:example:holder-{index % _HOLDERS}",
                    "nbf": t - 60,
                    "exp": t + 86400,
                    "jti": secrets.token_urlsafe(12),
                    "vc": {
                        "@context": ["https://www.w3.org/2018/credentials/v1"],
                        "type": ["VerifiableCredential", "VerifiedEmployee"],
                        "credentialSubject": {"givenName": "Erika", "surname": "Mustermann"},
                    },
                },
            )
            jobs.append(partial(verify_jwt_vc, token, trust=trust, now=now))
        return jobs

    return make


def _mdoc_batches() -> Callable[[int], list[Job]] | None:
    """mdoc batches when the mdoc module offers a benchmark source; else ``None``."""
    try:
        mdoc = importlib.import_module("ssar.credentials.mdoc")
    except ImportError:
        return None
    source = getattr(mdoc, "bench_source", None)
    if source is None:
        return None
    next_sample = source(holders=_HOLDERS)

    def make(count: int) -> list[Job]:
        jobs: list[Job] = []
        for _ in range(count):
            data, kwargs = next_sample()
            jobs.append(partial(mdoc.verify_mdoc, data, **kwargs))
        return jobs

    return make


def measure(seconds: float = 1.0) -> dict[str, float | None]:
    issuer = ec.generate_private_key(ec.SECP256R1())
    trust = TrustConfig(issuers=(TrustedIssuer(iss=_ISS, jwks={"keys": [_jwk(issuer)]}),))
    return _rates(
        {
            "raw_es256_verify_per_s": _raw_batches(),
            "sd_jwt_vc_kb_verify_per_s": _sd_jwt_vc_batches(issuer, trust),
            "jwt_vc_verify_per_s": _jwt_vc_batches(issuer, trust),
            "mdoc_verify_per_s": _mdoc_batches(),
        },
        seconds,
    )


@app.command("credentials")
def credentials(
    seconds: float = typer.Option(1.0, min=0.1, help="Measuring time per figure."),
    as_json: JsonOption = False,
) -> None:
    """Credential verifications per second (one process, one core)."""
    figures = measure(seconds)
    if as_json:
        print_json(figures)
        return
    for name, value in figures.items():
        typer.echo(f"{name}: {value if value is not None else 'n/a'}")


# --- ssar bench face (the face tier's figures; measuring code in ssar.cli.bench_face) ---


@app.command("face")
def face(
    runs: int = typer.Option(20, min=1, help="Frames timed for detection + embedding."),
    seconds: float = typer.Option(1.0, min=0.1, help="Measuring time for comparisons."),
    as_json: JsonOption = False,
) -> None:
    """Face detection + embedding time of a 640x480 frame, comparisons per second, and one
    face check (cached portrait, 3 challenge frames). One process, one core."""
    from ssar.cli.bench_face import measure as measure_face

    figures = measure_face(runs=runs, seconds=seconds)
    if as_json:
        print_json(figures)
        return
    for name, value in figures.items():
        typer.echo(f"{name}: {value}")

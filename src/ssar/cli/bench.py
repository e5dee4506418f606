"""``ssar bench credentials``: verification throughput, measured in one process run.

The credentials are made here with fresh keys (no files, no network): an SD-JWT VC with four
disclosures and a KB-JWT, a JWT-VC (VC 1.1, as Entra issues them), and a raw ES256 signature as
the baseline the other figures are compared with.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import typer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ssar.cli.common import JsonOption, print_json
from ssar.credentials.jwtvc import verify_jwt_vc
from ssar.credentials.sdjwt_vc import verify_sd_jwt_vc
from ssar.credentials.trust import TrustConfig, TrustedIssuer

app = typer.Typer(help="Benchmarks.", no_args_is_help=True)

_ISS = "https://issuer.bench"
_AUD = "https://verifier.bench"
_NONCE = "bench-nonce-0123456789abcdef"


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


def _sign(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    r, s = decode_dss_signature(key.sign(head.encode(), ec.ECDSA(hashes.SHA256())))
    return head + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _rate(call: Callable[[], object], seconds: float) -> float:
    call()  # warm caches (parsed keys) as a running service would have them
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            call()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return round(count / (now - start), 1)


def _mdoc_rate(seconds: float) -> float | None:
    """mdoc throughput when the mdoc module offers a benchmark sample; else ``None``."""
    try:
        mdoc = importlib.import_module("ssar.credentials.mdoc")
    except ImportError:
        return None
    sample = getattr(mdoc, "bench_sample", None)
    if sample is None:
        return None
    data, kwargs = sample()
    return _rate(lambda: mdoc.verify_mdoc(data, **kwargs), seconds)


def measure(seconds: float = 1.0) -> dict[str, float | None]:
    issuer, holder = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    trust = TrustConfig(issuers=(TrustedIssuer(iss=_ISS, jwks={"keys": [_jwk(issuer)]}),))
    now = datetime.now(UTC)
    t = int(now.timestamp())

    # raw ES256: one verification with cryptography, signature already DER
    message = b"x" * 300
    der = issuer.sign(message, ec.ECDSA(hashes.SHA256()))
    public = issuer.public_key()
    algorithm = ec.ECDSA(hashes.SHA256())

    # SD-JWT VC + KB-JWT with four disclosed claims
    disclosures, digests = [], []
    for name, value in [
        ("given_name", "Erika"),
        ("family_name", "Mustermann"),
        ("birthdate", "1964-08-12"),
        ("email", "erika@example.org"),
    ]:
        encoded = _b64(
            json.dumps([_b64(hashlib.sha256(name.encode()).digest()[:16]), name, value]).encode()
        )
        disclosures.append(encoded)
        digests.append(_b64(hashlib.sha256(encoded.encode()).digest()))
    payload = {
        "iss": _ISS,
        "iat": t - 60,
        "exp": t + 86400,
        "vct": "urn:ssar:identity:1",
        "_sd_alg": "sha-256",
        "_sd": sorted(digests),
        "cnf": {"jwk": _jwk(holder)},
    }
    sd_part = (
        "~".join([_sign(issuer, {"alg": "ES256", "typ": "dc+sd-jwt"}, payload), *disclosures]) + "~"
    )
    kb = _sign(
        holder,
        {"alg": "ES256", "typ": "kb+jwt"},
        {
            "nonce": _NONCE,
            "aud": _AUD,
            "iat": t,
            "sd_hash": _b64(hashlib.sha256(sd_part.encode()).digest()),
        },
    )
    presentation = sd_part + kb

    jwt_vc = _sign(
        issuer,
        {"alg": "ES256", "typ": "JWT"},
        {
            "iss": _ISS,
            "sub": "did:example:holder",
            "nbf": t - 60,
            "exp": t + 86400,
            "vc": {
                "@context": ["https://www.w3.org/2018/credentials/v1"],
                "type": ["VerifiableCredential", "VerifiedEmployee"],
                "credentialSubject": {"givenName": "Erika", "surname": "Mustermann"},
            },
        },
    )

    return {
        "raw_es256_verify_per_s": _rate(lambda: public.verify(der, message, algorithm), seconds),
        "sd_jwt_vc_kb_verify_per_s": _rate(
            lambda: verify_sd_jwt_vc(
                presentation,
                trust=trust,
                now=now,
                expected_nonce=_NONCE,
                expected_audience=_AUD,
                require_key_binding=True,
            ),
            seconds,
        ),
        "jwt_vc_verify_per_s": _rate(lambda: verify_jwt_vc(jwt_vc, trust=trust, now=now), seconds),
        "mdoc_verify_per_s": _mdoc_rate(seconds),
    }


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

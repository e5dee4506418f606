"""The client side of a recovery flow for the load harness: a wallet held in memory (the real
``ssar.wallet.presenter.Presenter`` checks the request and builds the presentation; only its HTTP
is done here, asynchronously), a software passkey assertion, and cached face frames made unique
per flow by a cheap perturbation (the service refuses a frame it has seen before, R20)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ssar.clock import SystemClock
from ssar.wallet.presenter import Presenter, VerifierRequest
from ssar.wallet.store import HolderKey, StoredCredential

_ES256 = ec.ECDSA(hashes.SHA256())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_to_hex(key: ec.EllipticCurvePrivateKey) -> str:
    return format(key.private_numbers().private_value, "064x")


def key_from_hex(value: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(value, 16), ec.SECP256R1())


def cose_public_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    import cbor2

    numbers = key.public_key().public_numbers()
    return cbor2.dumps(
        {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
    )


class Passkey:
    """One user's passkey as a platform authenticator without a signature counter holds it
    (counter always 0, as synced passkeys report it, so concurrent sign-ins of one user
    cannot trip the counter check)."""

    def __init__(self, *, key_hex: str, credential_id: bytes, user_id: str, origin: str) -> None:
        self.key = key_from_hex(key_hex)
        self.id = b64url(credential_id)
        self.user_handle = b64url(user_id.encode("ascii"))
        self.origin = origin
        self._auth_data: bytes | None = None

    def assertion(self, public_key: dict[str, Any]) -> dict[str, Any]:
        if self._auth_data is None:
            rp_hash = hashlib.sha256(public_key["rpId"].encode()).digest()
            self._auth_data = rp_hash + bytes([0x01 | 0x04]) + bytes(4)  # UP | UV, counter 0
        client_data = (
            '{"type":"webauthn.get","challenge":"'
            + public_key["challenge"]
            + '","origin":"'
            + self.origin
            + '","crossOrigin":false}'
        ).encode()
        signature = self.key.sign(self._auth_data + hashlib.sha256(client_data).digest(), _ES256)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(self._auth_data),
                "signature": b64url(signature),
                "userHandle": self.user_handle,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }


class MemoryWallet:
    """What ``Presenter`` asks of a wallet, without the files."""

    def __init__(self, *, key_hex: str, credential: str, vct: str, iss: str) -> None:
        self._key = HolderKey(key_from_hex(key_hex))
        self._stored = StoredCredential(
            id="load",
            format="dc+sd-jwt",
            credential=credential,
            credential_type=vct,
            issuer=iss,
            added_at="2026-01-01T00:00:00+00:00",
        )

    def holder_key(self) -> HolderKey:
        return self._key

    def credentials(self) -> list[StoredCredential]:
        return [self._stored]


_CLOCK = SystemClock()


def presenter_for(wallet: MemoryWallet) -> Presenter:
    # the Presenter's own HTTP client is never used: requests go out through the harness
    return Presenter(wallet=wallet, http=None, clock=_CLOCK)  # type: ignore[arg-type]


def wallet_metadata() -> str:
    from ssar.openid4vp.encryption import ENC_VALUES, KEY_ALG

    return json.dumps(
        {
            "vp_formats_supported": {
                "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}
            },
            "authorization_encryption_alg_values_supported": [KEY_ALG],
            "authorization_encryption_enc_values_supported": list(ENC_VALUES),
        }
    )


def response_form(presenter: Presenter, request: VerifierRequest) -> dict[str, str]:
    """The form the wallet posts to the ``response_uri`` (what ``Presenter.present`` sends)."""
    selections = presenter.select(request)
    payload: dict[str, Any] = {"vp_token": presenter.build_vp_token(request, selections)}
    if request.state is not None:
        payload["state"] = request.state
    return presenter._response_form(request, payload)


def pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class FaceFrames:
    """One readable webcam frame per head pose (the astronaut of ``tests.support.faces``), made
    once; each flow gets its own bytes by 16 random pixels in the top row, re-encoded."""

    def __init__(self) -> None:
        import cv2
        from tests.support.faces import frames_for

        self._cv2 = cv2
        self._bgr = {}
        for seed, pose in enumerate(("straight", "left", "right")):
            jpeg = frames_for([pose], seed=1000 + seed)[0]
            self._bgr[pose] = cv2.imdecode(
                __import__("numpy").frombuffer(jpeg, dtype="uint8"), cv2.IMREAD_COLOR
            )
        self._check()

    def frame(self, pose: str) -> bytes:
        image = self._bgr[pose].copy()
        noise = os.urandom(48)
        image[0, :16, :] = __import__("numpy").frombuffer(noise, dtype="uint8").reshape(16, 3)
        ok, encoded = self._cv2.imencode(".jpg", image, [self._cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok
        return bytes(encoded)

    def frames(self, poses: Sequence[str]) -> list[bytes]:
        """One frame per pose of the challenge (3 poses: 3 frames, 4 embeddings with the
        portrait's)."""
        return [self.frame(p) for p in poses]

    def _check(self) -> None:
        """The perturbed, re-encoded frames still read as their pose (checked once)."""
        from ssar.face.detection import find_single_face
        from ssar.face.image import decode_image
        from ssar.face.pose import classify_yaw, estimate_yaw

        for pose in self._bgr:
            decoded = decode_image(self.frame(pose))
            face = find_single_face(decoded, with_landmarks68=True)
            assert face.landmarks68 is not None
            yaw = estimate_yaw(face.landmarks68, width=decoded.shape[1], height=decoded.shape[0])
            seen = classify_yaw(yaw)
            if seen is None or seen.value != pose:
                raise RuntimeError(f"the cached {pose} frame reads as {seen}")

"""R20: the selfie answers a random challenge bound to the flow nonce, within its deadline;
frames answered for another nonce, too late, or replayed, and still photos, are refused."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import timedelta

import pytest

from ssar.clock import FixedClock
from ssar.face.errors import (
    ChallengeExpired,
    ChallengeInvalid,
    FaceChanged,
    LivenessError,
    PoseMismatch,
    ReplayedFrames,
)
from ssar.face.image import RgbImage, decode_image
from ssar.face.liveness import (
    Challenge,
    Frame,
    check_face,
    issue_challenge,
    random_poses,
    read_challenge,
    verify_liveness,
)
from ssar.face.matching import embed_image
from ssar.face.pose import Pose, classify_yaw, estimate_yaw
from ssar.face.synthetic import encode_jpeg, turn_head
from tests.conftest import shared_path

KEY = b"k" * 32
NONCE = "flow-nonce-4f1c"


def _challenge(clock: FixedClock, poses: tuple[Pose, ...]) -> Challenge:
    for seed in range(500):
        challenge = issue_challenge(
            nonce=NONCE,
            key=KEY,
            clock=clock,
            rng=random.Random(seed),
        )
        if challenge.poses == poses:
            return challenge
    raise AssertionError(f"no seed gives {poses}")


def _frames(pose_frames: dict[Pose, bytes], poses: tuple[Pose, ...]) -> list[Frame]:
    return [Frame(pose_frames[p]) for p in poses]


def test_R20_random_sequences_are_2_or_3_poses_with_a_turn_and_a_straight_pose() -> None:
    rng = random.Random(1)
    seen = set()
    for _ in range(300):
        poses = random_poses(rng)
        seen.add(poses)
        assert 2 <= len(poses) <= 3
        assert all(a != b for a, b in itertools.pairwise(poses))
        assert Pose.STRAIGHT in poses
        assert set(poses) - {Pose.STRAIGHT}
    assert len(seen) == 14


def test_R20_a_burst_that_follows_the_challenge_passes(
    clock: FixedClock, pose_frames: dict[Pose, bytes]
) -> None:
    poses = (Pose.LEFT, Pose.STRAIGHT, Pose.RIGHT)
    challenge = _challenge(clock, poses)
    clock.advance(timedelta(seconds=5))
    result = verify_liveness(
        token=challenge.token,
        frames=_frames(pose_frames, poses),
        expected_nonce=NONCE,
        key=KEY,
        clock=clock,
    )
    assert result.poses == poses
    assert result.yaws[0] > 18 > -18 > result.yaws[2]
    assert len(result.frame_digests) == 3


def test_R20_transition_and_repeated_frames_of_a_pose_are_allowed(
    clock: FixedClock, pose_frames: dict[Pose, bytes], webcam_frame: RgbImage
) -> None:
    poses = (Pose.STRAIGHT, Pose.RIGHT)
    challenge = _challenge(clock, poses)
    box = embed_box(webcam_frame)
    half = encode_jpeg(turn_head(webcam_frame, box, -20))  # between straight and right
    frames = [Frame(pose_frames[Pose.STRAIGHT]), Frame(half), Frame(pose_frames[Pose.RIGHT])]
    result = verify_liveness(
        token=challenge.token, frames=frames, expected_nonce=NONCE, key=KEY, clock=clock
    )
    assert result.poses == poses


def embed_box(image: RgbImage):  # type: ignore[no-untyped-def]
    from ssar.face.detection import find_single_face

    return find_single_face(image).box


def test_R20_frames_for_another_nonce_are_refused(
    clock: FixedClock, pose_frames: dict[Pose, bytes]
) -> None:
    poses = (Pose.STRAIGHT, Pose.LEFT)
    challenge = _challenge(clock, poses)
    with pytest.raises(ChallengeInvalid):
        verify_liveness(
            token=challenge.token,
            frames=_frames(pose_frames, poses),
            expected_nonce="another-flow",
            key=KEY,
            clock=clock,
        )


def test_R20_a_challenge_with_altered_poses_is_refused(clock: FixedClock) -> None:
    challenge = _challenge(clock, (Pose.STRAIGHT, Pose.LEFT))
    forged = _challenge(clock, (Pose.STRAIGHT, Pose.RIGHT))
    version, _, mac = challenge.token.split(".")
    token = ".".join([version, forged.token.split(".")[1], mac])
    with pytest.raises(ChallengeInvalid):
        read_challenge(token=token, expected_nonce=NONCE, key=KEY)
    with pytest.raises(ChallengeInvalid):
        read_challenge(token=challenge.token, expected_nonce=NONCE, key=b"x" * 32)
    with pytest.raises(ChallengeInvalid):
        read_challenge(token="garbage", expected_nonce=NONCE, key=KEY)


def test_R20_frames_after_the_deadline_are_refused(
    clock: FixedClock, pose_frames: dict[Pose, bytes]
) -> None:
    poses = (Pose.STRAIGHT, Pose.LEFT)
    challenge = _challenge(clock, poses)
    clock.advance(timedelta(seconds=61))
    with pytest.raises(ChallengeExpired):
        verify_liveness(
            token=challenge.token,
            frames=_frames(pose_frames, poses),
            expected_nonce=NONCE,
            key=KEY,
            clock=clock,
        )


def test_R20_frames_captured_before_the_challenge_are_refused(
    clock: FixedClock, pose_frames: dict[Pose, bytes]
) -> None:
    poses = (Pose.STRAIGHT, Pose.LEFT)
    challenge = _challenge(clock, poses)
    frames = _frames(pose_frames, poses)
    frames[0] = replace(frames[0], captured_at=challenge.issued_at - timedelta(minutes=5))
    with pytest.raises(ChallengeExpired):
        verify_liveness(
            token=challenge.token, frames=frames, expected_nonce=NONCE, key=KEY, clock=clock
        )


def test_R20_a_still_image_repeated_fails(
    clock: FixedClock, pose_frames: dict[Pose, bytes], webcam_frame: RgbImage
) -> None:
    poses = (Pose.STRAIGHT, Pose.LEFT, Pose.STRAIGHT)
    challenge = _challenge(clock, poses)
    still = pose_frames[Pose.STRAIGHT]
    with pytest.raises(ReplayedFrames):
        verify_liveness(
            token=challenge.token,
            frames=[Frame(still)] * 3,
            expected_nonce=NONCE,
            key=KEY,
            clock=clock,
        )
    # the same still, re-encoded so no two frames are byte-identical: no head turn is seen
    reencoded = [Frame(encode_jpeg(webcam_frame, q)) for q in (95, 85, 75)]
    with pytest.raises(PoseMismatch):
        verify_liveness(
            token=challenge.token, frames=reencoded, expected_nonce=NONCE, key=KEY, clock=clock
        )


def test_R20_a_replayed_burst_is_refused(clock: FixedClock, pose_frames: dict[Pose, bytes]) -> None:
    poses = (Pose.STRAIGHT, Pose.RIGHT)
    challenge = _challenge(clock, poses)
    frames = _frames(pose_frames, poses)
    first = verify_liveness(
        token=challenge.token, frames=frames, expected_nonce=NONCE, key=KEY, clock=clock
    )
    with pytest.raises(ReplayedFrames):
        verify_liveness(
            token=challenge.token,
            frames=frames,
            expected_nonce=NONCE,
            key=KEY,
            clock=clock,
            already_seen=set(first.frame_digests),
        )


def test_R20_poses_in_the_wrong_order_fail(
    clock: FixedClock, pose_frames: dict[Pose, bytes]
) -> None:
    challenge = _challenge(clock, (Pose.LEFT, Pose.STRAIGHT))
    with pytest.raises(PoseMismatch):
        verify_liveness(
            token=challenge.token,
            frames=_frames(pose_frames, (Pose.STRAIGHT, Pose.LEFT)),
            expected_nonce=NONCE,
            key=KEY,
            clock=clock,
        )


def test_R20_too_few_or_too_many_frames_fail(
    clock: FixedClock, pose_frames: dict[Pose, bytes]
) -> None:
    challenge = _challenge(clock, (Pose.LEFT, Pose.STRAIGHT, Pose.RIGHT))
    with pytest.raises(LivenessError) as caught:
        verify_liveness(
            token=challenge.token,
            frames=[Frame(pose_frames[Pose.LEFT])],
            expected_nonce=NONCE,
            key=KEY,
            clock=clock,
        )
    assert caught.value.code == "frame_count"


def test_R20_check_face_matches_the_straight_frame_with_the_portrait(
    clock: FixedClock, pose_frames: dict[Pose, bytes], astronaut: RgbImage
) -> None:
    poses = (Pose.RIGHT, Pose.STRAIGHT, Pose.LEFT)
    challenge = _challenge(clock, poses)
    result = check_face(
        portrait=embed_image(astronaut),
        token=challenge.token,
        frames=_frames(pose_frames, poses),
        expected_nonce=NONCE,
        key=KEY,
        clock=clock,
    )
    assert result.match.match
    assert result.liveness.poses == poses


def test_R20_a_person_swapped_mid_burst_is_refused(
    clock: FixedClock, pose_frames: dict[Pose, bytes]
) -> None:
    obama = shared_path("faces", "tests", "test_images", "obama.jpg").read_bytes()
    poses = (Pose.STRAIGHT, Pose.RIGHT)
    challenge = _challenge(clock, poses)
    image = decode_image(obama)
    turned = encode_jpeg(turn_head(image, embed_box(image), -50))
    with pytest.raises(FaceChanged):
        verify_liveness(
            token=challenge.token,
            frames=[Frame(pose_frames[Pose.STRAIGHT]), Frame(turned)],
            expected_nonce=NONCE,
            key=KEY,
            clock=clock,
        )


def test_pose_of_a_real_turned_photo() -> None:
    """obama2.jpg: a press photo with the head turned to his right."""
    from ssar.face.detection import find_single_face

    image = decode_image(shared_path("faces", "tests", "test_images", "obama2.jpg").read_bytes())
    face = find_single_face(image, with_landmarks68=True)
    assert face.landmarks68 is not None
    yaw = estimate_yaw(face.landmarks68, width=image.shape[1], height=image.shape[0])
    assert classify_yaw(yaw) == Pose.RIGHT

"""The server runs face checks in a thread pool: concurrent calls into the dlib models must give
the answers one call alone gives (dlib's detector and network keep scratch state in the object;
unguarded, concurrent calls saw 31 faces in one, a blurred chip, or crashed the process)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ssar.face.detection import find_single_face
from ssar.face.image import RgbImage, decode_image
from ssar.face.matching import embed_face, embed_portrait
from ssar.face.pose import Pose
from ssar.face.synthetic import encode_jpeg


def test_R21_R22_concurrent_face_checks_give_the_answers_of_one_alone(
    astronaut: RgbImage, pose_frames: dict[Pose, bytes]
) -> None:
    portrait = encode_jpeg(np.ascontiguousarray(astronaut[0:360, 90:390]))
    frames = list(pose_frames.values())

    def one_check() -> list[np.ndarray]:
        vectors = [embed_portrait(portrait).vector]
        for frame in frames:
            face = find_single_face(decode_image(frame), with_landmarks68=True)
            vectors.append(embed_face(face).vector)
        return vectors

    alone = one_check()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: one_check(), range(8)))
    for vectors in results:
        for got, expected in zip(vectors, alone, strict=True):
            assert np.allclose(got, expected)

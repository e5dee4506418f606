"""Calibrate and publish the face matcher's accuracy (R22).

    .venv/bin/python scripts/face_calibrate.py [--faces ../shared/faces] [--write docs/FACE_ACCURACY.md] [--json]

Embeds every labelled single-face image of the shared set (never copied into the repository;
read where it lies) plus scikit-image's public-domain ``astronaut``, fits the impostor-distance
distribution, measures FMR/FNMR at several thresholds and the robustness to webcam-like
transformations, and prints (or writes) the Markdown report. Nothing is written but the report.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssar.face.calibration import (
    DEFAULT_THRESHOLD,
    IMPOSTOR_MEAN,
    IMPOSTOR_STD,
    confidence_from_distance,
    distance_for_confidence,
)
from ssar.face.errors import FaceError
from ssar.face.image import RgbImage, decode_image
from ssar.face.matching import FaceEmbedding, embed_image

REPO = Path(__file__).resolve().parent.parent
THRESHOLDS = (30, 40, 50, 60, 70, 80, 90)
# images of the knn "test" folder and of tests/test_images, by the person they show
NAMED = {
    "alex_lacamoire1.jpg": "alex_lacamoire",
    "johnsnow_test1.jpg": "kit_harington",
    "obama1.jpg": "obama",
    "obama.jpg": "obama",
    "obama2.jpg": "obama",
    "obama3.jpg": "obama",
    "obama_small.jpg": "obama",
    "obama_partial_face.jpg": "obama",
    "obama_partial_face2.jpg": "obama",
    "32bit.png": "obama",
    "biden.jpg": "biden",
}
SAME_CAPTURE = 0.12  # two files of one capture (re-encoded, resized) are counted once


@dataclass
class Sample:
    label: str
    name: str
    image: RgbImage
    embedding: FaceEmbedding


def labelled_files(faces: Path) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for path in sorted((faces / "examples" / "knn_examples" / "train").glob("*/*")):
        files.append((path.parent.name, path))
    for folder in (faces / "examples" / "knn_examples" / "test", faces / "tests" / "test_images"):
        files.extend((NAMED[p.name], p) for p in sorted(folder.glob("*")) if p.name in NAMED)
    for path in sorted((faces / "examples").glob("*.jpg")):
        if path.name in NAMED:
            files.append((NAMED[path.name], path))
    return files


def astronaut() -> RgbImage:
    from skimage import data

    image: RgbImage = np.ascontiguousarray(data.astronaut())
    return image


def collect(faces: Path) -> tuple[list[Sample], list[str]]:
    samples: list[Sample] = []
    notes: list[str] = []
    sources: list[tuple[str, str, RgbImage]] = [
        (label, path.name, decode_image(path.read_bytes())) for label, path in labelled_files(faces)
    ]
    sources.append(("eileen_collins", "skimage:astronaut", astronaut()))
    for label, name, image in sources:
        try:
            embedding = embed_image(image)
        except FaceError as exc:
            notes.append(f"{name}: skipped ({exc.code})")
            continue
        twin = next(
            (
                s
                for s in samples
                if s.label == label and s.embedding.distance(embedding) < SAME_CAPTURE
            ),
            None,
        )
        if twin is not None:
            if twin.name != name:
                notes.append(f"{name}: same capture as {twin.name}, counted once")
            continue
        samples.append(Sample(label, name, image, embedding))
    return samples, notes


def pairs(samples: list[Sample]) -> tuple[list[float], list[float]]:
    genuine, impostor = [], []
    for a, b in itertools.combinations(samples, 2):
        (genuine if a.label == b.label else impostor).append(a.embedding.distance(b.embedding))
    return genuine, impostor


def transforms() -> dict[str, object]:
    import cv2

    def scale(factor: float) -> object:
        return lambda im: cv2.resize(im, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)

    def jpeg(quality: int) -> object:
        def apply(im: RgbImage) -> RgbImage:
            _ok, data = cv2.imencode(".jpg", im[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
            return decode_image(data.tobytes())

        return apply

    def brightness(gain: float) -> object:
        return lambda im: np.clip(im.astype(np.float32) * gain, 0, 255).astype(np.uint8)

    def rotate(degrees: float) -> object:
        def apply(im: RgbImage) -> RgbImage:
            h, w = im.shape[:2]
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
            return cv2.warpAffine(im, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)

        return apply

    def webcam(im: RgbImage) -> RgbImage:
        # 640x480-like framing, soft focus, sensor noise, dim light, JPEG 70
        h = im.shape[0]
        small = cv2.resize(im, None, fx=480 / h, fy=480 / h, interpolation=cv2.INTER_AREA)
        soft = cv2.GaussianBlur(small, (0, 0), 0.8)
        noise = np.random.default_rng(7).normal(0, 4, soft.shape)
        dim = np.clip((soft.astype(np.float32) * 0.75) + noise, 0, 255).astype(np.uint8)
        return jpeg(70)(dim)  # type: ignore[operator,no-any-return]

    return {
        "scale 0.5": scale(0.5),
        "scale 0.3": scale(0.3),
        "JPEG q=60": jpeg(60),
        "JPEG q=25": jpeg(25),
        "brightness x0.6": brightness(0.6),
        "brightness x1.4": brightness(1.4),
        "rotation +10°": rotate(10),
        "rotation -15°": rotate(-15),
        "webcam-like (480p, blur, noise, dim, JPEG 70)": webcam,
    }


def robustness(samples: list[Sample], threshold: float) -> list[dict[str, object]]:
    """Each transformation of each capture, compared with every other capture of the same
    person (the realistic case: a selfie against a different portrait) and with the untouched
    capture itself."""
    rows = []
    for name, apply in transforms().items():
        failures: dict[str, int] = {}
        self_conf, cross_conf, cross_match, cross_total = [], [], 0, 0
        for sample in samples:
            try:
                embedding = embed_image(apply(sample.image))  # type: ignore[operator]
            except FaceError as exc:
                failures[exc.code] = failures.get(exc.code, 0) + 1
                continue
            self_conf.append(confidence_from_distance(embedding.distance(sample.embedding)))
            for other in samples:
                if other is not sample and other.label == sample.label:
                    conf = confidence_from_distance(embedding.distance(other.embedding))
                    cross_conf.append(conf)
                    cross_total += 1
                    cross_match += conf >= threshold
        rows.append(
            {
                "transformation": name,
                "images": len(samples),
                "rejected": failures,
                "self_confidence_min": round(min(self_conf), 1) if self_conf else None,
                "genuine_pairs": cross_total,
                "genuine_confidence_median": round(statistics.median(cross_conf), 1)
                if cross_conf
                else None,
                "genuine_match_rate": round(cross_match / cross_total, 3) if cross_total else None,
            }
        )
    return rows


def calibrate(faces: Path, *, with_robustness: bool = True) -> dict[str, object]:
    started = time.perf_counter()
    samples, notes = collect(faces)
    genuine, impostor = pairs(samples)
    mean, std = statistics.fmean(impostor), statistics.stdev(impostor)
    table = []
    for t in THRESHOLDS:
        false_matches = sum(confidence_from_distance(d) >= t for d in impostor)
        false_non = sum(confidence_from_distance(d) < t for d in genuine)
        table.append(
            {
                "threshold": t,
                "distance_at_most": round(distance_for_confidence(t), 3),
                "fmr_estimated": 10 ** (-t / 10),
                "false_matches": false_matches,
                "impostor_pairs": len(impostor),
                "false_non_matches": false_non,
                "genuine_pairs": len(genuine),
            }
        )
    labels = sorted({s.label for s in samples})
    return {
        "identities": len(labels),
        "labels": {lab: sum(s.label == lab for s in samples) for lab in labels},
        "captures": len(samples),
        "notes": notes,
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
        "genuine_distance": {"min": min(genuine), "max": max(genuine)} if genuine else None,
        "impostor_distance": {"min": min(impostor), "max": max(impostor)},
        "fit": {"mean": mean, "std": std},
        "in_use": {"mean": IMPOSTOR_MEAN, "std": IMPOSTOR_STD},
        "table": table,
        "robustness": robustness(samples, DEFAULT_THRESHOLD) if with_robustness else [],
        "seconds": round(time.perf_counter() - started, 1),
    }


def _fmr(x: float) -> str:
    return f"1 in {1 / x:,.0f}" if x > 0 else "0"


def markdown(result: dict[str, object]) -> str:
    t = result["table"]
    fit, in_use = result["fit"], result["in_use"]
    assert isinstance(t, list)
    assert isinstance(fit, dict)
    assert isinstance(in_use, dict)
    rows = "\n".join(
        f"| {r['threshold']} | {r['distance_at_most']:.3f} | {_fmr(r['fmr_estimated'])} | "
        f"{r['false_matches']} of {r['impostor_pairs']} | "
        f"{r['false_non_matches']} of {r['genuine_pairs']} |"
        for r in t
    )
    rob = result["robustness"]
    assert isinstance(rob, list)
    rob_rows = "\n".join(
        f"| {r['transformation']} | {sum(r['rejected'].values())}"
        f"{' (' + ', '.join(f'{k} {v}' for k, v in r['rejected'].items()) + ')' if r['rejected'] else ''} | "
        f"{r['self_confidence_min']} | {r['genuine_confidence_median']} | "
        f"{'' if r['genuine_match_rate'] is None else format(r['genuine_match_rate'], '.0%')} |"
        for r in rob
    )
    label_list = ", ".join(f"{k} ({v})" for k, v in result["labels"].items())  # type: ignore[attr-defined]
    notes = "\n".join(f"- {n}" for n in result["notes"])  # type: ignore[attr-defined]
    gd, idist = result["genuine_distance"], result["impostor_distance"]
    values = {**result, "rows": rows, "rob_rows": rob_rows, "label_list": label_list}
    values.update(notes=notes, gd=gd, idist=idist, fit=fit, in_use=in_use)
    values.update(d70=distance_for_confidence(70), c06=confidence_from_distance(0.6))
    values.update(fm70=next(r["false_matches"] for r in t if r["threshold"] == 70))
    return TEMPLATE.format(**values)


TEMPLATE = """# Face matching: calibration and accuracy

Generated by `scripts/face_calibrate.py` (R22). Regenerate after any change to the models, the
detection or alignment, or the confidence constants in `src/ssar/face/calibration.py`.

## The engine
dlib 20 (PyPI `dlib-bin`): HOG frontal face detector on a copy scaled to at most 1024 px
(upsample 0, then 1 when nothing is found) → exactly one face at least 80 px wide (R21; a
credential portrait must also be at least 200×200 px) → 5-point landmarks → 150×150 aligned
chip (`dlib.get_face_chip`, padding 0.25) → quality gate on the chip (sharpness = variance of
the Laplacian ≥ 20, mean level 40–215, deviation ≥ 15) → 128-d ResNet embedding
(`dlib_face_recognition_resnet_model_v1`, from PyPI `face-recognition-models`) → Euclidean
distance.

## The confidence scale
Confidence *c* means an estimated false match rate (FMR) of 10^(−c/10), Entra Face Check's
scale: 50 ≈ 1 in 100,000, 70 ≈ 1 in 10^7, 90 ≈ 1 in 10^9. The estimate is a normal
distribution fitted to the impostor distances (pairs of different people) of the calibration
set: FMR_est(d) = Φ((d − μ)/σ), confidence(d) = −10·log10 FMR_est(d), clipped to 0–100.

- Fitted on this run: μ = {fit[mean]:.4f}, σ = {fit[std]:.4f}.
- In use (`IMPOSTOR_MEAN`, `IMPOSTOR_STD`): μ = {in_use[mean]:.4f}, σ = {in_use[std]:.4f}.
- At the default threshold 70 a pair matches when its distance is at most {d70:.3f}.

## Calibration set
{identities} identities, {captures} distinct captures: {label_list}. The images are the
`face_recognition` project's examples in `shared/faces` (read in place, never copied into the
repository) and scikit-image's public-domain `astronaut` (Eileen Collins).
{notes}

{genuine_pairs} genuine pairs (distances {gd[min]:.3f}–{gd[max]:.3f}), {impostor_pairs} impostor pairs
(distances {idist[min]:.3f}–{idist[max]:.3f}).

| threshold | distance ≤ | estimated FMR | measured false matches | measured false non-matches |
| --- | --- | --- | --- | --- |
{rows}

**R22.** At the default 70 the measured FMR is {fm70} of {impostor_pairs} impostor pairs (0 is
the best this set can show), against an estimated 1 in 10^7. With {impostor_pairs} impostor pairs, 0 observed false matches bounds the true FMR
only to about 3/{impostor_pairs} (95 %, "rule of three"): the set **cannot measure 1 in 10,000
directly**, let alone 1 in 10^7. What it does show is that every impostor pair lies far from the
threshold: the closest impostor pair ({idist[min]:.3f}) is well above the distance the default
accepts ({d70:.3f}).

### Limits — read before relying on the numbers
- The set is tiny (a handful of public figures, mostly of one age group and skin tone, studio
  and press photos). The impostor pairs are not independent (each capture appears in many
  pairs), so the effective sample is smaller than the pair count.
- The FMR estimates at 50–90 are extrapolations of a fitted normal far into its tail, beyond
  anything measured. Real impostor distributions have heavier tails (look-alikes, relatives,
  twins); the published accuracy of this dlib model (99.38 % on LFW at distance 0.6) implies an
  FMR around 10^-3 at 0.6, which this fit puts near confidence {c06:.0f}. Read the scale as a
  ranking calibrated on this set, not as a certified FMR.
- Before production use, recalibrate on a large, demographically balanced set of consented
  captures (thousands of identities) with the same pipeline, and publish the new table.

## Robustness to webcam-like transformations
Each capture transformed, then compared with every *other* capture of the same person at the
default threshold 70 ("genuine match rate"), and with its own untouched version
("self, min confidence").

| transformation | rejected (code) | self, min confidence | genuine, median confidence | genuine match rate at 70 |
| --- | --- | --- | --- | --- |
{rob_rows}

Rejections are the quality gate doing its job (R21: too small, too blurred, no face), not
false non-matches.

_Run time: {seconds} s on one core._
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "faces")
    parser.add_argument("--write", type=Path, help="write the Markdown report to this file")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-robustness", action="store_true")
    args = parser.parse_args()
    if not args.faces.is_dir():
        print(
            f"{args.faces} is absent: the labelled faces live in ../shared/faces", file=sys.stderr
        )
        return 2
    result = calibrate(args.faces, with_robustness=not args.no_robustness)
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    text = markdown(result)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    elif not args.json:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

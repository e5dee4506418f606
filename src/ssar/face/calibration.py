"""The confidence scale (R22): confidence ``c`` means an estimated false match rate of
``10^(-c/10)`` (Entra Face Check's scale: 50 is 1 in 100,000, 70 is 1 in 10^7).

The estimate comes from a normal distribution fitted to the Euclidean distances between the
embeddings of different people in the calibration set (``scripts/face_calibrate.py``; the fit,
the pair counts and the limits of so small a set are published in docs/FACE_ACCURACY.md):
``FMR_est(d) = P(impostor distance <= d) = Phi((d - mean) / std)`` and
``confidence(d) = -10 log10 FMR_est(d)``, clipped to 0-100.
"""

from __future__ import annotations

import math

from ssar.face.errors import InvalidThreshold

# fitted by scripts/face_calibrate.py on the calibration set; see docs/FACE_ACCURACY.md
IMPOSTOR_MEAN = 0.8631
IMPOSTOR_STD = 0.0733

MIN_THRESHOLD = 50.0
MAX_THRESHOLD = 100.0
DEFAULT_THRESHOLD = 70.0


def check_threshold(threshold: float) -> float:
    """A profile's face-check threshold, which must lie in 50-100 (R22)."""
    if not MIN_THRESHOLD <= threshold <= MAX_THRESHOLD or math.isnan(threshold):
        raise InvalidThreshold(
            f"threshold {threshold} outside {MIN_THRESHOLD:g}-{MAX_THRESHOLD:g}", field="threshold"
        )
    return float(threshold)


def _log10_normal_cdf(z: float) -> float:
    """log10 of the standard normal CDF, accurate far into the lower tail."""
    if z > -5.0:
        return math.log10(0.5 * math.erfc(-z / math.sqrt(2.0)))
    # asymptotic series of Mills' ratio: erfc underflows below z = -38
    x = -z
    series = 1.0 - 1.0 / x**2 + 3.0 / x**4 - 15.0 / x**6
    log_pdf = -0.5 * x * x - 0.5 * math.log(2.0 * math.pi)
    return (log_pdf - math.log(x) + math.log(series)) / math.log(10.0)


def estimated_fmr(
    distance: float, *, mean: float = IMPOSTOR_MEAN, std: float = IMPOSTOR_STD
) -> float:
    """The estimated share of impostor pairs at ``distance`` or closer."""
    return float(10.0 ** _log10_normal_cdf((distance - mean) / std))


def confidence_from_distance(
    distance: float, *, mean: float = IMPOSTOR_MEAN, std: float = IMPOSTOR_STD
) -> float:
    """0-100; non-increasing in ``distance``."""
    value = -10.0 * _log10_normal_cdf((distance - mean) / std)
    return min(100.0, max(0.0, value))


def distance_for_confidence(
    confidence: float, *, mean: float = IMPOSTOR_MEAN, std: float = IMPOSTOR_STD
) -> float:
    """The largest distance that still reaches ``confidence`` (bisection; for the docs)."""
    low, high = mean - 40.0 * std, mean + 10.0 * std
    for _ in range(100):
        middle = (low + high) / 2
        if confidence_from_distance(middle, mean=mean, std=std) >= confidence:
            low = middle
        else:
            high = middle
    return low

"""dlib's models, loaded once per process on first use (about 130 MB; 1 s).

The model files come from the ``face_recognition_models`` package. Its ``__init__`` imports
``pkg_resources`` (gone from recent setuptools), so the package directory is located with
``importlib.util.find_spec`` without importing it.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssar.errors import ConfigurationError

_MODELS_PACKAGE = "face_recognition_models"
SHAPE_5 = "shape_predictor_5_face_landmarks.dat"
SHAPE_68 = "shape_predictor_68_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"


@dataclass(frozen=True)
class FaceModels:
    """The loaded dlib objects (typed ``Any``: dlib ships no type information)."""

    detector: Any
    shape5: Any
    shape68: Any
    recogniser: Any


_lock = threading.Lock()
_cache: dict[str, FaceModels] = {}

#: dlib's detector and its face-recognition network keep scratch buffers inside the object, so
#: two threads calling one of them at once get wrong answers (faces that are not there, garbage
#: chips) or crash the process; every call into the models holds this lock (the server runs face
#: checks in a thread pool). Processes scale out; threads within one process take turns.
model_lock = threading.RLock()


def model_directory() -> Path:
    spec = importlib.util.find_spec(_MODELS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"the {_MODELS_PACKAGE} package is not installed (pip install face-recognition-models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def load_models() -> FaceModels:
    """The process-wide models; the first call loads them."""
    cached = _cache.get("models")
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get("models")
        if cached is not None:
            return cached
        import dlib

        directory = model_directory()
        for name in (SHAPE_5, SHAPE_68, RESNET):
            if not (directory / name).is_file():
                raise ConfigurationError(f"face model file missing: {directory / name}")
        models = FaceModels(
            detector=dlib.get_frontal_face_detector(),
            shape5=dlib.shape_predictor(str(directory / SHAPE_5)),
            shape68=dlib.shape_predictor(str(directory / SHAPE_68)),
            recogniser=dlib.face_recognition_model_v1(str(directory / RESNET)),
        )
        _cache["models"] = models
        return models

"""The text detector runs rapidocr's detection steps itself (without cutting out line pictures for a recogniser that
never runs): it finds exactly the lines rapidocr's own call finds, on whole ward frames and on crops of every shape
the redactor asks about, tiny and thin ones included (rapidocr pads those)."""

from __future__ import annotations

import numpy as np
import pytest

from cradle.media.redact.text import TextDetector, normalised
from cradle.media.sim import SimCamera, SimSettings

pytestmark = pytest.mark.nodb


def _rapidocr_lines(detector: TextDetector, image: np.ndarray) -> list[np.ndarray]:
    result = detector._engine(normalised(image), use_det=True, use_cls=False, use_rec=False)
    quads = getattr(result, "boxes", None)
    if quads is None or len(quads) == 0:
        return []
    return [np.asarray(quad, np.float32).reshape(4, 2) for quad in quads]


def test_the_lines_found_are_rapidocrs_own_box_for_box():
    detector = TextDetector()
    compared = found = 0
    for seed, lang in ((5, "en"), (8, "zh")):
        image = SimCamera(SimSettings(seed=seed, width=640, height=480, lang=lang)).frame(3).image
        rng = np.random.default_rng(seed)
        crops = [image, image[100:110, 50:400], image[0:25, 0:25], image[50:300, 200:215], image[33:190, 7:301]]
        for _ in range(6):
            y, x = int(rng.integers(0, 300)), int(rng.integers(0, 400))
            crops.append(image[y : y + int(rng.integers(8, 180)), x : x + int(rng.integers(8, 240))])
        for crop in crops:
            ours, theirs = detector._once(crop), _rapidocr_lines(detector, crop)
            assert len(ours) == len(theirs)
            assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
            compared += 1
            found += len(ours)
    assert compared == 22 and found > 10  # the frames have cards and labels: lines were found and compared

"""A "line" taller than any card's type is looked at again at half scale: a flat patch the contrast normalisation
stretched is not masked over the infant, and large type is still found."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from cradle.media.redact.text import TALLEST_LINE_PX, TextDetector, relooked
from cradle.media.scenes import WardScene, _font, draw_scene

pytestmark = pytest.mark.nodb


class Scaled:
    """A stand-in detector whose answer depends on the width of the picture it is shown."""

    def __init__(self, answers: dict[int, list[tuple[int, int, int, int]]]) -> None:
        self.answers = answers
        self.widths: list[int] = []

    def detect(self, image: np.ndarray) -> list:
        self.widths.append(image.shape[1])
        return [
            np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
            for x0, y0, x1, y1 in self.answers.get(image.shape[1], [])
        ]


def _spans(quads: list[np.ndarray]) -> list[tuple[float, float]]:
    return sorted(tuple(sorted(cv2.minAreaRect(q)[1])) for q in quads)


@pytest.fixture(scope="module")
def detector() -> TextDetector:
    return TextDetector()


def test_a_patch_is_dropped_and_lines_it_swallowed_are_found_on_a_look_at_half_scale():
    # The patch covers the whole 400 px picture; at half scale it is a patch again, and it is dropped.
    patch = Scaled({400: [(0, 0, 400, 300)], 200: [(0, 0, 200, 108)]})
    assert relooked(patch.detect, np.zeros((300, 400, 3), np.uint8)) == []
    assert patch.widths == [400, 200]
    # A patch 180 px tall that swallowed a line: its box grown by a tenth of its height, (0, 42)-(400, 258), is looked
    # at again at half scale, where the line is found as a line (30 px tall, long as a line is).
    swallowed = Scaled({400: [(10, 60, 390, 240)], 200: [(5, 40, 195, 70)]})
    (line,) = relooked(swallowed.detect, np.zeros((300, 400, 3), np.uint8))
    assert line.min(axis=0) == pytest.approx([10, 122], abs=1) and line.max(axis=0) == pytest.approx([390, 182], abs=1)
    # An ordinary line is taken as found, whatever its shape, and nothing is looked at again.
    plain = Scaled({400: [(10, 10, 60, 60)]})
    assert len(relooked(plain.detect, np.zeros((300, 400, 3), np.uint8))) == 1 and plain.widths == [400]


def test_the_empty_place_of_a_swapped_card_is_no_line_of_text(detector):
    # Tuning scene 30037 while the card is swapped: a flat, noisy stretch of incubator and infant, where the detector
    # saw one crop-sized "line" that stayed masked over the infant until the scene's next whole look.
    frame = WardScene(draw_scene(30037, frames=16)).frame(5)
    crop = frame.image[349:699, 800:1312]
    assert any(min(cv2.minAreaRect(q)[1]) > TALLEST_LINE_PX for q in detector._once(crop))
    assert detector.detect(crop) == []


@pytest.mark.parametrize("type_px", [60, 110])
def test_large_type_is_still_found(detector, type_px):
    picture = Image.new("RGB", (640, 480), (200, 205, 190))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((20, 120, 620, 160 + 2 * type_px), fill=(250, 248, 230))
    draw.text((40, 140), "MIA 0412", font=_font("dejavu/DejaVuSans.ttf", type_px), fill=(30, 30, 30))
    image = np.asarray(picture)[:, :, ::-1].copy()
    ink = np.zeros(image.shape[:2], np.uint8)
    ink[(image.sum(axis=2) < 200)] = 1
    covered = np.zeros_like(ink)
    for quad in detector.detect(image):
        cv2.fillPoly(covered, [np.round(quad).astype(np.int32)], 1)
    assert (covered & ink).sum() >= 0.98 * ink.sum()

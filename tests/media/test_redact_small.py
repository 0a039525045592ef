"""Small faint type: a stack of tiny rows the detector misses at the camera's resolution is looked at again, larger."""

from __future__ import annotations

import cv2
import numpy as np

from cradle.media.redact.faint import faint_rows
from cradle.media.redact.likeness import ink_margin
from cradle.media.redact.small import stacks
from cradle.media.scenes import WardScene, draw_scene
from tests.quality import redact_clip


def _stacks(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    rows = faint_rows(image, ink_margin(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)))
    return [] if rows is None else stacks(rows, [])


def _inside(box: tuple[int, int, int, int], quad: tuple) -> bool:
    xs, ys = np.array(quad).T
    return box[0] <= xs.min() and box[1] <= ys.min() and xs.max() <= box[2] and ys.max() <= box[3]


def test_a_card_of_tiny_faint_type_at_night_is_a_stack_looked_at_again():
    # Tuning scene 36702: a six-line card at 1920x1080, 11 px FreeMono, night, glare, noise: the detector finds none
    # of its lines at the camera's resolution. Its rows form one stack, whose box holds every line.
    frame = WardScene(draw_scene(36702)).frame(2)
    found = _stacks(frame.image)
    card = [line for line in frame.phi if line.quad[0][0] > 400]
    assert len(card) == 6
    assert any(all(_inside(box, line.quad) for line in card) for box in found)
    # A few boxes at most, each far smaller than the picture: the cost is bounded.
    assert len(found) <= 3
    assert all((x1 - x0) * (y1 - y0) < 0.05 * 1920 * 1080 for x0, y0, x1, y1 in found)


def test_no_stack_on_the_infant_or_a_bare_night_picture():
    # Tuning scene 20064: at the faint margin the infant's edges at night break into rows of slivers; they are
    # not rows of small glyphs stacked like a card's.
    frame = WardScene(draw_scene(20064, frames=1)).frame(0)
    infant = frame.infant
    for x0, y0, x1, y1 in _stacks(frame.image):
        assert not infant[y0:y1, x0:x1].any()
    rng = np.random.default_rng(5)
    bare = np.clip(40 + rng.normal(0, 8, (480, 640, 3)), 0, 255).astype(np.uint8)
    assert _stacks(bare) == []


def test_tuning_scene_of_tiny_faint_type_at_night_is_masked_on_every_frame(ocr_pool):
    scene = WardScene(draw_scene(36702, frames=6))
    frames, out, _ = redact_clip(scene, ocr_pool)
    assert not any(f.screened for f in out)
    for sim, safe in zip(frames, out, strict=True):
        shown = sim.phi_mask & ~safe.covered
        assert shown.sum() <= 0.01 * sim.phi_mask.sum(), f"frame {sim.index}: {int(shown.sum())} PHI pixels unmasked"

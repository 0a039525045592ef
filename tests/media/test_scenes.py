"""The random ward scenes vary what they claim to, keep tuning and held-out draws apart, and have true ground truth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cradle.media.errors import MediaError
from cradle.media.scenes import (
    HELD_OUT_FONTS,
    HELD_OUT_SEEDS,
    RESOLUTIONS,
    TUNING_SEEDS,
    WardScene,
    draw_scene,
)

pytestmark = pytest.mark.nodb


def _ink(image: np.ndarray, quad) -> float:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(np.array(quad)).astype(np.int32)], 1)
    return float(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[mask.astype(bool)].std())


def test_draws_are_deterministic_and_vary_every_axis():
    draws = [draw_scene(seed) for seed in range(200)]
    assert draw_scene(7) == draw_scene(7)
    assert {(d.width, d.height) for d in draws} == set(RESOLUTIONS)
    assert {d.lang for d in draws} == {"en", "zh"}
    assert {d.family for d in draws} >= {"sans", "serif", "hand", "mono", "cjk-sans", "cjk-serif", "cjk-hand"}
    assert len({d.font for d in draws}) >= 15
    assert {d.light for d in draws} == {"day", "dim", "night"}
    assert {d.card_event for d in draws} == {"static", "slide", "move", "cover", "swap"}
    assert {d.monitor for d in draws} == {"always", "appears", "none"}
    assert min(d.type_px for d in draws) <= 11 and max(d.type_px for d in draws) >= 30
    assert max(abs(d.angle) for d in draws) > 14
    assert any(d.glare for d in draws) and any(d.contrast < 0.5 for d in draws) and any(d.jpeg for d in draws)


def test_tuning_draws_never_use_a_held_out_typeface_and_the_splits_are_disjoint():
    assert not set(TUNING_SEEDS) & set(HELD_OUT_SEEDS)
    assert not any(draw_scene(seed).font in HELD_OUT_FONTS for seed in range(300))
    assert any(draw_scene(seed).font in HELD_OUT_FONTS for seed in HELD_OUT_SEEDS[:300])
    with pytest.raises(MediaError):
        draw_scene(-1)


def test_line_quadrilaterals_sit_on_the_rendered_ink_of_a_rotated_hd_card():
    draw = draw_scene(5, width=1920, height=1080, angle=-13.0, light="day", glare=False, noise=0.0, jpeg=None,
                      card_event="static", contrast=1.0, frames=2)  # fmt: skip
    frame = WardScene(draw).frame(0)
    assert frame.image.shape == (1080, 1920, 3)
    assert len(frame.phi) >= 6
    for line in frame.phi:
        assert _ink(frame.image, line.quad) > 20, line.text
    # The quadrilaterals are tilted with the card, not upright boxes.
    quad = np.array(frame.phi[0].quad)
    assert abs(quad[1, 1] - quad[0, 1]) > 5
    assert frame.phi_mask.sum() > 0 and frame.infant.sum() > 5000


def test_a_card_slides_in_a_hand_covers_one_and_a_monitor_header_appears():
    slide = WardScene(draw_scene(4, card_event="slide", monitor="none", stickers=0, frames=16))
    first, last = slide.frame(0), slide.frame(15)
    assert first.phi_mask.sum() < last.phi_mask.sum()
    cover = WardScene(draw_scene(8, card_event="cover", monitor="none", stickers=0, frames=16))
    bare, covered = cover.frame(0), cover.frame(10)
    assert covered.phi_mask.sum() < bare.phi_mask.sum()  # what the hand hides is not counted as shown
    monitor = WardScene(draw_scene(9, monitor="appears", frames=16))
    assert len(monitor.frame(0).phi) < len(monitor.frame(15).phi)
    swap = WardScene(draw_scene(3, card_event="swap", frames=16))
    assert len(swap.patients) == 2 and len(swap.tokens()) > len(swap.patients[0].tokens())


def test_night_frames_are_greyscale_and_dark():
    draw = draw_scene(2, light="night", glare=False, jpeg=None, frames=2)
    image = WardScene(draw).frame(0).image
    assert np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 1], image[:, :, 2])
    day = WardScene(draw_scene(2, light="day", glare=False, jpeg=None, frames=2)).frame(0).image
    assert image.mean() < 0.75 * day.mean()


def test_a_label_under_the_card_is_not_counted_as_shown_where_the_card_hides_it():
    # Tuning scene 20036: a sticker's number lies mostly under the bed card; only its top shows.
    frame = WardScene(draw_scene(20036, frames=1)).frame(0)
    quad = np.zeros(frame.phi_mask.shape, np.uint8)
    cv2.fillPoly(quad, [np.round(np.array(frame.phi[0].quad)).astype(np.int32)], 1)
    shown = (quad.astype(bool) & frame.phi_mask).sum()
    assert 0 < shown < 0.5 * quad.sum()

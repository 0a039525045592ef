"""A carried card is located by its lines' own ink (track.py): every line it held at rest is found at one shift, or
still shows where it was; otherwise it is not located and the cells it passed through stay masked whole."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cradle.media.redact import masks
from cradle.media.redact.ink import InkMemory
from cradle.media.redact.track import locate, shifted
from cradle.media.scenes import WardScene, _font, draw_scene
from tests.quality import phi_shares, redact_clip

pytestmark = pytest.mark.nodb

GROUND = (150, 170, 150)
PAPER = (230, 232, 220)
TEXTS = ("MIA HOLM", "DOB 04-12-2026", "IP 66824711")


def _picture(card_at: tuple[int, int] | None, label: bool = True, seed: int = 1) -> np.ndarray:
    """A 640x480 ground with a card of three lines at `card_at` (None: no card) and a label at a fixed place."""
    picture = Image.new("RGB", (640, 480), GROUND)
    draw = ImageDraw.Draw(picture)
    font = _font("dejavu/DejaVuSans.ttf", 18)
    if label:
        draw.rectangle((420, 400, 600, 440), fill=(250, 240, 200))
        draw.text((430, 408), "BED 7 WARD 3", font=font, fill=(30, 30, 30))
    if card_at is not None:
        x, y = card_at
        draw.rectangle((x, y, x + 220, y + 110), fill=PAPER)
        for i, text in enumerate(TEXTS):
            draw.text((x + 10, y + 10 + 32 * i), text, font=font, fill=(40, 40, 40))
    image = np.asarray(picture)[:, :, ::-1].astype(np.float64)
    noise = np.random.default_rng(seed).normal(0, 2, image.shape)
    return (image + noise).clip(0, 255).astype(np.uint8)


def _lines(card_at: tuple[int, int]) -> list[masks.Region]:
    x, y = card_at
    return [(x + 8, y + 8 + 32 * i, x + 30 + 11 * len(text), y + 34 + 32 * i) for i, text in enumerate(TEXTS)]


LABEL = (428, 404, 560, 432)


def _kept(card_at: tuple[int, int]) -> tuple[InkMemory, list[masks.Region]]:
    rest = _picture(card_at)
    lines = [*_lines(card_at), LABEL]
    memory = InkMemory()
    memory.keep(lines, rest)
    assert all(memory.template(line) is not None for line in lines)
    return memory, lines


def test_a_card_carried_along_is_found_at_one_shift_and_a_label_beside_it_stays():
    memory, lines = _kept((100, 120))
    found = locate(lines, memory, _picture((163, 151), seed=2), (0, 0, 640, 480))
    assert found is not None
    assert found.shift == (63, 31)
    assert set(map(id, found.carried)) == set(map(id, lines[:3]))
    assert [id(line) for line in found.stayed] == [id(lines[3])]


def test_the_search_keeps_to_the_area_the_group_covers():
    memory, lines = _kept((100, 120))
    # The card lies outside the area searched: it is not located.
    assert locate(lines, memory, _picture((380, 120), seed=2), (0, 0, 360, 480)) is None


def test_a_card_that_lost_a_line_or_left_the_picture_is_not_located():
    memory, lines = _kept((100, 120))
    # The middle line is gone from the card (covered by a hand the colour of the paper).
    picture = _picture((163, 151), seed=2)
    picture[151 + 38 : 151 + 70, 163:383] = PAPER[::-1]
    assert locate(lines, memory, picture, (0, 0, 640, 480)) is None
    # No card at all: its lines are nowhere.
    assert locate(lines, memory, _picture(None, seed=2), (0, 0, 640, 480)) is None


def test_a_card_that_hardly_moved_is_not_called_carried():
    memory, lines = _kept((100, 120))
    # Shifted by less than half a line's height: the lines still lie over where they were found.
    assert locate(lines, memory, _picture((103, 122), seed=2), (0, 0, 640, 480)) is None


def test_a_located_line_is_masked_along_the_motion_of_the_frame():
    line = (100, 100, 200, 120)
    polygon = shifted(line, (40, 0), (16, 0))
    xs, ys = polygon[:, 0], polygon[:, 1]
    # Moved by 40 px and lengthened by half of the frame's 16 px motion either way.
    assert xs.min() == pytest.approx(132, abs=1) and xs.max() == pytest.approx(248, abs=1)
    assert ys.min() == pytest.approx(100, abs=1) and ys.max() == pytest.approx(120, abs=1)
    # A faster motion lengthens it by no more than half its height (20 px) either way.
    polygon = shifted(line, (40, 0), (80, 0))
    assert polygon[:, 0].min() == pytest.approx(130, abs=1) and polygon[:, 0].max() == pytest.approx(250, abs=1)


def test_tuning_scene_of_a_card_carried_off_the_infant_shows_her_again_while_it_moves(ocr_pool):
    # Tuning scene 43029: a 720p card in small serif type carried down and right off the infant on frames 8-12. The
    # looks at the blurred card lose a row, so it was not followed, and the cells it swept stayed masked over her
    # (68.6 % of her untouched). Its lines are located by their ink now; its text stays masked on every frame.
    scene = WardScene(draw_scene(43029, frames=16))
    frames, out, _ = redact_clip(scene, ocr_pool)
    assert min(phi_shares(frames, out)) >= 0.99
    infant = sum(int(sim.infant.sum()) for sim in frames)
    untouched = sum(
        int((np.all(safe.image == sim.image, axis=2) & sim.infant).sum()) for sim, safe in zip(frames, out, strict=True)
    )
    assert untouched >= 0.9 * infant


def test_a_located_card_that_stops_keeps_its_text_masked_where_it_stopped(ocr_pool):
    # Scene 100476 (drawn as a held-out scene, fixed here since it showed this): a faint 1080p card carried up and
    # left, then stopped. On the frame it stopped, no look found its lines; the lines found the frame before stood
    # for it, and once the card was located their masks were taken for ones it had left behind: 73 % of its PHI
    # went out unmasked. Located lines are masked wherever the group is located.
    scene = WardScene(draw_scene(100476, frames=16))
    frames, out, _ = redact_clip(scene, ocr_pool)
    assert min(phi_shares(frames, out)) >= 0.99

"""The visible viewer code: burned along the bottom of keepsakes and photos, read back from a copy by OCR."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cradle.media.sim import SimCamera, SimSettings
from cradle.media.visible import CodeReader, burn, codes_in

pytestmark = pytest.mark.nodb


def test_codes_are_found_in_recognised_text_with_the_usual_confusions_mended():
    assert codes_in("Cradle QX4-M7B 2026-12-06") == ["QX4-M7B"]
    assert codes_in("cradle qx4 - m7b") == ["QX4-M7B"]
    assert codes_in("Cradle QX4-M78 2026") == ["QX4-M7B"]  # 8 is no base32 letter: it was a B
    assert codes_in("2026-12-06 HR 148") == []
    assert codes_in("ABCD-EFG") == []  # four letters before the hyphen: not a code


@pytest.fixture(scope="module")
def reader():
    return CodeReader()


@pytest.fixture(scope="module")
def pictures():
    camera = SimCamera(SimSettings(bed="v", seed=4, width=640, height=480))
    return [camera.frame(i).image for i in range(0, 60, 15)]


def test_the_code_burned_into_a_keepsake_reads_back_after_a_rescale_to_grey(reader, pictures):
    burned = [burn(image, "Cradle QX4-M7B 2026-12-06") for image in pictures]
    small = [cv2.cvtColor(cv2.resize(b, (480, 360), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY) for b in burned]
    found = reader.read(small)
    assert found is not None and found.code == "QX4-M7B" and found.frames >= 2


def test_the_players_faint_drifting_overlay_reads_back(reader, pictures):
    def overlay(image: np.ndarray, x: int, y: int) -> np.ndarray:
        # White at 55 % over a slightly darkened box, as the player's CSS draws it.
        out = image.astype(np.float32)
        out[y - 16 : y + 6, x - 6 : x + 150] *= 0.82
        text = np.zeros(image.shape[:2], np.uint8)
        cv2.putText(text, "QX4-M7B 12:01", (x, y), cv2.FONT_HERSHEY_DUPLEX, 0.5, 255, 1, cv2.LINE_AA)
        share = text[..., None].astype(np.float32) / 255 * 0.55
        return (out * (1 - share) + 255 * share).astype(np.uint8)

    found = reader.read([overlay(image, 20 + 40 * i, 40 + 30 * i) for i, image in enumerate(pictures)])
    assert found is not None and found.code == "QX4-M7B"


def test_a_picture_without_a_code_reads_none(reader, pictures):
    assert reader.read(pictures) is None

"""The simulated camera renders a believable bed with ground truth the quality checks can trust."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from cradle.media.errors import MediaError
from cradle.media.sim import SimCamera, SimSettings, settings_from_url

pytestmark = pytest.mark.nodb


def _ink(image: np.ndarray, quad) -> float:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(np.array(quad)).astype(np.int32)], 1)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[mask.astype(bool)]
    return float(grey.std())


def test_url_selects_bed_language_and_size():
    settings = settings_from_url("sim://bed-3?lang=zh&size=320x240&fps=10")
    assert (settings.bed, settings.lang, settings.width, settings.height, settings.fps) == (
        "bed-3",
        "zh",
        320,
        240,
        10,
    )


@pytest.mark.parametrize("url", ["sim://bed-3?lang=fr", "http://bed-3", "sim://bed-3?size=big", "sim://bed?fps=900"])
def test_bad_url_is_a_clear_error(url):
    with pytest.raises(MediaError):
        settings_from_url(url)


def test_chinese_bed_card_carries_the_patients_details():
    camera = SimCamera(SimSettings(lang="zh", seed=5))
    frame = camera.frame(0)
    texts = [line.text for line in frame.phi]
    assert any(camera.patient.name in t for t in texts)
    assert any(camera.patient.inpatient_number in t for t in texts)
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in texts)
    # The monitor header repeats name and number.
    assert f"{camera.patient.name}  {camera.patient.inpatient_number}" in texts


def test_ground_truth_boxes_sit_on_rendered_text():
    camera = SimCamera(SimSettings(lang="en", seed=7, card_angle=8, noise=0, shake=0))
    frame = camera.frame(0)
    assert len(frame.phi) == 7
    for line in frame.phi:
        assert _ink(frame.image, line.quad) > 20, line.text  # text has contrast inside its box
    blank = ((20, 20), (60, 20), (60, 40), (20, 40))
    assert _ink(frame.image, blank) < 5


def test_infant_breathes_and_moves_while_frames_stay_deterministic():
    camera = SimCamera(SimSettings(seed=2))
    a, b = camera.frame(0), camera.frame(9)
    assert a.infant.sum() > 5000
    assert not np.array_equal(a.infant, b.infant)
    assert np.array_equal(SimCamera(SimSettings(seed=2)).frame(9).image, b.image)


def test_compression_artefacts_change_pixels_but_keep_ground_truth():
    clean = SimCamera(SimSettings(seed=4)).frame(3)
    rough = SimCamera(SimSettings(seed=4, jpeg_quality=30)).frame(3)
    assert clean.phi == rough.phi
    assert np.abs(clean.image.astype(int) - rough.image.astype(int)).mean() > 0.5

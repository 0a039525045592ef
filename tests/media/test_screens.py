"""The privacy screens say why there is no picture, in both languages, and each segment counts its screened frames.

A screen that read "Your baby is being cared for" while redaction had simply fallen behind made parents think of a
procedure; worse, it ended up in kept clips with nothing to say otherwise.
"""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest

from cradle.media.frames import Frame, SafeFrame, Screen, privacy_screen, screened
from cradle.media.hls import SegmentWriter
from tests.quality import normalise, read_text, tesseract_available

pytestmark = pytest.mark.nodb

WORDS = {
    Screen.CHECKING: ("picture is being checked", "画面正在检查中"),
    Screen.PAUSED: ("nurse has paused the camera", "护士已暂停摄像头"),
    Screen.NO_PICTURE: ("no picture from the camera", "摄像头暂时没有画面"),
}


@pytest.mark.skipif(
    not tesseract_available() and not os.environ.get("CI"),
    reason="needs tesseract-ocr with chi_sim and eng (Debian); run `make setup`",
)
@pytest.mark.parametrize("kind", list(Screen))
def test_each_screen_says_what_is_happening_in_english_and_chinese(kind: Screen) -> None:
    text = normalise(read_text(privacy_screen(640, 480, kind)))
    english, chinese = WORDS[kind]
    assert normalise(english) in text, text
    # Tesseract may split or miss a character of a short CJK line: most of them must be read.
    found = sum(ch in text for ch in chinese)
    assert found >= len(chinese) - 1, text
    assert "cared" not in text


def test_the_three_screens_differ_and_fit_any_camera_size() -> None:
    for width, height in ((160, 120), (640, 480), (1280, 720), (480, 640)):
        screens = [privacy_screen(width, height, kind) for kind in Screen]
        assert all(s.shape == (height, width, 3) for s in screens)
        assert all((s.max(axis=2) > 150).any() for s in screens), "the words are missing"
        assert not np.array_equal(screens[0], screens[1]) and not np.array_equal(screens[1], screens[2])


def _frame(index: int, lost: bool = False) -> Frame:
    image = np.full((120, 160, 3), 90, np.uint8)
    return Frame(image, index, index * 6000, Fraction(1, 90000), 0.0, lost=lost)


def test_a_lost_frame_is_screened_as_no_picture_and_an_unvouched_one_as_being_checked() -> None:
    assert screened(_frame(0, lost=True)).screen is Screen.NO_PICTURE
    checking = screened(_frame(1))
    assert checking.screen is Screen.CHECKING
    assert np.array_equal(checking.image, privacy_screen(160, 120, Screen.CHECKING))


def test_a_segment_counts_its_screened_frames_and_names_the_commonest_kind() -> None:
    writer = SegmentWriter(b"k" * 32, "cam", 160, 120, 10)
    frames = []
    for i in range(10):
        raw = _frame(i, lost=i < 2)
        if i < 7:
            frames.append(screened(raw))
        else:
            frames.append(SafeFrame(raw.image, i, raw.pts, raw.time_base, 0.0, False))
    [segment] = [s for f in frames for s in writer.write(f)]
    assert (segment.screened, segment.screen) == (7, "checking")
    [clean] = [s for i in range(10, 20) for s in writer.write(SafeFrame(_frame(i).image, i, None, None, 0.0, False))]
    assert (clean.screened, clean.screen) == (0, "")

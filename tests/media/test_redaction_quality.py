"""Redacted synthetic beds have no readable PHI and an untouched infant; unredacted ones fail the same checks."""

from __future__ import annotations

import os

import pytest

from cradle.media.quality import redact_scene, score_scene, synthetic_scenes, tesseract_available, total
from cradle.media.sim import SimCamera

pytestmark = [
    pytest.mark.nodb,
    # `make` installs Tesseract; a developer without it is told why, but CI must run this test, never skip it.
    pytest.mark.skipif(
        not tesseract_available() and not os.environ.get("CI"),
        reason="needs tesseract-ocr with chi_sim and eng (Debian); run `make setup`",
    ),
]


@pytest.fixture(scope="module")
def scores(ocr_pool):
    results = {"redact": [], "raw": [], "blackout": []}
    for settings in synthetic_scenes():
        camera = SimCamera(settings)
        for mode in results:
            sims, out = redact_scene(camera, ocr_pool, mode)
            results[mode].append(score_scene(camera, sims, out, ocr=mode != "blackout"))
    return {mode: total(s) for mode, s in results.items()}


def _passes(score) -> dict[str, bool]:
    return {
        "phi lines destroyed": score.destroyed >= 0.99 * score.lines,
        "no token read by ocr": not score.leaked,
        "infant untouched": score.infant_untouched_px >= 0.90 * score.infant_px,
    }


def test_scene_set_covers_languages_fonts_rotation_and_compression():
    scenes = synthetic_scenes()
    assert {s.lang for s in scenes} == {"zh", "en"}
    assert len({s.font for s in scenes}) >= 6
    assert any("CJK" in s.font or "wqy" in s.font for s in scenes)
    assert {abs(s.card_angle) for s in scenes} >= {10}
    assert any(s.jpeg_quality for s in scenes)


def test_redacted_beds_pass_every_check(scores):
    score = scores["redact"]
    assert score.lines >= 300
    assert score.screened == 0
    assert _passes(score) == dict.fromkeys(_passes(score), True), (
        f"{score.destroyed}/{score.lines} lines destroyed, leaked {score.leaked}, "
        f"infant {score.infant_untouched_px}/{score.infant_px}"
    )


def test_unredacted_beds_fail_the_same_checks(scores):
    raw = _passes(scores["raw"])
    assert not raw["phi lines destroyed"]
    assert not raw["no token read by ocr"], "Tesseract must read PHI on unredacted frames or the check is blind"
    blackout = _passes(scores["blackout"])
    assert blackout["phi lines destroyed"] and not blackout["infant untouched"]

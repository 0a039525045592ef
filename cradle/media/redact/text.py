"""Text detection with rapidocr: detection only, with the small models inside its wheel."""

from __future__ import annotations

import logging

import numpy as np

from cradle.media.frames import Box

# Settings measured on two shared cores: the default limit upscales 640x480 to 981x736 and is 2-3x slower,
# and one onnxruntime thread per worker lets several workers share the cores without fighting.
RAPIDOCR_PARAMS = {
    "Global.use_cls": False,
    "Global.use_rec": False,
    "Global.log_level": "error",
    "Det.limit_type": "max",
    "Det.limit_side_len": 640,
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}


class TextDetector:
    """Finds lines of text; `detect(image)` gives their bounding boxes in pixels."""

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._engine = RapidOCR(params=dict(RAPIDOCR_PARAMS))

    def detect(self, image: np.ndarray) -> list[Box]:
        result = self._engine(image, use_det=True, use_cls=False, use_rec=False)
        quads = getattr(result, "boxes", None)
        if quads is None or len(quads) == 0:
            return []
        boxes = []
        for quad in np.asarray(quads):
            xs, ys = quad[:, 0], quad[:, 1]
            boxes.append((int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max()))))
        return boxes

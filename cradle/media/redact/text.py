"""Text detection with rapidocr: detection only, with the small models inside its wheel, tuned for recall."""

from __future__ import annotations

import logging

import numpy as np

# Settings measured on two shared cores: the default limit upscales 640x480 to 981x736 and is 2-3x slower,
# and one onnxruntime thread per worker lets several workers share the cores without fighting. The thresholds are
# below rapidocr's defaults (0.3 / 0.5 / 1.6): a faint or unusual line is found, and its box reaches its edges;
# a false box costs a little masked wall, a missed one a readable name.
RAPIDOCR_PARAMS = {
    "Global.use_cls": False,
    "Global.use_rec": False,
    "Global.log_level": "error",
    "Det.limit_type": "max",
    "Det.limit_side_len": 640,
    "Det.thresh": 0.2,
    "Det.box_thresh": 0.3,
    "Det.unclip_ratio": 1.6,
    "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
}
# The detector sees at most this many pixels a side without scaling them down (its limit above).
TILE_PX = 640


class TextDetector:
    """Finds lines of text; `detect(image)` gives each line's quadrilateral (4x2 points, pixels)."""

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._engine = RapidOCR(params=dict(RAPIDOCR_PARAMS))

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        result = self._engine(image, use_det=True, use_cls=False, use_rec=False)
        quads = getattr(result, "boxes", None)
        if quads is None or len(quads) == 0:
            return []
        return [np.asarray(quad, np.float32).reshape(4, 2) for quad in quads]

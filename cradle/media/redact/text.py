"""Text detection with rapidocr: detection only, with the small models inside its wheel, tuned for recall."""

from __future__ import annotations

import logging

import cv2
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
# The detector is shown a grey copy whose local contrast is equalised (CLAHE) where the picture has little of it:
# infrared night views, dim rooms and faded ink under glare (measured on the tuning scenes: only then is faint 10 px
# serif type found whole).
CLAHE_CLIP, CLAHE_GRID = 3.0, (8, 8)
# ... but only there. Equalising a part that already has contrast can only lose text: small light type in a dark box
# (a monitor's header) saturates into a bright bar and the detector misses it. The weight of the equalised copy
# falls from 1 where the grey range around a pixel (about 36 px across) is at most FLAT_RANGE levels to 0 where it
# is at least CONTRASTED_RANGE: plain grey ink on paper at a third of full contrast is found without help.
FLAT_RANGE, CONTRASTED_RANGE = 40, 80


def normalised(image: np.ndarray) -> np.ndarray:
    """`image` as grey, its local contrast equalised where it has little, in three channels for the detector."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    equal = cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=CLAHE_GRID).apply(grey)
    height, width = grey.shape
    small = cv2.resize(grey, (max(1, width // 4), max(1, height // 4)), interpolation=cv2.INTER_AREA)
    near = np.ones((9, 9), np.uint8)
    spread = cv2.dilate(small, near).astype(np.float32) - cv2.erode(small, near).astype(np.float32)
    weight = np.clip((spread - FLAT_RANGE) / (CONTRASTED_RANGE - FLAT_RANGE), 0.0, 1.0)
    smooth = cv2.resize(cv2.blur(weight, (5, 5)), (width, height), interpolation=cv2.INTER_LINEAR)
    out = (smooth * grey + (1.0 - smooth) * equal).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)


class TextDetector:
    """Finds lines of text; `detect(image)` gives each line's quadrilateral (4x2 points, pixels).

    The picture is contrast-normalised first (`normalised`): that is what the network is good at, not what a
    stand-in detector in a test or the text-likeness check should see.
    """

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._engine = RapidOCR(params=dict(RAPIDOCR_PARAMS))

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        result = self._engine(normalised(image), use_det=True, use_cls=False, use_rec=False)
        quads = getattr(result, "boxes", None)
        if quads is None or len(quads) == 0:
            return []
        return [np.asarray(quad, np.float32).reshape(4, 2) for quad in quads]

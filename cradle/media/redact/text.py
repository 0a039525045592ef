"""Text detection with rapidocr: detection only, with the small models inside its wheel, tuned for recall."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

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
# A "line" taller than this (pixels, as the detector saw them) is mostly the network's answer to a flat, noisy patch
# that the normalisation stretched (measured: tile-sized boxes over the incubator on whole looks, and a crop-sized one
# over the infant where a swapped card had been, tuning scene 30037, which kept 36 % of her for the rest of the clip).
# Its box is looked at again at half the scale (GIANT_RELOOKS): averaging the pixels takes the noise away, and lines of
# ordinary type the patch swallowed are found there as lines; the rest is dropped. Type up to about 120 px (a line up to
# TALLEST_LINE_PX, 11 % of a 1080p frame's height) is found on the first look; larger type is not found by the
# detector (the text-likeness check finds rows of glyphs up to about 120 px too). Coarser looks were tried to find it:
# at a quarter of the scale the infant's body and night gradients were found as "lines" of large type (tuning scenes
# 31023 and 30011 lost 57 % and all of the infant).
TALLEST_LINE_PX = 128
GIANT_RELOOKS = 1
# The box looked at again is the giant line's upright box grown by this share of its height on every side.
GIANT_MARGIN = 0.1
# On a look again, what is found counts as a line only when it is at most half as tall as TALLEST_LINE_PX (a line the
# first look would have taken) and at least this many times as long as it is tall (a name, a date, a number).
GIANT_LINE_ASPECT = 2.0


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

    rapidocr's own steps are run one by one (its size limits and padding, the network, the box post-processing,
    mapping back), with the same numbers, less two costs that detection alone does not need: the network's input is
    scaled to [-1, 1] through a table of the 256 values rapidocr's float64 arithmetic gives (rather than that
    arithmetic on every pixel: 10-16 ms of a 640x480 look, 5 % of it), and no picture of each line is cut out for a
    recogniser that is not run (a perspective warp per line). tests/media/test_text_detector.py holds it to
    rapidocr's own call, box for box.
    """

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._engine = RapidOCR(params=dict(RAPIDOCR_PARAMS))
        self._network = self._engine._load_det_model()
        # What rapidocr's pre-processing makes of each byte value, per channel (float32, as the network takes it).
        values = np.repeat(np.arange(256, dtype=np.uint8).reshape(1, 256, 1), 3, axis=2)
        scaled = self._network.get_preprocess().normalize(values).astype(np.float32)
        self._scale = [np.ascontiguousarray(scaled[0, :, channel]) for channel in range(3)]

    def detect(self, image: np.ndarray) -> list[np.ndarray]:
        return relooked(self._once, image)

    def _once(self, image: np.ndarray) -> list[np.ndarray]:
        from rapidocr.utils.process_img import apply_vertical_padding, map_boxes_to_original

        engine, network = self._engine, self._network
        picture = normalised(image)
        height, width = picture.shape[:2]
        picture, record = engine.preprocess_img(picture)
        if engine.cfg.Global.use_vertical_padding:
            picture, record = apply_vertical_padding(picture, record, engine.width_height_ratio, engine.min_height)
        else:
            record["padding_1"] = {"top": 0, "left": 0}
        resized = network.get_preprocess().resize(picture)
        if resized is None:
            return []
        tensor = np.empty((1, 3, *resized.shape[:2]), np.float32)
        for channel, table in enumerate(self._scale):
            np.take(table, resized[..., channel], out=tensor[0, channel])
        quads, _ = network.postprocess_op(network.session(tensor), picture.shape[:2])
        if len(quads) < 1:
            return []
        quads = map_boxes_to_original(network.sorted_boxes(quads), record, height, width)
        return [np.asarray(quad, np.float32).reshape(4, 2) for quad in quads]


def relooked(
    detect: Callable[[np.ndarray], list[np.ndarray]], picture: np.ndarray, relooks: int = GIANT_RELOOKS
) -> list[np.ndarray]:
    """The lines `detect` finds in `picture` (quadrilaterals, its pixels), each one taller than TALLEST_LINE_PX
    replaced by what a look at its box at half the scale finds there, `relooks` times at most (see TALLEST_LINE_PX)."""
    height, width = picture.shape[:2]
    found: list[np.ndarray] = []
    for quad in detect(picture):
        (_, (side_a, side_b), _) = cv2.minAreaRect(quad)
        tall, long = min(side_a, side_b), max(side_a, side_b)
        first = relooks == GIANT_RELOOKS
        if tall <= TALLEST_LINE_PX if first else tall <= TALLEST_LINE_PX / 2 and long >= GIANT_LINE_ASPECT * tall:
            found.append(quad)
            continue
        if relooks <= 0:
            continue
        pad = GIANT_MARGIN * tall
        (lx0, ly0), (lx1, ly1) = quad.min(axis=0), quad.max(axis=0)
        x0, y0 = max(0, math.floor(lx0 - pad)), max(0, math.floor(ly0 - pad))
        x1, y1 = min(width, math.ceil(lx1 + pad)), min(height, math.ceil(ly1 + pad))
        size = (max(1, (x1 - x0) // 2), max(1, (y1 - y0) // 2))
        half = cv2.resize(picture[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        scale = np.array([(x1 - x0) / size[0], (y1 - y0) / size[1]], np.float32)
        found += [q * scale + np.array([x0, y0], np.float32) for q in relooked(detect, half, relooks - 1)]
    return found

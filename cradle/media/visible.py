"""The visible viewer code: drawn on what a viewer keeps, and read back from a suspect copy as a second channel.

Keepsakes and photos carry "Cradle ABC-DEF 2026-12-06" burned along the bottom (`burn`); the player draws the same code
drifting over the live picture. A screen recording or a re-posted keepsake may still show it, and a privacy officer
wants to see it beside the invisible mark. It is only a pointer: anyone can type a code onto a picture, so the
invisible mark alone decides and the visible code never names anyone by itself (cradle.forensics.tracing).

Reading uses rapidocr's recogniser (its wheel ships the model) on a few frames spread over the suspect, and keeps only
text of the code's own shape: three and three letters of Cradle's base32 alphabet around a hyphen.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# A viewer code: base32 (A-Z, 2-7) of a session's HMAC, 3 + 3 characters (cradle.viewing.delivery.viewer_code).
CODE = re.compile(r"(?<![A-Z2-7])([A-Z2-7]{3})\s?[-–—_.]\s?([A-Z2-7]{3})(?![A-Z2-7])")
# OCR confuses these with the base32 alphabet's letters: 0/O, 1/I, 8/B are not in it.
_FIXES = str.maketrans({"0": "O", "1": "I", "8": "B", "9": "G"})
FRAMES_READ = 4  # frames spread over the suspect: the overlay drifts, so some show it clear of the baby's detail
MIN_SCORE = 0.6  # the recogniser's confidence below which a line is not taken


def burn(image: np.ndarray, text: str) -> np.ndarray:
    """The visible mark of keepsakes and photos: a translucent band with `text` along the bottom of the picture."""
    out = image.copy()
    height, width = out.shape[:2]
    scale = max(0.35, width / 1100)
    thickness = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    band = out[height - th - base - 12 :, :]
    band[:] = (band * 0.55).astype(np.uint8)
    cv2.putText(
        out,
        text,
        (max(4, (width - tw) // 2), height - base - 6),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (240, 240, 240),
        thickness,
        cv2.LINE_AA,
    )
    return out


def codes_in(text: str) -> list[str]:
    """The viewer codes a line of recognised text holds, as "ABC-DEF"."""
    cleaned = text.upper().translate(_FIXES)
    return [f"{a}-{b}" for a, b in CODE.findall(cleaned)]


@dataclass(frozen=True, slots=True)
class VisibleCode:
    """The viewer code read from a suspect: the code, on how many of the frames read, and of how many."""

    code: str
    frames: int
    of: int


class CodeReader:
    """Reads viewer codes from frames (rapidocr's detector and recogniser, loaded once)."""

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        params = {
            "Global.use_cls": False,
            "Global.log_level": "error",
            "Det.limit_type": "max",
            "Det.limit_side_len": 640,
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._engine = RapidOCR(params=params)

    def lines(self, image: np.ndarray) -> list[str]:
        """The lines of text recognised in one frame, confident enough to take."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        height, width = image.shape[:2]
        if max(height, width) < 480:  # small text reads far better enlarged
            factor = 480 / max(height, width)
            image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        result = self._engine(image, use_det=True, use_cls=False, use_rec=True)
        texts = getattr(result, "txts", None) or ()
        scores = getattr(result, "scores", None) or ()
        return [t for t, s in zip(texts, scores, strict=False) if s >= MIN_SCORE]

    def read(self, frames: Sequence[np.ndarray], count: int = FRAMES_READ) -> VisibleCode | None:
        """The viewer code seen most often over `count` frames spread across the suspect, or None."""
        if not frames:
            return None
        picks = sorted({round(i * (len(frames) - 1) / max(1, count - 1)) for i in range(count)})
        seen: Counter[str] = Counter()
        for i in picks:
            seen.update(set(code for line in self.lines(frames[i]) for code in codes_in(line)))
        if not seen:
            return None
        code, hits = seen.most_common(1)[0]
        return VisibleCode(code, hits, len(picks))

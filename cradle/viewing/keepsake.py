"""Keepsakes: a clip as an MP4 a parent may keep, with the viewer code and date burned in and the forensic mark kept.

It is made from the same variants the account is served when watching, so the invisible mark names the account as
any other copy would; the visible text says so to anyone who sees it.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from cradle.accounts.models import DeviceSession
from cradle.media.encode import Mp4Writer
from cradle.media.frames import SafeFrame
from cradle.media.hls import TS_TIME_BASE, decode
from cradle.viewing import delivery
from cradle.viewing.models import Clip
from cradle.viewing.storage import segment_store


def burn(image: np.ndarray, text: str) -> np.ndarray:
    """The visible mark: a translucent band with `text` along the bottom of the picture."""
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


def make(clip: Clip, device: DeviceSession, fps: float = 15.0) -> bytes:
    """The keepsake MP4 of `clip` for the account behind `device`."""
    store = segment_store()
    text = f"Cradle {delivery.viewer_code(device)} {clip.created_at:%Y-%m-%d}"
    writer = None
    number = 0
    with tempfile.TemporaryDirectory(prefix="cradle-keepsake-") as folder:
        path = Path(folder) / "keepsake.mp4"
        for segment in clip.segments.order_by("index"):
            variant = delivery.variant_for(device, segment.camera_id, segment.index)
            data = store.get(clip.admission.media_id, str(segment.camera_id), segment.index, variant)
            for image in decode(data):
                if writer is None:
                    writer = Mp4Writer(path, image.shape[1], image.shape[0], fps, Fraction(TS_TIME_BASE))
                pts = round(number / fps / TS_TIME_BASE)
                writer.write(SafeFrame(burn(image, text), number, pts, Fraction(TS_TIME_BASE), 0.0, False))
                number += 1
        if writer is None:
            raise ValueError("the clip has no pictures")
        writer.close()
        return path.read_bytes()

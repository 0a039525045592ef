"""An update's photo: taken from the redacted live picture or uploaded and redacted like video, and marked for each
viewer as video is.

- From the live picture: a frame of the newest stored segment that is not a privacy screen, read from the unmarked
  reference, which has already passed redaction. Raw frames never leave the camera pipeline, so this is the only
  picture of the live feed there is to take.
- Uploaded: decoded, shrunk to a sane size, then through the same Redactor as every camera frame (text, the
  optional faces, the text-likeness check), blocking with the file deadline. Any failure, or a frame that comes out
  as the privacy screen, refuses the photo: nothing unredacted is ever stored (fail closed).
- Shown or saved: the invisible forensic mark of the viewer's session (cradle.media.mark, one variant chosen by the
  session as for a segment) and the visible viewer code burned along the bottom, as keepsakes carry it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from fractions import Fraction

import cv2
import numpy as np
from django.utils.translation import gettext as _

from cradle.accounts.models import DeviceSession
from cradle.media.errors import MediaError
from cradle.media.frames import Frame
from cradle.media.hls import decode
from cradle.media.mark import SegmentMark, Variant
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.redact.pool import WardDetectors, default_detectors
from cradle.media.store import StoreError
from cradle.media.visible import burn
from cradle.unit.models import Admission
from cradle.viewing import delivery
from cradle.viewing.models import LiveSegment
from cradle.viewing.storage import mark_key, segment_store

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 12 * 2**20
MAX_SIDE = 1600  # stored photos are shrunk to this on their longer side
# A small file can claim a huge picture (a "decompression bomb"); its size is read from the header before decoding.
MAX_PIXELS = 40_000_000
UPLOAD_DEADLINE_S = 60.0
JPEG_QUALITY = 88


class PhotoRefused(Exception):
    """The photo cannot be used; the message is one sentence for the nurse."""


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise PhotoRefused(_("The photo could not be encoded."))
    return data.tobytes()


def _shrink(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)


def from_live_picture(admission: Admission) -> bytes:
    """A JPEG of the newest redacted second of the baby's camera; PhotoRefused when there is none to take."""
    camera = getattr(admission.bed, "camera", None)
    segments = LiveSegment.objects.filter(admission=admission, screened=0)
    if camera is not None:
        segments = segments.filter(camera=camera)
    for segment in segments.order_by("-index")[:3]:
        try:
            frames = decode(segment_store().get(admission.media_id, str(segment.camera_id), segment.index, "ref"))
        except (StoreError, MediaError) as e:
            log.warning("segment %s could not be read for a photo: %s", segment.pk, e)
            continue
        if frames:
            return _jpeg(frames[len(frames) // 2])
    raise PhotoRefused(_("There is no live picture to take a photo from right now."))


def redact_upload(data: bytes, detectors: Callable[[], WardDetectors] | None = None) -> bytes:
    """The uploaded photo as a redacted JPEG; PhotoRefused when it is not a picture or redaction did not vouch for
    all of it."""
    if not data:
        raise PhotoRefused(_("The file is empty."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRefused(_("The photo is larger than 12 MB; please send a smaller one."))
    if _claimed_pixels(data) > MAX_PIXELS:
        raise PhotoRefused(_("The photo is too large (over 40 megapixels); please send a smaller one."))
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or min(image.shape[:2]) < 16:
        raise PhotoRefused(_("The file is not a photo Cradle can read (JPEG, PNG or WebP)."))
    image = np.ascontiguousarray(_shrink(image))
    pool = DetectorPool(detectors or default_detectors(CameraPolicy().faces), workers=min(2, os.cpu_count() or 1))
    try:
        redactor = Redactor(CameraPolicy(), pool, fps=1.0, deadline_s=UPLOAD_DEADLINE_S, blocking=True)
        safe = redactor.push(Frame(image, 0, 0, Fraction(1, 1), time.monotonic()))
        safe += redactor.flush()
    except Exception as e:  # any failure of redaction refuses the photo
        log.warning("an uploaded photo could not be redacted: %s", e)
        raise PhotoRefused(_("The photo could not be checked for names and numbers, so it was not sent.")) from None
    finally:
        pool.close()
    if len(safe) != 1 or safe[0].screened:
        raise PhotoRefused(_("The photo could not be checked for names and numbers, so it was not sent."))
    return _jpeg(safe[0].image)


def _claimed_pixels(data: bytes) -> int:
    """The picture size the file's header claims (0 when Pillow cannot read it; OpenCV then refuses it too)."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as header:
                width, height = header.size
    except Exception:
        return 0
    return width * height


def viewer_variant(device: DeviceSession, source: str) -> Variant:
    """The mark variant this session gets for a still, chosen as segments' are: by the session's own key."""
    digest = hmac.new(delivery.session_key(device), f"still:{source}".encode(), hashlib.sha256).digest()
    return Variant(digest[0] & 1)


def for_viewer(jpeg: bytes, source: str, device: DeviceSession, day: str) -> tuple[bytes, Variant]:
    """The photo as this session may see it: its invisible mark and the visible viewer code and date."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise StoreError("the stored photo cannot be decoded")
    variant = viewer_variant(device, source)
    height, width = image.shape[:2]
    marked = SegmentMark(mark_key(), source, 0, 1, width, height).apply(image, 0, variant)
    return _jpeg(burn(marked, f"Cradle {delivery.viewer_code(device)} {day}")), variant

"""Keepsakes: a clip as an MP4 a parent may keep, with the viewer code and date burned in and the forensic mark kept.

It is made from the same variants the account is served when watching, so the invisible mark names the account as
any other copy would; the visible text says so to anyone who sees it.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from django.db import transaction
from django.utils import timezone

from cradle.accounts.models import DeviceSession, User
from cradle.media.encode import Mp4Writer
from cradle.media.frames import SafeFrame
from cradle.media.hls import TS_TIME_BASE, decode
from cradle.viewing import delivery
from cradle.viewing.models import Clip, Keepsake
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


def reserve(user: User, clip: Clip, per_day: int) -> Keepsake | None:
    """A place for one more keepsake of `user` today, or None when the day's places are taken. The count and the
    reservation are one step under a lock on the account (a row lock on PostgreSQL; SQLite's immediate transactions
    take the write lock at their start), so parallel requests cannot all pass the count before any is recorded."""
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        since = timezone.now() - timedelta(days=1)
        taken = Keepsake.objects.filter(user=user, requested_at__gte=since).exclude(state=Keepsake.State.FAILED)
        if taken.count() >= per_day:
            return None
        return Keepsake.objects.create(user=user, clip=clip)


def settle(reservation: Keepsake, made: bool) -> None:
    """Marks a reserved keepsake made, or gives its place back."""
    reservation.state = Keepsake.State.READY if made else Keepsake.State.FAILED
    reservation.save(update_fields=["state"])


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

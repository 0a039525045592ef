"""Keepsakes: a clip as an MP4 a parent may keep, with the viewer code and date burned in and the forensic mark kept.

It is made from the same variants the account is served when watching, so the invisible mark names the account as
any other copy would; the visible text says so to anyone who sees it.

Making one takes seconds to a minute of encoding, so no web request waits for it: the request reserves a place (the
daily limit), the background queue makes the file (cradle.tasks.make_keepsakes) and notes its progress, and the file
is sealed in the segment store under the admission's own key, like every segment, until the parent fetches it. A day
later it is removed; shredding the admission destroys it with everything else.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cradle.accounts.models import DeviceSession, User
from cradle.media.encode import Mp4Writer
from cradle.media.errors import MediaError
from cradle.media.frames import SafeFrame
from cradle.media.hls import TS_TIME_BASE, decode
from cradle.media.store import StoreError
from cradle.media.visible import burn
from cradle.viewing import clips, delivery
from cradle.viewing.models import Clip, Keepsake
from cradle.viewing.storage import segment_store

log = logging.getLogger(__name__)

# The finished file is kept this long for the parent to fetch (as often as they like), then removed.
KEEP = timedelta(days=1)
# A keepsake whose maker has not reported for this long is taken over by another run (its process died).
STALE = timedelta(minutes=2)
# The sealed file's place in the admission's media space: a "camera" of its own per keepsake.
VARIANT = "mp4"


def reserve(user: User, clip: Clip, per_day: int, device: DeviceSession) -> Keepsake | None:
    """A place for one more keepsake of `user` today, or None when the day's places are taken. The count and the
    reservation are one step under a lock on the account (a row lock on PostgreSQL; SQLite's immediate transactions
    take the write lock at their start), so parallel requests cannot all pass the count before any is recorded."""
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        since = timezone.now() - timedelta(days=1)
        taken = Keepsake.objects.filter(user=user, requested_at__gte=since).exclude(state=Keepsake.State.FAILED)
        if taken.count() >= per_day:
            return None
        return Keepsake.objects.create(
            user=user,
            clip=clip,
            device=device,
            media_id=clip.admission.media_id,
            screened_seconds=clips.screened_seconds(clip),
        )


def _place(keepsake: Keepsake) -> tuple[str, str, int, str]:
    return keepsake.media_id, f"keepsake-{keepsake.pk}", 0, VARIANT


def make(clip: Clip, device: DeviceSession, progress: Callable[[float], None] | None = None) -> bytes:
    """The keepsake MP4 of `clip` for the account behind `device`; `progress` hears the share done (0 to 1)."""
    store = segment_store()
    text = f"Cradle {delivery.viewer_code(device)} {clip.created_at:%Y-%m-%d}"
    writer = None
    number = 0
    rows = list(clip.segments.order_by("index"))
    with tempfile.TemporaryDirectory(prefix="cradle-keepsake-") as folder:
        path = Path(folder) / "keepsake.mp4"
        for done, segment in enumerate(rows, start=1):
            variant = delivery.variant_for(device, segment.camera_id, segment.index)
            data = store.get(clip.admission.media_id, str(segment.camera_id), segment.index, variant)
            images = decode(data)
            for image in images:
                if writer is None:
                    # The camera's own rate, read from the first second: the keepsake plays at the speed it was filmed.
                    fps = max(1.0, round(len(images) / max(segment.duration, 1e-3)))
                    writer = Mp4Writer(path, image.shape[1], image.shape[0], fps, Fraction(TS_TIME_BASE))
                pts = round(number / fps / TS_TIME_BASE)
                writer.write(SafeFrame(burn(image, text), number, pts, Fraction(TS_TIME_BASE), 0.0, False))
                number += 1
            if progress is not None:
                progress(done / len(rows))
        if writer is None:
            raise ValueError("the clip has no pictures")
        writer.close()
        return path.read_bytes()


def _claim(keepsake_id: int) -> Keepsake | None:
    """The keepsake, now this run's to make; None when another run holds it or it is no longer waiting."""
    now = timezone.now()
    waiting = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE)
    if not Keepsake.objects.filter(waiting, pk=keepsake_id, state=Keepsake.State.MAKING).update(claimed_at=now):
        return None
    return Keepsake.objects.select_related("clip__admission", "device").get(pk=keepsake_id)


def produce(keepsake: Keepsake) -> bool:
    """Makes a claimed keepsake and seals it; gives whether it is ready. A failure gives its place back."""
    clip, device = keepsake.clip, keepsake.device
    last = [0.0]

    def progress(share: float) -> None:
        # A few writes a second at most; each one also says that this run is alive.
        now = timezone.now()
        if share < 1 and (now.timestamp() - last[0]) < 0.5:
            return
        last[0] = now.timestamp()
        Keepsake.objects.filter(pk=keepsake.pk).update(progress=min(99, int(share * 100)), claimed_at=now)

    try:
        if clip is None or device is None or clip.admission.shredded_at is not None:
            raise ValueError("the clip or the session that asked for it is gone")
        data = make(clip, device, progress)
        segment_store().put(*_place(keepsake), data)
    except (StoreError, MediaError, ValueError) as e:
        log.warning("keepsake %s could not be made: %s", keepsake.pk, e)
        Keepsake.objects.filter(pk=keepsake.pk).update(state=Keepsake.State.FAILED, finished_at=timezone.now())
        return False
    now = timezone.now()
    Keepsake.objects.filter(pk=keepsake.pk).update(
        state=Keepsake.State.READY, progress=100, size=len(data), finished_at=now, expires_at=now + KEEP
    )
    return True


def run_pending() -> int:
    """Makes every keepsake waiting to be made (the background queue runs this); gives how many are ready."""
    ready = 0
    waiting = Keepsake.objects.filter(state=Keepsake.State.MAKING).order_by("requested_at").values_list("pk", flat=True)
    for keepsake_id in list(waiting):
        keepsake = _claim(keepsake_id)
        if keepsake is not None:
            ready += produce(keepsake)
    return ready


def waiting() -> bool:
    """Whether a keepsake waits with nobody making it (the queue was unreachable, or its maker died)."""
    stale = timezone.now() - STALE
    return Keepsake.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale), state=Keepsake.State.MAKING
    ).exists()


def read(keepsake: Keepsake) -> bytes:
    """The finished file; StoreError when it was removed or its admission shredded."""
    return segment_store().get(*_place(keepsake))


def forget_expired(now=None) -> int:
    """Removes finished files past their day; gives how many."""
    now = now or timezone.now()
    expired = list(Keepsake.objects.filter(state=Keepsake.State.READY, expires_at__lt=now))
    store = segment_store()
    for keepsake in expired:
        with contextlib.suppress(StoreError):  # already gone with its admission
            store.delete(*_place(keepsake))
        Keepsake.objects.filter(pk=keepsake.pk, state=Keepsake.State.READY).update(state=Keepsake.State.GONE)
    return len(expired)

"""Clips: the last seconds of the live buffer, kept for the family by a nurse or by the daily schedule."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cradle.notifications import notices
from cradle.unit.models import Admission, Camera
from cradle.viewing.models import Clip, LiveSegment

CLIP_SECONDS = (15, 30, 45, 60)


def record(admission: Admission, seconds: int, by=None, kind: str = Clip.Kind.RECORDED) -> Clip | None:
    """Keeps the newest `seconds` of the admission's live buffer as a clip; None when there is nothing yet."""
    camera = getattr(admission.bed, "camera", None)
    if camera is None:
        return None
    newest = list(LiveSegment.objects.filter(admission=admission, camera=camera).order_by("-index")[:seconds])
    if not newest:
        return None
    newest.reverse()
    with transaction.atomic():
        clip = Clip.objects.create(
            admission=admission,
            camera=camera,
            kind=kind,
            created_by=by,
            duration=sum(s.duration for s in newest),
        )
        clip.segments.set(newest)
        LiveSegment.objects.filter(pk__in=[s.pk for s in newest]).update(in_clip=True)
    notices.clip_waiting(admission)
    return clip


def available_seconds(admission: Admission) -> int:
    """Whole seconds of live picture a clip of this admission could keep now (at most the longest clip)."""
    camera = getattr(admission.bed, "camera", None)
    if camera is None:
        return 0
    rows = LiveSegment.objects.filter(admission=admission, camera=camera).order_by("-index")[: max(CLIP_SECONDS)]
    return int(sum(rows.values_list("duration", flat=True)) + 0.5)


def why_short(admission: Admission, asked: int, kept: float) -> str:
    """Why a clip kept fewer seconds than asked: one sentence for the nurse, or "" when it did not."""
    from django.utils.translation import gettext as _

    if kept >= asked - 0.5:
        return ""
    camera = getattr(admission.bed, "camera", None)
    rows = list(
        LiveSegment.objects.filter(admission=admission, camera=camera).order_by("-index").values_list("index")[:asked]
    )
    indexes = [i for (i,) in rows]
    if indexes and indexes[0] - indexes[-1] + 1 > len(indexes):
        return _(
            "Some seconds are missing from the live picture (the camera or its worker stopped for a while), so "
            "the clip has %(kept)d s of the %(asked)d s asked."
        ) % {"kept": round(kept), "asked": asked}
    return _(
        "The camera has only sent %(kept)d s of picture for this baby so far (it started or reconnected a moment "
        "ago), so the clip has %(kept)d s of the %(asked)d s asked."
    ) % {"kept": round(kept), "asked": asked}


def record_daily(now=None) -> list[Clip]:
    """The daily clips that are due: one a day per camera that has a time set and a baby admitted."""
    now = timezone.localtime(now or timezone.now())
    made = []
    cameras = Camera.objects.filter(
        daily_clip_at__isnull=False, daily_clip_at__lte=now.time(), bed__isnull=False
    ).select_related("bed")
    for camera in cameras:  # (a retired camera keeps its daily time but has no bed, and no baby)
        admission = camera.at_bed.current_admission
        if admission is None:
            continue
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if Clip.objects.filter(admission=admission, kind=Clip.Kind.DAILY, created_at__gte=today).exists():
            continue
        clip = record(admission, camera.daily_clip_seconds, kind=Clip.Kind.DAILY)
        if clip is not None:
            made.append(clip)
    return made


def screened_seconds(clip: Clip) -> int:
    """Whole seconds of `clip` that are a privacy screen rather than the picture (at least 1 when there is any), so
    that the clip page and the keepsake say so before anyone takes the screen for the baby."""
    total = 0.0
    for duration, frames, screened in clip.segments.values_list("duration", "frames", "screened"):
        if screened:
            total += duration * screened / max(frames, screened)
    return max(1, round(total)) if total > 0 else 0

"""Care-team updates: a short note from the nurses to the family, with a photo or a kept clip if they like.

The note's words and its photo are media like any other: sealed in the segment store under the admission's own key
(cradle.updates.sealed), never in the database, so that shredding the admission destroys them with the video. The
row says only who sent what kind of update when.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Update(models.Model):
    admission = models.ForeignKey("unit.Admission", on_delete=models.CASCADE, related_name="updates")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # A kept clip the update points to (it stays one of the baby's clips, watched through the clip page).
    clip = models.ForeignKey("viewing.Clip", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    has_photo = models.BooleanField(default=False)
    # Where the photo came from: the redacted live picture, or a redacted upload.
    photo_source = models.CharField(max_length=10, blank=True)
    # None while the nurse is still looking at the photo (a draft only its author sees); drafts not sent within
    # DRAFT_HOURS are destroyed by the housekeeping.
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]


class RelativeView(models.Model):
    """What the parents let one relative see. A relative without a row sees the updates (the default)."""

    membership = models.OneToOneField("unit.FamilyMembership", on_delete=models.CASCADE, related_name="update_view")
    sees_updates = models.BooleanField(default=True)
    changed_at = models.DateTimeField(default=timezone.now)

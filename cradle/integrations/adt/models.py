"""The admission feed's bed table and its record of messages received. Nothing here holds PHI: locations are ward
places, patients appear only as the keyed digest on the admission, and a message is kept as its control id, a keyed
digest of its content and Cradle's answer."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cradle.unit.models import Bed


class BedLocation(models.Model):
    """The place the hospital's feed names in PV1-3 (point of care, room, bed) for one Cradle bed."""

    bed = models.OneToOneField(Bed, on_delete=models.CASCADE, related_name="feed_location")
    point_of_care = models.CharField(_("point of care"), max_length=40)
    room = models.CharField(_("room"), max_length=40, blank=True)
    hl7_bed = models.CharField(_("bed in the feed"), max_length=40)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("point_of_care"), Lower("room"), Lower("hl7_bed"), name="feed_location_names_one_bed"
            )
        ]

    def __str__(self) -> str:
        return "^".join((self.point_of_care, self.room, self.hl7_bed))


class FeedMessage(models.Model):
    """A message the feed sent and the answer Cradle gave, so that a message sent again gets the same answer."""

    sender = models.CharField(max_length=120)  # sending application ^ sending facility (MSH-3, MSH-4)
    control_id = models.CharField(max_length=64)  # MSH-10
    digest = models.CharField(max_length=64)  # keyed digest of the content: a resend, or a reused control id?
    event = models.CharField(max_length=3)  # A01, A02, ...
    received_at = models.DateTimeField(default=timezone.now)
    occurred_at = models.DateTimeField(null=True)  # when the event happened, as the message says
    answer = models.CharField(max_length=2)  # AA, AE
    reason = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=3, blank=True)
    changed = models.BooleanField(default=False)  # whether Cradle changed anything
    admission_id = models.BigIntegerField(null=True, db_index=True)
    unit_id = models.BigIntegerField(null=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sender", "control_id"], name="feed_message_once")]
        ordering = ["-received_at"]

"""Trace jobs: suspect clips a privacy officer uploaded, traced in the background, and the evidence report."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def traces_dir() -> Path:
    return Path(settings.DATA_DIR) / "traces"


class TraceJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    unit = models.ForeignKey("unit.Unit", on_delete=models.PROTECT, related_name="trace_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    language = models.CharField(max_length=10, default="en")  # the progress text is written in the officer's language
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)  # 0-100
    progress_text = models.CharField(max_length=120, blank=True)
    # [{"name": the file's name as uploaded, "path": where it is kept, "size": bytes}]
    suspects = models.JSONField(default=list)
    report = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # While running, the job's process writes this at every step; a job whose process died stops writing it, and
    # the housekeeping queues it again (cradle.forensics.jobs.recover_stalled).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # What the report shows of which admission: [{"media_id", "suspect": its number, "kind": "suspect", "source" for
    # a frame sealed under that admission's key, or "" for the report's words alone}] (cradle.forensics.evidence).
    kept = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"trace {self.pk}"

    @property
    def folder(self) -> Path:
        """Where the uploaded suspects are kept while the job runs (cradle.forensics.evidence)."""
        return traces_dir() / str(self.pk)

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


@receiver(post_delete, sender=TraceJob)
def _remove_files(sender, instance: TraceJob, **kwargs) -> None:
    from cradle.forensics import evidence

    shutil.rmtree(instance.folder, ignore_errors=True)
    evidence.forget_frames(instance)

"""What a trace keeps, and how it goes with the admission it shows.

A trace works on a suspect the privacy officer uploaded and shows, in its report, a frame of the suspect beside the
stored frame it matches. Both pictures show a baby, so neither may outlive that baby's admission:

- the uploaded suspects are plaintext files in the job's folder while the job runs, and are removed as soon as it
  ends (done or failed; the officer keeps the original they uploaded), or by the retention run if a process died
  before it could remove them;
- the report's frames are sealed in the segment store under the data key of the admission the trace found (AES-GCM,
  like every segment), so destroying that key makes them unreadable wherever they went, backups included, and
  `cradle retention verify` proves it with every other object of the admission; a trace that found no source keeps
  no frame at all;
- when the admission is shredded, each report that shows it loses the bed, the camera and the frames, and says when.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from pathlib import Path

from django.utils import timezone

from cradle.forensics.models import TraceJob, traces_dir
from cradle.media.store import StoreError
from cradle.viewing.storage import segment_store

log = logging.getLogger(__name__)

KINDS = ("suspect", "source")
# A folder without a job row may be an upload whose job is being created; left alone this long.
UPLOAD_GRACE_SECONDS = 600


def _camera(job: TraceJob) -> str:
    # Frames are stored as a camera of their own inside the admission's space: "trace-<job>".
    return f"trace-{job.pk}"


def keep_frame(job: TraceJob, media_id: str, suspect: int, kind: str, png: bytes) -> None:
    """Seals one report frame under the admission's key and notes where it is."""
    if kind not in KINDS:
        raise ValueError(kind)
    segment_store().put(media_id, _camera(job), suspect, kind, png)
    job.kept = [*job.kept, {"media_id": media_id, "suspect": suspect, "kind": kind}]


def shows(job: TraceJob, media_id: str, suspect: int) -> None:
    """Notes that the report of `suspect` names the bed and camera of this admission."""
    if not any(k["media_id"] == media_id and k["suspect"] == suspect for k in job.kept):
        job.kept = [*job.kept, {"media_id": media_id, "suspect": suspect, "kind": ""}]


def frame_uri(job: TraceJob, suspect: int, kind: str) -> str | None:
    """The frame as a data URI for the report page, or None when it was never kept or its admission is shredded."""
    for k in job.kept:
        if k["suspect"] == suspect and k["kind"] == kind:
            try:
                data = segment_store().get(k["media_id"], _camera(job), suspect, kind)
            except StoreError:
                return None
            return "data:image/png;base64," + base64.b64encode(data).decode()
    return None


def forget_suspects(job: TraceJob) -> None:
    """Removes the uploaded suspects of a job that has ended, and any file its folder still holds."""
    folder = job.folder
    if folder.is_dir():
        for path in folder.iterdir():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()
    if any(s.get("path") for s in job.suspects):
        job.suspects = [{**s, "path": ""} for s in job.suspects]
        TraceJob.objects.filter(pk=job.pk).update(suspects=job.suspects)


def forget_frames(job: TraceJob) -> None:
    """Deletes the sealed frames of a job that is being deleted."""
    store = segment_store()
    for k in job.kept:
        if k["kind"] in KINDS:
            with contextlib.suppress(StoreError):
                store.delete(k["media_id"], _camera(job), k["suspect"], k["kind"])


def scrub(media_id: str) -> int:
    """Takes an admission being shredded out of every trace that shows it: the sealed frames (already unreadable
    without the key) are deleted and the report loses the bed, camera and frames. Gives how many jobs changed."""
    changed = 0
    for job in TraceJob.objects.only("pk", "kept", "report"):
        shown = {k["suspect"] for k in job.kept if k["media_id"] == media_id}
        if not shown:
            continue
        store = segment_store()
        for k in job.kept:
            if k["media_id"] == media_id and k["kind"] in KINDS:
                with contextlib.suppress(StoreError):
                    store.delete(media_id, _camera(job), k["suspect"], k["kind"])
        job.kept = [k for k in job.kept if k["media_id"] != media_id]
        report = job.report or {}
        for i, suspect in enumerate(report.get("suspects", [])):
            if i in shown:
                suspect.update(bed=None, camera=None, thumbnails=[], shredded_at=timezone.now().isoformat())
        TraceJob.objects.filter(pk=job.pk).update(kept=job.kept, report=job.report)
        changed += 1
    return changed


def sweep() -> int:
    """Removes what ended jobs left on disk (a process that died before removing its suspects, files from before
    frames were sealed) and folders of jobs that no longer exist; gives how many files went."""
    removed = 0
    root = traces_dir()
    if not root.is_dir():
        return 0
    for folder in _ended_folders(root):
        for path in sorted(folder.iterdir()) if folder.is_dir() else [folder]:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                path.unlink()
                removed += 1
        with contextlib.suppress(OSError):
            folder.rmdir()
    return removed


def _ended_folders(root: Path) -> list[Path]:
    """Everything in the traces folder but the folders of jobs still queued or running (and, for a few minutes, a
    folder whose job is not visible yet: an upload being written)."""
    statuses = dict(TraceJob.objects.values_list("pk", "status"))
    ended = {str(pk) for pk, status in statuses.items() if status in (TraceJob.Status.DONE, TraceJob.Status.FAILED)}
    known = {str(pk) for pk in statuses}
    now = time.time()
    return [
        p
        for p in sorted(root.iterdir())
        if p.name in ended or (p.name not in known and now - p.stat().st_mtime > UPLOAD_GRACE_SECONDS)
    ]


def leftovers(shredded: set[str]) -> list[str]:
    """What `cradle retention verify` reports: files of ended jobs still on disk, and reports that still show an
    admission whose key was destroyed."""
    found = []
    root = traces_dir()
    if root.is_dir():
        for folder in _ended_folders(root):
            for path in sorted(folder.iterdir()) if folder.is_dir() else [folder]:
                found.append(f"the trace file {path.relative_to(root)} outlived its job")
    for job in TraceJob.objects.only("pk", "kept"):
        for k in job.kept:
            if k["media_id"] in shredded:
                found.append(f"trace {job.pk} still shows admission {k['media_id']}, whose key was destroyed")
                break
    return found

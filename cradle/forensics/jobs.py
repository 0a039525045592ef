"""Running trace jobs outside the request: a daemon thread in the web process, or `cradle worker`.

One job runs at a time per process (a lock); between processes a job is claimed by moving it from queued to running
in one UPDATE, so that two processes never trace the same upload. A job that crashes is marked failed with one line.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import cv2
import numpy as np
from django.conf import settings
from django.db import close_old_connections
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cradle import metrics
from cradle.accounts.models import User
from cradle.audit.actions import Action
from cradle.audit.log import record
from cradle.audit.models import Event
from cradle.forensics import evidence, tracing
from cradle.forensics.models import TraceJob
from cradle.media import trace
from cradle.unit.models import Camera
from cradle.viewing.models import LiveSegment

log = logging.getLogger(__name__)

_lock = threading.Lock()
THUMB_WIDTH = 240
TOP_CANDIDATES = 10  # in the report's ranking
CODEWORD_CANDIDATES = 4  # whose codewords are shown beside the bits read
AUDIT_TRAIL = 200  # events of the identified account
# A running job writes a heartbeat at every step (a step takes seconds); this long without one, its process is gone.
STALL_SECONDS = 600
MAX_ATTEMPTS = 3


def start_in_background() -> None:
    """Hands the queued jobs to the background queue (cradle.tasks); with `trace_in_process` set, runs them in a daemon
    thread of this process instead, unless it is already running one."""
    if not settings.CRADLE.trace_in_process:
        from cradle import tasks

        tasks.enqueue(tasks.run_traces)
        return
    if _lock.locked():
        return
    threading.Thread(target=_background, name="trace jobs", daemon=True).start()


def _background() -> None:
    try:
        run_pending()
    finally:
        close_old_connections()


def run_pending() -> int:
    """Runs every queued job, oldest first, and gives how many ran. `cradle worker` calls this in its loop."""
    if not _lock.acquire(blocking=False):
        return 0
    ran = 0
    try:
        while True:
            job = TraceJob.objects.filter(status=TraceJob.Status.QUEUED).order_by("created_at", "pk").first()
            if job is None:
                return ran
            claimed = TraceJob.objects.filter(pk=job.pk, status=TraceJob.Status.QUEUED).update(
                status=TraceJob.Status.RUNNING, progress=0, heartbeat_at=timezone.now(), attempts=F("attempts") + 1
            )
            if claimed:
                job.refresh_from_db()
                run(job)
                ran += 1
    finally:
        _lock.release()


def run(job: TraceJob) -> None:
    """Traces the job's suspects and stores the report; any failure ends as a failed job with a one-line error.
    Either way the uploaded suspects are removed once it has ended."""
    try:
        _run(job)
    finally:
        evidence.forget_suspects(job)


def _run(job: TraceJob) -> None:
    with translation.override(job.language):
        try:
            report = _trace(job)
        except tracing.TraceError as e:
            _fail(job, _name_files(job, str(e)))
        except Exception as e:  # a crash must end the job, never the process or a page
            log.exception("trace job %s crashed", job.pk)
            _fail(
                job,
                _("The trace stopped unexpectedly (%(error)s); try again or ask the administrator.")
                % {"error": type(e).__name__},
            )
        else:
            job.report = report
            job.status = TraceJob.Status.DONE
            job.progress = 100
            job.progress_text = _("Finished.")
            job.finished_at = timezone.now()
            job.save(update_fields=["report", "kept", "status", "progress", "progress_text", "finished_at"])
            metrics.TRACE_JOBS.labels("done").inc()
            record(
                None,
                Action.TRACE_RUN,
                actor=job.created_by,
                unit=job.unit_id,
                job=job.pk,
                suspects=[s["name"] for s in job.suspects],
                verdict=report["verdict"],
                account=report["account"] or "",
            )


def _fail(job: TraceJob, error: str) -> None:
    job.status = TraceJob.Status.FAILED
    job.error = " ".join(error.split())[:300]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at", "kept"])
    metrics.TRACE_JOBS.labels("failed").inc()
    record(
        None, Action.TRACE_RUN, actor=job.created_by, unit=job.unit_id, outcome="failed", job=job.pk, reason=job.error
    )


def _name_files(job: TraceJob, text: str) -> str:
    # Errors name the stored file; the officer knows it by the name it was uploaded under.
    for s in job.suspects:
        text = text.replace(s["path"], s["name"])
    return text


def _progress(job: TraceJob, percent: float, text: str) -> None:
    job.progress = max(0, min(99, int(percent)))
    job.progress_text = text[:120]
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["progress", "progress_text", "heartbeat_at"])


def recover_stalled(now=None) -> int:
    """Jobs left "running" by a process that died (killed, out of memory, a restart) go back to the queue, or fail
    with a clear error after MAX_ATTEMPTS starts, so that a suspect that kills its process cannot do so forever.
    Gives how many were recovered."""
    now = now or timezone.now()
    stalled = TraceJob.objects.filter(
        status=TraceJob.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=STALL_SECONDS)
    )
    recovered = 0
    for job in stalled:
        if job.attempts >= MAX_ATTEMPTS:
            with translation.override(job.language):
                error = _("The trace stopped %(n)d times without finishing; ask the administrator.") % {
                    "n": job.attempts
                }
            if TraceJob.objects.filter(pk=job.pk, status=TraceJob.Status.RUNNING, heartbeat_at=job.heartbeat_at).update(
                status=TraceJob.Status.FAILED, error=error, finished_at=now
            ):
                evidence.forget_suspects(job)
                metrics.TRACE_JOBS.labels("failed").inc()
                record(None, Action.TRACE_RUN, actor=job.created_by, unit=job.unit_id, outcome="failed", job=job.pk,
                       reason=error)  # fmt: skip
                recovered += 1
            continue
        with translation.override(job.language):
            text = _("Queued again after an interruption")
        # Only if it is still the same stalled run: a late heartbeat means its process lives after all.
        if TraceJob.objects.filter(pk=job.pk, status=TraceJob.Status.RUNNING, heartbeat_at=job.heartbeat_at).update(
            status=TraceJob.Status.QUEUED, progress=0, progress_text=text
        ):
            record(
                None, Action.TRACE_REQUEUED, actor=job.created_by, unit=job.unit_id, job=job.pk, attempts=job.attempts
            )
            recovered += 1
    return recovered


def _trace(job: TraceJob) -> dict:
    n = len(job.suspects)
    step = 90 / max(n, 1) / 2
    loaded = []
    for i, s in enumerate(job.suspects):
        _progress(job, i * step, _("Reading suspect %(n)d of %(total)d") % {"n": i + 1, "total": n})
        loaded.append(tracing.load_suspect(s["path"]))
    _progress(job, n * step, _("Loading the fingerprints of stored video"))
    index = tracing._index(job.unit_id)
    results = []
    for i, (s, suspect) in enumerate(zip(job.suspects, loaded, strict=True)):
        _progress(job, (n + i) * step, _("Tracing suspect %(n)d of %(total)d") % {"n": i + 1, "total": n})
        results.append(tracing.trace_one(s["path"], index, suspect))
    _progress(job, 92, _("Writing the report"))
    verdict = tracing.combined_verdict(results)
    return build_report(job, results, verdict, loaded)


def build_report(
    job: TraceJob,
    results: list[tracing.SuspectResult],
    verdict: trace.Verdict,
    loaded: list[tuple[list[np.ndarray], float]],
) -> dict:
    """The evidence as JSON: verdict, candidates, per suspect its source, z and bits beside the top candidates'
    codewords, and the identified account's audit trail. Thumbnails are written into the job's folder."""
    top = [s.candidate for s in verdict.ranking[:CODEWORD_CANDIDATES]]
    suspects = []
    for i, (s, r, (frames, fps)) in enumerate(zip(job.suspects, results, loaded, strict=True)):
        codewords = tracing._codewords(r.readings) if r.readings else {}
        camera = Camera.objects.select_related("bed").filter(pk=r.camera_id).first() if r.camera_id else None
        suspects.append(
            {
                "file": s["name"],
                "camera": r.camera_id,
                "bed": camera.bed.label if camera and camera.bed else None,  # a retired camera has no bed
                "offset_s": None if r.offset is None else round(r.offset, 3) + 0.0,  # never "-0.0"
                "segments": [
                    {
                        "index": x.index,
                        "unit": x.unit,
                        "units": x.units,
                        "z": round(x.z, 2),
                        "bit": x.bit,
                        "candidates": {
                            a: (v.name if (v := trace.received(codewords.get(a, {}), x)) is not None else None)
                            for a in top
                        },
                    }
                    for x in r.readings
                ],
                "note": r.note,
                "visible_code": tracing.visible_evidence(r.visible, verdict, {job.unit_id} if job.unit_id else None),
                "thumbnails": _thumbnails(job, i, r, frames, fps),
            }
        )
    return {
        "job": job.pk,
        "unit": job.unit_id,
        "created_at": job.created_at.isoformat(),
        "verdict": verdict.outcome,
        "reason": verdict.reason,
        "reason_code": verdict.reason_code,
        "reason_args": dict(verdict.reason_args),
        "account": verdict.candidate if verdict.outcome == "identified" else None,
        # A graded verdict points at an account without naming it as the leaker (cradle.media.trace.attribution).
        "consistent_with": verdict.candidate if verdict.outcome == "consistent" else None,
        # Two or three accounts whose copies together explain the bits, each on evidence of their own.
        "colluders": tracing.colluders(results),
        "candidates": [
            {"account": c.candidate, "readable": c.readable, "matches": c.matches, "p_innocent": c.probability}
            for c in verdict.ranking[:TOP_CANDIDATES]
        ],
        "candidate_count": len(verdict.ranking),
        "suspects": suspects,
        "audit_trail": (
            audit_trail(verdict.candidate, job.unit_id) if verdict.outcome == "identified" and verdict.candidate else []
        ),
    }


def audit_trail(username: str, unit_id: int | None = None, limit: int = AUDIT_TRAIL) -> list[dict]:
    """The account's newest audit events in the officer's unit, with its sign-ins and sign-outs: what it fetched,
    when, from where, in which session."""
    user = User.objects.filter(username=username).first()
    if user is None:
        return []
    events = Event.objects.filter(actor_id=user.pk)
    if unit_id is not None:
        events = events.filter(Q(unit_id=unit_id) | Q(unit_id__isnull=True))
    events = events.order_by("-seq")[:limit]
    return [
        {
            "seq": e.seq,
            "at": e.at.isoformat(),
            "action": e.action,
            "admission": e.admission_id,
            "session": e.session,
            "ip": e.ip,
            "outcome": e.outcome,
        }
        for e in events
    ]


def _thumbnails(job: TraceJob, i: int, r: tracing.SuspectResult, frames: list[np.ndarray], fps: float) -> list[str]:
    """Small PNGs of one suspect frame and the stored (redacted, unmarked) reference frame it shows, sealed under the
    key of the admission the trace found (cradle.forensics.evidence); gives the kinds kept. A suspect whose source
    was not found keeps no frame: no admission's key could make it go with the baby's other pictures."""
    readings = [x for x in r.readings if x.variant is not None] or r.readings
    if not readings:
        return []
    reading = readings[len(readings) // 2]
    media_id = (
        LiveSegment.objects.filter(camera_id=int(reading.source_id), index=reading.index)
        .values_list("admission__media_id", flat=True)
        .first()
    )
    if media_id is None:
        return []
    evidence.shows(job, media_id, i)
    at = max(reading.suspect_start, 0.0) + 0.5
    kinds = ["suspect"]
    evidence.keep_frame(job, media_id, i, "suspect", _png(frames[min(int(at * fps), len(frames) - 1)]))
    try:
        references = tracing._references(reading.source_id, reading.index)
    except LookupError:
        references = []
    if references:
        evidence.keep_frame(job, media_id, i, "source", _png(references[len(references) // 2]))
        kinds.append("source")
    return kinds


def _png(image: np.ndarray) -> bytes:
    height, width = image.shape[:2]
    small = cv2.resize(image, (THUMB_WIDTH, max(1, round(height * THUMB_WIDTH / width))), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".png", small)
    if not ok:
        raise ValueError("thumbnail")
    return data.tobytes()

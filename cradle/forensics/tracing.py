"""Tracing a leaked copy to the account that received it, from what Cradle stored and served.

The media side (cradle.media.trace) finds the source and reads the bits; here the sources are the stored segments'
fingerprints, the references are decrypted from the store, and the candidates' codewords are the variants each account
was served (ServedVariant). Nobody is named unless the chance that an innocent account matches as well is tiny.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from cradle.media import trace
from cradle.media.fingerprint import FingerprintIndex
from cradle.media.hls import decode
from cradle.media.mark import Variant
from cradle.media.store import StoreError
from cradle.media.trace.collusion import find_colluders
from cradle.media.visible import CodeReader, VisibleCode
from cradle.viewing import variants
from cradle.viewing.models import LiveSegment, ServedVariant
from cradle.viewing.storage import mark_key, segment_store

MAX_BYTES = 2 * 1024**3
MAX_PIXELS = 3840 * 2160
MAX_SECONDS = 15 * 60
TRACED_SECONDS = 90
# A suspect is kept at no more pixels than the camera's picture (640 x 480), whatever its shape: a 9:16 story or a phone
# filming a screen holds the picture in part of the frame, which a 640 x 480 box would shrink for nothing.
TRACE_PIXELS = 640 * 480


class TraceError(Exception):
    """A suspect that cannot be traced; the message is one sentence for the privacy officer."""


@dataclass
class SuspectResult:
    path: str
    source: str | None = None  # "camera 3, bed 7"
    camera_id: int | None = None
    offset: float | None = None
    readings: list[trace.SegmentReading] = field(default_factory=list)
    scores: list[trace.CandidateScore] = field(default_factory=list)
    note: str = ""
    visible: VisibleCode | None = None  # the viewer code seen on the suspect, if any (a pointer, never proof)


def load_suspect(path: str | Path) -> tuple[list[np.ndarray], float]:
    """The suspect's frames (grey, no more pixels than 640 x 480) and frame rate; TraceError for an insane video.

    The mark and the fingerprints live in the luma of a 640 x 480 picture, so nothing is lost by keeping suspects at
    that size in grey, and a long 4K upload then costs the worker under 1 GB instead of tens. Only the first
    TRACED_SECONDS are traced: a leak's first minute and a half already carries ninety bits.
    """
    path = Path(path)
    if not path.is_file():
        raise TraceError(f"{path} does not exist or is not a file.")
    size = path.stat().st_size
    if size == 0:
        raise TraceError(f"{path} is empty.")
    if size > MAX_BYTES:
        raise TraceError(f"{path} is larger than {MAX_BYTES // 1024**3} GiB; cut the part that matters first.")
    try:
        # The probe decodes a first frame too: bounded like the rest, so a tiny file declaring a huge picture is cheap.
        with av.open(str(path), options={"max_pixels": str(MAX_PIXELS)}) as container:
            if not container.streams.video:
                raise TraceError(f"{path} has no video in it.")
            stream = container.streams.video[0]
            if getattr(stream, "codec_context", None) is None:
                raise TraceError(f"{path} is in a video format Cradle cannot decode; convert it to MP4 (H.264) first.")
            if stream.width * stream.height > MAX_PIXELS:
                raise TraceError(f"{path} is {stream.width}x{stream.height}; larger than 4K is not traced.")
            # The header speaks only for the first frame: a stream whose later frames grow (MJPEG, for one) would
            # be decoded at any size. The decoder refuses any frame past MAX_PIXELS before it allocates the picture,
            # and each decoded frame is checked again for decoders that ignore the limit.
            stream.codec_context.options = {"max_pixels": str(MAX_PIXELS)}
            declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
            if declared > MAX_SECONDS:
                raise TraceError(f"{path} is longer than {MAX_SECONDS // 60} minutes; cut the part that matters.")
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            frames = []
            for frame in container.decode(stream):
                if frame.width * frame.height > MAX_PIXELS:
                    shape = f"{frame.width}x{frame.height}"
                    raise TraceError(f"{path} has a frame of {shape}; larger than 4K is not traced.")
                frames.append(_small_grey(frame.to_ndarray(format="gray")))
                if len(frames) >= TRACED_SECONDS * max(fps, 1):
                    break
    except TraceError:
        raise
    except (av.FFmpegError, ValueError, OSError, AttributeError) as e:
        raise TraceError(
            f"{path} is not a video Cradle can read, or has a frame larger than 4K ({type(e).__name__})."
        ) from None
    if len(frames) < fps:
        raise TraceError(f"{path} is shorter than a second; a trace needs at least a few seconds.")
    return frames, fps


def _small_grey(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    shrink = min(1.0, math.sqrt(TRACE_PIXELS / (width * height)))
    if shrink == 1.0:
        return image
    size = (max(1, int(width * shrink)), max(1, int(height * shrink)))  # rounded down: never over TRACE_PIXELS
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _index(unit_id: int | None = None) -> FingerprintIndex:
    """The fingerprints of every stored segment, or of one unit's cameras (a privacy officer traces in their unit)."""
    rows = LiveSegment.objects.exclude(fingerprint=None)
    if unit_id is not None:
        rows = rows.filter(camera__bed__unit_id=unit_id)
    found = rows.values_list("camera_id", "index", "fingerprint")
    return FingerprintIndex.from_rows(
        (str(camera), index, np.frombuffer(bytes(fp), np.float16))
        for camera, index, fp in found.iterator()
        if fp is not None
    )


def _references(source_id: str, index: int) -> list[np.ndarray]:
    row = LiveSegment.objects.filter(camera_id=int(source_id), index=index).select_related("admission").first()
    if row is None:
        raise LookupError(index)
    try:
        return decode(segment_store().get(row.admission.media_id, source_id, index, "ref"))
    except StoreError as e:
        raise LookupError(index) from e


def _codewords(readings: list[trace.SegmentReading]) -> dict[str, dict[tuple[str, int], tuple[Variant, ...]]]:
    """Every account that was served any of the segments read, with the variant of each mark unit it received."""
    keys = {(int(r.source_id), r.index) for r in readings}
    served = ServedVariant.objects.filter(camera_id__in={c for c, _ in keys}, index__in={i for _, i in keys})
    codewords: dict[str, dict[tuple[str, int], tuple[Variant, ...]]] = {}
    for camera, index, code, username in served.values_list("camera_id", "index", "variant", "user__username"):
        if (camera, index) in keys:
            choice = tuple(Variant[letter] for letter in variants.letters(code))
            codewords.setdefault(username, {})[(str(camera), index)] = choice
    return codewords


def _units(source_id: str, index: int) -> int:
    """Mark units of a stored segment (1 for segments made before units)."""
    return variants.units_of(int(source_id), index)


_reader: list[CodeReader] = []


def read_visible(frames: list[np.ndarray]) -> VisibleCode | None:
    """The visible viewer code on the suspect's frames (the OCR model is loaded once per process)."""
    if not _reader:
        _reader.append(CodeReader())
    return _reader[0].read(frames)


def visible_evidence(found: VisibleCode | None, verdict: trace.Verdict, unit_ids: set[int] | None = None) -> dict:
    """The visible code beside the invisible marks: "agrees" (its session's account is the one the marks point at),
    "disagrees" (another account, or no session has it), "unconfirmed" (the marks point at nobody; the code alone
    names nobody) or "absent"."""
    from cradle.forensics import codes

    if found is None:
        return {"code": None, "agreement": "absent", "accounts": [], "frames": 0, "of": 0}
    accounts = sorted({o.account for o in codes.owners(found.code, unit_ids)})
    pointed = verdict.candidate if verdict.outcome in ("identified", "consistent") else None
    agreement = "unconfirmed" if pointed is None else "agrees" if pointed in accounts else "disagrees"
    return {"code": found.code, "agreement": agreement, "accounts": accounts, "frames": found.frames, "of": found.of}


def trace_one(
    path: str | Path, index: FingerprintIndex | None = None, loaded: tuple[list[np.ndarray], float] | None = None
) -> SuspectResult:
    frames, fps = loaded or load_suspect(path)
    result = SuspectResult(str(path))
    result.visible = read_visible(frames)
    # The best-agreeing source is read first; if it reads no bit at all, the next agreeing one (a look-alike bed).
    alignment, readings = trace.trace(frames, fps, index or _index(), _references, mark_key(), units=_units)
    if alignment is None:
        result.note = "no matching source: Cradle never served this picture, or too little of it is left"
        return result
    result.camera_id = int(alignment.source_id)
    result.offset = alignment.offset
    result.readings = readings
    codewords = _codewords(result.readings)
    result.scores = [trace.score(result.readings, account, codeword) for account, codeword in codewords.items()]
    return result


def trace_all(paths: list[str]) -> tuple[list[SuspectResult], trace.Verdict]:
    """Traces every suspect and combines their evidence per account."""
    loaded = [load_suspect(p) for p in paths]  # bad input is refused before any work is done
    index = _index()
    results = [trace_one(p, index, suspect) for p, suspect in zip(paths, loaded, strict=True)]
    return results, combined_verdict(results)


def combined_verdict(results: list[SuspectResult]) -> trace.Verdict:
    """The verdict on the bits of every suspect together, each mark unit counted once (trace.distinct): two copies
    of one leak are one leak's evidence, while copies of different stretches add up."""
    readings = [r for result in results for r in result.readings]
    return trace.attribute(readings, _codewords(readings))


def colluders(results: list[SuspectResult]) -> dict | None:
    """The set of two or three accounts whose copies together explain the bits, each member on evidence of their own
    (cradle.media.trace.collusion), as a report's entry; None when there is none. Beside an identified account it
    says who else's copy went into the leak."""
    readings = [r for result in results for r in result.readings]
    codewords: dict[str, dict] = {}
    for account, codeword in _codewords(readings).items():
        codewords.setdefault(account, {}).update(codeword)
    found = find_colluders(readings, codewords)
    if found is None:
        return None
    return {
        "accounts": list(found.accounts),
        "p_innocent": found.probability,
        "members": dict(found.members),
        "readable": found.readable,
        "explained": found.explained,
    }

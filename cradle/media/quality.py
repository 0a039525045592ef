"""Redaction quality on synthetic beds: destroyed PHI lines, OCR leaks and untouched infant pixels."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from cradle.media.frames import Frame, SafeFrame
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.sim import CJK_FONTS, LATIN_FONTS, SimCamera, SimFrame, SimSettings

# A line counts as destroyed when this share of its ground-truth box is masked.
DESTROYED_SHARE = 0.99
SCENE_FRAMES = 6
OCR_FRAME = 2  # held between detections at 0 and 5: the hardest frame for the hold window


def synthetic_scenes() -> list[SimSettings]:
    """Chinese and English beds in several fonts, rotated up to ±10°, some JPEG-compressed."""
    rough = [(-10, None), (7, 40), (-4, 60), (10, 30)]
    scenes = []
    for lang, fonts in (("zh", CJK_FONTS), ("en", LATIN_FONTS)):
        for n, (font, (angle, quality)) in enumerate(zip(fonts, rough, strict=False)):
            seed = 100 + n + (10 if lang == "en" else 0)
            scenes.append(SimSettings(lang=lang, seed=seed, font=font, card_angle=angle, jpeg_quality=quality))
    return scenes


@dataclass(slots=True)
class SceneScore:
    """Counts for one scene; add them up across scenes."""

    lines: int = 0
    destroyed: int = 0
    tokens: int = 0
    leaked: list[str] = field(default_factory=list)
    infant_px: int = 0
    infant_untouched_px: int = 0
    masked_px: int = 0
    phi_px: int = 0
    frames: int = 0
    screened: int = 0


def _quad_mask(shape: tuple[int, int], quad) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.array(quad)).astype(np.int32)], 1)
    return mask.astype(bool)


def redact_scene(camera: SimCamera, pool: DetectorPool, mode: str, policy: CameraPolicy | None = None):
    """Run a scene's frames through redaction; `mode` is "redact", "raw" (no redaction) or "blackout"."""
    sims = [camera.frame(i) for i in range(SCENE_FRAMES)]
    if mode == "raw":
        return sims, [SafeFrame(s.image, s.index, None, None, 0.0, False, np.zeros(s.infant.shape, bool)) for s in sims]
    if mode == "blackout":
        return sims, [
            SafeFrame(np.zeros_like(s.image), s.index, None, None, 0.0, False, np.ones(s.infant.shape, bool))
            for s in sims
        ]
    redactor = Redactor(policy or CameraPolicy(), pool, blocking=True, deadline_s=60)
    out: list[SafeFrame] = []
    for sim in sims:
        out += redactor.push(Frame(sim.image, sim.index, sim.index, Fraction(1, 15), time.monotonic()))
    out += redactor.flush()
    return sims, out


def score_scene(camera: SimCamera, sims: list[SimFrame], out: list[SafeFrame], ocr: bool = True) -> SceneScore:
    """Measure what survived redaction in one scene."""
    score = SceneScore()
    for sim, safe in zip(sims, out, strict=True):
        score.frames += 1
        covered = safe.covered if safe.covered is not None else np.ones(sim.infant.shape, bool)
        score.screened += safe.screened
        phi_union = np.zeros(sim.infant.shape, bool)
        for line in sim.phi:
            inside = _quad_mask(sim.infant.shape, line.quad)
            phi_union |= inside
            score.lines += 1
            score.destroyed += covered[inside].mean() >= DESTROYED_SHARE
        score.phi_px += int(phi_union.sum())
        score.masked_px += int(covered.sum())
        unchanged = np.all(safe.image == sim.image, axis=2)
        score.infant_px += int(sim.infant.sum())
        score.infant_untouched_px += int((unchanged & sim.infant).sum())
    if ocr:
        tokens = phi_tokens(camera)
        text = normalise(read_text(out[OCR_FRAME].image))
        score.tokens = len(tokens)
        score.leaked = [t for t in tokens if normalise(t) in text]
    return score


def phi_tokens(camera: SimCamera) -> list[str]:
    """Identifying strings on the card and monitor, and the parts of Latin names."""
    patient = camera.patient
    tokens = list(patient.tokens())
    for name in (patient.name, patient.mother):
        tokens += [part for part in name.split() if len(part) >= 4 and part != name]
    return sorted(set(tokens))


def normalise(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def tesseract_available() -> bool:
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        return False
    # A fixed argument list with no user input.
    langs = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    return "chi_sim" in langs and "eng" in langs


def read_text(image: np.ndarray) -> str:
    """What Tesseract (chi_sim+eng) reads, at twice the size and in two page modes, to give it every chance."""
    big = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frame.png"
        cv2.imwrite(str(path), big)
        # The two page modes run side by side, each Tesseract held to one thread: a scene costs half the time on two
        # cores, and the text read is the same.
        runs = [
            subprocess.Popen(  # noqa: S603 - fixed arguments and our own temporary file
                [shutil.which("tesseract") or "/usr/bin/tesseract", str(path), "-", "-l", "chi_sim+eng", "--psm", psm],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
            )
            for psm in ("11", "3")
        ]
        try:
            texts = [run.communicate(timeout=120)[0] for run in runs]
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.wait()
    return "\n".join(texts)


def total(scores: list[SceneScore]) -> SceneScore:
    """The sum of several scenes' scores."""
    out = SceneScore()
    for s in scores:
        for name in (
            "lines",
            "destroyed",
            "tokens",
            "infant_px",
            "infant_untouched_px",
            "masked_px",
            "phi_px",
            "frames",
            "screened",
        ):
            setattr(out, name, getattr(out, name) + getattr(s, name))
        out.leaked += s.leaked
    return out

"""Redaction quality on random ward scenes: masked PHI pixels, what OCR still reads, and the untouched infant.

A clip passes when, over all its frames, at least 0.99 of the visible PHI pixels (each line's own quadrilateral) are
masked or screened, Tesseract (chi_sim+eng) reads no identifying token on the frame that kept the most PHI pixels,
and at least 0.95 of the infant's pixels that no card covers are left exactly as they were.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from cradle.media.frames import Frame, SafeFrame
from cradle.media.redact import CameraPolicy, DetectorPool, Redactor
from cradle.media.scenes import SceneDraw, SceneFrame, WardScene, draw_scene

PHI_MASKED = 0.99
INFANT_UNTOUCHED = 0.95
# OCR reads each card, label and header scaled so that its type is about this tall: Tesseract's best size.
OCR_TYPE_PX = 40


def ci_scenes() -> list[SceneDraw]:
    """The fixed small set CI runs: tuning seeds, with the hard cases forced so that each is present."""
    return [
        draw_scene(11, width=1280, height=720, lang="zh", family="cjk-serif", font="noto/NotoSerifCJK-Regular.ttc",
                   light="night", card_event="slide", type_px=14, frames=12),
        draw_scene(12, width=1920, height=1080, lang="en", family="hand", font="comic-neue/ComicNeue-Regular.otf",
                   type_px=13, angle=-14.0, card_event="cover", frames=10),
        draw_scene(13, width=640, height=480, lang="en", family="serif", font="urw-base35/C059-Roman.otf",
                   type_px=10, glare=True, contrast=0.4, card_event="swap", stickers=2, frames=12),
        draw_scene(14, width=640, height=480, lang="zh", family="cjk-hand", font="arphic/ukai.ttc", type_px=12,
                   angle=15.0, light="dim", card_event="move", blur=3.0, monitor="appears", frames=12),
    ]  # fmt: skip


@dataclass(slots=True)
class ClipScore:
    """What survived redaction in one clip."""

    draw: SceneDraw
    frames: int = 0
    screened: int = 0
    phi_px: int = 0
    phi_masked_px: int = 0
    worst_frame: float = 1.0  # the lowest share of PHI pixels masked on any one frame
    infant_px: int = 0
    infant_untouched_px: int = 0
    tokens: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    readable_raw: list[str] | None = None  # tokens OCR reads on the unredacted frame, when asked
    detections: int = 0
    seconds: float = 0.0

    @property
    def phi_share(self) -> float:
        return self.phi_masked_px / self.phi_px if self.phi_px else 1.0

    @property
    def infant_share(self) -> float:
        return self.infant_untouched_px / self.infant_px if self.infant_px else 1.0

    @property
    def passes(self) -> bool:
        return self.phi_share >= PHI_MASKED and not self.leaked and self.infant_share >= INFANT_UNTOUCHED


def redact_clip(
    scene: WardScene, pool: DetectorPool, policy: CameraPolicy | None = None
) -> tuple[list[SceneFrame], list[SafeFrame], Redactor]:
    """Render a scene and run its frames through redaction, as `cradle redact` would (waiting for detections).

    The camera's detection phase comes from the scene's seed, so a clip's figures do not depend on which clips ran
    on the pool before it.
    """
    frames = scene.frames()
    redactor = Redactor(policy or CameraPolicy(), pool, blocking=True, deadline_s=120, phase=scene.draw.seed)
    out: list[SafeFrame] = []
    for sim in frames:
        out += redactor.push(Frame(sim.image, sim.index, sim.index, Fraction(1, 15), time.monotonic()))
    out += redactor.flush()
    return frames, out, redactor


def score_clip(
    scene: WardScene, frames: list[SceneFrame], out: list[SafeFrame], ocr: bool = True, raw_check: bool = False
) -> ClipScore:
    """Measure one redacted clip; `raw_check` also reads the unredacted frame, to show the text was readable."""
    score = ClipScore(scene.draw, tokens=scene.tokens())
    worst: tuple[int, int] = (-1, -1)  # (unmasked PHI pixels, frame)
    for sim, safe in zip(frames, out, strict=True):
        score.frames += 1
        score.screened += safe.screened
        covered = np.ones(sim.phi_mask.shape, bool) if safe.screened or safe.covered is None else safe.covered
        phi = int(sim.phi_mask.sum())
        masked = int((covered & sim.phi_mask).sum())
        score.phi_px += phi
        score.phi_masked_px += masked
        if phi:
            score.worst_frame = min(score.worst_frame, masked / phi)
            worst = max(worst, (phi - masked, sim.index))
        unchanged = np.all(safe.image == sim.image, axis=2)
        score.infant_px += int(sim.infant.sum())
        score.infant_untouched_px += int((unchanged & sim.infant).sum())
    if ocr and worst[1] >= 0:
        sim, safe = frames[worst[1]], out[worst[1]]
        if not safe.screened:
            score.leaked = found_tokens(read_text(ocr_sheet(safe.image, sim.groups, scene.draw)), score.tokens)
        if raw_check:
            score.readable_raw = found_tokens(read_text(ocr_sheet(sim.image, sim.groups, scene.draw)), score.tokens)
    return score


def phi_shares(frames: list[SceneFrame], out: list[SafeFrame]) -> list[float]:
    """Each frame's share of PHI pixels masked (a privacy screen masks all; a frame without PHI counts as 1)."""
    shares = []
    for sim, safe in zip(frames, out, strict=True):
        covered = np.ones(sim.phi_mask.shape, bool) if safe.screened or safe.covered is None else safe.covered
        phi = int(sim.phi_mask.sum())
        shares.append(float((covered & sim.phi_mask).sum()) / phi if phi else 1.0)
    return shares


def run_clip(
    draw: SceneDraw, pool: DetectorPool, policy: CameraPolicy | None = None, ocr: bool = True, raw_check: bool = False
) -> ClipScore:
    """Render, redact and score one drawn scene."""
    started = time.perf_counter()
    scene = WardScene(draw)
    frames, out, redactor = redact_clip(scene, pool, policy)
    score = score_clip(scene, frames, out, ocr, raw_check)
    score.detections = redactor.counts.detections
    score.seconds = time.perf_counter() - started
    return score


def ocr_sheet(image: np.ndarray, groups: Iterable[tuple[int, int, int, int]], draw: SceneDraw) -> np.ndarray:
    """The cards, labels and headers of a frame, each grown by a margin and scaled to OCR's best type size,
    stacked on one grey sheet (one OCR run per frame instead of one per card)."""
    scale = max(1.0, min(4.0, OCR_TYPE_PX / draw.type_px))
    height, width = image.shape[:2]
    crops = []
    for x0, y0, x1, y1 in groups:
        m = max(8, (y1 - y0) // 5)
        crop = image[max(0, y0 - m) : min(height, y1 + m), max(0, x0 - m) : min(width, x1 + m)]
        crops.append(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))
    if not crops:
        return image
    gap = 24
    sheet = np.full((sum(c.shape[0] + gap for c in crops) + gap, max(c.shape[1] for c in crops) + 2 * gap, 3), 128,
                    np.uint8)  # fmt: skip
    y = gap
    for crop in crops:
        sheet[y : y + crop.shape[0], gap : gap + crop.shape[1]] = crop
        y += crop.shape[0] + gap
    return sheet


def found_tokens(text: str, tokens: Iterable[str]) -> list[str]:
    flat = normalise(text)
    return [t for t in tokens if normalise(t) and normalise(t) in flat]


def normalise(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def tesseract_available() -> bool:
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        return False
    # A fixed argument list with no user input.
    langs = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True, check=False).stdout
    return "chi_sim" in langs and "eng" in langs


def read_text(image: np.ndarray) -> str:
    """What Tesseract (chi_sim+eng) reads, in two page modes, to give it every chance."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frame.png"
        cv2.imwrite(str(path), image)
        # The two page modes run side by side, each Tesseract held to one thread: half the time on two cores.
        runs = [
            subprocess.Popen(
                [shutil.which("tesseract") or "/usr/bin/tesseract", str(path), "-", "-l", "chi_sim+eng", "--psm", psm],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
            )
            for psm in ("11", "6")
        ]
        try:
            texts = [run.communicate(timeout=180)[0] for run in runs]
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.wait()
    return "\n".join(texts)

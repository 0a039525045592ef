"""Whether a line found earlier still shows some of its ink where it was found, pixel by pixel.

The release rules (release.py) ask where the cells around a line changed since the look that found it: a hand over
most of a card changes nearly every cell its lines reach, and the newer look does not report the sliver of a line the
hand leaves showing (half the height of its glyphs below the hand's edge; tuning scene 30023: 8 % of a card's PHI
for nine frames). The cells say "changed"; the pixels of that sliver have not. So each line's ink is kept as it was
when its look saw it (a grey crop of the line's upright box and which of its pixels were ink), and a line some of
whose ink still shows unchanged, glyph pattern and all, is masked whole, wherever its cells changed. A line carried
away shows paper or the infant where its ink was, and is left to the rules of the cells.

The same memory tells the redactor when a line has *slipped*: its cells look unchanged to the motion grid, yet its
picture no longer matches what its look saw (`slipped`). A card whose paper is the grey of the ground it lies on
changes its cells' thumbnails by less than noise as it moves (tuning scene 41005: a dim card carried up 30 px a frame
at 720p, its three top lines unmasked for four frames, and the look's masks left where it had been). "The grid saw no
change" is not "the text is where it was": the text itself has to show where it was found.
"""

from __future__ import annotations

import cv2
import numpy as np

from cradle.media.redact import masks

# A pixel is ink when it differs from the line's median grey (its paper) by more than this many levels.
INK_LEVELS = 24
# An ink pixel still shows as it was when the picture now, moved by at most a pixel either way (camera shake), is
# within SAME_LEVELS of it and the WINDOW_PX square around it correlates with what was there by at least
# SAME_CORRELATION: the pattern of glyphs on paper must match, not only the grey level, since dark ink where the line
# was may happen to match something as dark (the infant at night: tuning scene 31001 lost 49 % more of her on levels
# alone), and a window half under a flat hand does not correlate.
WINDOW_PX = 5
SAME_LEVELS = 12
SAME_CORRELATION = 0.8
# A line still shows when at least this share of its ink pixels, and STILL_INK_PX of them, show as they were.
STILL_SHARE = 0.15
STILL_INK_PX = 24
# Lines remembered at most; the oldest half is forgotten beyond that (a forgotten line is left to its cells).
KEPT = 4000
# A line has slipped when the best normalised correlation of its box now with what its look saw (shifted by up to
# SHAKE_PX either way) is below SLIPPED_SHARE of the correlation two noisy views of the same line would have: signal
# variance over signal plus noise variance, the noise measured on the look's crop. Measured on tuning scenes
# 40000-40019: over 981 checks of lines on cards that stay, the lowest ratio was 0.99; lines that moved unseen fell
# to 0.0-0.4. A line whose expected correlation is below MIN_EXPECTED (faint ink in strong noise) cannot be told
# apart from its noise and is not checked.
SLIPPED_SHARE = 0.5
MIN_EXPECTED = 0.2
NOISE_MARGIN = 1.2
# The shift of a line's box searched before it counts as slipped: the camera's shake, and never more than the least
# margin a line's mask has on every side (CameraPolicy.margin_px, the redactor passes the smaller), so a line found
# within it is still under the mask its look made.
# A camera on a pole by a ventilator sways by a pixel or two (the simulated beds: 1.5 px and a sub-pixel jitter, so
# up to 3.6 px between a look's frame and a later one); searched only a pixel either way, the still cards and monitor
# headers of the pipeline bench's beds slipped on most frames, and each was looked at again (crops 0.02 -> 0.17 and
# the redactor 0.09 -> 0.55 CPU-s per 640x480 camera-second). A card carried unseen moves far more between looks
# (tuning scene 41005: 30 px a frame).
SHAKE_PX = 3


class InkMemory:
    """The ink of each line found, by region identity, as its look saw it."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[masks.Region, tuple[int, int, int, int], np.ndarray, np.ndarray]] = {}
        # Each kept line's expected correlation with another view of itself (see `slipped`), by region identity.
        self._expected: dict[int, float] = {}
        # Where each line was found last (its box's shift, rows and columns, within SHAKE_PX): a swaying camera puts
        # it there or near there again, so that shift is tried first, one correlation, before all of them.
        self._shift: dict[int, tuple[int, int]] = {}
        # Each line's crop less its mean and that one's norm (`slipped`), and its 5x5 windows' deviations and
        # variances (`shows`): made once per line, not on every frame it is asked about.
        self._centred: dict[int, tuple[np.ndarray, float]] = {}
        self._windows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # Each line's ink pixels (rows, columns) and their grey as its look saw them (`shows`).
        self._ink_at: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def keep(self, regions: list[masks.Region], image: np.ndarray) -> None:
        """Remember the ink of `regions` as `image` (the picture their look saw) shows it."""
        height, width = image.shape[:2]
        for region in regions:
            if id(region) in self._kept:
                continue
            quad = masks.as_quad(region)
            (x0, y0), (x1, y1) = np.floor(quad.min(axis=0)).astype(int), np.ceil(quad.max(axis=0)).astype(int)
            x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
            if x1 - x0 < 3 or y1 - y0 < 3:
                continue
            grey = _grey(image[y0:y1, x0:x1])
            inside = np.zeros(grey.shape, np.uint8)
            cv2.fillPoly(inside, [np.round(quad - (x0, y0)).astype(np.int32)], 1)
            paper = float(np.median(grey[inside.astype(bool)])) if inside.any() else float(np.median(grey))
            ink = inside.astype(bool) & (np.abs(grey.astype(np.int16) - paper) > INK_LEVELS)
            if np.count_nonzero(ink) < STILL_INK_PX:
                continue
            old = grey.astype(np.float32)
            self._kept[id(region)] = (region, (x0, y0, x1, y1), ink, old)
            for known in (self._shift, self._centred, self._windows, self._ink_at):
                known.pop(id(region), None)  # (another region's, whose identity this one now has)
            # The noise: the robust spread of what a 3x3 blur removes (glyph edges are a minority of the pixels),
            # with a margin (the blur keeps a ninth of the noise, and compression adds some).
            noise = NOISE_MARGIN * 1.4826 * float(np.median(np.abs(old - cv2.blur(old, (3, 3)))))
            signal = max(0.0, float(old.var()) - noise * noise)
            self._expected[id(region)] = signal / (signal + noise * noise) if signal > 0 else 0.0
        if len(self._kept) > KEPT:
            for key in list(self._kept)[: len(self._kept) // 2]:
                del self._kept[key]
                self._expected.pop(key, None)
                self._shift.pop(key, None)
                self._centred.pop(key, None)
                self._windows.pop(key, None)
                self._ink_at.pop(key, None)

    def template(self, region: masks.Region) -> tuple[tuple[int, int, int, int], np.ndarray, float] | None:
        """The line's upright box, the grey crop of it its look saw (float32) and the correlation two noisy views of
        it would have (see `slipped`); None when its ink was not kept."""
        kept = self._kept.get(id(region))
        if kept is None or kept[0] is not region:
            return None
        return kept[1], kept[3], self._expected.get(id(region), 0.0)

    def slipped(self, region: masks.Region, image: np.ndarray, shake: int = SHAKE_PX) -> bool:
        """True when the line's box in `image` no longer shows what its look saw there (see SLIPPED_SHARE) at any
        shift of up to `shake` pixels, and no part of its ink shows as it was (`shows`); False otherwise, or when the
        line's ink was not kept or cannot be told from its noise."""
        kept = self._kept.get(id(region))
        if kept is None or kept[0] is not region:
            return False
        expected = self._expected.get(id(region), 0.0)
        if expected < MIN_EXPECTED:
            return False
        _, (x0, y0, x1, y1), _ink, old = kept
        height, width = image.shape[:2]
        if x1 > width or y1 > height:
            return False
        # The picture around the box, `shake` pixels on every side the frame has it.
        ax0, ay0 = max(0, x0 - shake), max(0, y0 - shake)
        ax1, ay1 = min(width, x1 + shake), min(height, y1 + shake)
        now = _grey(image[ay0:ay1, ax0:ax1]).astype(np.float32)
        threshold = SLIPPED_SHARE * expected
        # Where it was found last, first (one correlation: the common answer), then every shift up to `shake`.
        rows, cols = old.shape
        dy, dx = self._shift.get(id(region), (0, 0))
        dy, dx = max(-shake, min(shake, dy)), max(-shake, min(shake, dx))
        top, left = y0 - ay0 + dy, x0 - ax0 + dx
        inside = 0 <= top <= now.shape[0] - rows and 0 <= left <= now.shape[1] - cols
        if inside and self._correlation(id(region), old, now[top : top + rows, left : left + cols]) >= threshold:
            return False
        scores = cv2.matchTemplate(now, old, cv2.TM_CCOEFF_NORMED)
        _, best, _, (left, top) = cv2.minMaxLoc(scores)
        self._shift[id(region)] = (top - (y0 - ay0), left - (x0 - ax0))
        # A line part of which still shows as it was has not gone anywhere: a hand over the rest of it (its cells keep
        # the look that found it, and the line stays masked; looked at again, a crop would miss the glyphs left).
        return best < threshold and not self.shows(region, image)

    def _correlation(self, key: int, old: np.ndarray, now: np.ndarray) -> float:
        """The normalised correlation of `now` with the line's crop `old` (same shape; TM_CCOEFF_NORMED's figure,
        0 where either is flat)."""
        if key not in self._centred:
            centred = old - float(old.mean())
            self._centred[key] = (centred, float(np.sqrt(np.sum(centred * centred, dtype=np.float64))))
        centred, norm = self._centred[key]
        here = now - float(now.mean())
        spread = norm * float(np.sqrt(np.sum(here * here, dtype=np.float64)))
        return float(np.sum(centred * here, dtype=np.float64)) / spread if spread > 0 else 0.0

    def shows(self, region: masks.Region, image: np.ndarray) -> bool:
        """True when enough of the line's ink shows in `image` just as its look saw it (see STILL_SHARE)."""
        kept = self._kept.get(id(region))
        if kept is None or kept[0] is not region:
            return False
        _, (x0, y0, x1, y1), ink, old = kept
        height, width = image.shape[:2]
        if height < y1 or width < x1:
            return False
        # The picture now one pixel around the box, so that each shift of it lines up with the old crop.
        ax0, ay0, ax1, ay1 = max(0, x0 - 1), max(0, y0 - 1), min(width, x1 + 1), min(height, y1 + 1)
        around = np.pad(
            _grey(image[ay0:ay1, ax0:ax1]).astype(np.float32),
            ((int(ay0 == y0), y1 + 1 - ay1), (int(ax0 == x0), x1 + 1 - ax1)),
            mode="edge",
        )
        rows, cols = old.shape
        window = (WINDOW_PX, WINDOW_PX)
        if id(region) not in self._windows:
            old_dev = old - cv2.blur(old, window)
            self._windows[id(region)] = (old_dev, cv2.blur(old_dev * old_dev, window))
        old_dev, old_var = self._windows[id(region)]
        needed = max(float(STILL_INK_PX), STILL_SHARE * float(np.count_nonzero(ink)))
        # An ink pixel shows as it was only where its grey is within SAME_LEVELS of what it was at some shift: when
        # too few are, at any shift, no correlation can make up for it (a line carried off, or under a hand, shows
        # paper or skin where its ink was), and the windows are not worked out.
        if id(region) not in self._ink_at:
            rows_at, cols_at = np.nonzero(ink)
            self._ink_at[id(region)] = (rows_at, cols_at, old[rows_at, cols_at])
        rows_at, cols_at, was = self._ink_at[id(region)]
        level = np.zeros(len(was), bool)
        for dy, dx in _SHIFTS:
            level |= np.abs(around[rows_at + dy, cols_at + dx] - was) <= SAME_LEVELS
        if float(np.count_nonzero(level)) < needed:
            return False
        same = np.zeros(old.shape, bool)
        # Unshifted first (a line that shows mostly shows there); enough ink showing at any shift is the answer.
        for dy, dx in _SHIFTS:
            now = around[dy : dy + rows, dx : dx + cols]
            now_dev = now - cv2.blur(now, window)
            now_var = cv2.blur(now_dev * now_dev, window)
            # (the windowed covariance of the two, each less its own local mean)
            cov = cv2.blur(old_dev * now_dev, window)
            corr = cov / np.sqrt(np.maximum(old_var * now_var, 1e-6))
            same |= (corr >= SAME_CORRELATION) & (np.abs(now - old) <= SAME_LEVELS)
            if float(np.count_nonzero(ink & same)) >= needed:
                return True
        return False


# The shifts of `shows`, as offsets into the picture one pixel around the box: unshifted first.
_SHIFTS = ((1, 1), *((dy, dx) for dy in range(3) for dx in range(3) if (dy, dx) != (1, 1)))


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image

"""Ward scenes drawn at random, with ground truth, for measuring redaction on cases nobody tuned it on.

Each draw (a seed) picks a camera resolution (640x480 to 1920x1080), a typeface from several families (sans, serif,
handwriting-like, monospace, CJK sans, serif and brush), type from the smallest a person can read up to large,
rotation up to ±15°, day, dim or infrared-night light, low contrast, glare, motion blur, sensor noise and JPEG
artefacts, and what happens during the clip: a card that stays, slides into view, moves, is partly covered by a
hand, or is swapped for another card; stickers on the incubator; a monitor whose header appears mid-clip.
Ground truth is every line's own quadrilateral, the visible PHI pixels and the infant's pixels no card covers.

Seeds are split once: tuning draws (and typefaces) are what the redaction may be tuned on, held-out draws are for
reporting only, and the held-out typefaces never appear in a tuning draw.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cradle.media.errors import MediaError
from cradle.media.sim import Patient, PhiLine, card_lines, make_patient

_FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
# Typefaces by family, as paths under the font folders (Debian packages in deploy/debian-packages.txt).
FONT_FAMILIES: dict[str, tuple[str, ...]] = {
    "sans": (
        "dejavu/DejaVuSans.ttf",
        "liberation/LiberationSans-Regular.ttf",
        "liberation/LiberationSansNarrow-Regular.ttf",
        "urw-base35/NimbusSans-Regular.otf",
        "urw-base35/URWGothic-Book.otf",
        "freefont/FreeSans.ttf",
        "dejavu/DejaVuSans-Bold.ttf",
    ),
    "serif": (
        "liberation/LiberationSerif-Regular.ttf",
        "dejavu/DejaVuSerif.ttf",
        "urw-base35/NimbusRoman-Regular.otf",
        "urw-base35/C059-Roman.otf",
        "urw-base35/URWBookman-Light.otf",
        "urw-base35/P052-Roman.otf",
        "freefont/FreeSerif.ttf",
    ),
    "hand": (
        "comic-neue/ComicNeue-Regular.otf",
        "comic-neue/ComicNeue-Bold.otf",
        "urw-base35/Z003-MediumItalic.otf",
        "liberation/LiberationSerif-Italic.ttf",
    ),
    "mono": (
        "dejavu/DejaVuSansMono.ttf",
        "liberation/LiberationMono-Regular.ttf",
        "urw-base35/NimbusMonoPS-Regular.otf",
        "freefont/FreeMono.ttf",
        "inconsolata/Inconsolata.otf",
    ),
    "cjk-sans": (
        "noto/NotoSansCJK-Regular.ttc",
        "noto/NotoSansCJK-Bold.ttc",
        "wqy/wqy-microhei.ttc",
        "wqy/wqy-zenhei.ttc",
    ),
    "cjk-serif": ("noto/NotoSerifCJK-Regular.ttc", "arphic/uming.ttc"),
    "cjk-hand": ("arphic/ukai.ttc", "lxgw-wenkai/LXGWWenKai-Regular.ttf"),
}
LATIN_FAMILIES = ("sans", "serif", "hand", "mono")
CJK_FAMILIES = ("cjk-sans", "cjk-serif", "cjk-hand")
# Never drawn for tuning: a figure on them says how redaction does on a typeface it was not tuned on.
HELD_OUT_FONTS = frozenset(
    {
        "urw-base35/P052-Roman.otf",
        "urw-base35/Z003-MediumItalic.otf",
        "inconsolata/Inconsolata.otf",
        "freefont/FreeSans.ttf",
        "wqy/wqy-zenhei.ttc",
        "lxgw-wenkai/LXGWWenKai-Regular.ttf",
    }
)
TUNING_SEEDS = range(0, 100_000)
HELD_OUT_SEEDS = range(100_000, 200_000)
RESOLUTIONS = ((640, 480), (1280, 720), (1920, 1080))
# The smallest type (font size in pixels) a person can still read at the delivered resolution.
SMALLEST_PX = {"en": 10, "zh": 12}
CARD_EVENTS = ("static", "slide", "move", "cover", "swap")
LIGHTS = ("day", "dim", "night")
MONITOR_EVENTS = ("always", "appears", "none")


def font_path(name: str) -> Path | None:
    """The installed file of a typeface named as in FONT_FAMILIES, or None."""
    for folder in _FONT_DIRS:
        path = Path(folder) / name
        if path.exists():
            return path
    return None


def installed_fonts(family: str, held_out: bool) -> list[str]:
    """The family's typefaces on this machine; without the held-out ones for a tuning draw."""
    return [f for f in FONT_FAMILIES[family] if font_path(f) and (held_out or f not in HELD_OUT_FONTS)]


@lru_cache(maxsize=64)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = font_path(name)
    if path is None:
        raise MediaError(f"Font {name} is not installed; install the fonts in deploy/debian-packages.txt.")
    return ImageFont.truetype(str(path), size)


@dataclass(frozen=True, slots=True)
class SceneDraw:
    """What one random ward scene shows; `draw_scene(seed)` makes it, and any field may be fixed by hand."""

    seed: int
    width: int = 640
    height: int = 480
    lang: str = "en"
    family: str = "sans"
    font: str = "dejavu/DejaVuSans.ttf"
    type_px: int = 14
    angle: float = 0.0
    light: str = "day"
    contrast: float = 1.0  # ink darkness against the card: 1 black on white, 0.3 faded
    glare: bool = False
    blur: float = 0.0  # motion blur of a moving card, in pixels
    noise: float = 3.0
    jpeg: int | None = None
    card_event: str = "static"
    stickers: int = 0
    monitor: str = "always"
    frames: int = 16

    @property
    def held_out(self) -> bool:
        return self.seed in HELD_OUT_SEEDS

    def label(self) -> str:
        name = self.font.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return (
            f"{self.width}x{self.height} {self.lang} {name} {self.type_px}px {self.angle:+.0f}° {self.light}"
            f" c{self.contrast:.1f}{' glare' if self.glare else ''} {self.card_event} mon:{self.monitor}"
            f" st{self.stickers}"
        )


def draw_scene(seed: int, **fixed) -> SceneDraw:
    """A random scene for `seed`; tuning seeds never draw a held-out typeface. `fixed` overrides any field."""
    rng = random.Random(seed)  # noqa: S311 - made-up scenes, not secrets
    held_out = seed in HELD_OUT_SEEDS
    if not held_out and seed not in TUNING_SEEDS:
        raise MediaError(f"Scene seed {seed} is outside the tuning and held-out ranges.")
    width, height = rng.choice(RESOLUTIONS)
    lang = rng.choice(("zh", "en"))
    families = [f for f in (CJK_FAMILIES if lang == "zh" else LATIN_FAMILIES) if installed_fonts(f, held_out)]
    family = rng.choice(families)
    font = rng.choice(installed_fonts(family, held_out))
    smallest = SMALLEST_PX[lang]
    largest = max(smallest + 2, round(height * 0.04))
    type_px = round(math.exp(rng.uniform(math.log(smallest), math.log(largest))))
    light = rng.choices(LIGHTS, (0.5, 0.2, 0.3))[0]
    noise = rng.uniform(4, 12) if light == "night" else rng.uniform(0, 7)
    draw = SceneDraw(
        seed=seed,
        width=width,
        height=height,
        lang=lang,
        family=family,
        font=font,
        type_px=type_px,
        angle=rng.uniform(-15, 15),
        light=light,
        contrast=1.0 if rng.random() < 0.6 else rng.uniform(0.3, 0.8),
        glare=rng.random() < 0.3,
        blur=rng.uniform(0, 8),
        noise=noise,
        jpeg=None if rng.random() < 0.5 else rng.randrange(35, 91),
        card_event=rng.choice(CARD_EVENTS),
        stickers=rng.randrange(0, 3),
        monitor=rng.choice(MONITOR_EVENTS),
    )
    draw = replace(draw, **fixed)
    if (draw.lang == "zh") != (draw.family in CJK_FAMILIES) or draw.font not in FONT_FAMILIES[draw.family]:
        raise MediaError(f"Scene {seed}: typeface {draw.font} is not of family {draw.family} for language {draw.lang}.")
    return draw


@dataclass(frozen=True, slots=True)
class SceneFrame:
    """One rendered frame (BGR) and its ground truth."""

    image: np.ndarray
    index: int
    phi: tuple[PhiLine, ...]
    phi_mask: np.ndarray = field(repr=False)  # visible pixels of PHI lines (their own quadrilaterals)
    infant: np.ndarray = field(repr=False)  # the infant's pixels that no card, label or hand covers
    groups: tuple[tuple[int, int, int, int], ...] = ()  # boxes of each visible card, label and monitor header


@dataclass(slots=True)
class _Sprite:
    """A card, label or monitor header: an RGBA picture and its lines' quadrilaterals on it."""

    rgba: np.ndarray
    lines: list[tuple[str, np.ndarray]]  # text, 4x2 points in sprite pixels

    @property
    def size(self) -> tuple[int, int]:
        return self.rgba.shape[1], self.rgba.shape[0]


def _render_lines(
    lines: list[str], font: ImageFont.FreeTypeFont, paper: tuple, ink: tuple, border: tuple | None, angle: float
) -> _Sprite:
    """Lines of text on a piece of paper, rotated by `angle` degrees (counter-clockwise)."""
    size = font.size
    pad, gap = max(3, size // 2), max(2, size // 3)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    extents = [probe.textbbox((0, 0), line, font=font) for line in lines]
    width = max(e[2] for e in extents) + 2 * pad
    height = sum(e[3] + gap for e in extents) - gap + 2 * pad
    card = Image.new("RGBA", (int(width), int(height)), paper)
    draw = ImageDraw.Draw(card)
    if border is not None:
        draw.rectangle((0, 0, width - 1, height - 1), outline=border, width=int(max(1, size // 8)))
    boxes, y = [], pad
    for line, extent in zip(lines, extents, strict=True):
        draw.text((pad, y), line, font=font, fill=ink)
        boxes.append(draw.textbbox((pad, y), line, font=font))
        y += extent[3] + gap
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    turned = corners @ matrix[:, :2].T + matrix[:, 2]
    (x0, y0), (x1, y1) = turned.min(0), turned.max(0)
    matrix[:, 2] -= (x0, y0)
    out_size = (math.ceil(x1 - x0) + 1, math.ceil(y1 - y0) + 1)
    rgba = cv2.warpAffine(np.asarray(card), matrix, out_size, flags=cv2.INTER_CUBIC, borderValue=(0, 0, 0, 0))
    quads = []
    for line, (a, b, c, d) in zip(lines, boxes, strict=True):
        quad = np.array([[a, b], [c, b], [c, d], [a, d]], np.float64)
        quads.append((line, quad @ matrix[:, :2].T + matrix[:, 2]))
    return _Sprite(rgba, quads)


def _between(rng: random.Random, low: int, high: int) -> int:
    """A frame number in [low, high), or `low` for clips too short for the range."""
    return rng.randrange(low, max(low + 1, high))


def _motion_blur(rgba: np.ndarray, length: float, angle: float) -> np.ndarray:
    k = max(1, round(length))
    if k < 2:
        return rgba
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1 / k
    turn = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), angle, 1.0)
    turned = cv2.warpAffine(kernel, turn, (k, k))
    return cv2.filter2D(rgba, -1, turned / max(turned.sum(), 1e-6))


class WardScene:
    """Renders the frames of one drawn scene; `frame(i)` is deterministic."""

    def __init__(self, draw: SceneDraw) -> None:
        self.draw = d = draw
        rng = random.Random(d.seed * 7919 + 1)  # noqa: S311 - made-up scenes
        self._rng = rng
        self.patient = make_patient(rng, d.lang)
        self.patients: list[Patient] = [self.patient]
        w, h = d.width, d.height
        self._s = h / 480
        self._background = self._room(rng)
        font = _font(d.font, d.type_px)
        ink = self._ink(rng)
        paper = (250, 248, 230, 255) if rng.random() < 0.6 else (255, 255, 255, 255)
        border = (200, 60, 60, 255) if rng.random() < 0.5 else (60, 90, 200, 255)
        self._card = _render_lines(card_lines(self.patient, d.lang), font, paper, ink, border, d.angle)
        self._second: _Sprite | None = None
        if d.card_event == "swap":
            other = make_patient(rng, d.lang)
            self.patients.append(other)
            angle2 = max(-15.0, min(15.0, d.angle + rng.uniform(-8, 8)))
            self._second = _render_lines(card_lines(other, d.lang), font, paper, ink, border, angle2)
        cw, ch = self._card.size
        # The card's resting place: anywhere it fits, mostly on the lower half where cards hang.
        self._home = (rng.uniform(0.02 * w, max(0.02 * w, w - cw - 2)), rng.uniform(0.3 * h, max(0.3 * h, h - ch - 2)))
        self._path = self._card_path(rng)
        self._hand_span = (d.frames // 4, d.frames - 2)
        self._hand_at = (rng.uniform(0.2, 0.7), rng.uniform(0.2, 0.7))
        self._labels = [self._label(rng) for _ in range(d.stickers)]
        self._monitor = self._monitor_header(rng)
        self._monitor_from = 0 if d.monitor == "always" else _between(rng, d.frames // 3, 2 * d.frames // 3)
        self._light = self._light_map(rng)
        self._noise = None
        if d.noise:
            self._noise = np.random.default_rng(d.seed).normal(0, d.noise, (2, h, w)).astype(np.float32)
        self._infant_centre = (rng.uniform(0.3, 0.55) * w, rng.uniform(0.4, 0.55) * h)

    # The static picture.

    def _ink(self, rng: random.Random) -> tuple[int, int, int, int]:
        level = round(245 - 225 * self.draw.contrast)
        tint = rng.choice(((0, 0, 0), (0, 0, 40), (30, 0, 0)))
        return (max(0, level - tint[2]), max(0, level - tint[1]), min(255, level + tint[0]), 255)

    def _room(self, rng: random.Random) -> np.ndarray:
        d, s = self.draw, self._s
        w, h = d.width, d.height
        wall = np.array([rng.randrange(150, 230) for _ in range(3)], np.float32)
        shade = np.linspace(1, 0.75, h, dtype=np.float32)[:, None, None]
        image = np.ascontiguousarray(np.broadcast_to(wall * shade, (h, w, 3)).astype(np.uint8))
        cv2.rectangle(image, (0, int(0.83 * h)), (w, h), (150, 150, 160), -1)  # floor
        cabinet = (int(0.06 * w), int(0.62 * h), int(0.66 * w), int(0.87 * h))
        cv2.rectangle(image, cabinet[:2], cabinet[2:], (215, 222, 222), -1)
        cv2.rectangle(image, (int(0.11 * w), int(0.55 * h)), (int(0.61 * w), int(0.62 * h)), (246, 238, 235), -1)
        hood = (int(0.08 * w), int(0.25 * h), int(0.64 * w), int(0.63 * h))
        cv2.rectangle(image, hood[:2], hood[2:], (200, 190, 170), max(1, round(4 * s)), cv2.LINE_AA)
        for cx in (0.19, 0.53):
            cv2.circle(image, (int(cx * w), int(0.48 * h)), round(22 * s), (190, 180, 160), max(1, round(3 * s)))
        # Monitor on the right.
        self._screen = (int(0.68 * w), int(0.06 * h), int(0.98 * w), int(0.4 * h))
        x0, y0, x1, y1 = self._screen
        pad = round(6 * s)
        cv2.rectangle(image, (x0 - pad, y0 - pad), (x1 + pad, y1 + pad), (70, 62, 60), -1)
        cv2.rectangle(image, (x0, y0), (x1, y1), (18, 14, 10), -1)
        vitals = _font("dejavu/DejaVuSans.ttf", max(10, round(15 * s)))
        pil = Image.fromarray(image)
        pen = ImageDraw.Draw(pil)
        pen.text((x1 - round(75 * s), y0 + round(45 * s)), "HR 148", font=vitals, fill=(80, 230, 80))
        pen.text((x1 - round(75 * s), y0 + round(90 * s)), "SpO2 96", font=vitals, fill=(240, 200, 80))
        return np.asarray(pil).copy()

    def _label(self, rng: random.Random) -> tuple[_Sprite, tuple[float, float]]:
        d = self.draw
        number = self.patient.inpatient_number
        text = rng.choice((self.patient.name, f"MRN {number}", number, self.patient.name))
        if d.lang == "zh" and text.startswith("MRN"):
            text = f"住院号 {self.patient.inpatient_number}"
        family = rng.choice(CJK_FAMILIES if d.lang == "zh" else LATIN_FAMILIES)
        fonts = installed_fonts(family, d.held_out) or [d.font]
        size = max(SMALLEST_PX[d.lang], round(d.type_px * rng.uniform(0.8, 1.3)))
        paper = rng.choice(((255, 240, 120, 255), (255, 255, 255, 255), (190, 230, 255, 255)))
        font = _font(rng.choice(fonts), size)
        sprite = _render_lines([text], font, paper, self._ink(rng), None, rng.uniform(-15, 15))
        w, h = d.width, d.height
        place = (rng.uniform(0.06 * w, max(0.06 * w, 0.6 * w - sprite.size[0])), rng.uniform(0.63 * h, 0.8 * h))
        return sprite, place

    def _monitor_header(self, rng: random.Random) -> _Sprite | None:
        d = self.draw
        if d.monitor == "none":
            return None
        family = "cjk-sans" if d.lang == "zh" else rng.choice(("mono", "sans"))
        fonts = installed_fonts(family, d.held_out) or [d.font]
        x0, _, x1, _ = self._screen
        size = max(SMALLEST_PX[d.lang], min(round(d.type_px * rng.uniform(0.8, 1.2)), (x1 - x0) // 14))
        text = f"{self.patient.name}  {self.patient.inpatient_number}"
        return _render_lines([text], _font(rng.choice(fonts), size), (110, 60, 30, 255), (240, 240, 240, 255), None, 0)

    def _light_map(self, rng: random.Random) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-pixel gain and offset (grey levels) for the scene's light: dim, infrared hot spot, glare."""
        d = self.draw
        w, h = d.width, d.height
        if d.light == "day" and not d.glare:
            return None
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        gain = np.ones((h, w), np.float32)
        offset = np.zeros((h, w), np.float32)
        if d.light == "dim":
            gain *= rng.uniform(0.35, 0.6)
        elif d.light == "night":
            cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
            spread = (0.6 * max(w, h)) ** 2
            gain *= rng.uniform(0.25, 0.45) + 0.5 * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / spread)
        if d.glare:
            # Veiling glare, often on the card where it hurts: the picture is pulled towards white, by up to
            # `strength` at the centre, so contrast drops without text vanishing completely.
            hx, hy = self._home
            cw, ch = self._card.size
            if rng.random() < 0.7:
                cx, cy = hx + rng.uniform(0, cw), hy + rng.uniform(0, ch)
            else:
                cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            radius = rng.uniform(0.05, 0.15) * max(w, h)
            veil = rng.uniform(0.3, 0.65) * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2))
            offset += 255 * veil * gain
            gain *= 1 - veil
        return gain, offset

    def _card_path(self, rng: random.Random) -> list[tuple[float, float] | None]:
        """Where the card's corner is on each frame (None: out of view)."""
        d = self.draw
        n = d.frames
        hx, hy = self._home
        cw, ch = self._card.size
        path: list[tuple[float, float] | None] = []
        if d.card_event == "slide":
            start, end = _between(rng, 0, n // 3), _between(rng, n // 2, n - 2)
            side = rng.choice(("left", "right", "bottom"))
            off = {"left": (-cw - 2, hy), "right": (d.width + 2, hy), "bottom": (hx, d.height + 2)}[side]
            for i in range(n):
                t = min(1.0, max(0.0, (i - start) / max(1, end - start)))
                path.append((off[0] + (hx - off[0]) * t, off[1] + (hy - off[1]) * t))
            return path
        if d.card_event == "move":
            start, end = _between(rng, 2, n // 2), _between(rng, n // 2 + 1, n)
            to = (rng.uniform(0, max(1, d.width - cw)), rng.uniform(0.2 * d.height, max(0.2 * d.height, d.height - ch)))
            for i in range(n):
                t = min(1.0, max(0.0, (i - start) / max(1, end - start)))
                path.append((hx + (to[0] - hx) * t, hy + (to[1] - hy) * t))
            return path
        if d.card_event == "swap":
            self._swap_at = _between(rng, n // 3, 2 * n // 3)
        return [(hx, hy)] * n

    # Frames.

    def frame(self, index: int) -> SceneFrame:
        """Frame `index` with its ground truth."""
        d = self.draw
        h, w = d.height, d.width
        image = self._background.copy()
        infant = self._draw_infant(image, index)
        covered = np.zeros((h, w), bool)
        phi = np.zeros((h, w), np.uint8)
        lines: list[PhiLine] = []
        groups: list[tuple[int, int, int, int]] = []
        for sprite, (x, y) in self._sprites(index):
            # Only the card moves: labels stuck on the incubator and a monitor's header stay sharp.
            moving = self._moving(index) and (sprite is self._card or sprite is self._second)
            own = np.zeros((h, w), bool)
            self._paste(image, sprite, x, y, own, blur=d.blur if moving else 0.0)
            # What a sprite lies over (a label under the card) is hidden, not shown PHI.
            phi[own] = 0
            covered |= own
            for text, quad in sprite.lines:
                placed = quad + np.array([round(x), round(y)])
                cv2.fillPoly(phi, [np.round(placed).astype(np.int32)], 1)
                lines.append(PhiLine(text, tuple((float(a), float(b)) for a, b in placed)))
            bx0, by0 = max(0, round(x)), max(0, round(y))
            bx1, by1 = min(w, round(x) + sprite.size[0]), min(h, round(y) + sprite.size[1])
            if bx1 > bx0 and by1 > by0:
                groups.append((bx0, by0, bx1, by1))
        hand = self._draw_hand(image, index)
        if hand is not None:
            covered |= hand
            phi[hand] = 0
        image = self._photometry(image, index)
        return SceneFrame(image, index, tuple(lines), phi.astype(bool), infant & ~covered, tuple(groups))

    def frames(self) -> list[SceneFrame]:
        return [self.frame(i) for i in range(self.draw.frames)]

    def _moving(self, index: int) -> bool:
        if index == 0:
            return False
        return self._path[index] != self._path[index - 1]

    def _sprites(self, index: int) -> list[tuple[_Sprite, tuple[float, float]]]:
        d = self.draw
        out: list[tuple[_Sprite, tuple[float, float]]] = [(s, p) for s, p in self._labels]
        if self._monitor is not None and index >= self._monitor_from:
            x0, y0, _, _ = self._screen
            out.append((self._monitor, (x0 + 4, y0 + 4)))
        at = self._path[index]
        if at is None:  # (the card is out of the picture)
            pass
        elif d.card_event == "swap":
            swap = self._swap_at
            if index < swap:
                out.append((self._card, at))
            elif index >= swap + 2 and self._second is not None:
                out.append((self._second, at))
        else:
            out.append((self._card, at))
        return out

    def _paste(self, image: np.ndarray, sprite: _Sprite, x: float, y: float, covered: np.ndarray, blur: float) -> None:
        rgba = sprite.rgba
        if blur >= 2:
            dx, dy = self._velocity()
            rgba = _motion_blur(rgba, blur, math.degrees(math.atan2(dy, dx)))
        h, w = image.shape[:2]
        sw, sh = sprite.size
        x0, y0 = round(x), round(y)
        ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(w, x0 + sw), min(h, y0 + sh)
        if ax1 <= ax0 or ay1 <= ay0:
            return
        part = rgba[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0].astype(np.float32)
        alpha = part[:, :, 3:] / 255
        region = image[ay0:ay1, ax0:ax1].astype(np.float32)
        image[ay0:ay1, ax0:ax1] = (region * (1 - alpha) + part[:, :, :3] * alpha).astype(np.uint8)
        covered[ay0:ay1, ax0:ax1] |= alpha[:, :, 0] > 0.05

    def _velocity(self) -> tuple[float, float]:
        pairs = zip(self._path, self._path[1:], strict=False)
        moves = [(b[0] - a[0], b[1] - a[1]) for a, b in pairs if a is not None and b is not None and a != b]
        return moves[0] if moves else (1.0, 0.0)

    def _draw_infant(self, image: np.ndarray, index: int) -> np.ndarray:
        h, w = image.shape[:2]
        s = self._s
        t = index / 15
        breath = 1 + 0.05 * math.sin(2 * math.pi * 0.8 * t)
        cx = self._infant_centre[0] + 10 * s * math.sin(2 * math.pi * t / 23)
        cy = self._infant_centre[1]
        mask = np.zeros((h, w), np.uint8)
        parts = [
            ((0, 0), (70 * s, 22 * s * breath), (215, 190, 160)),
            ((-88 * s, -4 * s), (26 * s, 24 * s), (150, 175, 225)),
            ((-50 * s, -20 * s), (22 * s, 7 * s), (140, 165, 220)),
        ]
        for (ox, oy), (ax, ay), colour in parts:
            centre = (round((cx + ox) * 16), round((cy + oy) * 16))
            axes = (max(16, round(ax * 16)), max(16, round(ay * 16)))
            cv2.ellipse(image, centre, axes, 0, 0, 360, colour, -1, cv2.LINE_AA, 4)
            cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1, cv2.LINE_8, 4)
        return mask.astype(bool)

    def _draw_hand(self, image: np.ndarray, index: int) -> np.ndarray | None:
        """A gloved hand over part of the card (cover), or passing the card in (slide): its pixels."""
        d = self.draw
        if d.card_event != "cover" or not self._hand_span[0] <= index <= self._hand_span[1]:
            return None
        h, w = image.shape[:2]
        if (at := self._path[index]) is None:
            return None
        x, y = at
        cw, ch = self._card.size
        fx, fy = self._hand_at
        cx, cy = round(x + fx * cw), round(y + fy * ch)
        mask = np.zeros((h, w), np.uint8)
        palm = (max(4, round(0.35 * cw)), max(4, round(0.45 * ch)))
        cv2.ellipse(mask, (cx, cy), palm, 20, 0, 360, 1, -1)
        cv2.line(mask, (cx, cy), (cx + w, cy + h // 2), 1, max(4, palm[1]))  # the arm, off to the corner
        hand = mask.astype(bool)
        image[hand] = (235, 200, 150)  # blue glove (BGR)
        return hand

    def _photometry(self, image: np.ndarray, index: int) -> np.ndarray:
        d = self.draw
        if d.light == "night":
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            image = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        if self._light is None and self._noise is None and not d.jpeg:
            return image
        out = image.astype(np.float32)
        if self._light is not None:
            gain, offset = self._light
            out = out * gain[:, :, None] + offset[:, :, None]
        if self._noise is not None:
            out += self._noise[index % 2][:, :, None] * (1.0 if d.light == "night" else (1.0, 0.9, 1.1))
        image = np.clip(out, 0, 255).astype(np.uint8)
        if d.jpeg:
            _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, d.jpeg])
            decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
            if decoded is None:
                raise RuntimeError("OpenCV could not decode the JPEG it had just encoded.")
            image = decoded
        return image

    def tokens(self) -> list[str]:
        """Strings that identify a baby shown in the scene (and the parts of Latin names)."""
        tokens: list[str] = []
        for patient in self.patients:
            tokens += patient.tokens()
            for name in (patient.name, patient.mother):
                tokens += [part for part in name.split() if len(part) >= 4 and part != name]
        return sorted(set(tokens))

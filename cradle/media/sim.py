"""A simulated NICU camera: incubator, breathing infant, bed card and monitor, with ground-truth PHI boxes."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cradle.media.errors import MediaError

CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)
LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
)

# Fractional bits for drawing at sub-pixel positions (OpenCV's `shift`).
_SUBPIXEL_BITS = 4

_ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_ZH_GIVEN = (
    "子涵",
    "一诺",
    "欣怡",
    "浩然",
    "梓萱",
    "宇轩",
    "思远",
    "佳怡",
    "俊杰",
    "雨桐",
    "明",
    "婷",
    "博文",
    "嘉禾",
)
_ZH_MOTHERS = ("秀英", "丽娟", "海燕", "晓梅", "静", "敏", "桂芳", "雪", "慧玲", "春兰")
_ZH_DIAGNOSES = (
    "早产儿",
    "新生儿黄疸",
    "呼吸窘迫综合征",
    "新生儿肺炎",
    "低出生体重儿",
    "新生儿窒息",
    "新生儿败血症",
)
_EN_GIVEN = (
    "Olivia",
    "Noah",
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Leo",
    "Freya",
    "Arthur",
    "Maya",
    "Ethan",
)
_EN_SURNAMES = (
    "Smith",
    "Chen",
    "Patel",
    "Jones",
    "Kowalski",
    "Murphy",
    "Nguyen",
    "Garcia",
    "Okafor",
    "Brown",
)
_EN_MOTHERS = ("Emma", "Sarah", "Priya", "Grace", "Hannah", "Laura", "Fatima", "Chloe")
_EN_DIAGNOSES = (
    "Prematurity 31 weeks",
    "Neonatal jaundice",
    "Respiratory distress",
    "Neonatal sepsis",
    "Low birth weight",
    "Hypoglycaemia",
)


@dataclass(frozen=True, slots=True)
class PhiLine:
    """One line of identifying text in the picture and where it is (a quadrilateral in pixels)."""

    text: str
    quad: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Patient:
    """The made-up admission a simulated bed shows."""

    name: str
    sex: str
    age_days: int
    diagnosis: str
    admitted: date
    inpatient_number: str
    mother: str

    def tokens(self) -> tuple[str, ...]:
        """Strings that identify this baby; none may be readable after redaction."""
        return (self.name, self.mother, self.inpatient_number, self.diagnosis, self.admitted.isoformat())


@dataclass(frozen=True, slots=True)
class SimFrame:
    """A rendered frame (BGR) and its ground truth."""

    image: np.ndarray
    index: int
    phi: tuple[PhiLine, ...]
    infant: np.ndarray = field(repr=False)  # bool mask of the infant's pixels


@dataclass(frozen=True, slots=True)
class SimSettings:
    """What a simulated camera shows and how rough the picture is."""

    bed: str = "bed-3"
    lang: str = "zh"
    width: int = 640
    height: int = 480
    fps: float = 15.0
    seed: int = 3
    font: str | None = None
    card_angle: float | None = None  # degrees; random within ±10 when None
    jpeg_quality: int | None = None  # compression artefacts when set
    noise: float = 3.0
    shake: float = 1.5


def settings_from_url(url: str) -> SimSettings:
    """Settings for `sim://bed-3?lang=zh&seed=4&fps=15&size=640x480`."""
    parts = urlsplit(url)
    if parts.scheme != "sim" or not parts.netloc:
        raise MediaError(f"{url!r} is not a simulated camera URL; use sim://bed-3?lang=zh.")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    lang = query.get("lang", "en")
    if lang not in ("zh", "en"):
        raise MediaError(f"Simulated camera language {lang!r} is not supported; use lang=zh or lang=en.")
    try:
        width, height = (int(v) for v in query.get("size", "640x480").split("x"))
        fps = float(query.get("fps", "15"))
        seed = int(query.get("seed", str(sum(map(ord, parts.netloc)))))
    except ValueError as exc:
        raise MediaError(f"Simulated camera URL {url!r} has a malformed size, fps or seed.") from exc
    if not (64 <= width <= 3840 and 64 <= height <= 2160 and 1 <= fps <= 60):
        raise MediaError(f"Simulated camera URL {url!r} asks for an unsupported size or frame rate.")
    return SimSettings(bed=parts.netloc, lang=lang, width=width, height=height, fps=fps, seed=seed)


def make_patient(rng: random.Random, lang: str) -> Patient:
    """A random, made-up admission."""
    admitted = date(2026, 1, 1) + timedelta(days=rng.randrange(330))
    age = rng.randrange(1, 60)
    number = f"{rng.randrange(10**7, 10**8)}{rng.randrange(10)}"
    if lang == "zh":
        surname = rng.choice(_ZH_SURNAMES)
        return Patient(
            surname + rng.choice(_ZH_GIVEN),
            rng.choice("男女"),
            age,
            rng.choice(_ZH_DIAGNOSES),
            admitted,
            number,
            rng.choice(_ZH_SURNAMES) + rng.choice(_ZH_MOTHERS),
        )
    surname = rng.choice(_EN_SURNAMES)
    return Patient(
        f"{rng.choice(_EN_GIVEN)} {surname}",
        rng.choice("MF"),
        age,
        rng.choice(_EN_DIAGNOSES),
        admitted,
        number,
        f"{rng.choice(_EN_MOTHERS)} {surname}",
    )


def card_lines(patient: Patient, lang: str) -> list[str]:
    """The lines of a bed card."""
    if lang == "zh":
        return [
            f"姓名: {patient.name}",
            f"性别: {patient.sex}  日龄: {patient.age_days}天",
            f"诊断: {patient.diagnosis}",
            f"入院: {patient.admitted.isoformat()}",
            f"住院号: {patient.inpatient_number}",
            f"母亲: {patient.mother}",
        ]
    return [
        f"Name: {patient.name}",
        f"Sex: {patient.sex}  Age: {patient.age_days} days",
        f"Dx: {patient.diagnosis}",
        f"Admitted: {patient.admitted.isoformat()}",
        f"MRN: {patient.inpatient_number}",
        f"Mother: {patient.mother}",
    ]


def _font(path: str | None, lang: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    candidates = [path] if path else list(CJK_FONTS if lang == "zh" else LATIN_FONTS)
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    if path:
        raise MediaError(f"Font {path} is not installed; install the fonts in deploy/debian-packages.txt.")
    return ImageFont.load_default(size)


def _text_block(lines: list[str], font, size: tuple[int, int], colours, pad: int, gap: int):
    """Render lines onto a card; return the RGBA card and each line's box on it."""
    card = Image.new("RGBA", size, colours[0])
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=colours[2], width=2)
    boxes = []
    y: float = pad
    for line in lines:
        draw.text((pad, y), line, font=font, fill=colours[1])
        x0, y0, x1, y1 = draw.textbbox((pad, y), line, font=font)
        boxes.append((x0, y0, x1, y1))
        y = y1 + gap
    return card, boxes


class SimCamera:
    """Renders frames of one simulated bed; `frame(i)` is deterministic for a given seed."""

    def __init__(self, settings: SimSettings | None = None) -> None:
        self.settings = s = settings or SimSettings()
        rng = random.Random(s.seed)  # noqa: S311 - made-up patients, not secrets
        self.patient = make_patient(rng, s.lang)
        self._rng = np.random.default_rng(s.seed)
        sx, sy = s.width / 640, s.height / 480
        self._scale = (sx, sy)
        scene = self._room(sx, sy)
        phi: list[PhiLine] = []
        phi += self._paste_card(scene, rng, sx, sy)
        phi += self._paste_monitor(scene, sx, sy)
        self._scene = cv2.cvtColor(np.asarray(scene.convert("RGB")), cv2.COLOR_RGB2BGR)
        self._phi = tuple(phi)
        noise = self._rng.normal(0, s.noise, (3, s.height, s.width, 3)) if s.noise else None
        self._noise = (
            None
            if noise is None
            else [(np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)) for n in noise]
        )

    @property
    def fps(self) -> float:
        return self.settings.fps

    def _room(self, sx: float, sy: float) -> Image.Image:
        s = self.settings
        wall = np.linspace(0, 1, s.height)[:, None, None]
        rgb = (np.array([196, 212, 205]) * (1 - 0.25 * wall)).astype(np.uint8)
        scene = Image.fromarray(np.broadcast_to(rgb, (s.height, s.width, 3)).copy()).convert("RGBA")
        draw = ImageDraw.Draw(scene)
        draw.rectangle((0, int(400 * sy), s.width, s.height), fill=(150, 150, 160))  # floor
        # Incubator: cabinet, mattress and the clear hood's frame.
        draw.rounded_rectangle((int(40 * sx), int(300 * sy), int(420 * sx), int(420 * sy)), 12, fill=(222, 222, 215))
        draw.rectangle((int(70 * sx), int(262 * sy), int(390 * sx), int(300 * sy)), fill=(235, 238, 246))
        draw.rounded_rectangle(
            (int(50 * sx), int(120 * sy), int(410 * sx), int(302 * sy)),
            30,
            outline=(170, 190, 200),
            width=max(1, int(4 * sx)),
        )
        for cx in (120, 340):
            r = int(22 * sx)
            c = (int(cx * sx), int(230 * sy))
            draw.ellipse((c[0] - r, c[1] - r, c[0] + r, c[1] + r), outline=(160, 180, 190), width=max(1, int(3 * sx)))
        return scene

    def _paste_card(self, scene: Image.Image, rng: random.Random, sx: float, sy: float) -> list[PhiLine]:
        s = self.settings
        size = max(9, round(14 * sy))
        font = _font(s.font, s.lang, size)
        lines = card_lines(self.patient, s.lang)
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        extents = [probe.textbbox((0, 0), line, font=font) for line in lines]
        width = max(e[2] for e in extents) + 2 * round(10 * sx)
        height = sum(e[3] + round(6 * sy) for e in extents) + 2 * round(10 * sy)
        card, boxes = _text_block(
            lines,
            font,
            (int(width), int(height)),
            ((250, 248, 225, 255), (25, 25, 30), (200, 60, 60)),
            round(10 * sx),
            round(6 * sy),
        )
        angle = s.card_angle if s.card_angle is not None else rng.uniform(-10, 10)
        rotated = card.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        # Place the card on the cabinet front, right of the infant; keep it inside the picture.
        x = min(int(430 * sx), s.width - rotated.width - 2)
        y = min(int(250 * sy), s.height - rotated.height - 2)
        scene.alpha_composite(rotated, (x, y))
        # PIL rotates counter-clockwise about the card centre, then expands.
        theta = math.radians(angle)
        cx, cy = card.width / 2, card.height / 2
        ox, oy = rotated.width / 2, rotated.height / 2
        phi = []
        for line, (x0, y0, x1, y1) in zip(lines, boxes, strict=True):
            quad = []
            for px, py in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
                dx, dy = px - cx, py - cy
                rx = dx * math.cos(theta) + dy * math.sin(theta)
                ry = -dx * math.sin(theta) + dy * math.cos(theta)
                quad.append((x + ox + rx, y + oy + ry))
            phi.append(PhiLine(line, tuple(quad)))
        return phi

    def _paste_monitor(self, scene: Image.Image, sx: float, sy: float) -> list[PhiLine]:
        s = self.settings
        x0, y0, x1, y1 = int(430 * sx), int(30 * sy), int(630 * sx), int(190 * sy)
        draw = ImageDraw.Draw(scene)
        draw.rounded_rectangle((x0 - 6, y0 - 6, x1 + 6, y1 + 6), 8, fill=(60, 62, 70))
        draw.rectangle((x0, y0, x1, y1), fill=(10, 14, 18))
        size = max(9, round(13 * sy))
        font = _font(s.font, s.lang, size)
        header = f"{self.patient.name}  {self.patient.inpatient_number}"
        draw.rectangle((x0, y0, x1, y0 + size + 8), fill=(30, 60, 110))
        draw.text((x0 + 5, y0 + 3), header, font=font, fill=(240, 240, 240))
        hx0, hy0, hx1, hy1 = draw.textbbox((x0 + 5, y0 + 3), header, font=font)
        vitals = _font(None, "en", max(9, round(15 * sy)))
        draw.text((x1 - int(70 * sx), y0 + int(40 * sy)), "HR 148", font=vitals, fill=(80, 230, 80))
        draw.text((x1 - int(70 * sx), y0 + int(90 * sy)), "SpO2 96", font=vitals, fill=(80, 200, 240))
        self._wave = (x0 + 6, int(y0 + 40 * sy), x1 - int(80 * sx), int(y0 + 140 * sy))
        return [PhiLine(header, ((hx0, hy0), (hx1, hy0), (hx1, hy1), (hx0, hy1)))]

    def frame(self, index: int) -> SimFrame:
        """Frame `index`: breathing and drifting infant, monitor trace, shake, light drift and noise."""
        s = self.settings
        sx, sy = self._scale
        t = index / s.fps
        # Shake moves the static scene with one sub-pixel warp; the infant and the trace are then drawn where
        # the shake puts them, which costs a fraction of warping them (and the ground truth) as well.
        dx, dy = self._shake(index)
        if dx or dy:
            move = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
            image = cv2.warpAffine(self._scene, move, (s.width, s.height), borderMode=cv2.BORDER_REPLICATE)
        else:
            image = self._scene.copy()
        infant = np.zeros((s.height, s.width), np.uint8)
        breath = 1 + 0.05 * math.sin(2 * math.pi * 0.8 * t)
        cx = (230 + 12 * math.sin(2 * math.pi * t / 23)) * sx + dx
        cy = (240 + 2 * math.sin(2 * math.pi * t / 17)) * sy + dy
        parts = [  # centre offset, axes, colour (BGR): blanket-covered body, head, arm
            ((0, 0), (70 * sx, 22 * sy * breath), (215, 190, 160)),
            ((-88 * sx, -4 * sy), (26 * sx, 24 * sy), (150, 175, 225)),
            ((-50 * sx, -20 * sy), (22 * sx, 7 * sy), (140, 165, 220)),
        ]
        sub = 1 << _SUBPIXEL_BITS
        for (ox, oy), (ax, ay), colour in parts:
            centre = (round((cx + ox) * sub), round((cy + oy) * sub))
            axes = (max(sub, round(ax * sub)), max(sub, round(ay * sub)))
            cv2.ellipse(image, centre, axes, 0, 0, 360, colour, -1, cv2.LINE_AA, _SUBPIXEL_BITS)
            cv2.ellipse(infant, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_8, _SUBPIXEL_BITS)
        wx0, wy0, wx1, wy1 = self._wave
        xs = np.arange(wx0, wx1, 2)
        ys = (wy0 + wy1) / 2 - (wy1 - wy0) * 0.3 * np.exp(-((((xs / 3 + index * 4) % 40) - 20) ** 2) / 4)
        trace = np.round(np.stack([xs + dx, ys + dy], 1) * sub).astype(np.int32)
        cv2.polylines(image, [trace], False, (80, 230, 80), 1, cv2.LINE_8, _SUBPIXEL_BITS)

        gain = 1 + 0.08 * math.sin(2 * math.pi * t / 40)
        image = cv2.convertScaleAbs(image, alpha=gain)
        if self._noise is not None:
            up, down = self._noise[index % len(self._noise)]
            cv2.add(image, up, dst=image)
            cv2.subtract(image, down, dst=image)
        if s.jpeg_quality:
            _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, s.jpeg_quality])
            decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
            if decoded is None:
                raise RuntimeError("OpenCV could not decode the JPEG it had just encoded.")
            image = decoded
        phi = tuple(PhiLine(p.text, tuple((x + dx, y + dy) for x, y in p.quad)) for p in self._phi)
        return SimFrame(image, index, phi, infant > 127)

    def _shake(self, index: int) -> tuple[float, float]:
        amp = self.settings.shake
        if not amp:
            return 0.0, 0.0
        # A smooth wobble plus a little jitter, like a camera on a pole near a ventilator.
        jitter = np.random.default_rng(self.settings.seed * 100003 + index).uniform(-0.3, 0.3, 2)
        return (amp * math.sin(index * 0.7) + jitter[0], amp * math.cos(index * 0.45) + jitter[1])

    def frames(self, start: int = 0) -> Iterator[SimFrame]:
        """Frames from `start` on, as fast as they can be rendered."""
        index = start
        while True:
            yield self.frame(index)
            index += 1

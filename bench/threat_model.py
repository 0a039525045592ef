"""How leaked clips are really re-published: a generator of leak drills with random parameters, one class at a time.

Each class draws its parameters from its own ranges; a drill is (class, seed), so the same seed gives the same copy.
Seeds below HELD_OUT are for tuning; the report set starts at HELD_OUT and is never looked at while tuning.

- legacy: what the first benchmark did (200-600 kbit/s, 240p-480p, a centred crop of 0-6 %, +-10 % brightness).
- geometry: a mirror, a quarter turn, a small rotation, a crop of up to 30 %, a new aspect (letterbox, pillarbox,
  stretch), the picture on a 9:16, 1:1 or 16:9 canvas at 40-100 % scale over a blurred, solid or patterned background,
  or picture-in-picture over foreign footage; output 240p-1080p.
- screen: a phone filming the player: keystone up to 8 %, moire, blur, gamma, the player's controls and Cradle's
  drifting viewer code in the picture.
- time: speed 0.5-2x, 10-60 fps, dropped and duplicated frames, parts cut and spliced.
- occlusion: captions, stickers and a logo covering up to 20 % of the picture.
- colour: filters, greyscale, contrast, brightness, down to 200 kbit/s.
- collusion: two or three accounts' copies, interleaved by segment or averaged frame by frame.
- short: the legacy transforms on clips of 5-12 s.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import av
import cv2
import numpy as np

CLASSES = ("legacy", "geometry", "screen", "time", "occlusion", "colour", "collusion", "short")
HELD_OUT = 1_000_000  # report seeds start here; tuning seeds lie below
SOURCE_FPS = 15
TRACE_PIXELS = 640 * 480  # what `cradle trace` keeps of a suspect (cradle.forensics.tracing.load_suspect)

Picture = Callable[[np.ndarray, int], np.ndarray]  # (BGR frame, output frame number) -> BGR frame


@dataclass
class Threat:
    """One drawn re-publication: how many accounts' copies it uses, which source second each output frame shows, what
    happens to the picture, and how the result is encoded."""

    kind: str
    seed: int
    params: dict[str, object]
    seconds: float  # suspect length
    fps: float
    size: tuple[int, int]  # output width, height
    bitrate: int
    accounts: int = 1
    speed: float = 1.0
    parts: list[tuple[float, float]] = field(default_factory=list)  # (suspect start, source start) per spliced part
    drop: float = 0.0
    duplicate: float = 0.0
    mix: str = ""  # collusion: "interleave" or "average"
    period: int = 1  # collusion: seconds per account when interleaving
    picture: list[Picture] = field(default_factory=list)

    def describe(self) -> str:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in self.params.items())
        return f"{self.kind}#{self.seed}: {shown}"

    def source_times(self, rng: np.random.Generator) -> np.ndarray:
        """The source time (s) each output frame shows, after splicing, speed, drops and duplicates."""
        count = int(self.seconds * self.fps)
        t = np.arange(count) / self.fps
        starts = np.array([p[0] for p in self.parts])
        part = np.searchsorted(starts, t, side="right") - 1
        source = np.array([self.parts[p][1] for p in part]) + (t - starts[part]) * self.speed
        keep = rng.random(count) >= self.drop
        repeat = np.where(rng.random(count) < self.duplicate, 2, 1)
        return np.repeat(source[keep], repeat[keep])[:count]

    def source_span(self) -> float:
        """How many source seconds the copy needs from its first part's start."""
        last_start, last_source = self.parts[-1]
        return last_source + (self.seconds - last_start) * self.speed - self.parts[0][1]

    def make(self, copies: Sequence[Sequence[np.ndarray]], rng: np.random.Generator) -> tuple[list[np.ndarray], float]:
        """The suspect as `cradle trace` would hold it (grey, at most 640 x 480) from the accounts' served frames."""
        times = self.source_times(rng)
        length = min(len(c) for c in copies)
        images = []
        for i, s in enumerate(times):
            n = min(length - 1, max(0, math.floor(s * SOURCE_FPS + 1e-6)))
            if self.mix == "average":
                image = np.mean([c[n] for c in copies[: self.accounts]], axis=0).round().astype(np.uint8)
            elif self.mix == "interleave":
                image = copies[(n // (SOURCE_FPS * self.period)) % self.accounts][n]
            else:
                image = copies[0][n]
            for step in self.picture:
                image = step(image, i)
            images.append(image)
        return encode(images, self.fps, self.size, self.bitrate), self.fps


def _fmt(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def encode(images: Sequence[np.ndarray], fps: float, size: tuple[int, int], bitrate: int) -> list[np.ndarray]:
    """H.264 at `bitrate`, decoded again, kept as `cradle trace` keeps a suspect."""
    width, height = size[0] // 2 * 2, size[1] // 2 * 2
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        rate = Fraction(fps).limit_denominator(1001)
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = width, height, "yuv420p", bitrate
        stream.options = {"preset": "veryfast"}
        for i, image in enumerate(images):
            if image.shape[1] != width or image.shape[0] != height:
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts, frame.time_base = i, 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    buffer.seek(0)
    out = []
    with av.open(buffer) as container:
        for frame in container.decode(video=0):
            grey = frame.to_ndarray(format="gray")
            shrink = min(1.0, math.sqrt(TRACE_PIXELS / (grey.shape[0] * grey.shape[1])))
            if shrink < 1.0:
                small = (max(1, round(grey.shape[1] * shrink)), max(1, round(grey.shape[0] * shrink)))
                grey = cv2.resize(grey, small, interpolation=cv2.INTER_AREA)
            out.append(grey)
    return out


# --- picture steps --------------------------------------------------------------------------------------------------


def _size_for(height: int, aspect: float) -> tuple[int, int]:
    height = min(height, round(1920 / aspect))  # 1080p at most, either way round
    return max(2, round(height * aspect / 2) * 2), height // 2 * 2


def _crop(left: float, top: float, right: float, bottom: float) -> Picture:
    def step(image: np.ndarray, _: int) -> np.ndarray:
        h, w = image.shape[:2]
        return image[round(h * top) : h - round(h * bottom), round(w * left) : w - round(w * right)]

    return step


def _fit(size: tuple[int, int], mode: str) -> Picture:
    """Into `size`: "stretch" fills it; "fit" keeps the aspect with black bars (letterbox or pillarbox)."""

    def step(image: np.ndarray, _: int) -> np.ndarray:
        if mode == "stretch":
            return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return _place(image, size, 1.0, 0.5, 0.5, np.zeros((size[1], size[0], 3), np.uint8))

    return step


def _place(image: np.ndarray, size: tuple[int, int], scale: float, x: float, y: float, canvas: np.ndarray):
    h, w = image.shape[:2]
    fit = min(size[0] / w, size[1] / h) * scale
    pw, ph = max(2, round(w * fit)), max(2, round(h * fit))
    left, top = round((size[0] - pw) * x), round((size[1] - ph) * y)
    canvas = canvas.copy()
    canvas[top : top + ph, left : left + pw] = cv2.resize(image, (pw, ph), interpolation=cv2.INTER_AREA)
    return canvas


def _canvas(size: tuple[int, int], scale: float, x: float, y: float, background: str, rng) -> Picture:
    colour = rng.integers(0, 256, 3).astype(np.uint8)
    w, h = size
    if background == "pattern":
        ys, xs = np.mgrid[0:h, 0:w]
        period = int(rng.integers(12, 60))
        checker = ((xs // period + ys // period) % 2).astype(np.uint8)[..., None]
        pattern = np.where(checker, colour, 255 - colour).astype(np.uint8)

    def step(image: np.ndarray, _: int) -> np.ndarray:
        if background == "blurred":
            big = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            back = cv2.GaussianBlur(big, (0, 0), 12)
        elif background == "solid":
            back = np.broadcast_to(colour, (h, w, 3))
        else:
            back = pattern
        return _place(image, size, scale, x, y, np.ascontiguousarray(back))

    return step


def _rotate(angle: float) -> Picture:
    def step(image: np.ndarray, _: int) -> np.ndarray:
        h, w = image.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

    return step


def _keystone(share: float, rng, size: tuple[int, int], cover: float) -> Picture:
    """A screen filmed at a slant: each corner moved by up to `share` of the picture, inside a darker frame."""
    jitter = rng.uniform(-share, share, (4, 2))

    def step(image: np.ndarray, _: int) -> np.ndarray:
        h, w = image.shape[:2]
        ow, oh = size
        fit = min(ow / w, oh / h) * cover  # the player keeps the picture's aspect on the phone's screen
        pw, ph = w * fit, h * fit
        x0, y0 = (ow - pw) / 2, (oh - ph) / 2
        box = np.float32([[x0, y0], [x0 + pw, y0], [x0 + pw, y0 + ph], [x0, y0 + ph]])
        box += (jitter * [pw, ph]).astype(np.float32)
        matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), box)
        return cv2.warpPerspective(image, matrix, size, borderValue=(24, 22, 20))

    return step


def _moire(amplitude: float, period: float, angle: float) -> Picture:
    cache: dict[tuple[int, int], np.ndarray] = {}

    def step(image: np.ndarray, _: int) -> np.ndarray:
        h, w = image.shape[:2]
        if (h, w) not in cache:
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            phase = (xs * math.cos(angle) + ys * math.sin(angle)) * 2 * math.pi / period
            cache[(h, w)] = (amplitude * np.sin(phase) * np.sin(phase / 7.3))[..., None]
        return np.clip(image + cache[(h, w)], 0, 255).astype(np.uint8)

    return step


def _blur(sigma: float) -> Picture:
    return lambda image, _: cv2.GaussianBlur(image, (0, 0), sigma)


def _tone(gamma: float = 1.0, contrast: float = 1.0, brightness: float = 0.0, matrix=None, grey=False) -> Picture:
    table = np.clip(((np.arange(256) / 255) ** gamma * 255 - 128) * contrast + 128 + brightness, 0, 255)
    table = table.astype(np.uint8)

    def step(image: np.ndarray, _: int) -> np.ndarray:
        if matrix is not None:
            image = np.clip(cv2.transform(image, np.asarray(matrix, np.float32)), 0, 255).astype(np.uint8)
        if grey:
            image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        return cv2.LUT(image, table)

    return step


def _controls(rng) -> Picture:
    """The player's bar: a dark band, a play button, a timeline with a moving head."""
    share = float(rng.uniform(0.08, 0.14))

    def step(image: np.ndarray, i: int) -> np.ndarray:
        image = image.copy()
        h, w = image.shape[:2]
        top = round(h * (1 - share))
        image[top:] = (image[top:] * 0.35).astype(np.uint8)
        mid = (top + h) // 2
        cv2.fillPoly(image, [np.int32([[12, mid - 8], [12, mid + 8], [26, mid]])], (235, 235, 235))
        cv2.line(image, (40, mid), (w - 20, mid), (150, 150, 150), 2)
        head = 40 + (i * 3) % max(1, w - 60)
        cv2.circle(image, (head, mid), 5, (255, 255, 255), -1)
        return image

    return step


def _viewer_code(rng) -> Picture:
    """Cradle's visible viewer code, drifting slowly across the picture."""
    code = "".join(rng.choice(list("ABCDEFGHJKMNPQRSTUVWXYZ23456789"), 6))
    vx, vy = rng.uniform(-1.5, 1.5, 2)

    def step(image: np.ndarray, i: int) -> np.ndarray:
        image = image.copy()
        h, w = image.shape[:2]
        x, y = int((w * 0.3 + vx * i) % (w * 0.7)), int((h * 0.3 + vy * i) % (h * 0.7)) + 20
        overlay = image.copy()
        cv2.putText(overlay, code, (x, y), cv2.FONT_HERSHEY_SIMPLEX, h / 700, (255, 255, 255), 2, cv2.LINE_AA)
        return cv2.addWeighted(overlay, 0.45, image, 0.55, 0)

    return step


def _occlude(rng, budget: float) -> tuple[Picture, dict[str, object]]:
    """Captions, stickers and a logo over at most `budget` of the picture (static, as editors place them)."""
    items: list[tuple[str, tuple[float, float, float, float], tuple[int, int, int]]] = []
    used = 0.0
    for kind in rng.permutation(["caption", "sticker", "sticker", "logo"]):
        if kind == "caption":
            bw, bh = rng.uniform(0.5, 0.95), rng.uniform(0.06, 0.12)
        elif kind == "sticker":
            bw = bh = rng.uniform(0.12, 0.25)
        else:
            bw, bh = rng.uniform(0.1, 0.2), rng.uniform(0.06, 0.1)
        if used + bw * bh > budget:
            continue
        used += bw * bh
        x, y = rng.uniform(0, 1 - bw), rng.uniform(0, 1 - bh)
        items.append((str(kind), (x, y, bw, bh), tuple(int(c) for c in rng.integers(0, 256, 3))))

    def step(image: np.ndarray, _: int) -> np.ndarray:
        image = image.copy()
        h, w = image.shape[:2]
        for kind, (x, y, bw, bh), colour in items:
            x0, y0, x1, y1 = int(x * w), int(y * h), int((x + bw) * w), int((y + bh) * h)
            if kind == "caption":
                image[y0:y1, x0:x1] = (image[y0:y1, x0:x1] * 0.25).astype(np.uint8)
                cv2.putText(image, "so tiny!! day 12", (x0 + 6, y1 - 6), cv2.FONT_HERSHEY_SIMPLEX,
                            (y1 - y0) / 40, (255, 255, 255), 2, cv2.LINE_AA)  # fmt: skip
            elif kind == "sticker":
                cv2.ellipse(image, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360,
                            colour, -1)  # fmt: skip
                cv2.circle(image, ((x0 + x1) // 2, (y0 + y1) // 2), max(2, (x1 - x0) // 6), (0, 0, 0), -1)
            else:
                overlay = image.copy()
                cv2.rectangle(overlay, (x0, y0), (x1, y1), colour, -1)
                image = cv2.addWeighted(overlay, 0.5, image, 0.5, 0)
        return image

    return step, {"covered": round(used, 3), "items": "+".join(k for k, _, _ in items)}


# --- classes --------------------------------------------------------------------------------------------------------


def _parts(rng, seconds: float, speed: float, available: float, pieces: int) -> list[tuple[float, float]]:
    """Where each spliced part starts in the suspect and in the source, in order, with gaps between them."""
    span = seconds * speed
    slack = max(0.0, available - span - 0.5)
    if pieces == 1:
        return [(0.0, float(rng.uniform(0, min(slack, 1.5))))]
    cuts = np.sort(rng.uniform(0.25, 0.75, pieces - 1)) * seconds
    starts = [0.0, *cuts.tolist()]
    gaps = np.sort(rng.uniform(0, slack, pieces))
    return [(s, float(s * speed + g)) for s, g in zip(starts, gaps, strict=True)]


def draw(kind: str, seed: int, available: float, seconds: float = 15.0) -> Threat:
    """One drill of `kind` with parameters drawn from `seed`; `available`: seconds of source the copies hold."""
    rng = np.random.default_rng([CLASSES.index(kind), seed])
    params: dict[str, object] = {}
    threat = Threat(kind, seed, params, seconds, 25.0, (480, 360), 400_000)
    pieces = 1
    if kind in ("legacy", "short"):
        if kind == "short":
            threat.seconds = seconds = float(rng.integers(5, 13))
            params["seconds"] = seconds
        height = int(rng.integers(120, 241)) * 2
        crop = float(rng.uniform(0, 0.06))
        gain = float(rng.uniform(0.9, 1.1))
        threat.size, threat.bitrate = _size_for(height, 4 / 3), int(rng.integers(200, 601)) * 1000
        threat.fps = float(rng.choice([25, 30]))
        threat.picture = [
            _crop(crop / 2, crop / 2, crop / 2, crop / 2),
            lambda image, _: cv2.convertScaleAbs(image, alpha=gain),
        ]
        params.update(height=height, crop=crop, gain=gain)
    elif kind == "geometry":
        sub = str(rng.choice(["mirror", "quarter", "tilt", "crop", "aspect", "canvas", "pip"]))
        height = int(rng.integers(240, 1081))
        aspect = 4 / 3
        steps: list[Picture] = []
        if sub == "mirror":
            axis = int(rng.choice([0, 1]))
            steps.append(lambda image, _, axis=axis: cv2.flip(image, axis))
            params["axis"] = "vertical" if axis == 0 else "horizontal"
        elif sub == "quarter":
            turn = int(rng.choice([90, 180, 270]))
            code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[turn]
            steps.append(lambda image, _, code=code: cv2.rotate(image, code))
            aspect = 3 / 4 if turn != 180 else aspect
            params["turn"] = turn
        elif sub == "tilt":
            angle = float(rng.uniform(1, 6) * rng.choice([-1, 1]))
            steps.append(_rotate(angle))
            params["angle"] = angle
        elif sub == "crop":
            total = float(rng.uniform(0.1, 0.3))
            axis = str(rng.choice(["width", "height", "both"]))
            share = rng.uniform(0, 1)
            cx = total if axis != "height" else 0.0
            cy = total if axis != "width" else 0.0
            steps.append(_crop(cx * share, cy * share, cx * (1 - share), cy * (1 - share)))
            aspect = 4 / 3 * (1 - cx) / (1 - cy)
            params.update(crop=total, axis=axis)
        elif sub == "aspect":
            aspect = float(rng.choice([16 / 9, 1.0, 9 / 16, 21 / 9]))
            mode = str(rng.choice(["fit", "stretch"]))
            steps.append(_fit(_size_for(height, aspect), mode))
            params.update(aspect=round(aspect, 2), mode=mode)
        elif sub == "canvas":
            aspect = float(rng.choice([9 / 16, 1.0, 16 / 9]))
            scale = float(rng.uniform(0.4, 1.0))
            background = str(rng.choice(["blurred", "solid", "pattern"]))
            x, y = float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
            steps.append(_canvas(_size_for(height, aspect), scale, x, y, background, rng))
            params.update(canvas=round(aspect, 2), scale=scale, background=background)
        else:
            scale = float(rng.uniform(0.45, 0.7))
            x, y = float(rng.choice([0.0, 1.0])), float(rng.choice([0.0, 1.0]))
            foreign = _foreign(rng)
            size = _size_for(height, 16 / 9)
            aspect = 16 / 9
            steps.append(lambda image, i: _place(image, size, scale, x, y, cv2.resize(foreign(i), size)))
            params.update(inset=scale)
        threat.picture = steps
        threat.size = _size_for(height, aspect)
        pixels = threat.size[0] * threat.size[1]
        threat.bitrate = int(pixels * float(rng.uniform(2.0, 5.0)))  # about 0.1-0.2 bit per pixel at 25 fps
        threat.fps = float(rng.choice([25, 30]))
        params.update(kind=sub, out=f"{threat.size[0]}x{threat.size[1]}", kbps=threat.bitrate // 1000)
    elif kind == "screen":
        size = (1280, 720) if rng.random() < 0.7 else (720, 1280)
        cover = float(rng.uniform(0.7, 0.95)) if size[0] > size[1] else float(rng.uniform(0.9, 1.0))
        keystone = float(rng.uniform(0, 0.08))
        steps = []
        if rng.random() < 0.7:
            steps.append(_controls(rng))
        if rng.random() < 0.8:
            steps.append(_viewer_code(rng))
        steps.append(_keystone(keystone, rng, size, cover))
        amplitude, period = float(rng.uniform(2, 8)), float(rng.uniform(3, 7))
        steps.append(_moire(amplitude, period, float(rng.uniform(0, math.pi))))
        sigma, gamma = float(rng.uniform(0.4, 1.5)), float(rng.uniform(0.8, 1.25))
        steps += [_blur(sigma), _tone(gamma=gamma)]
        threat.picture, threat.size = steps, size
        threat.bitrate, threat.fps = int(rng.integers(800, 3001)) * 1000, 30.0
        params.update(keystone=keystone, moire=amplitude, blur=sigma, gamma=gamma, cover=cover, portrait=size[1] > 1000)
    elif kind == "time":
        threat.speed = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
        threat.fps = float(rng.integers(10, 61))
        threat.drop, threat.duplicate = float(rng.uniform(0, 0.1)), float(rng.uniform(0, 0.1))
        pieces = int(rng.choice([1, 1, 2, 3]))
        height = int(rng.integers(180, 361)) * 2
        threat.size, threat.bitrate = _size_for(height, 4 / 3), int(rng.integers(400, 1501)) * 1000
        threat.picture = []
        params.update(speed=threat.speed, fps=threat.fps, drop=threat.drop, dup=threat.duplicate, parts=pieces)
    elif kind == "occlusion":
        budget = float(rng.uniform(0.08, 0.2))
        step, shown = _occlude(rng, budget)
        height = int(rng.integers(180, 361)) * 2
        threat.picture, threat.size = [step], _size_for(height, 4 / 3)
        threat.bitrate, threat.fps = int(rng.integers(500, 1501)) * 1000, float(rng.choice([25, 30]))
        params.update(shown)
    elif kind == "colour":
        filters = {
            "none": None,
            "sepia": [[0.131, 0.534, 0.272], [0.168, 0.686, 0.349], [0.189, 0.769, 0.393]],
            "warm": [[0.85, 0, 0], [0, 1.0, 0], [0, 0, 1.15]],
            "cool": [[1.15, 0, 0], [0, 1.0, 0], [0, 0, 0.85]],
            "saturate": [[1.6, -0.45, -0.15], [-0.15, 1.3, -0.15], [-0.15, -0.45, 1.6]],
        }
        name = str(rng.choice(list(filters)))
        grey = bool(rng.random() < 0.3)
        contrast, brightness = float(rng.uniform(0.6, 1.5)), float(rng.uniform(-30, 30))
        gamma = float(rng.uniform(0.8, 1.25))
        height = int(rng.integers(120, 241)) * 2
        threat.picture = [_tone(gamma, contrast, brightness, filters[name], grey)]
        threat.size, threat.bitrate = _size_for(height, 4 / 3), int(rng.integers(200, 601)) * 1000
        threat.fps = float(rng.choice([25, 30]))
        params.update(filter=name, grey=grey, contrast=contrast, brightness=brightness, gamma=gamma, height=height)
        params["kbps"] = threat.bitrate // 1000
    elif kind == "collusion":
        threat.accounts = int(rng.choice([2, 3]))
        threat.mix = str(rng.choice(["interleave", "average"]))
        threat.period = int(rng.integers(1, 4))
        height = int(rng.integers(180, 241)) * 2
        threat.size, threat.bitrate = _size_for(height, 4 / 3), int(rng.integers(300, 801)) * 1000
        params.update(accounts=threat.accounts, mix=threat.mix, period=threat.period, height=height)
    else:
        raise ValueError(f"unknown threat class {kind!r}; choose from {', '.join(CLASSES)}")
    threat.parts = _parts(rng, threat.seconds, threat.speed, available, pieces)
    return threat


def _foreign(rng) -> Callable[[int], np.ndarray]:
    """Footage that never came from Cradle: smooth colour blobs drifting."""
    base = cv2.resize(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC)

    def frame(i: int) -> np.ndarray:
        return np.roll(base, i * 2, axis=1)

    return frame


def foreign_clip(seed: int, count: int) -> list[np.ndarray]:
    """Frames of footage that is not in the store (a control): 640 x 480 at the camera's rate."""
    frame = _foreign(np.random.default_rng([99, seed]))
    return [cv2.resize(frame(i), (640, 480)) for i in range(count)]
